//! Dead media on a live leg. SIP keep-alives can go on answering while no media arrives (a
//! firewall that closed the media ports, a peer whose pipeline hung, a link that went down and
//! up). The media reports how long each leg has received nothing; the core shows the place
//! as interrupted after `Timing::media_interrupted` (the call stays up and recovers by itself
//! when packets return) and ends the leg with a BYE after `Timing::media_timeout`. Media that
//! never starts (a device whose driver hangs) ends its leg after `Timing::media_start_timeout`.

use std::time::{Duration, Instant};

use super::core::Meeting;
use super::leg::Phase;
use super::{LegId, Level};

impl Meeting {
    /// The media of `leg` has received nothing (no RTP, no RTCP) for `idle`.
    pub(super) fn on_media_idle(&mut self, now: Instant, id: LegId, idle: Duration) {
        let (interrupt_after, timeout) = (self.cfg.timing.media_interrupted, self.cfg.timing.media_timeout);
        let Some(leg) = self.legs.get_mut(&id) else { return };
        let peer = leg.place();
        let Phase::Live { interrupted, .. } = &mut leg.phase else { return };
        if idle >= timeout {
            let secs = timeout.as_secs();
            return self.fail_leg(now, id, format!("no media from {peer} for {secs} s: the call was ended"));
        }
        let now_interrupted = idle >= interrupt_after;
        if now_interrupted == *interrupted {
            return;
        }
        *interrupted = now_interrupted;
        if now_interrupted {
            let secs = interrupt_after.as_secs_f64();
            let left = timeout.saturating_sub(idle).as_secs();
            self.log(
                Level::Warn,
                Some(id),
                format!("no media from {peer} for {secs} s: interrupted (the call ends in {left} s unless it returns)"),
            );
        } else {
            self.log(Level::Info, Some(id), format!("media from {peer} is back"));
        }
        self.refresh(now);
    }

    /// Starting the media of `leg` has not returned for `stuck_for`.
    pub(super) fn on_media_stuck(&mut self, now: Instant, id: LegId, stuck_for: Duration) {
        let timeout = self.cfg.timing.media_start_timeout;
        let live = self.legs.get(&id).is_some_and(|l| matches!(l.phase, Phase::Live { .. }));
        if live && stuck_for >= timeout {
            let secs = timeout.as_secs();
            let reason = format!("did not start within {secs} s: a device (camera or sound card) does not answer");
            self.fail_leg(now, id, format!("media failed: media {reason}"));
        }
    }

    /// Whether some live place has sent nothing for a while.
    pub(super) fn any_interrupted(&self) -> bool {
        self.legs.values().any(|l| matches!(l.phase, Phase::Live { interrupted: true, .. }))
    }
}
