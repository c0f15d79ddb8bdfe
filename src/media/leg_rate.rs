//! A leg's rate adaptation at run time: the place's reports on our video (`rtcp_blocks.rs`)
//! turned into the loss between two reports for the pure controller
//! (`rate.rs`). The room's one encoder then follows the lowest target of its legs.

use std::sync::Mutex;
use std::time::Instant;

use super::rate::{RateController, RateReason};
use super::rtcp_blocks::ReportBlock;

pub(super) struct LegRate(Mutex<State>);

/// A report of the place on our video as it arrived, with the round trip it shows (ms).
#[derive(Debug, Clone, Copy)]
pub(super) struct TimedReport {
    pub block: ReportBlock,
    pub at: Instant,
    pub rtt_ms: Option<f64>,
}

/// The fewest packets the loss fed to the controller is measured over, or [`SHORT_SPAN`]
/// once [`SPAN_TIME`] has passed (a thin link carries 100 packets only every few seconds, and
/// the rate would climb back that slowly). Under the controller's climbing step (1 s), so that
/// it can climb every second.
const SPAN: u32 = 100;
const SHORT_SPAN: u32 = 20;
const SPAN_TIME: std::time::Duration = std::time::Duration::from_millis(450);
/// The fewest packets the delivered rate is measured over: a queue is judged on every report,
/// and lowered to what got through lately (a hundred packets took half a second at 2 Mbit/s,
/// longer than a thin link's queue takes to fill).
const DELIVERED_SPAN: u32 = 30;

struct State {
    controller: RateController,
    /// The last report used: packets lost in all, highest sequence number, and when.
    last: Option<(i64, u32, Instant)>,
    /// The report that began the current span of [`SPAN`] packets (lost, highest).
    long: Option<(i64, u32)>,
    /// The report the delivered rate is measured from (lost, highest, when).
    delivered_from: Option<(i64, u32, Instant)>,
}

/// Whether a report at `now` covering `highest` spans enough since the last one used.
fn spans(last: Option<(i64, u32, Instant)>, highest: u32, now: Instant) -> bool {
    last.is_none_or(|(_, before, at)| {
        let packets = highest.saturating_sub(before);
        packets >= SPAN || (packets >= SHORT_SPAN && now.saturating_duration_since(at) >= SPAN_TIME)
    })
}

/// The share lost between two reports: newly lost over newly expected (0 when nothing new).
pub fn loss_between(before: (i64, u32), now: (i64, u32)) -> Option<f64> {
    let expected = i64::from(now.1.wrapping_sub(before.1));
    if now.1 <= before.1 || expected > 1 << 20 {
        return None;
    }
    Some(((now.0 - before.0) as f64 / expected as f64).clamp(0.0, 1.0))
}

/// What the place received between two reports `seconds` apart (kbit/s), for packets of
/// `packet_bits` on average: newly expected less newly lost.
pub fn delivered_kbps(before: (i64, u32), now: (i64, u32), seconds: f64, packet_bits: f64) -> Option<f64> {
    let expected = now.1.checked_sub(before.1).filter(|e| *e > 0 && *e < 1 << 20)?;
    let received = (i64::from(expected) - (now.0 - before.0)).max(0) as f64;
    (seconds > 0.0 && packet_bits.is_finite() && packet_bits > 0.0).then(|| received * packet_bits / seconds / 1000.0)
}

impl LegRate {
    pub(super) fn new(floor_kbps: u32, ceiling_kbps: u32) -> Self {
        Self(Mutex::new(State {
            controller: RateController::new(floor_kbps, ceiling_kbps),
            last: None,
            long: None,
            delivered_from: None,
        }))
    }

    /// Feeds the place's reports on our video since the last tick, in the order they arrived
    /// (each may change the target), with the session's round trip for those that show none,
    /// what we send (video and the rest, kbit/s), the average size of our video packets (bits),
    /// the queue on the place's way to us (ms, `transit.rs`) and the jitter of its packets (ms).
    pub(super) fn on_reports(
        &self,
        reports: &[TimedReport],
        session_rtt_ms: Option<f64>,
        sent_kbps: (f64, f64),
        video_packet_bits: Option<f64>,
        incoming_queue_ms: Option<f64>,
        jitter_ms: Option<f64>,
    ) {
        let Ok(mut state) = self.0.lock() else { return };
        state.controller.set_sent_kbps(sent_kbps.0, sent_kbps.1);
        state.controller.set_incoming_queue_ms(incoming_queue_ms);
        state.controller.set_jitter_ms(jitter_ms);
        for report in reports {
            state.on_report(report.block, report.at, report.rtt_ms.or(session_rtt_ms), video_packet_bits);
        }
    }

    /// What the path carries now (kbit/s), 0 if unknown.
    pub(super) fn target_kbps(&self) -> u32 {
        self.target().map_or(0, |(kbps, _)| kbps)
    }

    pub(super) fn target(&self) -> Option<(u32, RateReason)> {
        let state = self.0.lock().ok()?;
        Some((state.controller.target_kbps(), state.controller.reason().clone()))
    }
}

