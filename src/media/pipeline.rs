//! One call's GStreamer pipeline, built in code around `rtpbin` (session 0 video, session 1
//! audio) so RTX/FEC aux elements can be attached later. Send: source → encoder → payloader →
//! rtpbin → udpsink. Receive: udpsrc → rtpbin (jitter buffer) → depayloader → decoder → sink.
//! Pad probes feed the live statistics and keep the last displayed frame for snapshots.

use std::sync::{Arc, Mutex};

use gst::glib;
use gst::prelude::*;
use gstreamer as gst;
use tokio::sync::mpsc::UnboundedSender;

use super::elements::{add_and_link, capsfilter, fragment, link_from_rtpbin, link_to_request, make, set};
use super::jitter::{JitterBounds, next_latency_ms};
use super::latency::{LatencyMeter, LatencySamples};
use super::measure::{Arrivals, RenderClock, on_barcode, probe_reference_latency, watch_qr_reader};
use super::plan::MediaPlan;
use super::sockets::CallSockets;
use super::source::{SourceState, VIDEO_SOURCE, is_in_video_source};
use super::stats::{MediaStats, ReceiveStats, SendStats, SharedMeter, rms_dbfs};
use super::{MediaError, MediaEvent};
use crate::call::CallId;
use crate::sdp::{Negotiated, NegotiatedStream};

const VIDEO: u32 = 0;
const AUDIO: u32 = 1;

/// Counters the streaming threads write and `status` reads.
#[derive(Default)]
struct Meters {
    video_decoded: SharedMeter,
    video_rx: SharedMeter,
    audio_decoded: SharedMeter,
    audio_rx: SharedMeter,
    video_tx: SharedMeter,
    audio_tx: SharedMeter,
    level_db: Mutex<Option<f64>>,
    glass_to_glass: LatencyMeter,
    qr_arrivals: Mutex<Option<Arc<Arrivals>>>,
    /// Each receive jitter buffer with its rtpbin session.
    jitter_buffers: Mutex<Vec<(u32, glib::WeakRef<gst::Element>)>>,
    video_latency: Arc<LatencyMeter>,
    audio_latency: Arc<LatencyMeter>,
    last_error: Arc<Mutex<Option<String>>>,
    last_frame: Mutex<Option<gst::Sample>>,
}

impl Meters {
    /// The RTP byte meter of a session, received or sent.
    fn rtp(&self, session: u32, sent: bool) -> &SharedMeter {
        match (session == VIDEO, sent) {
            (true, false) => &self.video_rx,
            (true, true) => &self.video_tx,
            (false, false) => &self.audio_rx,
            (false, true) => &self.audio_tx,
        }
    }
}

pub struct CallPipeline {
    pipeline: gst::Pipeline,
    rtpbin: gst::Element,
    mic: Option<gst::Element>,
    meters: Arc<Meters>,
    render: Arc<RenderClock>,
    /// Shared with the bus handler, which must know whether an error is the camera's.
    source: Arc<Mutex<SourceState>>,
    negotiated: Negotiated,
    encoder: String,
    _sockets: CallSockets,
}

