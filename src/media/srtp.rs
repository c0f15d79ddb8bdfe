//! SRTP on a leg: rtpbin asks for an encoder and a decoder per session
//! (`request-rtp-encoder`/`-decoder` and their RTCP twins) and gets one `srtpenc` and one
//! `srtpdec` keyed from the SDES negotiation. The decoder hands out the peer's key for at most
//! [`MAX_REMOTE_SSRCS`] streams; packets that fail authentication (or replay) are dropped by
//! it and counted here. Keys only travel as element properties and signal returns, never
//! through anything printed.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gst::prelude::*;
use gstreamer as gst;

use super::MediaError;
use super::leg::{AUDIO, VIDEO};
use crate::sdp::{Negotiated, SrtpKeys};

/// Remote streams (SSRCs) a session decrypts: the place's media, its retransmissions and a
/// few restarts. Packets of further SSRCs are dropped unread.
pub const MAX_REMOTE_SSRCS: usize = 8;

/// Packets into and out of one session's decoder (RTP and RTCP together).
#[derive(Default)]
pub struct DecryptCounts {
    arrived: AtomicU64,
    passed: AtomicU64,
}

impl DecryptCounts {
    /// Packets the decoder dropped: failed authentication, replays, unknown or surplus SSRCs.
    pub fn dropped(&self) -> u64 {
        self.arrived.load(Ordering::Relaxed).saturating_sub(self.passed.load(Ordering::Relaxed))
    }
}

/// A leg's SRTP: the decoders rtpbin was given (by session) and both sessions' counts.
#[derive(Default)]
pub struct SrtpSessions {
    pub sessions: [DecryptCounts; 2],
    decoders: Arc<Made>,
}

/// The SRTP elements made so far, by session. Weak: rtpbin owns them, and their pads' probes
/// hold the leg's meters, which hold this map; a strong element here would keep the leg's
/// meters, its decoders and their libsrtp sessions (keys included) alive after the leg is gone.
type Made = Mutex<HashMap<u32, gst::glib::WeakRef<gst::Element>>>;

impl SrtpSessions {
    pub fn dropped(&self, session: u32) -> u64 {
        self.sessions.get(session as usize).map_or(0, DecryptCounts::dropped)
    }

    /// The session's decoder, once rtpbin asked for it (its `rtcp_src` carries plain RTCP).
    pub fn decoder(&self, session: u32) -> Option<gst::Element> {
        self.decoders.lock().ok()?.get(&session)?.upgrade()
    }
}

fn keys_of(negotiated: &Negotiated, session: u32) -> Option<SrtpKeys> {
    let stream = match session {
        VIDEO => negotiated.video.as_ref(),
        AUDIO => negotiated.audio.as_ref(),
        _ => None,
    };
    stream.and_then(|s| s.srtp.clone())
}

/// The session's `srtpenc`, with the request pads rtpbin will look up (`rtp_sink_N`,
/// `rtcp_sink_N`, and the source pads they bring) already made.
fn encoder(keys: &SrtpKeys, session: u32) -> Result<gst::Element, MediaError> {
    let enc = gst::ElementFactory::make("srtpenc")
        .property("key", gst::Buffer::from_slice(keys.send.bytes().to_vec()))
        .build()
        .map_err(|e| MediaError::Internal(format!("srtpenc: {e}")))?;
    for (property, value) in [
        ("rtp-cipher", keys.suite.cipher()),
        ("rtcp-cipher", keys.suite.cipher()),
        ("rtp-auth", keys.suite.auth()),
        ("rtcp-auth", keys.suite.auth()),
    ] {
        enc.set_property_from_str(property, value);
    }
    for pad in [format!("rtp_sink_{session}"), format!("rtcp_sink_{session}")] {
        enc.request_pad_simple(&pad).ok_or_else(|| MediaError::Internal(format!("srtpenc refused pad {pad}")))?;
    }
    Ok(enc)
}

