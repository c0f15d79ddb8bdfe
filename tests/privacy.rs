//! Privacy on the wire: what a packet socket on the path between two rooms reads. With SRTP
//! (the default, each suite) the RTP payloads are not H.264 or Opus any more; the same check on
//! a call with `encryption = "off"` sees them plainly, so the check itself can tell.

mod common;

use std::time::Duration;

use common::capture::{Capture, Datagram};
use common::nft::far_media_ports;
use common::{Daemon, decoding, free_port};
use roombox::control::Status;

/// Whether an RTP payload reads as H.264 (RFC 6184): forbidden bit clear, a NAL type roombox
/// sends (1..=23 single, 24 STAP-A, 28 FU-A), and an FU-A header naming a slice.
fn looks_like_h264(payload: &[u8]) -> bool {
    let (Some(&indicator), fu) = (payload.first(), payload.get(1)) else { return false };
    let ty = indicator & 0x1f;
    let fu_ok = ty != 28 || fu.is_some_and(|h| matches!(h & 0x1f, 1 | 5) && h & 0xc0 != 0xc0);
    indicator & 0x80 == 0 && matches!(ty, 1..=24 | 28) && fu_ok
}

/// The RTP payload of a datagram (after the fixed header, CSRCs and any extension).
fn rtp_payload(d: &Datagram) -> Option<(u8, &[u8])> {
    let p = &d.payload;
    if p.len() < 12 || p[0] >> 6 != 2 {
        return None;
    }
    let mut start = 12 + usize::from(p[0] & 0x0f) * 4;
    if p[0] & 0x10 != 0 {
        let words = u16::from_be_bytes([*p.get(start + 2)?, *p.get(start + 3)?]);
        start += 4 + usize::from(words) * 4;
    }
    Some((p[1] & 0x7f, p.get(start..)?))
}

/// Share of the video packets that read as H.264, and share of the audio packets that carry
/// the most common first byte (an Opus encoder at one setting repeats its TOC byte).
fn readable_shares(datagrams: &[Datagram], status: &Status) -> (f64, f64, usize, usize) {
    let negotiated = status.meeting.legs[0].negotiated.clone().unwrap();
    let (video_pt, audio_pt) = (negotiated.video.unwrap().pt, negotiated.audio.unwrap().pt);
    let (mut video, mut h264, mut tocs) = (0usize, 0usize, [0usize; 256]);
    for (pt, payload) in datagrams.iter().filter_map(rtp_payload) {
        if pt == video_pt {
            video += 1;
            h264 += usize::from(looks_like_h264(payload));
        } else if pt == audio_pt && !payload.is_empty() {
            tocs[usize::from(payload[0])] += 1;
        }
    }
    let audio: usize = tocs.iter().sum();
    let top = tocs.iter().max().copied().unwrap_or(0);
    (h264 as f64 / video.max(1) as f64, top as f64 / audio.max(1) as f64, video, audio)
}

/// oslo calls bergen with these `[call]` settings; what the path carries to bergen.
fn call_and_listen(oslo_call: &str, bergen_call: &str) -> (f64, f64, String) {
    let (pa, pb) = (free_port(), free_port());
    let oslo = Daemon::start("oslo", pa, &[("bergen", pb)], oslo_call);
    let _bergen = Daemon::start("bergen", pb, &[("oslo", pa)], &format!("auto_answer = true\n{bergen_call}"));
    let capture = Capture::loopback();
    oslo.press();
    let status = oslo.wait_for(Duration::from_secs(20), "bergen's picture and sound", |s| decoding(s, 20.0));
    let datagrams = capture.udp_to(&far_media_ports(&status), Duration::from_secs(3));
    let (h264, toc, video, audio) = readable_shares(&datagrams, &status);
    assert!(video > 50 && audio > 100, "the path carried {video} video and {audio} audio packets");
    let encryption = status.first_media().unwrap().video_in.encryption.clone();
    // Nothing a room prints carries a key: its debug log, its status in both forms.
    let json = String::from_utf8_lossy(&oslo.ctl(&["status", "--json"]).stdout).into_owned();
    let text = String::from_utf8_lossy(&oslo.ctl(&["status"]).stdout).into_owned();
    for (what, printed) in [("log", oslo.log()), ("status --json", json), ("status", text)] {
        assert!(!printed.contains("inline:") && !printed.contains("srtp-key"), "a key in the {what}:\n{printed}");
    }
    eprintln!(
        "{encryption}: {video} video packets, {h264:.3} read as H.264; {audio} audio packets, {toc:.3} share a first byte"
    );
    (h264, toc, encryption)
}

#[test]
fn srtp_leaves_nothing_readable_on_the_path_with_either_suite_and_plain_rtp_would() {
    let (h264, toc, encryption) = call_and_listen("encryption = \"off\"", "encryption = \"off\"");
    assert_eq!(encryption, "none");
    assert!(h264 > 0.95 && toc > 0.9, "a plain call reads as H.264 ({h264:.2}) and Opus ({toc:.2})");

    for (suite, oslo) in
        [("AEAD_AES_128_GCM", ""), ("AES_CM_128_HMAC_SHA1_80", "srtp_suites = [\"AES_CM_128_HMAC_SHA1_80\"]")]
    {
        let (h264, toc, encryption) = call_and_listen(oslo, "");
        assert_eq!(encryption, format!("SRTP {suite}"));
        // Random bytes pass the H.264 test about 4 times in 10 and repeat a byte 1 time in 256.
        assert!(h264 < 0.6, "{suite}: {h264:.2} of the video payloads read as H.264");
        assert!(toc < 0.1, "{suite}: {toc:.2} of the audio payloads share a first byte");
    }
}
