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
    mixed: gst::Pad,
}

impl MixOrPass {
    /// Adds the selector to `bin` behind `mixer` (already in `bin`), passing nothing yet.
    pub fn build(bin: &impl IsA<gst::Bin>, mixer: &gst::Element) -> Result<Self, MediaError> {
        let selector = make("input-selector", &[("sync-streams", "false"), ("cache-buffers", "false")])?;
        bin.add(&selector).map_err(|e| MediaError::Internal(e.to_string()))?;
        let mixed = request(&selector, "sink_%u")?;
        link_pads(&pad(mixer, "src")?, &mixed)?;
        Ok(Self { selector, mixed })
    }

    /// A new selector pad for an input that may pass directly.
    pub fn direct_input(&self) -> Result<gst::Pad, MediaError> {
        request(&self.selector, "sink_%u")
    }

    /// Mixes (`None`) or passes `Some(direct)` input; returns whether that changed anything.
    pub fn select(&self, direct: Option<&gst::Pad>) -> bool {
        let want = direct.unwrap_or(&self.mixed);
        let active = self.selector.property::<Option<gst::Pad>>("active-pad");
        let changed = active.as_ref() != Some(want);
        if changed {
            self.selector.set_property("active-pad", want);
        }
        changed
    }
}
