//! One SIP/RTP leg of the room's media: a bin linked into the running room pipeline, around
//! its own `rtpbin` (session 0 video, session 1 audio) and UDP sockets. In: the room's encoded
//! picture (`video_sink`) and this leg's mix-minus (`mix_mic`, `mix_slot_N`: every other place
//! but this one). Out: the place's decoded picture (`video_src`, I420 at the room's size) and
//! sound (`audio_src`). A WebRTC leg will be a second implementation of [`MediaLeg`].

use std::sync::Arc;

use gst::prelude::*;
use gstreamer as gst;

use super::elements::{link_from_rtpbin, link_to_request, make};
use super::gate_probes::Socket;
use super::leg_rate::LegRate;
use super::leg_stats::LegMeters;
use super::measure::RenderClock;
use super::mix_or_pass::MixOrPass;
use super::opus_repair::OpusRepair;
use super::plan::MediaPlan;
use super::sockets::CallSockets;
use super::sound_first::sound_name;
use super::stats::MediaStats;
use super::{MediaError, probe_buffers};
use crate::meeting::LegId;
use crate::sdp::{Negotiated, NegotiatedStream};

pub(super) const VIDEO: u32 = 0;
pub(super) const AUDIO: u32 = 1;
/// The raw audio every place's sound is carried in inside the room (10 ms buffers).
pub(super) const ROOM_AUDIO: &str = "audio/x-raw,format=S16LE,rate=48000,channels=2,layout=interleaved";

/// What every kind of leg holds alike. The [`MediaLeg`] methods that only read it come with
/// the trait, so each transport implements only what differs.
pub struct LegBase {
    pub(super) id: LegId,
    /// The bin linked into the room pipeline (its ghost pads are named in the module doc).
    pub(super) bin: gst::Bin,
    pub(super) meters: Arc<LegMeters>,
    /// The room slot (0-based) whose tees this leg's decoded picture and sound feed.
    pub(super) slot: usize,
    pub(super) name: String,
    /// What this leg sends: the mix-minus, or the microphone alone (once audio is negotiated).
    pub(super) send_audio: Option<MixOrPass>,
}

impl LegBase {
    pub(super) fn new(id: LegId, slot: usize, name: &str) -> Self {
        let bin = gst::Bin::with_name(&id.to_string());
        Self { id, bin, meters: Arc::new(LegMeters::default()), slot, name: name.to_owned(), send_audio: None }
    }
}

/// What the room needs of a leg, whatever its transport.
pub trait MediaLeg {
    fn base(&self) -> &LegBase;
    fn stats(&self) -> MediaStats;
    /// Periodic upkeep (jitter buffers follow the measured jitter).
    fn tick(&self, bounds: super::jitter::JitterBounds);
    /// The bitrate (kbit/s) the place's path carries, when the leg sends video.
    fn target_kbps(&self) -> Option<u32>;
    /// Whether the room's encoder should make a keyframe as the leg joins (a leg that can only
    /// decrypt once its own handshake is done asks for it then, not sooner: keyframes are
    /// rationed, and one nobody can read would hold back the one that counts).
    fn keyframe_on_link(&self) -> bool {
        true
    }

    fn id(&self) -> LegId {
        self.base().id
    }
    fn bin(&self) -> &gst::Bin {
        &self.base().bin
    }
    fn slot(&self) -> usize {
        self.base().slot
    }
    fn name(&self) -> &str {
        &self.base().name
    }
    /// The loudness of the place's decoded sound (dBFS), for the speaker highlight.
    fn level_db(&self) -> Option<f64> {
        self.base().meters.level_db.lock().ok().and_then(|l| *l)
    }
    /// Recent live latency samples (ms): video, audio.
    fn recent_latency(&self) -> (Vec<f64>, Vec<f64>) {
        let m = &self.base().meters;
        (m.video_latency.recent(), m.audio_latency.recent())
    }
    /// How long nothing (no RTP, no RTCP) has arrived from the place.
    fn idle(&self) -> std::time::Duration {
        self.base().meters.idle()
    }
    /// Has the leg's mixer learn the latency of its inputs again (a jitter buffer changed).
    fn refresh_latency(&self) {
        if let Some(send) = &self.base().send_audio {
            send.refresh_latency();
        }
    }
    /// Sends the mix-minus of the other places (`true`) or only this room's microphone.
    fn set_mixing(&self, mixing: bool) {
        if let Some(send) = &self.base().send_audio {
            send.set_mixing(mixing);
        }
    }
}

pub struct RtpLeg {
    pub(super) base: LegBase,
    pub(super) rtpbin: gst::Element,
    pub(super) negotiated: Negotiated,
    /// The time between two frames of the room's picture rate (the place sends the same).
    pub(super) frame_interval_ms: f64,
    /// FEC and concealment of the sound each way (once audio is negotiated).
    pub(super) opus: Option<OpusRepair>,
    pub(super) rate: LegRate,
    _sockets: CallSockets,
}

