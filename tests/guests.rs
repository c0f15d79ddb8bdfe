//! Browser guests, end to end: real roombox daemons and headless Chromium guests (Debian's
//! `/usr/bin/chromium` driven by Playwright) in a network namespace of each test's own, where
//! the guest page is served on 127.0.0.1 and the media goes over a veth pair.

mod common;

use std::time::Duration;

use common::browser::{
    Browsers, Guest, audio_energy, enter_private_network, free_tcp_port, guests_section, tone_wav, video,
};
use common::{Daemon, Devices, free_port, tone_levels};
use roombox::meeting::RoomState;

const PIN: &str = "482913";

/// A room with guests on, its microphone a sine at `hz`, its speaker recorded to `heard`.
fn room(name: &str, hz: u32, argb: u32, peers: &[(&str, u16)], call: &str) -> (Daemon, u16, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let page = free_tcp_port();
    let mut devices = Devices::tone_room(hz, argb, &dir.path().join("heard.raw"));
    devices.extra = guests_section(page, PIN, dir.path());
    let daemon = Daemon::start_with(name, free_port(), peers, call, &devices);
    (daemon, page, dir)
}

fn url(page: u16) -> String {
    format!("https://127.0.0.1:{page}/")
}

#[test]
fn a_guest_joins_a_room_and_each_sees_and_hears_the_other() {
    enter_private_network();
    let (oslo, page, dir) = room("oslo", 440, 0xff20_40c0, &[], "");
    let tone = dir.path().join("guest.wav");
    tone_wav(&tone, 1000.0);
    let guests = [Guest { name: "Ingrid", pin: PIN, camera: true, tone: Some(&tone) }];
    let mut browsers = Browsers::start(&url(page), &guests);

    // The browser decodes the room's picture at its rate and plays the room's sound.
    let first = browsers.wait("Ingrid", Duration::from_secs(30), "the room's picture", |r| video(r).0 > 0);
    let later = browsers.wait("Ingrid", Duration::from_secs(20), "20 fps of the room", |r| {
        video(r).1 >= 20.0 && video(r).0 >= video(&first).0 + 60 && r["stats"]["shown"]["width"].as_u64() > Some(0)
    });
    assert!(audio_energy(&later) > audio_energy(&first), "the page plays the room's sound: {later:#}");
    // The room decodes the guest's picture and hears its microphone (by its frequency).
    let status = oslo.wait_for(Duration::from_secs(20), "the guest's picture and sound", |s| {
        s.meeting.legs.len() == 1
            && s.first_media().is_some_and(|m| m.video_in.decoded_per_s >= 10.0 && m.audio_in.decoded_per_s >= 40.0)
    });
    let leg = &status.meeting.legs[0];
    assert_eq!((leg.direction.as_str(), leg.name.as_str()), ("guest", "Ingrid"));
    assert_eq!(status.meeting.state, RoomState::InCall);
    assert!(status.first_media().unwrap().video_in.encryption.starts_with("DTLS-SRTP"));
    std::thread::sleep(Duration::from_secs(2));
    let [guest_tone, own_tone] = tone_levels(&dir.path().join("heard.raw"), 1.5, &[1000, 440])[..] else { panic!() };
    eprintln!("the room heard the guest's 1 kHz at {guest_tone:.1} dBFS, its own 440 Hz at {own_tone:.1}");
    assert!(guest_tone > -50.0, "the room hears the guest's 1 kHz: {guest_tone:.1} dBFS");
    assert!(own_tone < guest_tone - 20.0, "and not itself: {own_tone:.1} dBFS");

    // A screenshot of the guest page in the call (the README shows one).
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("guest-page.png");
    browsers.command(&format!("shot Ingrid {}", shot.display()));
    browsers.wait("Ingrid", Duration::from_secs(10), "the screenshot", |r| r["shot"].is_string());
    let picture = common::Picture::decode(&std::fs::read(&shot).unwrap());
    assert_eq!((picture.width, picture.height), (960, 540));
    let (r, g, b) = picture.rgb_around(480, 200, 40);
    assert!(b > 150 && r < 80 && g < 110, "the page shows the room's blue picture: {:?}", (r, g, b));

    // Leaving (the page's button) ends the guest's leg at once, and the room goes idle.
    browsers.command("leave Ingrid");
    browsers.wait("Ingrid", Duration::from_secs(10), "the page left", |r| r["message"]["kind"] == "left");
    oslo.wait_state(RoomState::Idle, Duration::from_secs(3));
    assert!(oslo.log().contains("call with guest \"Ingrid\" from 127.0.0.1 ended"));
}

