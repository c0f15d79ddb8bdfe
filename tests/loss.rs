//! A call between two real daemons over a lossy path: nftables drops 10 % of every media
//! packet (RTP and RTCP, video and audio) both ways for 10 s. Repair must happen and be shown
//! in `status` (packets asked for again and resent, lost sound concealed and rebuilt from
//! Opus FEC, keyframes asked for and made), the call
//! stays up with sound and picture, and the picture runs at full rate once the loss stops.
//! Then a second without one room's picture: the other asks for a keyframe and gets one.
//! A rate too low for the room's picture size sends a smaller picture, and the full size comes
//! back when the path clears.

mod common;

use std::time::Duration;

use common::nft::{Impairment, far_media_ports};
use common::{Daemon, Devices, decoding, free_port};
use roombox::control::Status;
use roombox::media::MediaStats;
use roombox::media::stats::PictureSize;
use roombox::meeting::RoomState;

const SECS: fn(u64) -> Duration = Duration::from_secs;

fn media(s: &Status) -> MediaStats {
    s.first_media().cloned().unwrap_or_default()
}

#[test]
fn ten_percent_loss_both_ways_is_repaired_and_shown_in_status() {
    let (pa, pb) = (free_port(), free_port());
    let oslo = Daemon::start("oslo", pa, &[("bergen", pb)], "");
    let bergen = Daemon::start("bergen", pb, &[("oslo", pa)], "auto_answer = true");
    oslo.press();
    let to_bergen = far_media_ports(&oslo.wait_for(SECS(20), "bergen's picture and sound", |s| decoding(s, 25.0)));
    let to_oslo = far_media_ports(&bergen.wait_for(SECS(10), "oslo's picture and sound", |s| decoding(s, 25.0)));
    let negotiated = oslo.status().unwrap().meeting.legs[0].negotiated.clone().unwrap().video.unwrap();
    assert!(negotiated.feedback.nack && negotiated.feedback.pli && negotiated.rtx_pt.is_some(), "{negotiated:?}");

    let ports: Vec<u16> = to_bergen.iter().chain(&to_oslo).copied().collect();
    let loss = Impairment::loss(&ports, 10);
    std::thread::sleep(SECS(10));
    let (at_oslo, at_bergen) = (oslo.status().unwrap(), bergen.status().unwrap());
    drop(loss);
    for (room, s) in [("oslo", &at_oslo), ("bergen", &at_bergen)] {
        let m = media(s);
        assert_eq!(s.meeting.state, RoomState::InCall, "{room} stays in the call");
        assert!(m.video_in.packets_lost > 0, "{room} saw the loss: {:?}", m.video_in);
        assert!(
            m.video_in.nacks_sent > 0 && m.video_in.recovered > 0,
            "{room} had lost video resent: {:?}",
            m.video_in
        );
        assert!(m.video_out.resent > 0, "{room} resent what the other lost: {:?}", m.video_out);
        assert!(m.audio_in.unrepaired > 0, "{room} concealed lost sound: {:?}", m.audio_in);
        assert!(m.audio_in.fec_decoding, "{room} rebuilds lost sound from Opus FEC: {:?}", m.audio_in);
        assert!(m.audio_in.decoded_per_s >= 40.0, "{room} kept playing sound: {:?}", m.audio_in);
    }
    oslo.wait_for(SECS(10), "bergen's picture at full rate again", |s| decoding(s, 28.0));
    bergen.wait_for(SECS(10), "oslo's picture at full rate again", |s| decoding(s, 28.0));

    // Three seconds without bergen's picture (its video RTP only; audio goes on, so the place
    // is not interrupted): more packets than bergen keeps for resending (a one-second cut is
    // often resent whole), so oslo asks for a keyframe, and bergen's encoder makes one for it.
    let (asked, made) = (media(&oslo.status().unwrap()).video_in.keyframes_asked, keyframes_made(&bergen));
    let cut = Impairment::outage(&to_oslo[..1]);
    std::thread::sleep(SECS(3));
    drop(cut);
    // The gap is found when the picture returns; the request is counted at the next tick.
    oslo.wait_for(SECS(10), "bergen's picture back, a keyframe asked for", |s| {
        decoding(s, 28.0) && media(s).video_in.keyframes_asked > asked
    });
    let sender = bergen.wait_for(SECS(5), "bergen making a keyframe on request", |s| {
        media(s).keyframes_on_request > made && media(s).video_out.keyframe_requests > 0
    });
    assert!(media(&sender).video_out.keyframe_requests > 0, "{:?}", media(&sender).video_out);
}

