//! The room pipeline's bus: an error inside a leg's bin ends that leg (the core decides), an
//! error of the camera brings the slate, any other error fails the room's media; warnings are
//! logged, latency changes are redistributed, and QR readings feed the latency meter. Runs on
//! streaming threads, so it only sends events.

use gst::prelude::*;
use gstreamer as gst;
use tokio::sync::mpsc::UnboundedSender;

use super::MediaEvent;
use super::measure::on_barcode;
use super::room::RoomMedia;
use super::sound_first::on_stream_status;
use super::source::is_in_video_source;
use crate::meeting::LegId;

/// The leg whose bin (`leg-N`) holds `object`, if any.
fn leg_of(object: &gst::Object) -> Option<LegId> {
    std::iter::successors(Some(object.clone()), |o| o.parent())
        .find_map(|o| o.name().strip_prefix("leg-").and_then(|n| n.parse().ok()).map(LegId))
}

/// An element's message with any SRTP key in it blanked: `srtpenc` carries its key in caps
/// (`srtp-key=(buffer)…`), and an SDP body carries `inline:…`; neither may reach a log.
pub(super) fn redact_keys(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = ["srtp-key=(buffer)", "inline:"].iter().filter_map(|m| Some((rest.find(m)?, m.len()))).min() {
        let (start, len) = at;
        out.push_str(&rest[..start + len]);
        out.push_str("<redacted>");
        rest = &rest[start + len..];
        let secret = rest.find(|c: char| !(c.is_ascii_alphanumeric() || "+/=".contains(c))).unwrap_or(rest.len());
        rest = &rest[secret..];
    }
    out + rest
}

pub(super) fn watch_bus(room: &RoomMedia, events: UnboundedSender<MediaEvent>) {
    let Some(bus) = room.pipeline.bus() else { return };
    let meters = room.meters.clone();
    // Read once: the handler runs on streaming threads and must not wait for the source lock,
    // which is held while a failed camera's thread is being stopped.
    let has_camera = room.source.lock().is_ok_and(|v| v.has_camera());
    bus.set_sync_handler(move |_, msg| {
        match msg.view() {
            gst::MessageView::Error(e) if has_camera && msg.src().is_some_and(is_in_video_source) => {
                let _ = events.send(MediaEvent::CameraLost { reason: e.error().to_string() });
            }
            gst::MessageView::Error(e) => {
                let source = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
                let reason = redact_keys(&format!("{source}: {}", e.error()));
                if let Ok(mut last) = meters.last_error.lock() {
                    last.get_or_insert(reason.clone());
                }
                let leg = msg.src().and_then(leg_of);
                let _ = events.send(MediaEvent::Failed { leg, reason });
            }
            gst::MessageView::Warning(w) => {
                let leg = msg.src().and_then(leg_of).map(|l| l.to_string()).unwrap_or_default();
                tracing::warn!(leg, "media warning: {}", redact_keys(&w.error().to_string()));
            }
            gst::MessageView::StreamStatus(status) => on_stream_status(status),
            gst::MessageView::Latency(_) => {
                let _ = events.send(MediaEvent::LatencyChanged);
            }
            gst::MessageView::Element(e) => {
                let arrivals = meters.qr_arrivals.lock().ok().and_then(|a| a.clone()).unwrap_or_default();
                if let Some(s) = e.structure().filter(|s| s.name() == "barcode") {
                    on_barcode(&meters.render, &arrivals, s, &meters.glass_to_glass, &meters.qr_shown_at);
                }
            }
            _ => {}
        }
        gst::BusSyncReply::Drop
    });
}

#[cfg(test)]
mod tests {
    use super::redact_keys;

    #[test]
    fn keys_in_caps_and_sdp_are_blanked_and_the_rest_is_kept() {
        let caps = "udpsink0: application/x-srtp, srtp-key=(buffer)0a1b2c3d4e, srtp-cipher=(string)aes-128-icm";
        assert_eq!(
            redact_keys(caps),
            "udpsink0: application/x-srtp, srtp-key=(buffer)<redacted>, srtp-cipher=(string)aes-128-icm"
        );
        let sdp = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20";
        assert_eq!(redact_keys(sdp), "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:<redacted>|2^20");
        assert_eq!(redact_keys("no keys here"), "no keys here");
    }
}
