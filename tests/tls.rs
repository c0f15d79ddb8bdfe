//! SIP over TLS between two rooms: bergen makes a self-signed certificate on first start and
//! `check` shows its fingerprint; oslo pins it, calls `;transport=tls` and the call runs with
//! its SDES keys inside TLS. A room that pins another fingerprint refuses bergen's certificate
//! and says so.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{BIN, Daemon, Devices, decoding, free_port};
use roombox::meeting::RoomState;

/// A TCP port that was free a moment ago.
fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn tls_room(dir: &std::path::Path, name: &str, tls_port: u16, pins: &[String]) -> Devices {
    let pins: Vec<String> = pins.iter().map(|p| format!("\"{p}\"")).collect();
    Devices {
        sip_extra: format!(
            "tls_listen = \"127.0.0.1:{tls_port}\"\ntls_certificate = \"{0}/{name}.crt\"\ntls_key = \"{0}/{name}.key\"\n\
             tls_pinned = [{1}]",
            dir.display(),
            pins.join(", ")
        ),
        peer_params: ";transport=tls".into(),
        ..Devices::default()
    }
}

#[test]
fn two_rooms_call_over_tls_and_a_certificate_that_is_not_pinned_is_refused() {
    let certs = tempfile::tempdir().unwrap();
    let (pa, pb, ta, tb) = (free_port(), free_port(), free_tcp_port(), free_tcp_port());
    let bergen = Daemon::start_with(
        "bergen",
        pb,
        &[],
        "auto_answer = true\nallow = [\"*\"]",
        &tls_room(certs.path(), "bergen", tb, &[]),
    );
    assert!(bergen.log().contains("made a self-signed TLS certificate"), "{}", bergen.log());
    let check =
        Command::new(BIN).args(["check", "--config"]).arg(bergen.dir.path().join("roombox.toml")).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&check.stdout), String::from_utf8_lossy(&check.stderr));
    let fingerprint = stdout
        .lines()
        .find_map(|l| l.split("fingerprint ").nth(1))
        .unwrap_or_else(|| panic!("check shows the fingerprint:\n{stdout}"))
        .trim()
        .to_owned();
    assert!(stderr.contains("not authenticated"), "check warns that bergen trusts anyone: {stderr}");

    let oslo =
        Daemon::start_with("oslo", pa, &[("bergen", tb)], "", &tls_room(certs.path(), "oslo", ta, &[fingerprint]));
    oslo.press();
    oslo.wait_for(Duration::from_secs(20), "bergen's picture and sound over a TLS call", |s| decoding(s, 20.0));
    assert!(oslo.log().contains("its SDES keys travelled inside SIP over TLS"), "{}", oslo.log());
    assert!(bergen.log().contains("inside SIP over TLS"), "{}", bergen.log());
    oslo.press();
    oslo.wait_state(RoomState::Idle, Duration::from_secs(10));
    bergen.wait_state(RoomState::Idle, Duration::from_secs(10));

    let wrong = format!("sha256:{}", vec!["00"; 32].join(":"));
    let (pc, tc) = (free_port(), free_tcp_port());
    let stranger =
        Daemon::start_with("tromso", pc, &[("bergen", tb)], "", &tls_room(certs.path(), "tromso", tc, &[wrong]));
    stranger.press();
    let refused = stranger.wait_for(Duration::from_secs(15), "the call to be refused", |s| {
        s.meeting.state == RoomState::Idle && !s.meeting.unreached.is_empty()
    });
    let reason = &refused.meeting.unreached[0].reason;
    eprintln!("tromso: {reason}");
    assert!(reason.contains("TLS handshake") && reason.contains("not pinned"), "a clear error: {reason}");
    assert_eq!(bergen.status().unwrap().meeting.state, RoomState::Idle, "bergen never got a call");
}

#[test]
fn a_room_that_pins_its_callers_takes_only_the_pinned_one() {
    let certs = tempfile::tempdir().unwrap();
    let (pa, pb, ta, tb) = (free_port(), free_port(), free_tcp_port(), free_tcp_port());
    // oslo starts first so its certificate exists; bergen pins it and takes calls only from it.
    let oslo = Daemon::start_with("oslo", pa, &[("bergen", tb)], "", &tls_room(certs.path(), "oslo", ta, &[]));
    let oslo_print = oslo
        .log()
        .lines()
        .find_map(|l| l.split("fingerprint=").nth(1).map(|f| f.split_whitespace().next().unwrap_or("").to_owned()))
        .expect("oslo logs its new certificate's fingerprint");
    let extra = "auto_answer = true\nallow = [\"*\"]";
    let bergen = Daemon::start_with("bergen", pb, &[], extra, &tls_room(certs.path(), "bergen", tb, &[oslo_print]));
    oslo.press();
    oslo.wait_for(Duration::from_secs(20), "a call bergen accepted over mutual TLS", |s| decoding(s, 20.0));
    oslo.press();
    oslo.wait_state(RoomState::Idle, Duration::from_secs(10));

    let (pc, tc) = (free_port(), free_tcp_port());
    let tromso = Daemon::start_with("tromso", pc, &[("bergen", tb)], "", &tls_room(certs.path(), "tromso", tc, &[]));
    tromso.press();
    let refused = tromso.wait_for(Duration::from_secs(15), "bergen to refuse the unpinned caller", |s| {
        s.meeting.state == RoomState::Idle && !s.meeting.unreached.is_empty()
    });
    eprintln!("tromso: {}", refused.meeting.unreached[0].reason);
    assert_eq!(bergen.status().unwrap().meeting.state, RoomState::Idle, "bergen never took tromso's call");
    assert!(bergen.log().contains("refused a SIP over TLS connection"), "bergen says why: {}", bergen.log());
}
