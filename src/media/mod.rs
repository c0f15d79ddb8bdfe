//! Media: the GStreamer side of a call, driven by the runtime on the core's orders.
//!
//! - `plan.rs`: which elements a call uses, resolved from config + a probe (pure).
//! - `encoder.rs`: H.264 encoder choice and property mapping (pure).
//! - `probe.rs`: what this machine has (cameras, sound cards, screens, element factories).
//! - `sockets.rs`: a call's RTP/RTCP sockets, bound before the SDP is written.
//! - `pipeline.rs` + `elements.rs`: the call pipeline built in code around rtpbin; `bus.rs`: its messages.
//! - `call_stats.rs`: its live figures, RTCP statistics and adaptive jitter buffers.
//! - `screen.rs`: the idle screen and PNG snapshots; `idle_display.rs`: it on a real screen.
//! - `self_view.rs`: this room's own picture in the corner of the screen.
//! - `source.rs`: camera trouble shows a slate; the camera comes back by itself.
//! - `stats.rs`: rate meters and the status figures.
//! - `latency.rs` + `measure.rs`: glass-to-glass (QR) and live (RTCP) latency.
//! - `jitter.rs`: the adaptive jitter buffer policy (pure).
//! - `levels.rs`: microphone gain, speaker volume and mute at the sound card's mixer.

mod bus;
mod call_stats;
mod elements;
pub mod encoder;
mod idle_display;
pub mod jitter;
pub mod latency;
mod levels;
pub mod measure;
mod pipeline;
pub mod plan;
pub mod probe;
pub mod screen;
mod self_view;
mod sockets;
mod source;
pub mod stats;

use std::collections::HashMap;
use std::net::SocketAddr;

use tokio::sync::mpsc::UnboundedSender;

use crate::call::CallId;
use crate::sdp::{LocalMedia, Negotiated};
pub use elements::check_plan;
pub use pipeline::CallPipeline;
pub use plan::MediaPlan;
use sockets::CallSockets;
pub use stats::MediaStats;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("GStreamer element {element} is missing: install {package}")]
    MissingElement { element: String, package: &'static str },
    #[error("no H.264 decoder: install gstreamer1.0-plugins-bad (openh264dec) or gstreamer1.0-libav (avdec_h264)")]
    NoDecoder,
    #[error(transparent)]
    Encoder(#[from] encoder::EncoderError),
    #[error("GStreamer fragment \"{fragment}\" does not work: {error} (try it with gst-launch-1.0)")]
    BadFragment { fragment: String, error: String },
    #[error("{element} does not accept {property}={value}")]
    BadProperty { element: String, property: String, value: String },
    #[error("cannot link {from} to {to}")]
    Link { from: String, to: String },
    #[error("network: {0}")]
    Socket(String),
    #[error("media did not start: {0}")]
    StartFailed(String),
    #[error("snapshot failed: {0}")]
    Snapshot(String),
    #[error("internal media error: {0}")]
    Internal(String),
}

/// What the media side reports back to the runtime (and so to the core).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    Failed {
        call: CallId,
        reason: String,
    },
    /// The camera failed mid-call (the call goes on with a slate).
    CameraLost {
        call: CallId,
        reason: String,
    },
    /// An element's latency changed (the jitter buffer adapted): redistribute it.
    LatencyChanged {
        call: CallId,
    },
}