impl CallPipeline {
    pub fn start(
        call: CallId,
        plan: &MediaPlan,
        negotiated: &Negotiated,
        sockets: CallSockets,
        muted: bool,
        events: UnboundedSender<MediaEvent>,
    ) -> Result<Self, MediaError> {
        let pipeline = gst::Pipeline::with_name(&format!("call-{}", call.0));
        if plan.realtime_clock {
            let clock =
                glib::Object::builder::<gst::SystemClock>().property("clock-type", gst::ClockType::Realtime).build();
            pipeline.use_clock(Some(&clock));
            pipeline.set_start_time(gst::ClockTime::NONE);
            pipeline.set_base_time(gst::ClockTime::ZERO);
        }
        // Sender reports carry capture times, so the receiver can tell how old each frame is.
        let rtpbin = make(
            "rtpbin",
            &[
                ("latency", &plan.jitter.min_ms.to_string()),
                ("add-reference-timestamp-meta", "true"),
                ("rtcp-sync-send-time", "false"),
            ],
        )?;
        pipeline.add(&rtpbin).map_err(|e| MediaError::Internal(e.to_string()))?;
        let meters = Arc::new(Meters::default());
        let render = RenderClock::new(&pipeline);
        let mut built = Self {
            render,
            source: Arc::new(Mutex::new(SourceState::new("", None))),
            pipeline,
            rtpbin,
            mic: None,
            meters,
            negotiated: negotiated.clone(),
            encoder: plan.encoder.element.clone(),
            _sockets: sockets,
        };
        if let Some(video) = &negotiated.video {
            built.add_video(plan, video)?;
        }
        if let Some(audio) = &negotiated.audio {
            built.add_audio(plan, audio, muted)?;
        }
        built.route_received_streams();
        built.track_jitter_buffers();
        set_render_deadline(&built.pipeline, plan.render_deadline_ms);
        watch_bus(&built, call, events);
        if built.pipeline.set_state(gst::State::Playing).is_err() {
            let error = built.meters.last_error.lock().ok().and_then(|e| e.clone());
            return Err(MediaError::StartFailed(
                error.unwrap_or_else(|| "the pipeline refused to start (log level debug tells more)".into()),
            ));
        }
        Ok(built)
    }

    fn add_video(&mut self, plan: &MediaPlan, stream: &NegotiatedStream) -> Result<(), MediaError> {
        let mut state = SourceState::new(&plan.video_source.fragment, plan.camera_device.as_deref());
        let text = state.initial_fragment().unwrap_or_else(|| plan.video_source.fragment.clone());
        let source = fragment(&text, gst::PadDirection::Src)?;
        source.set_property("name", VIDEO_SOURCE);
        state.watch(&source);
        if let Ok(mut slot) = self.source.lock() {
            *slot = state;
        }
        // A fixed format keeps the encoder's input the same when the slate stands in for the
        // camera (software encoders take I420; hardware ones choose their own).
        let format =
            if plan.encoder.hardware { String::new() } else { ",format=I420,pixel-aspect-ratio=1/1".to_owned() };
        let raw_caps =
            format!("video/x-raw,width={},height={},framerate={}/1{format}", plan.width, plan.height, plan.fps);
        let queue = make(
            "queue",
            &[("leaky", "downstream"), ("max-size-buffers", "2"), ("max-size-bytes", "0"), ("max-size-time", "0")],
        )?;
        let encoder = make(&plan.encoder.element, &[])?;
        for (name, value) in &plan.encoder.properties {
            set(&encoder, name, value)?;
        }
        // x264 would pick High profile; the SDP promised Constrained Baseline (42e01f).
        let h264_caps = if plan.encoder.element == "x264enc" {
            "video/x-h264,profile=constrained-baseline"
        } else {
            "video/x-h264"
        };
        let pay = make(
            "rtph264pay",
            &[
                ("pt", &stream.pt.to_string()),
                ("config-interval", "-1"),
                ("mtu", "1200"),
                ("aggregate-mode", "zero-latency"),
            ],
        )?;
        let send = [
            &source,
            &make("videoconvert", &[])?,
            &make("videoscale", &[])?,
            &capsfilter(&raw_caps)?,
            &queue,
            &encoder,
            &capsfilter(h264_caps)?,
            &make("h264parse", &[("config-interval", "-1")])?,
            &pay,
        ];
        add_and_link(&self.pipeline, &send)?;
        link_to_request(&pay, &self.rtpbin, "send_rtp_sink_0")?;

        let depay = make("rtph264depay", &[])?;
        depay.set_property("name", "video-depay");
        let decoder = make(&plan.decoder, &[])?;
        let shown = make("videoconvert", &[])?;
        let display = fragment(&plan.display.fragment, gst::PadDirection::Sink)?;
        if let (Some(arrivals), Ok(mut slot)) =
            (watch_qr_reader(&display, self.render.clone()), self.meters.qr_arrivals.lock())
        {
            *slot = Some(arrivals);
        }
        // AVC out of the depayloader: it then waits for SPS/PPS and hands them over as
        // codec_data, so the parser knows the profile before the first frame (openh264dec
        // refuses caps without one; from byte-stream it never decodes a frame).
        let avc = capsfilter("video/x-h264,stream-format=avc")?;
        add_and_link(&self.pipeline, &[&depay, &avc, &make("h264parse", &[])?, &decoder, &shown, &display])?;
        let meters = self.meters.clone();
        probe_buffers(&decoder, "src", move |_, _| meters.video_decoded.record(0));
        probe_reference_latency(&decoder, "src", self.render.clone(), self.meters.video_latency.clone());
        let meters = self.meters.clone();
        probe_buffers(&shown, "src", move |pad, buffer| {
            if let (Some(caps), Ok(mut last)) = (pad.current_caps(), meters.last_frame.lock()) {
                *last = Some(gst::Sample::builder().buffer(buffer).caps(&caps).build());
            }
        });
        self.add_transport(VIDEO, stream, "video", &self._sockets.video_rtp.clone(), &self._sockets.video_rtcp.clone())
    }

