//! The fixed part of the room's media graph, built once per meeting: the camera through one
//! encoder to a tee every leg takes its picture from; the microphone to a tee every leg's
//! mix-minus takes it from; and per slot (one per possible remote place) a video and an audio
//! tee that the slot's leg feeds, in turn feeding the screen's selector, the speaker's mixer and
//! the other legs' mix-minus. Mixer pads are all requested here, before anything plays
//! (GStreamer 1.22.0's aggregators race when pads come and go while PLAYING).

use std::sync::{Arc, Mutex};

use gst::prelude::*;
use gstreamer as gst;

use super::elements::{
    add_and_link, audio_queue, capsfilter, fragment, leaky_queue, link_pads, make, pad, request, tee,
};
use super::encoder_control::EncoderControl;
use super::leg::ROOM_AUDIO;
use super::measure::watch_qr_reader;
use super::mix_or_pass::MixOrPass;
use super::plan::MediaPlan;
use super::room_meters::RoomMeters;
use super::self_view;
use super::send_size::SendSize;
use super::sound_first::sound_name;
use super::source::{SourceState, VIDEO_SOURCE};
use super::stats::rms_dbfs_s16le;
use super::{MediaError, probe_buffers};

/// The elements of the fixed graph that legs and the gallery are linked to.
pub(super) struct RoomGraph {
    /// The encoded picture every leg sends (H.264, after the parser).
    pub video_out: gst::Element,
    /// This room's camera picture, raw at the room's size.
    pub camera: gst::Element,
    /// The encoder's input: the camera (pad 0) or, from three places on, the gallery.
    pub encoder_input: gst::Element,
    pub encoder: gst::Element,
    /// Keyframes on request and the bitrate of `encoder`.
    pub encoder_control: Arc<EncoderControl>,
    /// What the screen shows: a slot's picture, or the gallery.
    pub screen_input: gst::Element,
    /// The screen's sink (the display fragment).
    pub display: gst::Element,
    pub mic_out: gst::Element,
    pub mic: gst::Element,
    pub slot_video: Vec<gst::Element>,
    pub slot_audio: Vec<gst::Element>,
    /// The screen selector's pad for each slot.
    pub screen_slots: Vec<gst::Pad>,
    pub direct_pad: gst::Pad,
    /// Whether the self-view is pasted onto the screen now (only with one remote place).
    pub self_view_on: Arc<std::sync::atomic::AtomicBool>,
    /// What the speaker plays: one slot directly (only without the echo canceller, see
    /// `speaker()` below), or the mix of every slot.
    pub speaker: MixOrPass,
}

/// The microphone's sound while the echo canceller works on it.
const MONO_AUDIO: &str = "audio/x-raw,format=S16LE,rate=48000,channels=1,layout=interleaved";

/// The echo canceller (with noise suppression and gain control) and its probe, paired by a
/// name of their own: probes are found by name process-wide, and a meeting's pipeline may
/// still be going away when the next one starts.
fn echo_canceller(enabled: bool) -> Result<Option<(gst::Element, gst::Element)>, MediaError> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    if !enabled {
        return Ok(None);
    }
    let name = format!("room-echo-{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let probe = make("webrtcechoprobe", &[])?;
    probe.set_property("name", &name);
    // Delay-agnostic: the speaker-to-microphone delay of a room is not known in advance.
    let dsp = make("webrtcdsp", &[("probe", &name), ("delay-agnostic", "true")])?;
    Ok(Some((dsp, probe)))
}

