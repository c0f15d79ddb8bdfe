//! The room's media for one meeting: a long-lived pipeline that owns the camera, microphone,
//! screen and speaker (see `room_graph.rs`), into which legs are linked as they join and from
//! which they are unlinked as they leave, without touching the devices. With one remote place
//! the screen shows it directly and the camera goes straight to the encoder; from three places
//! on the gallery (`gallery.rs`) is what the screen shows and what every leg receives.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use gst::glib;
use gst::prelude::*;
use gstreamer as gst;
use tokio::sync::mpsc::UnboundedSender;

use super::elements::{link_pads, pad, request, start_held};
use super::gallery::{Gallery, Tile};
use super::leg::{LegSpec, MediaLeg, RtpLeg};
use super::measure::RenderClock;
use super::plan::MediaPlan;
use super::room_graph::{self, RoomGraph};
use super::room_meters::RoomMeters;
use super::sockets::CallSockets;
use super::source::SourceState;
use super::stats::{MediaStats, PictureSize};
use super::webrtc_leg::{GuestSpec, WebRtcLeg};
use super::{MediaError, MediaEvent};
use crate::meeting::LegId;
use crate::sdp::Negotiated;

/// A leg in the room, with the tee pads that feed it (released when it leaves).
struct Linked {
    leg: Box<dyn MediaLeg>,
    feeds: Vec<(gst::Element, gst::Pad)>,
}

pub struct RoomMedia {
    pub(super) pipeline: gst::Pipeline,
    plan: MediaPlan,
    graph: RoomGraph,
    legs: BTreeMap<LegId, Linked>,
    gallery: Option<Gallery>,
    speaker: Option<Tile>,
    pub(super) meters: Arc<RoomMeters>,
    pub(super) source: Arc<Mutex<SourceState>>,
}

impl RoomMedia {
    /// Builds the room's graph without opening its devices ([`Self::play`] does).
    pub fn build(plan: &MediaPlan, muted: bool, events: UnboundedSender<MediaEvent>) -> Result<Self, MediaError> {
        let pipeline = gst::Pipeline::with_name("room");
        // The room keeps time by the system clock, never a device's: a capture card that falls
        // behind (an overloaded CPU overruns its ring buffer) would slow every leg's jitter
        // buffer and the screen with it. The card is slaved to the system clock instead.
        let clock_type = if plan.realtime_clock { gst::ClockType::Realtime } else { gst::ClockType::Monotonic };
        let clock = glib::Object::builder::<gst::SystemClock>().property("clock-type", clock_type).build();
        pipeline.use_clock(Some(&clock));
        if plan.realtime_clock {
            pipeline.set_start_time(gst::ClockTime::NONE);
            pipeline.set_base_time(gst::ClockTime::ZERO);
        }
        let meters = Arc::new(RoomMeters::new(RenderClock::new(&pipeline)));
        let source = Arc::new(Mutex::new(SourceState::new("", None)));
        let graph = room_graph::build(&pipeline, plan, plan.slots(), muted, &meters, &source)?;
        super::set_render_deadline(&pipeline, plan.render_deadline_ms);
        let room = Self {
            pipeline,
            plan: plan.clone(),
            graph,
            legs: BTreeMap::new(),
            gallery: None,
            speaker: None,
            meters,
            source,
        };
        super::bus::watch_bus(&room, events);
        Ok(room)
    }

