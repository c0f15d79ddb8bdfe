//! `systemctl reload roombox` (SIGHUP) against real daemons: a broken file is reported with its
//! position and changes nothing; a valid one applies at once when idle and only after the call
//! when in one; the call is never dropped.

mod common;

use std::time::Duration;

use common::{Daemon, Devices, free_port, oslo_and_bergen};
use roombox::meeting::RoomState;

fn config_path(room: &Daemon) -> std::path::PathBuf {
    room.dir.path().join("roombox.toml")
}

fn hang_up(room: &Daemon) {
    // SAFETY: sends a signal to our own child process.
    assert_eq!(unsafe { libc::kill(room.pid() as i32, libc::SIGHUP) }, 0);
}

fn edit(room: &Daemon, from: &str, to: &str) {
    let path = config_path(room);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{text}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

fn wait_log(room: &Daemon, what: &str) -> String {
    for _ in 0..100 {
        let log = room.log();
        if log.contains(what) {
            return log;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the log never said {what:?}:\n{}", room.log());
}

#[test]
fn a_broken_file_is_reported_with_its_position_and_the_running_config_stays() {
    let room = Daemon::start("oslo", free_port(), &[], "");
    edit(&room, "[video]\n", "[video]\nfsp = 30\n");
    hang_up(&room);
    let log = wait_log(&room, "config reload failed");
    assert!(log.contains("roombox.toml:9:1: unknown field `fsp`") && log.contains("did you mean `fps`?"), "{log}");
    assert!(log.contains("the running config stays in force"), "{log}");
    let status = room.status().expect("the daemon still answers");
    assert_eq!(status.meeting.room, "oslo");
}

#[test]
fn a_valid_change_applies_at_once_when_idle() {
    let room = Daemon::start("oslo", free_port(), &[], "");
    edit(&room, "name = \"oslo\"", "name = \"oslo-2\"");
    hang_up(&room);
    let status = room.wait_for(Duration::from_secs(10), "the new name", |s| s.meeting.room == "oslo-2");
    assert_eq!(status.meeting.state, RoomState::Idle);
    wait_log(&room, "config reloaded and applied");
}

#[test]
fn a_change_during_a_call_waits_for_the_call_to_end_and_never_drops_it() {
    let (a, b) = oslo_and_bergen(&Devices::default(), &Devices::default());
    a.press();
    a.wait_state(RoomState::InCall, Duration::from_secs(10));
    edit(&a, "name = \"oslo\"", "name = \"oslo-2\"");
    hang_up(&a);
    wait_log(&a, "it applies when this call ends");
    std::thread::sleep(Duration::from_secs(2));
    let during = a.status().unwrap();
    assert_eq!(
        (during.meeting.state, during.meeting.room.as_str()),
        (RoomState::InCall, "oslo"),
        "the call goes on as it was"
    );
    let seen = b.status().unwrap().first_media().cloned().expect("bergen still receives");
    assert!(seen.video_in.decoded_per_s > 10.0, "{:?}", seen.video_in);
    a.press();
    a.wait_state(RoomState::Idle, Duration::from_secs(10));
    a.wait_for(Duration::from_secs(10), "the reloaded name after the call", |s| s.meeting.room == "oslo-2");
}
