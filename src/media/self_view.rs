//! The self-view: this room's own picture, small in the bottom-right corner of the screen over
//! the remote room. It is drawn onto the remote picture by `overlaycomposition` from the latest
//! local frame, so the remote video never waits for it (an aggregator such as `compositor`
//! would hold each remote frame for its output grid and add up to a frame of delay).

use std::sync::{Arc, Mutex};

use gst::prelude::*;
use gstreamer as gst;
use gstreamer_video as gst_video;

use super::MediaError;
use super::elements::{capsfilter, make};

/// The latest local frame, scaled down and in the overlay's pixel format.
pub type Latest = Arc<Mutex<Option<gst::Buffer>>>;

/// The self-view's size and margin for a screen (picture) of `width` x `height`.
pub fn geometry(width: u32, height: u32) -> (u32, u32, u32) {
    let w = (width / 4).max(16) & !1;
    let h = (height / 4).max(16) & !1;
    (w, h, (width / 40).max(4))
}

/// Adds the local branch after `tee`: a leaky queue, scaling to the self-view size, and a sink
/// that keeps the latest frame. Returns where the frame is kept.
pub fn add_branch(pipeline: &gst::Pipeline, tee: &gst::Element, width: u32, height: u32) -> Result<Latest, MediaError> {
    let (w, h, _) = geometry(width, height);
    let queue = make(
        "queue",
        &[("leaky", "downstream"), ("max-size-buffers", "1"), ("max-size-bytes", "0"), ("max-size-time", "0")],
    )?;
    let scale = make("videoscale", &[])?;
    let convert = make("videoconvert", &[])?;
    // BGRA is the overlay rectangles' own format on little-endian machines (no conversion at blend).
    let caps = capsfilter(&format!("video/x-raw,format=BGRA,width={w},height={h},pixel-aspect-ratio=1/1"))?;
    let sink = make("fakesink", &[("sync", "false"), ("async", "false")])?;
    let chain = [&queue, &scale, &convert, &caps, &sink];
    pipeline.add_many(chain).map_err(|e| MediaError::Internal(e.to_string()))?;
    gst::Element::link_many(chain).map_err(|_| MediaError::Link { from: "self-view".into(), to: "fakesink".into() })?;
    tee.link(&queue).map_err(|_| MediaError::Link { from: "tee".into(), to: "self-view".into() })?;
    let latest: Latest = Arc::default();
    let keep = latest.clone();
    if let Some(pad) = sink.static_pad("sink") {
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let (Some(buffer), Ok(mut slot)) = (info.buffer(), keep.lock()) {
                *slot = Some(with_video_meta(buffer, w, h));
            }
            gst::PadProbeReturn::Ok
        });
    }
    Ok(latest)
}

/// Overlay rectangles need a video meta describing the pixels.
fn with_video_meta(buffer: &gst::Buffer, w: u32, h: u32) -> gst::Buffer {
    if buffer.meta::<gst_video::VideoMeta>().is_some() {
        return buffer.clone();
    }
    let mut copy = buffer.copy();
    if let Some(b) = copy.get_mut() {
        let _ = gst_video::VideoMeta::add(b, gst_video::VideoFrameFlags::empty(), gst_video::VideoFormat::Bgra, w, h);
    }
    copy
}

/// The element that draws the self-view onto each remote frame passing through it.
pub fn overlay(latest: Latest) -> Result<gst::Element, MediaError> {
    let overlay = make("overlaycomposition", &[])?;
    overlay.connect("draw", false, move |args| {
        // The signal must always return its type: NULL means nothing to draw (no local frame yet).
        Some(composition(args.get(1).and_then(|v| v.get::<gst::Sample>().ok()), &latest).to_value())
    });
    Ok(overlay)
}

fn composition(frame: Option<gst::Sample>, latest: &Latest) -> Option<gst_video::VideoOverlayComposition> {
    let info = gst_video::VideoInfo::from_caps(frame?.caps()?).ok()?;
    let buffer = latest.lock().ok()?.clone()?;
    let (w, h, margin) = geometry(info.width(), info.height());
    let (x, y) = (info.width().saturating_sub(w + margin), info.height().saturating_sub(h + margin));
    let rectangle = gst_video::VideoOverlayRectangle::new_raw(
        &buffer,
        x as i32,
        y as i32,
        w,
        h,
        gst_video::VideoOverlayFormatFlags::empty(),
    );
    Some(gst_video::VideoOverlayComposition::from(rectangle))
}
