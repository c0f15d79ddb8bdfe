//! Two-place behaviour of the meeting core: what a call between two rooms always did.

use std::time::Duration;

use super::test_net::{Net, config};
use super::*;
use crate::sdp::LocalMedia;
use crate::sip::{Method, SipAddr, SipMessage};

pub(super) fn in_call() -> Net {
    let mut net = Net::two_rooms();
    net.press(0);
    net.press(1);
    assert_eq!((net.state(0), net.state(1)), (RoomState::InCall, RoomState::InCall));
    net
}

#[test]
fn press_while_idle_rings_the_peer_and_its_press_answers() {
    let mut net = Net::two_rooms();
    net.press(0);
    assert_eq!((net.state(0), net.state(1)), (RoomState::Dialing, RoomState::Ringing));
    assert_eq!((net.led(0), net.led(1)), (LedPattern::SlowBlink, LedPattern::SlowBlink));
    assert!(net.sent_status(1, 180));
    net.press(1);
    assert_eq!((net.state(0), net.state(1)), (RoomState::InCall, RoomState::InCall));
    assert_eq!((net.led(0), net.led(1)), (LedPattern::Solid, LedPattern::Solid));
    let (a, b) = (&net.rooms[0].started[0].1, &net.rooms[1].started[0].1);
    assert_eq!(a.video.as_ref().unwrap().remote_rtp_port, 50620, "A sends video to B's port");
    assert_eq!(b.video.as_ref().unwrap().remote_rtp_port, 50610, "B sends video to A's port");
    assert_eq!(a.audio.as_ref().unwrap().codec, "opus/48000/2");
    assert_eq!(net.sent_request(0, Method::Ack), 1);
}

#[test]
fn auto_answer_takes_the_call_without_a_press() {
    let mut net =
        Net::new(vec![config("a", 5061, &[5062]), MeetingConfig { auto_answer: true, ..config("b", 5062, &[5061]) }]);
    net.press(0);
    assert_eq!((net.state(0), net.state(1)), (RoomState::InCall, RoomState::InCall));
}

#[test]
fn press_while_in_call_leaves_and_the_peer_follows() {
    let mut net = in_call();
    net.press(0);
    assert_eq!((net.state(0), net.state(1)), (RoomState::Idle, RoomState::Idle));
    assert_eq!((net.led(0), net.led(1)), (LedPattern::Off, LedPattern::Off));
    assert_eq!(net.rooms[0].released, vec![LegId(1)]);
    assert_eq!(net.rooms[1].released, vec![LegId(1)]);
    assert!(net.rooms[1].logs.iter().any(|l| l.contains("left the call")));
    assert_eq!(net.error(0), None);
}

#[test]
fn press_while_dialing_cancels_the_ringing_peer() {
    let mut net = Net::two_rooms();
    net.press(0);
    net.press(0);
    assert_eq!(net.sent_request(0, Method::Cancel), 1);
    assert!(net.sent_status(1, 487));
    assert_eq!((net.state(0), net.state(1)), (RoomState::Idle, RoomState::Idle));
    assert_eq!(net.led(0), LedPattern::Off, "hanging up yourself is not an error");
}

#[test]
fn press_while_ringing_after_the_caller_gave_up_does_nothing_wrong() {
    let mut net = Net::two_rooms();
    net.press(0);
    net.press(0);
    net.press(1);
    assert_eq!(net.state(1), RoomState::Dialing, "B is idle again, so its press dials A");
}

#[test]
fn a_peer_that_is_down_makes_the_caller_give_up_with_an_error_led() {
    let mut net = Net::two_rooms();
    net.down = vec![1];
    net.press(0);
    net.advance(Duration::from_secs(9));
    assert_eq!(net.state(0), RoomState::Dialing);
    assert!(net.sent_request(0, Method::Invite) >= 4, "INVITE is retransmitted");
    net.advance(Duration::from_secs(1));
    assert_eq!(net.state(0), RoomState::Idle);
    assert_eq!(net.led(0), LedPattern::FastBlink);
    assert!(net.error(0).unwrap().contains("did not answer"), "{:?}", net.error(0));
    assert_eq!(net.rooms[0].released, vec![LegId(1)]);
    net.advance(Duration::from_secs(10));
    assert_eq!(net.led(0), LedPattern::Off, "the error LED times out");
}

#[test]
fn a_lost_invite_is_retransmitted_and_the_call_still_connects() {
    let mut net = Net::two_rooms();
    net.drop_next = 1;
    net.press(0);
    assert_eq!(net.state(1), RoomState::Idle);
    net.advance(Duration::from_millis(500));
    assert_eq!(net.state(1), RoomState::Ringing);
    net.press(1);
    assert_eq!(net.state(0), RoomState::InCall);
}

