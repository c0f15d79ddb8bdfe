//! In-dialog requests from anyone but the dialog's owner get 481 and change nothing.

use crate::sip::SipAddr;

use super::RoomState;
use super::test_net::Net;
use super::tests::in_call;
use super::*;
use crate::sip::SipMessage;

/// A request in the call between rooms 0 (caller) and 1, as room 0 would word it, with the
/// tags and CSeq given (`None`: the real ones).
fn in_dialog(net: &Net, method: &str, cseq: u32, from_tag: Option<&str>, to_tag: Option<&str>) -> SipMessage {
    let dialog = net.rooms[0].core.legs.values().next().and_then(|l| l.dialog.clone()).unwrap();
    let (ours, theirs) = (dialog.local.tag.unwrap(), dialog.remote.tag.unwrap());
    let text = format!(
        "{method} sip:b@127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKspoof{cseq}\r\n\
         From: <sip:a@127.0.0.1:5061>;tag={}\r\nTo: <sip:b@127.0.0.1:5062>;tag={}\r\nCall-ID: {}\r\n\
         CSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n",
        from_tag.unwrap_or(&ours),
        to_tag.unwrap_or(&theirs),
        dialog.call_id
    );
    SipMessage::parse(text.as_bytes()).unwrap()
}

fn deliver(net: &mut Net, from: &str, message: SipMessage) {
    let from: SipAddr = from.parse().unwrap();
    net.input(1, Input::SipReceived { from, message });
}

#[test]
fn a_bye_from_another_address_or_with_wrong_tags_or_an_old_cseq_gets_481_and_the_call_goes_on() {
    let mut net = in_call();
    let attempts = [
        ("127.0.0.1:6666", in_dialog(&net, "BYE", 9, None, None)),
        ("127.0.0.1:5061", in_dialog(&net, "BYE", 9, Some("guessed"), None)),
        ("127.0.0.1:5061", in_dialog(&net, "BYE", 9, None, Some("guessed"))),
        ("127.0.0.1:5061", in_dialog(&net, "BYE", 1, None, None)),
        ("127.0.0.1:6666", in_dialog(&net, "INVITE", 9, None, None)),
    ];
    for (from, message) in attempts {
        let before = net.rooms[1].sent.len();
        deliver(&mut net, from, message);
        assert!(net.rooms[1].sent[before..].iter().any(|m| m.to_string().starts_with("SIP/2.0 481")), "481 each time");
        assert_eq!(net.state(1), RoomState::InCall, "the call goes on");
    }
    assert!(net.rooms[1].logs.iter().any(|l| l.contains("came from 127.0.0.1:6666")), "{:?}", net.rooms[1].logs);
    assert!(net.rooms[1].logs.iter().any(|l| l.contains("CSeq 1 does not follow")), "{:?}", net.rooms[1].logs);

    // The owner's BYE, counting on, ends it.
    let bye = in_dialog(&net, "BYE", 9, None, None);
    deliver(&mut net, "127.0.0.1:5061", bye);
    assert_eq!(net.state(1), RoomState::Idle);
}

#[test]
fn call_ids_and_tags_are_unpredictable_from_the_config() {
    let (a, b) = (in_call(), in_call());
    let call_id = |net: &Net| net.rooms[0].core.legs.values().next().and_then(|l| l.dialog.clone()).unwrap().call_id;
    assert_ne!(call_id(&a), call_id(&b), "two rooms with the same config and clock make different Call-IDs");
}

#[test]
fn a_retransmitted_invite_after_the_answer_gets_the_answer_again_not_481() {
    let mut net = in_call();
    let invite = net.rooms[0].sent.iter().find(|m| m.to_string().starts_with("INVITE")).cloned().unwrap();
    let before = net.rooms[1].sent.len();
    deliver(&mut net, "127.0.0.1:5061", invite);
    let replies: Vec<String> = net.rooms[1].sent[before..].iter().map(|m| m.to_string()).collect();
    assert!(replies.iter().any(|r| r.starts_with("SIP/2.0 200")), "{replies:?}");
    assert_eq!((net.state(0), net.state(1)), (RoomState::InCall, RoomState::InCall));
}
