//! Parse/print round trips and rejection of malformed datagrams.

use super::*;
use crate::sip::dialog::{Dialog, ack_for_failure, cancel_for, response};

const INVITE: &str = "INVITE sip:bergen@127.0.0.1:5062 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKabc;rport\r\n\
Max-Forwards: 70\r\n\
From: \"Oslo\" <sip:oslo@127.0.0.1:5061>;tag=111\r\n\
To: <sip:bergen@127.0.0.1:5062>\r\n\
Call-ID: c1@roombox\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:oslo@127.0.0.1:5061>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

#[test]
fn request_round_trips_through_print_and_parse() {
    let parsed = SipMessage::parse(INVITE.as_bytes()).unwrap();
    let SipMessage::Request(req) = &parsed else { panic!("not a request") };
    assert_eq!(req.method, Method::Invite);
    assert_eq!(req.body, "v=0\n");
    assert_eq!(req.headers.via_branch(), Some("z9hG4bKabc"));
    assert_eq!(req.headers.from().unwrap().tag.as_deref(), Some("111"));
    assert_eq!(req.headers.cseq().unwrap(), (1, Method::Invite));
    let printed = parsed.to_string();
    assert_eq!(SipMessage::parse(printed.as_bytes()).unwrap(), parsed);
}

#[test]
fn compact_headers_and_bare_lf_are_understood() {
    let text = "OPTIONS sip:a@10.0.0.1 SIP/2.0\nv: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK9\nf: <sip:b@10.0.0.2>;tag=7\n\
                t: sip:a@10.0.0.1\ni: xyz\nCSeq: 3 OPTIONS\nl: 0\n\n";
    let msg = SipMessage::parse(text.as_bytes()).unwrap();
    assert_eq!(msg.headers().call_id().unwrap(), "xyz");
    assert_eq!(msg.headers().to().unwrap().uri.to_string(), "sip:a@10.0.0.1");
}

#[test]
fn response_round_trips_and_keeps_the_reason() {
    let SipMessage::Request(invite) = SipMessage::parse(INVITE.as_bytes()).unwrap() else { unreachable!() };
    let ringing = response(&invite, 180, Some("222"), Some(&"sip:bergen@127.0.0.1:5062".parse().unwrap()));
    let msg = SipMessage::Response(ringing);
    let parsed = SipMessage::parse(msg.to_string().as_bytes()).unwrap();
    let SipMessage::Response(r) = &parsed else { panic!("not a response") };
    assert_eq!((r.status, r.reason.as_str()), (180, "Ringing"));
    assert_eq!(r.headers.to().unwrap().tag.as_deref(), Some("222"));
    assert_eq!(r.headers.via_branch(), Some("z9hG4bKabc"));
    assert_eq!(parsed, msg);
}

#[test]
fn malformed_datagrams_are_rejected_with_a_reason() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"".to_vec(), "no blank line"),
        (b"\r\n\r\n".to_vec(), "empty"),
        (vec![0xff, 0xfe, b'\r', b'\n', b'\r', b'\n'], "UTF-8"),
        (b"HELLO\r\n\r\n".to_vec(), "start line"),
        (b"INVITE sip:a@b SIP/3.0\r\n\r\n".to_vec(), "start line"),
        (b"SIP/2.0 999 Huh\r\n\r\n".to_vec(), "start line"),
        (b"INVITE http://x SIP/2.0\r\n\r\n".to_vec(), "URI"),
        (INVITE.replace("CSeq: 1 INVITE", "CSeq: one INVITE").into_bytes(), "CSeq"),
        (INVITE.replace("CSeq: 1 INVITE", "CSeq: 1 BYE").into_bytes(), "does not match"),
        (INVITE.replace("Call-ID: c1@roombox\r\n", "").into_bytes(), "Call-ID"),
        (INVITE.replace(";branch=z9hG4bKabc", "").into_bytes(), "Via"),
        (INVITE.replace("Content-Length: 4", "Content-Length: 400").into_bytes(), "shorter"),
        (INVITE.replace("Content-Length: 4", "Content-Length: -1").into_bytes(), "Content-Length"),
        (INVITE.replace("Max-Forwards: 70", "no colon here").into_bytes(), "bad header"),
        (vec![b'a'; message::MAX_MESSAGE_BYTES + 1], "larger"),
    ];
    for (bytes, expected) in cases {
        let err = SipMessage::parse(&bytes).expect_err(&String::from_utf8_lossy(&bytes));
        assert!(err.to_string().contains(expected), "'{err}' should mention '{expected}'");
    }
}

#[test]
fn every_prefix_of_a_valid_message_is_handled_without_panic() {
    for end in 0..INVITE.len() {
        let _ = SipMessage::parse(&INVITE.as_bytes()[..end]);
    }
}

#[test]
fn dialog_requests_carry_the_dialog_identifiers_and_count_cseq() {
    let mut dialog = Dialog {
        call_id: "c1".into(),
        local: "<sip:oslo@127.0.0.1:5061>;tag=111".parse().unwrap(),
        remote: "<sip:bergen@127.0.0.1:5062>;tag=222".parse().unwrap(),
        remote_target: "sip:bergen@127.0.0.1:5062".parse().unwrap(),
        sent_by: "127.0.0.1:5061".parse().unwrap(),
        transport: super::Transport::Udp,
        local_cseq: 1,
    };
    let bye = dialog.request(Method::Bye, "z9hG4bKb", None);
    assert_eq!(bye.headers.cseq().unwrap(), (2, Method::Bye));
    assert_eq!(bye.headers.to().unwrap().tag.as_deref(), Some("222"));
    assert_eq!(bye.headers.from().unwrap().tag.as_deref(), Some("111"));
    let reparsed = SipMessage::parse(SipMessage::Request(bye).to_string().as_bytes()).unwrap();
    assert_eq!(reparsed.headers().call_id().unwrap(), "c1");
}

#[test]
fn cancel_and_failure_ack_reuse_the_invite_branch() {
    let SipMessage::Request(invite) = SipMessage::parse(INVITE.as_bytes()).unwrap() else { unreachable!() };
    let cancel = cancel_for(&invite);
    assert_eq!(cancel.headers.via_branch(), Some("z9hG4bKabc"));
    assert_eq!(cancel.headers.cseq().unwrap(), (1, Method::Cancel));
    let busy = response(&invite, 486, Some("9"), None);
    let SipMessage::Request(ack) = ack_for_failure(&invite, &busy) else { unreachable!() };
    assert_eq!(ack.headers.via_branch(), Some("z9hG4bKabc"));
    assert_eq!(ack.headers.cseq().unwrap(), (1, Method::Ack));
    assert_eq!(ack.headers.to().unwrap().tag.as_deref(), Some("9"));
}
