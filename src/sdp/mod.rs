//! SDP (RFC 4566) as typed data, parsed and printed with `gstreamer-sdp`, and the offer/answer
//! rules of RFC 3264 for the codecs a room box speaks (H.264 and Opus) in [`negotiate`].

pub mod crypto;
pub mod feedback;
pub mod negotiate;
pub mod secure;

use std::net::IpAddr;

use gstreamer_sdp as gst_sdp;

pub use crypto::{CryptoAttribute, Encryption, MasterKey, SrtpKeys, SrtpSuite, UnusableCrypto};
pub use feedback::Feedback;
pub use negotiate::{Capabilities, LocalMedia, Negotiated, NegotiatedStream, answer, offer, read_answer};
pub use secure::SrtpPolicy;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("SDP body could not be parsed: {0}")]
    Unparsable(String),
    #[error("SDP has no connection address (c=) for the {0} stream")]
    NoConnection(String),
    #[error("no common codec: the peer offered {offered}, roombox speaks H264 (packetization-mode=1) and opus/48000/2")]
    NoCommonCodec { offered: String },
    #[error("the answer does not match our offer: {0}")]
    AnswerMismatch(String),
    #[error("{0}")]
    Encryption(String),
    #[error("the operating system's random source failed, so no SRTP key could be made: {0}")]
    NoRandom(String),
}

impl SdpError {
    /// Whether the refusal is about encryption (SIP reason "Encryption Required" and friends).
    pub fn is_about_encryption(&self) -> bool {
        matches!(self, SdpError::Encryption(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Audio,
    Video,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
        }
    }
}

/// One payload format of a media line: `a=rtpmap` plus its `a=fmtp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadFormat {
    pub pt: u8,
    pub encoding: String,
    pub clock_rate: u32,
    pub channels: Option<u32>,
    pub fmtp: Option<String>,
    /// Its `a=rtcp-fb` values (RFC 4585), those given for `*` included: `nack`, `nack pli`, …
    pub feedback: Vec<String>,
}

impl PayloadFormat {
    /// The value of one `key=value` fmtp parameter.
    pub fn fmtp_param(&self, key: &str) -> Option<&str> {
        self.fmtp
            .as_deref()?
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim())
    }
    pub fn rtpmap(&self) -> String {
        match self.channels {
            Some(ch) => format!("{} {}/{}/{ch}", self.pt, self.encoding, self.clock_rate),
            None => format!("{} {}/{}", self.pt, self.encoding, self.clock_rate),
        }
    }
}

/// One `m=` line. `kind` is `None` for media we do not handle (kept so the answer can reject it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    pub kind: Option<MediaKind>,
    pub media_name: String,
    pub proto: String,
    pub port: u16,
    pub rtcp_port: Option<u16>,
    pub rtcp_mux: bool,
    pub connection: Option<IpAddr>,
    pub formats: Vec<PayloadFormat>,
    /// The SDES keys (`a=crypto`) roombox can use, in the order given.
    pub crypto: Vec<CryptoAttribute>,
    /// The `a=crypto` lines it cannot use, and why (never printed back).
    pub unusable_crypto: Vec<UnusableCrypto>,
}

impl MediaDescription {
    pub fn rejected(&self) -> bool {
        self.port == 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    pub session_id: u64,
    pub version: u64,
    pub origin: IpAddr,
    pub connection: Option<IpAddr>,
    pub media: Vec<MediaDescription>,
}

/// gstreamer-sdp refuses to run before `gst::init`; init is idempotent and cheap once done.
fn gst_ready() -> Result<(), String> {
    gstreamer::init().map_err(|e| format!("GStreamer could not start: {e}"))
}

/// GStreamer's reading of the SDP `text`, or `None` when it is blank (its parser asserts on an
/// empty buffer): the caller says what a blank body means where it came from.
pub fn parse_text(text: &str) -> Result<Option<gst_sdp::SDPMessage>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    gst_ready()?;
    gst_sdp::SDPMessage::parse_buffer(text.as_bytes()).map(Some).map_err(|e| e.to_string())
}

impl SessionDescription {
    pub fn parse(text: &str) -> Result<Self, SdpError> {
        let msg = parse_text(text)
            .map_err(SdpError::Unparsable)?
            .ok_or_else(|| SdpError::Unparsable("the SDP body is empty".into()))?;
        let origin = msg.origin().ok_or_else(|| SdpError::Unparsable("missing o= line".into()))?;
        let parse_ip = |s: Option<&str>| s.and_then(|a| a.parse::<IpAddr>().ok());
        let media = msg.medias().map(parse_media).collect::<Result<Vec<_>, _>>()?;
        if media.is_empty() {
            return Err(SdpError::Unparsable("no m= lines".into()));
        }
        let sdp = Self {
            session_id: origin.sess_id().and_then(|s| s.parse().ok()).unwrap_or(0),
            version: origin.sess_version().and_then(|s| s.parse().ok()).unwrap_or(0),
            origin: parse_ip(origin.addr()).unwrap_or(IpAddr::from([0, 0, 0, 0])),
            connection: parse_ip(msg.connection().and_then(|c| c.address())),
            media,
        };
        Ok(sdp)
    }

    /// The address to send a stream's RTP to: its own c= line, else the session's.
    pub fn address_of(&self, media: &MediaDescription) -> Result<IpAddr, SdpError> {
        media.connection.or(self.connection).ok_or_else(|| SdpError::NoConnection(media.media_name.clone()))
    }

