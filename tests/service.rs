//! The daemon as systemd runs it (`Type=notify`, `WatchdogSec`): a real daemon talks to a
//! notify socket of ours exactly as it would to systemd, and logs at the config's level with
//! the call's fields.

mod common;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::{Daemon, Devices, free_port, oslo_and_bergen};
use roombox::meeting::RoomState;

/// Everything the daemon told "systemd" within `within`.
fn notifications(socket: &UnixDatagram, within: Duration) -> Vec<String> {
    let start = Instant::now();
    let mut said = Vec::new();
    let mut buf = [0u8; 4096];
    socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    while start.elapsed() < within {
        if let Ok(n) = socket.recv(&mut buf) {
            said.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    said
}

#[test]
fn the_daemon_says_ready_feeds_the_watchdog_and_reports_its_state_to_systemd() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let systemd = UnixDatagram::bind(&path).unwrap();
    let env = Devices {
        env: vec![("NOTIFY_SOCKET".into(), path.display().to_string()), ("WATCHDOG_USEC".into(), "1000000".into())],
        ..Devices::default()
    };
    let (a, b) = oslo_and_bergen(&env, &Devices::default());
    let (pa, pb) = (a.port, b.port);
    let at_start = notifications(&systemd, Duration::from_millis(1200));
    assert!(at_start[0].contains("READY=1"), "READY first, once sockets are up: {at_start:?}");
    assert!(at_start[0].contains(&format!("STATUS=Idle, listening for SIP on 127.0.0.1:{pa}")), "{at_start:?}");
    a.press();
    a.wait_state(RoomState::InCall, Duration::from_secs(10));
    let in_call = notifications(&systemd, Duration::from_secs(3));
    let pings = in_call.iter().filter(|m| m.contains("WATCHDOG=1")).count();
    assert!(pings >= 4, "the loop pings at half the 1 s watchdog interval during a call: {in_call:?}");
    assert!(
        at_start.iter().chain(&in_call).any(|m| m.contains(&format!("STATUS=InCall with sip:bergen@127.0.0.1:{pb}"))),
        "systemctl status shows the call: {at_start:?} {in_call:?}"
    );
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(a.pid() as i32, libc::SIGTERM) };
    let stopping = notifications(&systemd, Duration::from_secs(2));
    assert!(stopping.iter().any(|m| m.contains("STOPPING=1")), "{stopping:?}");
}

#[test]
fn the_log_level_comes_from_the_config_and_lines_carry_the_call_fields() {
    let quiet = Devices {
        extra: "[log]\nlevel = \"warn\"".into(),
        env: vec![("RUST_LOG".into(), String::new())],
        ..Devices::default()
    };
    let (a, b) = oslo_and_bergen(&quiet, &Devices { extra: "[log]\nlevel = \"info\"".into(), ..quiet.clone() });
    let pa = a.port;
    a.press();
    a.wait_state(RoomState::InCall, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(500));
    assert!(!a.log().contains(" INFO "), "level warn: no info lines:\n{}", a.log());
    let log = b.log();
    assert!(!log.contains(" DEBUG "), "level info: no debug lines");
    let call_line =
        log.lines().find(|l| l.contains(" INFO ") && l.contains("state=InCall")).unwrap_or_else(|| panic!("{log}"));
    assert!(
        call_line.contains("call=") && call_line.contains(&format!("peer=\"sip:oslo@127.0.0.1:{pa}\"")),
        "{call_line}"
    );
}

#[test]
fn only_the_roombox_group_may_drive_the_room() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("\n*** SKIPPED: switching users needs root");
        return;
    }
    let room = Daemon::start("oslo", free_port(), &[], "");
    let socket = room.socket();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777, 0o660, "rw for owner and group only");
    // Let everyone reach the directory, so the socket's own permissions decide.
    std::fs::set_permissions(room.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let gid = std::fs::metadata(&socket).map(|m| std::os::unix::fs::MetadataExt::gid(&m)).unwrap();
    let as_nobody = |groups: &str| {
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", groups])
            .arg(common::BIN)
            .args(["ctl", "--socket"])
            .arg(&socket)
            .arg("status")
            .output()
            .unwrap()
    };
    let outsider = as_nobody("--clear-groups");
    let err = String::from_utf8_lossy(&outsider.stderr);
    assert!(!outsider.status.success(), "a user outside the group is refused");
    assert!(err.contains("not allowed to drive roombox") && err.contains("adduser"), "{err}");
    let member = as_nobody(&format!("--groups={gid}"));
    assert!(member.status.success(), "a member of the socket's group may: {}", String::from_utf8_lossy(&member.stderr));
    assert!(String::from_utf8_lossy(&member.stdout).contains("room:    oslo"));
}