fn keyframes_made(room: &Daemon) -> u64 {
    media(&room.status().unwrap()).keyframes_on_request
}

#[test]
fn heavy_loss_lowers_the_bitrate_and_it_returns_when_the_path_clears() {
    let (pa, pb) = (free_port(), free_port());
    let oslo = Daemon::start("oslo", pa, &[("bergen", pb)], "");
    let bergen = Daemon::start("bergen", pb, &[("oslo", pa)], "auto_answer = true");
    oslo.press();
    oslo.wait_for(SECS(20), "bergen's picture and sound", |s| decoding(s, 25.0));
    let to_oslo = far_media_ports(&bergen.wait_for(SECS(10), "oslo's picture", |s| decoding(s, 25.0)));
    let configured = media(&bergen.status().unwrap()).video_out.target_kbps;
    assert_eq!(configured, Some(500), "bergen starts at the configured rate");

    // 40 % of what bergen sends is lost: oslo's reports say so and bergen sends less.
    let loss = Impairment::loss(&to_oslo, 40);
    let lowered = bergen.wait_for(SECS(10), "a lower bitrate", |s| {
        let out = media(s);
        out.encoder_kbps <= 400 && out.video_out.target_reason.contains("loss")
    });
    drop(loss);
    let out = media(&lowered);
    assert_eq!(out.video_out.target_kbps, Some(out.encoder_kbps), "the encoder follows the target: {out:?}");
    bergen.wait_for(SECS(10), "the encoder sending less", |s| media(s).video_out.kbps < 420.0);
    bergen.wait_for(SECS(20), "the configured rate again", |s| media(s).encoder_kbps == 500);
    let text = String::from_utf8_lossy(&bergen.ctl(&["status"]).stdout).to_string();
    assert!(text.contains("configured rate"), "{text}");
    oslo.wait_for(SECS(10), "the picture at full rate", |s| decoding(s, 28.0));
}

#[test]
fn a_rate_too_low_for_the_picture_sends_a_smaller_one_until_the_path_clears() {
    let (pa, pb) = (free_port(), free_port());
    // 640x360 at 30 fps needs about 125 kbit/s; the floor lets the rate go below that.
    let devices = Devices {
        video: "width = 640\nheight = 360\nfps = 30\nbitrate_kbps = 500\nmin_bitrate_kbps = 50".into(),
        ..Devices::default()
    };
    let oslo = Daemon::start_with("oslo", pa, &[("bergen", pb)], "", &devices);
    let bergen = Daemon::start_with("bergen", pb, &[("oslo", pa)], "auto_answer = true", &devices);
    oslo.press();
    let full = Some(PictureSize { width: 640, height: 360 });
    let arrived = |s: &Status| media(s).video_in.picture;
    oslo.wait_for(SECS(20), "bergen's picture at its full size", |s| decoding(s, 25.0) && arrived(s) == full);
    let to_oslo = far_media_ports(&bergen.wait_for(SECS(10), "oslo's picture", |s| decoding(s, 25.0)));
    assert_eq!(media(&bergen.status().unwrap()).encoder_size, full, "bergen encodes the room's size");

    let loss = Impairment::loss(&to_oslo, 40);
    let lowered = bergen.wait_for(SECS(15), "a smaller picture for a low rate", |s| media(s).encoder_size_lowered);
    drop(loss);
    let out = media(&lowered);
    assert_eq!(out.encoder_size, Some(PictureSize { width: 320, height: 180 }), "{out:?}");
    assert!(out.encoder_kbps < 125, "the rate was too low for 640x360: {out:?}");
    let text = String::from_utf8_lossy(&bergen.ctl(&["status"]).stdout).to_string();
    assert!(text.contains("320x180 (smaller: the full size needs more)"), "{text}");
    oslo.wait_for(SECS(10), "bergen's smaller picture decoded", |s| {
        arrived(s) == Some(PictureSize { width: 320, height: 180 }) && decoding(s, 20.0)
    });
    bergen.wait_for(SECS(30), "the full size again", |s| !media(s).encoder_size_lowered);
    oslo.wait_for(SECS(10), "bergen's picture at full size and rate", |s| arrived(s) == full && decoding(s, 28.0));
}