/// What a leg is built from.
pub struct LegSpec<'a> {
    pub id: LegId,
    pub slot: usize,
    /// Every slot of the room, this one included (the mix-minus takes all but `slot`).
    pub slots: usize,
    pub name: &'a str,
    pub plan: &'a MediaPlan,
    pub negotiated: &'a Negotiated,
    pub render: Arc<RenderClock>,
}

impl RtpLeg {
    pub fn build(spec: LegSpec<'_>, sockets: CallSockets) -> Result<Self, MediaError> {
        let base = LegBase::new(spec.id, spec.slot, spec.name);
        let rtpbin = make(
            "rtpbin",
            &[
                ("latency", &spec.plan.jitter.min_ms.to_string()),
                ("add-reference-timestamp-meta", "true"),
                ("rtcp-sync-send-time", "false"),
            ],
        )?;
        base.bin.add(&rtpbin).map_err(|e| MediaError::Internal(e.to_string()))?;
        super::repair::install(&rtpbin, spec.negotiated, &base.meters.rtx, spec.plan.jitter.max_ms);
        super::srtp::install(&rtpbin, spec.negotiated, &base.meters.srtp)?;
        let mut leg = Self {
            base,
            rtpbin,
            negotiated: spec.negotiated.clone(),
            frame_interval_ms: 1000.0 / f64::from(spec.plan.fps.max(1)),
            opus: None,
            rate: LegRate::new(spec.plan.encoder.min_bitrate_kbps, spec.plan.encoder.bitrate_kbps),
            _sockets: sockets,
        };
        if let Some(video) = &spec.negotiated.video {
            leg.add_video(&spec, video)?;
        }
        if let Some(audio) = &spec.negotiated.audio {
            leg.add_audio(&spec, audio)?;
        }
        leg.route_received_streams();
        leg.track_jitter_buffers();
        Ok(leg)
    }

    fn add_video(&mut self, spec: &LegSpec<'_>, stream: &NegotiatedStream) -> Result<(), MediaError> {
        let pay = super::leg_chains::video_send(&self.base.bin, self.base.id, stream.pt)?;
        super::repair::count_keyframe_requests(&pay, self.base.meters.clone());
        link_to_request(&pay, &self.rtpbin, "send_rtp_sink_0")?;
        let depay = super::leg_chains::video_receive(
            &self.base.bin,
            self.base.id,
            spec.plan,
            &self.base.meters,
            spec.render.clone(),
        )?;
        super::repair::configure_depayloader(&depay, stream);
        self.add_transport(VIDEO, stream)
    }

    fn add_audio(&mut self, spec: &LegSpec<'_>, stream: &NegotiatedStream) -> Result<(), MediaError> {
        let send = super::leg_chains::audio_send(&self.base.bin, self.base.id, stream.pt, spec.slot, spec.slots)?;
        link_to_request(&send.pay, &self.rtpbin, "send_rtp_sink_1")?;
        let (_, decoder) =
            super::leg_chains::audio_receive(&self.base.bin, self.base.id, &self.base.meters, spec.render.clone())?;
        self.opus = Some(OpusRepair::new(&send.encoder, &decoder));
        self.base.send_audio = Some(send.pass);
        self.add_transport(AUDIO, stream)
    }

