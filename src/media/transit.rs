//! How long the place's packets take to reach us, against the quickest lately: the queue on
//! the path *to us*. The round trip in RTCP counts both ways, and rate adaptation lowers what
//! we send only for the queue on our way out, so it takes this one off: with both rooms behind
//! a 1 Mbit/s cap, each lowered its rate for the other's queue and the link ran at half of what
//! it carries. Transit is arrival time less RTP timestamp (the sender's clock), so only its
//! changes mean anything. [`DelayFloor`] (a delay's recent minimum against its minimum of the
//! last 30 s) serves the round trip in `rate.rs` too. Pure: instants are passed in.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The quickest delay is kept per slice of this long...
const SLICE: Duration = Duration::from_millis(50);
/// ...for this long (the floor)...
const BASELINE_WINDOW: Duration = Duration::from_secs(30);
/// ...and the current delay is the quickest over this long and over the last
/// [`CURRENT_SAMPLES`] (when they span longer): jitter comes and goes, a queue stays. Reports
/// come every 16–160 ms (`repair.rs`), so the round trip has several; over 0.5 s a 1 Mbit/s
/// cap's queue was full, and the picture broken, before it counted (over 1.5 s it overflowed).
const CURRENT_WINDOW: Duration = Duration::from_millis(200);
const CURRENT_SAMPLES: usize = 3;
/// Samples older than this are no current delay, however few came since.
const STALE: Duration = Duration::from_secs(1);

/// A delay's quickest lately and its quickest of the last 30 s (ms).
#[derive(Debug, Default)]
pub struct DelayFloor {
    /// Each slice's start and its quickest delay.
    slices: VecDeque<(Instant, f64)>,
    /// The last [`CURRENT_SAMPLES`] delays and when they were measured.
    latest: VecDeque<(Instant, f64)>,
}

impl DelayFloor {
    /// A delay of `ms` measured at `now`.
    pub fn record(&mut self, now: Instant, ms: f64) {
        if self.latest.len() == CURRENT_SAMPLES {
            self.latest.pop_front();
        }
        self.latest.push_back((now, ms));
        match self.slices.back_mut() {
            Some((begun, quickest)) if now.saturating_duration_since(*begun) < SLICE => *quickest = quickest.min(ms),
            _ => self.slices.push_back((now, ms)),
        }
        while self.slices.front().is_some_and(|(t, _)| now.saturating_duration_since(*t) > BASELINE_WINDOW) {
            self.slices.pop_front();
        }
    }

    /// The latest delay (ms).
    pub fn latest_ms(&self) -> Option<f64> {
        self.latest.back().map(|(_, ms)| *ms)
    }

    /// The quickest lately (see [`CURRENT_WINDOW`]) and over the last 30 s; `None` when none
    /// came lately.
    pub fn current_and_floor(&self, now: Instant) -> Option<(f64, f64)> {
        let within = |t: &Instant, window: Duration| now.saturating_duration_since(*t) <= window;
        let quickest = |window: Duration| {
            self.slices.iter().filter(|(t, _)| within(t, window)).map(|(_, ms)| *ms).reduce(f64::min)
        };
        let latest = self.latest.iter().filter(|(t, _)| within(t, STALE)).map(|(_, ms)| *ms).reduce(f64::min);
        let current = match (quickest(CURRENT_WINDOW), latest) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some((current, quickest(BASELINE_WINDOW)?))
    }
}

#[derive(Debug)]
pub struct Transit {
    clock_rate: f64,
    /// The first arrival, the last timestamp and the timestamp extended past its wraps.
    start: Option<Instant>,
    last_ts: u32,
    extended_ts: i64,
    transits: DelayFloor,
}

/// The place's video: RTP's 90 kHz clock.
impl Default for Transit {
    fn default() -> Self {
        Self::new(90000)
    }
}

