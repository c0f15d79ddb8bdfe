//! What the room's screen shows, as PNG for `roombox ctl snapshot`: the last remote frame in a
//! call, or the idle screen (room name and "press the button to join") between calls.

use gst::prelude::*;
use gstreamer as gst;

use super::MediaError;

/// The idle screen as a GStreamer source (also what a real display shows between calls);
/// `source_options` are added to the videotestsrc (e.g. `num-buffers=1`); `with_link` adds the
/// guests' join link as a QR code. Its text and code are set with [`label_idle_screen`] (a
/// launch string cannot carry a line break, nor an SVG).
pub fn idle_source(source_options: &str, with_link: bool) -> String {
    let qr = if with_link { " ! videoconvert ! rsvgoverlay name=idle-qr ! videoconvert" } else { "" };
    format!(
        "videotestsrc {source_options} pattern=solid-color foreground-color=0xff1b2631 ! textoverlay name=idle-text \
         font-desc=\"Sans Bold 28\" valignment=center halignment=center line-alignment=center{qr}"
    )
}

/// What the idle screen says: the room, its join link and the lines under the call to action.
pub struct IdleText<'a> {
    pub room: &'a str,
    pub link: Option<&'a str>,
    pub notes: &'a [String],
}

impl<'a> IdleText<'a> {
    pub fn of(plan: &'a super::MediaPlan) -> Self {
        Self { room: &plan.room, link: plan.guest_link.as_deref(), notes: &plan.idle_notes }
    }

    /// Pango markup: the room and the call to action at the overlay's size, the notes smaller
    /// (a long note must not shrink the room's name); the room, link and notes are escaped.
    fn markup(&self) -> String {
        let escape = |text: &str| gst::glib::markup_escape_text(text).to_string();
        let mut markup = format!("{}\n\npress the button to join", escape(self.room));
        if let Some(link) = self.link {
            markup += &format!("\n\nguests: {}", escape(link));
        }
        if !self.notes.is_empty() {
            markup += &format!("\n\n<span size='60%'>{}</span>", escape(&self.notes.join("\n")));
        }
        markup
    }
}

/// Writes the room name, the call to action and the notes onto the idle screen in `bin`, and
/// the guests' join link as a QR code in its lower right corner (a phone's camera opens it).
pub fn label_idle_screen(bin: &gst::Bin, idle: &IdleText, width: u32, height: u32) {
    let link = idle.link;
    if let Some(overlay) = bin.by_name("idle-text") {
        overlay.set_property("text", idle.markup());
        if link.is_some() {
            // Text at the top, the code below it.
            overlay.set_property_from_str("valignment", "top");
            overlay.set_property("font-desc", format!("Sans Bold {}", (height / 24).clamp(8, 28)));
        }
    }
    let size = width.min(height) / 2;
    if let (Some(qr), Some(svg)) = (bin.by_name("idle-qr"), link.and_then(|l| crate::guests::link::svg_qr(l, size))) {
        let margin = size / 10;
        qr.set_property("data", svg);
        qr.set_property("x", (width - size - margin) as i32);
        qr.set_property("y", (height - size - margin) as i32);
        qr.set_property("width", size as i32);
        qr.set_property("height", size as i32);
    }
}

/// Renders the idle screen once, at the room's picture size.
pub fn idle_screen_png(idle: &IdleText, width: u32, height: u32) -> Result<Vec<u8>, MediaError> {
    let description = format!(
        "{} ! video/x-raw,width={width},height={height} ! videoconvert ! pngenc ! fakesink name=out enable-last-sample=true",
        idle_source("num-buffers=1", idle.link.is_some())
    );
    let pipeline = gst::parse::launch(&description)
        .map_err(|e| MediaError::Snapshot(format!("idle screen: {e}")))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| MediaError::Snapshot("idle screen is not a pipeline".into()))?;
    label_idle_screen(pipeline.upcast_ref(), idle, width, height);
    let result = run_to_end(&pipeline).and_then(|()| {
        let sink = pipeline.by_name("out").ok_or_else(|| MediaError::Snapshot("no sink".into()))?;
        let sample = sink
            .property::<Option<gst::Sample>>("last-sample")
            .ok_or_else(|| MediaError::Snapshot("nothing rendered".into()))?;
        buffer_bytes(&sample)
    });
    let _ = pipeline.set_state(gst::State::Null);
    result
}

fn run_to_end(pipeline: &gst::Pipeline) -> Result<(), MediaError> {
    pipeline.set_state(gst::State::Playing).map_err(|e| MediaError::Snapshot(e.to_string()))?;
    let bus = pipeline.bus().ok_or_else(|| MediaError::Snapshot("no bus".into()))?;
    let msg = bus
        .timed_pop_filtered(gst::ClockTime::from_seconds(5), &[gst::MessageType::Eos, gst::MessageType::Error])
        .ok_or_else(|| MediaError::Snapshot("rendering timed out".into()))?;
    match msg.view() {
        gst::MessageView::Error(e) => Err(MediaError::Snapshot(e.error().to_string())),
        _ => Ok(()),
    }
}

/// Encodes a raw video frame as PNG.
pub fn sample_to_png(sample: &gst::Sample) -> Result<Vec<u8>, MediaError> {
    let caps = gst::Caps::builder("image/png").build();
    let png = gstreamer_video::convert_sample(sample, &caps, Some(gst::ClockTime::from_seconds(5)))
        .map_err(|e| MediaError::Snapshot(e.to_string()))?;
    buffer_bytes(&png)
}

fn buffer_bytes(sample: &gst::Sample) -> Result<Vec<u8>, MediaError> {
    let buffer = sample.buffer().ok_or_else(|| MediaError::Snapshot("empty frame".into()))?;
    let map = buffer.map_readable().map_err(|e| MediaError::Snapshot(e.to_string()))?;
    Ok(map.as_slice().to_vec())
}