impl State {
    /// One report (timed by its arrival: the delivered rate is measured between two).
    fn on_report(&mut self, block: ReportBlock, now: Instant, rtt_ms: Option<f64>, video_packet_bits: Option<f64>) {
        let report = (i64::from(block.cumulative_lost), block.highest_seq);
        // Over a span (see `spans`): a report every 10 ms covers a handful, and packets still
        // on their way (reordered by jitter) would count as lost.
        let spanned = spans(self.last, report.1, now);
        // Heavy loss is judged over [`SPAN`] packets: fewer tell little loss from some, but not
        // heavy loss from an unlucky run of random loss.
        let begun = *self.long.get_or_insert(report);
        let complete = report.1 >= begun.1.saturating_add(SPAN);
        if complete {
            self.long = Some(report);
        }
        let long_loss = complete.then(|| loss_between(begun, report)).flatten();
        let loss = self.last.filter(|_| spanned).and_then(|(lost, highest, _)| loss_between((lost, highest), report));
        let from = *self.delivered_from.get_or_insert((report.0, report.1, now));
        if report.1 >= from.1.saturating_add(DELIVERED_SPAN) {
            let seconds = now.saturating_duration_since(from.2).as_secs_f64();
            let delivered = video_packet_bits.and_then(|bits| delivered_kbps((from.0, from.1), report, seconds, bits));
            self.controller.set_delivered_kbps(delivered);
            self.delivered_from = Some((report.0, report.1, now));
        }
        if spanned {
            self.last = Some((report.0, report.1, now));
        }
        let judged = long_loss.or(loss.map(|l| l.min(super::rate::HIGH_LOSS)));
        if let Some(loss) = judged {
            let target = self.controller.on_report(now, loss, rtt_ms);
            tracing::trace!(loss, rtt_ms, target, "receiver report");
        } else if let Some(rtt) = rtt_ms {
            // A report on too few packets still says how long the round trip is.
            let target = self.controller.observe_rtt(now, rtt);
            tracing::trace!(rtt_ms = rtt, target, "receiver report on a few packets");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_loss_between_two_reports_is_what_was_lost_of_what_was_expected() {
        assert_eq!(loss_between((10, 1000), (20, 1100)), Some(0.1));
        assert_eq!(loss_between((10, 1000), (10, 1000)), None, "no new report");
        assert_eq!(loss_between((10, 1000), (5, 1100)), Some(0.0), "duplicates counted against loss");
        assert_eq!(loss_between((10, 1000), (10, 900)), None, "an older report");
    }

    #[test]
    fn heavy_loss_lowers_the_rate_only_over_a_hundred_packets() {
        let rate = LegRate::new(200, 2000);
        let t0 = Instant::now();
        // 40 packets every half second, 16 of them lost (40 %).
        let report = |n: u32| {
            let block = ReportBlock {
                ssrc: 1,
                fraction_lost: 102,
                cumulative_lost: 16 * n as i32,
                highest_seq: 1000 + 40 * n,
                last_sr: 0,
                delay_since_sr: 0,
            };
            let at = t0 + Duration::from_millis(500 * u64::from(n));
            rate.on_reports(&[TimedReport { block, at, rtt_ms: None }], Some(1.0), (2000.0, 100.0), None, None, None);
            rate.target().unwrap().0
        };
        assert_eq!((report(0), report(1), report(2)), (2000, 2000, 2000), "80 packets: maybe an unlucky run");
        assert!(report(3) < 2000, "120 packets, 40 % of them lost");
    }

    #[test]
    fn every_report_since_the_last_tick_counts_with_its_own_round_trip() {
        let rate = LegRate::new(200, 2000);
        let t0 = Instant::now();
        let block = |n: u32, last_sr| ReportBlock {
            ssrc: 1,
            fraction_lost: 0,
            cumulative_lost: 0,
            highest_seq: 1000 + 10 * n,
            last_sr,
            delay_since_sr: 0,
        };
        let report = |n: u32, rtt_ms| TimedReport {
            block: block(n, 1),
            at: t0 + Duration::from_millis(100 * u64::from(n)),
            rtt_ms,
        };
        // A clean second, then a queue: one tick sees four reports, each on ten packets.
        let clean: Vec<TimedReport> = (0..10).map(|n| report(n, Some(1.0))).collect();
        rate.on_reports(&clean, Some(1.0), (2000.0, 80.0), Some(9600.0), None, None);
        assert_eq!(rate.target_kbps(), 2000);
        let queued: Vec<TimedReport> = (10..14).map(|n| report(n, Some(300.0))).collect();
        rate.on_reports(&queued, Some(1.0), (2000.0, 80.0), Some(9600.0), None, None);
        let (kbps, reason) = rate.target().unwrap();
        assert!(matches!(reason, RateReason::Delay { .. }), "the reports' round trips, not the session's: {reason:?}");
        assert!(kbps < 1000, "under the 960 kbit/s the last 30 packets carried: {kbps}");
    }

    #[test]
    fn what_was_delivered_is_what_was_expected_less_what_was_lost() {
        let kbps = delivered_kbps((10, 1000), (30, 1100), 0.5, 8000.0).unwrap();
        assert!((kbps - 1280.0).abs() < 1e-9, "80 packets of 1000 bytes in half a second: {kbps}");
        assert_eq!(delivered_kbps((10, 1000), (10, 1000), 1.0, 8000.0), None, "no new report");
        assert_eq!(delivered_kbps((10, 1000), (10, 1100), 0.0, 8000.0), None);
        assert_eq!(delivered_kbps((10, 1000), (10, 1100), 1.0, f64::NAN), None);
    }

    #[test]
    fn loss_is_measured_over_a_hundred_packets_or_twenty_and_most_of_a_second() {
        let t0 = Instant::now();
        let last = Some((0, 1000, t0));
        assert!(spans(None, 5, t0), "the first report");
        assert!(!spans(last, 1050, t0 + Duration::from_millis(300)));
        assert!(spans(last, 1100, t0 + Duration::from_millis(300)), "a hundred packets");
        assert!(spans(last, 1025, t0 + SPAN_TIME), "a thin link: twenty packets after 0.45 s");
        assert!(!spans(last, 1010, t0 + Duration::from_secs(5)), "too few packets to tell loss from reordering");
    }
}
