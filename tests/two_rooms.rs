//! Two real daemons on 127.0.0.1 call each other through `roombox ctl`, exchange H.264 video
//! and Opus audio both ways, and hang up; strangers are refused and dead peers given up on.

mod common;

use std::time::Duration;

use common::{Daemon, Devices, Picture, free_port, oslo_and_bergen, png_size, read_png};
use roombox::meeting::{LedPattern, RoomState};

const SECS: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn two_rooms_join_see_and_hear_each_other_and_leave() {
    let (pa, pb) = (free_port(), free_port());
    let a = Daemon::start("oslo", pa, &[("bergen", pb)], "");
    let b = Daemon::start("bergen", pb, &[("oslo", pa)], "");

    let idle_png = b.dir.path().join("idle.png");
    assert!(b.ctl(&["snapshot", idle_png.to_str().unwrap()]).status.success());
    assert_eq!(png_size(&read_png(&idle_png)), Some((320, 240)), "the idle screen is the room's picture size");

    a.press();
    let ringing = b.wait_state(RoomState::Ringing, SECS(5));
    assert_eq!(ringing.meeting.led, LedPattern::SlowBlink);
    assert_eq!(a.status().unwrap().meeting.state, RoomState::Dialing);
    b.press();

    for (room, other) in [(&a, "bergen"), (&b, "oslo")] {
        let status = room.wait_for(SECS(20), "≥ 20 frames/s of remote video and audible audio", |s| {
            s.first_media().is_some_and(|m| {
                m.video_in.decoded_per_s >= 20.0
                    && m.audio_in.decoded_per_s >= 40.0
                    && m.audio_in.level_db.is_some_and(|db| db > -30.0)
            })
        });
        assert_eq!(status.meeting.state, RoomState::InCall);
        assert_eq!(status.meeting.led, LedPattern::Solid);
        assert!(status.meeting.legs[0].peer.contains(other));
        let negotiated = status.meeting.legs[0].negotiated.clone().unwrap();
        assert_eq!(negotiated.video.unwrap().codec, "H264/90000");
        assert_eq!(negotiated.audio.unwrap().codec, "opus/48000/2");
        let media = status.first_media().cloned().unwrap();
        assert!(media.video_in.kbps > 100.0, "video bitrate {}", media.video_in.kbps);
        assert!(media.video_out.kbps > 100.0, "video out {}", media.video_out.kbps);
        assert!(media.video_in.packets_received > 0);
    }

    let seen = b.dir.path().join("seen.png");
    let out = b.ctl(&["snapshot", seen.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let remote = read_png(&seen);
    assert_eq!(png_size(&remote), Some((320, 240)));
    assert_ne!(remote, read_png(&idle_png), "in a call the screen shows the remote picture, not the idle screen");

    let text = String::from_utf8(a.ctl(&["status"]).stdout).unwrap();
    assert!(text.contains("video in:") && text.contains("fps"), "{text}");

    assert!(a.ctl(&["leave"]).status.success());
    let a_idle = a.wait_state(RoomState::Idle, SECS(5));
    let b_idle = b.wait_state(RoomState::Idle, SECS(5));
    assert_eq!((a_idle.meeting.led, b_idle.meeting.led), (LedPattern::Off, LedPattern::Off));
    assert!(a_idle.media.is_empty() && b_idle.media.is_empty(), "media torn down on leave");
    assert_eq!(a_idle.meeting.last_error, None);
    for room in [&a, &b] {
        assert_eq!(room.criticals(), Vec::<String>::new(), "GStreamer reported programming errors");
    }
}

#[test]
fn a_room_not_on_the_allow_list_is_refused() {
    let (pa, pb, pc) = (free_port(), free_port(), free_port());
    let b = Daemon::start("bergen", pb, &[("oslo", pa)], "");
    let c = Daemon::start("tromso", pc, &[("bergen", pb)], "");
    c.press();
    let refused =
        c.wait_for(SECS(10), "the refusal", |s| s.meeting.state == RoomState::Idle && s.meeting.last_error.is_some());
    assert!(refused.meeting.last_error.unwrap().contains("allow list"));
    assert_eq!(refused.meeting.led, LedPattern::FastBlink);
    assert_eq!(b.status().unwrap().meeting.state, RoomState::Idle, "bergen never rang");
    assert!(b.log().contains("not on the allow list"), "the refusal is logged in words");
}

#[test]
fn a_peer_that_is_down_makes_the_caller_give_up_with_an_error_led() {
    let (pa, nobody) = (free_port(), free_port());
    let a = Daemon::start("oslo", pa, &[("bergen", nobody)], "dial_timeout_s = 2");
    a.press();
    assert_eq!(a.status().unwrap().meeting.led, LedPattern::SlowBlink);
    let gave_up =
        a.wait_for(SECS(6), "giving up", |s| s.meeting.state == RoomState::Idle && s.meeting.last_error.is_some());
    assert_eq!(gave_up.meeting.led, LedPattern::FastBlink);
    assert!(gave_up.meeting.last_error.unwrap().contains("did not answer"));
}

#[test]
fn a_room_that_takes_two_places_answers_busy_and_keeps_its_call() {
    let (pa, pb, pc) = (free_port(), free_port(), free_port());
    let auto = "auto_answer = true\nallow = [\"*\"]\nmax_places = 2";
    let a = Daemon::start("oslo", pa, &[("bergen", pb)], "");
    let b = Daemon::start("bergen", pb, &[("oslo", pa)], auto);
    let c = Daemon::start("tromso", pc, &[("bergen", pb)], "");
    a.press();
    a.wait_state(RoomState::InCall, SECS(5));
    c.press();
    let busy = c.wait_for(SECS(10), "busy", |s| s.meeting.last_error.is_some());
    assert!(busy.meeting.last_error.unwrap().contains("busy"));
    assert_eq!(b.status().unwrap().meeting.state, RoomState::InCall);
}

#[test]
fn long_press_mutes_the_microphone_and_the_peer_hears_silence() {
    let (a, b) = oslo_and_bergen(&Devices::default(), &Devices::default());
    a.press();
    b.wait_for(SECS(15), "oslo's tone", |s| {
        s.first_media().is_some_and(|m| m.audio_in.level_db.is_some_and(|db| db > -30.0))
    });
    assert!(a.ctl(&["long-press"]).status.success());
    let muted = a.status().unwrap();
    assert!(muted.meeting.muted);
    assert_eq!(muted.meeting.led, LedPattern::Muted);
    b.wait_for(SECS(5), "silence from oslo", |s| {
        s.first_media().is_some_and(|m| m.audio_in.level_db.is_some_and(|db| db < -60.0))
    });
    assert!(a.ctl(&["unmute"]).status.success());
    b.wait_for(SECS(5), "oslo's tone again", |s| {
        s.first_media().is_some_and(|m| m.audio_in.level_db.is_some_and(|db| db > -30.0))
    });
}

#[test]
fn the_room_measures_its_own_latency_and_agrees_with_a_qr_clock() {
    // The benchmark's instruments, plugged in through the config like any device: a source
    // that stamps each frame's capture time as a QR code, a display that reads it back.
    let devices = Devices {
        video_source:
            "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 ! debugqroverlay pixel-size=2"
                .into(),
        display: "videoconvert ! zbar ! fakesink sync=true".into(),
        extra: "[media]\nclock = \"realtime\"".into(),
        ..Devices::default()
    };
    let (a, b) = oslo_and_bergen(&devices, &devices);
    a.press();
    let status = b.wait_for(SECS(20), "QR and RTCP latency figures", |s| {
        s.first_media().is_some_and(|m| {
            let v = &m.video_in;
            // Steady state: the first frames of a call come while latency settles.
            v.glass_to_glass.as_ref().is_some_and(|g| g.samples >= 30)
                && v.latency.as_ref().is_some_and(|l| l.samples >= 60)
                && m.audio_in.latency.is_some()
        })
    });
    let video = status.first_media().cloned().unwrap().video_in;
    let (qr, estimate) = (video.glass_to_glass.unwrap(), video.latency.unwrap());
    assert!(qr.median_ms > 0.0 && qr.median_ms < 500.0, "glass to glass {qr:?}");
    assert!(
        (estimate.median_ms - qr.median_ms).abs() < 15.0,
        "the live estimate {estimate:?} must agree with the QR clock {qr:?}"
    );
    assert!(video.jitter_buffer_ms.is_some(), "the jitter buffer's size is reported");
    drop(a);
}

#[test]
fn the_screen_shows_the_remote_room_full_size_with_a_small_self_view_in_the_corner() {
    let red = Devices {
        video_source: "videotestsrc is-live=true pattern=solid-color foreground-color=0xffff0000".into(),
        ..Devices::default()
    };
    let blue = Devices {
        video_source: "videotestsrc is-live=true pattern=solid-color foreground-color=0xff0000ff".into(),
        ..Devices::default()
    };
    let (a, b) = oslo_and_bergen(&red, &blue);
    a.press();
    a.wait_for(SECS(20), "remote video", |s| s.first_media().is_some_and(|m| m.video_in.decoded_per_s >= 20.0));
    let shot = a.dir.path().join("screen.png");
    assert!(a.ctl(&["snapshot", shot.to_str().unwrap()]).status.success());
    let screen = Picture::decode(&read_png(&shot));
    assert_eq!((screen.width, screen.height), (320, 240));
    let is_red = |(r, g, b): (u8, u8, u8)| r > 180 && g < 80 && b < 80;
    let is_blue = |(r, g, b): (u8, u8, u8)| b > 180 && r < 80 && g < 80;
    // Bergen (blue) fills oslo's screen; oslo's own picture (red) is 80x60 in the corner,
    // 8 px from the bottom-right edges.
    for (x, y) in [(40, 40), (160, 120), (280, 40), (40, 200), (220, 160)] {
        assert!(is_blue(screen.rgb_around(x, y, 6)), "remote room at ({x},{y}): {:?}", screen.rgb_around(x, y, 6));
    }
    let corner = screen.rgb_around(320 - 8 - 40, 240 - 8 - 30, 20);
    assert!(is_red(corner), "self-view in the corner: {corner:?}");
    let _ = b;
}

#[test]
fn a_standing_problem_is_on_the_idle_screen_in_status_and_on_the_led_until_it_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let notice = dir.path().join("notice");
    std::fs::write(&notice, "card roombox.toml not used: line 3: unknown field `nmae`\n").unwrap();
    let devices = Devices { run_args: vec!["--notice".into(), notice.display().to_string()], ..Devices::default() };
    let room = Daemon::start_with("oslo", free_port(), &[], "", &devices);
    let light = |(r, g, b): (u8, u8, u8)| r > 150 && g > 150 && b > 150;
    // The lines under the call to action: below the middle of the 320x240 idle screen.
    let under_the_call_to_action = |room: &Daemon, name: &str| {
        let shot = room.dir.path().join(name);
        assert!(room.ctl(&["snapshot", shot.to_str().unwrap()]).status.success());
        let picture = Picture::decode(&read_png(&shot));
        (picture.count(0, 0, 320, 120, light), picture.count(0, 150, 320, 90, light))
    };

    let problem = room.wait_for(SECS(15), "the notice to be read", |s| s.meeting.problem.is_some());
    assert!(problem.meeting.problem.as_deref().unwrap().contains("unknown field `nmae`"), "{:?}", problem.meeting);
    assert_eq!(problem.meeting.state, RoomState::Idle);
    assert_eq!(problem.meeting.led, LedPattern::FastBlink, "an idle box with a problem blinks");
    let (name_with, notes_with) = under_the_call_to_action(&room, "problem.png");

    std::fs::write(&notice, "").unwrap();
    let fixed = room.wait_for(SECS(15), "the notice to be gone", |s| s.meeting.problem.is_none());
    assert_eq!(fixed.meeting.led, LedPattern::Off);
    let (name_without, notes_without) = under_the_call_to_action(&room, "fixed.png");
    assert!(name_with > 50 && name_without > 50, "the room's name is drawn: {name_with}, {name_without} px");
    assert!(
        notes_with > notes_without + 20,
        "the problem's lines are under the call to action: {notes_with} light px with it, {notes_without} without"
    );
}

#[test]
fn the_screen_shows_the_guests_join_link_as_a_qr_code_in_a_meeting_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let link = "https://room-3.example.org:8443/";
    let oslo_devices = Devices {
        video_source: "videotestsrc is-live=true pattern=solid-color foreground-color=0xffff0000".into(),
        extra: format!(
            "{}link = \"{link}\"\nshow_link_in_call = true\n",
            common::browser::guests_section(common::browser::free_tcp_port(), "482913", dir.path())
        ),
        ..Devices::default()
    };
    let blue = Devices {
        video_source: "videotestsrc is-live=true pattern=solid-color foreground-color=0xff0000ff".into(),
        ..Devices::default()
    };
    let (a, b) = oslo_and_bergen(&oslo_devices, &blue);
    a.press();
    a.wait_for(SECS(20), "remote video", |s| s.first_media().is_some_and(|m| m.video_in.decoded_per_s >= 20.0));
    let shot = a.dir.path().join("screen.png");
    assert!(a.ctl(&["snapshot", shot.to_str().unwrap()]).status.success());
    let screen = Picture::decode(&read_png(&shot));
    assert_eq!((screen.width, screen.height), (320, 240));
    // The code of the link, a third of the screen's height (80 px), 8 px from the bottom-left
    // edges, each module a whole number of pixels inside four modules of quiet zone: every
    // module's centre is as dark or as light as the code says.
    let modules = roombox::guests::link::modules(link).unwrap();
    let count = modules.len() as u32 + 8;
    let scale = 80 / count;
    let origin = (8 + (80 - scale * count) / 2 + 4 * scale, 240 - 8 - 80 + (80 - scale * count) / 2 + 4 * scale);
    let mut wrong = Vec::new();
    for (row, cells) in modules.iter().enumerate() {
        for (column, dark) in cells.iter().enumerate() {
            let (x, y) = (origin.0 + column as u32 * scale + scale / 2, origin.1 + row as u32 * scale + scale / 2);
            let (r, g, b) = screen.rgb_around(x, y, 2);
            let seen_dark = r < 60 && g < 60 && b < 60;
            let seen_light = r > 190 && g > 190 && b > 190;
            if (*dark && !seen_dark) || (!*dark && !seen_light) {
                wrong.push((column, row, (r, g, b)));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} modules differ from the code: {:?}",
        wrong.len(),
        modules.len().pow(2),
        &wrong[..wrong.len().min(5)]
    );
    // The rest of the screen still shows bergen (blue), and the self-view its own corner.
    let (r, g, b_) = screen.rgb_around(200, 60, 20);
    assert!(b_ > 180 && r < 80 && g < 80, "the remote room above the code: {:?}", (r, g, b_));
    let (r, g, b_) = screen.rgb_around(320 - 8 - 40, 240 - 8 - 30, 20);
    assert!(r > 180 && g < 80 && b_ < 80, "the self-view in its corner: {:?}", (r, g, b_));
    // Bergen, where the link is not shown, receives oslo's picture without it.
    b.wait_for(SECS(10), "oslo's video", |s| s.first_media().is_some_and(|m| m.video_in.decoded_per_s >= 20.0));
    let far = b.dir.path().join("far.png");
    assert!(b.ctl(&["snapshot", far.to_str().unwrap()]).status.success());
    let far = Picture::decode(&read_png(&far));
    let (r, g, b_) = far.rgb_around(8 + 40, 240 - 8 - 40, 30);
    assert!(r > 180 && g < 80 && b_ < 80, "oslo's red picture, no code, where oslo's screen has it: {:?}", (r, g, b_));
}
