use super::*;
use crate::sdp::Feedback;

pub(in crate::sdp) fn local(base: u16) -> LocalMedia {
    LocalMedia {
        ip: "127.0.0.1".parse().unwrap(),
        video_rtp: base,
        video_rtcp: base + 1,
        audio_rtp: base + 2,
        audio_rtcp: base + 3,
    }
}

/// A room that takes plain-RTP offers (the offers in these tests carry no keys).
fn accepts_plain() -> Capabilities {
    Capabilities {
        srtp: SrtpPolicy { encryption: crate::sdp::Encryption::Optional, ..SrtpPolicy::default() },
        ..Default::default()
    }
}

#[test]
fn our_offer_survives_print_and_parse_and_is_answered_in_full() {
    let offer = offer(42, Capabilities::default(), &local(20000)).unwrap();
    let text = offer.to_text();
    assert!(text.contains("a=rtpmap:96 H264/90000"), "{text}");
    assert!(text.contains("packetization-mode=1"), "{text}");
    assert!(text.contains("a=rtpmap:111 opus/48000/2"), "{text}");
    let parsed = SessionDescription::parse(&text).unwrap();
    assert_eq!(parsed, offer);

    let (answer, negotiated) = answer(&parsed, 7, Capabilities::default(), &local(30000)).unwrap();
    let video = negotiated.video.unwrap();
    assert_eq!(
        (video.pt, video.codec.as_str(), video.remote_rtp_port, video.remote_rtcp_port),
        (96, "H264/90000", 20000, 20001)
    );
    assert_eq!(negotiated.audio.unwrap().codec, "opus/48000/2");

    let back = read_answer(&offer, &SessionDescription::parse(&answer.to_text()).unwrap()).unwrap();
    assert_eq!(back.video.unwrap().remote_rtp_port, 30000);
    assert_eq!(back.audio.unwrap().remote_rtcp_port, 30003);
}

const LINPHONE_LIKE: &str = "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=call\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n\
m=audio 7078 RTP/AVP 96 0 8\r\na=rtpmap:96 opus/48000/2\r\n\
m=video 9078 RTP/AVP 97 98\r\na=rtpmap:97 H264/90000\r\na=fmtp:97 profile-level-id=42801F\r\n\
a=rtpmap:98 H264/90000\r\na=fmtp:98 profile-level-id=42801F;packetization-mode=1\r\na=rtcp-mux\r\n";

#[test]
fn answer_takes_the_offerers_payload_type_with_packetization_mode_1() {
    let offer = SessionDescription::parse(LINPHONE_LIKE).unwrap();
    let (answer, negotiated) = answer(&offer, 1, accepts_plain(), &local(40000)).unwrap();
    let video = negotiated.video.unwrap();
    assert_eq!(video.pt, 98, "mode 0 (pt 97) must be skipped");
    assert_eq!(video.remote_rtcp_port, 9078, "rtcp-mux without a=rtcp sends RTCP to the RTP port");
    assert_eq!(negotiated.audio.unwrap().pt, 96);
    assert_eq!(answer.media[1].formats[0].pt, 98);
    assert!(answer.to_text().contains("a=rtpmap:98 H264/90000"));
}

#[test]
fn offer_without_a_common_codec_is_refused() {
    let pcmu_only = "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 7078 RTP/AVP 0\r\nm=video 9078 RTP/AVP 31\r\n";
    let offer = SessionDescription::parse(pcmu_only).unwrap();
    let err = answer(&offer, 1, Capabilities::default(), &local(40000)).unwrap_err();
    assert!(matches!(err, SdpError::NoCommonCodec { .. }));
    assert!(err.to_string().contains("PCMU/8000"), "{err}");
}

#[test]
fn unsupported_lines_are_rejected_with_port_zero_but_kept_in_order() {
    let text = "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n\
                m=application 5000 UDP/BFCP *\r\nm=audio 7078 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n";
    let offer = SessionDescription::parse(text).unwrap();
    let (answer, negotiated) = answer(&offer, 1, accepts_plain(), &local(40000)).unwrap();
    assert_eq!(answer.media.len(), 2);
    assert!(answer.media[0].rejected());
    assert_eq!(answer.media[1].port, 40002);
    assert!(negotiated.video.is_none());
}

