//! Privacy on the wire: what a packet socket on the path between two rooms reads. With SRTP
//! (the default, each suite) the RTP payloads are not H.264 or Opus any more; the same check on
//! a call with `encryption = "off"` sees them plainly, so the check itself can tell. And an
//! outsider who sprays RTP at a room's media ports, from its own address or forged as the
//! peer's, changes nothing the room shows or plays; the room counts what it dropped.

mod common;

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::Duration;

use common::capture::{Capture, Datagram};
use common::inject::{Forger, Noise, spray};
use common::nft::far_media_ports;
use common::{Daemon, Devices, Picture, decoding, free_port, oslo_and_bergen, read_png, tone_levels};
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

/// The resident memory of a process, in kB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or("VmRSS: 0 kB");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn v4(port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)
}

#[test]
fn packets_from_an_outsider_change_nothing_and_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let oslo_devices = Devices::tone_room(440, 0xffff0000, &dir.path().join("oslo-heard.raw"));
    let bergen_devices = Devices::tone_room(660, 0xff0000ff, &dir.path().join("bergen-heard.raw"));
    let (oslo, bergen) = oslo_and_bergen(&oslo_devices, &bergen_devices);
    oslo.press();
    let status = oslo.wait_for(Duration::from_secs(20), "bergen's picture and sound", |s| decoding(s, 20.0));
    let bergen_status = bergen.wait_for(Duration::from_secs(5), "oslo's media", |s| decoding(s, 20.0));
    // Where oslo receives (bergen sends there), and where bergen sends from (its own ports).
    let oslo_ports = far_media_ports(&bergen_status);
    let bergen_ports = far_media_ports(&status);
    let negotiated = status.meeting.legs[0].negotiated.clone().unwrap();
    let (video_pt, audio_pt) = (negotiated.video.unwrap().pt, negotiated.audio.unwrap().pt);
    let real_ssrc = Capture::loopback()
        .udp_to(&oslo_ports[..1], Duration::from_millis(300))
        .iter()
        .find_map(|d| d.payload.get(8..12).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
        .expect("bergen's video reaches oslo");
    std::thread::sleep(Duration::from_secs(2));
    let (threads, _) = oslo.resources();
    let rss = rss_kb(oslo.pid());

    let (outsider, forger, mut noise) = (UdpSocket::bind("127.0.0.1:0").unwrap(), Forger::new(), Noise(0x5eed));
    let mut sent = (0u64, 0u64);
    for round in 0..9000u32 {
        for (i, (&to, &from)) in oslo_ports.iter().zip(&bergen_ports).enumerate() {
            let pt = if i < 2 { video_pt } else { audio_pt };
            let ssrc = if round % 10 == 0 { real_ssrc } else { noise.next() as u32 };
            spray(&outsider, v4(to), &noise.rtp(pt, ssrc, 160));
            sent.0 += 1;
            if round % 9 == 0 {
                // Forged as bergen: the address is right, the key is not.
                forger.send(v4(from), v4(to), &noise.rtp(pt, ssrc, 160));
                sent.1 += 1;
            }
        }
        if round % 100 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    std::thread::sleep(Duration::from_secs(2));

    let after = oslo.wait_for(Duration::from_secs(5), "bergen still decoding", |s| decoding(s, 20.0));
    let media = after.first_media().unwrap();
    let foreign = media.video_in.dropped_foreign + media.audio_in.dropped_foreign;
    let forged = media.video_in.dropped_unauthenticated + media.audio_in.dropped_unauthenticated;
    eprintln!(
        "sent {} from an outsider, {} forged as bergen; dropped {foreign} from strangers, {forged} unauthenticated",
        sent.0, sent.1
    );
    assert!(foreign >= sent.0, "every outsider packet is dropped and counted: {media:?}");
    assert!(forged > 0, "forged packets fail SRTP authentication and are counted: {media:?}");
    assert_eq!(media.video_in.packets_lost.max(0), 0, "no outsider packet reached the jitter buffers: {media:?}");
    let shot = dir.path().join("screen.png");
    assert!(oslo.ctl(&["snapshot", shot.to_str().unwrap()]).status.success());
    let centre = Picture::decode(&read_png(&shot)).rgb_around(160, 120, 10);
    assert!(centre.2 > 180 && centre.0 < 80, "oslo's screen still shows bergen (blue): {centre:?}");
    let levels = tone_levels(&dir.path().join("oslo-heard.raw"), 1.0, &[660]);
    assert!(levels[0] > -30.0, "oslo still hears bergen's 660 Hz: {levels:?}");
    let (threads_after, _) = oslo.resources();
    let rss_after = rss_kb(oslo.pid());
    eprintln!("oslo: {threads} → {threads_after} threads, {rss} → {rss_after} kB resident");
    assert!(threads_after <= threads + 2, "no threads for strangers' streams: {threads} → {threads_after}");
    assert!(rss_after < rss + 10_000, "memory stays flat: {rss} → {rss_after} kB");
}

#[test]
fn a_spoofed_bye_or_reinvite_gets_481_and_the_call_goes_on() {
    let (oslo, bergen) = oslo_and_bergen(&Devices::default(), &Devices::default());
    oslo.press();
    let status = bergen.wait_for(Duration::from_secs(20), "oslo's picture and sound", |s| decoding(s, 20.0));
    let call_id = status.meeting.legs[0].call_id.clone().expect("the call has a Call-ID");
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    stranger.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let me = stranger.local_addr().unwrap();
    for (cseq, method) in [(50, "BYE"), (51, "INVITE")] {
        let request = format!(
            "{method} sip:bergen@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKspoof{cseq}\r\n\
             From: <sip:oslo@127.0.0.1:{}>;tag=guess\r\nTo: <sip:bergen@127.0.0.1:{port}>;tag=guess2\r\n\
             Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n",
            oslo.port,
            port = bergen.port
        );
        stranger.send_to(request.as_bytes(), ("127.0.0.1", bergen.port)).unwrap();
        let mut buf = [0u8; 2048];
        let (n, _) = stranger.recv_from(&mut buf).expect("bergen answers the stranger");
        let reply = String::from_utf8_lossy(&buf[..n]);
        assert!(reply.starts_with("SIP/2.0 481"), "{method} from a stranger: {reply}");
    }
    std::thread::sleep(Duration::from_secs(1));
    let after = bergen.wait_for(Duration::from_secs(5), "the call still up and decoding", |s| decoding(s, 20.0));
    assert_eq!(after.meeting.legs.len(), 1);
    assert!(bergen.log().contains("ignored a BYE that claimed to be in the call"), "{}", bergen.log());
}
