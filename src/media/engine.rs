//! The room's media as one owner: the idle screen between meetings, the meeting's pipeline
//! (`room.rs`) with a leg per place while there is one, and the sound card's mixer settings.
//! It runs on the media thread (`worker.rs`): everything here may block on a driver.

use tokio::sync::mpsc::UnboundedSender;

use super::room::RoomMedia;
use super::sockets::BoundSockets;
use super::{MediaError, MediaEvent, MediaPlan, MediaStats, gst, idle_display, latency, levels, release_freed_memory};
use crate::meeting::LegId;
use crate::sdp::Negotiated;

/// The room's media while a meeting has legs with media, and the idle screen between.
pub(super) struct Engine {
    plan: MediaPlan,
    events: UnboundedSender<MediaEvent>,
    room: Option<RoomMedia>,
    /// What the mixer was set to, in words.
    mixer: String,
    /// The idle screen on the display, between meetings.
    idle: Option<idle_display::IdleDisplay>,
    /// The next meeting's graph, built between meetings and not playing (no device is open),
    /// so that the meeting's first place does not wait for it.
    spare: Option<RoomMedia>,
}

impl Engine {
    /// An engine for `plan`; a real screen shows the idle screen at once.
    pub(super) fn new(plan: MediaPlan, events: UnboundedSender<MediaEvent>) -> Self {
        let mut engine = Self { plan, events, room: None, mixer: String::new(), idle: None, spare: None };
        engine.show_idle();
        engine.build_spare();
        engine
    }

    /// Takes a reloaded plan between meetings: the idle screen is shown anew on its display.
    pub(super) fn replan(&mut self, plan: MediaPlan) {
        self.idle = None;
        self.spare = None;
        self.plan = plan;
        self.show_idle();
        self.build_spare();
    }

    /// New lines under the idle screen's call to action, shown at once when it is up.
    pub(super) fn set_idle_notes(&mut self, notes: Vec<String>) {
        self.plan.idle_notes = notes;
        if let Some(idle) = &self.idle {
            idle.relabel(&self.plan);
        }
    }

    /// Links the leg into the room's media, opening the devices for the meeting's first leg.
    pub(super) fn start(
        &mut self,
        leg: LegId,
        name: &str,
        negotiated: &Negotiated,
        muted: bool,
        sockets: BoundSockets,
    ) -> Result<(), MediaError> {
        let sockets = sockets.into_call()?;
        self.with_room(muted, |room, fresh| {
            if fresh {
                room.play()?;
            }
            room.add_leg(leg, name, negotiated, sockets)
        })
    }

    /// Answers a browser guest's offer, links the guest's leg into the room's media and then
    /// hands the answer to `answered`. The leg runs before the answer leaves: the box answers
    /// as DTLS server, so the browser's first handshake packet may follow its first ICE check
    /// at once, and GStreamer 1.22.0's `nicesrc` stops for good (and with it the box's ICE
    /// checks) when a packet reaches a webrtcbin that is not yet playing.
    pub(super) fn start_guest(
        &mut self,
        leg: LegId,
        name: &str,
        offer: &str,
        muted: bool,
        answered: impl FnOnce(String),
    ) -> Result<(), MediaError> {
        let events = self.events.clone();
        let started = std::time::Instant::now();
        self.with_room(muted, |room, fresh| {
            let (guest, answer) = room.answer_guest(leg, name, offer, events)?;
            let built = started.elapsed().as_millis() as u64;
            if fresh {
                room.play()?;
            }
            room.link_guest(guest)?;
            tracing::debug!(
                built,
                linked = started.elapsed().as_millis() as u64,
                "guest's leg answered and running (ms)"
            );
            answered(answer);
            Ok(())
        })
    }

    /// Adds a leg with `add` to the meeting's media. The meeting's first leg takes the spare
    /// graph (`fresh`: `add` starts it when the leg is ready for it); a first leg that fails
    /// closes it again.
    fn with_room<T>(
        &mut self,
        muted: bool,
        add: impl FnOnce(&mut RoomMedia, bool) -> Result<T, MediaError>,
    ) -> Result<T, MediaError> {
        let fresh = self.room.is_none();
        let room = match &mut self.room {
            Some(room) => room,
            None => {
                self.idle = None; // the meeting takes the screen
                self.mixer = levels::apply(&self.plan.mixer, muted);
                let room = self.fresh_room(muted)?;
                self.room.insert(room)
            }
        };
        let added = add(room, fresh);
        if added.is_err() && room.is_empty() {
            self.close_room();
        }
        added
    }

    /// Unlinks the leg and closes its sockets; the last leg closes the room's devices. Idempotent.
    pub(super) fn release(&mut self, leg: LegId) {
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
        self.build_spare();
    }

    /// The graph for a meeting that starts now: the spare one, else one built now.
    fn fresh_room(&mut self, muted: bool) -> Result<RoomMedia, MediaError> {
        match self.spare.take() {
            Some(room) => {
                room.set_mute(muted);
                Ok(room)
            }
            None => RoomMedia::build(&self.plan, muted, self.events.clone()),
        }
    }

    /// Builds the next meeting's graph between meetings. One that cannot be built is built
    /// again when the meeting starts, which then reports why.
    fn build_spare(&mut self) {
        if self.spare.is_some() || self.room.is_some() {
            return;
        }
        match RoomMedia::build(&self.plan, false, self.events.clone()) {
            Ok(room) => self.spare = Some(room),
            Err(e) => tracing::debug!("the next meeting's graph is built when it starts: {e}"),
        }
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
    pub(super) fn tick(&mut self) {
        if let Some(room) = self.room.as_mut() {
            room.tick();
        }
    }

    /// How long each leg with media has received nothing.
    pub(super) fn idle_legs(&self) -> Vec<(LegId, std::time::Duration)> {
        self.room.as_ref().map(RoomMedia::idle).unwrap_or_default()
    }

    /// The camera failed: show the slate instead.
    pub(super) fn camera_lost(&self, reason: &str) {
        if let Some(room) = &self.room {
            room.camera_lost(reason);
        }
    }

    /// Applies a changed latency across the running pipeline (LATENCY message).
    pub(super) fn recalculate_latency(&self) {
        if let Some(room) = &self.room {
            room.recalculate_latency();
        }
    }

    pub(super) fn set_mute(&mut self, muted: bool) {
        if let Some(room) = &self.room {
            room.set_mute(muted);
            if let Some(done) = levels::set_mute(&self.plan.mixer, muted) {
                self.mixer = done;
            }
        }
    }

    /// The mixer settings made for the current or last meeting, in words (empty when the
    /// config sets none).
    pub(super) fn mixer(&self) -> &str {
        &self.mixer
    }

    pub(super) fn latency_samples(&self) -> Option<latency::LatencySamples> {
        self.room.as_ref().map(RoomMedia::latency_samples)
    }

    /// Each leg's live figures.
    pub(super) fn stats(&self) -> Vec<(LegId, MediaStats)> {
        self.room.as_ref().map(RoomMedia::stats).unwrap_or_default()
    }

    /// What the screen shows now: the last frame in a meeting, else the idle screen.
    pub(super) fn snapshot_sample(&self) -> Option<gst::Sample> {
        self.room.as_ref().and_then(RoomMedia::last_frame)
    }
}