/// What `srtpdec`'s `request-key` answers for a new SSRC: the peer's key, or nothing once the
/// session has its fill of remote streams.
fn key_caps(keys: &SrtpKeys, seen: &Mutex<HashSet<u32>>, ssrc: u32) -> Option<gst::Caps> {
    let mut seen = seen.lock().ok()?;
    if !seen.contains(&ssrc) && seen.len() >= MAX_REMOTE_SSRCS {
        return None;
    }
    seen.insert(ssrc);
    let (cipher, auth) = (keys.suite.cipher(), keys.suite.auth());
    Some(
        gst::Caps::builder("application/x-srtp")
            .field("srtp-key", gst::Buffer::from_slice(keys.receive.bytes().to_vec()))
            .field("srtp-cipher", cipher)
            .field("srtp-auth", auth)
            .field("srtcp-cipher", cipher)
            .field("srtcp-auth", auth)
            .build(),
    )
}

fn decoder(keys: SrtpKeys, counts: &Arc<SrtpSessions>, session: u32) -> Result<gst::Element, MediaError> {
    let dec =
        gst::ElementFactory::make("srtpdec").build().map_err(|e| MediaError::Internal(format!("srtpdec: {e}")))?;
    let seen = Mutex::new(HashSet::new());
    dec.connect("request-key", false, move |args| {
        let ssrc = args.get(1).and_then(|a| a.get::<u32>().ok())?;
        Some(key_caps(&keys, &seen, ssrc).to_value())
    });
    let index = session as usize;
    for (pad, arrived) in [("rtp_sink", true), ("rtcp_sink", true), ("rtp_src", false), ("rtcp_src", false)] {
        let counts = counts.clone();
        if let Some(pad) = dec.static_pad(pad) {
            pad.add_probe(gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST, move |_, info| {
                let n = match &info.data {
                    Some(gst::PadProbeData::BufferList(list)) => list.len() as u64,
                    _ => 1,
                };
                if let Some(c) = counts.sessions.get(index) {
                    let counter = if arrived { &c.arrived } else { &c.passed };
                    counter.fetch_add(n, Ordering::Relaxed);
                }
                gst::PadProbeReturn::Ok
            });
        }
    }
    Ok(dec)
}

/// Loads the SRTP plugin (and libsrtp with its crypto library) before the first call needs
/// it: on a slow board or SD card that load takes seconds, which a call's start must not wait
/// for. Runs on the media thread before it takes jobs.
pub fn warm_up() {
    for name in ["srtpenc", "srtpdec"] {
        if let Some(factory) = gst::ElementFactory::find(name)
            && let Err(e) = factory.load()
        {
            tracing::warn!(element = name, error = %e, "the SRTP plugin does not load: encrypted calls will fail");
        }
    }
}

