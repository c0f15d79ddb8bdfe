//! SDP offer/answer (RFC 3264) for roombox's codecs: H.264 with packetization-mode=1
//! (RFC 6184) and Opus/48000/2 (RFC 7587). Pure functions from descriptions to descriptions.

use std::net::IpAddr;

use super::crypto::SrtpKeys;
use super::feedback::{Feedback, RTX_PT, rtx_for, rtx_format};
use super::secure::{Answered, SrtpPolicy, answer_crypto, offer_crypto, read_answer_crypto};
use super::{MediaDescription, MediaKind, PayloadFormat, SdpError, SessionDescription};

/// The payload types roombox uses in its own offers.
pub const H264_PT: u8 = 96;
pub const OPUS_PT: u8 = 111;
/// Constrained Baseline, level 3.1: what every H.264 decoder and hardware encoder handles.
pub const H264_PROFILE_LEVEL_ID: &str = "42e01f";

/// What this room will send and receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    pub video: bool,
    pub audio: bool,
    pub srtp: SrtpPolicy,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self { video: true, audio: true, srtp: SrtpPolicy::default() }
    }
}

/// The local RTP/RTCP ports of one call, bound before the offer or answer is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalMedia {
    pub ip: IpAddr,
    pub video_rtp: u16,
    pub video_rtcp: u16,
    pub audio_rtp: u16,
    pub audio_rtcp: u16,
}

/// One stream both sides agreed on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NegotiatedStream {
    pub pt: u8,
    /// `encoding/clock-rate[/channels]`, e.g. `H264/90000`.
    pub codec: String,
    pub fmtp: Option<String>,
    pub remote_ip: IpAddr,
    pub remote_rtp_port: u16,
    pub remote_rtcp_port: u16,
    /// The RTCP feedback both sides agreed on (video only).
    #[serde(default)]
    pub feedback: Feedback,
    /// The payload type retransmissions travel in, when both do RTX (needs `nack`).
    #[serde(default)]
    pub rtx_pt: Option<u8>,
    /// The SRTP keys each way, when the stream is encrypted (never serialized).
    #[serde(skip)]
    pub srtp: Option<SrtpKeys>,
}