#[test]
fn a_third_room_calling_a_room_that_takes_two_places_hears_busy() {
    let b = MeetingConfig { max_places: 2, ..config("b", 5062, &[5061, 5063]) };
    let mut net = Net::new(vec![config("a", 5061, &[5062]), b, config("c", 5063, &[5062])]);
    net.press(0);
    net.press(1);
    net.press(2);
    assert!(net.sent_status(1, 486));
    assert_eq!(net.state(2), RoomState::Idle);
    assert!(net.error(2).unwrap().contains("busy"));
    assert_eq!(net.state(1), RoomState::InCall, "the ongoing call is untouched");
}

#[test]
fn a_caller_not_on_the_allow_list_is_refused() {
    let mut net = Net::new(vec![config("a", 5061, &[5062]), config("b", 5062, &[5061]), config("c", 5063, &[5062])]);
    net.press(2);
    assert!(net.sent_status(1, 403));
    assert_eq!(net.state(1), RoomState::Idle);
    assert!(net.rooms[1].logs.iter().any(|l| l.contains("not on the allow list")));
    assert!(net.error(2).unwrap().contains("allow list"));
    assert_eq!(net.led(2), LedPattern::FastBlink);
}

#[test]
fn an_offer_without_a_common_codec_gets_488() {
    let mut net = Net::two_rooms();
    let invite = "INVITE sip:b@127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKx\r\n\
        From: <sip:a@127.0.0.1:5061>;tag=1\r\nTo: <sip:b@127.0.0.1:5062>\r\nCall-ID: pcmu\r\nCSeq: 1 INVITE\r\n\
        Content-Type: application/sdp\r\n\r\nv=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let message = SipMessage::parse(invite.as_bytes()).unwrap();
    net.input(1, Input::SipReceived { from: "127.0.0.1:5061".parse().unwrap(), message });
    assert!(net.sent_status(1, 488));
    assert_eq!(net.state(1), RoomState::Idle);
}

#[test]
fn a_remote_bye_returns_the_room_to_idle() {
    let mut net = in_call();
    net.press(1);
    assert_eq!(net.state(0), RoomState::Idle);
    assert_eq!(net.led(0), LedPattern::Off);
}

#[test]
fn a_peer_that_vanishes_mid_call_ends_it_with_an_error() {
    let mut net = in_call();
    net.advance(Duration::from_secs(30));
    assert_eq!(net.state(0), RoomState::InCall, "keep-alives are answered");
    net.down = vec![1];
    net.advance(Duration::from_secs(21));
    assert!(net.error(0).unwrap().contains("lost contact"));
    assert_eq!(net.led(0), LedPattern::FastBlink);
    assert_ne!(net.state(0), RoomState::InCall);
    net.advance(Duration::from_secs(4));
    assert_eq!(net.state(0), RoomState::Idle);
}

#[test]
fn an_unanswered_incoming_call_stops_ringing() {
    let mut net = Net::two_rooms();
    net.press(0);
    net.advance(Duration::from_secs(46));
    assert!(net.sent_status(1, 487) || net.sent_status(1, 480));
    assert_eq!((net.state(0), net.state(1)), (RoomState::Idle, RoomState::Idle));
    assert!(net.error(0).unwrap().contains("nobody answered"), "{:?} {:?}", net.error(0), net.rooms[0].logs);
}

#[test]
fn long_press_toggles_mute_and_the_led_says_so() {
    let mut net = in_call();
    net.input(0, Input::Button(Gesture::LongPress));
    assert_eq!(net.led(0), LedPattern::Muted);
    assert!(net.rooms[0].core.status(net.now).muted);
    net.input(0, Input::Button(Gesture::LongPress));
    assert_eq!(net.led(0), LedPattern::Solid);
}

#[test]
fn hanging_up_while_ports_are_being_bound_releases_them() {
    let mut net = Net::two_rooms();
    net.prepare_answers = false;
    net.press(0);
    net.press(0);
    assert_eq!(net.state(0), RoomState::Idle);
    let local = LocalMedia { ip: [127, 0, 0, 1].into(), video_rtp: 1, video_rtcp: 2, audio_rtp: 3, audio_rtcp: 4 };
    net.rooms[0].released.clear();
    net.input(0, Input::MediaPrepared { leg: LegId(1), local });
    assert_eq!(net.rooms[0].released, vec![LegId(1)]);
    assert_eq!(net.sent_request(0, Method::Invite), 0);
}

#[test]
fn media_failure_in_a_call_hangs_up_with_the_reason() {
    let mut net = in_call();
    net.input(0, Input::MediaFailed { leg: LegId(1), reason: "encoder died".into() });
    assert_eq!((net.state(0), net.state(1)), (RoomState::Idle, RoomState::Idle));
    assert!(net.error(0).unwrap().contains("encoder died"));
}

#[test]
fn joining_with_no_peer_configured_explains_what_to_add() {
    let mut net = Net::new(vec![config("a", 5061, &[])]);
    net.press(0);
    assert_eq!(net.state(0), RoomState::Idle);
    assert!(net.error(0).unwrap().contains("peers ="));
}