impl Transit {
    /// For a stream whose RTP clock runs at `clock_rate` Hz.
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate: f64::from(clock_rate.max(1)),
            start: None,
            last_ts: 0,
            extended_ts: 0,
            transits: DelayFloor::default(),
        }
    }

    /// A packet with RTP timestamp `ts` arrived at `now`.
    pub fn record(&mut self, now: Instant, ts: u32) {
        let first = self.start.is_none();
        let start = *self.start.get_or_insert(now);
        if first {
            self.extended_ts = i64::from(ts);
        } else {
            // Signed: a reordered packet steps back.
            self.extended_ts += i64::from(ts.wrapping_sub(self.last_ts) as i32);
        }
        self.last_ts = ts;
        let arrival_ms = now.saturating_duration_since(start).as_secs_f64() * 1000.0;
        self.transits.record(now, arrival_ms - self.extended_ts as f64 * 1000.0 / self.clock_rate);
    }

    /// How much longer than the quickest of the last 30 s packets take now (ms); `None` before
    /// any arrived or when none did lately.
    pub fn queue_ms(&self, now: Instant) -> Option<f64> {
        let (current, floor) = self.transits.current_and_floor(now)?;
        Some((current - floor).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    /// Video at 30 fps (3000 ticks of 90 kHz a frame) from `first_ts`, each frame delayed by
    /// `delay_ms(frame)` on the way.
    fn frames(t: &mut Transit, t0: Instant, first_ts: u32, count: u32, delay_ms: impl Fn(u32) -> u64) {
        for n in 0..count {
            let sent = MS(u64::from(n) * 100 / 3);
            t.record(t0 + sent + MS(delay_ms(n)), first_ts.wrapping_add(n * 3000));
        }
    }

    #[test]
    fn a_steady_path_has_no_queue_whatever_its_delay() {
        let mut t = Transit::new(90000);
        let t0 = Instant::now();
        frames(&mut t, t0, 1234, 90, |_| 40);
        assert!(t.queue_ms(t0 + MS(3000)).unwrap() < 1.0);
    }

    #[test]
    fn a_growing_delay_is_a_queue_and_it_drains_away() {
        let mut t = Transit::new(90000);
        let t0 = Instant::now();
        // A second at 5 ms, then a queue building to 150 ms over the next second.
        frames(&mut t, t0, 0, 60, |n| if n < 30 { 5 } else { 5 + u64::from(n - 30) * 5 });
        let queue = t.queue_ms(t0 + MS(2150)).unwrap();
        assert!((80.0..=150.0).contains(&queue), "the quickest of late: {queue}");
        for n in 60..120u32 {
            let delay = 150u64.saturating_sub(u64::from(n - 60) * 10).max(5);
            t.record(t0 + MS(u64::from(n) * 100 / 3 + delay), n * 3000);
        }
        assert!(t.queue_ms(t0 + MS(4000)).unwrap() < 1.0, "drained");
    }

    #[test]
    fn the_timestamp_wraps_and_reordering_step_back_without_a_false_queue() {
        let mut t = Transit::new(90000);
        let t0 = Instant::now();
        frames(&mut t, t0, u32::MAX - 30_000, 60, |n| if n % 7 == 3 { 30 } else { 10 });
        assert!(t.queue_ms(t0 + MS(2000)).unwrap() < 1.0, "across the wrap");
        t.record(t0 + MS(2010), (u32::MAX - 30_000).wrapping_add(58 * 3000));
        assert!(t.queue_ms(t0 + MS(2010)).unwrap() < 1.0, "an old packet arriving late is not a queue");
    }

    #[test]
    fn the_current_delay_is_the_quickest_of_the_last_fifth_of_a_second_or_of_three_samples() {
        let t0 = Instant::now();
        let mut often = DelayFloor::default();
        for n in 0..50u64 {
            often.record(t0 + MS(n * 20), if n < 40 { 5.0 } else { 90.0 });
        }
        assert_eq!(often.current_and_floor(t0 + MS(1000)), Some((90.0, 5.0)), "0.2 s of reports every 20 ms");
        let mut seldom = DelayFloor::default();
        for (n, ms) in [5.0, 5.0, 90.0, 90.0].into_iter().enumerate() {
            seldom.record(t0 + MS(n as u64 * 250), ms);
        }
        assert_eq!(seldom.current_and_floor(t0 + MS(750)), Some((5.0, 5.0)), "two high reports of three are jitter");
        seldom.record(t0 + MS(1000), 90.0);
        assert_eq!(seldom.current_and_floor(t0 + MS(1000)), Some((90.0, 5.0)), "three are a queue");
        assert_eq!(seldom.current_and_floor(t0 + MS(2500)), None, "old reports are no current delay");
    }

    #[test]
    fn nothing_arrived_lately_says_nothing() {
        let mut t = Transit::new(90000);
        let t0 = Instant::now();
        assert_eq!(t.queue_ms(t0), None);
        t.record(t0, 0);
        assert_eq!(t.queue_ms(t0 + MS(5000)), None);
    }
}
