//! Small helpers for building GStreamer graphs in code: make an element with string
//! properties (set only where the element has them), parse a user fragment into a bin, link
//! with errors that say which link failed.

use gst::prelude::*;
use gstreamer as gst;

use super::MediaError;

/// Which Debian package provides an element, for error messages.
pub fn package_of(factory: &str) -> &'static str {
    match factory {
        "x264enc" => "gstreamer1.0-plugins-ugly",
        "avdec_h264" => "gstreamer1.0-libav",
        "openh264enc" | "openh264dec" | "kmssink" | "rtpopuspay" | "rtpopusdepay" => "gstreamer1.0-plugins-bad",
        "textoverlay" => "gstreamer1.0-x",
        "opusenc" | "opusdec" | "videoconvert" | "videoscale" | "audioconvert" | "audioresample" | "volume"
        | "videotestsrc" | "audiotestsrc" | "audiomixer" | "compositor" => "gstreamer1.0-plugins-base",
        "webrtcdsp" | "webrtcechoprobe" => "gstreamer1.0-plugins-bad",
        "tee" | "input-selector" | "queue" | "capsfilter" | "identity" => "libgstreamer1.0-0",
        "alsasrc" | "alsasink" => "gstreamer1.0-alsa",
        _ => "gstreamer1.0-plugins-good",
    }
}

/// Makes `factory`, setting each `(property, value)` it has from its string form.
pub fn make(factory: &str, properties: &[(&str, &str)]) -> Result<gst::Element, MediaError> {
    let element = gst::ElementFactory::make(factory)
        .build()
        .map_err(|_| MediaError::MissingElement { element: factory.into(), package: package_of(factory) })?;
    for (name, value) in properties {
        set(&element, name, value)?;
    }
    Ok(element)
}

/// Sets a property from its string form if the element has it (hardware encoders differ
/// between driver versions; a missing knob is not a reason to fail a call).
pub fn set(element: &gst::Element, name: &str, value: &str) -> Result<(), MediaError> {
    if element.find_property(name).is_none() {
        tracing::debug!(element = %element.name(), property = name, "property not present, skipped");
        return Ok(());
    }
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| element.set_property_from_str(name, value))).map_err(
        |_| MediaError::BadProperty {
            element: element.factory().map(|f| f.name().to_string()).unwrap_or_default(),
            property: name.into(),
            value: value.into(),
        },
    )
}

pub fn capsfilter(caps: &str) -> Result<gst::Element, MediaError> {
    let caps: gst::Caps = caps.parse().map_err(|_| MediaError::Internal(format!("bad caps {caps}")))?;
    gst::ElementFactory::make("capsfilter")
        .property("caps", &caps)
        .build()
        .map_err(|_| MediaError::MissingElement { element: "capsfilter".into(), package: "libgstreamer1.0-0" })
}

/// A user-supplied fragment (`videotestsrc ! textoverlay …`) as one bin whose only pad is a
/// ghost of its unlinked pad in `direction`. (Ghosting every unlinked pad would also expose
/// e.g. textoverlay's text_sink, and textoverlay then waits for text forever.)
pub fn fragment(description: &str, direction: gst::PadDirection) -> Result<gst::Element, MediaError> {
    let bad = |error: String| MediaError::BadFragment { fragment: description.into(), error };
    let complete = with_open_caps_closed(description, direction == gst::PadDirection::Src);
    let bin = gst::parse::bin_from_description(&complete, false).map_err(|e| bad(e.to_string()))?;
    let pad = bin.find_unlinked_pad(direction).ok_or_else(|| bad(format!("it has no free {direction:?} pad")))?;
    let ghost = gst::GhostPad::builder_with_target(&pad)
        .map_err(|e| bad(e.to_string()))?
        .name(if direction == gst::PadDirection::Src { "src" } else { "sink" })
        .build();
    bin.add_pad(&ghost).map_err(|e| bad(e.to_string()))?;
    if direction == gst::PadDirection::Sink {
        never_waits_to_preroll(&bin);
    }
    Ok(bin.upcast())
}

/// The sinks of a room's speaker and screen change state at once (`async=false`). The room
/// is live, so a sink has nothing to preroll; but an async sink that loses its state while
/// playing (a flush) waits for the pipeline to play again, holding every place's sound or
/// picture behind it, and a leg taken out then waits on that place forever.
fn never_waits_to_preroll(bin: &gst::Bin) {
    for sink in bin.iterate_sinks().into_iter().flatten() {
        if sink.find_property("async").is_some() {
            sink.set_property("async", false);
        }
    }
}

