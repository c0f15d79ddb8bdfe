//! A browser guest's leg: the same bin shape as a SIP leg (`leg.rs`: `video_sink`, `mix_mic`,
//! `mix_slot_N` in; `video_src`, `audio_src` out) around a `webrtcbin` instead of rtpbin and
//! UDP sockets. webrtcbin brings ICE (libnice), DTLS-SRTP, BUNDLE and rtcp-mux; the chains
//! around it are the SIP leg's own (`leg_chains.rs`). The answer to the browser's offer is
//! made in `webrtc_negotiate.rs` while the bin is built, before it joins the room.

use std::sync::Arc;

use gst::prelude::*;
use gstreamer as gst;
use gstreamer_webrtc as gst_webrtc;
use tokio::sync::mpsc::UnboundedSender;

use super::elements::make;
use super::leg::{AUDIO, LegBase, MediaLeg, VIDEO};
use super::leg_stats::LegMeters;
use super::measure::RenderClock;
use super::plan::MediaPlan;
use super::stats::{MediaStats, ReceiveStats, SendStats};
use super::webrtc_negotiate::{SendStream, send_caps};
use super::webrtc_offer::{GuestCodecs, Offer, OfferedStream, read_offer};
use super::webrtc_repair::GuestRepair;
use super::{MediaError, MediaEvent, probe_buffers};
use crate::meeting::LegId;

/// The receive jitter buffer of a guest's streams (a browser on Wi-Fi jitters more than a
/// room box on a wire).
const GUEST_JITTER_MS: u32 = 60;

/// What a guest's leg is built from.
pub struct GuestSpec<'a> {
    pub id: LegId,
    pub slot: usize,
    pub slots: usize,
    pub name: &'a str,
    pub plan: &'a MediaPlan,
    pub render: Arc<RenderClock>,
    /// The browser's SDP offer.
    pub offer: &'a str,
    pub events: UnboundedSender<MediaEvent>,
}

pub struct WebRtcLeg {
    base: LegBase,
    webrtc: gst::Element,
    codecs: GuestCodecs,
    repair: GuestRepair,
}

impl WebRtcLeg {
    /// Builds the leg and answers the offer; returns the leg (not yet in the room) and the
    /// answer with its ICE candidates.
    pub fn build(spec: GuestSpec<'_>) -> Result<(Self, String), MediaError> {
        let Offer { sdp, codecs } = read_offer(spec.offer).map_err(|e| MediaError::Guest(e.to_string()))?;
        let mut base = LegBase::new(spec.id, spec.slot, spec.name);
        let webrtc = make("webrtcbin", &[("bundle-policy", "max-bundle"), ("latency", &GUEST_JITTER_MS.to_string())])?;
        let (bin, meters, id, plan) = (base.bin.clone(), base.meters.clone(), spec.id, spec.plan);
        bin.add(&webrtc).map_err(|e| MediaError::Internal(e.to_string()))?;
        let mut sends = Vec::new();
        let mut video_pay = None;
        if let Some(video) = codecs.video {
            let pay = super::leg_chains::video_send(&bin, id, video.pt)?;
            if let Some(extension) = video.playout_delay {
                super::playout_delay::attach(&pay, extension);
            }
            super::repair::count_keyframe_requests(&pay, meters.clone());
            sends.push(fixed_send(&bin, &pay, video, VIDEO)?);
            video_pay = Some(pay);
            let depay = super::leg_chains::video_receive(&bin, id, plan, &meters, spec.render.clone())?;
            count_received(&depay, &meters, VIDEO);
        }
        if let Some(audio) = codecs.audio {
            let send = super::leg_chains::audio_send(&bin, id, audio.pt, spec.slot, spec.slots)?;
            sends.push(fixed_send(&bin, &send.pay, audio, AUDIO)?);
            base.send_audio = Some(send.pass);
            let (depay, _) = super::leg_chains::audio_receive(&bin, id, &meters, spec.render.clone())?;
            count_received(&depay, &meters, AUDIO);
        }
        for send in &sends {
            let (meters, session) = (meters.clone(), send.session);
            probe_buffers(&send.out, "src", move |_, b| meters.rtp(session, true).record(b.size() as u64));
        }
        let repair = GuestRepair::watch(&webrtc);
        super::webrtc_negotiate::send_at_once(&webrtc);
        route_received_streams(&bin, &webrtc, id);
        watch_connection(&webrtc, id, spec.events.clone(), video_pay);
        tracing::trace!(offer = spec.offer, "offer of a guest");
        let answer = super::webrtc_negotiate::answer(&webrtc, sdp, &sends).inspect_err(|_| {
            let _ = bin.set_state(gst::State::Null);
            let _ = webrtc.set_state(gst::State::Null);
        })?;
        super::webrtc_negotiate::count_arrivals(&webrtc, &meters);
        tracing::info!(leg = %id, guest = spec.name, candidates = %super::webrtc_negotiate::describe_candidates(spec.offer), "guest's offer answered");
        let leg = Self { base, webrtc, codecs, repair };
        Ok((leg, answer))
    }

