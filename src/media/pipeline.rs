//! One call's GStreamer pipeline, built in code around `rtpbin` (session 0 video, session 1
//! audio) so RTX/FEC aux elements can be attached later. Send: source → encoder → payloader →
//! rtpbin → udpsink. Receive: udpsrc → rtpbin (jitter buffer) → depayloader → decoder → sink.
//! Pad probes feed the live statistics and keep the last displayed frame for snapshots.

use std::sync::{Arc, Mutex};

use gst::glib;
use gst::prelude::*;
use gstreamer as gst;
use tokio::sync::mpsc::UnboundedSender;

use super::call_stats::Meters;
use super::elements::{add_and_link, capsfilter, fragment, link_from_rtpbin, link_to_request, make, set};
use super::measure::{RenderClock, probe_reference_latency, watch_qr_reader};
use super::plan::MediaPlan;
use super::self_view;
use super::sockets::CallSockets;
use super::source::{SourceState, VIDEO_SOURCE};
use super::stats::rms_dbfs;
use super::{MediaError, MediaEvent};
use crate::call::CallId;
use crate::sdp::{Negotiated, NegotiatedStream};

pub(super) const VIDEO: u32 = 0;
pub(super) const AUDIO: u32 = 1;

pub struct CallPipeline {
    pub(super) pipeline: gst::Pipeline,
    pub(super) rtpbin: gst::Element,
    pub(super) mic: Option<gst::Element>,
    pub(super) meters: Arc<Meters>,
    pub(super) render: Arc<RenderClock>,
    /// Shared with the bus handler, which must know whether an error is the camera's.
    pub(super) source: Arc<Mutex<SourceState>>,
    pub(super) negotiated: Negotiated,
    pub(super) encoder: String,
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
        super::bus::watch_bus(&built, call, events);
        if built.pipeline.set_state(gst::State::Playing).is_err() {
            let error = built.meters.last_error.lock().ok().and_then(|e| e.clone());
            return Err(MediaError::StartFailed(
                error.unwrap_or_else(|| "the pipeline refused to start (log level debug tells more)".into()),
            ));
        }
        Ok(built)
    }

    fn add_video(&mut self, plan: &MediaPlan, stream: &NegotiatedStream) -> Result<(), MediaError> {
        let mut state = SourceState::new(&plan.video_source.fragment, plan.camera.clone());
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
        // The tee feeds the encoder, and the self-view when there is one.
        let tee = make("tee", &[])?;
        let send = [
            &source,
            &make("videoconvert", &[])?,
            &make("videoscale", &[])?,
            &capsfilter(&raw_caps)?,
            &tee,
            &queue,
            &encoder,
            &capsfilter(h264_caps)?,
            &make("h264parse", &[("config-interval", "-1")])?,
            &pay,
        ];
        add_and_link(&self.pipeline, &send)?;
        let self_view = if plan.self_view {
            Some(self_view::add_branch(&self.pipeline, &tee, plan.width, plan.height)?)
        } else {
            None
        };
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
        // What the screen shows: the remote picture (I420, as the decoder gives it), with the
        // self-view pasted in when enabled; then whatever format the display takes.
        let screen = capsfilter("video/x-raw,format=I420")?;
        if let Some(latest) = self_view {
            self_view::draw_on(&screen, latest);
        }
        let to_display = make("videoconvert", &[])?;
        let chain = [&depay, &avc, &make("h264parse", &[])?, &decoder, &shown, &screen, &to_display, &display];
        add_and_link(&self.pipeline, &chain)?;
        let meters = self.meters.clone();
        probe_buffers(&decoder, "src", move |_, _| meters.video_decoded.record(0));
        probe_reference_latency(&decoder, "src", self.render.clone(), self.meters.video_latency.clone());
        let meters = self.meters.clone();
        probe_buffers(&screen, "src", move |pad, buffer| {
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
