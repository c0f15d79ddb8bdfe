//! Browser guests: the box serves a small page over HTTPS and takes WHIP-style joins (an SDP
//! offer POSTed to `/whip` with the meeting PIN as a bearer token), so a person with only a
//! browser joins the meeting as a place of its own. Nothing else on the box is reachable here.
//!
//! - `pin.rs`: the PIN check and the slow-down of addresses that keep getting it wrong (pure).
//! - `whip.rs`: routes, headers and the guest's name, read from a request (pure).
//! - `server.rs`: the HTTPS listener (hyper over tokio-rustls), handing joins to the loop.
//! - `link.rs`: the join link, and it as a QR code.
//! - `page.html`, `guest.js`, `guest.css`: the page, compiled into the binary (no build step, no CDN).

pub mod link;
pub mod pin;
pub mod server;
pub mod whip;

use std::net::SocketAddr;

use tokio::sync::oneshot;

#[derive(Debug, thiserror::Error)]
pub enum GuestsError {
    #[error("cannot serve the guest page on {addr}: {source} (another program uses the port? change [guests] listen)")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// What the guest page asks of the room's event loop.
#[derive(Debug)]
pub enum GuestRequest {
    /// A guest with the right PIN wants to join with `offer`.
    Join { name: String, from: SocketAddr, offer: String, reply: oneshot::Sender<JoinReply> },
    /// The guest of `session` leaves (its page's DELETE); answered with whether it was there.
    Leave { session: String, reply: oneshot::Sender<bool> },
}

/// How a join ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinReply {
    /// In the meeting: the SDP answer, and the session the page's DELETE names.
    Joined { session: String, answer: String },
    /// Turned away (the meeting is full, guests are off, the room is leaving).
    Refused(String),
    /// The media could not be set up (an offer the room cannot take, ICE found no address).
    Failed(String),
}
