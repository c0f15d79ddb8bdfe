//! Bounded randomized testing on stable Rust: 100,000 inputs mutated (seeded, so a failure
//! repeats) from a corpus of real messages go through everything that reads outside input —
//! the SIP parser and, with every parsed message, a live meeting core; the SDP parser and the
//! offer/answer; the config loader; the control protocol. None may panic or hang (each input
//! must be done within a second). `cargo fuzz` targets for the same readers are in `fuzz/`.

use std::time::{Duration, Instant};

use roombox::config::Config;
use roombox::control::Request as ControlRequest;
use roombox::meeting::{AllowList, Input, Meeting, MeetingConfig, Timing};
use roombox::sdp::{self, Capabilities, Encryption, LocalMedia, SessionDescription, SrtpPolicy};
use roombox::sip::{SipAddr, SipMessage};

const INPUTS: usize = 100_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Tokens that make parsers take unusual paths.
const SPICE: &[&str] = &[
    "\r\n",
    "\n",
    " ",
    "\t",
    ":",
    ";",
    ",",
    "<",
    ">",
    "\"",
    "\\",
    "%00",
    "=",
    "@",
    "sip:",
    "sips:",
    "tel:",
    "99999999999999999999",
    "-1",
    "0",
    "4294967296",
    "SIP/2.0",
    "INVITE",
    "BYE",
    "CSeq: 1 INVITE",
    "Call-ID: x",
    "Content-Length: 100000",
    "\r\n\r\n",
    "m=video 0 RTP/SAVP 96",
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:",
    "a=rtpmap:96 H264/90000/2/2",
    "c=IN IP6 ::1",
    "[call]",
    "= \"",
    "[[",
    "}",
    "{\"cmd\":",
    "\u{feff}",
    "é",
];

fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => data.insert(at, rng.next() as u8),
            2 => {
                let end = (at + rng.below(64)).min(data.len());
                data.drain(at..end);
            }
            3 => {
                let spice = SPICE[rng.below(SPICE.len())].as_bytes();
                data.splice(at..at, spice.iter().copied());
            }
            4 => {
                // Repeat a stretch (duplicated headers, lines, attributes).
                let end = (at + rng.below(80)).min(data.len());
                let copy = data[at..end].to_vec();
                data.splice(at..at, copy);
            }
            5 => data.truncate(at),
            _ => {
                // Replace a digit run with an extreme number.
                if let Some(i) = (at..data.len()).find(|&i| data[i].is_ascii_digit()) {
                    let n = ["0", "65536", "18446744073709551616", "-7"][rng.below(4)];
                    data.splice(i..i + 1, n.bytes());
                }
            }
        }
    }
    data
}

fn local() -> LocalMedia {
    LocalMedia {
        ip: "127.0.0.1".parse().unwrap(),
        video_rtp: 40000,
        video_rtcp: 40001,
        audio_rtp: 40002,
        audio_rtcp: 40003,
    }
}

