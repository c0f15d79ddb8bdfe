//! Opus loss repair on one leg. Sending: in-band FEC, with the share of loss the place reports
//! as the encoder's expected loss (libopus spends bits on FEC only when it expects loss).
//! Receiving: packet-loss concealment always (the jitter buffer reports each lost packet), and
//! FEC decoding while the path loses packets. GStreamer 1.22's `opusdec` with
//! `use-inband-fec` holds every packet until the next one arrives (so a lost packet can be
//! rebuilt from its successor), a real delay of one packet, but reports 120 ms (the longest
//! Opus packet): that alone would put 110 ms on every picture and sound of the room. Its
//! latency answer is corrected to the packet duration actually received, and FEC decoding
//! runs only while there is loss to repair.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use gst::glib;
use gst::prelude::*;
use gstreamer as gst;

use super::MediaError;
use super::elements::make;

/// What `opusdec` reports while it decodes FEC.
const FEC_REPORTED: gst::ClockTime = gst::ClockTime::from_mseconds(120);
/// The packet duration assumed until one is seen (what most endpoints send).
const DEFAULT_PACKET: gst::ClockTime = gst::ClockTime::from_mseconds(20);

/// The share of loss the encoder expects, from the share the place reports (%), rounded up
/// so that any loss turns FEC on, and never above what libopus accepts.
pub fn expected_loss_percent(reported: Option<f64>) -> i32 {
    match reported {
        Some(share) if share.is_finite() && share > 0.0 => (share * 100.0).ceil().clamp(1.0, 100.0) as i32,
        _ => 0,
    }
}

/// The latency `opusdec` really adds with FEC on: one packet instead of [`FEC_REPORTED`].
pub fn corrected_latency(reported: gst::ClockTime, packet: gst::ClockTime) -> gst::ClockTime {
    reported.saturating_sub(FEC_REPORTED) + packet
}

pub(super) struct OpusRepair {
    encoder: glib::WeakRef<gst::Element>,
    decoder: glib::WeakRef<gst::Element>,
    fec_decoding: Arc<AtomicBool>,
}

impl OpusRepair {
    /// Complexity 7 rather than 5: with in-band FEC on and 10 ms frames it costs less CPU on
    /// a tone and on noise alike (0.76 / 1.44 s against 1.16 / 1.58 s of CPU for 2 minutes of
    /// audio here, gst-launch `opusenc`), and it is the better encoder.
    pub(super) fn encoder() -> Result<gst::Element, MediaError> {
        make(
            "opusenc",
            &[
                ("bitrate", "64000"),
                ("audio-type", "voice"),
                ("frame-size", "10"),
                ("complexity", "7"),
                ("inband-fec", "true"),
            ],
        )
    }

