//! GStreamer glue for the latency meters: reads the pipeline clock, base time and configured
//! latency, QR messages from `zbar`, and reference timestamp metas from rtpbin.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gstreamer as gst;

use super::latency::{self, LatencyMeter};

/// When frames are due on screen, from the pipeline's clock and configured latency.
pub struct RenderClock {
    pipeline: gst::glib::WeakRef<gst::Pipeline>,
    /// The configured latency, re-queried at most once a second (it changes when the jitter
    /// buffer adapts).
    latency: Mutex<(Option<Instant>, u64)>,
}

impl RenderClock {
    pub fn new(pipeline: &gst::Pipeline) -> Arc<Self> {
        Arc::new(Self { pipeline: pipeline.downgrade(), latency: Mutex::new((None, 0)) })
    }

    fn latency_ns(&self, pipeline: &gst::Pipeline) -> u64 {
        let Ok(mut cached) = self.latency.lock() else { return 0 };
        if cached.0.is_none_or(|at| at.elapsed() > Duration::from_secs(1)) {
            let mut query = gst::query::Latency::new();
            if pipeline.query(&mut query) {
                let (_, min, _) = query.result();
                *cached = (Some(Instant::now()), min.nseconds());
            }
        }
        cached.1
    }

    /// Unix time (ns) at which a frame with running time `running_ns` reaches the screen.
    pub fn display_unix_ns(&self, running_ns: u64) -> Option<u64> {
        let pipeline = self.pipeline.upgrade()?;
        let clock = pipeline.clock()?;
        let scheduled = pipeline.base_time()?.nseconds() + running_ns + self.latency_ns(&pipeline);
        Some(latency::display_time_ns(latency::unix_now_ns(), clock.time().nseconds(), scheduled))
    }
}

/// A `barcode` message from zbar: records the glass-to-glass latency of that frame.
pub fn on_barcode(render: &RenderClock, structure: &gst::StructureRef, meter: &LatencyMeter) {
    let (Ok(symbol), Ok(running)) = (structure.get::<&str>("symbol"), structure.get::<u64>("running-time")) else {
        return;
    };
    let (Some(captured), Some(shown)) = (latency::qr_capture_ns(symbol), render.display_unix_ns(running)) else {
        return;
    };
    let ms = (shown as f64 - captured as f64) / 1e6;
    tracing::debug!(target: "roombox::latency", g2g_ms = ms, "qr");
    meter.record_ms(ms);
}

/// Records, for each buffer leaving `element`'s `pad`, how long after its capture (per the
/// sender's RTCP reference time) it reaches the screen or speaker.
pub fn probe_reference_latency(
    element: &gst::Element,
    pad: &str,
    render: Arc<RenderClock>,
    meter: Arc<LatencyMeter>,
    kind: &'static str,
) {
    let Some(pad) = element.static_pad(pad) else { return };
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(buffer) = info.buffer() else { return gst::PadProbeReturn::Ok };
        let reference = buffer.iter_meta::<gst::ReferenceTimestampMeta>().find_map(|meta| {
            let name = meta.reference().structure(0)?.name().to_string();
            latency::reference_unix_ns(&name, meta.timestamp().nseconds())
        });
        let running = pad.sticky_event::<gst::event::Segment>(0).and_then(|seg| {
            let segment = seg.segment().downcast_ref::<gst::ClockTime>()?.clone();
            segment.to_running_time(buffer.pts()?)
        });
        if let (Some(captured), Some(running)) = (reference, running)
            && let Some(shown) = render.display_unix_ns(running.nseconds())
        {
            let ms = (shown as f64 - captured as f64) / 1e6;
            tracing::trace!(target: "roombox::latency", kind, estimate_ms = ms, "rtcp");
            meter.record_ms(ms);
        }
        gst::PadProbeReturn::Ok
    });
}
