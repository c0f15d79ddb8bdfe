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
//! - `self_view.rs`: this room's own picture in the corner of the screen; `call_qr.rs`: the
//!   guests' join link as a QR code in the opposite corner.
//! - `source.rs`: camera trouble shows a slate; the camera comes back by itself.
//! - `stats.rs`: rate meters and the status figures.
//! - `latency.rs` + `measure.rs`: glass-to-glass (QR) and live (RTCP) latency.
//! - `jitter.rs`: the adaptive jitter buffer policy (pure).
//! - `levels.rs`: microphone gain, speaker volume and mute at the sound card's mixer.
//! - `engine.rs`: the room's media between and during meetings; `worker.rs` runs it on a
//!   thread of its own so a hanging driver never stops the event loop.
//! - Repair and rate (issue 10): `repair.rs` (NACK/RTX, keyframe requests), `opus_repair.rs`
//!   (FEC, concealment), `encoder_control.rs` (keyframes and bitrate of the running encoder),
//!   `rate.rs` (the pure controller), `send_size.rs` (the picture size a rate carries, pure),
//!   `transit.rs` (the queue on the way to us, pure),
//!   `leg_rate.rs`, `rtcp_blocks.rs`, `session_figures.rs`.
//! - Browser guests (issue 12): `webrtc_leg.rs` (a leg around webrtcbin), `webrtc_offer.rs`
//!   (what the browser's offer asks for, pure), `webrtc_negotiate.rs` (the answer);
//!   `leg_chains.rs` holds what both kinds of leg build alike.

mod bus;
mod call_qr;
mod elements;
pub mod encoder;
pub mod encoder_control;
mod engine;
mod gallery;
mod gate_probes;
mod idle_display;
pub mod jitter;
pub mod latency;
pub mod layout;
mod leg;
mod leg_chains;
mod leg_rate;
mod leg_stats;
mod levels;
pub mod measure;
mod mix_or_pass;
mod opus_repair;
pub mod plan;
mod playout_delay;
pub mod probe;
pub mod rate;
mod repair;
mod room;
mod room_graph;
mod room_meters;
mod round_trip;
mod rtcp_blocks;
pub mod screen;
mod screen_lead;
mod self_view;
pub mod send_size;
mod session_figures;
mod sockets;
mod sound_first;
mod source;
mod source_gate;
mod srtp;
pub mod stats;
pub mod transit;
mod webrtc_leg;
mod webrtc_negotiate;
pub mod webrtc_offer;
mod webrtc_repair;
mod worker;

use gst::prelude::*;
use gstreamer as gst;

use crate::meeting::LegId;
pub use elements::check_plan;
pub use leg::MediaLeg;
pub use plan::MediaPlan;
pub use stats::MediaStats;
pub use worker::{Busy, MediaWorker};

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
    #[error("guest: {0}")]
    Guest(String),
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
