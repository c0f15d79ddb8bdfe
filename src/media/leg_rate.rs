//! A leg's rate adaptation at run time: the place's reports on our video (`rtcp_blocks.rs`)
//! turned into the loss between two reports for the pure controller
//! (`rate.rs`). The room's one encoder then follows the lowest target of its legs.

use std::sync::Mutex;
use std::time::Instant;

use super::rate::{RateController, RateReason};
use super::rtcp_blocks::ReportBlock;

pub(super) struct LegRate(Mutex<State>);

/// The fewest packets the loss fed to the controller is measured over.
const SPAN: u32 = 100;

struct State {
    controller: RateController,
    /// The last report used: packets lost in all, highest sequence number.
    last: Option<(i64, u32)>,
}

/// The share lost between two reports: newly lost over newly expected (0 when nothing new).
pub fn loss_between(before: (i64, u32), now: (i64, u32)) -> Option<f64> {
    let expected = i64::from(now.1.wrapping_sub(before.1));
    if now.1 <= before.1 || expected > 1 << 20 {
        return None;
    }
    Some(((now.0 - before.0) as f64 / expected as f64).clamp(0.0, 1.0))
}

impl LegRate {
    pub(super) fn new(floor_kbps: u32, ceiling_kbps: u32) -> Self {
        Self(Mutex::new(State { controller: RateController::new(floor_kbps, ceiling_kbps), last: None }))
    }

    /// Feeds the place's latest report on our video (a new one changes the target).
    pub(super) fn on_report(&self, block: Option<ReportBlock>, rtt_ms: Option<f64>, sent_kbps: (f64, f64)) {
        let Some(block) = block else { return };
        let report = (i64::from(block.cumulative_lost), block.highest_seq);
        let Ok(mut state) = self.0.lock() else { return };
        state.controller.set_sent_kbps(sent_kbps.0, sent_kbps.1);
        // Over at least [`SPAN`] packets: a report every 10 ms covers a handful, and packets
        // still on their way (reordered by jitter) would count as lost.
        let spanned = state.last.is_none_or(|(_, highest)| report.1 >= highest.saturating_add(SPAN));
        let loss = state.last.filter(|_| spanned).and_then(|before| loss_between(before, report));
        if spanned {
            state.last = Some(report);
        }
        if let Some(loss) = loss {
            let target = state.controller.on_report(Instant::now(), loss, rtt_ms);
            tracing::trace!(loss, rtt_ms, target, "receiver report");
        }
    }

    pub(super) fn target(&self) -> Option<(u32, RateReason)> {
        let state = self.0.lock().ok()?;
        Some((state.controller.target_kbps(), state.controller.reason().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loss_between_two_reports_is_what_was_lost_of_what_was_expected() {
        assert_eq!(loss_between((10, 1000), (20, 1100)), Some(0.1));
        assert_eq!(loss_between((10, 1000), (10, 1000)), None, "no new report");
        assert_eq!(loss_between((10, 1000), (5, 1100)), Some(0.0), "duplicates counted against loss");
        assert_eq!(loss_between((10, 1000), (10, 900)), None, "an older report");
    }
}
