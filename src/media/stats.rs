//! Live media statistics: rate meters fed from pad probes on the streaming threads, and the
//! per-direction figures `roombox ctl status` shows.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::latency::LatencySummary;

/// Events per second and bytes per second over a sliding window. Pure: instants are passed in.
#[derive(Debug)]
pub struct RateMeter {
    window: Duration,
    samples: VecDeque<(Instant, u64)>,
    total_events: u64,
}

impl RateMeter {
    pub fn new(window: Duration) -> Self {
        Self { window, samples: VecDeque::new(), total_events: 0 }
    }

    pub fn record(&mut self, now: Instant, bytes: u64) {
        self.samples.push_back((now, bytes));
        self.total_events += 1;
        self.prune(now);
    }

    fn prune(&mut self, now: Instant) {
        while self.samples.front().is_some_and(|(t, _)| now.saturating_duration_since(*t) > self.window) {
            self.samples.pop_front();
        }
    }

    /// Events per second over the window ending at `now`.
    pub fn per_second(&mut self, now: Instant) -> f64 {
        self.prune(now);
        self.samples.len() as f64 / self.window.as_secs_f64()
    }

    /// Kilobits per second over the window ending at `now`.
    pub fn kbps(&mut self, now: Instant) -> f64 {
        self.prune(now);
        let bytes: u64 = self.samples.iter().map(|(_, b)| b).sum();
        bytes as f64 * 8.0 / 1000.0 / self.window.as_secs_f64()
    }

    pub fn total(&self) -> u64 {
        self.total_events
    }
}

/// A [`RateMeter`] shared with a streaming thread.
#[derive(Debug)]
pub struct SharedMeter(Mutex<RateMeter>);

impl Default for SharedMeter {
    fn default() -> Self {
        Self(Mutex::new(RateMeter::new(Duration::from_secs(1))))
    }
}

impl SharedMeter {
    pub fn record(&self, bytes: u64) {
        if let Ok(mut m) = self.0.lock() {
            m.record(Instant::now(), bytes);
        }
    }
    /// (events/s, kbit/s, total events)
    pub fn read(&self) -> (f64, f64, u64) {
        let now = Instant::now();
        self.0.lock().map(|mut m| (m.per_second(now), m.kbps(now), m.total())).unwrap_or_default()
    }
}

/// What arrives from the peer on one stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReceiveStats {
    pub codec: String,
    /// Decoded frames per second (video) or decoded buffers per second (audio).
    pub decoded_per_s: f64,
    pub decoded_total: u64,
    pub kbps: f64,
    pub packets_received: u64,
    pub packets_lost: i64,
    pub jitter_ms: f64,
    /// The size of the place's picture as it arrives (video).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<PictureSize>,
    /// The receive jitter buffer's current (adaptive) latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_buffer_ms: Option<u32>,
    /// Loudness of the decoded audio (dBFS RMS); `None` for video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level_db: Option<f64>,
    /// Live estimate: capture (sender's RTCP clock) to screen/speaker, recent samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencySummary>,
    /// Measured from QR timestamps when a benchmark source and zbar sink are plugged in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glass_to_glass: Option<LatencySummary>,
    /// Repair: packets asked for again (NACK), and those the place resent in time (RTX).
    #[serde(default)]
    pub nacks_sent: u64,
    #[serde(default)]
    pub recovered: u64,
    /// Packets given up on after repair (for audio: concealed by the decoder).
    #[serde(default)]
    pub unrepaired: u64,
    /// Keyframes asked of the place (PLI/FIR) because the picture broke.
    #[serde(default)]
    pub keyframes_asked: u64,
    /// Sound: lost packets are rebuilt from the next one's in-band FEC now (while lossy).
    #[serde(default)]
    pub fec_decoding: bool,
    /// "SRTP <suite>", or "none" for plain RTP.
    #[serde(default)]
    pub encryption: String,
    /// Packets dropped because they failed SRTP authentication or replayed an earlier one.
    #[serde(default)]
    pub dropped_unauthenticated: u64,
    /// Packets dropped because they came from another address than the place's, or opened
    /// more streams (SSRCs) than a place sends.
    #[serde(default)]
    pub dropped_foreign: u64,
}

