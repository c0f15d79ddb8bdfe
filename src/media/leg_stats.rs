//! The live figures of one leg and its upkeep: rate meters fed by pad probes, rtpbin's RTCP
//! statistics, the adaptive jitter buffers and the latency samples.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::glib;
use gst::prelude::*;
use gstreamer as gst;

use super::jitter::{JitterBounds, Lateness, RepairRoom, next_latency_ms, with_repair};
use super::latency::LatencyMeter;
use super::leg::{AUDIO, RtpLeg, VIDEO};
use super::leg_rate::TimedReport;
use super::repair::RtxElements;
use super::rtcp_blocks::ReportBlock;
use super::session_figures::{SessionFigures, read as read_session};
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
    pub(super) jitter_buffers: Mutex<Vec<WatchedBuffer>>,
    pub(super) video_latency: Arc<LatencyMeter>,
    pub(super) audio_latency: Arc<LatencyMeter>,
    /// When a packet (RTP or RTCP) last arrived.
    last_arrival: LastArrival,
    pub(super) rtx: Arc<RtxElements>,
    video_loss: CountWatch,
    audio_loss: CountWatch,
    /// Both sessions' figures (video, audio) as the last tick read them.
    pub(super) figures: Mutex<[SessionFigures; 2]>,
    /// How long the place's video takes to reach us: the queue on the way in (`transit.rs`).
    pub(super) video_transit: Mutex<super::transit::Transit>,
    /// The place's last report on our video, and when it arrived.
    pub(super) video_report: Mutex<Option<(ReportBlock, Instant)>>,
    /// The place's reports on our video since the last tick, with their round trips.
    video_reports: Mutex<Vec<TimedReport>>,
    /// The round trip of our video's reports, smoothed, and when the last report it took came.
    video_round_trip: Mutex<(super::round_trip::RoundTrip, Option<Instant>)>,
    /// The size of the place's picture as the decoder gives it out.
    pub(super) video_size: Mutex<Option<super::stats::PictureSize>>,
    /// Keyframe requests the place sent us (PLI/FIR).
    pub(super) keyframe_requests: std::sync::atomic::AtomicU64,
    /// Each session's SRTP decoder and the packets it dropped.
    pub(super) srtp: Arc<super::srtp::SrtpSessions>,
    /// Each socket's gate, and the strangers' packets it dropped.
    pub(super) gates: super::gate_probes::LegGates,
}

/// The most reports kept between two ticks (every 10 ms on a lossy path: 25 a tick).
const REPORTS_PER_TICK: usize = 64;

/// How long a path counts as lossy after its last lost packet, and a jitter buffer as too
/// short after its last late packet.
const RECENT: Duration = Duration::from_secs(10);

/// When a count (of lost or of late packets) last grew.
#[derive(Default)]
struct CountWatch(Mutex<(i64, Option<Instant>)>);

impl CountWatch {
    /// Whether the count grew since the last call, and whether it did within [`RECENT`].
    fn grew(&self, count: i64) -> (bool, bool) {
        let Ok(mut watch) = self.0.lock() else { return (false, false) };
        let now = count > watch.0;
        if now {
            *watch = (count, Some(Instant::now()));
        }
        (now, watch.1.is_some_and(|at| at.elapsed() < RECENT))
    }

    /// Whether packets were lost within [`RECENT`], given the count lost so far.
    fn lost_lately(&self, lost: i64) -> bool {
        self.grew(lost).1
    }
}

/// A receive jitter buffer of the leg, with its session, its late packets and (as the last
/// tick read them) the packets it gave up on.
pub(super) struct WatchedBuffer {
    session: u32,
    jb: glib::WeakRef<gst::Element>,
    late: CountWatch,
    lost: std::sync::atomic::AtomicU64,
}

