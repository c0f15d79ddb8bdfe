//! Loss repair on one RTP leg, as the SDP negotiated it (`sdp::feedback`): the AVPF profile so
//! feedback goes out at once; NACK + RTX (`rtprtxsend` / `rtprtxreceive` as rtpbin's auxiliary
//! elements, retransmission requests from the video jitter buffer); keyframe requests from the
//! depayloader when the picture broke (PLI / FIR, rtpsession sends what the caps allow); and
//! for Opus, lost-packet events from the audio jitter buffer so the decoder conceals them.

use std::sync::Mutex;
use std::time::Duration;

use gst::glib;
use gst::prelude::*;
use gstreamer as gst;

use super::MediaError;
use super::elements::{ghost, make, pad};
use super::leg::{AUDIO, VIDEO};
use crate::sdp::{Negotiated, NegotiatedStream};

/// The RTX elements of a leg, for their counters.
#[derive(Default)]
pub(super) struct RtxElements {
    send: Mutex<Option<glib::WeakRef<gst::Element>>>,
    receive: Mutex<Option<glib::WeakRef<gst::Element>>>,
}

/// What retransmission did on a leg so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct RtxCounts {
    /// Packets the place asked us to resend, and how many we did.
    pub requested_of_us: u64,
    pub resent: u64,
    /// Packets we asked the place to resend, and how many came back in time to be used.
    pub requested: u64,
    pub recovered: u64,
}

impl RtxElements {
    pub(super) fn counts(&self) -> RtxCounts {
        let read = |slot: &Mutex<Option<glib::WeakRef<gst::Element>>>, name: &str| {
            slot.lock()
                .ok()
                .and_then(|s| s.as_ref()?.upgrade())
                .map(|e| u64::from(e.property::<u32>(name)))
                .unwrap_or(0)
        };
        RtxCounts {
            requested_of_us: read(&self.send, "num-rtx-requests"),
            resent: read(&self.send, "num-rtx-packets"),
            requested: read(&self.receive, "num-rtx-requests"),
            recovered: read(&self.receive, "num-rtx-assoc-packets"),
        }
    }
}

/// The caps of the RTP a session receives, with the feedback rtpsession may send for it.
pub(super) fn receive_caps(session: u32, stream: &NegotiatedStream) -> Result<gst::Caps, MediaError> {
    let (media, clock_rate, encoding) =
        if session == VIDEO { ("video", 90000, "H264") } else { ("audio", 48000, "OPUS") };
    // srtpdec takes application/x-srtp and hands on application/x-rtp with the same fields.
    let name = if stream.srtp.is_some() { "application/x-srtp" } else { "application/x-rtp" };
    let mut caps = gst::Caps::builder(name)
        .field("media", media)
        .field("clock-rate", clock_rate)
        .field("encoding-name", encoding)
        .field("payload", i32::from(stream.pt));
    let fb = stream.feedback;
    for (on, field) in [(fb.nack, "rtcp-fb-nack"), (fb.pli, "rtcp-fb-nack-pli"), (fb.fir, "rtcp-fb-ccm-fir")] {
        if on {
            caps = caps.field(field, true);
        }
    }
    Ok(caps.build())
}

fn rtx_caps(stream: &NegotiatedStream, rtx_pt: u8) -> gst::Caps {
    gst::Caps::builder("application/x-rtp")
        .field("media", "video")
        .field("clock-rate", 90000)
        .field("encoding-name", "RTX")
        .field("payload", i32::from(rtx_pt))
        .field("apt", stream.pt.to_string())
        .build()
}

