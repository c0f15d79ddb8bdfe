//! How a leg of the [`Meeting`] ends, however far it got: a BYE, CANCEL or refusal to the
//! peer where that makes sense, the hang-up wait, its media released, and a failure kept for
//! `status` (the error LED only when no place is left).

use std::time::Instant;

use super::core::{Meeting, Phase, Tx};
use super::{LegId, Level, Output, Unreached};

impl Meeting {
    /// Ends one leg as a failure: the peer is told (BYE, CANCEL or a refusal) where that makes
    /// sense, its media is released, and the failure is recorded for `status`.
    pub(super) fn fail_leg(&mut self, now: Instant, id: LegId, error: String) {
        self.end_leg(now, id, Some(error));
    }

    /// Ends one leg however far it got (the button, `ctl leave --peer`, or a failure).
    pub(super) fn end_leg(&mut self, now: Instant, id: LegId, error: Option<String>) {
        let Some(leg) = self.legs.get_mut(&id) else { return };
        if leg.guest.is_some() {
            // A guest has no dialog to end: its media goes at once.
            if leg.end_error.is_none() {
                leg.end_error = error;
            }
            return self.finish_leg(now, id);
        }
        match leg.phase {
            Phase::Live { .. } => self.send_bye(now, id, error),
            // A peer that never responded has nothing to cancel when we give up on it.
            Phase::Dialing { provisional: false, .. } if error.is_some() => {
                leg.end_error = error;
                self.finish_leg(now, id);
            }
            Phase::Dialing { .. } => self.cancel_outgoing(now, id, error),
            Phase::Ringing { .. } => self.reject_incoming(now, id, if error.is_some() { 500 } else { 486 }, error),
            Phase::Ending { .. } => {
                if leg.end_error.is_none() {
                    leg.end_error = error;
                }
            }
        }
    }

    /// Leaves the meeting: every leg ends (BYE, CANCEL, or 486 to whoever rings).
    pub(super) fn leave_all(&mut self, now: Instant, if_idle: &str) {
        if self.active_legs() == 0 {
            if !if_idle.is_empty() {
                self.log(Level::Info, None, if_idle);
            }
            return;
        }
        let ids: Vec<LegId> = self.legs.keys().copied().collect();
        for id in ids {
            self.end_leg(now, id, None);
        }
    }

    /// Ends a leg for good: media released, its retransmissions stopped, the leg gone.
    pub(super) fn finish_leg(&mut self, now: Instant, id: LegId) {
        let Some(leg) = self.legs.remove(&id) else { return };
        for tx in [Tx::Invite, Tx::Ok200, Tx::Bye, Tx::Cancel, Tx::Options] {
            self.tx.stop(&(id, tx));
        }
        if !leg.media_released {
            self.outputs.push_back(Output::ReleaseMedia { leg: id });
        }
        if let Some(call_id) = leg.call_id() {
            self.ended.push_back((call_id.to_owned(), now));
        }
        let place = leg.place();
        match leg.end_error {
            Some(error) => self.record_failure(now, &place, error),
            None => self.log(Level::Info, Some(id), format!("call with {place} ended")),
        }
    }

    /// Starts the hang-up wait: the leg is over for the room, the peer may still confirm.
    /// A failure is recorded at once; the leg's end is only logged when the peer confirms.
    pub(super) fn start_hangup(&mut self, now: Instant, id: LegId, error: Option<String>, cancel_pending: bool) {
        let until = now + self.cfg.timing.hangup_timeout;
        let Some(leg) = self.legs.get_mut(&id) else { return };
        leg.set_phase(now, Phase::Ending { until, cancel_pending });
        let release = !leg.media_released;
        leg.media_released = true;
        let error = error.or(leg.end_error.take());
        let peer = leg.place();
        if release {
            self.outputs.push_back(Output::ReleaseMedia { leg: id });
        }
        if let Some(error) = error {
            self.record_failure(now, &peer, error);
        }
        self.tx.stop(&(id, Tx::Options));
        self.tx.stop(&(id, Tx::Ok200));
    }

    /// Logs a failed place and keeps it for `status`. The error LED shows only when no place
    /// is left in the meeting: one place down does not alarm a room still talking to others.
    fn record_failure(&mut self, now: Instant, peer: &str, error: String) {
        self.log(Level::Warn, None, format!("call with {peer} failed: {error}"));
        self.unreached.retain(|u| u.peer != peer);
        self.unreached.push(Unreached { peer: peer.to_owned(), reason: error.clone() });
        if self.active_legs() == 0 {
            self.error = Some((error.clone(), now + self.cfg.timing.error_display));
        }
        self.last_error = Some(error);
    }
}
