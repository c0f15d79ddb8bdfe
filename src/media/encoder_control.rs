//! The room's one H.264 encoder at run time: keyframes when a place asks for one (a PLI or FIR
//! from any leg arrives as an upstream force-key-unit event), no more often than
//! [`MIN_KEYFRAME_INTERVAL`], and the target bitrate, each in the encoder's own terms. Debian's
//! 1.22.0 `v4l2h264enc` ignores force-key-unit events: it gets the V4L2 `force_key_frame`
//! control instead, and its bitrate through the `video_bitrate` control. The size of the
//! picture it gets follows the bitrate too (`send_size.rs`), through the caps before it.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gstreamer as gst;

use super::send_size::SendSize;

/// Keyframes cost several times a normal frame: several places asking at once (or one asking
/// again before the last arrived) get one.
pub const MIN_KEYFRAME_INTERVAL: Duration = Duration::from_millis(300);

/// A request for a keyframe with its parameter sets, as a place's PLI or FIR becomes one: an
/// upstream force-key-unit event, rationed at the encoder by [`EncoderControl`].
pub(super) fn keyframe_request() -> gst::Event {
    gstreamer_video::UpstreamForceKeyUnitEvent::builder().all_headers(true).build()
}

/// Lets one request through per interval. Pure: instants are passed in.
#[derive(Debug)]
pub struct KeyframeGate {
    min_interval: Duration,
    last: Option<Instant>,
}

impl KeyframeGate {
    pub fn new(min_interval: Duration) -> Self {
        Self { min_interval, last: None }
    }

    /// Whether a request arriving at `now` makes a keyframe.
    pub fn allow(&mut self, now: Instant) -> bool {
        let open = self.last.is_none_or(|last| now.saturating_duration_since(last) >= self.min_interval);
        if open {
            self.last = Some(now);
        }
        open
    }
}

/// Keyframe requests and the bitrate of the running encoder.
pub struct EncoderControl {
    encoder: gst::glib::WeakRef<gst::Element>,
    element: String,
    gate: Mutex<KeyframeGate>,
    requested: AtomicU64,
    forced: AtomicU64,
    bitrate_kbps: AtomicU32,
    /// The capsfilter before the encoder, and the size it lets through.
    size_caps: gst::glib::WeakRef<gst::Element>,
    size: Mutex<SendSize>,
}

impl EncoderControl {
    /// Watches `encoder` (made from factory `element`) for keyframe requests; `size_caps` is
    /// the capsfilter before it, already at `size`'s size.
    pub fn attach(
        encoder: &gst::Element,
        element: &str,
        bitrate_kbps: u32,
        size_caps: &gst::Element,
        size: SendSize,
    ) -> Arc<Self> {
        let control = Arc::new(Self {
            encoder: encoder.downgrade(),
            element: element.to_owned(),
            gate: Mutex::new(KeyframeGate::new(MIN_KEYFRAME_INTERVAL)),
            requested: AtomicU64::new(0),
            forced: AtomicU64::new(0),
            bitrate_kbps: AtomicU32::new(bitrate_kbps),
            size_caps: size_caps.downgrade(),
            size: Mutex::new(size),
        });
        if let Some(src) = encoder.static_pad("src") {
            let weak = Arc::downgrade(&control);
            src.add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
                let Some(control) = weak.upgrade() else { return gst::PadProbeReturn::Ok };
                let is_request =
                    matches!(info.event(), Some(e) if gstreamer_video::UpstreamForceKeyUnitEvent::parse(e).is_ok());
                if !is_request {
                    return gst::PadProbeReturn::Ok;
                }
                if control.on_request() {
                    return gst::PadProbeReturn::Ok;
                }
                // Swallowed: too soon after the last keyframe, or asked of the driver directly.
                let _ = info.take_event();
                gst::PadProbeReturn::Handled
            });
        }
        control
    }

    /// Counts a request; `true` when the event should go on to the encoder.
    fn on_request(&self) -> bool {
        self.requested.fetch_add(1, Ordering::Relaxed);
        let allowed = self.gate.lock().map(|mut g| g.allow(Instant::now())).unwrap_or(false);
        if !allowed {
            return false;
        }
        self.forced.fetch_add(1, Ordering::Relaxed);
        if self.element == "v4l2h264enc" {
            self.set_v4l2_control("force_key_frame=1");
            return false;
        }
        true
    }

    fn set_v4l2_control(&self, control: &str) {
        if let Some(encoder) = self.encoder.upgrade() {
            let text = format!("controls,{control}");
            if let Err(e) = super::elements::set(&encoder, "extra-controls", &text) {
                tracing::warn!(error = %e, "the encoder refused a control");
            }
        }
    }

    /// (keyframe requests that reached the encoder, keyframes made for them)
    pub fn keyframes(&self) -> (u64, u64) {
        (self.requested.load(Ordering::Relaxed), self.forced.load(Ordering::Relaxed))
    }

    /// A new size for the picture at `kbps`, if it needs one (the encoder starts again at it,
    /// with a keyframe).
    fn resize(&self, kbps: u32) {
        let Some(size) = self.size.lock().ok().and_then(|mut s| s.on_target(Instant::now(), kbps)) else { return };
        tracing::info!(kbps, width = size.0, height = size.1, "the picture sent changes size");
        if let Some(caps_filter) = self.size_caps.upgrade()
            && let Err(e) = super::elements::set(&caps_filter, "caps", &super::send_size::caps(size))
        {
            tracing::warn!(error = %e, "the picture's new size was refused");
        }
    }

    pub fn bitrate_kbps(&self) -> u32 {
        self.bitrate_kbps.load(Ordering::Relaxed)
    }

    /// The size of the picture encoded now, and whether it is below the room's own.
    pub fn size(&self) -> Option<((u32, u32), bool)> {
        self.size.lock().ok().map(|s| (s.size(), s.lowered()))
    }

    /// Asks the running encoder for a new target bitrate, and a picture size that it carries.
    pub fn set_bitrate(&self, kbps: u32) {
        self.resize(kbps);
        if self.bitrate_kbps.swap(kbps, Ordering::Relaxed) == kbps {
            return;
        }
        let bps = u64::from(kbps) * 1000;
        let (property, value) = match self.element.as_str() {
            "x264enc" | "vah264enc" | "vaapih264enc" => ("bitrate", kbps.to_string()),
            "openh264enc" | "nvv4l2h264enc" => ("bitrate", bps.to_string()),
            "mpph264enc" => ("bps", bps.to_string()),
            "v4l2h264enc" => return self.set_v4l2_control(&format!("video_bitrate={bps}")),
            _ => return,
        };
        if let Some(encoder) = self.encoder.upgrade()
            && let Err(e) = super::elements::set(&encoder, property, &value)
        {
            tracing::warn!(error = %e, kbps, "the encoder refused a new bitrate");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_keyframe_per_interval_however_many_places_ask() {
        let mut gate = KeyframeGate::new(Duration::from_millis(300));
        let t0 = Instant::now();
        assert!(gate.allow(t0));
        assert!(!gate.allow(t0 + Duration::from_millis(10)), "a second place asking at once");
        assert!(!gate.allow(t0 + Duration::from_millis(299)));
        assert!(gate.allow(t0 + Duration::from_millis(300)));
        assert!(!gate.allow(t0 + Duration::from_millis(400)), "the interval counts from the last keyframe");
    }
}
