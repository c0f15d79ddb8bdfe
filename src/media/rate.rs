//! Rate adaptation: the bitrate a leg's path carries, from the receiver reports of the place
//! (RFC 3550 loss between two reports, and the round trip). A thin link shows as a queue: the
//! round trip (its lowest over the last 0.2 s and three reports, so that jitter alone does not
//! count) grows well past its minimum of the last 30 s, and the rate comes down by 15 %.
//! Loss alone lowers it only past 25 % (in proportion, like the loss half of Google
//! Congestion Control, whose 10 % threshold assumes no repair: retransmission and FEC carry a
//! call through random loss below that, and a lower rate would only blur the picture). Under
//! 2 % lost and no queue, the rate climbs back by 15 % a second, and by 25 % once past what
//! the path last carried (a link that got better: back to the configured rate within
//! seconds). The round trip counts the queue on the place's way to us too, which our rate
//! cannot drain: it is taken off (`transit.rs`). What the place received since its last
//! report (the delivered rate)
//! is what a thin link carries: a queue or heavy loss lowers the rate to just under it at
//! once, as Google Congestion Control does, and the climb slows to 8 % a second near it, so
//! that it probes the link instead of flooding its queue (a 15 % step over a 1 Mbit/s cap
//! filled the queue within a second, and the picture froze for three). The queue is judged on
//! every report (loss only on enough packets), and a queue that drains after a lowering does
//! not lower the rate again. Between the configured floor and the configured rate. Pure:
//! instants are passed in.

use std::time::{Duration, Instant};

use super::transit::DelayFloor;

/// Why the target is what it is, for `status`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateReason {
    /// The configured rate: the path carries it.
    Configured,
    /// Lowered: the place lost this share (%) of our packets.
    Loss { percent: f64 },
    /// Lowered: the round trip grew from its recent minimum (a queue at a thin link).
    Delay { rtt_ms: f64, baseline_ms: f64 },
    /// Climbing back after the path cleared.
    Recovering,
}

impl std::fmt::Display for RateReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RateReason::Configured => write!(f, "configured rate"),
            RateReason::Loss { percent } => write!(f, "lowered: {percent:.0} % loss"),
            RateReason::Delay { rtt_ms, baseline_ms } => {
                write!(f, "lowered: round trip {rtt_ms:.0} ms (was {baseline_ms:.0} ms)")
            }
            RateReason::Recovering => write!(f, "recovering"),
        }
    }
}

/// Loss past this lowers the rate.
pub const HIGH_LOSS: f64 = 0.25;
const LOW_LOSS: f64 = 0.02;
/// A round trip this much above its recent minimum means a queue is building.
const QUEUE_MS: f64 = 40.0;
const JITTER_MARGIN: f64 = 3.0;
const DELAY_BACKOFF: f64 = 0.85;
const CLIMB: f64 = 1.15;
/// The climb with no carried rate to respect: the path carried more than it did before.
const FREE_CLIMB: f64 = 1.25;
/// The climb near the rate the path last carried: from [`NEAR`] of it up to [`PAST`] of it
/// (what got through is measured low: resent packets and the sound are not in it).
const CAREFUL_CLIMB: f64 = 1.08;
const NEAR: f64 = 0.85;
const PAST: f64 = 1.3;
/// A lowering goes to this share of what was delivered.
const UNDER_DELIVERED: f64 = 0.9;
const CLIMB_EVERY: Duration = Duration::from_secs(1);
/// One climb counts at most this long since the last (a report after a silence is no reason to
/// leap).
const MAX_CLIMB_SPAN: Duration = Duration::from_millis(1500);
/// A lowering needs a report that reflects it: no two within this time.
const LOWER_EVERY: Duration = Duration::from_millis(500);
/// A queue this share of the last lowering's, within [`DRAIN_WAIT`] of it, is draining.
const DRAINING: f64 = 0.9;
const DRAIN_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub struct RateController {
    floor: u32,
    ceiling: u32,
    target: u32,
    reason: RateReason,
    last_lowered: Option<Instant>,
    last_climbed: Option<Instant>,
    /// The round trips observed: the current one is their minimum lately (`transit.rs`), the
    /// baseline over 30 s.
    rtts: DelayFloor,
    /// What we send now (kbit/s): video (retransmissions included) and the rest on the path.
    sent_kbps: Option<(f64, f64)>,
    /// The video the place received between its last two reports (kbit/s).
    delivered_kbps: Option<f64>,
    /// What the path delivered when it last could not carry more: the climb slows near it.
    carried: Option<f64>,
    /// The queue on the place's way to us (ms): the round trip counts it, our rate does not.
    incoming_queue_ms: f64,
    /// The queue (ms) and the round trip (ms) when the rate was last lowered.
    lowered_for_queue_ms: f64,
    lowered_at_rtt_ms: f64,
    /// The path's jitter (ms, RFC 3550, as we measure the place's packets): a round trip this
    /// jittery crosses [`QUEUE_MS`] by chance, so the threshold grows by [`JITTER_MARGIN`] of it.
    jitter_ms: f64,
}