impl WatchedBuffer {
    /// Reads the buffer's statistics once: keeps what it gave up on and says whether packets
    /// came after their time (rtpjitterbuffer drops them: `num-late`). Not for a buffer that
    /// asks for retransmissions (`retransmits`): there, a resent copy arriving after the
    /// original is counted late too, and the buffer would grow for nothing.
    fn read(&self, jb: &gst::Element, retransmits: bool) -> Lateness {
        let stats = jb.property::<gst::Structure>("stats");
        let count = |field: &str| stats.get::<u64>(field).unwrap_or(0);
        self.lost.store(count("num-lost"), std::sync::atomic::Ordering::Relaxed);
        if retransmits {
            return Lateness::None;
        }
        match self.late.grew(i64::try_from(count("num-late")).unwrap_or(i64::MAX)) {
            (true, _) => Lateness::Now,
            (false, true) => Lateness::Lately,
            (false, false) => Lateness::None,
        }
    }
}

/// When a packet last arrived: the leg's creation until one does.
struct LastArrival(Mutex<Instant>);

impl Default for LastArrival {
    fn default() -> Self {
        Self(Mutex::new(Instant::now()))
    }
}

impl LegMeters {
    /// Keeps the place's report on our video (SSRC `ssrc`) from an RTCP packet, if it has one.
    pub(super) fn rtcp_received(&self, packet: &[u8], ssrc: u32) {
        let Some(block) = super::rtcp_blocks::report_blocks(packet).into_iter().rfind(|b| b.ssrc == ssrc) else {
            return;
        };
        let now = Instant::now();
        let rtt_ms =
            super::rtcp_blocks::ntp_middle(std::time::SystemTime::now()).and_then(|at| block.round_trip_ms(at));
        if let Ok(mut report) = self.video_report.lock() {
            *report = Some((block, now));
        }
        if let Ok(mut reports) = self.video_reports.lock()
            && reports.len() < REPORTS_PER_TICK
        {
            reports.push(TimedReport { block, at: now, rtt_ms });
        }
    }

    /// A video RTP packet from the place (RTX too: it keeps the original's timestamp).
    pub(super) fn video_arrived(&self, packet: &[u8]) {
        let Some(ts) = packet.get(4..8).and_then(|b| <[u8; 4]>::try_from(b).ok()) else { return };
        if let Ok(mut transit) = self.video_transit.lock() {
            transit.record(Instant::now(), u32::from_be_bytes(ts));
        }
    }

