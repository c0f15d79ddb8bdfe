//! What every kind of leg builds the same way, whatever carries its RTP (rtpbin over UDP, or
//! webrtcbin): the H.264 payloader of the room's picture, the H.264 receive chain to the room's
//! raw picture, the Opus send chain with its mix-minus, and the Opus receive chain to the room's
//! raw sound. Each goes into the leg's bin with the ghost pads the room links (`video_sink`,
//! `video_src`, `mix_mic`, `mix_slot_N`, `audio_src`; see `leg.rs`).

use std::sync::Arc;

use gst::prelude::*;
use gstreamer as gst;

use super::elements::{add_and_link, audio_queue, capsfilter, ghost, link_pads, make, pad, request, tee};
use super::leg::ROOM_AUDIO;
use super::leg_stats::LegMeters;
use super::measure::{RenderClock, probe_reference_latency, probe_reference_latency_on_arrival};
use super::mix_or_pass::MixOrPass;
use super::opus_repair::OpusRepair;
use super::plan::MediaPlan;
use super::sound_first::sound_name;
use super::stats::{PictureSize, rms_dbfs_s16le};
use super::{MediaError, probe_buffers};
use crate::meeting::LegId;

/// The room's encoded picture, payloaded as `pt`: a queue (`video_sink`) and the payloader,
/// named `<leg>-video-pay`, whose src pad the caller links to its transport.
pub(super) fn video_send(bin: &gst::Bin, id: LegId, pt: u8) -> Result<gst::Element, MediaError> {
    let queue = make("queue", &[("max-size-buffers", "8"), ("max-size-bytes", "0"), ("max-size-time", "0")])?;
    let pay = make(
        "rtph264pay",
        &[("pt", &pt.to_string()), ("config-interval", "-1"), ("mtu", "1200"), ("aggregate-mode", "zero-latency")],
    )?;
    pay.set_property("name", format!("{id}-video-pay"));
    add_and_link(bin, &[&queue, &pay])?;
    ghost(bin, &pad(&queue, "sink")?, "video_sink")?;
    Ok(pay)
}

/// The place's H.264 to the room's raw picture at the room's size (`video_src`). Returns the
/// depayloader, named `<leg>-video-depay`, for the transport to feed.
pub(super) fn video_receive(
    bin: &gst::Bin,
    id: LegId,
    plan: &MediaPlan,
    meters: &Arc<LegMeters>,
    render: Arc<RenderClock>,
) -> Result<gst::Element, MediaError> {
    let depay = make("rtph264depay", &[])?;
    depay.set_property("name", format!("{id}-video-depay"));
    let decoder = make(&plan.decoder, &[])?;
    // AVC out of the depayloader: it then waits for SPS/PPS and hands them over as codec_data,
    // so the parser knows the profile before the first frame (openh264dec refuses caps without
    // one; from byte-stream it never decodes a frame).
    let avc = capsfilter("video/x-h264,stream-format=avc")?;
    let (w, h) = (plan.width, plan.height);
    let room_size = capsfilter(&format!("video/x-raw,format=I420,width={w},height={h},pixel-aspect-ratio=1/1"))?;
    let chain = [
        &depay,
        &avc,
        &make("h264parse", &[])?,
        &decoder,
        &make("videoconvert", &[])?,
        &make("videoscale", &[])?,
        &room_size,
    ];
    add_and_link(bin, &chain)?;
    ghost(bin, &pad(&room_size, "src")?, "video_src")?;
    let decoded = meters.clone();
    probe_buffers(&decoder, "src", move |_, _| decoded.video_decoded.record(0));
    probe_reference_latency_on_arrival(&decoder, "src", render, meters.video_latency.clone());
    watch_picture_size(&decoder, meters.clone());
    Ok(depay)
}

/// Keeps the size of the decoder's pictures (the place may send smaller ones on a thin path).
fn watch_picture_size(decoder: &gst::Element, meters: Arc<LegMeters>) {
    let Some(src) = decoder.static_pad("src") else { return };
    src.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        if let Some(gst::EventView::Caps(caps)) = info.event().map(|e| e.view())
            && let Some(s) = caps.caps().structure(0)
            && let (Ok(width), Ok(height)) = (s.get::<i32>("width"), s.get::<i32>("height"))
            && let Ok(mut size) = meters.video_size.lock()
        {
            *size = Some(PictureSize { width: width.max(0) as u32, height: height.max(0) as u32 });
        }
        gst::PadProbeReturn::Ok
    });
}

