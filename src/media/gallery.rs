//! The gallery: a `compositor` of every place of the meeting, this room's camera included,
//! each tile captioned with the place's name and the speaking place framed. Built the first
//! time a meeting reaches three places (a two-place call keeps the direct path), encoded once
//! for every leg and shown on this room's screen. Every pad is requested while the gallery is
//! built; tiles of places that are not there are hidden (alpha 0), never released.

use gst::prelude::*;
use gstreamer as gst;

use super::MediaError;
use super::elements::{add_held_and_link, capsfilter, leaky_queue, link_pads, make, pad, request, start_held, tee};
use super::layout::{self, Rect};
use super::plan::MediaPlan;
use super::room_graph::RoomGraph;

/// The highlight frame's colour (ARGB) and width in pixels of a 720-line screen.
const HIGHLIGHT_ARGB: &str = "0xffffc107";
const HIGHLIGHT_BORDER_720: i32 = 8;

/// A tile of the gallery: this room, or the place in a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tile {
    Room,
    Slot(usize),
}

pub(super) struct Gallery {
    highlight: gst::Pad,
    room: gst::Pad,
    slots: Vec<gst::Pad>,
    captions: Vec<gst::Element>,
    pub encoder_pad: gst::Pad,
    pub screen_pad: gst::Pad,
    width: u32,
    height: u32,
}

fn caption(text: &str) -> Result<gst::Element, MediaError> {
    make(
        "textoverlay",
        &[
            ("text", text),
            ("font-desc", "Sans Bold 28"),
            ("valignment", "bottom"),
            ("halignment", "left"),
            ("shaded-background", "true"),
        ],
    )
}

/// Adds `chain` to the pipeline, linked into `into` and playing, then feeds it from a new pad
/// of `tee` (in that order: a tee must never push into an element that is not running yet).
fn feed(
    pipeline: &gst::Pipeline,
    tee: &gst::Element,
    chain: &[&gst::Element],
    into: &gst::Pad,
) -> Result<(), MediaError> {
    add_held_and_link(pipeline, chain)?;
    link_pads(&pad(chain[chain.len() - 1], "src")?, into)?;
    let downstream_first: Vec<&gst::Element> = chain.iter().rev().copied().collect();
    start_held(&downstream_first)?;
    link_pads(&request(tee, "src_%u")?, &pad(chain[0], "sink")?)
}

impl Gallery {
    pub fn build(pipeline: &gst::Pipeline, graph: &RoomGraph, plan: &MediaPlan) -> Result<Self, MediaError> {
        let (w, h, fps) = (plan.width, plan.height, plan.fps);
        let compositor = make(
            "compositor",
            &[("background", "black"), ("start-time-selection", "first"), ("ignore-inactive-pads", "true")],
        )?;
        compositor.set_property("name", "gallery");
        let out = tee()?;
        let to_encoder = leaky_queue(2)?;
        let to_screen = leaky_queue(2)?;
        let caps = capsfilter(&format!(
            "video/x-raw,format=I420,width={w},height={h},framerate={fps}/1,pixel-aspect-ratio=1/1"
        ))?;
        add_held_and_link(pipeline, &[&compositor, &caps, &out])?;
        add_held_and_link(pipeline, &[&to_encoder])?;
        add_held_and_link(pipeline, &[&to_screen])?;
        let encoder_pad = request(&graph.encoder_input, "sink_%u")?;
        let screen_pad = request(&graph.screen_input, "sink_%u")?;
        link_pads(&pad(&to_encoder, "src")?, &encoder_pad)?;
        link_pads(&pad(&to_screen, "src")?, &screen_pad)?;
        link_pads(&request(&out, "src_%u")?, &pad(&to_encoder, "sink")?)?;
        link_pads(&request(&out, "src_%u")?, &pad(&to_screen, "sink")?)?;

        // Every input pad now, before the compositor runs: the highlight, this room, each slot.
        let highlight = request(&compositor, "sink_%u")?;
        let room = request(&compositor, "sink_%u")?;
        let slots =
            (0..graph.slot_video.len()).map(|_| request(&compositor, "sink_%u")).collect::<Result<Vec<_>, _>>()?;
        for p in std::iter::once(&highlight).chain(std::iter::once(&room)).chain(&slots) {
            p.set_property("alpha", 0.0f64);
        }
        highlight.set_property("zorder", 0u32);
        // Every remote place waits for the gallery: it must wait for no tile, neither for this
        // room's camera (a live source delivers a frame a frame after it starts), nor for the
        // places (their jitter buffers), nor for the highlight.
        for tile in [&highlight, &room].into_iter().chain(&slots) {
            shown_as_latest(tile);
        }
        start_held(&[&to_encoder, &to_screen, &out, &caps, &compositor])?;
        let frame = format!("videotestsrc is-live=true pattern=solid-color foreground-color={HIGHLIGHT_ARGB}");
        let frame = super::elements::fragment(&frame, gst::PadDirection::Src)?;
        let small = capsfilter(&format!("video/x-raw,format=I420,width=64,height=36,framerate={fps}/1"))?;
        add_held_and_link(pipeline, &[&frame, &small])?;
        link_pads(&pad(&small, "src")?, &highlight)?;
        start_held(&[&small, &frame])?;

        let mut captions = Vec::new();
        let (room_queue, room_caption) = (leaky_queue(2)?, caption(&plan.room)?);
        feed(pipeline, &graph.camera, &[&room_queue, &room_caption], &room)?;
        for (slot, tile) in graph.slot_video.iter().zip(&slots) {
            let (queue, text) = (leaky_queue(2)?, caption("")?);
            feed(pipeline, slot, &[&queue, &text], tile)?;
            captions.push(text);
        }
        Ok(Self { highlight, room, slots, captions, encoder_pad, screen_pad, width: w, height: h })
    }

