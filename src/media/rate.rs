//! Rate adaptation: the bitrate a leg's path carries, from the receiver reports of the place
//! (RFC 3550 loss between two reports, and the round trip). A thin link shows as a queue: the
//! round trip (its lowest over the last 1.5 s, so that jitter alone does not count) grows well
//! past its minimum of the last 30 s, and the rate comes down by 15 %. Loss alone lowers it
//! only past 25 % (in proportion, like the loss half of Google Congestion Control, whose 10 %
//! threshold assumes no repair: retransmission and FEC carry a call through random loss
//! below that, and a lower rate would only blur the picture). Under 2 % lost and no queue,
//! the rate climbs back by 15 % a second. Between the configured floor and the configured
//! rate. Pure: instants are passed in.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

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

const HIGH_LOSS: f64 = 0.25;
const LOW_LOSS: f64 = 0.02;
/// A round trip this much above its recent minimum means a queue is building.
const QUEUE_MS: f64 = 40.0;
const DELAY_BACKOFF: f64 = 0.85;
const CLIMB: f64 = 1.15;
const CLIMB_EVERY: Duration = Duration::from_secs(1);
/// A lowering needs a report that reflects it: no two within this time.
const LOWER_EVERY: Duration = Duration::from_millis(500);
/// The round trip's baseline is its minimum over this long...
const BASELINE_WINDOW: Duration = Duration::from_secs(30);
/// ...and the current round trip the minimum over this long (jitter comes and goes; a queue
/// stays).
const CURRENT_WINDOW: Duration = Duration::from_millis(1500);

#[derive(Debug)]
pub struct RateController {
    floor: u32,
    ceiling: u32,
    target: u32,
    reason: RateReason,
    last_lowered: Option<Instant>,
    last_climbed: Option<Instant>,
    rtts: VecDeque<(Instant, f64)>,
    /// What we send now (kbit/s): video (retransmissions included) and the rest on the path.
    sent_kbps: Option<(f64, f64)>,
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
            rtts: VecDeque::new(),
            sent_kbps: None,
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

    /// A new receiver report: the share of our packets lost since the last one (0–1) and the
    /// round trip (ms), if known. Returns the new target (kbit/s).
    pub fn on_report(&mut self, now: Instant, loss: f64, rtt_ms: Option<f64>) -> u32 {
        let loss = if loss.is_finite() { loss.clamp(0.0, 1.0) } else { 0.0 };
        let baseline = rtt_ms.filter(|r| r.is_finite() && *r >= 0.0).and_then(|rtt| self.baseline(now, rtt));
        let may_lower = self.last_lowered.is_none_or(|t| now.saturating_duration_since(t) >= LOWER_EVERY);
        if loss > HIGH_LOSS {
            if may_lower {
                self.lower(now, 1.0 - 0.5 * loss, RateReason::Loss { percent: loss * 100.0 });
                // What got through is what the path carries: straight there, not step by step,
                // leaving room for the sound that shares the path.
                if let Some((video, other)) = self.sent_kbps.filter(|(v, o)| v.is_finite() && o.is_finite() && *v > 0.0)
                {
                    let delivered = ((video + other) * (1.0 - loss) * 0.95 - other).max(0.0) as u32;
                    self.target = self.target.min(delivered).clamp(self.floor, self.ceiling);
                }
            }
        } else if let Some((rtt_ms, baseline_ms)) = baseline.filter(|(rtt, base)| *rtt > base + QUEUE_MS) {
            if may_lower {
                self.lower(now, DELAY_BACKOFF, RateReason::Delay { rtt_ms, baseline_ms });
            }
        } else if loss < LOW_LOSS && self.target < self.ceiling {
            let since = self.last_climbed.or(self.last_lowered);
            if since.is_none_or(|t| now.saturating_duration_since(t) >= CLIMB_EVERY) {
                self.target = ((f64::from(self.target) * CLIMB).ceil() as u32).min(self.ceiling);
                self.last_climbed = Some(now);
                self.reason = if self.target == self.ceiling { RateReason::Configured } else { RateReason::Recovering };
            }
        }
        self.target
    }

    fn lower(&mut self, now: Instant, factor: f64, reason: RateReason) {
        self.target = ((f64::from(self.target) * factor) as u32).clamp(self.floor, self.ceiling);
        self.reason = reason;
        self.last_lowered = Some(now);
        self.last_climbed = None;
    }

    /// Records `rtt` and returns the current round trip with the baseline.
    fn baseline(&mut self, now: Instant, rtt: f64) -> Option<(f64, f64)> {
        self.rtts.push_back((now, rtt));
        while self.rtts.front().is_some_and(|(t, _)| now.saturating_duration_since(*t) > BASELINE_WINDOW) {
            self.rtts.pop_front();
        }
        let min_since = |window: Duration| {
            let recent = self.rtts.iter().filter(|(t, _)| now.saturating_duration_since(*t) <= window);
            recent.map(|(_, r)| *r).fold(f64::INFINITY, f64::min)
        };
        let (current, base) = (min_since(CURRENT_WINDOW), min_since(BASELINE_WINDOW));
        (current.is_finite() && base.is_finite()).then_some((current, base))
    }
}

#[cfg(test)]
#[path = "rate_tests.rs"]
mod tests;