impl RateController {
    /// Starts at the configured rate `ceiling_kbps`; never goes below `floor_kbps`.
    pub fn new(floor_kbps: u32, ceiling_kbps: u32) -> Self {
        let ceiling = ceiling_kbps.max(1);
        Self {
            floor: floor_kbps.min(ceiling),
            ceiling,
            target: ceiling,
            reason: RateReason::Configured,
            last_lowered: None,
            last_climbed: None,
            rtts: DelayFloor::default(),
            sent_kbps: None,
            delivered_kbps: None,
            carried: None,
            incoming_queue_ms: 0.0,
            lowered_for_queue_ms: 0.0,
            lowered_at_rtt_ms: 0.0,
            jitter_ms: 0.0,
        }
    }

    pub fn target_kbps(&self) -> u32 {
        self.target
    }

    pub fn reason(&self) -> &RateReason {
        &self.reason
    }

    /// What we send now (kbit/s), video and the rest (sound): heavy loss then lowers the rate to
    /// what got through.
    pub fn set_sent_kbps(&mut self, video: f64, other: f64) {
        self.sent_kbps = Some((video, other));
    }

    /// The video the place received between its last two reports (kbit/s), if known.
    pub fn set_delivered_kbps(&mut self, kbps: Option<f64>) {
        self.delivered_kbps = kbps.filter(|k| k.is_finite() && *k >= 0.0);
    }

    /// The queue on the place's way to us (ms, `transit.rs`), if known.
    pub fn set_incoming_queue_ms(&mut self, ms: Option<f64>) {
        self.incoming_queue_ms = ms.filter(|m| m.is_finite() && *m >= 0.0).unwrap_or(0.0);
    }

    /// The path's jitter (ms) as measured on the place's packets, if known.
    pub fn set_jitter_ms(&mut self, ms: Option<f64>) {
        self.jitter_ms = ms.filter(|m| m.is_finite() && *m >= 0.0).unwrap_or(0.0);
    }

    /// A round trip (ms) from a report that [`Self::on_report`] is not given (its loss spans
    /// too few packets): the queue is judged on every report, the loss on enough of them (at
    /// 2 Mbit/s a hundred packets take half a second, and a thin link's queue is full in a
    /// quarter). Returns the new target (kbit/s).
    pub fn observe_rtt(&mut self, now: Instant, latest_ms: f64) -> u32 {
        self.record_rtt(now, latest_ms);
        let baseline = self.baseline(now);
        if let Some(queue) = self.queue(baseline) {
            self.lower_for_queue(now, queue, queue_now(baseline, Some(latest_ms - self.incoming_queue_ms)));
        }
        self.target
    }

    /// A queue (round trip and baseline, ms) of `queue_ms` lowers the rate, unless the last
    /// lowering's queue is still draining: the round trip says so only a round trip after the
    /// rate came down, and lowering again for the same queue took a 1 Mbit/s cap's rate to a
    /// third of it, and its climb back past ten seconds.
    fn lower_for_queue(&mut self, now: Instant, (rtt_ms, baseline_ms): (f64, f64), queue_ms: f64) {
        let draining = self.last_lowered.is_some_and(|t| now.saturating_duration_since(t) < DRAIN_WAIT)
            && queue_ms < DRAINING * self.lowered_for_queue_ms;
        if self.may_lower(now) && !draining {
            self.lower(now, DELAY_BACKOFF, RateReason::Delay { rtt_ms, baseline_ms });
            self.under(self.delivered_kbps, queue_ms);
        }
    }

    fn record_rtt(&mut self, now: Instant, rtt_ms: f64) {
        if rtt_ms.is_finite() && rtt_ms >= 0.0 {
            self.rtts.record(now, rtt_ms);
        }
    }

    /// The current round trip of our way out (the queue on the way in taken off) and its
    /// baseline (ms).
    fn baseline(&self, now: Instant) -> Option<(f64, f64)> {
        let incoming = self.incoming_queue_ms;
        self.rtts.current_and_floor(now).map(|(current, base)| ((current - incoming).max(base), base))
    }

    /// The round trip and its baseline when they show a queue.
    fn queue(&self, baseline: Option<(f64, f64)>) -> Option<(f64, f64)> {
        baseline.filter(|(rtt, base)| *rtt > base + self.queue_ms())
    }

    /// No lowering before the last can show in a report: [`LOWER_EVERY`], or two round trips
    /// of the last lowering's on a long one (the lower rate reaches the place's queue a trip
    /// later and its report comes back one more; the encoder takes a few frames too).
    fn may_lower(&self, now: Instant) -> bool {
        let trips = Duration::from_secs_f64(2.0 * self.lowered_at_rtt_ms.clamp(0.0, 1000.0) / 1000.0);
        let wait = LOWER_EVERY.max(trips);
        self.last_lowered.is_none_or(|t| now.saturating_duration_since(t) >= wait)
    }

