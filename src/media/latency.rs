//! Latency, measured two ways:
//! - **Glass to glass from QR codes**: a benchmark source draws each frame's capture time as a
//!   QR code (`debugqroverlay`, on a realtime clock with base time 0); a `zbar` in the display
//!   fragment reads it back. Display time is when the synchronised sink renders the frame.
//! - **Live estimate from RTCP**: rtpbin attaches the sender's capture time (NTP, from its RTCP
//!   sender reports) to each buffer as a reference timestamp meta; we compare it to the time the
//!   frame is due on screen. Works with any camera, across machines whose clocks are in NTP sync.
//!
//! The arithmetic is pure and tested; the GStreamer glue only reads clocks and structures.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET_NS: u64 = 2_208_988_800 * 1_000_000_000;
/// Keep this many recent samples per meter (30 s of audio buffers, 100 s of video frames).
const WINDOW: usize = 3000;

/// When a frame reaches the screen, as Unix time in ns: now, or later if the sink will still
/// wait for the frame's render time (`scheduled_clock_ns`, in the pipeline clock).
pub fn display_time_ns(now_unix_ns: u64, now_clock_ns: u64, scheduled_clock_ns: u64) -> u64 {
    now_unix_ns + scheduled_clock_ns.saturating_sub(now_clock_ns)
}

/// The capture time a `debugqroverlay` QR code carries (its `TIMESTAMP`, in ns).
pub fn qr_capture_ns(symbol: &str) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_str(symbol).ok()?;
    value.get("TIMESTAMP")?.as_u64()
}

/// A reference timestamp (NTP or Unix, from its caps name) as Unix time in ns.
pub fn reference_unix_ns(caps_name: &str, timestamp_ns: u64) -> Option<u64> {
    match caps_name {
        "timestamp/x-ntp" => timestamp_ns.checked_sub(NTP_UNIX_OFFSET_NS),
        "timestamp/x-unix" => Some(timestamp_ns),
        _ => None,
    }
}

pub fn unix_now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// The recent raw samples of a call's latency meters (for benchmarks and diagnostics).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySamples {
    pub glass_to_glass_ms: Vec<f64>,
    /// When each frame of `glass_to_glass_ms` was shown (Unix ms).
    #[serde(default)]
    pub shown_unix_ms: Vec<f64>,
    pub video_ms: Vec<f64>,
    pub audio_ms: Vec<f64>,
}

/// Median, 95th percentile and maximum of the recent samples, in ms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub samples: u64,
    pub median_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
}

/// Recent latency samples from a streaming thread.
#[derive(Debug, Default)]
pub struct LatencyMeter {
    recent: Mutex<(VecDeque<f64>, u64)>,
}

impl LatencyMeter {
    pub fn record_ms(&self, ms: f64) {
        if let Ok(mut guard) = self.recent.lock() {
            let (recent, total) = &mut *guard;
            if recent.len() == WINDOW {
                recent.pop_front();
            }
            recent.push_back(ms);
            *total += 1;
        }
    }

    /// The recent samples, oldest first.
    pub fn recent(&self) -> Vec<f64> {
        self.recent.lock().map(|g| g.0.iter().copied().collect()).unwrap_or_default()
    }

    pub fn summary(&self) -> Option<LatencySummary> {
        let guard = self.recent.lock().ok()?;
        let (recent, total) = &*guard;
        summarize(recent.iter().copied(), *total)
    }
}

/// Summary of `samples` (`total` counts every sample ever recorded).
pub fn summarize(samples: impl Iterator<Item = f64>, total: u64) -> Option<LatencySummary> {
    let mut sorted: Vec<f64> = samples.filter(|s| s.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    Some(LatencySummary { samples: total, median_ms: at(0.5), p95_ms: at(0.95), max_ms: sorted[sorted.len() - 1] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_due_later_is_displayed_when_due_and_a_late_one_at_once() {
        assert_eq!(display_time_ns(1_000, 500, 520), 1_020);
        assert_eq!(display_time_ns(1_000, 500, 480), 1_000);
    }

    #[test]
    fn the_qr_payload_of_debugqroverlay_is_read() {
        let symbol = r#"{"TIMESTAMP":1732430000123456789,"BUFFERCOUNT":1,"FRAMERATE":"30/1","NAME":"DEBUGQROVERLAY0"}"#;
        assert_eq!(qr_capture_ns(symbol), Some(1_732_430_000_123_456_789));
        assert_eq!(qr_capture_ns("not json"), None);
        assert_eq!(qr_capture_ns(r#"{"OTHER":1}"#), None);
    }

    #[test]
    fn ntp_reference_times_convert_to_unix_time() {
        let unix = 1_700_000_000 * 1_000_000_000u64;
        assert_eq!(reference_unix_ns("timestamp/x-ntp", unix + NTP_UNIX_OFFSET_NS), Some(unix));
        assert_eq!(reference_unix_ns("timestamp/x-unix", unix), Some(unix));
        assert_eq!(reference_unix_ns("timestamp/x-ptp", unix), None);
    }

    #[test]
    fn summary_reports_median_p95_and_max() {
        let s = summarize((1..=100).map(f64::from), 100).unwrap();
        assert_eq!((s.median_ms, s.p95_ms, s.max_ms), (51.0, 95.0, 100.0));
        assert!(summarize(std::iter::empty(), 0).is_none());
    }
}