    /// Opens the devices and starts the graph.
    pub fn play(&self) -> Result<(), MediaError> {
        if self.pipeline.set_state(gst::State::Playing).is_err() {
            let error = self.meters.last_error.lock().ok().and_then(|e| e.clone());
            return Err(MediaError::StartFailed(
                error.unwrap_or_else(|| "the room's media refused to start (log level debug tells more)".into()),
            ));
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.legs.is_empty()
    }

    /// Links a new leg into the running graph, in the first free slot.
    pub fn add_leg(
        &mut self,
        id: LegId,
        name: &str,
        negotiated: &Negotiated,
        sockets: CallSockets,
    ) -> Result<(), MediaError> {
        let (slot, slots) = self.free_slot(id)?;
        let spec = LegSpec { id, slot, slots, name, plan: &self.plan, negotiated, render: self.meters.render.clone() };
        self.link_leg(Box::new(RtpLeg::build(spec, sockets)?))
    }

    /// Builds a browser guest's leg for the first free slot and answers its offer; returns the
    /// leg (for [`Self::link_guest`]) and the answer (with the box's ICE candidates).
    pub fn answer_guest(
        &self,
        id: LegId,
        name: &str,
        offer: &str,
        events: UnboundedSender<MediaEvent>,
    ) -> Result<(WebRtcLeg, String), MediaError> {
        let (slot, slots) = self.free_slot(id)?;
        let render = self.meters.render.clone();
        let spec = GuestSpec { id, slot, slots, name, plan: &self.plan, render, offer, events };
        WebRtcLeg::build(spec)
    }

    /// Links an answered guest's leg into the running graph.
    pub fn link_guest(&mut self, leg: WebRtcLeg) -> Result<(), MediaError> {
        self.link_leg(Box::new(leg))
    }

    /// The first slot no leg uses, and how many there are.
    fn free_slot(&self, id: LegId) -> Result<(usize, usize), MediaError> {
        let slots = self.plan.slots();
        let slot = (0..slots)
            .find(|s| !self.legs.values().any(|l| l.leg.slot() == *s))
            .ok_or_else(|| MediaError::Internal(format!("no free slot for {id}: {slots} places are taken")))?;
        Ok((slot, slots))
    }

    /// Links a built leg into the running graph: its outputs to its slot's tees, then (once it
    /// runs) its inputs from the room's picture, microphone and the other places.
    fn link_leg(&mut self, leg: Box<dyn MediaLeg>) -> Result<(), MediaError> {
        let (id, slot, slots) = (leg.id(), leg.slot(), self.plan.slots());
        let bin = leg.bin().clone();
        // Held in NULL until linked (see `add_held_and_link`).
        bin.set_locked_state(true);
        self.pipeline.add(&bin).map_err(|e| MediaError::Internal(e.to_string()))?;
        let attach = |graph: &RoomGraph| -> Result<Vec<(gst::Element, gst::Pad)>, MediaError> {
            // Outputs first: the leg's picture and sound into its slot's tees.
            if let Some(video) = bin.static_pad("video_src") {
                link_pads(&video, &pad(&graph.slot_video[slot], "sink")?)?;
            }
            if let Some(audio) = bin.static_pad("audio_src") {
                link_pads(&audio, &pad(&graph.slot_audio[slot], "sink")?)?;
            }
            start_held(&[bin.upcast_ref()]).map_err(|e| MediaError::StartFailed(format!("{id}: {e}")))?;
            // Then its inputs, now that it runs: the encoded picture, the microphone, the others.
            let mut feeds = Vec::new();
            let mut feed = |tee: &gst::Element, sink: &str| -> Result<(), MediaError> {
                if let Some(sink) = bin.static_pad(sink) {
                    let src = request(tee, "src_%u")?;
                    link_pads(&src, &sink)?;
                    feeds.push((tee.clone(), src));
                }
                Ok(())
            };
            feed(&graph.video_out, "video_sink")?;
            feed(&graph.mic_out, "mix_mic")?;
            for other in (0..slots).filter(|s| *s != slot) {
                feed(&graph.slot_audio[other], &format!("mix_slot_{other}"))?;
            }
            Ok(feeds)
        };
        match attach(&self.graph) {
            Ok(feeds) => {
                let keyframe = leg.keyframe_on_link();
                self.legs.insert(id, Linked { leg, feeds });
                self.arrange();
                if keyframe {
                    self.request_keyframe();
                }
                Ok(())
            }
            Err(e) => {
                detach(&self.pipeline, &bin, &[]);
                Err(e)
            }
        }
    }

    /// Unlinks a leg and frees its part of the graph; the others go on. Idempotent.
    pub fn remove_leg(&mut self, id: LegId) {
        let Some(linked) = self.legs.remove(&id) else { return };
        detach(&self.pipeline, linked.leg.bin(), &linked.feeds);
        self.arrange();
    }

    /// Chooses what the screen shows and what the legs receive, by how many places there are.
    fn arrange(&mut self) {
        let present: Vec<(usize, String)> =
            self.legs.values().map(|l| (l.leg.slot(), l.leg.name().to_owned())).collect();
        let g = &self.graph;
        // Sound: the mix-minus from three places on, else the microphone (see `mix_or_pass`).
        for linked in self.legs.values() {
            linked.leg.set_mixing(present.len() >= 2);
        }
        // The speaker: one place straight through where it may be, else mixed.
        match present.as_slice() {
            [(slot, _)] if !self.plan.echo_cancel => g.speaker.pass(Some(*slot)),
            [_, ..] => g.speaker.pass(None),
            [] => {}
        }
        if present.len() >= 2 && self.gallery.is_none() {
            match Gallery::build(&self.pipeline, g, &self.plan) {
                Ok(gallery) => self.gallery = Some(gallery),
                Err(e) => tracing::warn!("the gallery could not be built, the screen shows one place: {e}"),
            }
        }
        match (&self.gallery, present.as_slice()) {
            (Some(gallery), [_, _, ..]) => {
                gallery.arrange(&present, self.speaker);
                g.self_view_on.store(false, Ordering::Relaxed);
                switch(&g.screen_input, &gallery.screen_pad);
                if switch(&g.encoder_input, &gallery.encoder_pad) {
                    tracing::info!(places = present.len() + 1, "meeting: every place now receives the gallery");
                    self.request_keyframe();
                }
            }
            (_, [(slot, _), ..]) => {
                g.self_view_on.store(self.plan.self_view, Ordering::Relaxed);
                switch(&g.screen_input, &g.screen_slots[*slot]);
                if switch(&g.encoder_input, &g.direct_pad) {
                    tracing::info!("meeting of two places: the camera goes straight to the encoder");
                    self.request_keyframe();
                }
            }
            _ => {}
        }
        self.update_screen_lead();
    }

    /// Asks the encoder for a keyframe (a new leg, or a switch of what is encoded).
    fn request_keyframe(&self) {
        if let Some(src) = self.graph.encoder.static_pad("src") {
            src.send_event(super::encoder_control::keyframe_request());
        }
    }

    /// Periodic upkeep: jitter buffers, a lost camera, and who is speaking.
    pub fn tick(&mut self) {
        for linked in self.legs.values() {
            linked.leg.tick(self.plan.jitter);
        }
        // One encoder for every place: it runs at what the weakest path carries.
        if let Some(kbps) = self.legs.values().filter_map(|l| l.leg.target_kbps()).min() {
            self.graph.encoder_control.set_bitrate(kbps);
        }
        if let Ok(mut source) = self.source.lock()
            && let Err(e) = source.retry(&self.pipeline)
        {
            tracing::warn!("camera could not be restored: {e}");
        }
        if self.gallery.is_some() {
            let mut levels: Vec<(Tile, f64)> =
                self.legs.values().filter_map(|l| Some((Tile::Slot(l.leg.slot()), l.leg.level_db()?))).collect();
            if let Some(db) = self.meters.mic_level_db.lock().ok().and_then(|l| *l)
                && !self.muted()
            {
                levels.push((Tile::Room, db));
            }
            let next = super::layout::speaker(&levels, self.speaker);
            if next != self.speaker {
                self.speaker = next;
                self.arrange();
            }
        }
    }

    /// How long each leg has received nothing.
    pub fn idle(&self) -> Vec<(LegId, std::time::Duration)> {
        self.legs.iter().map(|(id, l)| (*id, l.leg.idle())).collect()
    }

    pub fn camera_lost(&self, reason: &str) {
        if let Ok(mut source) = self.source.lock()
            && let Err(e) = source.camera_lost(&self.pipeline, reason)
        {
            tracing::warn!("could not switch to the slate: {e}");
        }
    }

    pub fn recalculate_latency(&self) {
        let _ = self.pipeline.recalculate_latency();
        for linked in self.legs.values() {
            linked.leg.refresh_latency();
        }
        self.update_screen_lead();
    }

    /// The screen runs ahead of the room's latency by what its own path does not need.
    fn update_screen_lead(&self) {
        super::screen_lead::update(&self.graph.display, &self.meters.render);
    }

    pub fn set_mute(&self, muted: bool) {
        self.graph.mic.set_property("mute", muted);
    }

    fn muted(&self) -> bool {
        self.graph.mic.property::<bool>("mute")
    }

    /// Each leg's figures, with what the room owns (encoder, camera, mute, glass to glass).
    pub fn stats(&self) -> Vec<(LegId, MediaStats)> {
        let camera = self.source.lock().map(|s| s.describe()).unwrap_or_default();
        let glass = self.meters.glass_to_glass.summary();
        let (requests, made) = self.graph.encoder_control.keyframes();
        self.legs
            .iter()
            .map(|(id, l)| {
                let mut stats = l.leg.stats();
                stats.encoder = self.plan.encoder.element.clone();
                stats.camera = camera.clone();
                stats.muted = self.muted();
                stats.video_in.glass_to_glass = glass.clone();
                (stats.keyframe_requests_at_encoder, stats.keyframes_on_request) = (requests, made);
                stats.encoder_kbps = self.graph.encoder_control.bitrate_kbps();
                if let Some(((width, height), lowered)) = self.graph.encoder_control.size() {
                    (stats.encoder_size, stats.encoder_size_lowered) = (Some(PictureSize { width, height }), lowered);
                }
                (*id, stats)
            })
            .collect()
    }

    pub fn latency_samples(&self) -> super::latency::LatencySamples {
        let mut samples = super::latency::LatencySamples {
            glass_to_glass_ms: self.meters.glass_to_glass.recent(),
            shown_unix_ms: self.meters.qr_shown_at.recent(),
            ..Default::default()
        };
        if let Some(l) = self.legs.values().next() {
            (samples.video_ms, samples.audio_ms) = l.leg.recent_latency();
        }
        samples
    }

    /// The last frame the screen showed, if any arrived yet.
    pub fn last_frame(&self) -> Option<gst::Sample> {
        self.meters.last_frame.lock().ok()?.clone()
    }
}

/// Makes `pad` the selector's active input; returns whether that changed anything.
fn switch(selector: &gst::Element, pad: &gst::Pad) -> bool {
    let active = selector.property::<Option<gst::Pad>>("active-pad");
    if active.as_ref() == Some(pad) {
        return false;
    }
    selector.set_property("active-pad", pad);
    true
}

/// Takes a leg out of the running graph: its feeds go first (no tee pushes into a stopped
/// element), then it stops and is unlinked from its slot's tees and removed.
fn detach(pipeline: &gst::Pipeline, bin: &gst::Bin, feeds: &[(gst::Element, gst::Pad)]) {
    for (tee, src) in feeds {
        if let Some(peer) = src.peer() {
            let _ = src.unlink(&peer);
        }
        tee.release_request_pad(src);
    }
    bin.set_locked_state(true);
    let _ = bin.set_state(gst::State::Null);
    for name in ["video_src", "audio_src"] {
        if let Some(out) = bin.static_pad(name)
            && let Some(peer) = out.peer()
        {
            let _ = out.unlink(&peer);
        }
    }
    let _ = pipeline.remove(bin);
}

impl Drop for RoomMedia {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
        if let Some(bus) = self.pipeline.bus() {
            bus.unset_sync_handler();
        }
        self.legs.clear();
        self.gallery = None;
        // Everything of the meeting must go with it: a pipeline that outlives it is a leak.
        let weak = self.pipeline.downgrade();
        self.pipeline = gst::Pipeline::new();
        if let Some(pipeline) = weak.upgrade() {
            tracing::warn!(
                refs = pipeline.ref_count() - 1,
                "the room pipeline is still referenced after teardown (leak)"
            );
        }
    }
}