/// Sets rtpbin up for the repair `negotiated` allows; before any of its pads are requested.
/// A packet is resent only while it is younger than `history_ms`, the longest a place's
/// jitter buffer waits for it (ours at most: the place is taken to wait as long as we do).
pub(super) fn install(
    rtpbin: &gst::Element,
    negotiated: &Negotiated,
    rtx: &std::sync::Arc<RtxElements>,
    history_ms: u32,
) {
    let video = negotiated.video.clone();
    let fb = video.as_ref().map(|v| v.feedback).unwrap_or_default();
    if fb.nack || fb.pli || fb.fir {
        // AVPF timing lets a NACK or PLI leave at once instead of with the next report.
        rtpbin.set_property_from_str("rtp-profile", "avpf");
    }
    let streams = [(VIDEO, negotiated.video.clone()), (AUDIO, negotiated.audio.clone())];
    // Signals with a return value must always get one (a `None` of their type).
    rtpbin.connect("request-pt-map", false, move |args| {
        let caps = (|| {
            let (session, pt) = (args[1].get::<u32>().ok()?, args[2].get::<u32>().ok()?);
            let stream = streams.iter().find(|(s, _)| *s == session)?.1.as_ref()?;
            match stream.rtx_pt {
                Some(rtx) if u32::from(rtx) == pt => Some(rtx_caps(stream, rtx)),
                _ if u32::from(stream.pt) == pt => receive_caps(session, stream).ok(),
                _ => None,
            }
        })();
        Some(caps.to_value())
    });
    let Some((video, rtx_pt)) = video.and_then(|v| Some((v.pt, v.rtx_pt?))) else { return };
    type Slot = fn(&RtxElements) -> &Mutex<Option<glib::WeakRef<gst::Element>>>;
    let sides: [(&str, &str, Slot); 2] =
        [("request-aux-sender", "rtprtxsend", |r| &r.send), ("request-aux-receiver", "rtprtxreceive", |r| &r.receive)];
    for (signal, factory, slot) in sides {
        let keep = rtx.clone();
        rtpbin.connect(signal, false, move |args| {
            let element = args[1].get::<u32>().ok().filter(|s| *s == VIDEO).and_then(|session| {
                // Both elements' maps go the same way: original payload type to RTX.
                let map =
                    gst::Structure::builder("application/x-rtp-pt-map").field(video.to_string(), u32::from(rtx_pt));
                let made = rtx_element(factory, session, map.build(), slot(&keep), history_ms);
                made.map_err(|e| tracing::warn!(factory, error = %e, "no retransmission element")).ok()
            });
            Some(element.to_value())
        });
    }
}

/// An RTX element in a bin with the pads rtpbin looks for (`sink_N`, `src_N`).
fn rtx_element(
    factory: &str,
    session: u32,
    map: gst::Structure,
    keep: &Mutex<Option<glib::WeakRef<gst::Element>>>,
    history_ms: u32,
) -> Result<gst::Element, MediaError> {
    let rtx = make(factory, &[])?;
    rtx.set_property("payload-type-map", &map);
    if factory == "rtprtxsend" {
        // No older packets: a copy the place can no longer wait for would only fill the path
        // (at a thin link's full queue the round trip is 400 ms, and every resent packet went
        // into that queue while the rate came down).
        rtx.set_property("max-size-time", history_ms.max(MIN_HISTORY_MS));
        rtx.set_property("max-size-packets", 0u32);
    }
    let bin = gst::Bin::new();
    bin.add(&rtx).map_err(|e| MediaError::Internal(e.to_string()))?;
    ghost(&bin, &pad(&rtx, "sink")?, &format!("sink_{session}"))?;
    ghost(&bin, &pad(&rtx, "src")?, &format!("src_{session}"))?;
    if let Ok(mut slot) = keep.lock() {
        *slot = Some(rtx.downgrade());
    }
    Ok(bin.upcast())
}

/// The shortest history kept for resending (ms): a place whose buffer is set lower may wait
/// longer than it says (a browser's grows by itself).
const MIN_HISTORY_MS: u32 = 100;