    /// The ICE and DTLS state of the guest's connection, in webrtcbin's words.
    fn connection(&self) -> String {
        let state = self.webrtc.property::<gst_webrtc::WebRTCPeerConnectionState>("connection-state");
        format!("{state:?}").to_lowercase()
    }
}

/// The payloader's stream fixed to what its m-line negotiates: a random SSRC, and a
/// capsfilter after it with the payload type and that SSRC.
fn fixed_send(
    bin: &gst::Bin,
    pay: &gst::Element,
    stream: OfferedStream,
    session: u32,
) -> Result<SendStream, MediaError> {
    let ssrc = getrandom::u32().map_err(|e| MediaError::Internal(format!("no random SSRC: {e}")))?;
    pay.set_property("ssrc", ssrc);
    let filter = gst::ElementFactory::make("capsfilter")
        .property("caps", send_caps(&stream, session, ssrc))
        .build()
        .map_err(|e| MediaError::Internal(e.to_string()))?;
    bin.add(&filter).map_err(|e| MediaError::Internal(e.to_string()))?;
    pay.link(&filter).map_err(|e| MediaError::Internal(format!("payloader to its caps: {e}")))?;
    Ok(SendStream { stream, out: filter, session, ssrc })
}

/// Counts the RTP the place sent (past DTLS-SRTP, as the depayloader takes it).
fn count_received(depay: &gst::Element, meters: &Arc<LegMeters>, session: u32) {
    let meters = meters.clone();
    probe_buffers(depay, "sink", move |_, b| meters.rtp(session, false).record(b.size() as u64));
}

/// webrtcbin adds a src pad per received stream: link it to that kind's depayloader. A new
/// stream of a kind (the browser restarted its sender) replaces the old one.
fn route_received_streams(bin: &gst::Bin, webrtc: &gst::Element, id: LegId) {
    let bin = bin.downgrade();
    webrtc.connect_pad_added(move |_, pad| {
        if pad.direction() != gst::PadDirection::Src {
            return;
        }
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let media = caps.structure(0).and_then(|s| s.get::<&str>("media").ok()).unwrap_or_default().to_owned();
        let depay = match media.as_str() {
            "video" => format!("{id}-video-depay"),
            "audio" => format!("{id}-audio-depay"),
            _ => return,
        };
        let Some(bin) = bin.upgrade() else { return };
        let Some(sink) = bin.by_name(&depay).and_then(|d| d.static_pad("sink")) else {
            // A stream the room did not answer for: it goes nowhere.
            let sink = make("fakesink", &[("async", "false"), ("sync", "false")]);
            if let Ok(sink) = sink
                && bin.add(&sink).is_ok()
                && sink.sync_state_with_parent().is_ok()
                && let Some(target) = sink.static_pad("sink")
            {
                let _ = pad.link(&target);
            }
            return;
        };
        if let Some(old) = sink.peer() {
            let _ = old.unlink(&sink);
        }
        if let Err(e) = pad.link(&sink) {
            tracing::warn!(leg = %id, media, error = ?e, "could not route the guest's stream");
        }
    });
}

