//! What `ctl status` shows of the meeting: the room's state, LED and mute, every leg with its
//! peer, direction, state and codecs, and the places that could not be reached.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::core::Meeting;
use super::leg::Phase;
use super::{LedPattern, LegId, LegState, RoomState};
use crate::sdp::Negotiated;

/// One remote place of the meeting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegStatus {
    pub id: LegId,
    /// The peer's SIP URI.
    pub peer: String,
    /// The place's name, as its caption on screen shows it.
    pub name: String,
    /// "outgoing" (we called it) or "incoming".
    pub direction: String,
    pub state: LegState,
    pub call_id: Option<String>,
    pub negotiated: Option<Negotiated>,
    /// Live, but nothing has arrived from the place for a while (see `liveness.rs`).
    #[serde(default)]
    pub interrupted: bool,
    pub state_for_ms: u64,
}

/// A place that could not be reached, or dropped out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unreached {
    pub peer: String,
    pub reason: String,
}

/// The core's view of the room, for `roombox ctl status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeetingStatus {
    pub room: String,
    pub state: RoomState,
    pub led: LedPattern,
    pub muted: bool,
    /// Places in the meeting now, this room included (0 when idle).
    pub places: usize,
    pub max_places: usize,
    pub legs: Vec<LegStatus>,
    #[serde(default)]
    pub unreached: Vec<Unreached>,
    #[serde(default)]
    pub notice: Option<String>,
    /// A problem outside the meeting that an admin must fix (see `Input::StandingProblem`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    pub last_error: Option<String>,
    pub state_for_ms: u64,
}

impl MeetingStatus {
    /// The leg with `peer` in its URI or name, if any.
    pub fn leg(&self, peer: &str) -> Option<&LegStatus> {
        self.legs.iter().find(|l| l.peer.contains(peer) || l.name == peer)
    }

    pub fn live_legs(&self) -> impl Iterator<Item = &LegStatus> {
        self.legs.iter().filter(|l| l.state == LegState::Live)
    }
}

impl Meeting {
    pub fn status(&self, now: Instant) -> MeetingStatus {
        let since = |t: Instant| now.saturating_duration_since(t).as_millis() as u64;
        let legs: Vec<LegStatus> = self
            .legs
            .values()
            .map(|l| LegStatus {
                id: l.id,
                peer: l.place(),
                name: l.name(),
                direction: match (&l.guest, l.outgoing) {
                    (Some(_), _) => "guest",
                    (None, true) => "outgoing",
                    (None, false) => "incoming",
                }
                .into(),
                state: l.state(),
                call_id: l.call_id().map(str::to_owned),
                negotiated: l.negotiated().cloned(),
                interrupted: matches!(l.phase, Phase::Live { interrupted: true, .. }),
                state_for_ms: since(l.since),
            })
            .collect();
        let live = legs.iter().filter(|l| l.state == LegState::Live).count();
        MeetingStatus {
            room: self.cfg.room.clone(),
            state: self.state,
            led: self.led,
            muted: self.muted,
            places: if live == 0 { 0 } else { live + 1 },
            max_places: self.cfg.max_places,
            legs,
            unreached: self.unreached.clone(),
            notice: self.notice.clone(),
            problem: self.standing_problem.clone(),
            last_error: self.last_error.clone(),
            state_for_ms: since(self.state_since),
        }
    }

    /// The leg's Call-ID and peer, for log fields.
    pub fn leg_fields(&self, leg: LegId) -> Option<(String, String)> {
        let l = self.legs.get(&leg)?;
        Some((l.call_id().unwrap_or("-").to_owned(), l.place()))
    }
}
