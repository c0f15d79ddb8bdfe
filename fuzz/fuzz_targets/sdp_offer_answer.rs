//! Any SDP body as an offer: parse, answer (each encryption policy), and read our answer back
//! as if we had made the offer; nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roombox::sdp::{self, Capabilities, Encryption, LocalMedia, SessionDescription, SrtpPolicy};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(offer) = SessionDescription::parse(text) else { return };
    let local = LocalMedia { ip: [127, 0, 0, 1].into(), video_rtp: 4000, video_rtcp: 4001, audio_rtp: 4002, audio_rtcp: 4003 };
    for encryption in [Encryption::Required, Encryption::Optional, Encryption::Off] {
        let caps = Capabilities { srtp: SrtpPolicy { encryption, ..SrtpPolicy::default() }, ..Capabilities::default() };
        if let Ok((answer, _)) = sdp::answer(&offer, 1, caps, &local) {
            let _ = sdp::read_answer(&offer, &answer);
            let _ = SessionDescription::parse(&answer.to_text());
        }
    }
});