    pub fn to_text(&self) -> String {
        if gst_ready().is_err() {
            return String::new();
        }
        // The session header is parsed rather than built: in GStreamer 1.22, add_time() with
        // no repeat times stores an empty array that as_text() then reads past (a crash).
        let ip_type = |ip: IpAddr| if ip.is_ipv6() { "IP6" } else { "IP4" };
        let mut header = format!(
            "v=0\r\no=roombox {} {} IN {} {}\r\ns=roombox\r\n",
            self.session_id,
            self.version,
            ip_type(self.origin),
            self.origin
        );
        if let Some(c) = self.connection {
            header.push_str(&format!("c=IN {} {c}\r\n", ip_type(c)));
        }
        header.push_str("t=0 0\r\n");
        let Ok(mut msg) = gst_sdp::SDPMessage::parse_buffer(header.as_bytes()) else {
            return String::new();
        };
        for m in &self.media {
            let mut media = gst_sdp::SDPMedia::new();
            media.set_media(&m.media_name);
            media.set_port_info(u32::from(m.port), 1);
            media.set_proto(&m.proto);
            for f in &m.formats {
                media.add_format(&f.pt.to_string());
            }
            if !m.rejected() {
                for f in &m.formats {
                    media.add_attribute("rtpmap", Some(&f.rtpmap()));
                    if let Some(fmtp) = &f.fmtp {
                        media.add_attribute("fmtp", Some(&format!("{} {fmtp}", f.pt)));
                    }
                    for fb in &f.feedback {
                        media.add_attribute("rtcp-fb", Some(&format!("{} {fb}", f.pt)));
                    }
                }
                for c in &m.crypto {
                    media.add_attribute("crypto", Some(&c.to_value()));
                }
                if let Some(rtcp) = m.rtcp_port {
                    media.add_attribute("rtcp", Some(&rtcp.to_string()));
                }
                if m.rtcp_mux {
                    media.add_attribute("rtcp-mux", None);
                }
                media.add_attribute("sendrecv", None);
            }
            msg.add_media(media);
        }
        msg.as_text().unwrap_or_default()
    }
}

/// The values of `media`'s `key` attributes split at their first space, both halves trimmed
/// (`a=rtpmap:<pt> <rest>`, `a=rtcp-fb:<pt> <rest>`, `a=extmap:<id> <rest>`).
pub fn split_values<'a>(media: &'a gst_sdp::SDPMediaRef, key: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
    media
        .attributes()
        .filter(move |a| a.key() == key)
        .filter_map(|a| a.value()?.trim().split_once(' '))
        .map(|(first, rest)| (first.trim(), rest.trim()))
}

fn parse_media(media: &gst_sdp::SDPMediaRef) -> Result<MediaDescription, SdpError> {
    let media_name = media.media().unwrap_or_default().to_owned();
    let kind = match media_name.as_str() {
        "audio" => Some(MediaKind::Audio),
        "video" => Some(MediaKind::Video),
        _ => None,
    };
    let port = u16::try_from(media.port()).map_err(|_| SdpError::Unparsable(format!("bad port {}", media.port())))?;
    let attrs: Vec<(&str, Option<&str>)> = media.attributes().map(|a| (a.key(), a.value())).collect();
    let attr_for_pt =
        |key, pt: u8| split_values(media, key).find(|(p, _)| *p == pt.to_string()).map(|(_, rest)| rest.to_owned());
    let mut formats = Vec::new();
    for fmt in media.formats() {
        let Ok(pt) = fmt.parse::<u8>() else { continue };
        let (encoding, clock_rate, channels) = match attr_for_pt("rtpmap", pt) {
            Some(map) => parse_rtpmap(&map).ok_or_else(|| SdpError::Unparsable(format!("bad rtpmap '{map}'")))?,
            None => static_payload(pt),
        };
        let feedback = split_values(media, "rtcp-fb")
            .filter(|(p, _)| *p == "*" || *p == pt.to_string())
            .map(|(_, value)| value.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        formats.push(PayloadFormat { pt, encoding, clock_rate, channels, fmtp: attr_for_pt("fmtp", pt), feedback });
    }
    let (mut crypto, mut unusable_crypto) = (Vec::new(), Vec::new());
    for (_, value) in attrs.iter().filter(|(k, _)| *k == "crypto") {
        match CryptoAttribute::parse(value.unwrap_or("")) {
            Ok(c) => crypto.push(c),
            Err(e) => unusable_crypto.push(e),
        }
    }
    let rtcp_port =
        attrs.iter().find(|(k, _)| *k == "rtcp").and_then(|(_, v)| (*v)?.split_whitespace().next()?.parse().ok());
    Ok(MediaDescription {
        kind,
        media_name,
        proto: media.proto().unwrap_or("RTP/AVP").to_owned(),
        port,
        rtcp_port,
        rtcp_mux: attrs.iter().any(|(k, _)| *k == "rtcp-mux"),
        connection: media.connections().next().and_then(|c| c.address()?.parse().ok()),
        formats,
        crypto,
        unusable_crypto,
    })
}

fn parse_rtpmap(map: &str) -> Option<(String, u32, Option<u32>)> {
    let mut parts = map.split('/');
    let encoding = parts.next()?.trim().to_owned();
    let clock_rate = parts.next()?.trim().parse().ok()?;
    let channels = match parts.next() {
        Some(c) => Some(c.trim().parse().ok()?),
        None => None,
    };
    Some((encoding, clock_rate, channels))
}

/// RFC 3551 static payload types, for offers that omit `a=rtpmap`.
fn static_payload(pt: u8) -> (String, u32, Option<u32>) {
    match pt {
        0 => ("PCMU".into(), 8000, Some(1)),
        8 => ("PCMA".into(), 8000, Some(1)),
        9 => ("G722".into(), 8000, Some(1)),
        _ => (format!("pt{pt}"), 0, None),
    }
}
