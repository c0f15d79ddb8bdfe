//! The data of one call in progress and the identifiers the core hands out. Plain data.

use std::net::SocketAddr;
use std::time::Instant;

use super::CallId;
use crate::sdp::{LocalMedia, Negotiated, SessionDescription};
use crate::sip::dialog::Dialog;
use crate::sip::{Request, Response, SipUri};

/// The transactions of the current call that may be retransmitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tx {
    Invite,
    Ok200,
    Bye,
    Cancel,
    Options,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Deadline {
    Dial,
    Ring,
    Hangup,
}

/// Everything about the one call in progress.
#[derive(Debug)]
pub(super) struct Call {
    pub id: CallId,
    pub outgoing: bool,
    pub peer: SipUri,
    pub peer_addr: SocketAddr,
    pub dialog: Option<Dialog>,
    pub invite: Option<Request>,
    pub local: Option<LocalMedia>,
    pub our_sdp: Option<SessionDescription>,
    pub remote_offer: Option<SessionDescription>,
    pub negotiated: Option<Negotiated>,
    pub provisional: bool,
    pub cancel_pending: bool,
    pub answer_when_ready: bool,
    pub last_invite_response: Option<Response>,
    pub media_released: bool,
    pub deadline: Option<(Instant, Deadline)>,
    pub keepalive_at: Option<Instant>,
    /// Why the call is ending, if it is a failure the room should be told about.
    pub end_error: Option<String>,
}

impl Call {
    pub fn new(id: CallId, outgoing: bool, peer: SipUri, peer_addr: SocketAddr) -> Self {
        Self {
            id,
            outgoing,
            peer,
            peer_addr,
            dialog: None,
            invite: None,
            local: None,
            our_sdp: None,
            remote_offer: None,
            negotiated: None,
            provisional: false,
            cancel_pending: false,
            answer_when_ready: false,
            last_invite_response: None,
            media_released: false,
            deadline: None,
            keepalive_at: None,
            end_error: None,
        }
    }
}

/// Deterministic identifiers (tags, branches, Call-IDs) from a seed: splitmix64.
#[derive(Debug)]
pub(super) struct IdGen(pub u64);

impl IdGen {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn token(&mut self) -> String {
        format!("{:016x}", self.next())
    }
    pub fn branch(&mut self) -> String {
        format!("z9hG4bK{}", self.token())
    }
}