    /// Lays out this room and the places in `present` (slot, name), in that order, and frames
    /// the `speaker`'s tile. Tiles of absent slots are hidden.
    pub fn arrange(&self, present: &[(usize, String)], speaker: Option<Tile>) {
        let cells = layout::tiles(present.len() + 1, self.width, self.height);
        let speaking = speaker.and_then(|s| match s {
            Tile::Room => Some(0),
            Tile::Slot(slot) => present.iter().position(|(p, _)| *p == slot).map(|at| at + 1),
        });
        let border = (HIGHLIGHT_BORDER_720 * self.height as i32 / 720).max(2);
        let place = |p: &gst::Pad, cell: usize, zorder: u32| {
            let r = if speaking == Some(cell) { layout::inset(cells[cell], border) } else { cells[cell] };
            show(p, r, zorder);
        };
        place(&self.room, 0, 1);
        for (i, tile) in self.slots.iter().enumerate() {
            match present.iter().position(|(slot, _)| *slot == i) {
                Some(at) => {
                    place(tile, at + 1, 2 + i as u32);
                    self.captions[i].set_property("text", &present[at].1);
                }
                None => tile.set_property("alpha", 0.0f64),
            }
        }
        match speaking {
            Some(cell) => show(&self.highlight, cells[cell], 0),
            None => self.highlight.set_property("alpha", 0.0f64),
        }
    }
}

fn show(p: &gst::Pad, r: Rect, zorder: u32) {
    p.set_property("xpos", r.x);
    p.set_property("ypos", r.y);
    p.set_property("width", r.w);
    p.set_property("height", r.h);
    p.set_property("zorder", zorder);
    p.set_property("alpha", 1.0f64);
}

/// The compositor takes `pad`'s latest frame when a gallery frame is due instead of waiting
/// for the frame of that very instant: the pad answers latency queries with none, and each
/// frame is stamped with the moment it arrives. A place's frames come through its jitter
/// buffer, so their own stamps lie that buffer's latency in the past: the compositor would
/// either wait that long for every gallery frame or drop them all as late.
pub(super) fn shown_as_latest(pad: &gst::Pad) {
    answers_no_latency(pad);
    stamped_on_arrival(pad);
}

/// Latency queries through `pad` are answered with none (a live source's, without delay).
pub(super) fn answers_no_latency(pad: &gst::Pad) {
    pad.add_probe(gst::PadProbeType::QUERY_UPSTREAM, |_, info| {
        if let Some(gst::PadProbeData::Query(query)) = &mut info.data
            && let gst::QueryViewMut::Latency(latency) = query.view_mut()
        {
            latency.set(true, gst::ClockTime::ZERO, gst::ClockTime::NONE);
            return gst::PadProbeReturn::Handled;
        }
        gst::PadProbeReturn::Ok
    });
}

/// Each frame through `pad` is stamped with the running time at which it passes.
pub(super) fn stamped_on_arrival(pad: &gst::Pad) {
    pad.add_probe(gst::PadProbeType::BUFFER, |pad, info| {
        let now = pad.parent_element().and_then(|e| e.current_running_time());
        let segment = pad.sticky_event::<gst::event::Segment>(0);
        let position = segment.as_ref().and_then(|s| s.segment().downcast_ref::<gst::ClockTime>().cloned());
        if let (Some(now), Some(segment), Some(buffer)) = (now, position, info.buffer_mut()) {
            let buffer = buffer.make_mut();
            buffer.set_pts(segment.position_from_running_time(now));
            buffer.set_dts(gst::ClockTime::NONE);
        }
        gst::PadProbeReturn::Ok
    });
}
