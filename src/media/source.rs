//! The video source of a running call, kept alive through camera trouble: when the camera
//! fails (unplugged, driver gone, busy) the call shows a slate instead of ending, and the
//! camera comes back by itself when its device node opens again, or when the same camera
//! appears on another node after a re-plug.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gstreamer as gst;

use super::MediaError;
use super::elements::fragment;
use super::plan::slate;
use crate::devices::camera::{self, CameraId};

/// The name of the source bin inside a call pipeline.
pub const VIDEO_SOURCE: &str = "video-source";
/// How soon a lost camera is tried again; doubled after each failed return, up to MAX_RETRY.
const RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(8);

/// Where the picture comes from now.
#[derive(Debug)]
pub struct SourceState {
    /// The camera's fragment and identity, when the call's source is a camera.
    camera: Option<(String, CameraId)>,
    /// Why the slate is showing, if it is.
    lost: Option<String>,
    last_try: Option<Instant>,
    /// The wait before the next try, and when the camera last came back.
    backoff: Duration,
    returned_at: Option<Instant>,
    /// Set by the first frame the current source delivers.
    delivering: Arc<AtomicBool>,
}

impl SourceState {
    pub fn new(fragment_text: &str, camera: Option<CameraId>) -> Self {
        Self {
            camera: camera.map(|id| (fragment_text.to_owned(), id)),
            lost: None,
            last_try: None,
            backoff: RETRY,
            returned_at: None,
            delivering: Arc::new(AtomicBool::new(false)),
        }
    }

    /// "live", "starting" (no frame yet), or what the slate stands in for.
    pub fn describe(&self) -> String {
        match &self.lost {
            Some(reason) => format!("slate: {reason}"),
            None if self.delivering.load(Ordering::Relaxed) => "live".into(),
            None => "starting".into(),
        }
    }

    /// Watches `source` for its first frame.
    pub fn watch(&mut self, source: &gst::Element) {
        self.delivering = Arc::new(AtomicBool::new(false));
        let flag = self.delivering.clone();
        if let Some(pad) = source.static_pad("src") {
            pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                flag.store(true, Ordering::Relaxed);
                gst::PadProbeReturn::Remove
            });
        }
    }

    pub fn has_camera(&self) -> bool {
        self.camera.is_some()
    }

    /// The fragment to start the call with: the camera, or the slate if it cannot be opened.
    pub fn initial_fragment(&mut self) -> Option<String> {
        let (text, id) = self.camera.clone()?;
        if camera_opens(&id.path) {
            return Some(text);
        }
        self.lost = Some(format!("camera {} unavailable", id.path.display()));
        Some(slate("camera unavailable"))
    }

    /// The camera failed: show the slate.
    pub fn camera_lost(&mut self, pipeline: &gst::Pipeline, reason: &str) -> Result<(), MediaError> {
        if self.lost.is_some() || self.camera.is_none() {
            return Ok(());
        }
        // A camera that fails again right after coming back (busy, flaky) is tried less often.
        let relapsed = self.returned_at.is_some_and(|t| t.elapsed() < Duration::from_secs(5));
        self.backoff = if relapsed { (self.backoff * 2).min(MAX_RETRY) } else { RETRY };
        tracing::warn!("camera lost ({reason}): showing the slate; trying again in {:?}", self.backoff);
        self.lost = Some(format!("camera lost: {reason}"));
        self.last_try = Some(Instant::now());
        let slate = replace(pipeline, &slate("camera unavailable"))?;
        self.watch(&slate);
        Ok(())
    }

    /// Brings the camera back once its device opens again (checked once a second).
    pub fn retry(&mut self, pipeline: &gst::Pipeline) -> Result<(), MediaError> {
        let (Some(_), Some((_, id))) = (&self.lost, &self.camera) else { return Ok(()) };
        if self.last_try.is_some_and(|t| t.elapsed() < self.backoff) {
            return Ok(());
        }
        if !camera_opens(&id.path) {
            self.last_try = Some(Instant::now());
            self.look_elsewhere();
            return Ok(());
        }
        self.last_try = Some(Instant::now());
        self.returned_at = self.last_try;
        let Some((text, id)) = &self.camera else { return Ok(()) };
        tracing::info!(device = %id.path.display(), "trying the camera again");
        let text = text.clone();
        self.lost = None;
        let camera = replace(pipeline, &text)?;
        self.watch(&camera);
        Ok(())
    }
}

impl SourceState {
    /// A re-plugged camera may come back on another node: find it by port and model, and use
    /// that node from the next try on.
    fn look_elsewhere(&mut self) {
        let Some((text, id)) = &mut self.camera else { return };
        let cameras = camera::identities(Path::new("/dev"));
        let Some(found) = camera::find_again(&cameras, id).filter(|c| c.path != id.path) else { return };
        tracing::info!(card = %id.card, from = %id.path.display(), to = %found.path.display(), "the camera is back on another node");
        *text = text.replace(&format!("device={}", id.path.display()), &format!("device={}", found.path.display()));
        id.path = found.path.clone();
        self.last_try = None;
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

/// Swaps the running video source for a new one made from `text`, and brings the pipeline
/// (back) to PLAYING: a source that failed while starting leaves it short of that.
fn replace(pipeline: &gst::Pipeline, text: &str) -> Result<gst::Element, MediaError> {
    let old = pipeline.by_name(VIDEO_SOURCE).ok_or_else(|| MediaError::Internal("no video source".into()))?;
    let downstream = old
        .static_pad("src")
        .and_then(|p| p.peer())
        .ok_or_else(|| MediaError::Internal("video source not linked".into()))?;
    // Locked first: a state change of the pipeline in progress must not start it again.
    old.set_locked_state(true);
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
    new.set_locked_state(true);
    pipeline.add(&new).map_err(|e| MediaError::Internal(e.to_string()))?;
    let src = new.static_pad("src").ok_or_else(|| MediaError::Internal("new source has no src pad".into()))?;
    src.link(&downstream).map_err(|e| MediaError::Link { from: VIDEO_SOURCE.into(), to: format!("{e:?}") })?;
    super::elements::start_held(&[&new])?;
    // A camera that failed while the call started leaves the pipeline short of PLAYING.
    let _ = pipeline.set_state(gst::State::Playing);
    Ok(new)
}