    /// A new receiver report: the share of our packets lost since the last one (0–1) and the
    /// round trip (ms), if known. Returns the new target (kbit/s).
    pub fn on_report(&mut self, now: Instant, loss: f64, rtt_ms: Option<f64>) -> u32 {
        let loss = if loss.is_finite() { loss.clamp(0.0, 1.0) } else { 0.0 };
        let rtt_ms = rtt_ms.filter(|r| r.is_finite() && *r >= 0.0);
        // Our way out only: the queue on the way in is taken off the round trip.
        if let Some(rtt) = rtt_ms {
            self.record_rtt(now, rtt);
        }
        let baseline = self.baseline(now);
        let latest = rtt_ms.map(|rtt| rtt - self.incoming_queue_ms);
        let may_lower = self.may_lower(now);
        if loss > HIGH_LOSS {
            if may_lower {
                self.lower(now, 1.0 - 0.5 * loss, RateReason::Loss { percent: loss * 100.0 });
                // What got through is what the path carries: straight there, not step by step,
                // leaving room for the sound that shares the path.
                let got_through = self.delivered_kbps.or_else(|| {
                    let (video, other) = self.sent_kbps.filter(|(v, o)| v.is_finite() && o.is_finite() && *v > 0.0)?;
                    Some(((video + other) * (1.0 - loss) - other).max(0.0))
                });
                self.under(got_through, queue_now(baseline, latest));
            }
        } else if let Some(queue) = self.queue(baseline) {
            self.lower_for_queue(now, queue, queue_now(baseline, latest));
        } else if loss < LOW_LOSS && self.target < self.ceiling && !self.queue_growing(baseline, latest) {
            let since = self.last_climbed.or(self.last_lowered);
            let waited = since.map_or(CLIMB_EVERY, |t| now.saturating_duration_since(t));
            if waited >= CLIMB_EVERY {
                // The first step after a lowering is one step, whenever it comes.
                let span = if self.last_climbed.is_some() { waited.min(MAX_CLIMB_SPAN) } else { CLIMB_EVERY };
                let target = f64::from(self.target);
                let per_second = match self.carried {
                    None => FREE_CLIMB,
                    Some(carried) if target >= NEAR * carried => CAREFUL_CLIMB,
                    Some(_) => CLIMB,
                };
                // A share a second, however far apart the reports that let it climb are (a
                // thin link's come every 0.45 s, so a step came only every 1.35 s).
                let climbed = target * per_second.powf(span.as_secs_f64());
                if self.carried.is_some_and(|c| climbed > PAST * c) {
                    // Well past it without trouble: the path got better.
                    self.carried = None;
                }
                self.target = (climbed.ceil() as u32).min(self.ceiling);
                self.last_climbed = Some(now);
                self.reason = if self.target == self.ceiling { RateReason::Configured } else { RateReason::Recovering };
            }
        }
        self.target
    }

    /// The latest round trip already well above the baseline: a queue is forming, not yet long
    /// enough to lower the rate, but climbing would only fill it.
    fn queue_growing(&self, baseline: Option<(f64, f64)>, latest: Option<f64>) -> bool {
        matches!((baseline, latest), (Some((_, base)), Some(rtt)) if rtt > base + self.queue_ms() / 2.0)
    }

    /// How far above its baseline the round trip means a queue.
    fn queue_ms(&self) -> f64 {
        QUEUE_MS + JITTER_MARGIN * self.jitter_ms
    }

    /// After a lowering: no more than just under what got through, which the path is known to
    /// carry, and far enough under it that a queue of `queue_ms` drains within about a second
    /// (a 350 ms queue at 90 % of the link took seven).
    fn under(&mut self, got_through: Option<f64>, queue_ms: f64) {
        self.lowered_for_queue_ms = queue_ms;
        if let Some(delivered) = got_through {
            self.carried = Some(delivered);
            let queue_s = queue_ms.max(0.0) / 1000.0;
            let under = (delivered * (1.0 - queue_s).clamp(0.5, UNDER_DELIVERED)) as u32;
            self.target = self.target.min(under).clamp(self.floor, self.ceiling);
        }
    }

    fn lower(&mut self, now: Instant, factor: f64, reason: RateReason) {
        self.lowered_at_rtt_ms = self.rtts.latest_ms().unwrap_or(0.0);
        self.target = ((f64::from(self.target) * factor) as u32).clamp(self.floor, self.ceiling);
        self.reason = reason;
        self.last_lowered = Some(now);
        self.last_climbed = None;
    }
}

/// The queue to drain after a lowering (ms): the latest round trip's if longer than the
/// current one (a queue is judged on a few reports, but once it counts, the latest says how
/// full it is; jitter's spikes of tens of ms change nothing, see [`UNDER_DELIVERED`]).
fn queue_now(baseline: Option<(f64, f64)>, latest: Option<f64>) -> f64 {
    baseline.map_or(0.0, |(current, base)| current.max(latest.unwrap_or(current)) - base)
}

#[cfg(test)]
#[path = "rate_tests.rs"]
mod tests;
