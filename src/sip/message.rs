//! SIP messages (RFC 3261 §7) as typed data: parse from a datagram, print to one.
//! Parsing is strict about what routing needs (start line, Via, From, To, Call-ID, CSeq,
//! Content-Length) and rejects anything else malformed with a [`SipError`].

use std::fmt;
use std::str::FromStr;

use super::SipError;
use super::uri::{NameAddr, SipUri};

/// Largest datagram we accept; anything bigger is not a SIP message for a room box.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Other(String),
}

impl FromStr for Method {
    type Err = SipError;
    fn from_str(s: &str) -> Result<Self, SipError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_uppercase() || b == b'-') {
            return Err(SipError::BadStartLine(format!("bad method '{s}'")));
        }
        Ok(match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_owned()),
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Other(m) => m,
        })
    }
}

/// Header fields in order, names in their full canonical form (compact forms are expanded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((name.to_owned(), value.into()));
    }
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.push(name, value);
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The `CSeq` number and method.
    pub fn cseq(&self) -> Result<(u32, Method), SipError> {
        let value = self.get("CSeq").ok_or(SipError::MissingHeader("CSeq"))?;
        let (num, method) = value
            .trim()
            .split_once(char::is_whitespace)
            .ok_or_else(|| SipError::BadHeader(format!("CSeq '{value}'")))?;
        let num = num.parse().map_err(|_| SipError::BadHeader(format!("CSeq '{value}'")))?;
        Ok((num, method.trim().parse()?))
    }
    pub fn call_id(&self) -> Result<&str, SipError> {
        self.get("Call-ID").map(str::trim).ok_or(SipError::MissingHeader("Call-ID"))
    }
    pub fn from(&self) -> Result<NameAddr, SipError> {
        self.get("From").ok_or(SipError::MissingHeader("From"))?.parse()
    }
    pub fn to(&self) -> Result<NameAddr, SipError> {
        self.get("To").ok_or(SipError::MissingHeader("To"))?.parse()
    }
    pub fn contact(&self) -> Option<NameAddr> {
        self.get("Contact").and_then(|c| c.split(',').next()?.parse().ok())
    }
    /// The `branch` parameter of the topmost Via.
    pub fn via_branch(&self) -> Option<&str> {
        let via = self.get("Via")?.split(',').next()?;
        via.split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.eq_ignore_ascii_case("branch"))
            .map(|(_, v)| v)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub uri: SipUri,
    pub headers: Headers,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipMessage {
    Request(Request),
    Response(Response),
}

impl SipMessage {
    pub fn headers(&self) -> &Headers {
        match self {
            SipMessage::Request(r) => &r.headers,
            SipMessage::Response(r) => &r.headers,
        }
    }

    /// Parses one datagram. Every header routing depends on is checked here, so later code can
    /// rely on Via, From, To, Call-ID and CSeq being present and well-formed.
    pub fn parse(bytes: &[u8]) -> Result<SipMessage, SipError> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(SipError::TooLarge(bytes.len()));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| SipError::NotUtf8)?;
        let (head, body) = split_head_body(text).ok_or(SipError::Truncated("no blank line after the headers"))?;
        let mut lines = head.lines().map(|l| l.trim_end_matches('\r'));
        let start = lines.next().filter(|l| !l.is_empty()).ok_or(SipError::Empty)?;
        let mut headers = parse_headers(lines)?;
        refuse_repeats(&headers)?;
        let body = take_body(&headers, body)?;
        headers.0.retain(|(n, _)| !n.eq_ignore_ascii_case("Content-Length")); // printed from the body
        let message = if let Some(rest) = start.strip_prefix("SIP/2.0 ") {
            let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
            let status = code.parse().ok().filter(|s| (100..700).contains(s));
            let status = status.ok_or_else(|| SipError::BadStartLine(start.to_owned()))?;
            SipMessage::Response(Response { status, reason: reason.to_owned(), headers, body })
        } else {
            let mut parts = start.split(' ');
            let (Some(method), Some(uri), Some("SIP/2.0"), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(SipError::BadStartLine(start.to_owned()));
            };
            SipMessage::Request(Request { method: method.parse()?, uri: uri.parse()?, headers, body })
        };
        validate(&message)?;
        Ok(message)
    }
}

