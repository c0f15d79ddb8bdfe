//! One SIP dialog (RFC 3261 §12): its identifiers and the requests and responses it sends.
//! Pure data; the call core decides when to send what.

use std::net::SocketAddr;

use super::message::{Headers, Method, Request, Response, SipMessage, reason_phrase};
use super::transport::Transport;
use super::uri::{NameAddr, SipUri};

pub const USER_AGENT: &str = concat!("roombox/", env!("CARGO_PKG_VERSION"));
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS";

/// The identifiers of a dialog as seen from our side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub call_id: String,
    /// Our identity with our tag (From in our requests).
    pub local: NameAddr,
    /// The peer's identity; its tag is learned from the first tagged response or its INVITE.
    pub remote: NameAddr,
    /// Where in-dialog requests go (the peer's Contact).
    pub remote_target: SipUri,
    /// Our address as put in Via and Contact.
    pub sent_by: SocketAddr,
    /// What carries the dialog's requests (named in Via and Contact).
    pub transport: Transport,
    pub local_cseq: u32,
}

impl Dialog {
    /// A new request in this dialog with the next CSeq (or `cseq` for ACK and CANCEL, which
    /// reuse the INVITE's number).
    pub fn request(&mut self, method: Method, branch: &str, cseq: Option<u32>) -> Request {
        let cseq = cseq.unwrap_or_else(|| {
            self.local_cseq += 1;
            self.local_cseq
        });
        let mut headers = Headers::default();
        headers.push("Via", format!("SIP/2.0/{} {};branch={branch};rport", self.transport.name(), self.sent_by));
        headers.push("Max-Forwards", "70");
        headers.push("From", self.local.to_string());
        headers.push("To", self.remote.to_string());
        headers.push("Call-ID", self.call_id.clone());
        headers.push("CSeq", format!("{cseq} {method}"));
        if matches!(method, Method::Invite) {
            headers.push("Contact", format!("<{}>", self.local_contact()));
            headers.push("Allow", ALLOW);
        }
        headers.push("User-Agent", USER_AGENT);
        Request { method, uri: self.remote_target.clone(), headers, body: String::new() }
    }

    pub fn local_contact(&self) -> SipUri {
        let mut contact = SipUri::new(self.local.uri.user.as_deref(), self.sent_by);
        if self.transport != Transport::Udp {
            contact.params = format!(";transport={}", self.transport.name().to_ascii_lowercase());
        }
        contact
    }
}

/// A request with an SDP body.
pub fn with_sdp(mut request: Request, sdp: String) -> Request {
    request.headers.push("Content-Type", "application/sdp");
    request.body = sdp;
    request
}

/// A response to `request`: Via, From, Call-ID and CSeq copied, our tag added to To
/// (RFC 3261 §8.2.6). `contact` is added for dialog-creating responses.
pub fn response(request: &Request, status: u16, to_tag: Option<&str>, contact: Option<&SipUri>) -> Response {
    let mut headers = Headers::default();
    for via in request.headers.get_all("Via") {
        headers.push("Via", via);
    }
    for name in ["From", "Call-ID", "CSeq"] {
        if let Some(value) = request.headers.get(name) {
            headers.push(name, value);
        }
    }
    let to = request.headers.get("To").unwrap_or_default();
    let has_tag = to.to_ascii_lowercase().contains(";tag=");
    match to_tag {
        Some(tag) if !has_tag && status != 100 => headers.push("To", format!("{to};tag={tag}")),
        _ => headers.push("To", to),
    }
    if let Some(contact) = contact {
        headers.push("Contact", format!("<{contact}>"));
    }
    if status == 405 || (request.method == Method::Options && status == 200) {
        headers.push("Allow", ALLOW);
        headers.push("Accept", "application/sdp");
    }
    headers.push("User-Agent", USER_AGENT);
    Response { status, reason: reason_phrase(status).to_owned(), headers, body: String::new() }
}

/// The ACK for a non-2xx final response to our INVITE (RFC 3261 §17.1.1.3): same branch and
/// Request-URI as the INVITE, To taken from the response.
pub fn ack_for_failure(invite: &Request, failure: &Response) -> SipMessage {
    let mut headers = Headers::default();
    if let Some(via) = invite.headers.get("Via") {
        headers.push("Via", via);
    }
    headers.push("Max-Forwards", "70");
    for (name, source) in [("From", &invite.headers), ("To", &failure.headers), ("Call-ID", &invite.headers)] {
        if let Some(value) = source.get(name) {
            headers.push(name, value);
        }
    }
    let cseq = invite.headers.cseq().map(|(n, _)| n).unwrap_or(1);
    headers.push("CSeq", format!("{cseq} ACK"));
    SipMessage::Request(Request { method: Method::Ack, uri: invite.uri.clone(), headers, body: String::new() })
}

/// The CANCEL for our INVITE (RFC 3261 §9.1): same branch, Request-URI, From, To, Call-ID.
pub fn cancel_for(invite: &Request) -> Request {
    let mut headers = Headers::default();
    for name in ["Via", "Max-Forwards", "From", "To", "Call-ID"] {
        if let Some(value) = invite.headers.get(name) {
            headers.push(name, value);
        }
    }
    let cseq = invite.headers.cseq().map(|(n, _)| n).unwrap_or(1);
    headers.push("CSeq", format!("{cseq} CANCEL"));
    headers.push("User-Agent", USER_AGENT);
    Request { method: Method::Cancel, uri: invite.uri.clone(), headers, body: String::new() }
}

/// A response with an SDP body.
pub fn with_sdp_response(mut resp: Response, sdp: String) -> Response {
    resp.headers.push("Content-Type", "application/sdp");
    resp.body = sdp;
    resp
}