/// Gives `rtpbin` an SRTP encoder and decoder for every session `negotiated` encrypts; before
/// any of its pads are requested. Sessions in plain RTP get none. Fails when the SRTP elements
/// are missing, rather than sending in the clear what was agreed to be encrypted.
pub fn install(rtpbin: &gst::Element, negotiated: &Negotiated, srtp: &Arc<SrtpSessions>) -> Result<(), MediaError> {
    if keys_of(negotiated, VIDEO).is_none() && keys_of(negotiated, AUDIO).is_none() {
        return Ok(());
    }
    for element in ["srtpenc", "srtpdec"] {
        if gst::ElementFactory::find(element).is_none() {
            return Err(MediaError::MissingElement {
                element: element.into(),
                package: "gstreamer1.0-plugins-bad (its srtp plugin)",
            });
        }
    }
    type Build = Arc<dyn Fn(u32) -> Option<gst::Element> + Send + Sync>;
    let encoders: Arc<Made> = Arc::default();
    // rtpbin asks once for RTP and once for RTCP: both get the session's one element.
    let shared = |made: &Arc<Made>, build: Build| {
        let made = made.clone();
        move |args: &[gst::glib::Value]| {
            let session = args.get(1).and_then(|a| a.get::<u32>().ok())?;
            let mut made = made.lock().ok()?;
            if let Some(element) = made.get(&session).and_then(|e| e.upgrade()) {
                return Some(Some(element).to_value());
            }
            let element = build(session);
            if let Some(e) = &element {
                made.insert(session, e.downgrade());
            }
            Some(element.to_value())
        }
    };
    let n = negotiated.clone();
    let make_encoder: Build =
        Arc::new(move |session| encoder(&keys_of(&n, session)?, session).map_err(log_failed).ok());
    let (n, weak) = (negotiated.clone(), Arc::downgrade(srtp));
    let make_decoder: Build =
        Arc::new(move |session| decoder(keys_of(&n, session)?, &weak.upgrade()?, session).map_err(log_failed).ok());
    for signal in ["request-rtp-encoder", "request-rtcp-encoder"] {
        rtpbin.connect(signal, false, shared(&encoders, make_encoder.clone()));
    }
    for signal in ["request-rtp-decoder", "request-rtcp-decoder"] {
        rtpbin.connect(signal, false, shared(&srtp.decoders, make_decoder.clone()));
    }
    Ok(())
}

fn log_failed(e: MediaError) -> MediaError {
    tracing::error!("{e}: the call cannot be encrypted");
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdp::{MasterKey, NegotiatedStream, SrtpSuite};

    fn encrypted_video() -> Negotiated {
        let suite = SrtpSuite::AesCm128HmacSha1_80;
        let key = || MasterKey::fresh(suite).expect("a fresh key");
        let keys = SrtpKeys { suite, send: key(), receive: key() };
        let stream = NegotiatedStream {
            pt: 96,
            codec: "H264/90000".into(),
            fmtp: None,
            remote_ip: "127.0.0.1".parse().expect("an address"),
            remote_rtp_port: 40000,
            remote_rtcp_port: 40001,
            feedback: Default::default(),
            rtx_pt: None,
            srtp: Some(keys),
        };
        Negotiated { video: Some(stream), audio: None }
    }

    /// The leg's meters (here: the sessions themselves) hang on the decoder's pads, as the leg's
    /// probes put them there; the decoder, its libsrtp session and its keys must still go
    /// with the leg's rtpbin, not stay for the daemon's lifetime after every encrypted call.
    #[test]
    fn a_legs_decoder_is_freed_with_its_rtpbin() {
        gst::init().expect("GStreamer");
        let rtpbin = gst::ElementFactory::make("rtpbin").build().expect("rtpbin");
        let sessions = Arc::new(SrtpSessions::default());
        install(&rtpbin, &encrypted_video(), &sessions).expect("SRTP elements");
        let asked = rtpbin.emit_by_name::<Option<gst::Element>>("request-rtp-decoder", &[&VIDEO]);
        let decoder = asked.expect("a decoder for the encrypted session");
        let again = rtpbin.emit_by_name::<Option<gst::Element>>("request-rtcp-decoder", &[&VIDEO]);
        assert_eq!(again.as_ref(), Some(&decoder), "RTP and RTCP share the session's decoder");
        assert_eq!(sessions.decoder(VIDEO).as_ref(), Some(&decoder));
        let held = sessions.clone();
        let pad = decoder.static_pad("rtp_src").expect("rtp_src");
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            let _ = held.dropped(VIDEO);
            gst::PadProbeReturn::Ok
        });
        // rtpbin would own the decoder once it links it; here the test's bin stands in for it.
        let bin = gst::Bin::new();
        bin.add(&decoder).expect("the decoder in a bin");
        let freed = decoder.downgrade();
        drop((decoder, again, pad));
        drop((bin, rtpbin));
        assert!(freed.upgrade().is_none(), "the decoder outlived its leg");
        assert!(sessions.decoder(VIDEO).is_none());
    }
}
