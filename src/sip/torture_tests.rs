//! A torture set for the SIP parser, written for roombox after the categories of RFC 4475
//! (§3.1.1 valid messages that are hard to parse, §3.1.2 invalid ones): odd whitespace and
//! folding, escaped URIs, unknown schemes and methods, bad Content-Length, duplicated and
//! missing mandatory headers. Valid ones parse; invalid ones are refused with a reason.

use super::{Method, SipError, SipMessage};

const VIA: &str = "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKt1";
const FROM: &str = "From: <sip:a@192.0.2.1>;tag=1";
const TO: &str = "To: <sip:b@192.0.2.2>";
const CALL_ID: &str = "Call-ID: torture@192.0.2.1";

/// A request made of these lines, ended as SIP wants.
fn message(lines: &[&str], body: &str) -> Vec<u8> {
    format!("{}\r\n\r\n{body}", lines.join("\r\n")).into_bytes()
}

fn valid(lines: &[&str], body: &str) -> SipMessage {
    SipMessage::parse(&message(lines, body)).unwrap_or_else(|e| panic!("should parse: {e}\n{lines:#?}"))
}

fn invalid(lines: &[&str], body: &str) -> String {
    match SipMessage::parse(&message(lines, body)) {
        Ok(m) => panic!("should be refused: {m:?}"),
        Err(e) => e.to_string(),
    }
}

fn request(m: SipMessage) -> super::Request {
    match m {
        SipMessage::Request(r) => r,
        SipMessage::Response(r) => panic!("not a request: {r:?}"),
    }
}

#[test]
fn odd_whitespace_tabs_and_case_are_understood() {
    let r = request(valid(
        &[
            "OPTIONS sip:b@192.0.2.2 SIP/2.0",
            "via  :\tSIP/2.0/UDP 192.0.2.1:5060 ;branch=z9hG4bKt1",
            "FROM:<sip:a@192.0.2.1>;tag=1",
            "tO :  <sip:b@192.0.2.2>",
            "call-id:\t torture@192.0.2.1",
            "cseq:   7    OPTIONS",
        ],
        "",
    ));
    assert_eq!(r.headers.call_id(), Ok("torture@192.0.2.1"));
    assert_eq!(r.headers.cseq().unwrap(), (7, Method::Options));
}

#[test]
fn folded_header_values_are_joined() {
    let r = request(valid(
        &[
            "OPTIONS sip:b@192.0.2.2 SIP/2.0",
            VIA,
            FROM,
            TO,
            CALL_ID,
            "CSeq: 1 OPTIONS",
            "Subject: a long",
            "\t subject",
        ],
        "",
    ));
    assert_eq!(r.headers.get("Subject"), Some("a long subject"));
}

#[test]
fn escaped_and_quoted_parts_survive() {
    let r = request(valid(
        &[
            "OPTIONS sip:%62ob@192.0.2.2;transport=udp SIP/2.0",
            VIA,
            "From: \"J \\\"Q\\\" Public\" <sip:a@192.0.2.1>;tag=1",
            TO,
            CALL_ID,
            "CSeq: 1 OPTIONS",
        ],
        "",
    ));
    assert_eq!(r.uri.user.as_deref(), Some("%62ob"));
    assert_eq!(r.headers.from().unwrap().tag.as_deref(), Some("1"));
}

#[test]
fn unknown_methods_parse_so_the_room_can_answer_405() {
    let r = request(valid(&["NEWMETHOD sip:b@192.0.2.2 SIP/2.0", VIA, FROM, TO, CALL_ID, "CSeq: 1 NEWMETHOD"], ""));
    assert_eq!(r.method, Method::Other("NEWMETHOD".into()));
}

#[test]
fn unknown_uri_schemes_are_refused_by_name() {
    let why = invalid(&["INVITE tel:+4722000000 SIP/2.0", VIA, FROM, TO, CALL_ID, "CSeq: 1 INVITE"], "");
    assert!(why.contains("tel:+4722000000") && why.contains("sip:"), "{why}");
}