/// What we send on one stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SendStats {
    pub codec: String,
    pub kbps: f64,
    pub packets_sent: u64,
    /// What the place reports: the share of our packets it lost (%) and the round trip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_reported_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// Repair the place asked of us: NACKs received and packets resent (RTX), keyframes (PLI/FIR).
    #[serde(default)]
    pub nacks_received: u64,
    #[serde(default)]
    pub resent: u64,
    #[serde(default)]
    pub keyframe_requests: u64,
    /// The bitrate this place's path carries (rate adaptation), and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_kbps: Option<u32>,
    #[serde(default)]
    pub target_reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MediaStats {
    pub video_in: ReceiveStats,
    pub audio_in: ReceiveStats,
    pub video_out: SendStats,
    pub audio_out: SendStats,
    pub encoder: String,
    /// "live", or "slate: why" when the camera is unavailable.
    #[serde(default)]
    pub camera: String,
    pub muted: bool,
    /// Keyframes the room's encoder made because a place asked (PLI/FIR), of the requests
    /// that reached it (the rest came too soon after one).
    #[serde(default)]
    pub keyframes_on_request: u64,
    #[serde(default)]
    pub keyframe_requests_at_encoder: u64,
    /// The bitrate the room's encoder runs at now: the lowest target of the meeting's places.
    #[serde(default)]
    pub encoder_kbps: u32,
    /// The size of the picture it encodes, and whether that is below the room's own (a bitrate
    /// too low for the full size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoder_size: Option<PictureSize>,
    #[serde(default)]
    pub encoder_size_lowered: bool,
}

/// A picture's width and height (pixels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PictureSize {
    pub width: u32,
    pub height: u32,
}

impl std::fmt::Display for PictureSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// RMS level in dBFS of interleaved 32-bit float samples.
pub fn rms_dbfs(samples: impl Iterator<Item = f32>) -> f64 {
    let (sum, n) = samples.fold((0.0f64, 0usize), |(s, n), x| (s + f64::from(x) * f64::from(x), n + 1));
    if n == 0 || sum <= 0.0 {
        return -120.0;
    }
    (20.0 * (sum / n as f64).sqrt().log10()).max(-120.0)
}

/// RMS level in dBFS of interleaved signed 16-bit little-endian samples (the room's audio).
pub fn rms_dbfs_s16le(bytes: &[u8]) -> f64 {
    rms_dbfs(bytes.chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0))
}

/// The amplitude (dBFS) of the `hz` component of `samples` taken at `rate` (Goertzel): tells
/// places apart by their test tones, and measures how much of a tone comes back as echo.
pub fn tone_level_db(samples: &[f64], hz: f64, rate: f64) -> f64 {
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * hz / rate).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for x in samples {
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    // A full-scale sine gives (n/2)^2.
    let amplitude = 2.0 * power.max(1e-30).sqrt() / samples.len().max(1) as f64;
    20.0 * amplitude.max(1e-9).log10()
}

/// Mono samples in [-1, 1] of a raw 16-bit little-endian recording.
pub fn s16le_samples(bytes: &[u8]) -> Vec<f64> {
    bytes.chunks_exact(2).map(|b| f64::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_meter_reports_the_rate_of_the_last_window_only() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(Duration::from_secs(1));
        for i in 0..30 {
            m.record(t0 + Duration::from_millis(i * 33), 1250);
        }
        let end = t0 + Duration::from_millis(990);
        assert_eq!(m.per_second(end), 30.0);
        assert_eq!(m.kbps(end), 300.0);
        assert_eq!(m.per_second(t0 + Duration::from_secs(5)), 0.0, "a stalled stream reads zero");
        assert_eq!(m.total(), 30);
    }

    #[test]
    fn a_tone_is_found_at_its_own_frequency_and_not_at_another() {
        let half = (0..48000).map(|i| 0.5 * (i as f64 * 2.0 * std::f64::consts::PI * 660.0 / 48000.0).sin());
        let samples: Vec<f64> = half.collect();
        assert!((tone_level_db(&samples, 660.0, 48000.0) + 6.02).abs() < 0.1);
        assert!(tone_level_db(&samples, 440.0, 48000.0) < -80.0);
    }

    #[test]
    fn rms_of_a_full_scale_sine_is_minus_3_db_and_silence_is_the_floor() {
        let sine = (0..4800).map(|i| (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / 48000.0).sin());
        assert!((rms_dbfs(sine) + 3.01).abs() < 0.05);
        assert_eq!(rms_dbfs(std::iter::repeat_n(0.0, 480)), -120.0);
    }
}
