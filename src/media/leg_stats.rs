//! The live figures of one leg and its upkeep: rate meters fed by pad probes, rtpbin's RTCP
//! statistics, the adaptive jitter buffers and the latency samples.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::glib;
use gst::prelude::*;
use gstreamer as gst;

use super::jitter::{JitterBounds, next_latency_ms};
use super::latency::LatencyMeter;
use super::leg::{AUDIO, RtpLeg, VIDEO};
use super::stats::{MediaStats, ReceiveStats, SendStats, SharedMeter};
use crate::sdp::NegotiatedStream;

/// Counters the streaming threads write and `status` reads.
#[derive(Default)]
pub(super) struct LegMeters {
    pub(super) video_decoded: SharedMeter,
    pub(super) video_rx: SharedMeter,
    pub(super) audio_decoded: SharedMeter,
    pub(super) audio_rx: SharedMeter,
    pub(super) video_tx: SharedMeter,
    pub(super) audio_tx: SharedMeter,
    pub(super) level_db: Mutex<Option<f64>>,
    /// Each receive jitter buffer with its rtpbin session.
    pub(super) jitter_buffers: Mutex<Vec<(u32, glib::WeakRef<gst::Element>)>>,
    pub(super) video_latency: Arc<LatencyMeter>,
    pub(super) audio_latency: Arc<LatencyMeter>,
    /// When a packet (RTP or RTCP) last arrived.
    last_arrival: LastArrival,
}

/// When a packet last arrived: the leg's creation until one does.
struct LastArrival(Mutex<Instant>);

impl Default for LastArrival {
    fn default() -> Self {
        Self(Mutex::new(Instant::now()))
    }
}

impl LegMeters {
    pub(super) fn arrived(&self) {
        if let Ok(mut last) = self.last_arrival.0.lock() {
            *last = Instant::now();
        }
    }

    /// How long nothing has arrived (since the leg was made, if nothing ever did).
    pub(super) fn idle(&self) -> Duration {
        self.last_arrival.0.lock().map(|last| last.elapsed()).unwrap_or_default()
    }

    /// The RTP byte meter of a session, received or sent.
    pub(super) fn rtp(&self, session: u32, sent: bool) -> &SharedMeter {
        match (session == VIDEO, sent) {
            (true, false) => &self.video_rx,
            (true, true) => &self.video_tx,
            (false, false) => &self.audio_rx,
            (false, true) => &self.audio_tx,
        }
    }
}

impl RtpLeg {
    pub(super) fn track_jitter_buffers(&self) {
        let meters = self.meters.clone();
        self.rtpbin.connect("new-jitterbuffer", false, move |args| {
            if let (Ok(jb), Ok(session)) = (args[1].get::<gst::Element>(), args[2].get::<u32>())
                && let Ok(mut list) = meters.jitter_buffers.lock()
            {
                list.push((session, jb.downgrade()));
            }
            None
        });
    }

    /// Sets each jitter buffer's latency from its session's measured jitter (see `jitter.rs`).
    pub(super) fn adapt_jitter_buffers(&self, bounds: JitterBounds) {
        let buffers: Vec<(u32, gst::Element)> = match self.meters.jitter_buffers.lock() {
            Ok(list) => list.iter().filter_map(|(s, w)| Some((*s, w.upgrade()?))).collect(),
            Err(_) => return,
        };
        let mut changed = false;
        for (session, jb) in buffers {
            let clock_rate = if session == VIDEO { 90000 } else { 48000 };
            let (_, _, jitter_ms) = self.session_stats(session, clock_rate);
            let current = jb.property::<u32>("latency");
            let next = next_latency_ms(current, jitter_ms, bounds);
            if next != current {
                tracing::debug!(session, jitter_ms, from = current, to = next, "jitter buffer adapts");
                jb.set_property("latency", next);
                changed = true;
            }
        }
        if changed {
            // The room pipeline redistributes latency on the LATENCY message this posts.
            let _ = self.bin.post_message(gst::message::Latency::builder().src(&self.bin).build());
        }
    }

    /// The current latency of the jitter buffer of `session` (ms).
    fn jitter_buffer_ms(&self, session: u32) -> Option<u32> {
        let list = self.meters.jitter_buffers.lock().ok()?;
        let jb = list.iter().rev().find(|(s, _)| *s == session)?.1.upgrade()?;
        Some(jb.property::<u32>("latency"))
    }

    /// The leg's own figures; the room adds what it owns (encoder, camera, mute).
    pub(super) fn leg_stats(&self) -> MediaStats {
        let m = &self.meters;
        let codec = |s: &Option<NegotiatedStream>| s.as_ref().map(|s| s.codec.clone()).unwrap_or_default();
        let receive = |session: u32, decoded: &SharedMeter, rx: &SharedMeter, stream: &Option<NegotiatedStream>| {
            let (decoded_per_s, _, decoded_total) = decoded.read();
            let (_, kbps, _) = rx.read();
            let clock_rate = if session == VIDEO { 90000 } else { 48000 };
            let (packets_received, packets_lost, jitter_ms) = self.session_stats(session, clock_rate);
            ReceiveStats {
                codec: codec(stream),
                decoded_per_s,
                decoded_total,
                kbps,
                packets_received,
                packets_lost,
                jitter_ms,
                ..Default::default()
            }
        };
        let send = |tx: &SharedMeter, stream: &Option<NegotiatedStream>| {
            let (_, kbps, packets_sent) = tx.read();
            SendStats { codec: codec(stream), kbps, packets_sent }
        };
        let mut audio_in = receive(AUDIO, &m.audio_decoded, &m.audio_rx, &self.negotiated.audio);
        audio_in.level_db = m.level_db.lock().ok().and_then(|l| *l);
        audio_in.latency = m.audio_latency.summary();
        audio_in.jitter_buffer_ms = self.jitter_buffer_ms(AUDIO);
        let mut video_in = receive(VIDEO, &m.video_decoded, &m.video_rx, &self.negotiated.video);
        video_in.latency = m.video_latency.summary();
        video_in.jitter_buffer_ms = self.jitter_buffer_ms(VIDEO);
        MediaStats {
            video_in,
            audio_in,
            video_out: send(&m.video_tx, &self.negotiated.video),
            audio_out: send(&m.audio_tx, &self.negotiated.audio),
            ..MediaStats::default()
        }
    }

    /// Packets received, lost and jitter (ms) of the remote sender(s) in one rtpbin session.
    fn session_stats(&self, session: u32, clock_rate: u32) -> (u64, i64, f64) {
        let Some(sess) = self.rtpbin.emit_by_name::<Option<glib::Object>>("get-internal-session", &[&session]) else {
            return (0, 0, 0.0);
        };
        let stats = sess.property::<gst::Structure>("stats");
        let Ok(sources) = stats.get::<glib::ValueArray>("source-stats") else {
            return (0, 0, 0.0);
        };
        let mut totals = (0u64, 0i64, 0.0f64);
        for source in sources.iter().filter_map(|v| v.get::<gst::Structure>().ok()) {
            if source.get::<bool>("internal").unwrap_or(true) || !source.get::<bool>("is-sender").unwrap_or(false) {
                continue;
            }
            totals.0 += source.get::<u64>("packets-received").unwrap_or(0);
            totals.1 += source.get::<i32>("packets-lost").map(i64::from).unwrap_or(0);
            let jitter = f64::from(source.get::<u32>("jitter").unwrap_or(0)) * 1000.0 / f64::from(clock_rate);
            totals.2 = totals.2.max(jitter);
        }
        totals
    }
}
