//! Offer/answer with SDES-SRTP under each encryption policy, through printed and parsed SDP.

use super::*;
use crate::sdp::negotiate::tests::local;
use crate::sdp::{Capabilities, Encryption, SdpError, SessionDescription, answer, offer, read_answer};

fn room(encryption: Encryption, suites: &[SrtpSuite]) -> Capabilities {
    Capabilities { srtp: SrtpPolicy::with_suites(encryption, suites), ..Default::default() }
}

fn reparse(sdp: &SessionDescription) -> SessionDescription {
    SessionDescription::parse(&sdp.to_text()).unwrap()
}

#[test]
fn two_rooms_agree_on_gcm_and_each_decrypts_with_the_others_send_key() {
    let caps = Capabilities::default();
    let ours = offer(1, caps, &local(20000)).unwrap();
    let text = ours.to_text();
    assert!(text.contains("m=video 20000 RTP/SAVP 96 97"), "{text}");
    assert!(text.contains("a=crypto:1 AEAD_AES_128_GCM inline:"), "{text}");
    assert!(text.contains("a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:"), "{text}");
    let (reply, theirs) = answer(&reparse(&ours), 2, caps, &local(30000)).unwrap();
    assert!(reply.to_text().contains("RTP/SAVP"));
    let back = read_answer(&ours, &reparse(&reply)).unwrap();
    for (a, b) in [(back.video, theirs.video), (back.audio, theirs.audio)] {
        let (a, b) = (a.unwrap().srtp.unwrap(), b.unwrap().srtp.unwrap());
        assert_eq!((a.suite, b.suite), (SrtpSuite::AeadAes128Gcm, SrtpSuite::AeadAes128Gcm));
        assert_eq!(a.send, b.receive, "what the offerer sends, the answerer decrypts");
        assert_eq!(a.receive, b.send);
        assert_ne!(a.send, a.receive, "each side has its own key");
    }
}

#[test]
fn the_answerer_picks_its_preferred_suite_among_those_offered() {
    let ours = offer(1, Capabilities::default(), &local(20000)).unwrap();
    let cm_only = room(Encryption::Required, &[SrtpSuite::AesCm128HmacSha1_80]);
    let (reply, negotiated) = answer(&reparse(&ours), 2, cm_only, &local(30000)).unwrap();
    assert_eq!(negotiated.video.unwrap().srtp_suite(), Some(SrtpSuite::AesCm128HmacSha1_80));
    assert!(reply.to_text().contains("a=crypto:2 AES_CM_128_HMAC_SHA1_80"), "the offer's tag is kept");
    let back = read_answer(&ours, &reparse(&reply)).unwrap();
    assert_eq!(back.audio.unwrap().srtp_suite(), Some(SrtpSuite::AesCm128HmacSha1_80));
}

#[test]
fn a_room_that_requires_encryption_refuses_a_plain_offer() {
    let plain = offer(1, room(Encryption::Off, &[]), &local(20000)).unwrap();
    assert!(!plain.to_text().contains("a=crypto") && plain.to_text().contains("RTP/AVP"));
    let err = answer(&reparse(&plain), 2, Capabilities::default(), &local(30000)).unwrap_err();
    assert!(err.is_about_encryption(), "{err}");
    assert!(err.to_string().contains("requires encryption"), "{err}");
}

#[test]
fn an_optional_room_takes_plain_and_encrypts_when_offered_keys() {
    let optional = room(Encryption::Optional, &SrtpSuite::ALL);
    let plain = offer(1, room(Encryption::Off, &[]), &local(20000)).unwrap();
    let (_, negotiated) = answer(&reparse(&plain), 2, optional, &local(30000)).unwrap();
    assert_eq!(negotiated.video.unwrap().srtp, None);
    // Its own offer is best effort: RTP/AVP with keys, which a required room accepts.
    let best_effort = offer(1, optional, &local(20000)).unwrap();
    assert!(best_effort.to_text().contains("RTP/AVP") && best_effort.to_text().contains("a=crypto:1"));
    let (reply, negotiated) = answer(&reparse(&best_effort), 2, Capabilities::default(), &local(30000)).unwrap();
    assert!(negotiated.audio.unwrap().srtp.is_some());
    assert!(read_answer(&best_effort, &reparse(&reply)).unwrap().video.unwrap().srtp.is_some());
    // A plain answer to it is accepted; a plain answer to a required offer is not.
    let (plain_reply, _) = answer(&reparse(&best_effort), 2, room(Encryption::Off, &[]), &local(30000)).unwrap();
    assert_eq!(read_answer(&best_effort, &reparse(&plain_reply)).unwrap().video.unwrap().srtp, None);
    let required = offer(1, Capabilities::default(), &local(20000)).unwrap();
    let mut stripped = reparse(&reply);
    for m in &mut stripped.media {
        m.crypto.clear();
    }
    let err = read_answer(&required, &stripped).unwrap_err();
    assert!(matches!(err, SdpError::Encryption(_)), "{err}");
}

#[test]
fn a_room_with_encryption_off_refuses_an_srtp_only_offer() {
    let required = offer(1, Capabilities::default(), &local(20000)).unwrap();
    let err = answer(&reparse(&required), 2, room(Encryption::Off, &[]), &local(30000)).unwrap_err();
    assert!(err.to_string().contains("encryption = \"off\""), "{err}");
}

#[test]
fn no_suite_in_common_names_what_the_peer_offered() {
    let text = "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n\
        m=audio 7078 RTP/SAVP 111\r\na=rtpmap:111 opus/48000/2\r\n\
        a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n";
    let err = answer(&SessionDescription::parse(text).unwrap(), 2, Capabilities::default(), &local(30000)).unwrap_err();
    assert!(err.to_string().contains("AES_CM_128_HMAC_SHA1_32"), "{err}");
    assert!(err.to_string().contains("AEAD_AES_128_GCM"), "{err}");
}

#[test]
fn an_answer_with_a_tag_we_never_offered_is_an_error() {
    let ours = offer(1, Capabilities::default(), &local(20000)).unwrap();
    let (reply, _) = answer(&reparse(&ours), 2, Capabilities::default(), &local(30000)).unwrap();
    let mut forged = reparse(&reply);
    forged.media[0].crypto[0].tag = 9;
    assert!(read_answer(&ours, &forged).unwrap_err().to_string().contains("tag 9"));
}

#[test]
fn printed_sdp_carries_keys_but_debug_output_does_not() {
    let ours = offer(1, Capabilities::default(), &local(20000)).unwrap();
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, ours.media[0].crypto[0].key.bytes());
    assert!(ours.to_text().contains(&key));
    assert!(!format!("{ours:?}").contains(&key), "Debug of an SDP must not print its keys");
}
