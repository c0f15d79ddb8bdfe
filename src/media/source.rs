//! The video source of a running call, kept alive through camera trouble: when the camera
//! fails (unplugged, driver gone, busy) the call shows a slate instead of ending, and the
//! camera comes back by itself when its device node opens again.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gstreamer as gst;

use super::MediaError;
use super::elements::fragment;
use super::plan::slate;

/// The name of the source bin inside a call pipeline.
pub const VIDEO_SOURCE: &str = "video-source";
/// How often a lost camera is looked for.
const RETRY: Duration = Duration::from_secs(1);

/// Where the picture comes from now.
#[derive(Debug)]
pub struct SourceState {
    /// The camera's fragment and device, when the call's source is a camera.
    camera: Option<(String, PathBuf)>,
    /// Why the slate is showing, if it is.
    lost: Option<String>,
    last_try: Option<Instant>,
}

impl SourceState {
    pub fn new(fragment_text: &str, device: Option<&Path>) -> Self {
        Self { camera: device.map(|d| (fragment_text.to_owned(), d.to_owned())), lost: None, last_try: None }
    }

    /// "live", or what the slate stands in for.
    pub fn describe(&self) -> String {
        match &self.lost {
            Some(reason) => format!("slate: {reason}"),
            None => "live".into(),
        }
    }

    pub fn has_camera(&self) -> bool {
        self.camera.is_some()
    }

    /// The fragment to start the call with: the camera, or the slate if it cannot be opened.
    pub fn initial_fragment(&mut self) -> Option<String> {
        let (text, device) = self.camera.clone()?;
        if camera_opens(&device) {
            return Some(text);
        }
        self.lost = Some(format!("camera {} unavailable", device.display()));
        Some(slate("camera unavailable"))
    }

    /// The camera failed: show the slate.
    pub fn camera_lost(&mut self, pipeline: &gst::Pipeline, reason: &str) -> Result<(), MediaError> {
        if self.lost.is_some() || self.camera.is_none() {
            return Ok(());
        }
        tracing::warn!("camera lost ({reason}): showing the slate until it returns");
        self.lost = Some(format!("camera lost: {reason}"));
        self.last_try = Some(Instant::now());
        replace(pipeline, &slate("camera unavailable"))
    }

    /// Brings the camera back once its device opens again (checked once a second).
    pub fn retry(&mut self, pipeline: &gst::Pipeline) -> Result<(), MediaError> {
        let (Some(_), Some((text, device))) = (&self.lost, &self.camera) else { return Ok(()) };
        if self.last_try.is_some_and(|t| t.elapsed() < RETRY) || !camera_opens(device) {
            return Ok(());
        }
        self.last_try = Some(Instant::now());
        tracing::info!(device = %device.display(), "camera is back");
        let text = text.clone();
        self.lost = None;
        replace(pipeline, &text)
    }
}

/// Whether a V4L2 device node can be opened now (the node of an unplugged camera is gone or
/// refuses opening). Plain `open`: this runs on the event loop, which must never panic.
pub fn camera_opens(device: &Path) -> bool {
    std::fs::OpenOptions::new().read(true).write(true).open(device).is_ok()
}

/// Whether `object` belongs to the video source bin.
pub fn is_in_video_source(object: &gst::Object) -> bool {
    object.name() == VIDEO_SOURCE
        || std::iter::successors(object.parent(), |p| p.parent()).any(|p| p.name() == VIDEO_SOURCE)
}

/// Swaps the running video source for a new one made from `text`.
fn replace(pipeline: &gst::Pipeline, text: &str) -> Result<(), MediaError> {
    let old = pipeline.by_name(VIDEO_SOURCE).ok_or_else(|| MediaError::Internal("no video source".into()))?;
    let downstream = old
        .static_pad("src")
        .and_then(|p| p.peer())
        .ok_or_else(|| MediaError::Internal("video source not linked".into()))?;
    let _ = old.set_state(gst::State::Null);
    if let Some(src) = old.static_pad("src") {
        let _ = src.unlink(&downstream);
    }
    pipeline.remove(&old).map_err(|e| MediaError::Internal(e.to_string()))?;
    let gone = old.downgrade();
    drop(old);
    if let Some(still) = gone.upgrade() {
        tracing::warn!(refs = still.ref_count() - 1, "the replaced video source is still referenced");
    }
    // Flush what the old source left downstream (queue, encoder): its buffers keep the
    // camera's buffer pool, and so the device, open.
    downstream.send_event(gst::event::FlushStart::new());
    downstream.send_event(gst::event::FlushStop::new(false));
    let new = fragment(text, gst::PadDirection::Src)?;
    new.set_property("name", VIDEO_SOURCE);
    pipeline.add(&new).map_err(|e| MediaError::Internal(e.to_string()))?;
    let src = new.static_pad("src").ok_or_else(|| MediaError::Internal("new source has no src pad".into()))?;
    src.link(&downstream).map_err(|e| MediaError::Link { from: VIDEO_SOURCE.into(), to: format!("{e:?}") })?;
    new.sync_state_with_parent().map_err(|e| MediaError::Internal(e.to_string()))?;
    Ok(())
}
