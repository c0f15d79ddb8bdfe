//! SIP signalling, the RFC 3261 subset a room box needs for direct IP dialling over UDP, TCP
//! and TLS.
//!
//! - [`uri`]: `sip:` URIs and name-addr header values.
//! - [`message`]: typed requests and responses, parse and print.
//! - [`transport`]: UDP, TCP or TLS, and the address a message goes to or came from.
//! - [`dialog`]: the state of one dialog and the requests and responses it sends.
//! - [`retransmit`]: the UDP retransmission schedule (timers A/B, E/F, G).
//!
//! Everything here is pure: the socket lives in the runtime.

pub mod dialog;
pub mod message;
pub mod retransmit;
pub mod transport;
pub mod uri;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod torture_tests;

pub use message::{Headers, Method, Request, Response, SipMessage};
pub use transport::{SipAddr, Transport};
pub use uri::{NameAddr, SipUri};

/// Why a datagram or URI is not acceptable SIP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SipError {
    #[error("empty message")]
    Empty,
    #[error("message of {0} bytes is larger than the {max} bytes a room box accepts", max = message::MAX_MESSAGE_BYTES)]
    TooLarge(usize),
    #[error("message is not UTF-8 text")]
    NotUtf8,
    #[error("bad start line '{0}'")]
    BadStartLine(String),
    #[error("bad header: {0}")]
    BadHeader(String),
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("truncated message: {0}")]
    Truncated(&'static str),
    #[error("bad SIP URI {0}")]
    BadUri(String),
}