    /// A decoder that conceals lost packets and whose FEC latency is reported as it is.
    pub(super) fn decoder() -> Result<gst::Element, MediaError> {
        let decoder = make("opusdec", &[("plc", "true")])?;
        let packet = Arc::new(AtomicU64::new(DEFAULT_PACKET.nseconds()));
        if let Some(src) = decoder.static_pad("src") {
            let seen = packet.clone();
            src.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
                let duration = info.buffer().and_then(|b| b.duration()).filter(|d| !d.is_zero());
                if let Some(d) = duration
                    && seen.swap(d.nseconds(), Ordering::Relaxed) != d.nseconds()
                    && let Some(element) = pad.parent_element()
                {
                    // Packets of another duration: the room asks everyone's latency again.
                    let _ = element.post_message(gst::message::Latency::builder().src(&element).build());
                }
                gst::PadProbeReturn::Ok
            });
            src.add_probe(gst::PadProbeType::QUERY_UPSTREAM | gst::PadProbeType::PULL, move |pad, info| {
                let fec = pad.parent_element().is_some_and(|e| e.property::<bool>("use-inband-fec"));
                if let (true, Some(gst::PadProbeData::Query(query))) = (fec, &mut info.data)
                    && let gst::QueryViewMut::Latency(latency) = query.view_mut()
                {
                    let (live, min, max) = latency.result();
                    let packet = gst::ClockTime::from_nseconds(packet.load(Ordering::Relaxed));
                    let max = max.map(|m| corrected_latency(m, packet));
                    latency.set(live, corrected_latency(min, packet), max);
                }
                gst::PadProbeReturn::Ok
            });
        }
        Ok(decoder)
    }

    pub(super) fn new(encoder: &gst::Element, decoder: &gst::Element) -> Self {
        Self { encoder: encoder.downgrade(), decoder: decoder.downgrade(), fec_decoding: Arc::default() }
    }

    /// Follows the path: the loss the place reports of our sound, and whether ours loses.
    pub(super) fn update(&self, reported: Option<f64>, lossy_here: bool) {
        if let Some(encoder) = self.encoder.upgrade() {
            let expected = expected_loss_percent(reported);
            if encoder.property::<i32>("packet-loss-percentage") != expected {
                encoder.set_property("packet-loss-percentage", expected);
            }
        }
        if self.fec_decoding.swap(lossy_here, Ordering::Relaxed) != lossy_here
            && let Some(decoder) = self.decoder.upgrade()
        {
            tracing::debug!(fec = lossy_here, "Opus FEC decoding follows the loss");
            decoder.set_property("use-inband-fec", lossy_here);
            let _ = decoder.post_message(gst::message::Latency::builder().src(&decoder).build());
        }
    }

    /// Whether lost packets are being rebuilt from FEC now.
    pub(super) fn fec_decoding(&self) -> bool {
        self.fec_decoding.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_reported_loss_turns_fec_on_and_none_turns_it_off() {
        assert_eq!(expected_loss_percent(None), 0);
        assert_eq!(expected_loss_percent(Some(0.0)), 0);
        assert_eq!(expected_loss_percent(Some(0.004)), 1);
        assert_eq!(expected_loss_percent(Some(0.105)), 11);
        assert_eq!(expected_loss_percent(Some(3.0)), 100);
        assert_eq!(expected_loss_percent(Some(f64::NAN)), 0);
    }

    #[test]
    fn fec_costs_one_packet_not_the_reported_120_ms() {
        let ms = gst::ClockTime::from_mseconds;
        assert_eq!(corrected_latency(ms(120), ms(20)), ms(20));
        assert_eq!(corrected_latency(ms(125), ms(10)), ms(15), "what comes before the decoder stays");
    }

    #[test]
    fn the_decoder_reports_one_packet_of_latency_with_fec_on() {
        gst::init().unwrap();
        let decoder = OpusRepair::decoder().unwrap();
        decoder.set_property("use-inband-fec", true);
        let pipeline = gst::parse::launch(
            "audiotestsrc is-live=true samplesperbuffer=480 ! opusenc frame-size=10 name=enc ! fakesink name=end sync=true",
        )
        .unwrap()
        .downcast::<gst::Bin>()
        .unwrap();
        let (enc, end) = (pipeline.by_name("enc").unwrap(), pipeline.by_name("end").unwrap());
        enc.unlink(&end);
        pipeline.add(&decoder).unwrap();
        gst::Element::link_many([&enc, &decoder, &end]).unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let _ = pipeline.state(gst::ClockTime::from_seconds(5));
        std::thread::sleep(std::time::Duration::from_millis(300));
        let mut query = gst::query::Latency::new();
        assert!(end.static_pad("sink").unwrap().peer_query(&mut query), "the decoder answers");
        let (_, min, _) = query.result();
        pipeline.set_state(gst::State::Null).unwrap();
        assert!(min < gst::ClockTime::from_mseconds(100), "not opusdec's 120 ms: {min}");
        assert!(min >= gst::ClockTime::from_mseconds(10), "one 10 ms packet at least: {min}");
    }
}
