//! The round trip to a place as retransmission needs it: one receiver report's round trip is
//! a single sample, and on a path with jitter samples of the same path range from a few ms to
//! twice the mean. Smoothed as TCP does (RFC 6298: a mean and a mean deviation), it tells how
//! long a retransmission usually takes and how long one may take at worst. Pure.

/// The weights of a new sample in the mean and in the deviation (RFC 6298's alpha and beta).
const MEAN_GAIN: f64 = 1.0 / 8.0;
const DEVIATION_GAIN: f64 = 1.0 / 4.0;

/// A smoothed round trip, in ms.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RoundTrip {
    /// None until the first sample.
    smoothed: Option<(f64, f64)>,
}

impl RoundTrip {
    /// Takes one measured round trip (ms); a sample that is not a time is ignored.
    pub fn sample(&mut self, rtt_ms: f64) {
        if !rtt_ms.is_finite() || rtt_ms < 0.0 {
            return;
        }
        self.smoothed = Some(match self.smoothed {
            None => (rtt_ms, rtt_ms / 2.0),
            Some((mean, deviation)) => {
                let deviation = (1.0 - DEVIATION_GAIN) * deviation + DEVIATION_GAIN * (mean - rtt_ms).abs();
                ((1.0 - MEAN_GAIN) * mean + MEAN_GAIN * rtt_ms, deviation)
            }
        });
    }

    /// The usual round trip: the mean, and one deviation more (ms). None before any sample.
    pub fn usual_ms(&self) -> Option<f64> {
        self.smoothed.map(|(mean, deviation)| mean + deviation)
    }

    /// The longest a round trip will take but rarely: the mean and four deviations (RFC
    /// 6298's retransmission timeout, without its one-second floor). None before any sample.
    pub fn longest_ms(&self) -> Option<f64> {
        self.smoothed.map(|(mean, deviation)| mean + 4.0 * deviation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_known_before_the_first_sample_and_nonsense_is_no_sample() {
        let mut rt = RoundTrip::default();
        assert_eq!(rt.usual_ms(), None);
        rt.sample(f64::NAN);
        rt.sample(-3.0);
        assert_eq!(rt.longest_ms(), None);
        rt.sample(10.0);
        assert_eq!((rt.usual_ms(), rt.longest_ms()), (Some(15.0), Some(30.0)), "a first sample, half of it unsure");
    }

    #[test]
    fn a_steady_path_settles_on_its_round_trip() {
        let mut rt = RoundTrip::default();
        for _ in 0..100 {
            rt.sample(0.4);
        }
        assert!((rt.usual_ms().unwrap() - 0.4).abs() < 0.01, "{rt:?}");
        assert!((rt.longest_ms().unwrap() - 0.4).abs() < 0.01, "{rt:?}");
    }

    #[test]
    fn a_jittery_path_keeps_room_for_its_slow_round_trips() {
        // Round trips spread evenly over 5..65 ms (30 ms of jitter each way), in a shuffled order.
        let mut rt = RoundTrip::default();
        let mut seed = 7u32;
        let mut samples = Vec::new();
        for _ in 0..2000 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let rtt = 5.0 + f64::from(seed >> 16) / 65535.0 * 60.0;
            samples.push(rtt);
            rt.sample(rtt);
        }
        let (usual, longest) = (rt.usual_ms().unwrap(), rt.longest_ms().unwrap());
        assert!((35.0..65.0).contains(&usual), "usual {usual}");
        let beyond = samples.iter().filter(|s| **s > longest).count();
        assert!(beyond * 20 < samples.len(), "longest {longest} leaves {beyond} of {} beyond it", samples.len());
    }
}