/// A fragment may end (source) or start (sink) with caps, e.g. `v4l2src ! video/x-raw,width=1280`;
/// on its own that is not a valid launch line, so a passthrough `identity` closes it.
pub fn with_open_caps_closed(description: &str, source: bool) -> String {
    let is_caps = |segment: &str| {
        let first = segment.trim().split([',', ' ']).next().unwrap_or("");
        first.contains('/') && !first.contains('=')
    };
    let segments: Vec<&str> = description.split('!').collect();
    match (source, segments.first(), segments.last()) {
        (true, _, Some(last)) if is_caps(last) => format!("{description} ! identity"),
        (false, Some(first), _) if is_caps(first) => format!("identity ! {description}"),
        _ => description.to_owned(),
    }
}

pub fn add_and_link(bin: &impl IsA<gst::Bin>, chain: &[&gst::Element]) -> Result<(), MediaError> {
    bin.add_many(chain.iter().copied()).map_err(|e| MediaError::Internal(e.to_string()))?;
    for pair in chain.windows(2) {
        pair[0]
            .link(pair[1])
            .map_err(|_| MediaError::Link { from: pair[0].name().to_string(), to: pair[1].name().to_string() })?;
    }
    Ok(())
}

/// Adds `chain` to a bin that is already running and links it, holding every element in
/// NULL: a bin finishes an asynchronous state change on a thread of its own, and that would
/// start an element that is not linked yet (a source then stops with "not-linked").
/// `start_held` lets them go.
pub fn add_held_and_link(bin: &impl IsA<gst::Bin>, chain: &[&gst::Element]) -> Result<(), MediaError> {
    for element in chain {
        element.set_locked_state(true);
    }
    add_and_link(bin, chain)
}

/// Releases elements added by `add_held_and_link` (or held by hand) into their bin's state,
/// in the order given: downstream first, so nothing pushes into an element not running yet.
pub fn start_held(elements: &[&gst::Element]) -> Result<(), MediaError> {
    for element in elements {
        element.set_locked_state(false);
        element
            .sync_state_with_parent()
            .map_err(|e| MediaError::Internal(format!("{} did not start: {e}", element.name())))?;
    }
    Ok(())
}

/// Links `src` to a request pad of `rtpbin` named `pad`.
pub fn link_to_request(src: &gst::Element, rtpbin: &gst::Element, pad: &str) -> Result<(), MediaError> {
    let sink =
        rtpbin.request_pad_simple(pad).ok_or_else(|| MediaError::Internal(format!("rtpbin refused pad {pad}")))?;
    let srcpad = src.static_pad("src").ok_or_else(|| MediaError::Internal(format!("{} has no src pad", src.name())))?;
    srcpad
        .link(&sink)
        .map_err(|e| MediaError::Link { from: src.name().to_string(), to: format!("rtpbin.{pad} ({e:?})") })?;
    Ok(())
}

/// Links rtpbin's pad `pad` (static, or requested if needed) to `sink`.
pub fn link_from_rtpbin(rtpbin: &gst::Element, pad: &str, sink: &gst::Element) -> Result<(), MediaError> {
    let src = rtpbin
        .static_pad(pad)
        .or_else(|| rtpbin.request_pad_simple(pad))
        .ok_or_else(|| MediaError::Internal(format!("rtpbin has no pad {pad}")))?;
    let sinkpad =
        sink.static_pad("sink").ok_or_else(|| MediaError::Internal(format!("{} has no sink pad", sink.name())))?;
    src.link(&sinkpad)
        .map_err(|e| MediaError::Link { from: format!("rtpbin.{pad}"), to: format!("{} ({e:?})", sink.name()) })?;
    Ok(())
}

/// A queue that drops the oldest of its `buffers` pictures rather than hold a live stream
/// back (a picture that waits is a late picture).
pub fn leaky_queue(buffers: u32) -> Result<gst::Element, MediaError> {
    make(
        "queue",
        &[
            ("leaky", "downstream"),
            ("max-size-buffers", &buffers.to_string()),
            ("max-size-bytes", "0"),
            ("max-size-time", "0"),
        ],
    )
}

/// A queue of up to 200 ms of sound between a tee and one of the mixers it feeds (one tee
/// feeds several mixers; none may block it).
pub fn audio_queue() -> Result<gst::Element, MediaError> {
    make("queue", &[("max-size-time", "200000000"), ("max-size-buffers", "0"), ("max-size-bytes", "0")])
}

/// A tee whose branches may come and go (legs, the gallery) while it plays.
pub fn tee() -> Result<gst::Element, MediaError> {
    make("tee", &[("allow-not-linked", "true")])
}

