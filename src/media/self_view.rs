//! The self-view: this room's own picture, small in the bottom-right corner of the screen over
//! the remote room. The latest local frame is pasted into each remote frame as it passes (both
//! I420), so the remote video never waits for it (an aggregator such as `compositor` would hold
//! each remote frame for its output grid and add up to a frame of delay).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use gstreamer as gst;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;

use super::MediaError;
use super::elements::{capsfilter, leaky_queue, make};

/// The latest local frame, scaled down to the self-view size (I420).
pub type Latest = Arc<Mutex<Option<gst::Buffer>>>;

/// The self-view's size and margin for a screen (picture) of `width` x `height`; all even, as
/// I420's half-size colour planes need.
pub fn geometry(width: u32, height: u32) -> (u32, u32, u32) {
    let w = (width / 4).max(16) & !1;
    let h = (height / 4).max(16) & !1;
    (w, h, (width / 40).max(4) & !1)
}

/// Adds the local branch after `tee`: a leaky queue, scaling to the self-view size, and a sink
/// that keeps the latest frame. Returns where the frame is kept.
pub fn add_branch(pipeline: &gst::Pipeline, tee: &gst::Element, width: u32, height: u32) -> Result<Latest, MediaError> {
    let (w, h, _) = geometry(width, height);
    let queue = leaky_queue(1)?;
    // A thumbnail needs neither every frame nor fine filtering: 15 fps, nearest-neighbour.
    let rate = make("videorate", &[("drop-only", "true"), ("max-rate", "15")])?;
    let convert = make("videoconvert", &[])?;
    let scale = make("videoscale", &[("method", "nearest-neighbour")])?;
    let caps = capsfilter(&format!("video/x-raw,format=I420,width={w},height={h},pixel-aspect-ratio=1/1"))?;
    let sink = make("fakesink", &[("sync", "false"), ("async", "false")])?;
    let chain = [&queue, &rate, &convert, &scale, &caps, &sink];
    pipeline.add_many(chain).map_err(|e| MediaError::Internal(e.to_string()))?;
    gst::Element::link_many(chain).map_err(|_| MediaError::Link { from: "self-view".into(), to: "fakesink".into() })?;
    tee.link(&queue).map_err(|_| MediaError::Link { from: "tee".into(), to: "self-view".into() })?;
    let latest: Latest = Arc::default();
    let keep = latest.clone();
    if let Some(pad) = sink.static_pad("sink") {
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let (Some(buffer), Ok(mut slot)) = (info.buffer(), keep.lock()) {
                *slot = Some(buffer.clone());
            }
            gst::PadProbeReturn::Ok
        });
    }
    Ok(latest)
}

/// Pastes the latest local frame into every I420 frame leaving `element`'s src pad, while
/// `on` is set (the gallery shows this room as a tile of its own instead).
pub fn draw_on(element: &gst::Element, latest: Latest, on: Arc<AtomicBool>) {
    let Some(pad) = element.static_pad("src") else { return };
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        if !on.load(Ordering::Relaxed) {
            return gst::PadProbeReturn::Ok;
        }
        let Some(local) = latest.lock().ok().and_then(|l| l.clone()) else { return gst::PadProbeReturn::Ok };
        let Some(screen) = pad.current_caps().and_then(|c| gst_video::VideoInfo::from_caps(&c).ok()) else {
            return gst::PadProbeReturn::Ok;
        };
        if let Some(gst::PadProbeData::Buffer(buffer)) = &mut info.data {
            paste(buffer.make_mut(), &screen, &local);
        }
        gst::PadProbeReturn::Ok
    });
}

fn paste(frame: &mut gst::BufferRef, screen: &gst_video::VideoInfo, local: &gst::Buffer) {
    if screen.format() != gst_video::VideoFormat::I420 {
        return;
    }
    let (w, h, margin) = geometry(screen.width(), screen.height());
    let Ok(small) = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, w, h).build() else { return };
    let (Ok(src), Ok(mut dst)) = (
        gst_video::VideoFrameRef::from_buffer_ref_readable(local.as_ref(), &small),
        gst_video::VideoFrameRef::from_buffer_ref_writable(frame, screen),
    ) else {
        return;
    };
    let (x, y) = (screen.width().saturating_sub(w + margin) & !1, screen.height().saturating_sub(h + margin) & !1);
    for plane in 0..3u32 {
        let (shift, src_stride, dst_stride) =
            (u32::from(plane > 0), src.plane_stride()[plane as usize], dst.plane_stride()[plane as usize]);
        let (Ok(from), Ok(to)) = (src.plane_data(plane), dst.plane_data_mut(plane)) else { return };
        copy_rect(
            Rect { data: from, stride: src_stride as usize },
            to,
            dst_stride as usize,
            (w >> shift, h >> shift),
            ((x >> shift), (y >> shift)),
        );
    }
}

struct Rect<'a> {
    data: &'a [u8],
    stride: usize,
}

/// Copies a `size` block of `from` into `to` (rows of `to_stride` bytes) at `at`; rows that
/// would fall outside either buffer are skipped.
fn copy_rect(from: Rect<'_>, to: &mut [u8], to_stride: usize, size: (u32, u32), at: (u32, u32)) {
    let (w, h) = (size.0 as usize, size.1 as usize);
    let (x, y) = (at.0 as usize, at.1 as usize);
    for row in 0..h {
        let src = row * from.stride;
        let dst = (y + row) * to_stride + x;
        if let (Some(s), Some(d)) = (from.data.get(src..src + w), to.get_mut(dst..dst + w)) {
            d.copy_from_slice(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_lands_at_its_place_and_nothing_else_changes() {
        let small = [1u8, 2, 3, 4, 5, 6];
        let mut screen = vec![0u8; 5 * 4];
        copy_rect(Rect { data: &small, stride: 3 }, &mut screen, 5, (2, 2), (3, 2));
        assert_eq!(screen, vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 4, 5]);
    }

    #[test]
    fn the_self_view_is_a_quarter_of_the_screen_in_even_sizes() {
        assert_eq!(geometry(1280, 720), (320, 180, 32));
        assert_eq!(geometry(322, 242), (80, 60, 8));
    }
}