/// Hands memory freed by a finished call back to the system. A call frees tens of MB of
/// encoder and decoder buffers from many streaming threads; glibc otherwise keeps them in its
/// per-thread arenas, and a room box that takes many calls would look like it leaks.
fn release_freed_memory() {
    // SAFETY: malloc_trim only walks glibc's own heap structures; no Rust invariants involved.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Holds each call's sockets from `prepare` until `start`, and the running pipeline after.
pub struct Engine {
    plan: MediaPlan,
    events: UnboundedSender<MediaEvent>,
    prepared: HashMap<CallId, CallSockets>,
    running: Option<(CallId, CallPipeline)>,
    /// What the mixer was set to, in words.
    mixer: String,
    /// The idle screen on the display, between calls.
    idle: Option<idle_display::IdleDisplay>,
}

impl Engine {
    /// An engine for `plan`; a real screen shows the idle screen at once.
    pub fn new(plan: MediaPlan, events: UnboundedSender<MediaEvent>) -> Self {
        let mut engine =
            Self { plan, events, prepared: HashMap::new(), running: None, mixer: String::new(), idle: None };
        engine.show_idle();
        engine
    }

    /// Takes a reloaded plan between calls: the idle screen is shown anew on its display.
    pub fn replan(&mut self, plan: MediaPlan) {
        self.idle = None;
        self.plan = plan;
        self.show_idle();
    }

    pub fn plan(&self) -> &MediaPlan {
        &self.plan
    }

    /// Binds the call's ports towards `peer`.
    pub fn prepare(&mut self, call: CallId, peer: SocketAddr) -> Result<LocalMedia, MediaError> {
        let sockets = CallSockets::bind(peer)?;
        let local = sockets.local;
        self.prepared.insert(call, sockets);
        Ok(local)
    }

    pub fn start(&mut self, call: CallId, negotiated: &Negotiated, muted: bool) -> Result<(), MediaError> {
        let sockets = self
            .prepared
            .remove(&call)
            .ok_or_else(|| MediaError::Internal(format!("call {} has no prepared ports", call.0)))?;
        self.running = None; // one call at a time: never two pipelines on the camera
        self.idle = None; // the call takes the screen
        self.mixer = levels::apply(&self.plan.mixer, muted);
        let pipeline = CallPipeline::start(call, &self.plan, negotiated, sockets, muted, self.events.clone())?;
        self.running = Some((call, pipeline));
        Ok(())
    }

    /// Tears down the call's pipeline and closes its sockets. Idempotent.
    pub fn release(&mut self, call: CallId) {
        self.prepared.remove(&call);
        if self.running.as_ref().is_some_and(|(id, _)| *id == call) {
            self.running = None;
            release_freed_memory();
            self.show_idle();
        }
    }

    /// Shows the idle screen on a real display (between calls). A display that fails is
    /// logged; the room works on without it.
    fn show_idle(&mut self) {
        if self.idle.is_some() || self.running.is_some() {
            return;
        }
        match idle_display::IdleDisplay::start(&self.plan) {
            Ok(idle) => self.idle = idle,
            Err(e) => tracing::warn!("idle screen: {e}"),
        }
    }

    /// Periodic upkeep of the running call: jitter buffers follow the measured jitter, and a
    /// lost camera is looked for.
    pub fn tick(&self) {
        if let Some((_, p)) = &self.running {
            p.adapt_jitter_buffers(self.plan.jitter);
            if let Err(e) = p.retry_camera() {
                tracing::warn!("camera could not be restored: {e}");
            }
        }
    }

    /// The camera of `call` failed: show the slate instead.
    pub fn camera_lost(&self, call: CallId, reason: &str) {
        if let Some((id, p)) = &self.running
            && *id == call
            && let Err(e) = p.camera_lost(reason)
        {
            tracing::warn!("could not switch to the slate: {e}");
        }
    }

    /// Applies a changed latency across the running pipeline (LATENCY message).
    pub fn recalculate_latency(&self, call: CallId) {
        if let Some((id, p)) = &self.running
            && *id == call
        {
            p.recalculate_latency();
        }
    }

    pub fn set_mute(&mut self, muted: bool) {
        if let Some((_, p)) = &self.running {
            p.set_mute(muted);
            if let Some(done) = levels::set_mute(&self.plan.mixer, muted) {
                self.mixer = done;
            }
        }
    }

    /// The mixer settings made for the current or last call, in words (empty when the config
    /// sets none).
    pub fn mixer(&self) -> &str {
        &self.mixer
    }

    pub fn latency_samples(&self) -> Option<latency::LatencySamples> {
        self.running.as_ref().map(|(_, p)| p.latency_samples())
    }

    pub fn stats(&self) -> Option<MediaStats> {
        self.running.as_ref().map(|(_, p)| p.stats())
    }

    /// What the screen shows now: the last remote frame in a call, else the idle screen.
    pub fn snapshot_sample(&self) -> Option<gstreamer::Sample> {
        self.running.as_ref().and_then(|(_, p)| p.last_frame())
    }
}