/// Builds the fixed graph into `pipeline` (not yet playing).
pub(super) fn build(
    pipeline: &gst::Pipeline,
    plan: &MediaPlan,
    slots: usize,
    muted: bool,
    meters: &Arc<RoomMeters>,
    source: &Arc<Mutex<SourceState>>,
) -> Result<RoomGraph, MediaError> {
    let (w, h, fps) = (plan.width, plan.height, plan.fps);
    // The camera: a slate stands in when it fails (source.rs), the room goes on.
    let mut state = SourceState::new(&plan.video_source.fragment, plan.camera.clone());
    let text = state.initial_fragment().unwrap_or_else(|| plan.video_source.fragment.clone());
    let src = fragment(&text, gst::PadDirection::Src)?;
    src.set_property("name", VIDEO_SOURCE);
    state.watch(&src);
    if let Ok(mut slot) = source.lock() {
        *slot = state;
    }
    // One raw format through the room (the slate, the gallery and every decoded place alike).
    let raw =
        capsfilter(&format!("video/x-raw,width={w},height={h},framerate={fps}/1,format=I420,pixel-aspect-ratio=1/1"))?;
    let camera = tee()?;
    add_and_link(pipeline, &[&src, &make("videoconvert", &[])?, &make("videoscale", &[])?, &raw, &camera])?;

    let encoder_input = make("input-selector", &[("sync-streams", "false"), ("cache-buffers", "false")])?;
    let encoder = make(&plan.encoder.element, &[])?;
    for (name, value) in &plan.encoder.properties {
        super::elements::set(&encoder, name, value)?;
    }
    // x264 would pick High profile; the SDP promised Constrained Baseline (42e01f).
    let h264 =
        if plan.encoder.element == "x264enc" { "video/x-h264,profile=constrained-baseline" } else { "video/x-h264" };
    let video_out = tee()?;
    // The size sent: the room's own, or smaller on a thin path (`send_size.rs`).
    let sizing = SendSize::new(w, h, fps, plan.encoder.bitrate_kbps);
    let send_size = capsfilter(&super::send_size::caps(sizing.size()))?;
    let encoder_control =
        EncoderControl::attach(&encoder, &plan.encoder.element, plan.encoder.bitrate_kbps, &send_size, sizing);
    let chain = [
        &encoder_input,
        &make("videoconvert", &[])?,
        &make("videoscale", &[])?,
        &send_size,
        &encoder,
        &capsfilter(h264)?,
        &make("h264parse", &[("config-interval", "-1")])?,
        &video_out,
    ];
    add_and_link(pipeline, &chain)?;
    let direct = leaky_queue(2)?;
    pipeline.add(&direct).map_err(|e| MediaError::Internal(e.to_string()))?;
    link_pads(&request(&camera, "src_%u")?, &pad(&direct, "sink")?)?;
    let direct_pad = request(&encoder_input, "sink_%u")?;
    link_pads(&pad(&direct, "src")?, &direct_pad)?;
    encoder_input.set_property("active-pad", &direct_pad);

    // The screen: one place's picture (with the self-view in its corner), or the gallery.
    let screen_input = make("input-selector", &[("sync-streams", "false"), ("cache-buffers", "false")])?;
    let screen = capsfilter("video/x-raw,format=I420")?;
    let display = fragment(&plan.display.fragment, gst::PadDirection::Sink)?;
    add_and_link(pipeline, &[&screen_input, &screen, &make("videoconvert", &[])?, &display])?;
    if let (Some(arrivals), Ok(mut slot)) =
        (watch_qr_reader(&display, meters.render.clone()), meters.qr_arrivals.lock())
    {
        *slot = Some(arrivals);
    }
    let self_view_on = Arc::new(std::sync::atomic::AtomicBool::new(plan.self_view));
    if plan.self_view {
        let latest = self_view::add_branch(pipeline, &camera, w, h)?;
        self_view::draw_on(&screen, latest, self_view_on.clone());
    }
    if let Some(link) = &plan.call_link {
        super::call_qr::draw_on(&screen, link);
    }
    let keep = meters.clone();
    probe_buffers(&screen, "src", move |pad, buffer| {
        if let (Some(caps), Ok(mut last)) = (pad.current_caps(), keep.last_frame.lock()) {
            *last = Some(gst::Sample::builder().buffer(buffer).caps(&caps).build());
        }
    });

    // The microphone, and the speaker mixing every place.
    let mic = make("volume", &[("mute", if muted { "true" } else { "false" })])?;
    let mic_out = tee()?;
    // The echo canceller takes what the speaker plays from its probe, in this same pipeline.
    let echo = echo_canceller(plan.echo_cancel)?;
    let mic_source = fragment(&plan.audio_source.fragment, gst::PadDirection::Src)?;
    mic_source.set_property("name", sound_name("microphone"));
    let mut mic_chain = vec![mic_source, make("audioconvert", &[])?, make("audioresample", &[])?];
    if let Some((dsp, _)) = &echo {
        // A microphone is one channel: the canceller works on one, half the work of two.
        mic_chain.extend([capsfilter(MONO_AUDIO)?, dsp.clone(), make("audioconvert", &[])?]);
    }
    mic_chain.extend([capsfilter(ROOM_AUDIO)?, mic.clone(), mic_out.clone()]);
    let mic_chain: Vec<&gst::Element> = mic_chain.iter().collect();
    add_and_link(pipeline, &mic_chain)?;
    let level = meters.clone();
    probe_buffers(&mic, "src", move |_, buffer| {
        if let (Ok(map), Ok(mut l)) = (buffer.map_readable(), level.mic_level_db.lock()) {
            *l = Some(rms_dbfs_s16le(&map));
        }
    });
    let speaker = speaker(pipeline, plan, slots, echo.map(|(_, probe)| probe))?;

    let (mut slot_video, mut slot_audio, mut screen_slots) = (vec![], vec![], vec![]);
    for slot in 0..slots {
        let (video, to_screen) = (tee()?, leaky_queue(2)?);
        pipeline.add_many([&video, &to_screen]).map_err(|e| MediaError::Internal(e.to_string()))?;
        link_pads(&request(&video, "src_%u")?, &pad(&to_screen, "sink")?)?;
        let screen_pad = request(&screen_input, "sink_%u")?;
        link_pads(&pad(&to_screen, "src")?, &screen_pad)?;
        // A place's frames are shown as they arrive: a frame that waited in the jitter buffer
        // for a retransmission is late, the others are not held back by that buffer's latency.
        // Stamped as they enter the screen's queue, not as they leave it: the screen waits the
        // room's latency for each frame, and frames stamped only when it is free would be
        // shown one per latency (a 60 ms latency under jitter showed 16 fps of 30).
        super::gallery::answers_no_latency(&screen_pad);
        super::gallery::stamped_on_arrival(&pad(&to_screen, "sink")?);
        let audio = tee()?;
        let (to_speaker, heard) = (audio_queue()?, tee()?);
        to_speaker.set_property("name", sound_name(&format!("to-speaker-{slot}")));
        pipeline.add_many([&audio, &to_speaker, &heard]).map_err(|e| MediaError::Internal(e.to_string()))?;
        link_pads(&request(&audio, "src_%u")?, &pad(&to_speaker, "sink")?)?;
        link_pads(&pad(&to_speaker, "src")?, &pad(&heard, "sink")?)?;
        let into_mixer = request(&heard, "src_%u")?;
        link_pads(&into_mixer, &request(&speaker.mixer, "sink_%u")?)?;
        speaker.hold_until_mixing(&into_mixer);
        link_pads(&request(&heard, "src_%u")?, &speaker.direct[slot])?;
        slot_video.push(video);
        slot_audio.push(audio);
        screen_slots.push(screen_pad);
    }
    Ok(RoomGraph {
        video_out,
        camera,
        encoder_input,
        encoder,
        encoder_control,
        screen_input,
        display,
        mic_out,
        mic,
        slot_video,
        slot_audio,
        screen_slots,
        direct_pad,
        self_view_on,
        speaker,
    })
}

