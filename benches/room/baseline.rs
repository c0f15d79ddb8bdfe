//! The baseline: the simplest thing a user could do instead of roombox, a hand-written
//! gst-launch pipeline per endpoint with the same encoder settings and a fixed rtpbin latency.
//! It runs as a child process of the bench (so its CPU and memory are its own), on the same
//! realtime clock with base time 0 and the same QR/RTCP measurement as roombox.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gst::prelude::*;
use gstreamer as gst;
use roombox::media::latency::{LatencyMeter, unix_now_ns};
use roombox::media::measure::{RenderClock, on_barcode, probe_reference_latency, watch_qr_reader};
use serde::{Deserialize, Serialize};

/// The pipeline text for one endpoint: send to `peer` ports, receive on `own` ports. The
/// receive links (`rtp. ! …depay`) come last: an unnamed delayed link takes the next new
/// rtpbin pad, and earlier it would catch the audio *send* pad.
pub fn pipeline(
    video_src: &str,
    display: &str,
    own: [u16; 4],
    peer: [u16; 4],
    latency_ms: u32,
    bitrate_kbps: u32,
    fps: u32,
) -> String {
    let [v_rtp, v_rtcp, a_rtp, a_rtcp] = own;
    let [pv_rtp, pv_rtcp, pa_rtp, pa_rtcp] = peer;
    format!(
        "rtpbin name=rtp latency={latency_ms} add-reference-timestamp-meta=true rtcp-sync-send-time=false \
         {video_src} ! videoconvert ! queue leaky=downstream max-size-buffers=2 ! \
           x264enc tune=zerolatency speed-preset=ultrafast bitrate={bitrate_kbps} key-int-max={fps} vbv-buf-capacity=200 ! \
           video/x-h264,profile=constrained-baseline ! h264parse config-interval=-1 ! rtph264pay pt=96 config-interval=-1 mtu=1200 ! rtp.send_rtp_sink_0 \
         rtp.send_rtp_src_0 ! udpsink host=127.0.0.1 port={pv_rtp} sync=false async=false \
         rtp.send_rtcp_src_0 ! udpsink host=127.0.0.1 port={pv_rtcp} sync=false async=false \
         udpsrc port={v_rtp} caps=\"application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96\" ! rtp.recv_rtp_sink_0 \
         udpsrc port={v_rtcp} ! rtp.recv_rtcp_sink_0 \
         audiotestsrc is-live=true samplesperbuffer=480 wave=sine freq=440 volume=0.25 ! audioconvert ! audioresample ! \
           audio/x-raw,rate=48000,channels=2 ! opusenc bitrate=64000 audio-type=voice frame-size=10 ! rtpopuspay pt=111 ! rtp.send_rtp_sink_1 \
         rtp.send_rtp_src_1 ! udpsink host=127.0.0.1 port={pa_rtp} sync=false async=false \
         rtp.send_rtcp_src_1 ! udpsink host=127.0.0.1 port={pa_rtcp} sync=false async=false \
         udpsrc port={a_rtp} caps=\"application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=111\" ! rtp.recv_rtp_sink_1 \
         udpsrc port={a_rtcp} ! rtp.recv_rtcp_sink_1 \
         rtp. ! rtph264depay ! h264parse ! avdec_h264 name=vdec ! videoconvert ! {display} \
         rtp. ! rtpopusdepay ! opusdec ! audioconvert ! audio/x-raw,format=F32LE ! identity name=adec ! audioconvert ! fakesink sync=true"
    )
}

/// What one baseline endpoint measured.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct EndpointReport {
    pub g2g_ms: Vec<f64>,
    pub audio_ms: Vec<f64>,
    pub video_estimate_ms: Vec<f64>,
    pub first_frame_unix_ns: Option<u64>,
}

/// Runs one endpoint for `seconds` and returns what it measured (child-process entry point).
pub fn run_endpoint(text: &str, seconds: u64) -> Result<EndpointReport, String> {
    gst::init().map_err(|e| e.to_string())?;
    let pipeline = gst::parse::launch(text)
        .map_err(|e| e.to_string())?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline")?;
    let clock =
        gst::glib::Object::builder::<gst::SystemClock>().property("clock-type", gst::ClockType::Realtime).build();
    pipeline.use_clock(Some(&clock));
    pipeline.set_start_time(gst::ClockTime::NONE);
    pipeline.set_base_time(gst::ClockTime::ZERO);
    let render = RenderClock::new(&pipeline);
    let (g2g, audio, video) =
        (Arc::new(LatencyMeter::default()), Arc::new(LatencyMeter::default()), Arc::new(LatencyMeter::default()));
    let arrivals = watch_qr_reader(pipeline.upcast_ref(), render.clone()).unwrap_or_default();
    let by_name = |n: &str| pipeline.by_name(n).ok_or_else(|| format!("no element {n}"));
    probe_reference_latency(&by_name("adec")?, "src", render.clone(), audio.clone());
    let vdec = by_name("vdec")?;
    probe_reference_latency(&vdec, "src", render.clone(), video.clone());
    let first_frame = Arc::new(std::sync::Mutex::new(None));
    let slot = first_frame.clone();
    vdec.static_pad("src").ok_or("no vdec src")?.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        slot.lock().map(|mut f| *f.get_or_insert(unix_now_ns())).ok();
        gst::PadProbeReturn::Ok
    });
    let (tx, rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let bus = pipeline.bus().ok_or("no bus")?;
    let (meter, shown_at) = (g2g.clone(), LatencyMeter::default());
    bus.set_sync_handler(move |_, msg| {
        match msg.view() {
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure().filter(|s| s.name() == "barcode") {
                    on_barcode(&render, &arrivals, s, &meter, &shown_at);
                }
            }
            gst::MessageView::Latency(_) => {
                let _ = tx.send(Ok(()));
            }
            gst::MessageView::Error(e) => {
                let source = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
                let _ = tx.send(Err(format!("{source}: {} ({:?})", e.error(), e.debug())));
            }
            _ => {}
        }
        gst::BusSyncReply::Drop
    });
    pipeline.set_state(gst::State::Playing).map_err(|e| e.to_string())?;
    let end = Instant::now() + Duration::from_secs(seconds);
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(Ok(())) => {
                let _ = pipeline.recalculate_latency();
            }
            Ok(Err(e)) => {
                let _ = pipeline.set_state(gst::State::Null);
                return Err(e);
            }
            Err(_) => break,
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    let first_frame_unix_ns = *first_frame.lock().map_err(|e| e.to_string())?;
    Ok(EndpointReport {
        g2g_ms: g2g.recent(),
        audio_ms: audio.recent(),
        video_estimate_ms: video.recent(),
        first_frame_unix_ns,
    })
}