/// Exposes `pad` of an element inside `bin` as the bin's pad `name`.
pub fn ghost(bin: &gst::Bin, pad: &gst::Pad, name: &str) -> Result<gst::GhostPad, MediaError> {
    let ghost = gst::GhostPad::builder_with_target(pad)
        .map_err(|e| MediaError::Internal(format!("ghost pad {name}: {e}")))?
        .name(name)
        .build();
    bin.add_pad(&ghost).map_err(|e| MediaError::Internal(format!("ghost pad {name}: {e}")))?;
    Ok(ghost)
}

/// A static pad that must exist (an element's `src` or `sink`).
pub fn pad(element: &gst::Element, name: &str) -> Result<gst::Pad, MediaError> {
    element.static_pad(name).ok_or_else(|| MediaError::Internal(format!("{} has no {name} pad", element.name())))
}

/// A request pad that must be granted (a tee's `src_%u`, a mixer's `sink_%u`).
pub fn request(element: &gst::Element, template: &str) -> Result<gst::Pad, MediaError> {
    element
        .request_pad_simple(template)
        .ok_or_else(|| MediaError::Internal(format!("{} refused a {template} pad", element.name())))
}

/// Links two pads, naming both in the error.
pub fn link_pads(src: &gst::Pad, sink: &gst::Pad) -> Result<(), MediaError> {
    let name = |p: &gst::Pad| format!("{}.{}", p.parent().map(|e| e.name().to_string()).unwrap_or_default(), p.name());
    src.link(sink).map(|_| ()).map_err(|e| MediaError::Link { from: name(src), to: format!("{} ({e:?})", name(sink)) })
}

/// Elements every call uses, whatever the devices.
const CALL_ELEMENTS: &[&str] = &[
    "rtpbin",
    "udpsrc",
    "udpsink",
    "rtph264pay",
    "rtph264depay",
    "h264parse",
    "opusenc",
    "opusdec",
    "rtpopuspay",
    "rtpopusdepay",
    "videoconvert",
    "videoscale",
    "audioconvert",
    "audioresample",
    "volume",
    "queue",
    "pngenc",
    "tee",
    "input-selector",
    "audiomixer",
    "compositor",
    "textoverlay",
];

/// Checks that every element a call of this plan needs is installed and that the device
/// fragments parse, so a broken setup is reported by `check` and at start, not mid-call.
pub fn check_plan(plan: &super::MediaPlan) -> Result<(), MediaError> {
    let dsp = if plan.echo_cancel { &["webrtcdsp", "webrtcechoprobe"][..] } else { &[] };
    for factory in CALL_ELEMENTS
        .iter()
        .copied()
        .chain(dsp.iter().copied())
        .chain([plan.encoder.element.as_str(), plan.decoder.as_str()])
    {
        if gst::ElementFactory::find(factory).is_none() {
            return Err(MediaError::MissingElement { element: factory.into(), package: package_of(factory) });
        }
    }
    use gst::PadDirection::{Sink, Src};
    for (choice, direction) in
        [(&plan.video_source, Src), (&plan.audio_source, Src), (&plan.audio_sink, Sink), (&plan.display, Sink)]
    {
        fragment(&choice.fragment, direction)?; // fails on any element that is not installed
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_speaker_or_screen_fragment_never_waits_to_preroll() {
        gst::init().unwrap();
        let bin = fragment("videoconvert ! fakesink sync=true", gst::PadDirection::Sink).unwrap();
        let bin = bin.downcast::<gst::Bin>().unwrap();
        let sinks: Vec<gst::Element> = bin.iterate_sinks().into_iter().flatten().collect();
        assert_eq!(sinks.len(), 1);
        assert!(!sinks[0].property::<bool>("async"), "the sink changes state at once");
        assert!(sinks[0].property::<bool>("sync"), "and still plays in time");
    }

    #[test]
    fn fragments_with_caps_at_their_open_end_are_closed() {
        let src = "v4l2src ! video/x-raw,width=1280,height=720";
        assert_eq!(with_open_caps_closed(src, true), format!("{src} ! identity"));
        assert_eq!(
            with_open_caps_closed("video/x-raw,format=I420 ! fakesink", false),
            "identity ! video/x-raw,format=I420 ! fakesink"
        );
        for untouched in [
            "videotestsrc is-live=true",
            "filesrc location=/tmp/a.mp4 ! decodebin",
            "videotestsrc ! video/x-raw ! debugqroverlay",
        ] {
            assert_eq!(with_open_caps_closed(untouched, true), untouched);
        }
        assert_eq!(with_open_caps_closed("fakesink sync=true", false), "fakesink sync=true");
    }
}