/// The speaker: the mixer of every slot, then the echo canceller's probe and the sink. In a
/// room without the canceller the one place's sound goes straight through while it is the
/// only one (see `mix_or_pass.rs`). The canceller needs the mixer's even cadence: it learns
/// the room from its probe, and a place's sound as it comes from the network is bursty under
/// load (straight through, `tests/echo.rs` under `make test` once heard the echo come back
/// louder with the canceller on than off).
fn speaker(
    pipeline: &gst::Pipeline,
    plan: &MediaPlan,
    slots: usize,
    echo_probe: Option<gst::Element>,
) -> Result<MixOrPass, MediaError> {
    // Its output buffer adds to the whole pipeline's latency (GStreamer keeps sound and
    // picture in sync), so it is short.
    let speaker = MixOrPass::build(pipeline, &sound_name("speaker-mixer"), 2_500_000, slots)?;
    let sink = fragment(&plan.audio_sink.fragment, gst::PadDirection::Sink)?;
    sink.set_property("name", sound_name("speaker"));
    let mut chain = vec![capsfilter(ROOM_AUDIO)?];
    chain.extend(echo_probe);
    chain.extend([make("audioconvert", &[])?, make("audioresample", &[])?, sink]);
    let chain: Vec<&gst::Element> = chain.iter().collect();
    add_and_link(pipeline, &chain)?;
    link_pads(&pad(&speaker.selector, "src")?, &pad(chain[0], "sink")?)?;
    Ok(speaker)
}