fn split_head_body(text: &str) -> Option<(&str, &str)> {
    if let Some(i) = text.find("\r\n\r\n") {
        return Some((&text[..i], &text[i + 4..]));
    }
    text.find("\n\n").map(|i| (&text[..i], &text[i + 2..]))
}

fn parse_headers<'a>(lines: impl Iterator<Item = &'a str>) -> Result<Headers, SipError> {
    let mut headers = Headers::default();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            // Header folding (RFC 3261 §7.3.1): continue the previous value.
            let last = headers.0.last_mut().ok_or_else(|| SipError::BadHeader(line.to_owned()))?;
            last.1.push(' ');
            last.1.push_str(line.trim());
            continue;
        }
        let (name, value) = line.split_once(':').ok_or_else(|| SipError::BadHeader(line.to_owned()))?;
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.!%*+`'~".contains(&b)) {
            return Err(SipError::BadHeader(line.to_owned()));
        }
        headers.push(expand_compact(name), value.trim());
    }
    Ok(headers)
}

fn expand_compact(name: &str) -> &str {
    match name {
        "v" | "V" => "Via",
        "f" | "F" => "From",
        "t" | "T" => "To",
        "i" | "I" => "Call-ID",
        "m" | "M" => "Contact",
        "l" | "L" => "Content-Length",
        "c" | "C" => "Content-Type",
        "k" | "K" => "Supported",
        other => other,
    }
}

fn take_body(headers: &Headers, body: &str) -> Result<String, SipError> {
    let Some(length) = headers.get("Content-Length") else {
        return Ok(body.to_owned()); // allowed over UDP: the body is the rest of the datagram
    };
    let length: usize = length.parse().map_err(|_| SipError::BadHeader(format!("Content-Length '{length}'")))?;
    body.get(..length).map(str::to_owned).ok_or(SipError::Truncated("body shorter than Content-Length"))
}

/// Headers a message carries once (RFC 3261 §7.3.1: only list-valued headers may repeat).
const SINGLE: [&str; 6] = ["Call-ID", "CSeq", "From", "To", "Content-Length", "Max-Forwards"];

fn refuse_repeats(headers: &Headers) -> Result<(), SipError> {
    match SINGLE.iter().find(|name| headers.get_all(name).nth(1).is_some()) {
        Some(name) => Err(SipError::BadHeader(format!("{name} appears more than once"))),
        None => Ok(()),
    }
}

fn validate(message: &SipMessage) -> Result<(), SipError> {
    let headers = message.headers();
    headers.via_branch().ok_or(SipError::MissingHeader("Via (with a branch)"))?;
    headers.from()?;
    headers.to()?;
    headers.call_id()?;
    let (_, cseq_method) = headers.cseq()?;
    if let SipMessage::Request(r) = message
        && cseq_method != r.method
        && !(r.method == Method::Ack && cseq_method == Method::Invite)
    {
        return Err(SipError::BadHeader(format!("CSeq method {cseq_method} does not match {}", r.method)));
    }
    Ok(())
}

fn write_headers_and_body(f: &mut fmt::Formatter<'_>, headers: &Headers, body: &str) -> fmt::Result {
    for (name, value) in headers.iter().filter(|(n, _)| !n.eq_ignore_ascii_case("Content-Length")) {
        write!(f, "{name}: {value}\r\n")?;
    }
    write!(f, "Content-Length: {}\r\n\r\n{body}", body.len())
}

impl fmt::Display for SipMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SipMessage::Request(r) => {
                write!(f, "{} {} SIP/2.0\r\n", r.method, r.uri)?;
                write_headers_and_body(f, &r.headers, &r.body)
            }
            SipMessage::Response(r) => {
                write!(f, "SIP/2.0 {} {}\r\n", r.status, r.reason)?;
                write_headers_and_body(f, &r.headers, &r.body)
            }
        }
    }
}

impl From<Request> for SipMessage {
    fn from(r: Request) -> Self {
        SipMessage::Request(r)
    }
}

impl From<Response> for SipMessage {
    fn from(r: Response) -> Self {
        SipMessage::Response(r)
    }
}

/// The standard reason phrase for the status codes roombox sends.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        200 => "OK",
        403 => "Forbidden",
        405 => "Method Not Allowed",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        _ => "Unknown",
    }
}