/// What [`audio_send`] built: the payloader to link to the transport, the encoder (for FEC),
/// and the switch between the mix-minus and the microphone alone.
pub(super) struct AudioSend {
    pub pay: gst::Element,
    pub encoder: gst::Element,
    pub pass: MixOrPass,
}

/// The sound this leg sends, as Opus payloaded `pt`: the mix-minus of this room's microphone
/// (`mix_mic`) and every other slot (`mix_slot_N`), never the leg's own `slot`.
pub(super) fn audio_send(
    bin: &gst::Bin,
    id: LegId,
    pt: u8,
    slot: usize,
    slots: usize,
) -> Result<AudioSend, MediaError> {
    let pay = make("rtpopuspay", &[("pt", &pt.to_string())])?;
    pay.set_property("name", format!("{id}-audio-pay"));
    let encoder = OpusRepair::encoder()?;
    let send = [&capsfilter(ROOM_AUDIO)?, &make("audioconvert", &[])?, &encoder, &pay];
    // The receiver lip-syncs our video to this sound, so every millisecond the mixer holds it
    // back (a slot no place used, a long output buffer) is a millisecond of picture delay.
    let pass = MixOrPass::build(bin, &sound_name("mix-minus"), 10_000_000, 1)?;
    add_and_link(bin, &send)?;
    link_pads(&pad(&pass.selector, "src")?, &pad(send[0], "sink")?)?;
    // The microphone: straight on while this is the only place, and into the mixer.
    let mic = tee()?;
    bin.add(&mic).map_err(|e| MediaError::Internal(e.to_string()))?;
    ghost(bin, &pad(&mic, "sink")?, "mix_mic")?;
    link_pads(&request(&mic, "src_%u")?, &pass.direct[0])?;
    // Each input of the mixer through its own queue: one tee feeds several mixers, none may
    // block it.
    let others = (0..slots).filter(|s| *s != slot).map(|other| Some(format!("mix_slot_{other}")));
    for input in std::iter::once(None).chain(others) {
        let queue = audio_queue()?;
        queue.set_property("name", sound_name(&format!("mix-in-{}", input.as_deref().unwrap_or("mic"))));
        bin.add(&queue).map_err(|e| MediaError::Internal(e.to_string()))?;
        link_pads(&pad(&queue, "src")?, &request(&pass.mixer, "sink_%u")?)?;
        let sink = pad(&queue, "sink")?;
        pass.hold_until_mixing(&sink);
        match input {
            Some(name) => drop(ghost(bin, &sink, &name)?),
            None => link_pads(&request(&mic, "src_%u")?, &sink)?,
        }
    }
    Ok(AudioSend { pay, encoder, pass })
}

/// The place's Opus to the room's raw sound (`audio_src`), its level metered for the speaker
/// highlight. Returns the depayloader (named `<leg>-audio-depay`) and the decoder.
pub(super) fn audio_receive(
    bin: &gst::Bin,
    id: LegId,
    meters: &Arc<LegMeters>,
    render: Arc<RenderClock>,
) -> Result<(gst::Element, gst::Element), MediaError> {
    let depay = make("rtpopusdepay", &[])?;
    depay.set_property("name", format!("{id}-audio-depay"));
    let decoded = capsfilter(ROOM_AUDIO)?;
    let decoder = OpusRepair::decoder()?;
    let receive = [&depay, &decoder, &make("audioconvert", &[])?, &make("audioresample", &[])?, &decoded];
    add_and_link(bin, &receive)?;
    ghost(bin, &pad(&decoded, "src")?, "audio_src")?;
    probe_reference_latency(&decoded, "src", render, meters.audio_latency.clone());
    let meters = meters.clone();
    probe_buffers(&decoded, "src", move |_, buffer| {
        meters.audio_decoded.record(0);
        if let (Ok(map), Ok(mut l)) = (buffer.map_readable(), meters.level_db.lock()) {
            *l = Some(rms_dbfs_s16le(&map));
        }
    });
    Ok((depay, decoder))
}
