//! Media: the GStreamer side of the room, driven by the runtime on the core's orders.
//!
//! - `plan.rs`: which elements the room uses, resolved from config + a probe (pure).
//! - `encoder.rs`: H.264 encoder choice and property mapping (pure).
//! - `probe.rs`: what this machine has (cameras, sound cards, screens, element factories).
//! - `sockets.rs`: a leg's RTP/RTCP sockets, bound before the SDP is written.
//! - `room.rs`: the meeting's long-lived pipeline, legs linked in and out; `room_graph.rs` its
//!   fixed part (devices, encoder, tees, mixers); `gallery.rs` the composite of every place;
//!   `layout.rs` where tiles go and who speaks (pure); `bus.rs` its messages.
//! - `leg.rs`: one SIP/RTP leg's bin around rtpbin; `leg_stats.rs` its live figures, RTCP
//!   statistics and adaptive jitter buffers; `room_meters.rs` the room's own figures.
//! - `elements.rs`: helpers for building graphs in code.
//! - `screen.rs`: the idle screen and PNG snapshots; `idle_display.rs`: it on a real screen.
//! - `self_view.rs`: this room's own picture in the corner of the screen.
//! - `source.rs`: camera trouble shows a slate; the camera comes back by itself.
//! - `stats.rs`: rate meters and the status figures.
//! - `latency.rs` + `measure.rs`: glass-to-glass (QR) and live (RTCP) latency.
//! - `jitter.rs`: the adaptive jitter buffer policy (pure).
//! - `levels.rs`: microphone gain, speaker volume and mute at the sound card's mixer.

mod bus;
mod elements;
pub mod encoder;
pub mod encoder_control;
mod gallery;
mod idle_display;
pub mod jitter;
pub mod latency;
pub mod layout;
mod leg;
mod leg_rate;
mod leg_stats;
mod levels;
pub mod measure;
mod mix_or_pass;
mod opus_repair;
pub mod plan;
pub mod probe;
pub mod rate;
mod repair;
mod room;
mod room_graph;
mod room_meters;
mod rtcp_blocks;
pub mod screen;
mod self_view;
mod session_figures;
mod sockets;
mod source;
pub mod stats;

use std::collections::HashMap;
use std::net::SocketAddr;

use gst::prelude::*;
use gstreamer as gst;
use tokio::sync::mpsc::UnboundedSender;

use crate::meeting::LegId;
use crate::sdp::{LocalMedia, Negotiated};
pub use elements::check_plan;
pub use leg::MediaLeg;
pub use plan::MediaPlan;
use room::RoomMedia;
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
    /// An element failed: inside one leg (that leg ends), or in the room's own graph.
    Failed { leg: Option<LegId>, reason: String },
    /// The camera failed mid-meeting (the meeting goes on with a slate).
    CameraLost { reason: String },
    /// An element's latency changed (a jitter buffer adapted, a leg joined): redistribute it.
    LatencyChanged,
}

