//! What one rtpbin session knows of a leg, read from its statistics: how the place's stream
//! arrives (received, lost, jitter), what the place reports of ours (loss, round trip), and
//! the feedback each way (NACKs, PLI/FIR keyframe requests sent; rtpsession does not keep the
//! count of those received, the leg counts them at its payloader).

use gst::glib;
use gst::prelude::*;
use gstreamer as gst;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct SessionFigures {
    pub received: u64,
    /// Packets that never arrived from the network (before any repair).
    pub lost: i64,
    pub jitter_ms: f64,
    /// The round trip from the place's last receiver report, if there was one.
    pub rtt_ms: Option<f64>,
    /// The share of our packets the place reports lost since its previous report (0–1), from
    /// the last report block it sent (about any of our streams, retransmissions included).
    pub loss_reported: Option<f64>,
    pub nacks_sent: u64,
    pub nacks_received: u64,
    pub keyframe_requests_sent: u64,
}

/// The figures of `session` (whose RTP clock runs at `clock_rate`).
pub(super) fn read(rtpbin: &gst::Element, session: u32, clock_rate: u32) -> SessionFigures {
    let mut f = SessionFigures::default();
    let Some(sess) = rtpbin.emit_by_name::<Option<glib::Object>>("get-internal-session", &[&session]) else {
        return f;
    };
    let stats = sess.property::<gst::Structure>("stats");
    let Ok(sources) = stats.get::<glib::ValueArray>("source-stats") else {
        return f;
    };
    let count = |s: &gst::StructureRef, name: &str| u64::from(s.get::<u32>(name).unwrap_or(0));
    let mut main_received = 0;
    for source in sources.iter().filter_map(|v| v.get::<gst::Structure>().ok()) {
        f.nacks_sent += count(&source, "sent-nack-count");
        f.nacks_received += count(&source, "recv-nack-count");
        f.keyframe_requests_sent += count(&source, "sent-pli-count") + count(&source, "sent-fir-count");
        if source.get::<bool>("internal").unwrap_or(true) {
            continue;
        }
        if source.get::<bool>("have-rb").unwrap_or(false) {
            let rtt = f64::from(source.get::<u32>("rb-round-trip").unwrap_or(0)) * 1000.0 / 65536.0;
            f.rtt_ms = Some(f.rtt_ms.map_or(rtt, |r: f64| r.max(rtt)));
            let lost = f64::from(source.get::<u32>("rb-fractionlost").unwrap_or(0)) / 256.0;
            f.loss_reported = Some(f.loss_reported.map_or(lost, |l: f64| l.max(lost)));
        }
        // The place's media stream is the sender heard most; its retransmission stream (RTX,
        // an SSRC of its own) is not counted as a second one.
        let received = source.get::<u64>("packets-received").unwrap_or(0);
        if source.get::<bool>("is-sender").unwrap_or(false) && received >= main_received {
            main_received = received;
            f.received = received;
            f.lost = source.get::<i32>("packets-lost").map(i64::from).unwrap_or(0);
            f.jitter_ms = f64::from(source.get::<u32>("jitter").unwrap_or(0)) * 1000.0 / f64::from(clock_rate);
        }
    }
    f
}
