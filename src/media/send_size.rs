//! The picture size the room's encoder sends at its target bitrate. Every pixel needs bits:
//! below [`BITS_PER_PIXEL`] a frame breaks up into blocks (measured with x264 at 720p30: a
//! frame's QR code reads in 299 of 300 frames at 500 kbit/s, 0.018 bit per pixel, and in none at
//! 300 kbit/s, while the same 300 kbit/s at 640x360 reads in 298 of 300). So when the target
//! drops below what the current size needs, the width and height are halved (a quarter of the
//! pixels), at most [`MAX_HALVINGS`] times. The bigger size returns once the target carries it
//! with [`UP_MARGIN`] to spare and the smaller one has held for [`DWELL`]: each change costs a
//! keyframe, and a rate hovering at the edge must not flip the picture. Pure: instants are
//! passed in.

use std::time::{Duration, Instant};

/// Bits a frame needs per pixel to stay whole.
pub const BITS_PER_PIXEL: f64 = 0.018;
pub const MAX_HALVINGS: u32 = 2;
pub const UP_MARGIN: f64 = 1.25;
pub const DWELL: Duration = Duration::from_secs(5);
/// No side gets smaller than this (pixels).
const MIN_SIDE: u32 = 16;

/// Caps for a picture of `(width, height)` on its way to the encoder.
pub fn caps((width, height): (u32, u32)) -> String {
    format!("video/x-raw,width={width},height={height},pixel-aspect-ratio=1/1")
}

#[derive(Debug, Clone)]
pub struct SendSize {
    full: (u32, u32),
    fps: u32,
    halvings: u32,
    last_change: Option<Instant>,
}

impl SendSize {
    /// For pictures of `width`x`height` at `fps`, starting at the size `kbps` carries.
    pub fn new(width: u32, height: u32, fps: u32, kbps: u32) -> Self {
        let mut size =
            Self { full: (width.max(MIN_SIDE), height.max(MIN_SIDE)), fps: fps.max(1), halvings: 0, last_change: None };
        size.halvings = size.halvings_for(kbps);
        size
    }

    /// The size sent now.
    pub fn size(&self) -> (u32, u32) {
        self.at(self.halvings)
    }

    /// Whether the picture is smaller than configured.
    pub fn lowered(&self) -> bool {
        self.halvings > 0
    }

    /// A new target (kbit/s): returns the new size when it changes.
    pub fn on_target(&mut self, now: Instant, kbps: u32) -> Option<(u32, u32)> {
        let down = self.halvings_for(kbps);
        let next = if down > self.halvings {
            down
        } else if self.halvings > 0
            && f64::from(kbps) >= self.needed_kbps(self.halvings - 1) * UP_MARGIN
            && self.last_change.is_none_or(|t| now.saturating_duration_since(t) >= DWELL)
        {
            self.halvings - 1
        } else {
            return None;
        };
        self.halvings = next;
        self.last_change = Some(now);
        Some(self.size())
    }

    /// The fewest halvings at which `kbps` carries the picture (or the most allowed).
    fn halvings_for(&self, kbps: u32) -> u32 {
        (0..MAX_HALVINGS).find(|&n| f64::from(kbps) >= self.needed_kbps(n)).unwrap_or(MAX_HALVINGS)
    }

    fn needed_kbps(&self, halvings: u32) -> f64 {
        let (w, h) = self.at(halvings);
        f64::from(w) * f64::from(h) * f64::from(self.fps) * BITS_PER_PIXEL / 1000.0
    }

    /// Width and height halved `n` times, kept even (H.264 codes 4:2:0 in pairs of pixels).
    fn at(&self, n: u32) -> (u32, u32) {
        let side = |s: u32| ((s >> n) & !1).max(MIN_SIDE);
        (side(self.full.0), side(self.full.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_size_goes_out_while_the_rate_carries_it() {
        let size = SendSize::new(1280, 720, 30, 2000);
        assert_eq!(size.size(), (1280, 720));
        assert!(!size.lowered());
        assert_eq!(SendSize::new(1280, 720, 30, 500).size(), (1280, 720), "500 kbit/s still carries 720p30");
    }

    #[test]
    fn a_low_configured_rate_starts_at_the_size_it_carries() {
        assert_eq!(SendSize::new(1280, 720, 30, 300).size(), (640, 360));
        assert_eq!(SendSize::new(1280, 720, 30, 50).size(), (320, 180), "never more than two halvings");
        assert_eq!(SendSize::new(320, 240, 30, 150).size(), (320, 240), "a small picture needs little");
    }

    #[test]
    fn a_falling_rate_halves_the_picture_at_once() {
        let t0 = Instant::now();
        let mut size = SendSize::new(1280, 720, 30, 2000);
        assert_eq!(size.on_target(t0, 835), None, "1 Mbit/s carries 720p");
        assert_eq!(size.on_target(t0, 450), Some((640, 360)));
        assert!(size.lowered());
        assert_eq!(size.on_target(t0, 450), None, "no change, no new size");
        assert_eq!(size.on_target(t0 + Duration::from_millis(500), 60), Some((320, 180)), "a second halving");
    }

    #[test]
    fn the_full_size_returns_with_room_to_spare_and_after_the_dwell() {
        let t0 = Instant::now();
        let mut size = SendSize::new(1280, 720, 30, 2000);
        size.on_target(t0, 300);
        assert_eq!(size.on_target(t0 + Duration::from_secs(6), 520), None, "520 carries 720p but with no margin");
        assert_eq!(size.on_target(t0 + Duration::from_secs(1), 700), None, "too soon after the last change");
        assert_eq!(size.on_target(t0 + DWELL, 700), Some((1280, 720)));
    }

    #[test]
    fn it_climbs_back_one_step_at_a_time() {
        let t0 = Instant::now();
        let mut size = SendSize::new(1280, 720, 30, 50);
        assert_eq!(size.on_target(t0 + DWELL, 2000), Some((640, 360)));
        assert_eq!(size.on_target(t0 + DWELL * 2, 2000), Some((1280, 720)));
    }

    #[test]
    fn odd_and_tiny_sizes_stay_even_and_never_vanish() {
        let size = SendSize::new(1366, 766, 30, 60);
        let (w, h) = size.size();
        assert!(w % 2 == 0 && h % 2 == 0, "{w}x{h}");
        assert_eq!(SendSize::new(20, 20, 0, 0).size(), (16, 16));
    }
}