    fn add_audio(&mut self, plan: &MediaPlan, stream: &NegotiatedStream, muted: bool) -> Result<(), MediaError> {
        let mic = make("volume", &[("mute", if muted { "true" } else { "false" })])?;
        let pay = make("rtpopuspay", &[("pt", &stream.pt.to_string())])?;
        let send = [
            &fragment(&plan.audio_source.fragment, gst::PadDirection::Src)?,
            &make("audioconvert", &[])?,
            &make("audioresample", &[])?,
            &mic,
            &capsfilter("audio/x-raw,rate=48000,channels=2")?,
            &make("opusenc", &[("bitrate", "64000"), ("audio-type", "voice"), ("frame-size", "10")])?,
            &pay,
        ];
        add_and_link(&self.pipeline, &send)?;
        link_to_request(&pay, &self.rtpbin, "send_rtp_sink_1")?;
        self.mic = Some(mic);

        let depay = make("rtpopusdepay", &[])?;
        depay.set_property("name", "audio-depay");
        let measured = capsfilter("audio/x-raw,format=F32LE")?;
        let receive = [
            &depay,
            &make("opusdec", &[])?,
            &make("audioconvert", &[])?,
            &measured,
            &make("audioconvert", &[])?,
            &make("audioresample", &[])?,
            &fragment(&plan.audio_sink.fragment, gst::PadDirection::Sink)?,
        ];
        add_and_link(&self.pipeline, &receive)?;
        probe_reference_latency(&measured, "src", self.render.clone(), self.meters.audio_latency.clone());
        let meters = self.meters.clone();
        probe_buffers(&measured, "src", move |_, buffer| {
            meters.audio_decoded.record(0);
            if let Ok(map) = buffer.map_readable() {
                let level = rms_dbfs(map.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
                if let Ok(mut l) = meters.level_db.lock() {
                    *l = Some(level);
                }
            }
        });
        self.add_transport(AUDIO, stream, "audio", &self._sockets.audio_rtp.clone(), &self._sockets.audio_rtcp.clone())
    }

    /// UDP in and out for one rtpbin session, on the call's own sockets.
    fn add_transport(
        &self,
        session: u32,
        stream: &NegotiatedStream,
        media: &str,
        rtp: &gio::Socket,
        rtcp: &gio::Socket,
    ) -> Result<(), MediaError> {
        let (clock_rate, encoding) = if session == VIDEO { (90000, "H264") } else { (48000, "OPUS") };
        let rtp_caps: gst::Caps = format!(
            "application/x-rtp,media={media},clock-rate={clock_rate},encoding-name={encoding},payload={}",
            stream.pt
        )
        .parse()
        .map_err(|_| MediaError::Internal("bad RTP caps".into()))?;
        let udpsrc = |socket: &gio::Socket| {
            gst::ElementFactory::make("udpsrc")
                .property("socket", socket)
                .property("close-socket", false)
                .build()
                .map_err(|e| MediaError::Internal(e.to_string()))
        };
        let udpsink = |socket: &gio::Socket, port: u16| {
            gst::ElementFactory::make("udpsink")
                .property("socket", socket)
                .property("close-socket", false)
                .property("host", stream.remote_ip.to_string())
                .property("port", i32::from(port))
                .property("sync", false)
                .property("async", false)
                .build()
                .map_err(|e| MediaError::Internal(e.to_string()))
        };
        let (rtp_in, rtcp_in) = (udpsrc(rtp)?, udpsrc(rtcp)?);
        rtp_in.set_property("caps", &rtp_caps);
        let (rtp_out, rtcp_out) = (udpsink(rtp, stream.remote_rtp_port)?, udpsink(rtcp, stream.remote_rtcp_port)?);
        self.pipeline
            .add_many([&rtp_in, &rtcp_in, &rtp_out, &rtcp_out])
            .map_err(|e| MediaError::Internal(e.to_string()))?;
        link_to_request(&rtp_in, &self.rtpbin, &format!("recv_rtp_sink_{session}"))?;
        link_to_request(&rtcp_in, &self.rtpbin, &format!("recv_rtcp_sink_{session}"))?;
        link_from_rtpbin(&self.rtpbin, &format!("send_rtp_src_{session}"), &rtp_out)?;
        link_from_rtpbin(&self.rtpbin, &format!("send_rtcp_src_{session}"), &rtcp_out)?;
        let meters = self.meters.clone();
        probe_buffers(&rtp_in, "src", move |_, b| meters.rtp(session, false).record(b.size() as u64));
        let meters = self.meters.clone();
        probe_buffers(&rtp_out, "sink", move |_, b| meters.rtp(session, true).record(b.size() as u64));
        Ok(())
    }

    /// rtpbin adds one pad per received stream (`recv_rtp_src_SESSION_SSRC_PT`): link it to
    /// that session's depayloader. A second SSRC on a session (the peer restarted its sender)
    /// replaces the first.
    fn route_received_streams(&self) {
        let pipeline = self.pipeline.downgrade();
        self.rtpbin.connect_pad_added(move |_, pad| {
            let name = pad.name();
            let depay = match name.split('_').nth(3) {
                Some("0") if name.starts_with("recv_rtp_src_") => "video-depay",
                Some("1") if name.starts_with("recv_rtp_src_") => "audio-depay",
                _ => return,
            };
            let Some(sink) = pipeline.upgrade().and_then(|p| p.by_name(depay)).and_then(|d| d.static_pad("sink"))
            else {
                return;
            };
            if let Some(old) = sink.peer() {
                let _ = old.unlink(&sink);
            }
            if let Err(e) = pad.link(&sink) {
                tracing::warn!(pad = %name, error = ?e, "could not route a received stream");
            }
        });
    }

    fn track_jitter_buffers(&self) {
        let meters = self.meters.clone();
        self.rtpbin.connect("new-jitterbuffer", false, move |args| {
            if let (Ok(jb), Ok(session)) = (args[1].get::<gst::Element>(), args[2].get::<u32>())
                && let Ok(mut list) = meters.jitter_buffers.lock()
            {
                list.push((session, jb.downgrade()));
            }
            None
        });
    }

    /// Sets each jitter buffer's latency from its session's measured jitter (see `jitter.rs`).
    pub fn adapt_jitter_buffers(&self, bounds: JitterBounds) {
        let buffers: Vec<(u32, gst::Element)> = match self.meters.jitter_buffers.lock() {
            Ok(list) => list.iter().filter_map(|(s, w)| Some((*s, w.upgrade()?))).collect(),
            Err(_) => return,
        };
        let mut changed = false;
        for (session, jb) in buffers {
            let clock_rate = if session == VIDEO { 90000 } else { 48000 };
            let (_, _, jitter_ms) = self.session_stats(session, clock_rate);
            let current = jb.property::<u32>("latency");
            let next = next_latency_ms(current, jitter_ms, bounds);
            if next != current {
                tracing::debug!(session, jitter_ms, from = current, to = next, "jitter buffer adapts");
                jb.set_property("latency", next);
                changed = true;
            }
        }
        if changed {
            self.recalculate_latency();
        }
    }

    /// The current latency of the jitter buffer of `session` (ms).
    fn jitter_buffer_ms(&self, session: u32) -> Option<u32> {
        let list = self.meters.jitter_buffers.lock().ok()?;
        let jb = list.iter().rev().find(|(s, _)| *s == session)?.1.upgrade()?;
        Some(jb.property::<u32>("latency"))
    }

    /// The camera failed: the slate stands in, the call goes on.
    pub fn camera_lost(&self, reason: &str) -> Result<(), MediaError> {
        let mut source = self.source.lock().map_err(|_| MediaError::Internal("source lock".into()))?;
        source.camera_lost(&self.pipeline, reason)
    }

    /// Brings a lost camera back when it opens again.
    pub fn retry_camera(&self) -> Result<(), MediaError> {
        let mut source = self.source.lock().map_err(|_| MediaError::Internal("source lock".into()))?;
        source.retry(&self.pipeline)
    }

    pub fn recalculate_latency(&self) {
        let _ = self.pipeline.recalculate_latency();
    }

    pub fn set_mute(&self, muted: bool) {
        if let Some(mic) = &self.mic {
            mic.set_property("mute", muted);
        }
    }

    pub fn stats(&self) -> MediaStats {
        let m = &self.meters;
        let codec = |s: &Option<NegotiatedStream>| s.as_ref().map(|s| s.codec.clone()).unwrap_or_default();
        let receive = |session: u32, decoded: &SharedMeter, rx: &SharedMeter, stream: &Option<NegotiatedStream>| {
            let (decoded_per_s, _, decoded_total) = decoded.read();
            let (_, kbps, _) = rx.read();
            let clock_rate = if session == VIDEO { 90000 } else { 48000 };
            let (packets_received, packets_lost, jitter_ms) = self.session_stats(session, clock_rate);
            ReceiveStats {
                codec: codec(stream),
                decoded_per_s,
                decoded_total,
                kbps,
                packets_received,
                packets_lost,
                jitter_ms,
                ..Default::default()
            }
        };
        let send = |tx: &SharedMeter, stream: &Option<NegotiatedStream>| {
            let (_, kbps, packets_sent) = tx.read();
            SendStats { codec: codec(stream), kbps, packets_sent }
        };
        let mut audio_in = receive(AUDIO, &m.audio_decoded, &m.audio_rx, &self.negotiated.audio);
        audio_in.level_db = m.level_db.lock().ok().and_then(|l| *l);
        audio_in.latency = m.audio_latency.summary();
        audio_in.jitter_buffer_ms = self.jitter_buffer_ms(AUDIO);
        let mut video_in = receive(VIDEO, &m.video_decoded, &m.video_rx, &self.negotiated.video);
        video_in.latency = m.video_latency.summary();
        video_in.glass_to_glass = m.glass_to_glass.summary();
        video_in.jitter_buffer_ms = self.jitter_buffer_ms(VIDEO);
        MediaStats {
            video_in,
            audio_in,
            video_out: send(&m.video_tx, &self.negotiated.video),
            audio_out: send(&m.audio_tx, &self.negotiated.audio),
            encoder: self.encoder.clone(),
            camera: self.source.lock().map(|s| s.describe()).unwrap_or_default(),
            muted: self.mic.as_ref().is_some_and(|mic| mic.property::<bool>("mute")),
        }
    }

    /// Packets received, lost and jitter (ms) of the remote sender(s) in one rtpbin session.
    fn session_stats(&self, session: u32, clock_rate: u32) -> (u64, i64, f64) {
        let Some(sess) = self.rtpbin.emit_by_name::<Option<glib::Object>>("get-internal-session", &[&session]) else {
            return (0, 0, 0.0);
        };
        let stats = sess.property::<gst::Structure>("stats");
        let Ok(sources) = stats.get::<glib::ValueArray>("source-stats") else {
            return (0, 0, 0.0);
        };
        let mut totals = (0u64, 0i64, 0.0f64);
        for source in sources.iter().filter_map(|v| v.get::<gst::Structure>().ok()) {
            if source.get::<bool>("internal").unwrap_or(true) || !source.get::<bool>("is-sender").unwrap_or(false) {
                continue;
            }
            totals.0 += source.get::<u64>("packets-received").unwrap_or(0);
            totals.1 += source.get::<i32>("packets-lost").map(i64::from).unwrap_or(0);
            let jitter = f64::from(source.get::<u32>("jitter").unwrap_or(0)) * 1000.0 / f64::from(clock_rate);
            totals.2 = totals.2.max(jitter);
        }
        totals
    }

    pub fn latency_samples(&self) -> LatencySamples {
        let m = &self.meters;
        LatencySamples {
            glass_to_glass_ms: m.glass_to_glass.recent(),
            video_ms: m.video_latency.recent(),
            audio_ms: m.audio_latency.recent(),
        }
    }

    /// The last frame the screen showed, if any arrived yet.
    pub fn last_frame(&self) -> Option<gst::Sample> {
        self.meters.last_frame.lock().ok()?.clone()
    }
}

impl Drop for CallPipeline {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
        if let Some(bus) = self.pipeline.bus() {
            bus.unset_sync_handler();
        }
        // Everything of the call must go with it: a pipeline that outlives its call is a leak.
        let weak = self.pipeline.downgrade();
        self.pipeline = gst::Pipeline::new();
        self.rtpbin = gst::ElementFactory::make("identity").build().unwrap_or_else(|_| gst::Bin::new().upcast());
        self.mic = None;
        if let Some(pipeline) = weak.upgrade() {
            tracing::warn!(
                refs = pipeline.ref_count() - 1,
                "a call pipeline is still referenced after teardown (leak)"
            );
        }
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

/// Errors from any element end the call (the core decides); warnings are logged; latency
/// changes go to the runtime to redistribute; zbar's QR readings feed the latency meter.
fn watch_bus(built: &CallPipeline, call: CallId, events: UnboundedSender<MediaEvent>) {
    let Some(bus) = built.pipeline.bus() else { return };
    let (meters, render) = (built.meters.clone(), built.render.clone());
    // Read once: the handler runs on streaming threads and must not wait for the source lock,
    // which is held while a failed camera's thread is being stopped.
    let has_camera = built.source.lock().is_ok_and(|v| v.has_camera());
    bus.set_sync_handler(move |_, msg| {
        match msg.view() {
            gst::MessageView::Error(e) if has_camera && msg.src().is_some_and(is_in_video_source) => {
                let _ = events.send(MediaEvent::CameraLost { call, reason: e.error().to_string() });
            }
            gst::MessageView::Error(e) => {
                let source = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
                let reason = format!("{source}: {}", e.error());
                if let Ok(mut last) = meters.last_error.lock() {
                    last.get_or_insert(reason.clone());
                }
                let _ = events.send(MediaEvent::Failed { call, reason });
            }
            gst::MessageView::Warning(w) => tracing::warn!(call = call.0, "media warning: {}", w.error()),
            gst::MessageView::Latency(_) => {
                let _ = events.send(MediaEvent::LatencyChanged { call });
            }
            gst::MessageView::Element(e) => {
                let arrivals = meters.qr_arrivals.lock().ok().and_then(|a| a.clone()).unwrap_or_default();
                if let Some(s) = e.structure().filter(|s| s.name() == "barcode") {
                    on_barcode(&render, &arrivals, s, &meters.glass_to_glass);
                }
            }
            _ => {}
        }
        gst::BusSyncReply::Drop
    });
}
