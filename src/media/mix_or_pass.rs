//! A mixer used only when there is something to mix. An `input-selector` in front of what
//! follows takes either one input directly (a two-place call: the microphone straight to the
//! encoder, the one place straight to the speaker, as before meetings existed) or the mixer's
//! output. Directly, the sound waits for no mixer: a mixer drops what comes later than the
//! latency it knows of, and on a starved CPU (the emulated VM of tests/hw_vm.rs) that was all
//! of the microphone.
//!
//! Until it is first needed the mixer is fed nothing (its inputs drop their buffers), so it
//! never starts: a live mixer that has started mixes every few milliseconds, silence or not,
//! and in a two-place call that was all it did. Once needed it is fed all the while, so that
//! its output keeps the timeline of its inputs whenever a third place makes it needed again.

use std::sync::Mutex;

use gst::prelude::*;
use gstreamer as gst;

use super::MediaError;
use super::elements::{link_pads, make, pad, request};

pub(super) struct MixOrPass {
    /// The mixer's inputs and the probes that drop their buffers, until mixing is first
    /// needed.
    held: Mutex<Vec<(gst::Pad, gst::PadProbeId)>>,
    /// Link this to what follows (the leg's encoder).
    pub selector: gst::Element,
    /// The mixer: request its `sink_%u` pads for the inputs.
    pub mixer: gst::Element,
    mixed: gst::Pad,
    /// The selector's pads for the inputs that may pass directly; link them.
    pub direct: Vec<gst::Pad>,
}

impl MixOrPass {
    /// Adds a live mixer named `name` that outputs `output_ns` buffers, and the selector
    /// behind it with `directs` inputs that may pass directly, to `bin`; it passes the first
    /// until told otherwise. Slots no place has used yet are not waited for.
    pub fn build(bin: &impl IsA<gst::Bin>, name: &str, output_ns: u64, directs: usize) -> Result<Self, MediaError> {
        let mixer = make(
            "audiomixer",
            &[
                ("start-time-selection", "first"),
                ("output-buffer-duration", &output_ns.to_string()),
                ("ignore-inactive-pads", "true"),
            ],
        )?;
        mixer.set_property("name", name);
        bin.add(&mixer).map_err(|e| MediaError::Internal(e.to_string()))?;
        let selector = make("input-selector", &[("sync-streams", "false"), ("cache-buffers", "false")])?;
        bin.add(&selector).map_err(|e| MediaError::Internal(e.to_string()))?;
        let mixed = request(&selector, "sink_%u")?;
        link_pads(&pad(&mixer, "src")?, &mixed)?;
        let direct = (0..directs.max(1)).map(|_| request(&selector, "sink_%u")).collect::<Result<Vec<_>, _>>()?;
        selector.set_property("active-pad", &direct[0]);
        Ok(Self { held: Mutex::new(vec![]), selector, mixer, mixed, direct })
    }

    /// Drops what reaches `input` (a pad in front of the mixer) until mixing is first needed.
    pub fn hold_until_mixing(&self, input: &gst::Pad) {
        let buffers = gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST;
        // Dropped as `Handled`: gstreamer-rs has already taken the buffer from GStreamer and
        // frees it; with `Drop`, GStreamer 1.22.0's chain function then frees the emptied slot
        // too, a CRITICAL in the log for every buffer (100 a second from a microphone).
        if let (Some(id), Ok(mut held)) =
            (input.add_probe(buffers, |_, _| gst::PadProbeReturn::Handled), self.held.lock())
        {
            held.push((input.clone(), id));
        }
    }

    /// Passes the mixer's output (`true`) or the first direct input.
    pub fn set_mixing(&self, mixing: bool) {
        self.pass(if mixing { None } else { Some(0) });
    }

    /// Passes direct input `direct`, or with `None` the mixer's output (from then on the
    /// mixer is fed). A direct input that does not exist changes nothing.
    pub fn pass(&self, direct: Option<usize>) {
        let want = match direct {
            Some(i) => match self.direct.get(i) {
                Some(pad) => pad,
                None => return,
            },
            None => {
                if let Ok(mut held) = self.held.lock() {
                    for (input, id) in held.drain(..) {
                        input.remove_probe(id);
                    }
                }
                &self.mixed
            }
        };
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
