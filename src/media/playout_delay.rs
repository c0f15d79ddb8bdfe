//! The playout-delay RTP header extension on the picture a browser guest receives
//! (`http://www.webrtc.org/experiments/rtp-hdrext/playout-delay`, which Chromium offers): it
//! tells the browser how long it may hold frames before showing them. The room sends
//! "0 to [`MAX_DELAY_MS`]": a room on the LAN wants its picture shown as soon as it is whole
//! (the browser still waits for a frame's lost packets to be resent), not smoothed behind an
//! adaptive delay. GStreamer 1.22 has no element for it; this is one, added to the leg's
//! payloader, which writes it into every packet once webrtcbin has agreed its id.

use gst::glib;
use gstreamer as gst;
use gstreamer_rtp as gst_rtp;
use gstreamer_rtp::prelude::*;
use gstreamer_rtp::subclass::prelude::*;

/// The extension's name in SDP (`a=extmap:<id> <URI>`).
pub const URI: &str = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay";
/// The ids the room writes it under: one-byte header ids (RFC 8285), as `supported_flags` says.
pub const IDS: std::ops::RangeInclusive<u8> = 1..=14;
/// The most the browser may hold a frame for smoothing, in ms (the extension counts in 10 ms).
const MAX_DELAY_MS: u16 = 0;

/// The extension's 3 bytes: a 12-bit minimum and a 12-bit maximum delay, in 10 ms units.
const fn encode(min_ms: u16, max_ms: u16) -> [u8; 3] {
    const fn units(ms: u16) -> u16 {
        if ms / 10 > 0xfff { 0xfff } else { ms / 10 }
    }
    let (min, max) = (units(min_ms), units(max_ms));
    [(min >> 4) as u8, (((min & 0xf) << 4) | (max >> 8)) as u8, (max & 0xff) as u8]
}

/// What every packet of the picture carries: shown from 0 to [`MAX_DELAY_MS`].
const PAYLOAD: [u8; 3] = encode(0, MAX_DELAY_MS);

mod imp {
    use super::*;

    #[derive(Default)]
    pub struct PlayoutDelay;

    #[glib::object_subclass]
    impl ObjectSubclass for PlayoutDelay {
        const NAME: &'static str = "RoomboxPlayoutDelay";
        type Type = super::PlayoutDelay;
        type ParentType = gst_rtp::RTPHeaderExtension;
    }

    impl ObjectImpl for PlayoutDelay {}
    impl GstObjectImpl for PlayoutDelay {}
    impl ElementImpl for PlayoutDelay {}

    impl RTPHeaderExtensionImpl for PlayoutDelay {
        const URI: &'static str = super::URI;

        // The offer's id is taken only among `IDS`, the one-byte range (`webrtc_offer.rs`).
        fn supported_flags(&self) -> gst_rtp::RTPHeaderExtensionFlags {
            gst_rtp::RTPHeaderExtensionFlags::ONE_BYTE
        }

        fn max_size(&self, _input: &gst::BufferRef) -> usize {
            PAYLOAD.len()
        }

        fn write(
            &self,
            _input: &gst::BufferRef,
            _flags: gst_rtp::RTPHeaderExtensionFlags,
            _output: &gst::BufferRef,
            data: &mut [u8],
        ) -> Result<usize, gst::LoggableError> {
            let out = data.get_mut(..PAYLOAD.len()).ok_or_else(|| gst::loggable_error!(gst::CAT_RUST, "no room"))?;
            out.copy_from_slice(&PAYLOAD);
            Ok(PAYLOAD.len())
        }

        fn read(
            &self,
            _flags: gst_rtp::RTPHeaderExtensionFlags,
            _data: &[u8],
            _output: &mut gst::BufferRef,
        ) -> Result<(), gst::LoggableError> {
            Ok(()) // the room only sends it
        }
    }
}

glib::wrapper! {
    /// The extension as an element a payloader takes (`add-extension`).
    pub struct PlayoutDelay(ObjectSubclass<imp::PlayoutDelay>)
        @extends gst_rtp::RTPHeaderExtension, gst::Element, gst::Object;
}

/// Makes `pay` write the extension under `id`, the number the browser's offer gave it.
pub fn attach(pay: &gst::Element, id: u8) {
    let extension = glib::Object::new::<PlayoutDelay>();
    extension.set_id(u32::from(id));
    pay.emit_by_name::<()>("add-extension", &[&extension]);
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn delays_are_written_in_tens_of_ms_in_two_12_bit_fields() {
        assert_eq!(encode(0, 0), [0, 0, 0]);
        assert_eq!(encode(100, 400), [0x00, 0xa0, 0x28]);
        assert_eq!(encode(40_950, 40_950), [0xff, 0xff, 0xff]);
        assert_eq!(encode(u16::MAX, 10), [0xff, 0xf0, 0x01]);
    }
}
