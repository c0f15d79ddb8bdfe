//! A standard SIP endpoint: baresip (Debian's package, started here with its own config on
//! 127.0.0.1). In plain RTP it is dialled by a roombox host together with two other rooms (the
//! host's encryption is "optional"); with `mediaenc=srtp-mand` it calls a room and is called by
//! one, encrypted. From baresip's own log it receives video and audio; the room decodes its
//! picture and sound.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Daemon, Devices, free_port};
use roombox::control::Status;
use roombox::meeting::RoomState;

struct Baresip {
    child: Child,
    dir: tempfile::TempDir,
}

impl Baresip {
    /// baresip on 127.0.0.1:`port`, answering by itself, sending a 1 kHz tone and a test
    /// picture (fakevideo), decoding what it receives (H.264 via avcodec, Opus). With
    /// `mediaenc`, its account uses that media encryption; with `dial`, it calls that URI.
    fn start(port: u16, mediaenc: Option<&str>, dial: Option<&str>) -> Baresip {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "poll_method epoll\nsip_listen 127.0.0.1:{port}\nnet_interface 127.0.0.1\n\
             audio_player alsa,null\naudio_source ausine,1000\naudio_alert alsa,null\n\
             video_source fakevideo,nil\nvideo_display fakevideo,nil\nvideo_size 320x240\n\
             video_bitrate 500000\nvideo_fps 30\nrtp_stats yes\n\
             module_path /usr/lib/baresip/modules\n\
             module srtp.so\nmodule opus.so\nmodule avcodec.so\nmodule ausine.so\nmodule alsa.so\nmodule fakevideo.so\n\
             module rtcpsummary.so\nmodule account.so\nmodule menu.so\n"
        );
        std::fs::write(dir.path().join("config"), config).unwrap();
        let encryption = mediaenc.map(|m| format!(";mediaenc={m}")).unwrap_or_default();
        let account = format!("<sip:baresip@127.0.0.1:{port}>;regint=0;answermode=auto{encryption}\n");
        std::fs::write(dir.path().join("accounts"), account).unwrap();
        std::fs::write(dir.path().join("contacts"), "").unwrap();
        let log = std::fs::File::create(dir.path().join("baresip.log")).unwrap();
        let mut command = Command::new("baresip");
        command.arg("-f").arg(dir.path());
        if let Some(uri) = dial {
            command.arg("-e").arg(format!("/dial {uri}"));
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("baresip is installed (scripts/install-deps)");
        let b = Baresip { child, dir };
        for _ in 0..100 {
            if b.log().contains("baresip is ready") {
                return b;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("baresip did not start:\n{}", b.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("baresip.log")).unwrap_or_default()
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn decodes(s: &Status, peer: &str) -> bool {
    s.media_of(peer).is_some_and(|m| m.video_in.decoded_per_s >= 20.0 && m.audio_in.decoded_per_s >= 40.0)
}

#[test]
fn baresip_takes_part_in_a_meeting_hosted_by_roombox_with_two_other_rooms() {
    let (host_port, b_port, c_port, sip_port) = (free_port(), free_port(), free_port(), free_port());
    let baresip = Baresip::start(sip_port, None, None);
    let dir = tempfile::tempdir().unwrap();
    let tone = |hz, argb, name: &str| Devices::tone_room(hz, argb, &dir.path().join(format!("{name}.raw")));
    let peers = [("bergen", b_port), ("tromso", c_port), ("baresip", sip_port)];
    // Best effort: the other rooms take the host's keys, baresip (no mediaenc) answers plain.
    let host =
        Daemon::start_with("oslo", host_port, &peers, "encryption = \"optional\"", &tone(440, 0xffff0000, "oslo"));
    let _b =
        Daemon::start_with("bergen", b_port, &[("oslo", host_port)], "auto_answer = true", &tone(660, 0xff00ff00, "b"));
    let _c =
        Daemon::start_with("tromso", c_port, &[("oslo", host_port)], "auto_answer = true", &tone(880, 0xff0000ff, "c"));
    host.press();
    let status = host.wait_for(Duration::from_secs(30), "three places decoding, baresip among them", |s| {
        s.meeting.places == 4 && ["bergen", "tromso", "baresip"].iter().all(|p| decodes(s, p))
    });
    let baresip_leg = status.media_of("baresip").unwrap();
    assert!(baresip_leg.video_in.packets_received > 0, "the host receives baresip's picture: {baresip_leg:?}");
    assert!(baresip_leg.audio_in.level_db.is_some_and(|db| db > -40.0), "and its tone: {baresip_leg:?}");
    assert!(baresip_leg.video_out.kbps > 20.0 && baresip_leg.audio_out.kbps > 10.0, "and sends it the meeting");
    std::thread::sleep(Duration::from_secs(3));

    // The host leaves: baresip's call ends and it prints what it received.
    host.press();
    host.wait_state(RoomState::Idle, Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(1));
    let log = baresip.log();
    assert!(log.contains("Call established"), "baresip joined:\n{log}");
    assert!(log.contains("video: receiving with resolution"), "baresip decodes the meeting's picture:\n{log}");
    let summary = rtcp_summary(&log);
    assert!(summary.video_rx > 50, "baresip received the meeting's video: {summary:?}\n{log}");
    assert!(summary.audio_rx > 100, "baresip received the meeting's audio: {summary:?}\n{log}");
    let media = status.media_of("bergen").unwrap();
    assert!(media.video_in.encryption.starts_with("SRTP"), "rooms still encrypt among themselves: {media:?}");
    assert_eq!(baresip_leg.video_in.encryption, "none", "baresip's leg is plain: {baresip_leg:?}");
}

/// What the room and baresip must both see of an encrypted call before it ends.
fn encrypted_call_works(room: &Daemon, baresip: &Baresip) {
    let status = room.wait_for(Duration::from_secs(20), "baresip's picture and sound, encrypted", |s| {
        s.meeting.places == 2 && decodes(s, "baresip")
    });
    let leg = status.media_of("baresip").unwrap();
    for stream in [&leg.video_in, &leg.audio_in] {
        assert!(stream.encryption.starts_with("SRTP "), "the call is encrypted both ways: {leg:?}");
    }
    assert!(leg.audio_in.level_db.is_some_and(|db| db > -40.0), "the room hears baresip's tone: {leg:?}");
    std::thread::sleep(Duration::from_secs(3));
    room.press();
    room.wait_state(RoomState::Idle, Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(1));
    let log = baresip.log();
    assert!(log.contains("video: receiving with resolution"), "baresip decrypts and decodes the picture:\n{log}");
    let summary = rtcp_summary(&log);
    assert!(summary.video_rx > 50 && summary.audio_rx > 100, "baresip received media: {summary:?}\n{log}");
    assert!(room.log().contains("encrypted with SRTP"), "the room's log says the call is encrypted");
}

#[test]
fn baresip_with_mandatory_srtp_calls_a_room_and_is_called_by_one() {
    let (room_port, sip_port) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let devices = Devices::tone_room(440, 0xffff0000, &dir.path().join("heard.raw"));
    let room = Daemon::start_with("oslo", room_port, &[("baresip", sip_port)], "auto_answer = true", &devices);

    let calling = Baresip::start(sip_port, Some("srtp-mand"), Some(&format!("sip:oslo@127.0.0.1:{room_port}")));
    encrypted_call_works(&room, &calling);
    assert!(calling.log().contains("Call established"), "{}", calling.log());
    drop(calling);

    let called = Baresip::start(sip_port, Some("srtp-mand"), None);
    room.press();
    encrypted_call_works(&room, &called);
}

/// Packets baresip says it received per stream, from its end-of-call table
/// (`audio  Transmit: Receive:` then `packets:  <sent>  <received>`).
#[derive(Debug, Default)]
struct Summary {
    audio_rx: u64,
    video_rx: u64,
}

fn rtcp_summary(log: &str) -> Summary {
    let mut summary = Summary::default();
    let mut current = None;
    for line in log.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [kind @ ("audio" | "video"), "Transmit:", "Receive:"] => current = Some(*kind),
            ["packets:", _, received] => {
                let n = received.parse().unwrap_or(0);
                match current.take() {
                    Some("audio") => summary.audio_rx = n,
                    Some("video") => summary.video_rx = n,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    summary
}
