//! The screen shows a place's picture as soon as its own path allows, not as late as the
//! room's sound.
//!
//! GStreamer plays every synchronised sink of a pipeline at one latency, the slowest path's,
//! so that picture and sound stay together. In a room that path is the sound's (its jitter
//! buffer, the decoder, the speaker's mixer: 15–40 ms on a clean LAN), while a place's picture,
//! stamped on arrival (`gallery::stamped_on_arrival`), needs only the screen's own deadline
//! (and the gallery's frame, when it shows the gallery). The screen's sinks run ahead of the
//! room's latency by what their own path does not need (`ts-offset`), up to [`MAX_LEAD`]: the
//! picture then leads its sound by at most that, which viewers do not notice (ITU-R BT.1359
//! puts detection at 125 ms of sound behind the picture; EBU R37 allows 60 ms).

use std::time::Duration;

use gst::prelude::*;
use gst_base::prelude::*;
use gstreamer as gst;
use gstreamer_base as gst_base;

use super::measure::RenderClock;

/// The most the picture is shown ahead of its sound.
pub const MAX_LEAD: Duration = Duration::from_millis(40);

/// How far ahead of the room's latency the screen may run: what the room waits beyond what
/// the screen's own path needs, at most [`MAX_LEAD`].
pub fn lead(room_latency: Duration, screen_latency: Duration) -> Duration {
    room_latency.saturating_sub(screen_latency).min(MAX_LEAD)
}

/// Sets the lead on every sink of `display` (a sink element or a bin of them) and tells
/// `render` when frames now reach the screen. Run after the pipeline's latency was
/// (re)distributed (the room's latency is read from what the sinks were given, not asked of
/// the whole pipeline again) and whenever the screen switches between a place and the gallery.
pub(super) fn update(display: &gst::Element, render: &RenderClock) {
    let sinks = sinks_of(display);
    let room = sinks.iter().map(|s| Duration::from_nanos(s.latency().nseconds())).max();
    let screen = sinks.iter().filter_map(own_latency).max();
    tracing::debug!(?room, ?screen, sinks = sinks.len(), "screen timing");
    let (Some(room), Some(screen)) = (room, screen) else {
        return;
    };
    let ahead = lead(room, screen);
    for sink in &sinks {
        sink.set_ts_offset(-(ahead.as_nanos() as i64));
    }
    render.set_screen_timing(room, ahead);
}

fn sinks_of(display: &gst::Element) -> Vec<gst_base::BaseSink> {
    match display.downcast_ref::<gst::Bin>() {
        Some(bin) => bin.iterate_recurse().into_iter().flatten().filter_map(|e| e.downcast().ok()).collect(),
        None => display.clone().downcast().into_iter().collect(),
    }
}

/// The least latency the sink's own path needs (its upstream plus its deadline), if it is
/// synchronised to a live path.
fn own_latency(sink: &gst_base::BaseSink) -> Option<Duration> {
    let mut query = gst::query::Latency::new();
    if !sink.query(&mut query) {
        return None;
    }
    let (live, min, _) = query.result();
    live.then(|| Duration::from_nanos(min.nseconds()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn the_screen_runs_ahead_by_what_its_own_path_does_not_need() {
        assert_eq!(lead(MS(24), MS(10)), MS(14), "the sound's 24 ms against the screen's 10 ms deadline");
        assert_eq!(lead(MS(10), MS(10)), MS(0), "the screen is the slowest path");
        assert_eq!(lead(MS(43), MS(53)), MS(0), "the gallery's frame: never behind the room's latency");
    }

    #[test]
    fn the_picture_never_leads_its_sound_by_more_than_the_limit() {
        assert_eq!(lead(MS(200), MS(10)), MAX_LEAD, "a jittery path's long audio buffer");
    }

    #[test]
    fn the_screen_sink_is_set_to_run_ahead_of_the_slower_sound() {
        gst::init().unwrap();
        // Sound: 10 ms buffers and a 30 ms deadline; the screen: 10 ms frames, a 10 ms deadline.
        let pipeline = gst::parse::launch(
            "audiotestsrc is-live=true samplesperbuffer=480 ! audio/x-raw,rate=48000 ! \
             fakesink sync=true processing-deadline=30000000 \
             videotestsrc is-live=true ! video/x-raw,framerate=100/1,width=64,height=48 ! \
             fakesink name=screen sync=true processing-deadline=10000000",
        )
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let (changed, _, _) = pipeline.state(gst::ClockTime::from_seconds(5));
        changed.unwrap();
        let screen = pipeline.by_name("screen").unwrap();
        let render = RenderClock::new(&pipeline);
        update(&screen, &render);
        let offset = screen.property::<i64>("ts-offset");
        pipeline.set_state(gst::State::Null).unwrap();
        assert_eq!(offset, -20_000_000, "the room waits 40 ms for its sound, the screen needs 20");
        assert_eq!(render.screen_lead(), MS(20));
    }
}
