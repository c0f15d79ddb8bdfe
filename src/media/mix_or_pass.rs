//! A mixer used only when there is something to mix. An `input-selector` in front of what
//! follows takes either one input directly (a two-place call: the microphone straight to the
//! encoder, as before meetings existed) or the mixer's output. The mixer is fed all the while,
//! so that its output keeps the timeline of its inputs when a third place makes it needed.
//! Directly, the sound waits for no mixer: a mixer drops what comes later than the latency it
//! knows of, and on a starved CPU (the emulated VM of tests/hw_vm.rs) that was all of the
//! microphone.

use gst::prelude::*;
use gstreamer as gst;

use super::MediaError;
use super::elements::{link_pads, make, pad, request};

pub(super) struct MixOrPass {
    /// Link this to what follows (the leg's encoder).
    pub selector: gst::Element,
    mixer: gst::Element,
    mixed: gst::Pad,
    /// The selector's pad for the input that may pass directly; link it.
    pub direct: gst::Pad,
}

impl MixOrPass {
    /// Adds the selector to `bin` behind `mixer` (already in `bin`); it passes the direct
    /// input until told to mix.
    pub fn build(bin: &impl IsA<gst::Bin>, mixer: &gst::Element) -> Result<Self, MediaError> {
        let selector = make("input-selector", &[("sync-streams", "false"), ("cache-buffers", "false")])?;
        bin.add(&selector).map_err(|e| MediaError::Internal(e.to_string()))?;
        let mixed = request(&selector, "sink_%u")?;
        link_pads(&pad(mixer, "src")?, &mixed)?;
        let direct = request(&selector, "sink_%u")?;
        selector.set_property("active-pad", &direct);
        Ok(Self { selector, mixer: mixer.clone(), mixed, direct })
    }

    /// Passes the mixer's output (`true`) or the direct input.
    pub fn set_mixing(&self, mixing: bool) {
        let want = if mixing { &self.mixed } else { &self.direct };
        if self.selector.property::<Option<gst::Pad>>("active-pad").as_ref() != Some(want) {
            self.selector.set_property("active-pad", want);
        }
    }

    /// Has the mixer learn the latency of its inputs again. A mixer learns it from a latency
    /// query through it, and a leg's sound ends in a sink that does not synchronise, so no
    /// pipeline-wide recalculation asks: without this it mixes on the latency of its first
    /// seconds and drops the part of a place's sound that comes later, once that place's
    /// jitter buffer has grown.
    pub fn refresh_latency(&self) {
        if let Some(src) = self.mixer.static_pad("src") {
            let _ = src.query(&mut gst::query::Latency::new());
        }
    }
}