/// How often a video session with feedback sends regular RTCP. AVPF allows one early packet
/// between two regular ones: with the default 5 s a second loss would wait seconds for its
/// NACK. While the path loses packets, RTCP goes often (a NACK waits at most that long), but
/// within [`RTCP_SHARE`] of what the path carries: every 10 ms on a thin link was 100 kbit/s
/// of reports, and at a 500 kbit/s cap that filled its queue. On a clean path at most ten a
/// second: the round trip in them is how rate adaptation sees a queue forming, and once a
/// second it saw it too late.
const LOSSY_RTCP_INTERVAL: Duration = Duration::from_millis(10);
const CLEAN_RTCP_INTERVAL: Duration = Duration::from_millis(100);
const LONGEST_RTCP_INTERVAL: Duration = Duration::from_millis(1000);
/// The share of the path's rate regular reports may take, and a report's size with its
/// feedback as SRTCP (measured ≈ 170 bytes, plus IP and UDP headers).
const RTCP_SHARE: f64 = 0.05;
const REPORT_BITS: f64 = 1600.0;

/// The regular RTCP interval for a path carrying `target_kbps`, and losing packets or not.
pub(super) fn rtcp_interval(target_kbps: u32, lossy: bool) -> Duration {
    let seconds = REPORT_BITS / (RTCP_SHARE * f64::from(target_kbps.max(1)) * 1000.0);
    let shortest = if lossy { LOSSY_RTCP_INTERVAL } else { CLEAN_RTCP_INTERVAL };
    Duration::from_secs_f64(seconds).clamp(shortest, LONGEST_RTCP_INTERVAL)
}

/// Sets how often the video session reports, from whether the path loses packets now and
/// what it carries (kbit/s).
pub(super) fn pace_feedback(rtpbin: &gst::Element, stream: &NegotiatedStream, lossy: bool, target_kbps: u32) {
    let fb = stream.feedback;
    if !(fb.nack || fb.pli || fb.fir) {
        return;
    }
    let interval = rtcp_interval(target_kbps, lossy);
    if let Some(internal) = rtpbin.emit_by_name::<Option<glib::Object>>("get-internal-session", &[&VIDEO]) {
        let nanos = interval.as_nanos() as u64;
        if internal.property::<u64>("rtcp-min-interval") != nanos {
            internal.set_property("rtcp-min-interval", nanos);
            // The reports' share of the bandwidth must allow that pace too.
            internal.set_property("rtcp-fraction", if lossy { 0.1f64 } else { 0.05f64 });
        }
    }
}

/// A new jitter buffer: video asks for retransmissions when RTX was agreed; audio reports lost
/// packets so the Opus decoder conceals them.
pub(super) fn configure_jitter_buffer(jb: &gst::Element, session: u32, negotiated: &Negotiated) {
    if session == VIDEO && negotiated.video.as_ref().is_some_and(|v| v.rtx_pt.is_some()) {
        jb.set_property("do-retransmission", true);
        // Only a gap (a later packet came) is asked for, never a packet merely not here yet:
        // on a bursty path or a busy receiver, guessing when the next one is due asks for
        // packets on their way, and declaring them lost breaks the picture they belong to.
        jb.set_property("rtx-next-seqnum", false);
        // A gap is asked for when it is seen, without waiting for more packets to overtake
        // it: on a path with jitter some requests are for reordered packets and their copies
        // are wasted, but a lost one is asked for a frame sooner. Asked again after
        // `rtx-retry-timeout` (see `pace_retries`).
        jb.set_property("rtx-delay-reorder", 0i32);
    }
    jb.set_property("do-lost", true);
}

/// Counts the keyframe requests (PLI/FIR, as rtpsession passes them upstream) that reach the
/// leg's payloader on their way to the room's encoder.
pub(super) fn count_keyframe_requests(payloader: &gst::Element, meters: std::sync::Arc<super::leg_stats::LegMeters>) {
    if let Some(src) = payloader.static_pad("src") {
        src.add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
            if info.event().is_some_and(|e| gstreamer_video::UpstreamForceKeyUnitEvent::parse(e).is_ok()) {
                meters.keyframe_requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            gst::PadProbeReturn::Ok
        });
    }
}

