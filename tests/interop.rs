//! Standard SIP endpoints interoperate: sipp (an independent SIP implementation, Debian's
//! `sip-tester`) calls a room with its own H.264 + Opus offer and payload types, and hangs up;
//! its plain-RTP offer is refused with 488 by a room that requires encryption (the default).

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Daemon, free_port};
use roombox::meeting::RoomState;

#[test]
fn sipp_calls_a_room_with_its_own_payload_types_and_hangs_up() {
    let port = free_port();
    let room = Daemon::start("bergen", port, &[], "allow = [\"*\"]\nauto_answer = true\nencryption = \"optional\"");
    let out = sipp(&room, port, "call.xml");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "sipp's call failed:\n{report}\nroom log:\n{}", room.log());
    // sipp is gone once its BYE is answered; the room logs the end a moment later.
    room.wait_state(RoomState::Idle, Duration::from_secs(5));
    let log = room.log();
    assert!(log.contains("in call with sip:sipp@127.0.0.1"), "{log}");
    assert!(log.contains("NOT encrypted: plain RTP"), "the log says the call is in the clear: {log}");
    assert!(log.contains("left the call"), "{log}");
}

#[test]
fn a_room_that_requires_encryption_refuses_a_plain_rtp_offer_with_488() {
    let port = free_port();
    let room = Daemon::start("bergen", port, &[], "allow = [\"*\"]\nauto_answer = true");
    let out = sipp(&room, port, "plain_refused.xml");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "sipp did not get a 488 naming SRTP:\n{report}\nroom log:\n{}", room.log());
    let log = room.log();
    assert!(log.contains("refused a call from sip:sipp@127.0.0.1"), "{log}");
    assert!(log.contains("requires encryption"), "the log line says why: {log}");
    let status = room.wait_state(RoomState::Idle, Duration::from_secs(5));
    assert!(status.meeting.legs.is_empty(), "no call was set up: {status:?}");
}

/// Runs one sipp scenario from tests/sipp against the room on `port`.
fn sipp(room: &Daemon, port: u16, scenario: &str) -> std::process::Output {
    let scenario = format!("{}/tests/sipp/{scenario}", env!("CARGO_MANIFEST_DIR"));
    Command::new("sipp")
        .arg(format!("127.0.0.1:{port}"))
        .args(["-sf", &scenario, "-s", "bergen", "-m", "1", "-i", "127.0.0.1", "-nostdin", "-timeout", "20s"])
        .args(["-p", &free_port().to_string(), "-mp", &free_port().to_string()])
        .current_dir(room.dir.path())
        .output()
        .expect("sipp is installed by scripts/install-deps (package sip-tester)")
}