fn invite(sdp: &str) -> String {
    format!(
        "INVITE sip:oslo@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKf1;rport\r\n\
         Max-Forwards: 70\r\nFrom: \"Bergen\" <sip:bergen@127.0.0.1:5062>;tag=77\r\nTo: <sip:oslo@127.0.0.1:5060>\r\n\
         Call-ID: fuzz-1@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:bergen@127.0.0.1:5062>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

/// Real messages: an offer each policy makes, answers, in-dialog requests, responses.
fn sip_corpus() -> Vec<String> {
    let mut corpus = Vec::new();
    let mut sdps = Vec::new();
    for encryption in [Encryption::Required, Encryption::Optional, Encryption::Off] {
        let caps = Capabilities { srtp: SrtpPolicy { encryption, ..SrtpPolicy::default() }, ..Capabilities::default() };
        sdps.push(sdp::offer(1, caps, &local()).unwrap().to_text());
    }
    sdps.push(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=baresip\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio 10000 RTP/SAVP 96\r\na=rtpmap:96 opus/48000/2\r\na=fmtp:96 stereo=1\r\n\
         a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n\
         a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^31\r\n\
         m=video 10002 RTP/SAVP 97\r\na=rtpmap:97 H264/90000\r\na=fmtp:97 packetization-mode=1\r\n\
         a=rtcp-fb:* nack pli\r\na=crypto:1 AEAD_AES_128_GCM inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0m\r\n"
            .into(),
    );
    for sdp in &sdps {
        corpus.push(invite(sdp));
    }
    let dialog = "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKf2\r\nFrom: <sip:bergen@127.0.0.1:5062>;tag=77\r\n\
                  To: <sip:oslo@127.0.0.1:5060>;tag=88\r\nCall-ID: fuzz-1@127.0.0.1\r\n";
    for (start, cseq) in [("ACK sip:oslo@127.0.0.1:5060", "1 ACK"), ("BYE sip:oslo@127.0.0.1:5060", "2 BYE")] {
        corpus.push(format!("{start} SIP/2.0\r\n{dialog}CSeq: {cseq}\r\nContent-Length: 0\r\n\r\n"));
    }
    corpus.push(format!("CANCEL sip:oslo@127.0.0.1:5060 SIP/2.0\r\n{dialog}CSeq: 1 CANCEL\r\n\r\n"));
    corpus.push(format!("OPTIONS sip:oslo@127.0.0.1:5060 SIP/2.0\r\n{dialog}CSeq: 3 OPTIONS\r\n\r\n"));
    for status in ["100 Trying", "180 Ringing", "486 Busy Here (meeting full)", "488 Not Acceptable Here (SRTP)"] {
        corpus.push(format!("SIP/2.0 {status}\r\n{dialog}CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"));
    }
    corpus.push(format!(
        "SIP/2.0 200 OK\r\n{dialog}CSeq: 1 INVITE\r\nContact: <sip:bergen@127.0.0.1:5062>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{}",
        sdps[0].len(),
        sdps[0]
    ));
    corpus
}

fn core() -> Meeting {
    let cfg = MeetingConfig {
        room: "oslo".into(),
        sip_port: 5060,
        tls_port: None,
        peers: vec!["sip:bergen@127.0.0.1:5062".parse().unwrap()],
        allow: AllowList::Anyone,
        auto_answer: true,
        max_places: 4,
        caps: Capabilities::default(),
        allow_media_elsewhere: false,
        keys_only_over_tls: false,
        max_guests: 2,
        timing: Timing::default(),
        seed: 1,
    };
    Meeting::new(cfg, Instant::now())
}

/// A meeting core that takes every parsed message, gets its media ports at once and is
/// drained after each input.
fn feed(core: &mut Meeting, now: Instant, from: SipAddr, message: SipMessage) {
    core.handle_input(now, Input::SipReceived { from, message });
    while let Some(out) = core.poll_output() {
        if let roombox::meeting::Output::PrepareMedia { leg, .. } = out {
            core.handle_input(now, Input::MediaPrepared { leg, local: local() });
        }
    }
    core.handle_timeout(now);
    while core.poll_output().is_some() {}
}

fn each_mutation(corpus: &[Vec<u8>], seed: u64, count: usize, mut check: impl FnMut(&[u8])) {
    let mut rng = Rng(seed);
    let mut slowest = Duration::ZERO;
    for _ in 0..count {
        let input = mutate(&corpus[rng.below(corpus.len())], &mut rng);
        let start = Instant::now();
        check(&input);
        slowest = slowest.max(start.elapsed());
    }
    assert!(slowest < Duration::from_secs(1), "one input took {slowest:?}");
}

#[test]
fn mutated_sip_and_sdp_never_panic_the_parsers_or_the_meeting_core() {
    let corpus: Vec<Vec<u8>> = sip_corpus().into_iter().map(String::into_bytes).collect();
    let mut core = core();
    let (mut now, from) = (Instant::now(), "127.0.0.1:5062".parse().unwrap());
    let (mut parsed, mut answered) = (0, 0);
    each_mutation(&corpus, 0x51f_2024, INPUTS * 6 / 10, |input| {
        now += Duration::from_millis(40);
        let Ok(message) = SipMessage::parse(input) else { return };
        parsed += 1;
        if let SipMessage::Request(r) = &message
            && let Ok(offer) = SessionDescription::parse(&r.body)
            && sdp::answer(&offer, 2, Capabilities::default(), &local()).is_ok()
        {
            answered += 1;
        }
        let _ = message.to_string();
        feed(&mut core, now, from, message);
    });
    eprintln!("{parsed} of {} mutated SIP messages parsed, {answered} offers answered", INPUTS * 6 / 10);
    assert!(parsed > 1000 && answered > 100, "the mutations must reach past the parser: {parsed}, {answered}");
}

#[test]
fn mutated_configs_and_control_requests_never_panic() {
    let config = include_str!("../systemd/roombox.toml").as_bytes().to_vec();
    let corpus = vec![config, b"[call]\npeers = [\"sip:b@127.0.0.1:5062\"]\nencryption = \"optional\"\n".to_vec()];
    let mut loaded = 0;
    each_mutation(&corpus, 0xc0f1, INPUTS * 2 / 10, |input| {
        if let Ok(text) = std::str::from_utf8(input) {
            loaded += usize::from(Config::parse(text, "fuzz.toml").is_ok());
        }
    });
    assert!(loaded > 100, "some mutated configs still load: {loaded}");

    let requests = ["press", "status", "snapshot", "latency", "mute"]
        .iter()
        .map(|c| format!("{{\"cmd\": \"{c}\"}}").into_bytes())
        .chain([b"{\"cmd\": \"leave\", \"peer\": \"sip:b@127.0.0.1\"}".to_vec()])
        .collect::<Vec<_>>();
    each_mutation(&requests, 0xc7, INPUTS * 2 / 10, |input| {
        let _ = serde_json::from_slice::<ControlRequest>(input);
    });
}

/// A browser's offer as Chromium writes it (trimmed), the seed of the guest mutations.
const BROWSER_OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
    a=group:BUNDLE 0 1\r\na=msid-semantic: WMS\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9\r\nc=IN IP4 0.0.0.0\r\n\
    a=rtcp:9 IN IP4 0.0.0.0\r\na=candidate:1 1 udp 2122260223 203.0.113.2 51000 typ host generation 0\r\n\
    a=candidate:2 1 udp 2122260223 4b1a-77.local 51001 typ host generation 0\r\na=ice-ufrag:abcd\r\n\
    a=ice-pwd:0123456789abcdefghijklmn\r\na=fingerprint:sha-256 00:11:22\r\na=setup:actpass\r\na=mid:0\r\n\
    a=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
    a=rtpmap:63 red/48000/2\r\na=rtpmap:9 G722/8000\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 102 106\r\n\
    c=IN IP4 0.0.0.0\r\na=mid:1\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\n\
    a=rtpmap:102 H264/90000\r\na=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n\
    a=rtpmap:106 H264/90000\r\na=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n";

#[test]
fn mutated_guest_offers_and_requests_never_panic() {
    use roombox::guests::whip;
    use roombox::media::webrtc_offer::read_offer;
    let corpus = vec![
        BROWSER_OFFER.as_bytes().to_vec(),
        b"DELETE /whip/00ff11 Bearer 482913 Ingrid%20Berg%C3%A5s /whip?name=Ola+N".to_vec(),
    ];
    let mut taken = 0;
    each_mutation(&corpus, 0x9e57_2026, INPUTS / 10, |input| {
        let text = String::from_utf8_lossy(input);
        if read_offer(&text).is_ok_and(|o| o.codecs.video.is_some() || o.codecs.audio.is_some()) {
            taken += 1;
        }
        let mut words = text.split(' ');
        let (method, path) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
        let _ = whip::route(method, path);
        let _ = whip::bearer(Some(&text));
        assert!(whip::guest_name(Some(&text), path).chars().count() <= whip::MAX_NAME);
    });
    assert!(taken > 100, "the mutations must reach the offer reader: {taken}");
}
