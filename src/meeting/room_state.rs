//! The room's one state and its LED, derived from its legs after every change: in a call
//! while any leg is live, else ringing, dialing or ending by the legs there are; the LED shows
//! an error first (or, while idle, a standing problem), then mute, a caller waiting, an interrupted place, and the state.

use std::time::Instant;

use super::core::Meeting;
use super::{LedPattern, LegState, Output, RoomState};

impl Meeting {
    /// The room's state and LED, derived from its legs.
    pub(super) fn refresh(&mut self, now: Instant) {
        let has = |s: LegState| self.legs.values().any(|l| l.state() == s);
        let state = if self.legs.is_empty() {
            RoomState::Idle
        } else if has(LegState::Live) {
            RoomState::InCall
        } else if has(LegState::Ringing) {
            RoomState::Ringing
        } else if has(LegState::Dialing) {
            RoomState::Dialing
        } else {
            RoomState::Ending
        };
        if state != self.state {
            self.state = state;
            self.state_since = now;
        }
        if self.error.as_ref().is_some_and(|(_, until)| *until <= now) {
            self.error = None;
        }
        let led = if self.error.is_some() || (state == RoomState::Idle && self.standing_problem.is_some()) {
            LedPattern::FastBlink
        } else if self.muted {
            LedPattern::Muted
        } else if has(LegState::Ringing) {
            LedPattern::SlowBlink // someone waits to join: a press answers
        } else if state == RoomState::InCall && self.any_interrupted() {
            LedPattern::Interrupted
        } else {
            match state {
                RoomState::Idle | RoomState::Ending => LedPattern::Off,
                RoomState::Dialing | RoomState::Ringing => LedPattern::SlowBlink,
                RoomState::InCall => LedPattern::Solid,
            }
        };
        if led != self.led {
            self.led = led;
            self.outputs.push_back(Output::Led(led));
        }
    }
}
