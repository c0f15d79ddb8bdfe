//! LED blink timing: whether the LED is lit at an instant for each [`LedPattern`], and when it
//! next changes. Pure, so the patterns are tested with explicit instants; adapters only switch
//! a line on and off at [`LedTiming::next_change`].

use std::time::{Duration, Instant};

use crate::meeting::LedPattern;

/// (on, off) phases of one period, starting lit.
fn phases(pattern: LedPattern) -> &'static [u64] {
    match pattern {
        LedPattern::Off => &[],
        LedPattern::Solid => &[],
        // 1 Hz: calling or ringing.
        LedPattern::SlowBlink => &[500, 500],
        // 4 Hz: an error.
        LedPattern::FastBlink => &[125, 125],
        // A double flash once a second: muted, distinct from every other pattern.
        LedPattern::Muted => &[100, 100, 100, 700],
        // Lit with a short dark gap every 2 s: in a meeting, but a place has gone quiet.
        LedPattern::Interrupted => &[1800, 200],
    }
}

/// A pattern shown since `since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedTiming {
    pub pattern: LedPattern,
    pub since: Instant,
}

impl LedTiming {
    /// Whether the LED is lit at `now`.
    pub fn lit(&self, now: Instant) -> bool {
        match self.pattern {
            LedPattern::Off => false,
            LedPattern::Solid => true,
            pattern => self.phase_at(phases(pattern), now).0.is_multiple_of(2),
        }
    }

    /// When the LED next changes (none for steady patterns).
    pub fn next_change(&self, now: Instant) -> Option<Instant> {
        let p = phases(self.pattern);
        if p.is_empty() {
            return None;
        }
        let (_, left) = self.phase_at(p, now);
        Some(now + left)
    }

    /// The index of the phase at `now` and the time left in it.
    fn phase_at(&self, phases: &[u64], now: Instant) -> (usize, Duration) {
        let period: u64 = phases.iter().sum();
        let mut t = (now.saturating_duration_since(self.since).as_millis() as u64) % period;
        for (i, len) in phases.iter().enumerate() {
            if t < *len {
                return (i, Duration::from_millis(len - t));
            }
            t -= len;
        }
        (0, Duration::from_millis(phases[0]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit_at(pattern: LedPattern, offsets_ms: &[u64]) -> Vec<bool> {
        let t0 = Instant::now();
        let led = LedTiming { pattern, since: t0 };
        offsets_ms.iter().map(|ms| led.lit(t0 + Duration::from_millis(*ms))).collect()
    }

    #[test]
    fn steady_patterns_never_change() {
        let t0 = Instant::now();
        assert_eq!(lit_at(LedPattern::Off, &[0, 700]), vec![false, false]);
        assert_eq!(lit_at(LedPattern::Solid, &[0, 700]), vec![true, true]);
        assert_eq!(LedTiming { pattern: LedPattern::Solid, since: t0 }.next_change(t0), None);
    }

    #[test]
    fn slow_blink_is_one_hertz_and_fast_blink_four() {
        assert_eq!(lit_at(LedPattern::SlowBlink, &[0, 499, 500, 999, 1000]), vec![true, true, false, false, true]);
        assert_eq!(lit_at(LedPattern::FastBlink, &[0, 124, 125, 250]), vec![true, true, false, true]);
        assert_eq!(lit_at(LedPattern::Interrupted, &[0, 1799, 1800, 1999, 2000]), vec![true, true, false, false, true]);
    }

    #[test]
    fn muted_is_a_double_flash_each_second() {
        assert_eq!(
            lit_at(LedPattern::Muted, &[50, 150, 250, 350, 900, 1050]),
            vec![true, false, true, false, false, true]
        );
    }

    #[test]
    fn the_next_change_is_the_end_of_the_current_phase() {
        let t0 = Instant::now();
        let led = LedTiming { pattern: LedPattern::SlowBlink, since: t0 };
        assert_eq!(led.next_change(t0 + Duration::from_millis(200)), Some(t0 + Duration::from_millis(500)));
        assert_eq!(led.next_change(t0 + Duration::from_millis(700)), Some(t0 + Duration::from_millis(1000)));
    }
}
