//! One leg of the meeting: the SIP dialog and media session with one remote place. What a leg
//! knows in every phase lives in [`Leg`]; what only one phase has lives in its [`Phase`]
//! variant, so a ringing leg cannot hold a keep-alive timer and a live one no ring deadline.

use std::time::Instant;

use super::{LegId, LegState};
use crate::sdp::{LocalMedia, Negotiated, SessionDescription};
use crate::sip::dialog::Dialog;
use crate::sip::{Request, Response, SipAddr, SipUri};

/// The transactions of a leg that may be retransmitting (keyed with the leg's id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tx {
    Invite,
    Ok200,
    Bye,
    Cancel,
    Options,
}

/// The key of one retransmitting transaction: which leg, which request.
pub(super) type TxKey = (LegId, Tx);

#[derive(Debug)]
pub(super) enum Phase {
    /// We invite the peer. `until` is the dial timeout, or the ring timeout once it rings.
    Dialing { provisional: bool, until: Instant },
    /// The peer invites us. `answer` is ready once our ports are bound.
    Ringing { offer: SessionDescription, answer: Option<Negotiated>, answer_when_ready: bool, until: Instant },
    /// Media flows; the peer is probed with OPTIONS at `keepalive_at` (never for a browser
    /// guest: it has no SIP). `interrupted`: no media
    /// has arrived for a while (see `liveness.rs`).
    Live { negotiated: Negotiated, keepalive_at: Option<Instant>, interrupted: bool },
    /// We hung up and wait until `until` for the peer to confirm. `cancel_pending`: our INVITE
    /// had no response yet, so the CANCEL goes out when one arrives.
    Ending { until: Instant, cancel_pending: bool },
}

#[derive(Debug)]
pub(super) struct Leg {
    pub id: LegId,
    pub outgoing: bool,
    pub peer: SipUri,
    /// Where the peer's SIP goes and comes from (over TCP and TLS: its connection).
    pub peer_addr: SipAddr,
    /// Our ports, once media bound them.
    pub local: Option<LocalMedia>,
    pub dialog: Option<Dialog>,
    /// The INVITE that made the leg (ours or the peer's).
    pub invite: Option<Request>,
    /// Our offer (outgoing) or answer (incoming).
    pub our_sdp: Option<SessionDescription>,
    /// Our last response to the peer's INVITE, for retransmitted INVITEs.
    pub last_invite_response: Option<Response>,
    /// The highest CSeq the peer used in this dialog (its requests must count on from it).
    pub remote_cseq: Option<u32>,
    pub media_released: bool,
    /// Why the leg is ending, if it is a failure the room should be told about.
    pub end_error: Option<String>,
    pub since: Instant,
    pub phase: Phase,
    /// A browser guest (no SIP dialog: its media is negotiated over HTTPS).
    pub guest: Option<Guest>,
}

/// Who a browser guest is: the name it typed and where its page connected from.
#[derive(Debug, Clone)]
pub(super) struct Guest {
    pub name: String,
    pub from: std::net::SocketAddr,
}

impl Leg {
    pub fn new(id: LegId, outgoing: bool, peer: SipUri, peer_addr: SipAddr, now: Instant, phase: Phase) -> Self {
        Self {
            id,
            outgoing,
            peer,
            peer_addr,
            local: None,
            dialog: None,
            invite: None,
            our_sdp: None,
            last_invite_response: None,
            remote_cseq: None,
            media_released: false,
            end_error: None,
            since: now,
            phase,
            guest: None,
        }
    }

    pub fn state(&self) -> LegState {
        match self.phase {
            Phase::Dialing { .. } => LegState::Dialing,
            Phase::Ringing { .. } => LegState::Ringing,
            Phase::Live { .. } => LegState::Live,
            Phase::Ending { .. } => LegState::Ending,
        }
    }

    /// When this leg's own timer fires (dial, ring, keep-alive or hang-up wait), if it has one.
    pub fn deadline(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Dialing { until, .. } | Phase::Ringing { until, .. } | Phase::Ending { until, .. } => Some(*until),
            Phase::Live { keepalive_at, .. } => *keepalive_at,
        }
    }

    pub fn set_phase(&mut self, now: Instant, phase: Phase) {
        if std::mem::discriminant(&self.phase) != std::mem::discriminant(&phase) {
            self.since = now;
        }
        self.phase = phase;
    }

    /// The place as the admin reads it in logs and status: the peer's URI, or the guest.
    pub fn place(&self) -> String {
        match &self.guest {
            Some(g) => format!("guest \"{}\" from {}", g.name, g.from.ip()),
            None => self.peer.to_string(),
        }
    }

    /// The place's name for captions and logs: the peer's user part, else its host.
    pub fn name(&self) -> String {
        if let Some(g) = &self.guest {
            return g.name.clone();
        }
        let from_invite = (!self.outgoing)
            .then(|| {
                self.invite
                    .as_ref()
                    .and_then(|i| i.headers.from().ok())
                    .and_then(|f| f.display.filter(|d| !d.trim().is_empty()))
            })
            .flatten();
        from_invite.or_else(|| self.peer.user.clone()).unwrap_or_else(|| self.peer.host.clone())
    }

    /// Whether a request with this Call-ID belongs to the leg.
    pub fn has_call_id(&self, call_id: &str) -> bool {
        let ours = self.dialog.as_ref().map(|d| d.call_id.as_str());
        let theirs = self.invite.as_ref().and_then(|i| i.headers.call_id().ok());
        ours == Some(call_id) || theirs == Some(call_id)
    }

    pub fn call_id(&self) -> Option<&str> {
        self.dialog.as_ref().map(|d| d.call_id.as_str()).or_else(|| self.invite.as_ref()?.headers.call_id().ok())
    }

    pub fn negotiated(&self) -> Option<&Negotiated> {
        match &self.phase {
            Phase::Live { negotiated, .. } => Some(negotiated),
            Phase::Ringing { answer, .. } => answer.as_ref(),
            _ => None,
        }
    }
}

/// Identifiers (tags, branches, Call-IDs): random, with a seeded splitmix64 as the fallback.
#[derive(Debug)]
pub(super) struct IdGen(pub u64);

impl IdGen {
    /// 64 bits from the operating system's random source: Call-IDs, tags and branches that
    /// nobody can predict (a guessed tag would let a stranger end a call). Only if that source
    /// fails does the seeded sequence stand in.
    pub fn next(&mut self) -> u64 {
        if let Ok(random) = getrandom::u64() {
            return random;
        }
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
