//! Loss repair on a guest's leg, read from inside `webrtcbin`: its rtpbin makes one jitter
//! buffer per stream the browser sends (all in one BUNDLE session, so they are told apart by
//! their caps), which asks for lost video again (NACK, `do-nack` on the transceiver) and counts
//! what came back in time and what it gave up on; the session's source of that SSRC counts
//! what never arrived from the network; `rtprtxsend` resends what the browser asks for.

use std::sync::{Arc, Mutex};

use gst::glib;
use gst::prelude::*;
use gstreamer as gst;

/// The one session a BUNDLE'd guest's streams share.
const BUNDLE_SESSION: u32 = 0;

/// What repair did on one kind of stream (video or audio) from the guest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct ReceiveRepair {
    /// Packets that never arrived from the network (before any repair).
    pub lost: i64,
    /// Packets asked for again, and resent copies that came in time to be used.
    pub nacks_sent: u64,
    pub recovered: u64,
    /// Packets given up on (after any repair).
    pub unrepaired: u64,
}

/// What the box resent of its own picture, as the guest asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct SendRepair {
    pub nacks_received: u64,
    pub resent: u64,
}

/// The jitter buffers made so far, each with the SSRC it receives.
type JitterBuffers = Arc<Mutex<Vec<(glib::WeakRef<gst::Element>, u32)>>>;

/// The jitter buffers of a guest's leg (with the SSRC each receives) and its webrtcbin.
pub(super) struct GuestRepair {
    webrtc: glib::WeakRef<gst::Element>,
    buffers: JitterBuffers,
}

impl GuestRepair {
    /// Watches the jitter buffers `webrtc`'s rtpbin will make for the guest's streams.
    pub(super) fn watch(webrtc: &gst::Element) -> Self {
        let buffers = JitterBuffers::default();
        if let Some(rtpbin) = child_of_factory(webrtc, "rtpbin", false) {
            let kept = buffers.clone();
            rtpbin.connect("new-jitterbuffer", false, move |args| {
                if let (Ok(jb), Ok(ssrc)) = (args[1].get::<gst::Element>(), args[3].get::<u32>())
                    && let Ok(mut list) = kept.lock()
                {
                    list.push((jb.downgrade(), ssrc));
                }
                None
            });
        } else {
            tracing::warn!("webrtcbin has no rtpbin: a guest's repair figures stay empty");
        }
        Self { webrtc: webrtc.downgrade(), buffers }
    }

    /// The repair of the guest's streams of `media` ("video" or "audio") so far.
    pub(super) fn received(&self, media: &str) -> ReceiveRepair {
        let mut repair = ReceiveRepair::default();
        let Some(webrtc) = self.webrtc.upgrade() else { return repair };
        let sources = child_of_factory(&webrtc, "rtpbin", false).map(|b| source_stats(&b)).unwrap_or_default();
        let Ok(list) = self.buffers.lock() else { return repair };
        for (jb, ssrc) in list.iter().filter_map(|(jb, ssrc)| Some((jb.upgrade()?, *ssrc))) {
            let source = sources.iter().find(|s| s.get::<u32>("ssrc").ok() == Some(ssrc));
            if source.and_then(kind_of) != Some(media) {
                continue;
            }
            let stats = jb.property::<gst::Structure>("stats");
            let count = |name: &str| stats.get::<u64>(name).unwrap_or(0);
            repair.nacks_sent += count("rtx-count");
            repair.recovered += count("rtx-success-count");
            repair.unrepaired += count("num-lost");
            repair.lost += source.and_then(|s| s.get::<i32>("packets-lost").ok()).map_or(0, i64::from);
        }
        repair
    }

    /// Stops the guest's sound being asked for again. webrtcbin turns retransmission on for
    /// every jitter buffer of a BUNDLE'd session, but only the picture has RTX: each NACK for
    /// a lost Opus packet would go unanswered (the decoder conceals it instead).
    pub(super) fn keep_nacks_to_video(&self) {
        let Some(webrtc) = self.webrtc.upgrade() else { return };
        let Ok(list) = self.buffers.lock() else { return };
        let mut sources = None;
        for (jb, ssrc) in list.iter().filter_map(|(jb, ssrc)| Some((jb.upgrade()?, *ssrc))) {
            if !jb.property::<bool>("do-retransmission") {
                continue;
            }
            let sources = sources.get_or_insert_with(|| {
                child_of_factory(&webrtc, "rtpbin", false).map(|b| source_stats(&b)).unwrap_or_default()
            });
            let source = sources.iter().find(|s| s.get::<u32>("ssrc").ok() == Some(ssrc));
            if source.and_then(kind_of) == Some("audio") {
                jb.set_property("do-retransmission", false);
                tracing::debug!(ssrc, "a guest's sound is not asked for again (no RTX for audio)");
            }
        }
    }

    /// What the guest asked the box to resend of its picture, and what it resent.
    pub(super) fn sent(&self) -> SendRepair {
        let Some(rtx) = self.webrtc.upgrade().and_then(|w| child_of_factory(&w, "rtprtxsend", true)) else {
            return SendRepair::default();
        };
        SendRepair {
            nacks_received: u64::from(rtx.property::<u32>("num-rtx-requests")),
            resent: u64::from(rtx.property::<u32>("num-rtx-packets")),
        }
    }
}

/// The first element of `factory` in `bin` (at any depth if `deep`).
fn child_of_factory(bin: &gst::Element, factory: &str, deep: bool) -> Option<gst::Element> {
    let bin = bin.downcast_ref::<gst::Bin>()?;
    let children = if deep { bin.iterate_recurse() } else { bin.iterate_elements() };
    children.into_iter().flatten().find(|e| e.factory().is_some_and(|f| f.name() == factory))
}

/// Every source's statistics in the guest's session.
fn source_stats(rtpbin: &gst::Element) -> Vec<gst::Structure> {
    let Some(session) = rtpbin.emit_by_name::<Option<glib::Object>>("get-internal-session", &[&BUNDLE_SESSION]) else {
        return Vec::new();
    };
    let stats = session.property::<gst::Structure>("stats");
    let Ok(sources) = stats.get::<glib::ValueArray>("source-stats") else { return Vec::new() };
    sources.iter().filter_map(|v| v.get::<gst::Structure>().ok()).collect()
}

/// "video" or "audio": what a source sends, from its RTP clock (H.264 runs at 90 kHz, Opus at
/// 48 kHz); the jitter buffers' caps do not say.
fn kind_of(source: &gst::Structure) -> Option<&'static str> {
    match source.get::<i32>("clock-rate").ok()? {
        90_000 => Some("video"),
        48_000 => Some("audio"),
        _ => None,
    }
}