    /// UDP in and out for one rtpbin session, on the leg's own sockets.
    fn add_transport(&self, session: u32, stream: &NegotiatedStream) -> Result<(), MediaError> {
        let (rtp, rtcp) = if session == VIDEO {
            (&self._sockets.video_rtp, &self._sockets.video_rtcp)
        } else {
            (&self._sockets.audio_rtp, &self._sockets.audio_rtcp)
        };
        let rtp_caps = super::repair::receive_caps(session, stream)?;
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
        if session == AUDIO {
            rtp_in.set_property("name", sound_name("rtp-in"));
            rtcp_in.set_property("name", sound_name("rtcp-in"));
        }
        rtp_in.set_property("caps", &rtp_caps);
        if stream.srtp.is_some() {
            rtcp_in.set_property("caps", gst::Caps::new_empty_simple("application/x-srtcp"));
        }
        let (rtp_out, rtcp_out) = (udpsink(rtp, stream.remote_rtp_port)?, udpsink(rtcp, stream.remote_rtcp_port)?);
        self.base
            .bin
            .add_many([&rtp_in, &rtcp_in, &rtp_out, &rtcp_out])
            .map_err(|e| MediaError::Internal(e.to_string()))?;
        link_to_request(&rtp_in, &self.rtpbin, &format!("recv_rtp_sink_{session}"))?;
        link_to_request(&rtcp_in, &self.rtpbin, &format!("recv_rtcp_sink_{session}"))?;
        link_from_rtpbin(&self.rtpbin, &format!("send_rtp_src_{session}"), &rtp_out)?;
        link_from_rtpbin(&self.rtpbin, &format!("send_rtcp_src_{session}"), &rtcp_out)?;
        if session == VIDEO {
            super::repair::pace_feedback(&self.rtpbin, stream, false, self.rate.target_kbps());
        }
        // Only the place may send: each socket is gated to the address negotiated for it.
        let decoder = self.base.meters.srtp.decoder(session);
        let sockets =
            [(&rtp_in, &rtp_out, stream.remote_rtp_port, true), (&rtcp_in, &rtcp_out, stream.remote_rtcp_port, false)];
        for (socket_src, answer, remote_port, rtp) in sockets {
            let decrypted = decoder.as_ref().and_then(|d| d.static_pad(if rtp { "rtp_src" } else { "rtcp_src" }));
            let socket = Socket { socket_src, decrypted, answer, remote_port, rtp };
            super::gate_probes::install(&self.base.meters.gates, session, stream, socket, &self.base.id.to_string());
        }
        // What the place sent, as rtpbin reads it: past the gate, and after the SRTP decoder if
        // there is one, so that packets nobody could authenticate do not count as the place.
        let sink = |kind: &str| format!("recv_{kind}_sink_{session}");
        let (rtp_sink, rtcp_sink) = (sink("rtp"), sink("rtcp"));
        let rtp_tap = decoder.clone().map_or((self.rtpbin.clone(), rtp_sink.as_str()), |dec| (dec, "rtp_src"));
        let meters = self.base.meters.clone();
        probe_buffers(&rtp_tap.0, rtp_tap.1, move |_, b| {
            meters.rtp(session, false).record(b.size() as u64);
            meters.arrived();
            if session == VIDEO
                && let Ok(map) = b.map_readable()
            {
                meters.video_arrived(&map);
            }
        });
        // The place's reports on our video name it by the SSRC our payloader put in its caps.
        let pay = self.base.bin.by_name(&format!("{}-video-pay", self.base.id)).filter(|_| session == VIDEO);
        let our_video = pay.and_then(|p| p.static_pad("src")).map(|p| p.downgrade());
        // The place's RTCP as rtpbin reads it: after the SRTP decoder, if there is one.
        let rtcp_tap = decoder.map_or((self.rtpbin.clone(), rtcp_sink.as_str()), |dec| (dec, "rtcp_src"));
        let meters = self.base.meters.clone();
        probe_buffers(&rtcp_tap.0, rtcp_tap.1, move |_, b| {
            meters.arrived();
            let ssrc =
                our_video.as_ref().and_then(|p| p.upgrade()?.current_caps()?.structure(0)?.get::<u32>("ssrc").ok());
            if let (Some(ssrc), Ok(map)) = (ssrc, b.map_readable()) {
                meters.rtcp_received(&map, ssrc);
            }
        });
        let meters = self.base.meters.clone();
        probe_buffers(&rtp_out, "sink", move |_, b| meters.rtp(session, true).record(b.size() as u64));
        Ok(())
    }

    /// rtpbin adds one pad per received stream (`recv_rtp_src_SESSION_SSRC_PT`): link it to
    /// that session's depayloader. A second SSRC on a session (the peer restarted its sender)
    /// replaces the first.
    fn route_received_streams(&self) {
        let (bin, id) = (self.base.bin.downgrade(), self.base.id);
        self.rtpbin.connect_pad_added(move |_, pad| {
            let name = pad.name();
            let depay = match name.split('_').nth(3) {
                Some("0") if name.starts_with("recv_rtp_src_") => format!("{id}-video-depay"),
                Some("1") if name.starts_with("recv_rtp_src_") => format!("{id}-audio-depay"),
                _ => return,
            };
            let Some(sink) = bin.upgrade().and_then(|b| b.by_name(&depay)).and_then(|d| d.static_pad("sink")) else {
                return;
            };
            if let Some(old) = sink.peer() {
                let _ = old.unlink(&sink);
            }
            if let Err(e) = pad.link(&sink) {
                tracing::warn!(leg = %id, pad = %name, error = ?e, "could not route a received stream");
            }
        });
    }
}

impl MediaLeg for RtpLeg {
    fn base(&self) -> &LegBase {
        &self.base
    }
    fn stats(&self) -> MediaStats {
        self.leg_stats()
    }
    fn tick(&self, bounds: super::jitter::JitterBounds) {
        self.adapt_jitter_buffers(bounds);
    }
    fn target_kbps(&self) -> Option<u32> {
        self.negotiated.video.as_ref().and(self.rate.target()).map(|(kbps, _)| kbps)
    }
}