#[test]
fn content_length_that_is_huge_negative_or_too_long_is_refused() {
    let base = ["INVITE sip:b@192.0.2.2 SIP/2.0", VIA, FROM, TO, CALL_ID, "CSeq: 1 INVITE"];
    for (length, expected) in [
        ("99999999999999999999999", "Content-Length"),
        ("-5", "Content-Length"),
        ("40", "shorter than Content-Length"),
        ("4x", "Content-Length"),
    ] {
        let header = format!("Content-Length: {length}");
        let lines: Vec<&str> = base.iter().copied().chain([header.as_str()]).collect();
        let why = invalid(&lines, "v=0\r\n");
        assert!(why.contains(expected), "Content-Length {length}: {why}");
    }
    let header = "Content-Length: 3";
    let lines: Vec<&str> = base.iter().copied().chain([header]).collect();
    assert_eq!(request(valid(&lines, "v=0\r\nextra")).body, "v=0", "the body ends where Content-Length says");
}

#[test]
fn duplicated_single_headers_are_refused() {
    for dup in [CALL_ID, "CSeq: 2 OPTIONS", TO, FROM, "Content-Length: 0"] {
        let why = invalid(
            &["OPTIONS sip:b@192.0.2.2 SIP/2.0", VIA, FROM, TO, CALL_ID, "CSeq: 1 OPTIONS", "Content-Length: 0", dup],
            "",
        );
        assert!(why.contains("more than once"), "{dup}: {why}");
    }
}

#[test]
fn missing_mandatory_headers_are_named() {
    let all = ["OPTIONS sip:b@192.0.2.2 SIP/2.0", VIA, FROM, TO, CALL_ID, "CSeq: 1 OPTIONS"];
    for (skip, name) in [(1, "Via"), (2, "From"), (3, "To"), (4, "Call-ID"), (5, "CSeq")] {
        let lines: Vec<&str> = all.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, l)| *l).collect();
        let why = invalid(&lines, "");
        assert!(why.contains(name), "without {name}: {why}");
    }
}

#[test]
fn broken_start_lines_and_bytes_are_refused() {
    for start in
        ["OPTIONS sip:b@192.0.2.2 SIP/7.0", "OPTIONS  sip:b@192.0.2.2 SIP/2.0", "SIP/2.0 99 Low", "SIP/2.0 700 High"]
    {
        let why = invalid(&[start, VIA, FROM, TO, CALL_ID, "CSeq: 1 OPTIONS"], "");
        assert!(why.contains("start line"), "{start}: {why}");
    }
    let why = invalid(&["OPTIONS sip:b@192.0.2.2 SIP/2.0", VIA, FROM, TO, CALL_ID, "CSeq: 1 BYE"], "");
    assert!(why.contains("does not match"), "{why}");
    let why = invalid(&["OPTIONS sip:b@192.0.2.2 SIP/2.0", VIA, FROM, TO, CALL_ID, "CSeq: one OPTIONS"], "");
    assert!(why.contains("CSeq"), "{why}");
    let mut bytes = message(&["OPTIONS sip:b@192.0.2.2 SIP/2.0", VIA, FROM, TO, CALL_ID, "CSeq: 1 OPTIONS"], "");
    bytes[3] = 0xff;
    assert_eq!(SipMessage::parse(&bytes), Err(SipError::NotUtf8));
    assert!(matches!(SipMessage::parse(b"OPTIONS sip:b@192.0.2.2 SIP/2.0\r\n"), Err(SipError::Truncated(_))));
}

#[test]
fn compact_forms_and_several_vias_are_understood() {
    let r = request(valid(
        &[
            "BYE sip:b@192.0.2.2 SIP/2.0",
            "v: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKfirst, SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKsecond",
            "f: <sip:a@192.0.2.1>;tag=1",
            "t: <sip:b@192.0.2.2>;tag=2",
            "i: compact@192.0.2.1",
            "CSeq: 2 BYE",
            "l: 0",
        ],
        "",
    ));
    assert_eq!(r.headers.via_branch(), Some("z9hG4bKfirst"));
    assert_eq!(r.headers.call_id(), Ok("compact@192.0.2.1"));
}