#[test]
fn an_answer_that_changes_the_codec_is_an_error() {
    let ours = offer(1, Capabilities::default(), &local(20000)).unwrap();
    let mut theirs = ours.clone();
    theirs.media[1].formats[0].encoding = "VP8".into();
    assert!(matches!(read_answer(&ours, &theirs), Err(SdpError::AnswerMismatch(_))));
}

#[test]
fn garbage_is_not_sdp() {
    assert!(SessionDescription::parse("hello world").is_err());
    assert!(SessionDescription::parse("").is_err());
}

#[test]
fn two_rooms_agree_on_nack_pli_fir_and_rtx_for_video_only() {
    let ours = offer(1, Capabilities::default(), &local(20000)).unwrap();
    let text = ours.to_text();
    for line in ["a=rtcp-fb:96 nack\r\n", "a=rtcp-fb:96 nack pli\r\n", "a=rtcp-fb:96 ccm fir\r\n"] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    assert!(text.contains("a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96"), "{text}");
    let (reply, negotiated) =
        answer(&SessionDescription::parse(&text).unwrap(), 2, Capabilities::default(), &local(30000)).unwrap();
    let video = negotiated.video.unwrap();
    assert_eq!((video.feedback, video.rtx_pt), (Feedback::ALL, Some(97)));
    assert_eq!((negotiated.audio.unwrap().feedback, None), (Feedback::default(), None::<u8>));
    let back = read_answer(&ours, &SessionDescription::parse(&reply.to_text()).unwrap()).unwrap();
    assert_eq!(back.video.map(|v| (v.feedback, v.rtx_pt)), Some((Feedback::ALL, Some(97))));
}

#[test]
fn a_peer_without_feedback_gets_none_in_the_answer_and_no_rtx() {
    let offer = SessionDescription::parse(LINPHONE_LIKE).unwrap();
    let (reply, negotiated) = answer(&offer, 1, accepts_plain(), &local(40000)).unwrap();
    let video = negotiated.video.unwrap();
    assert_eq!((video.feedback, video.rtx_pt), (Feedback::default(), None));
    let text = reply.to_text();
    assert!(!text.contains("rtcp-fb") && !text.contains("rtx"), "{text}");
}

#[test]
fn wildcard_feedback_counts_and_rtx_without_nack_is_declined() {
    let text = "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n\
                m=video 9078 RTP/AVPF 100 101\r\na=rtpmap:100 H264/90000\r\na=fmtp:100 packetization-mode=1\r\n\
                a=rtcp-fb:* nack pli\r\na=rtcp-fb:100 goog-remb\r\na=rtpmap:101 rtx/90000\r\na=fmtp:101 apt=100\r\n";
    let (reply, negotiated) =
        answer(&SessionDescription::parse(text).unwrap(), 1, accepts_plain(), &local(40000)).unwrap();
    let video = negotiated.video.unwrap();
    assert_eq!(video.feedback, Feedback { nack: false, pli: true, fir: false });
    assert_eq!(video.rtx_pt, None, "retransmission needs NACK");
    let reply = reply.to_text();
    assert!(reply.contains("m=video 40000 RTP/AVPF 100\r\n") && reply.contains("a=rtcp-fb:100 nack pli"), "{reply}");
}

#[test]
fn an_answer_that_drops_rtx_leaves_nack_without_retransmission() {
    let ours = offer(1, Capabilities::default(), &local(20000)).unwrap();
    let mut theirs = ours.clone();
    theirs.media[1].formats.truncate(1);
    theirs.media[1].formats[0].feedback = vec!["nack".into()];
    let video = read_answer(&ours, &theirs).unwrap().video.unwrap();
    assert_eq!((video.feedback, video.rtx_pt), (Feedback { nack: true, pli: false, fir: false }, None));
}
