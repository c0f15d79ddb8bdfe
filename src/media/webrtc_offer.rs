//! What a browser's offer asks for, read before webrtcbin answers it: which m-line carries the
//! picture and which the sound, and the payload type the browser gave each codec the room
//! speaks (H.264 packetization mode 1, constrained baseline; Opus). Pure: the offer is parsed
//! with GStreamer's SDP parser, nothing runs. An offer the room cannot take is refused with a
//! reason the guest's page shows.

use crate::sdp::split_values;
use gstreamer_sdp as gst_sdp;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    #[error("the offer is not SDP: {0}")]
    NotSdp(String),
    #[error(
        "the offer has no H.264 (packetization-mode=1, baseline) picture and no Opus sound the room can take (offered: {0})"
    )]
    NoCommonCodec(String),
    #[error("the offer does not bundle its media (a=group:BUNDLE): use a current browser")]
    NotBundled,
}

/// One m-line of the offer the room answers, and the payload type it uses there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfferedStream {
    pub mline: u32,
    pub pt: u8,
    /// The id the offer gives the playout-delay header extension on this m-line, if any.
    pub playout_delay: Option<u8>,
}

/// The id `media` gives the header extension `uri` (`a=extmap:<id>[/<direction>] <uri>`).
fn extmap_id(media: &gst_sdp::SDPMediaRef, uri: &str) -> Option<u8> {
    let (id, _) = split_values(media, "extmap").find(|(_, rest)| rest.split_whitespace().next() == Some(uri))?;
    id.split('/').next()?.parse().ok()
}

/// The streams of an offer the room takes part in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GuestCodecs {
    pub video: Option<OfferedStream>,
    pub audio: Option<OfferedStream>,
}

/// How well an H.264 format suits the room (higher is better), if at all: the room sends
/// Constrained Baseline in packetization mode 1, which a Baseline decoder also takes.
fn h264_rank(fmtp: &str) -> Option<u8> {
    let params: Vec<(&str, &str)> =
        fmtp.split(';').filter_map(|p| p.trim().split_once('=')).map(|(k, v)| (k.trim(), v.trim())).collect();
    let get = |key: &str| params.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| *v);
    if get("packetization-mode") != Some("1") {
        return None;
    }
    let profile = get("profile-level-id")?.to_ascii_lowercase();
    match profile.get(..4)? {
        "42e0" => Some(3),
        "42c0" => Some(2),
        "4200" => Some(1),
        _ => None,
    }
}

/// A browser's offer, parsed once: the SDP webrtcbin answers, and what the room takes of it.
#[derive(Debug)]
pub struct Offer {
    pub sdp: gst_sdp::SDPMessage,
    pub codecs: GuestCodecs,
}

/// Reads `offer` for the streams the room can take part in.
pub fn read_offer(offer: &str) -> Result<Offer, OfferError> {
    let sdp = crate::sdp::parse_text(offer)
        .map_err(OfferError::NotSdp)?
        .ok_or_else(|| OfferError::NotSdp("it is empty (POST the page's SDP offer as the body)".into()))?;
    if sdp.medias_len() == 0 {
        return Err(OfferError::NotSdp("it has no m= line".into()));
    }
    if !sdp.attributes().any(|a| a.key() == "group" && a.value().is_some_and(|v| v.starts_with("BUNDLE"))) {
        return Err(OfferError::NotBundled);
    }
    let mut codecs = GuestCodecs::default();
    let mut offered = Vec::new();
    for (mline, media) in sdp.medias().enumerate() {
        if media.port() == 0 {
            continue;
        }
        let kind = media.media().unwrap_or_default();
        let attribute =
            |key, pt: &str| split_values(media, key).find(|(p, _)| *p == pt).map(|(_, rest)| rest.to_owned());
        let mut best: Option<(u8, u8)> = None;
        for format in media.formats() {
            let Ok(pt) = format.parse::<u8>() else { continue };
            let name = attribute("rtpmap", format).unwrap_or_default();
            let codec = name.split('/').next().unwrap_or_default().to_ascii_uppercase();
            offered.push(codec.clone());
            let fmtp = attribute("fmtp", format).unwrap_or_default();
            let rank = match (kind, codec.as_str()) {
                ("video", "H264") => h264_rank(&fmtp),
                ("audio", "OPUS") => Some(1),
                _ => None,
            };
            if let Some(rank) = rank.filter(|r| best.is_none_or(|(b, _)| *r > b)) {
                best = Some((rank, pt));
            }
        }
        let playout_delay =
            extmap_id(media, super::playout_delay::URI).filter(|id| super::playout_delay::IDS.contains(id));
        let stream = best.map(|(_, pt)| OfferedStream { mline: mline as u32, pt, playout_delay });
        match kind {
            "video" if codecs.video.is_none() => codecs.video = stream,
            "audio" if codecs.audio.is_none() => codecs.audio = stream,
            _ => {}
        }
    }
    if codecs.video.is_none() && codecs.audio.is_none() {
        offered.dedup();
        return Err(OfferError::NoCommonCodec(offered.join(", ")));
    }
    Ok(Offer { sdp, codecs })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n\
        a=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:63 red/48000/2\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96 102 106 127\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n\
        a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n\
        a=rtpmap:96 VP8/90000\r\na=rtpmap:102 H264/90000\r\n\
        a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n\
        a=rtpmap:106 H264/90000\r\na=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
        a=rtpmap:127 H264/90000\r\na=fmtp:127 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f\r\n";

    #[test]
    fn picks_constrained_baseline_mode_1_and_opus() {
        let codecs = read_offer(CHROME).unwrap().codecs;
        assert_eq!(codecs.audio, Some(OfferedStream { mline: 0, pt: 111, playout_delay: None }));
        assert_eq!(codecs.video, Some(OfferedStream { mline: 1, pt: 106, playout_delay: Some(5) }));
    }

    #[test]
    fn refuses_what_it_cannot_take() {
        let vp8_only = CHROME.replace("H264", "H265").replace("opus", "PCMU");
        let err = read_offer(&vp8_only).unwrap_err();
        assert!(err.to_string().contains("offered: PCMU, RED, VP8, H265"), "{err}");
        assert_eq!(read_offer(&CHROME.replace("a=group:BUNDLE 0 1\r\n", "")).unwrap_err(), OfferError::NotBundled);
        assert!(matches!(read_offer("hello"), Err(OfferError::NotSdp(_))));
        let empty = read_offer(" \r\n").unwrap_err();
        assert!(empty.to_string().contains("it is empty"), "{empty}");
    }

    #[test]
    fn the_playout_delay_id_is_read_with_or_without_a_direction() {
        let with_direction = CHROME.replace("extmap:5 ", "extmap:7/recvonly ");
        assert_eq!(read_offer(&with_direction).unwrap().codecs.video.unwrap().playout_delay, Some(7));
        // A two-byte id (15 and up) is not one the room writes.
        let two_byte = CHROME.replace("extmap:5 ", "extmap:200 ");
        assert_eq!(read_offer(&two_byte).unwrap().codecs.video.unwrap().playout_delay, None);
    }

    #[test]
    fn a_rejected_line_is_skipped() {
        let rejected = CHROME.replace("m=video 9", "m=video 0");
        assert_eq!(read_offer(&rejected).unwrap().codecs.video, None);
    }
}
