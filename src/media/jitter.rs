//! The adaptive jitter buffer policy: as little delay as the network allows. The buffer grows
//! at once to cover the measured interarrival jitter (RFC 3550) and by half again whenever
//! packets came after their time (a delay spike, reordering, or a receiver whose CPU fell
//! behind: such packets are dropped, so they count as lost and break the picture); it shrinks
//! back gradually once the path has been calm for a while, within the configured bounds.
//! Pure; the pipeline applies it.

/// Bounds of the receive jitter buffer, in ms (equal bounds make it fixed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct JitterBounds {
    pub min_ms: u32,
    pub max_ms: u32,
}

/// How many jitter estimates of headroom to keep: RFC 3550 jitter is a mean deviation, and
/// about 4x covers nearly all late packets on a path with random delay.
const HEADROOM: f64 = 4.0;

/// What a retransmission needs beyond the round trips: the sender's lookup and the receiver
/// noticing the gap.
const REPAIR_MARGIN_MS: f64 = 5.0;

/// What a video jitter buffer that waits for retransmissions must leave room for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RepairRoom {
    /// The round trip a retransmission usually takes, and the longest it takes but rarely
    /// (`round_trip::RoundTrip`).
    pub usual_rtt_ms: f64,
    pub longest_rtt_ms: f64,
    /// Packets were lost lately: the last packet of a frame is only found missing when the
    /// next frame begins, and its request waits for the next RTCP slot, so the buffer then
    /// also holds two frame intervals.
    pub recent_loss: bool,
    pub frame_interval_ms: f64,
}

impl RepairRoom {
    /// How long to wait for a retransmission before asking again (ms): a usual round trip and
    /// the margin. Asking again early only costs a copy; asking late, when the request or the
    /// copy was lost, costs the frame.
    pub fn retry_ms(&self) -> f64 {
        finite(self.usual_rtt_ms) + REPAIR_MARGIN_MS
    }
}

fn finite(v: f64) -> f64 {
    if v.is_finite() { v.max(0.0) } else { 0.0 }
}

/// The bounds of a buffer that waits for retransmissions: room for a second request (when
/// the first or its copy was lost) after one retry wait, and for the slowest round trip of
/// its copy, plus two frame intervals while the path loses packets. A clean LAN (a round
/// trip under a millisecond, no loss) still settles at a few ms. Packets in order are never
/// held back by the buffer: only the frames behind a gap wait for its repair.
pub fn with_repair(bounds: JitterBounds, room: RepairRoom) -> JitterBounds {
    let frame = if room.recent_loss { 2.0 * finite(room.frame_interval_ms) } else { 0.0 };
    let second_copy = room.retry_ms() + finite(room.longest_rtt_ms).max(finite(room.usual_rtt_ms));
    let floor = (second_copy + REPAIR_MARGIN_MS + frame).ceil().min(f64::from(bounds.max_ms)) as u32;
    JitterBounds { min_ms: bounds.min_ms.max(floor), max_ms: bounds.max_ms }
}

/// Whether packets reached the buffer after their time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lateness {
    /// None lately: the buffer may shrink.
    None,
    /// Some within the last while (not since the last step): it holds its size.
    Lately,
    /// Some since the last step: it grows.
    Now,
}

/// How much a buffer grows at least when packets came late (ms).
const LATE_STEP_MS: u32 = 10;