/// A connection that fails (ICE found no path, DTLS did not agree) ends the guest's leg; one
/// that comes up asks the room's encoder for a keyframe (what was sent before could not be
/// decrypted), so the guest's first picture does not wait for its own request.
fn watch_connection(webrtc: &gst::Element, id: LegId, events: UnboundedSender<MediaEvent>, pay: Option<gst::Element>) {
    let pay = pay.map(|p| p.downgrade());
    webrtc.connect_notify(Some("ice-connection-state"), move |webrtc, _| {
        let state = webrtc.property::<gst_webrtc::WebRTCICEConnectionState>("ice-connection-state");
        tracing::debug!(leg = %id, ?state, "guest ICE");
    });
    webrtc.connect_notify(Some("connection-state"), move |webrtc, _| {
        let state = webrtc.property::<gst_webrtc::WebRTCPeerConnectionState>("connection-state");
        tracing::info!(leg = %id, ?state, "guest connection");
        if state == gst_webrtc::WebRTCPeerConnectionState::Connected
            && let Some(sink) = pay.as_ref().and_then(|p| p.upgrade()).and_then(|p| p.static_pad("sink"))
        {
            // Pushed upstream from the payloader's input, the way a place's PLI goes (an upstream
            // event *sent* to a sink pad is refused as going the wrong way).
            let _ = sink.push_event(super::encoder_control::keyframe_request());
        }
        if state == gst_webrtc::WebRTCPeerConnectionState::Failed {
            let reason = "the guest's browser could not be reached (ICE or DTLS failed)".to_owned();
            let _ = events.send(MediaEvent::Failed { leg: Some(id), reason });
        }
    });
}

impl MediaLeg for WebRtcLeg {
    fn base(&self) -> &LegBase {
        &self.base
    }
    fn stats(&self) -> MediaStats {
        let m = &self.base.meters;
        let encryption = format!("DTLS-SRTP ({})", self.connection());
        let receive = |codec: Option<&str>, decoded: &super::stats::SharedMeter, rx: &super::stats::SharedMeter| {
            let (decoded_per_s, _, decoded_total) = decoded.read();
            let (_, kbps, packets_received) = rx.read();
            ReceiveStats {
                codec: codec.unwrap_or_default().to_owned(),
                decoded_per_s,
                decoded_total,
                kbps,
                packets_received,
                encryption: codec.map(|_| encryption.clone()).unwrap_or_default(),
                ..Default::default()
            }
        };
        let send = |codec: Option<&str>, tx: &super::stats::SharedMeter| {
            let (_, kbps, packets_sent) = tx.read();
            SendStats { codec: codec.unwrap_or_default().to_owned(), kbps, packets_sent, ..Default::default() }
        };
        let (video, audio) = (self.codecs.video.map(|_| "H264"), self.codecs.audio.map(|_| "OPUS"));
        let repaired = |stats: &mut ReceiveStats, media: &str| {
            let r = self.repair.received(media);
            (stats.packets_lost, stats.nacks_sent, stats.recovered, stats.unrepaired) =
                (r.lost, r.nacks_sent, r.recovered, r.unrepaired);
        };
        let mut audio_in = receive(audio, &m.audio_decoded, &m.audio_rx);
        audio_in.level_db = self.level_db();
        repaired(&mut audio_in, "audio");
        let mut video_in = receive(video, &m.video_decoded, &m.video_rx);
        video_in.picture = m.video_size.lock().ok().and_then(|s| *s);
        repaired(&mut video_in, "video");
        let mut video_out = send(video, &m.video_tx);
        let sent = self.repair.sent();
        (video_out.nacks_received, video_out.resent) = (sent.nacks_received, sent.resent);
        video_out.keyframe_requests = m.keyframe_requests.load(std::sync::atomic::Ordering::Relaxed);
        MediaStats { video_in, audio_in, video_out, audio_out: send(audio, &m.audio_tx), ..Default::default() }
    }
    fn tick(&self, _bounds: super::jitter::JitterBounds) {
        self.repair.keep_nacks_to_video();
    }
    fn target_kbps(&self) -> Option<u32> {
        None
    }
    fn keyframe_on_link(&self) -> bool {
        false // asked for when DTLS is up (`watch_connection`)
    }
}