#[test]
fn stray_bye_gets_481_and_options_gets_200() {
    let mut net = Net::two_rooms();
    let bye = "BYE sip:b@127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKy\r\n\
        From: <sip:a@127.0.0.1:5061>;tag=1\r\nTo: <sip:b@127.0.0.1:5062>;tag=2\r\nCall-ID: nope\r\nCSeq: 2 BYE\r\n\r\n";
    let from: SipAddr = "127.0.0.1:5061".parse().unwrap();
    net.input(1, Input::SipReceived { from, message: SipMessage::parse(bye.as_bytes()).unwrap() });
    assert!(net.sent_status(1, 481));
    let options = bye.replace("BYE", "OPTIONS").replace("2 OPTIONS", "3 OPTIONS");
    net.input(1, Input::SipReceived { from, message: SipMessage::parse(options.as_bytes()).unwrap() });
    assert!(net.sent_status(1, 200));
    assert_eq!(net.state(1), RoomState::Idle);
}

#[test]
fn a_reload_waits_for_the_call_to_end_and_keeps_mute() {
    let mut net = in_call();
    let new = config("a", 5061, &[5099]);
    assert!(!net.rooms[0].core.reconfigure(new.clone()), "an ongoing call keeps its configuration");
    assert_eq!(net.state(0), RoomState::InCall, "the reload did not drop the call");
    net.input(0, Input::Command(Command::Mute));
    net.press(0);
    net.settle();
    assert_eq!(net.state(0), RoomState::Idle);
    assert!(net.rooms[0].core.reconfigure(new), "applies once idle");
    assert!(net.rooms[0].core.status(net.now).muted, "mute survives the reload");
    net.press(0);
    net.settle();
    let invite = net.rooms[0]
        .sent
        .iter()
        .rev()
        .find(|m| matches!(m, SipMessage::Request(r) if r.method == Method::Invite))
        .expect("an INVITE");
    assert!(invite.to_string().contains("127.0.0.1:5099"), "the button now calls the new peer");
}

#[test]
fn media_goes_to_the_sip_peer_even_when_its_sdp_names_another_host() {
    let b = MeetingConfig { auto_answer: true, ..config("b", 5062, &[5061]) };
    let mut net = Net::new(vec![config("a", 5061, &[5062]), b]);
    let elsewhere = LocalMedia {
        ip: "198.51.100.9".parse().unwrap(),
        video_rtp: 4000,
        video_rtcp: 4001,
        audio_rtp: 4002,
        audio_rtcp: 4003,
    };
    let sdp = crate::sdp::offer(1, Default::default(), &elsewhere).unwrap().to_text();
    let invite = format!(
        "INVITE sip:b@127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKr\r\n\
         From: <sip:a@127.0.0.1:5061>;tag=1\r\nTo: <sip:b@127.0.0.1:5062>\r\nCall-ID: reflect\r\nCSeq: 1 INVITE\r\n\
         Contact: <sip:a@127.0.0.1:5061>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    let message = SipMessage::parse(invite.as_bytes()).unwrap();
    net.input(1, Input::SipReceived { from: "127.0.0.1:5061".parse().unwrap(), message });
    let ack = "ACK sip:b@127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKs\r\n\
        From: <sip:a@127.0.0.1:5061>;tag=1\r\nTo: <sip:b@127.0.0.1:5062>\r\nCall-ID: reflect\r\nCSeq: 1 ACK\r\n\r\n";
    net.input(
        1,
        Input::SipReceived {
            from: "127.0.0.1:5061".parse().unwrap(),
            message: SipMessage::parse(ack.as_bytes()).unwrap(),
        },
    );
    let (_, negotiated) = net.rooms[1].started.first().expect("the call started").clone();
    for stream in [negotiated.video.unwrap(), negotiated.audio.unwrap()] {
        assert_eq!(stream.remote_ip.to_string(), "127.0.0.1", "never at the host the SDP named");
    }
    assert!(
        net.rooms[1].logs.iter().any(|l| l.contains("not at its own address 127.0.0.1")),
        "{:?}",
        net.rooms[1].logs
    );
}

#[test]
fn a_hardened_room_sends_and_takes_srtp_keys_only_inside_tls() {
    let hardened = |c: MeetingConfig| MeetingConfig { keys_only_over_tls: true, ..c };
    let mut net = Net::new(vec![config("a", 5061, &[5062]), hardened(config("b", 5062, &[5061]))]);
    net.press(0);
    assert!(net.sent_status(1, 488), "b refuses keys that came over UDP");
    assert!(net.rooms[1].logs.iter().any(|l| l.contains("keys_only_over_tls")), "{:?}", net.rooms[1].logs);
    let mut net = Net::new(vec![hardened(config("a", 5061, &[5062])), config("b", 5062, &[5061])]);
    net.press(0);
    assert_eq!(net.sent_request(0, Method::Invite), 0, "a does not put its keys on UDP");
    assert!(net.error(0).is_some_and(|e| e.contains("sips:")), "{:?}", net.error(0));
}