    /// The smoothed round trip of our video, taking `rtt_ms` as a new sample when the report
    /// it came from (received at `report_at`) is one it has not taken yet.
    fn video_round_trip(&self, report_at: Option<Instant>, rtt_ms: Option<f64>) -> super::round_trip::RoundTrip {
        let Ok(mut kept) = self.video_round_trip.lock() else { return Default::default() };
        let (round_trip, taken) = &mut *kept;
        if let (Some(at), Some(rtt_ms)) = (report_at, rtt_ms)
            && *taken != Some(at)
        {
            round_trip.sample(rtt_ms);
            *taken = Some(at);
        }
        *round_trip
    }

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
        let (meters, negotiated) = (self.base.meters.clone(), self.negotiated.clone());
        self.rtpbin.connect("new-jitterbuffer", false, move |args| {
            if let (Ok(jb), Ok(session)) = (args[1].get::<gst::Element>(), args[2].get::<u32>()) {
                super::repair::configure_jitter_buffer(&jb, session, &negotiated);
                if session == AUDIO {
                    super::sound_first::mark_sound_jitter_buffer(&jb);
                }
                if let Ok(mut list) = meters.jitter_buffers.lock() {
                    list.push(WatchedBuffer {
                        session,
                        jb: jb.downgrade(),
                        late: CountWatch::default(),
                        lost: Default::default(),
                    });
                }
            }
            None
        });
    }

    /// Once per tick: reads both sessions' figures (kept for `status`), lets the video rate,
    /// feedback pace and Opus repair follow them, and sets each jitter buffer's latency from
    /// its session's measured jitter (see `jitter.rs`).
    pub(super) fn adapt_jitter_buffers(&self, bounds: JitterBounds) {
        let figures = [VIDEO, AUDIO].map(|s| read_session(&self.rtpbin, s, if s == VIDEO { 90000 } else { 48000 }));
        if let Ok(mut kept) = self.base.meters.figures.lock() {
            *kept = figures;
        }
        let [video, audio] = &figures;
        let report = self.base.meters.video_report.lock().ok().and_then(|r| *r);
        let (video_pps, video_kbps, _) = self.base.meters.video_tx.read();
        let packet_bits = (video_pps > 0.0).then(|| video_kbps * 1000.0 / video_pps);
        let incoming = self.base.meters.video_transit.lock().ok().and_then(|t| t.queue_ms(Instant::now()));
        let reports = self.base.meters.video_reports.lock().map(|mut r| std::mem::take(&mut *r)).unwrap_or_default();
        self.rate.on_reports(
            &reports,
            video.rtt_ms,
            (video_kbps, self.base.meters.audio_tx.read().1),
            packet_bits,
            incoming,
            Some(video.jitter_ms),
        );
        if let Some(opus) = &self.opus {
            opus.update(audio.loss_reported, self.base.meters.audio_loss.lost_lately(audio.lost));
        }
        // Video waits for retransmissions when the leg does them (see `jitter::with_repair`).
        let repaired = self.negotiated.video.as_ref().filter(|v| v.rtx_pt.is_some());
        let round_trip = self.base.meters.video_round_trip(report.map(|(_, at)| at), video.rtt_ms);
        let repair = match (repaired, round_trip.usual_ms(), round_trip.longest_ms()) {
            (Some(stream), Some(usual_rtt_ms), Some(longest_rtt_ms)) => {
                let recent_loss = self.base.meters.video_loss.lost_lately(video.lost);
                super::repair::pace_feedback(&self.rtpbin, stream, recent_loss, self.rate.target_kbps());
                let frame_interval_ms = self.frame_interval_ms;
                Some(RepairRoom { usual_rtt_ms, longest_rtt_ms, recent_loss, frame_interval_ms })
            }
            _ => None,
        };
        let video_bounds = repair.map_or(bounds, |room| with_repair(bounds, room));
        let buffers: Vec<(u32, gst::Element, Lateness)> = match self.base.meters.jitter_buffers.lock() {
            Ok(list) => list
                .iter()
                .filter_map(|w| {
                    let jb = w.jb.upgrade()?;
                    let late = w.read(&jb, w.session == VIDEO && repaired.is_some());
                    Some((w.session, jb, late))
                })
                .collect(),
            Err(_) => return,
        };
        let mut changed = false;
        for (session, jb, late) in buffers {
            let (f, bounds) = if session == VIDEO { (video, video_bounds) } else { (audio, bounds) };
            if let (VIDEO, Some(room)) = (session, repair) {
                super::repair::pace_retries(&jb, room.retry_ms());
            }
            let current = jb.property::<u32>("latency");
            let next = next_latency_ms(current, f.jitter_ms, late, bounds);
            if next != current {
                tracing::debug!(session, f.jitter_ms, ?late, from = current, to = next, "jitter buffer adapts");
                jb.set_property("latency", next);
                changed = true;
            }
        }
        if changed {
            // The room pipeline redistributes latency on the LATENCY message this posts.
            let _ = self.base.bin.post_message(gst::message::Latency::builder().src(&self.base.bin).build());
        }
    }

    /// The current latency of the jitter buffer of `session` (ms).
    fn jitter_buffer_ms(&self, session: u32) -> Option<u32> {
        let list = self.base.meters.jitter_buffers.lock().ok()?;
        let jb = list.iter().rev().find(|w| w.session == session)?.jb.upgrade()?;
        Some(jb.property::<u32>("latency"))
    }

    /// The packets the jitter buffers of `session` gave up on (after any repair), as the last
    /// tick read them.
    fn jitter_buffer_lost(&self, session: u32) -> u64 {
        let Ok(list) = self.base.meters.jitter_buffers.lock() else { return 0 };
        let buffers = list.iter().filter(|w| w.session == session && w.jb.upgrade().is_some());
        buffers.map(|w| w.lost.load(std::sync::atomic::Ordering::Relaxed)).sum()
    }

    /// The leg's own figures; the room adds what it owns (encoder, camera, mute).
    pub(super) fn leg_stats(&self) -> MediaStats {
        let encryption = |s: &Option<NegotiatedStream>| match s.as_ref().and_then(|s| s.srtp_suite()) {
            Some(suite) => format!("SRTP {}", suite.name()),
            None if s.is_some() => "none".to_owned(),
            None => String::new(),
        };
        let m = &self.base.meters;
        let codec = |s: &Option<NegotiatedStream>| s.as_ref().map(|s| s.codec.clone()).unwrap_or_default();
        // As the last tick read them (statistics are read once per tick, not per question).
        let [video, audio] = m.figures.lock().map(|f| *f).unwrap_or_default();
        let receive = |session: u32, f: &SessionFigures, decoded: &SharedMeter, rx: &SharedMeter| {
            let (decoded_per_s, _, decoded_total) = decoded.read();
            let (_, kbps, _) = rx.read();
            let stream = if session == VIDEO { &self.negotiated.video } else { &self.negotiated.audio };
            ReceiveStats {
                codec: codec(stream),
                decoded_per_s,
                decoded_total,
                kbps,
                packets_received: f.received,
                packets_lost: f.lost,
                jitter_ms: f.jitter_ms,
                jitter_buffer_ms: self.jitter_buffer_ms(session),
                nacks_sent: f.nacks_sent,
                keyframes_asked: f.keyframe_requests_sent,
                unrepaired: self.jitter_buffer_lost(session),
                encryption: encryption(stream),
                dropped_unauthenticated: m.srtp.dropped(session),
                dropped_foreign: m.gates.dropped(session),
                ..Default::default()
            }
        };
        let send = |f: &SessionFigures, tx: &SharedMeter, stream: &Option<NegotiatedStream>| {
            let (_, kbps, packets_sent) = tx.read();
            SendStats {
                codec: codec(stream),
                kbps,
                packets_sent,
                loss_reported_pct: f.loss_reported.map(|l| l * 100.0),
                rtt_ms: f.rtt_ms,
                nacks_received: f.nacks_received,
                ..Default::default()
            }
        };
        let rtx = m.rtx.counts();
        let mut audio_in = receive(AUDIO, &audio, &m.audio_decoded, &m.audio_rx);
        audio_in.level_db = m.level_db.lock().ok().and_then(|l| *l);
        audio_in.latency = m.audio_latency.summary();
        audio_in.fec_decoding = self.opus.as_ref().is_some_and(|o| o.fec_decoding());
        let mut video_in = receive(VIDEO, &video, &m.video_decoded, &m.video_rx);
        video_in.latency = m.video_latency.summary();
        video_in.picture = m.video_size.lock().ok().and_then(|s| *s);
        video_in.recovered = rtx.recovered;
        let mut video_out = send(&video, &m.video_tx, &self.negotiated.video);
        if let Some((report, _)) = m.video_report.lock().ok().and_then(|r| *r) {
            video_out.loss_reported_pct = Some(f64::from(report.fraction_lost) * 100.0 / 256.0);
        }
        video_out.resent = rtx.resent;
        if let Some((kbps, reason)) = self.rate.target().filter(|_| self.negotiated.video.is_some()) {
            (video_out.target_kbps, video_out.target_reason) = (Some(kbps), reason.to_string());
        }
        video_out.keyframe_requests = m.keyframe_requests.load(std::sync::atomic::Ordering::Relaxed);
        MediaStats {
            video_in,
            audio_in,
            video_out,
            audio_out: send(&audio, &m.audio_tx, &self.negotiated.audio),
            ..MediaStats::default()
        }
    }
}
