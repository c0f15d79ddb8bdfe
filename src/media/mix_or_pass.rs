//! A mixer used only when there is something to mix. An `input-selector` in front of what
//! follows takes either one input directly (a two-place call: the microphone straight to the
//! encoder, the other place straight to the speaker, as before meetings existed) or the
//! mixer's output. While an input passes directly, nothing reaches the mixer: its gates drop
//! every buffer, so it neither costs CPU nor holds the sound back by its output buffer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gst::prelude::*;
use gstreamer as gst;

use super::MediaError;
use super::elements::{link_pads, make, pad, request};

pub(super) struct MixOrPass {
    /// Link this to what follows (the encoder, the speaker).
    pub selector: gst::Element,
    mixed: gst::Pad,
    mixing: Arc<AtomicBool>,
}

impl MixOrPass {
    /// Adds the selector to `bin` behind `mixer` (already in `bin`), passing nothing yet.
    pub fn build(bin: &impl IsA<gst::Bin>, mixer: &gst::Element) -> Result<Self, MediaError> {
        let selector = make("input-selector", &[("sync-streams", "false"), ("cache-buffers", "false")])?;
        bin.add(&selector).map_err(|e| MediaError::Internal(e.to_string()))?;
        let mixed = request(&selector, "sink_%u")?;
        link_pads(&pad(mixer, "src")?, &mixed)?;
        Ok(Self { selector, mixed, mixing: Arc::default() })
    }

    /// A new selector pad for an input that may pass directly.
    pub fn direct_input(&self) -> Result<gst::Pad, MediaError> {
        request(&self.selector, "sink_%u")
    }

    /// Buffers through `pad` (on the way to the mixer) go on only while mixing.
    pub fn gate(&self, pad: &gst::Pad) {
        let mixing = self.mixing.clone();
        // Taken and reported handled rather than dropped: 1.22.0 logs a critical for a buffer
        // dropped by a probe of a pad a tee pushes into.
        pad.add_probe(gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST, move |_, info| {
            if mixing.load(Ordering::Relaxed) {
                return gst::PadProbeReturn::Ok;
            }
            drop(info.data.take());
            gst::PadProbeReturn::Handled
        });
    }

    /// Mixes (`None`) or passes `Some(direct)` input; returns whether that changed anything.
    pub fn select(&self, direct: Option<&gst::Pad>) -> bool {
        let want = direct.unwrap_or(&self.mixed);
        // Open the gates before the mixer's output is chosen, close them after it is left.
        if direct.is_none() {
            self.mixing.store(true, Ordering::Relaxed);
        }
        let active = self.selector.property::<Option<gst::Pad>>("active-pad");
        let changed = active.as_ref() != Some(want);
        if changed {
            self.selector.set_property("active-pad", want);
        }
        if direct.is_some() {
            self.mixing.store(false, Ordering::Relaxed);
        }
        changed
    }
}
