//! GStreamer glue for the latency meters: reads the pipeline clock, base time and configured
//! latency, QR messages from `zbar`, and reference timestamp metas from rtpbin.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// How far ahead of that latency the screen runs (ns, `screen_lead.rs`).
    screen_lead_ns: AtomicU64,
}

impl RenderClock {
    pub fn new(pipeline: &gst::Pipeline) -> Arc<Self> {
        Arc::new(Self {
            pipeline: pipeline.downgrade(),
            latency: Mutex::new((None, 0)),
            screen_lead_ns: AtomicU64::new(0),
        })
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

    /// The room's latency just measured, and how far ahead of it the screen now runs.
    pub fn set_screen_timing(&self, room_latency: Duration, lead: Duration) {
        if let Ok(mut cached) = self.latency.lock() {
            *cached = (Some(Instant::now()), room_latency.as_nanos() as u64);
        }
        self.screen_lead_ns.store(lead.as_nanos() as u64, Ordering::Relaxed);
    }

    pub fn screen_lead(&self) -> Duration {
        Duration::from_nanos(self.screen_lead_ns.load(Ordering::Relaxed))
    }

    /// Now, as (Unix time, pipeline clock time) in ns.
    pub fn now(&self) -> Option<(u64, u64)> {
        let clock = self.pipeline.upgrade()?.clock()?;
        Some((latency::unix_now_ns(), clock.time().nseconds()))
    }

    /// Unix time (ns) at which a frame with running time `running_ns`, seen at `seen` (from
    /// [`Self::now`]), reaches the screen.
    pub fn screen_unix_ns(&self, running_ns: u64, seen: (u64, u64)) -> Option<u64> {
        self.output_unix_ns(running_ns, seen, self.screen_lead().as_nanos() as u64)
    }

    /// The same for a sound buffer and the speaker, which runs at the room's latency.
    pub fn speaker_unix_ns(&self, running_ns: u64, seen: (u64, u64)) -> Option<u64> {
        self.output_unix_ns(running_ns, seen, 0)
    }

    fn output_unix_ns(&self, running_ns: u64, seen: (u64, u64), lead_ns: u64) -> Option<u64> {
        let pipeline = self.pipeline.upgrade()?;
        let scheduled =
            (pipeline.base_time()?.nseconds() + running_ns + self.latency_ns(&pipeline)).saturating_sub(lead_ns);
        Some(latency::display_time_ns(seen.0, seen.1, scheduled))
    }
}

/// When each frame reached the QR reader, so the reader's own decoding time (~18 ms for a
/// 720p frame) is not counted as latency.
#[derive(Default)]
pub struct Arrivals(Mutex<VecDeque<(u64, (u64, u64))>>);

impl Arrivals {
    fn record(&self, pts: u64, seen: (u64, u64)) {
        if let Ok(mut log) = self.0.lock() {
            if log.len() == 64 {
                log.pop_front();
            }
            log.push_back((pts, seen));
        }
    }
    fn take(&self, pts: u64) -> Option<(u64, u64)> {
        let log = self.0.lock().ok()?;
        log.iter().rev().find(|(p, _)| *p == pts).map(|(_, seen)| *seen)
    }
}

/// Finds a `zbar` inside a display fragment and logs when frames arrive at it.
pub fn watch_qr_reader(display: &gst::Element, render: Arc<RenderClock>) -> Option<Arc<Arrivals>> {
    let bin = display.downcast_ref::<gst::Bin>()?;
    let zbar = bin.iterate_recurse().into_iter().flatten().find(|e| e.factory().is_some_and(|f| f.name() == "zbar"))?;
    let arrivals = Arc::new(Arrivals::default());
    let log = arrivals.clone();
    zbar.static_pad("sink")?.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let (Some(pts), Some(seen)) = (info.buffer().and_then(|b| b.pts()), render.now()) {
            log.record(pts.nseconds(), seen);
        }
        gst::PadProbeReturn::Ok
    });
    Some(arrivals)
}

/// A `barcode` message from zbar: records the glass-to-glass latency of that frame in `meter`
/// and when it was shown (Unix ms) in `shown_at`.
pub fn on_barcode(
    render: &RenderClock,
    arrivals: &Arrivals,
    structure: &gst::StructureRef,
    meter: &LatencyMeter,
    shown_at: &LatencyMeter,
) {
    let fields =
        (structure.get::<&str>("symbol"), structure.get::<u64>("running-time"), structure.get::<u64>("timestamp"));
    let (Ok(symbol), Ok(running), Ok(pts)) = fields else { return };
    let Some(seen) = arrivals.take(pts).or_else(|| render.now()) else { return };
    let (Some(captured), Some(shown)) = (latency::qr_capture_ns(symbol), render.screen_unix_ns(running, seen)) else {
        return;
    };
    meter.record_ms((shown as f64 - captured as f64) / 1e6);
    shown_at.record_ms(shown as f64 / 1e6);
}

/// Records, for each buffer leaving `element`'s `pad`, how long after its capture (per the
/// sender's RTCP reference time) it reaches the screen or speaker.
pub fn probe_reference_latency(element: &gst::Element, pad: &str, render: Arc<RenderClock>, meter: Arc<LatencyMeter>) {
    probe_capture_to_output(element, pad, render, meter, false);
}

/// The same for frames the room shows as they arrive (a place's picture): due the room's
/// latency after now, whatever their timestamp.
pub fn probe_reference_latency_on_arrival(
    element: &gst::Element,
    pad: &str,
    render: Arc<RenderClock>,
    meter: Arc<LatencyMeter>,
) {
    probe_capture_to_output(element, pad, render, meter, true);
}

fn probe_capture_to_output(
    element: &gst::Element,
    pad: &str,
    render: Arc<RenderClock>,
    meter: Arc<LatencyMeter>,
    on_arrival: bool,
) {
    let Some(pad) = element.static_pad(pad) else { return };
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(buffer) = info.buffer() else { return gst::PadProbeReturn::Ok };
        let reference = buffer.iter_meta::<gst::ReferenceTimestampMeta>().find_map(|meta| {
            let name = meta.reference().structure(0)?.name().to_string();
            latency::reference_unix_ns(&name, meta.timestamp().nseconds())
        });
        let running = match on_arrival {
            true => pad.parent_element().and_then(|e| e.current_running_time()),
            false => pad.sticky_event::<gst::event::Segment>(0).and_then(|seg| {
                let segment = seg.segment().downcast_ref::<gst::ClockTime>()?.clone();
                segment.to_running_time(buffer.pts()?)
            }),
        };
        if let (Some(captured), Some(running), Some(seen)) = (reference, running, render.now())
            && let Some(shown) = if on_arrival {
                render.screen_unix_ns(running.nseconds(), seen)
            } else {
                render.speaker_unix_ns(running.nseconds(), seen)
            }
        {
            meter.record_ms((shown as f64 - captured as f64) / 1e6);
        }
        gst::PadProbeReturn::Ok
    });
}
