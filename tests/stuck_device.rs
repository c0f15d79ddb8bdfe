//! A device whose driver hangs never stops the room. oslo's camera is a FIFO nobody writes
//! to: opening it blocks, as a hung V4L2 driver does, inside the media thread while the call's
//! media starts. The room keeps answering the control socket and SIP; `status` says the media
//! is stuck; after 10 s oslo ends the call it could not start, with the reason, by a BYE that
//! bergen receives. Once the device answers, the media thread carries on by itself.

mod common;

use std::time::Duration;

use common::{Daemon, Devices, free_port};
use roombox::meeting::RoomState;

const SECS: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn a_hanging_camera_stalls_only_the_media_and_the_call_it_could_not_start_ends_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("camera");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let camera = Devices {
        video_source: format!(
            "filesrc location={} ! rawvideoparse width=320 height=240 format=i420 framerate=30/1",
            fifo.display()
        ),
        ..Devices::default()
    };
    let (pa, pb) = (free_port(), free_port());
    let oslo = Daemon::start_with("oslo", pa, &[("bergen", pb)], "", &camera);
    let bergen = Daemon::start("bergen", pb, &[("oslo", pa)], "auto_answer = true");
    oslo.press();
    bergen.wait_state(RoomState::InCall, SECS(10));

    // The media thread hangs in the camera's open; the loop answers all the same.
    let stuck = oslo.wait_for(SECS(10), "status to say the media is stuck", |s| s.media_busy.is_some());
    assert!(stuck.media_busy.as_deref().unwrap_or_default().contains("device driver"), "{stuck:?}");
    let text = String::from_utf8_lossy(&oslo.ctl(&["status"]).stdout).to_string();
    assert!(text.contains("media:   stuck for"), "{text}");

    // The call it could not start ends with the reason, and bergen is told (SIP still works).
    let ended = oslo.wait_state(RoomState::Idle, SECS(15));
    let error = ended.meeting.last_error.clone().unwrap_or_default();
    assert!(error.contains("did not start within 10 s"), "oslo says why: {error}");
    bergen.wait_state(RoomState::Idle, SECS(5));
    assert!(oslo.log().contains("media thread has not returned"), "{}", oslo.log());

    // The device answers from now on (every open of the FIFO meets a writer that goes at
    // once: the camera fails quickly, the slate stands in): the media thread carries on.
    std::thread::spawn(move || {
        while let Ok(writer) = std::fs::OpenOptions::new().write(true).open(&fifo) {
            drop(writer);
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    oslo.wait_for(SECS(10), "the media thread free again", |s| s.media_busy.is_none());
}