/// The jitter buffer latency to use next, given the current one, the measured jitter and
/// whether packets came late.
pub fn next_latency_ms(current_ms: u32, jitter_ms: f64, late: Lateness, bounds: JitterBounds) -> u32 {
    let jitter_ms = if jitter_ms.is_finite() { jitter_ms.max(0.0) } else { 0.0 };
    let max = bounds.max_ms.max(bounds.min_ms);
    let grown = match late {
        Lateness::Now => current_ms.saturating_add((current_ms / 2).max(LATE_STEP_MS)),
        _ => 0,
    };
    let target = ((HEADROOM * jitter_ms).ceil() as u32).max(grown).clamp(bounds.min_ms, max);
    match late {
        _ if target >= current_ms => target,
        Lateness::Lately => current_ms.min(max),
        // Shrink by a quarter of the excess per step (at least 1 ms): no see-saw on a noisy path.
        _ => current_ms - ((current_ms - target) / 4).max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: JitterBounds = JitterBounds { min_ms: 2, max_ms: 200 };

    #[test]
    fn a_clean_path_gets_the_minimum() {
        assert_eq!(next_latency_ms(2, 0.05, Lateness::None, B), 2);
    }

    #[test]
    fn jitter_grows_the_buffer_at_once() {
        assert_eq!(next_latency_ms(2, 10.0, Lateness::None, B), 40);
        assert_eq!(next_latency_ms(2, 1000.0, Lateness::None, B), 200, "never past the maximum");
    }

    #[test]
    fn a_calm_path_shrinks_the_buffer_back_step_by_step() {
        let mut latency = 80;
        let mut steps = 0;
        while latency > 2 {
            let next = next_latency_ms(latency, 0.1, Lateness::None, B);
            assert!(next < latency && latency - next <= (latency - 2) / 4 + 1, "{latency} -> {next}");
            latency = next;
            steps += 1;
        }
        assert!((5..40).contains(&steps), "took {steps} steps");
    }

    #[test]
    fn equal_bounds_make_a_fixed_buffer() {
        let fixed = JitterBounds { min_ms: 50, max_ms: 50 };
        assert_eq!(next_latency_ms(50, 0.0, Lateness::Now, fixed), 50);
        assert_eq!(next_latency_ms(50, 30.0, Lateness::None, fixed), 50);
    }

    #[test]
    fn retransmission_raises_the_floor_with_the_round_trip_and_a_frame_while_losing() {
        let room = |usual_rtt_ms, longest_rtt_ms, recent_loss| RepairRoom {
            usual_rtt_ms,
            longest_rtt_ms,
            recent_loss,
            frame_interval_ms: 33.3,
        };
        assert_eq!(
            with_repair(B, room(0.3, 0.5, false)),
            JitterBounds { min_ms: 11, max_ms: 200 },
            "a LAN stays at a few ms"
        );
        assert_eq!(with_repair(B, room(0.3, 0.5, true)).min_ms, 78, "a lossy LAN waits for a frame's last packet");
        assert_eq!(room(40.0, 80.0, false).retry_ms(), 45.0, "asked again after a usual round trip");
        assert_eq!(with_repair(B, room(40.0, 80.0, false)).min_ms, 130, "a second copy on the slowest round trip");
        assert_eq!(with_repair(B, room(500.0, 900.0, true)).min_ms, 200, "never past the maximum");
        let high = JitterBounds { min_ms: 50, max_ms: 200 };
        assert_eq!(with_repair(high, room(1.0, 2.0, false)).min_ms, 50, "nor below the minimum");
        assert_eq!(with_repair(B, room(f64::NAN, f64::NAN, false)).min_ms, 10);
        assert_eq!(with_repair(B, room(20.0, 10.0, false)).min_ms, 50, "the slowest is never below the usual");
        assert_eq!(next_latency_ms(2, 0.0, Lateness::None, with_repair(B, room(20.0, 30.0, false))), 60);
    }

    #[test]
    fn late_packets_grow_the_buffer_by_half_and_hold_it_while_they_are_recent() {
        // A small RFC 3550 jitter (bursts average out) must not hide packets that missed their time.
        assert_eq!(next_latency_ms(6, 2.0, Lateness::Now, B), 16, "at least 10 ms more");
        assert_eq!(next_latency_ms(60, 2.0, Lateness::Now, B), 90, "half again");
        assert_eq!(next_latency_ms(180, 2.0, Lateness::Now, B), 200, "never past the maximum");
        assert_eq!(next_latency_ms(90, 2.0, Lateness::Lately, B), 90, "holds while late packets are recent");
        assert!(next_latency_ms(90, 2.0, Lateness::None, B) < 90, "shrinks once they are not");
        assert_eq!(next_latency_ms(250, 2.0, Lateness::Lately, B), 200, "a lowered maximum still applies");
    }

    #[test]
    fn nonsense_jitter_is_treated_as_none() {
        assert_eq!(next_latency_ms(2, f64::NAN, Lateness::None, B), 2);
        assert_eq!(next_latency_ms(2, -5.0, Lateness::None, B), 2);
    }
}
