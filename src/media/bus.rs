//! The call pipeline's bus: errors end the call (or, from the camera, bring the slate),
//! warnings are logged, latency changes are redistributed, and QR readings feed the latency
//! meter. Runs on streaming threads, so it only sends events.

use gst::prelude::*;
use gstreamer as gst;
use tokio::sync::mpsc::UnboundedSender;

use super::MediaEvent;
use super::measure::on_barcode;
use super::pipeline::CallPipeline;
use super::source::is_in_video_source;
use crate::call::CallId;

/// Errors from any element end the call (the core decides); warnings are logged; latency
/// changes go to the runtime to redistribute; zbar's QR readings feed the latency meter.
pub(super) fn watch_bus(built: &CallPipeline, call: CallId, events: UnboundedSender<MediaEvent>) {
    let Some(bus) = built.pipeline.bus() else { return };
    let (meters, render) = (built.meters.clone(), built.render.clone());
    // Read once: the handler runs on streaming threads and must not wait for the source lock,
    // which is held while a failed camera's thread is being stopped.
    let has_camera = built.source.lock().is_ok_and(|v| v.has_camera());
    bus.set_sync_handler(move |_, msg| {
        match msg.view() {
            gst::MessageView::Error(e) if has_camera && msg.src().is_some_and(is_in_video_source) => {
                let _ = events.send(MediaEvent::CameraLost { call, reason: e.error().to_string() });
            }
            gst::MessageView::Error(e) => {
                let source = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
                let reason = format!("{source}: {}", e.error());
                if let Ok(mut last) = meters.last_error.lock() {
                    last.get_or_insert(reason.clone());
                }
                let _ = events.send(MediaEvent::Failed { call, reason });
            }
            gst::MessageView::Warning(w) => tracing::warn!(call = call.0, "media warning: {}", w.error()),
            gst::MessageView::Latency(_) => {
                let _ = events.send(MediaEvent::LatencyChanged { call });
            }
            gst::MessageView::Element(e) => {
                let arrivals = meters.qr_arrivals.lock().ok().and_then(|a| a.clone()).unwrap_or_default();
                if let Some(s) = e.structure().filter(|s| s.name() == "barcode") {
                    on_barcode(&render, &arrivals, s, &meters.glass_to_glass);
                }
            }
            _ => {}
        }
        gst::BusSyncReply::Drop
    });
}