/// Hands memory freed by a finished meeting back to the system. A meeting frees tens of MB of
/// encoder and decoder buffers from many streaming threads; glibc otherwise keeps them in its
/// per-thread arenas, and a room box that takes many calls would look like it leaks.
fn release_freed_memory() {
    // SAFETY: malloc_trim only walks glibc's own heap structures; no Rust invariants involved.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Gives every synchronised sink (ours and those in custom fragments) `ms` to decode and draw
/// a frame, instead of GStreamer's default 20 ms, which would all be added to the delay.
fn set_render_deadline(pipeline: &gst::Pipeline, ms: u32) {
    for element in pipeline.iterate_recurse().into_iter().flatten() {
        if element.find_property("processing-deadline").is_some() {
            element.set_property("processing-deadline", u64::from(ms) * 1_000_000);
        }
    }
}

fn probe_buffers(element: &gst::Element, pad: &str, f: impl Fn(&gst::Pad, &gst::Buffer) + Send + Sync + 'static) {
    let Some(pad) = element.static_pad(pad) else {
        return;
    };
    // Payloaders push buffer lists; count each buffer in them.
    pad.add_probe(gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST, move |pad, info| {
        match &info.data {
            Some(gst::PadProbeData::Buffer(buffer)) => f(pad, buffer),
            Some(gst::PadProbeData::BufferList(list)) => list.iter_owned().for_each(|b| f(pad, &b)),
            _ => {}
        }
        gst::PadProbeReturn::Ok
    });
}

/// Holds each leg's sockets from `prepare` until `start`, and the room's media while a
/// meeting has legs with media.
pub struct Engine {
    plan: MediaPlan,
    events: UnboundedSender<MediaEvent>,
    prepared: HashMap<LegId, CallSockets>,
    room: Option<RoomMedia>,
    /// What the mixer was set to, in words.
    mixer: String,
    /// The idle screen on the display, between meetings.
    idle: Option<idle_display::IdleDisplay>,
}

impl Engine {
    /// An engine for `plan`; a real screen shows the idle screen at once.
    pub fn new(plan: MediaPlan, events: UnboundedSender<MediaEvent>) -> Self {
        let mut engine = Self { plan, events, prepared: HashMap::new(), room: None, mixer: String::new(), idle: None };
        engine.show_idle();
        engine
    }

    /// Takes a reloaded plan between meetings: the idle screen is shown anew on its display.
    pub fn replan(&mut self, plan: MediaPlan) {
        self.idle = None;
        self.plan = plan;
        self.show_idle();
    }

    pub fn plan(&self) -> &MediaPlan {
        &self.plan
    }

    /// Binds the leg's ports towards `peer`.
    pub fn prepare(&mut self, leg: LegId, peer: SocketAddr) -> Result<LocalMedia, MediaError> {
        let sockets = CallSockets::bind(peer)?;
        let local = sockets.local;
        self.prepared.insert(leg, sockets);
        Ok(local)
    }

    /// Links the leg into the room's media, opening the devices for the meeting's first leg.
    pub fn start(&mut self, leg: LegId, name: &str, negotiated: &Negotiated, muted: bool) -> Result<(), MediaError> {
        let sockets =
            self.prepared.remove(&leg).ok_or_else(|| MediaError::Internal(format!("{leg} has no prepared ports")))?;
        let room = match &mut self.room {
            Some(room) => room,
            None => {
                self.idle = None; // the meeting takes the screen
                self.mixer = levels::apply(&self.plan.mixer, muted);
                self.room.insert(RoomMedia::start(&self.plan, muted, self.events.clone())?)
            }
        };
        let added = room.add_leg(leg, name, negotiated, sockets);
        if added.is_err() && room.is_empty() {
            self.close_room();
        }
        added
    }

    /// Unlinks the leg and closes its sockets; the last leg closes the room's devices. Idempotent.
    pub fn release(&mut self, leg: LegId) {
        self.prepared.remove(&leg);
        if let Some(room) = self.room.as_mut() {
            room.remove_leg(leg);
            if room.is_empty() {
                self.close_room();
            }
        }
    }

    fn close_room(&mut self) {
        self.room = None;
        release_freed_memory();
        self.show_idle();
    }

    /// Shows the idle screen on a real display (between meetings). A display that fails is
    /// logged; the room works on without it.
    fn show_idle(&mut self) {
        if self.idle.is_some() || self.room.is_some() {
            return;
        }
        match idle_display::IdleDisplay::start(&self.plan) {
            Ok(idle) => self.idle = idle,
            Err(e) => tracing::warn!("idle screen: {e}"),
        }
    }

    /// Periodic upkeep of the meeting: jitter buffers, a lost camera, the speaker highlight.
    pub fn tick(&mut self) {
        if let Some(room) = self.room.as_mut() {
            room.tick();
        }
    }

    /// How long each leg with media has received nothing.
    pub fn idle_legs(&self) -> Vec<(LegId, std::time::Duration)> {
        self.room.as_ref().map(RoomMedia::idle).unwrap_or_default()
    }

    /// The camera failed: show the slate instead.
    pub fn camera_lost(&self, reason: &str) {
        if let Some(room) = &self.room {
            room.camera_lost(reason);
        }
    }

    /// Applies a changed latency across the running pipeline (LATENCY message).
    pub fn recalculate_latency(&self) {
        if let Some(room) = &self.room {
            room.recalculate_latency();
        }
    }

    pub fn set_mute(&mut self, muted: bool) {
        if let Some(room) = &self.room {
            room.set_mute(muted);
            if let Some(done) = levels::set_mute(&self.plan.mixer, muted) {
                self.mixer = done;
            }
        }
    }

    /// The mixer settings made for the current or last meeting, in words (empty when the
    /// config sets none).
    pub fn mixer(&self) -> &str {
        &self.mixer
    }

    pub fn latency_samples(&self) -> Option<latency::LatencySamples> {
        self.room.as_ref().map(RoomMedia::latency_samples)
    }

    /// Each leg's live figures.
    pub fn stats(&self) -> Vec<(LegId, MediaStats)> {
        self.room.as_ref().map(RoomMedia::stats).unwrap_or_default()
    }

    /// What the screen shows now: the last frame in a meeting, else the idle screen.
    pub fn snapshot_sample(&self) -> Option<gst::Sample> {
        self.room.as_ref().and_then(RoomMedia::last_frame)
    }
}