#[test]
fn a_guest_without_camera_permission_still_connects_through_its_mdns_candidates() {
    enter_private_network();
    let (oslo, page, _dir) = room("oslo", 440, 0xff20_40c0, &[], "");
    let browsers = Browsers::start(&url(page), &[Guest { name: "Watcher", pin: PIN, camera: false, tone: None }]);
    let report = browsers.wait("Watcher", Duration::from_secs(30), "the room's picture", |r| video(r).0 > 30);
    assert_eq!(report["message"]["kind"], "camera-refused", "the page says why it only watches: {report:#}");
    assert_eq!(report["stats"]["connection"], "connected");
    let status = oslo.wait_for(Duration::from_secs(10), "the watching guest", |s| s.meeting.legs.len() == 1);
    assert_eq!(status.meeting.legs[0].direction, "guest");
    // Without the permission Chromium names no address of its own in the offer (at most
    // mDNS .local names, which the box does not resolve), and still the call connected: the
    // browser's checks reached the box from its real address, a peer-reflexive candidate.
    let log = oslo.log();
    let answered = log.lines().find(|l| l.contains("guest's offer answered")).expect("the offer was answered");
    assert!(answered.contains("candidates=0 addresses"), "the offer named no address: {answered}");
}

#[test]
fn a_wrong_pin_is_refused_on_the_page_and_the_room_does_not_change() {
    enter_private_network();
    let (oslo, page, _dir) = room("oslo", 440, 0xff20_40c0, &[], "");
    let browsers = Browsers::start(&url(page), &[Guest { name: "Mallory", pin: "000000", camera: true, tone: None }]);
    let report =
        browsers.wait("Mallory", Duration::from_secs(30), "the refusal", |r| r["message"]["kind"] == "wrong-pin");
    assert!(report["message"]["text"].as_str().unwrap().contains("wrong PIN"), "{report:#}");
    let status = oslo.status().unwrap();
    assert_eq!(status.meeting.state, RoomState::Idle);
    assert!(status.meeting.legs.is_empty() && status.meeting.last_error.is_none());
    drop(browsers);
    // Guessing on is slowed down, and nothing but the page is served.
    let curl = |args: &[&str]| {
        let out = std::process::Command::new("curl")
            .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let whip = format!("{}whip", url(page));
    let codes: Vec<String> = (0..6)
        .map(|_| {
            curl(&[
                "-X",
                "POST",
                "-H",
                "Authorization: Bearer 111111",
                "-H",
                "Content-Type: application/sdp",
                "--data",
                "v=0",
                &whip,
            ])
        })
        .collect();
    assert_eq!(codes[..2], ["403", "403"], "{codes:?}");
    assert!(codes.contains(&"429".to_owned()), "repeated wrong PINs are slowed down: {codes:?}");
    assert_eq!(curl(&[&format!("{}control.sock", url(page))]), "404");
    assert_eq!(curl(&["-X", "POST", &whip]), "401");
    // Trickled candidates are not taken (they travel in offer and answer), and the answer says
    // what the session resource does take.
    let patch = std::process::Command::new("curl")
        .args(["-sk", "-D", "-", "-o", "/dev/null", "-X", "PATCH", &format!("{whip}/00ff")])
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&patch.stdout).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 405") && head.contains("allow: delete"), "{head}");
    assert_eq!(oslo.status().unwrap().meeting.state, RoomState::Idle);
}