impl NegotiatedStream {
    /// The SRTP suite the stream is encrypted with, if it is.
    pub fn srtp_suite(&self) -> Option<super::SrtpSuite> {
        self.srtp.as_ref().map(|k| k.suite)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Negotiated {
    pub video: Option<NegotiatedStream>,
    pub audio: Option<NegotiatedStream>,
}

impl Negotiated {
    /// Keeps media at the SIP peer's own address: a stream whose SDP names another host is
    /// sent to `peer` instead (a forged or careless offer must not turn the room into a
    /// 2 Mbit/s reflector at a third party). Returns a note per stream it moved.
    pub fn confine_to(&mut self, peer: IpAddr) -> Vec<String> {
        let mut notes = Vec::new();
        for (kind, stream) in [("video", &mut self.video), ("audio", &mut self.audio)] {
            if let Some(s) = stream.as_mut().filter(|s| s.remote_ip != peer) {
                notes.push(format!(
                    "the peer asked for its {kind} at {}, not at its own address {peer}: sending it to {peer} \
                     (set [call] allow_media_elsewhere = true to follow the SDP)",
                    s.remote_ip
                ));
                s.remote_ip = peer;
            }
        }
        notes
    }

    /// How the call's media is protected, for its log line: the suite, and where the SDES
    /// keys travelled (`transport`: over UDP or TCP anyone on the path can read them).
    pub fn encryption(&self, transport: &str) -> String {
        let streams: Vec<&NegotiatedStream> = [&self.video, &self.audio].into_iter().flatten().collect();
        let suites: Vec<&str> = streams.iter().filter_map(|s| s.srtp_suite()).map(|s| s.name()).collect();
        if suites.is_empty() {
            return "NOT encrypted: plain RTP".into();
        }
        let mut text = format!("encrypted with SRTP {}", suites[0]);
        if suites.len() < streams.len() {
            text.push_str(" (one stream in plain RTP)");
        }
        if transport == "TLS" {
            return text + "; its SDES keys travelled inside SIP over TLS";
        }
        text + &format!(
            "; its SDES keys travelled in SIP over {transport}, readable on the path: SIP over TLS would hide them"
        )
    }
}

fn h264() -> PayloadFormat {
    PayloadFormat {
        pt: H264_PT,
        encoding: "H264".into(),
        clock_rate: 90000,
        channels: None,
        fmtp: Some(format!("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id={H264_PROFILE_LEVEL_ID}")),
        feedback: Feedback::ALL.values(),
    }
}

fn opus() -> PayloadFormat {
    PayloadFormat {
        pt: OPUS_PT,
        encoding: "opus".into(),
        clock_rate: 48000,
        channels: Some(2),
        fmtp: Some("useinbandfec=1".into()),
        feedback: Vec::new(),
    }
}

fn media_line(kind: MediaKind, port: u16, rtcp: u16, formats: Vec<PayloadFormat>) -> MediaDescription {
    MediaDescription {
        kind: Some(kind),
        media_name: kind.as_str().into(),
        proto: "RTP/AVP".into(),
        port,
        rtcp_port: Some(rtcp),
        rtcp_mux: false,
        connection: None,
        formats,
        crypto: Vec::new(),
        unusable_crypto: Vec::new(),
    }
}

/// Our offer for a new call, with fresh SRTP keys unless encryption is off.
pub fn offer(session_id: u64, caps: Capabilities, local: &LocalMedia) -> Result<SessionDescription, SdpError> {
    let mut media = Vec::new();
    let secured = |line: MediaDescription| -> Result<MediaDescription, SdpError> {
        let (proto, crypto) = offer_crypto(&caps.srtp)?;
        Ok(MediaDescription { proto, crypto, ..line })
    };
    if caps.audio {
        media.push(secured(media_line(MediaKind::Audio, local.audio_rtp, local.audio_rtcp, vec![opus()]))?);
    }
    if caps.video {
        let video = vec![h264(), rtx_format(RTX_PT, H264_PT)];
        media.push(secured(media_line(MediaKind::Video, local.video_rtp, local.video_rtcp, video))?);
    }
    Ok(SessionDescription { session_id, version: 1, origin: local.ip, connection: Some(local.ip), media })
}

/// Whether `format` is one roombox can send and receive for `kind`.
fn supported(kind: MediaKind, format: &PayloadFormat) -> bool {
    match kind {
        MediaKind::Video => {
            format.encoding.eq_ignore_ascii_case("H264")
                && format.clock_rate == 90000
                && format.fmtp_param("packetization-mode") == Some("1")
        }
        MediaKind::Audio => {
            format.encoding.eq_ignore_ascii_case("opus") && format.clock_rate == 48000 && format.channels == Some(2)
        }
    }
}

/// The stream `format` of line `m` makes; its feedback is what the line asks for and we do.
fn stream(
    sdp: &SessionDescription,
    m: &MediaDescription,
    format: &PayloadFormat,
) -> Result<NegotiatedStream, SdpError> {
    let feedback = match m.kind {
        Some(MediaKind::Video) => Feedback::of(format).and(Feedback::ALL),
        _ => Feedback::default(),
    };
    let rtx_pt = rtx_for(&m.formats, format.pt).filter(|_| feedback.nack).map(|f| f.pt);
    let remote_rtcp_port = m.rtcp_port.unwrap_or(if m.rtcp_mux { m.port } else { m.port.saturating_add(1) });
    let codec = match format.channels {
        Some(ch) => format!("{}/{}/{ch}", format.encoding, format.clock_rate),
        None => format!("{}/{}", format.encoding, format.clock_rate),
    };
    Ok(NegotiatedStream {
        pt: format.pt,
        codec,
        fmtp: format.fmtp.clone(),
        remote_ip: sdp.address_of(m)?,
        remote_rtp_port: m.port,
        remote_rtcp_port,
        feedback,
        rtx_pt,
        srtp: None,
    })
}

/// Answers a peer's offer: the first supported format of the first audio and video line is
/// accepted (with the offerer's payload type) if its encryption suits the room; every other
/// line is rejected with port 0. Fails (SIP 488) when nothing can be accepted: with
/// [`SdpError::Encryption`] when encryption was the reason, else [`SdpError::NoCommonCodec`].
pub fn answer(
    offer: &SessionDescription,
    session_id: u64,
    caps: Capabilities,
    local: &LocalMedia,
) -> Result<(SessionDescription, Negotiated), SdpError> {
    let mut negotiated = Negotiated::default();
    let mut media = Vec::new();
    let mut refusals = Vec::new();
    for m in &offer.media {
        let wanted = match m.kind {
            Some(MediaKind::Video) if caps.video && negotiated.video.is_none() => Some(MediaKind::Video),
            Some(MediaKind::Audio) if caps.audio && negotiated.audio.is_none() => Some(MediaKind::Audio),
            _ => None,
        };
        let chosen = wanted
            .filter(|_| !m.rejected())
            .and_then(|kind| Some((kind, m.formats.iter().find(|f| supported(kind, f))?)));
        let crypto = match chosen {
            Some(_) => match answer_crypto(&caps.srtp, m)? {
                Answered::Refused(why) => {
                    refusals.push(why);
                    None
                }
                Answered::Plain => Some(None),
                Answered::Srtp(line, keys) => Some(Some((line, keys))),
            },
            None => None,
        };
        match chosen.zip(crypto) {
            Some(((kind, format), crypto)) => {
                let mut s = stream(offer, m, format)?;
                let (crypto, keys) = crypto.unzip();
                s.srtp = keys;
                let mut ours = if kind == MediaKind::Video { h264() } else { opus() };
                ours.pt = format.pt;
                ours.feedback = s.feedback.values();
                let mut formats = vec![ours];
                formats.extend(s.rtx_pt.map(|pt| rtx_format(pt, format.pt)));
                let (rtp, rtcp, slot) = match kind {
                    MediaKind::Video => (local.video_rtp, local.video_rtcp, &mut negotiated.video),
                    MediaKind::Audio => (local.audio_rtp, local.audio_rtcp, &mut negotiated.audio),
                };
                *slot = Some(s);
                let crypto = crypto.into_iter().collect();
                media.push(MediaDescription { proto: m.proto.clone(), crypto, ..media_line(kind, rtp, rtcp, formats) });
            }
            None => media.push(MediaDescription {
                port: 0,
                rtcp_port: None,
                rtcp_mux: false,
                connection: None,
                crypto: Vec::new(),
                unusable_crypto: Vec::new(),
                ..m.clone()
            }),
        }
    }
    if negotiated.video.is_none() && negotiated.audio.is_none() {
        if !refusals.is_empty() {
            return Err(SdpError::Encryption(refusals.join("; ")));
        }
        return Err(SdpError::NoCommonCodec { offered: describe(offer) });
    }
    let answer = SessionDescription { session_id, version: 1, origin: local.ip, connection: Some(local.ip), media };
    Ok((answer, negotiated))
}

/// Reads the peer's answer to our offer.
pub fn read_answer(our_offer: &SessionDescription, answer: &SessionDescription) -> Result<Negotiated, SdpError> {
    if answer.media.len() != our_offer.media.len() {
        return Err(SdpError::AnswerMismatch(format!(
            "{} m= lines for our {}",
            answer.media.len(),
            our_offer.media.len()
        )));
    }
    let mut negotiated = Negotiated::default();
    for (ours, theirs) in our_offer.media.iter().zip(&answer.media) {
        let Some(kind) = ours.kind.filter(|_| !theirs.rejected()) else {
            continue;
        };
        let Some(format) = theirs.formats.iter().find(|f| supported(kind, f)) else {
            return Err(SdpError::AnswerMismatch(format!(
                "{} answered with {}",
                kind.as_str(),
                describe_media(theirs)
            )));
        };
        let mut s = stream(answer, theirs, format)?;
        s.srtp = read_answer_crypto(ours, theirs)?;
        match kind {
            MediaKind::Video => negotiated.video = Some(s),
            MediaKind::Audio => negotiated.audio = Some(s),
        }
    }
    if negotiated.video.is_none() && negotiated.audio.is_none() {
        return Err(SdpError::NoCommonCodec { offered: describe(answer) });
    }
    Ok(negotiated)
}

fn describe_media(m: &MediaDescription) -> String {
    let formats: Vec<String> = m.formats.iter().map(|f| format!("{}/{}", f.encoding, f.clock_rate)).collect();
    format!("{} [{}]", m.media_name, formats.join(", "))
}

fn describe(sdp: &SessionDescription) -> String {
    sdp.media.iter().map(describe_media).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
#[path = "negotiate_tests.rs"]
pub(super) mod tests;