/// How long a video jitter buffer waits for a retransmission before asking again
/// (`RepairRoom::retry_ms`): GStreamer's own estimate starts at 40 ms, two or three tries'
/// worth of a LAN's buffer. A lost request or a lost copy is then asked for again in time.
/// A gap is asked for as soon as it is seen (`rtx-delay` applies only to a packet merely due,
/// which the buffer does not ask for).
pub(super) fn pace_retries(jb: &gst::Element, retry_ms: f64) {
    let timeout = retry_ms.clamp(1.0, 1000.0).ceil() as i32;
    if jb.property::<i32>("rtx-retry-timeout") != timeout {
        jb.set_property("rtx-retry-timeout", timeout);
        jb.set_property("rtx-min-retry-timeout", timeout);
    }
}

/// The depayloader asks for a keyframe when the picture broke, if the place can be asked. It
/// still passes what it has on: a decoder conceals a damaged frame, and a room starved of CPU
/// (its packets late, so counted lost) keeps a moving picture instead of a frozen one.
///
/// It also asks when the packets reaching it skip sequence numbers: the jitter buffer asks
/// again only for gaps it sees (not for packets merely due), and a gap it gave up on, or one
/// as long as an outage, may reach the depayloader without a lost-packet event.
pub(super) fn configure_depayloader(depay: &gst::Element, stream: &NegotiatedStream) {
    if !(stream.feedback.pli || stream.feedback.fir) {
        return;
    }
    depay.set_property("request-keyframe", true);
    let Some(sink) = depay.static_pad("sink") else { return };
    let last = Mutex::new(None::<u16>);
    sink.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let seq = info.buffer().and_then(|b| b.map_readable().ok().and_then(|m| rtp_sequence(&m)));
        let gap = match (seq, last.lock()) {
            (Some(seq), Ok(mut last)) => breaks_sequence(last.replace(seq), seq),
            _ => false,
        };
        if gap {
            let _ = pad.push_event(super::encoder_control::keyframe_request());
        }
        gst::PadProbeReturn::Ok
    });
}

/// The sequence number of an RTP packet (RFC 3550: version 2, 12-byte header at least).
fn rtp_sequence(packet: &[u8]) -> Option<u16> {
    (packet.len() >= 12 && packet[0] >> 6 == 2).then(|| u16::from_be_bytes([packet[2], packet[3]]))
}

/// Whether `seq` does not follow the packet before it (sequence numbers wrap at 65535).
fn breaks_sequence(previous: Option<u16>, seq: u16) -> bool {
    previous.is_some_and(|p| seq != p.wrapping_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_take_a_twentieth_of_what_the_path_carries() {
        assert_eq!(rtcp_interval(2000, true), Duration::from_millis(16));
        assert_eq!(rtcp_interval(200, true), Duration::from_millis(160), "a thin link: about 6 a second");
        assert_eq!(rtcp_interval(20000, true), LOSSY_RTCP_INTERVAL, "never more often than every 10 ms");
        assert_eq!(rtcp_interval(0, true), LONGEST_RTCP_INTERVAL, "and at least one a second");
        assert_eq!(rtcp_interval(2000, false), CLEAN_RTCP_INTERVAL, "a clean path: ten a second at most");
        assert_eq!(rtcp_interval(200, false), Duration::from_millis(160));
    }

    #[test]
    fn a_skipped_sequence_number_is_a_gap_and_the_wrap_is_not() {
        assert!(!breaks_sequence(None, 7), "the first packet");
        assert!(!breaks_sequence(Some(7), 8));
        assert!(!breaks_sequence(Some(65535), 0), "the wrap");
        assert!(breaks_sequence(Some(7), 9));
        assert!(breaks_sequence(Some(7), 7), "a repeat");
    }

    #[test]
    fn only_rtp_version_2_packets_have_a_sequence_number() {
        let mut packet = [0u8; 12];
        packet[0] = 0x80;
        packet[2..4].copy_from_slice(&513u16.to_be_bytes());
        assert_eq!(rtp_sequence(&packet), Some(513));
        assert_eq!(rtp_sequence(&packet[..11]), None, "too short");
        packet[0] = 0x40;
        assert_eq!(rtp_sequence(&packet), None, "version 1");
    }
}