#[test]
fn a_room_with_guests_off_serves_nothing() {
    enter_private_network();
    let page = free_tcp_port();
    let devices =
        Devices { extra: format!("[guests]\nenabled = false\nlisten = \"127.0.0.1:{page}\"\n"), ..Devices::default() };
    let oslo = Daemon::start_with("oslo", free_port(), &[], "", &devices);
    assert!(std::net::TcpStream::connect(("127.0.0.1", page)).is_err(), "nothing listens on the guest port");
    let out = oslo.ctl(&["guest-link"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("guests are not enabled"));
}

#[test]
fn two_rooms_and_two_guests_meet_and_one_guest_leaves() {
    enter_private_network();
    let bergen_port = free_port();
    let (oslo, page, dir) = room("oslo", 440, 0xff20_40c0, &[("bergen", bergen_port)], "");
    let bergen_dir = tempfile::tempdir().unwrap();
    let bergen_devices = Devices::tone_room(660, 0xffc0_4020, &bergen_dir.path().join("heard.raw"));
    let bergen =
        Daemon::start_with("bergen", bergen_port, &[("oslo", oslo.port)], "auto_answer = true", &bergen_devices);
    oslo.press();
    oslo.wait_for(Duration::from_secs(20), "bergen in the meeting", |s| common::decoding(s, 10.0));
    let (a, b) = (dir.path().join("a.wav"), dir.path().join("b.wav"));
    tone_wav(&a, 1000.0);
    tone_wav(&b, 1400.0);
    let guests = [
        Guest { name: "Ada", pin: PIN, camera: true, tone: Some(&a) },
        Guest { name: "Bo", pin: PIN, camera: true, tone: Some(&b) },
    ];
    let mut browsers = Browsers::start(&url(page), &guests);
    for name in ["Ada", "Bo"] {
        browsers.wait(name, Duration::from_secs(40), "the meeting's picture at 20 fps", |r| video(r).1 >= 20.0);
    }
    // Four places: the host decodes every other place, bergen the host's gallery of them all.
    let status = oslo.wait_for(Duration::from_secs(30), "three places decoding", |s| {
        s.meeting.places == 4
            && s.media.iter().all(|m| m.stats.video_in.decoded_per_s >= 10.0 && m.stats.audio_in.decoded_per_s >= 40.0)
    });
    assert_eq!(status.meeting.legs.iter().filter(|l| l.direction == "guest").count(), 2);
    bergen.wait_for(Duration::from_secs(10), "the host's gallery", |s| common::decoding(s, 10.0));
    std::thread::sleep(Duration::from_secs(3));
    let host = tone_levels(&dir.path().join("heard.raw"), 2.0, &[660, 1000, 1400, 440]);
    assert!(host[..3].iter().all(|db| *db > -50.0), "oslo hears bergen, Ada and Bo: {host:?}");
    let far = tone_levels(&bergen_dir.path().join("heard.raw"), 2.0, &[440, 1000, 1400, 660]);
    assert!(far[..3].iter().all(|db| *db > -50.0), "bergen hears oslo, Ada and Bo: {far:?}");

    // Bo's page shows the host's gallery: oslo (blue), bergen (orange) and Ada's green camera.
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("guest-meeting.png");
    browsers.command(&format!("shot Bo {}", shot.display()));
    browsers.wait("Bo", Duration::from_secs(10), "the screenshot", |r| r["shot"].is_string());
    let picture = common::Picture::decode(&std::fs::read(&shot).unwrap());
    let all = |test: fn((u8, u8, u8)) -> bool| picture.count(0, 0, 960, 450, test);
    let (blue, orange, green) = (
        all(|(r, g, b)| b > 150 && r < 80 && g < 110),
        all(|(r, g, b)| r > 150 && g < 110 && b < 80),
        all(|(r, g, b)| g > 100 && r < 80 && b < 80),
    );
    assert!(blue > 5000 && orange > 5000 && green > 5000, "tiles of every other place: {blue} {orange} {green}");

    // Ada closes her tab: the others go on.
    browsers.command("close Ada");
    oslo.wait_for(Duration::from_secs(40), "Ada gone", |s| s.meeting.legs.len() == 2 && s.meeting.places == 3);
    let before = browsers.wait("Bo", Duration::from_secs(5), "Bo's figures", |r| video(r).0 > 0);
    let after =
        browsers.wait("Bo", Duration::from_secs(10), "Bo still decoding", |r| video(r).0 > video(&before).0 + 30);
    assert_eq!(after["stats"]["connection"], "connected");
    bergen.wait_for(Duration::from_secs(10), "bergen still in the meeting", |s| common::decoding(s, 10.0));
}

#[test]
fn the_idle_screen_and_guest_link_show_the_join_link_as_a_qr_code() {
    enter_private_network();
    let (oslo, page, dir) = room("oslo", 440, 0xff20_40c0, &[], "");
    let out = oslo.ctl(&["guest-link"]);
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(printed.starts_with(&url(page)), "{printed}");
    assert!(printed.lines().count() > 10 && printed.contains('▀'), "and a QR code for the terminal:\n{printed}");
    // The idle screen carries the link as a QR code a phone reads (zbar reads it here).
    let shot = dir.path().join("idle.png");
    assert!(oslo.ctl(&["snapshot", shot.to_str().unwrap()]).status.success());
    let read = std::process::Command::new("gst-launch-1.0")
        .args(["-m", "filesrc", &format!("location={}", shot.display()), "!", "pngdec", "!", "videoconvert"])
        .args(["!", "zbar", "!", "fakesink"])
        .output()
        .unwrap();
    let messages = String::from_utf8_lossy(&read.stdout);
    assert!(messages.contains(&format!("symbol=(string){}", url(page))), "the QR code holds the link:\n{messages}");
}

#[test]
fn a_full_meeting_and_a_box_that_went_away_are_said_on_the_page() {
    enter_private_network();
    let (oslo, page, _dir) = room("oslo", 440, 0xff20_40c0, &[], "max_places = 2");
    let first = Browsers::start(&url(page), &[Guest { name: "Ada", pin: PIN, camera: true, tone: None }]);
    first.wait("Ada", Duration::from_secs(30), "the room's picture", |r| video(r).0 > 0);
    let second = Browsers::start(&url(page), &[Guest { name: "Bo", pin: PIN, camera: true, tone: None }]);
    let refused = second.wait("Bo", Duration::from_secs(30), "the refusal", |r| r["message"]["kind"] == "full");
    assert!(refused["message"]["text"].as_str().unwrap().contains("the meeting is full (2 places)"), "{refused:#}");
    let status = oslo.status().unwrap();
    assert_eq!((status.meeting.legs.len(), status.meeting.legs[0].name.as_str()), (1, "Ada"));
    // The box goes away: Ada's page says so.
    drop(oslo);
    let gone = first.wait("Ada", Duration::from_secs(40), "the page to notice", |r| r["message"]["kind"] == "gone");
    assert!(gone["message"]["text"].as_str().unwrap().contains("connection to the room box was lost"), "{gone:#}");
}

#[test]
fn a_reload_opens_and_closes_the_guest_page() {
    enter_private_network();
    let (page, dir) = (free_tcp_port(), tempfile::tempdir().unwrap());
    let off = guests_section(page, PIN, dir.path()).replace("enabled = true", "enabled = false");
    let oslo = Daemon::start_with("oslo", free_port(), &[], "", &Devices { extra: off, ..Devices::default() });
    let serves = || std::net::TcpStream::connect(("127.0.0.1", page)).is_ok();
    let reload = |from: &str, to: &str| {
        let path = oslo.dir.path().join("roombox.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace(from, to)).unwrap();
        // SAFETY: a signal to the daemon this test started.
        assert_eq!(unsafe { libc::kill(oslo.pid() as i32, libc::SIGHUP) }, 0);
    };
    let wait = |want: bool, what: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while serves() != want {
            assert!(std::time::Instant::now() < deadline, "{what}\n{}", oslo.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    assert!(!serves(), "guests off: nothing listens");
    reload("enabled = false", "enabled = true");
    wait(true, "the reload opens the guest page");
    let page_text = std::process::Command::new("curl").args(["-sk", &url(page)]).output().unwrap();
    assert!(String::from_utf8_lossy(&page_text.stdout).contains("Join the meeting"));
    reload("enabled = true", "enabled = false");
    wait(false, "the reload closes it again");
    assert!(oslo.log().contains("guest page closed"));
}
