//! The idle screen on a real display (KMS or a window) between calls: the room name and
//! "press the button to join". It owns the display while idle and gives it up before a call
//! starts (a KMS output has one master).

use gst::prelude::*;
use gstreamer as gst;

use super::MediaError;
use super::elements::fragment;
use super::plan::MediaPlan;
use super::screen::{IdleText, idle_source, label_idle_screen};

pub struct IdleDisplay {
    pipeline: gst::Pipeline,
}

impl IdleDisplay {
    /// Shows the idle screen when the plan's display is a real screen; `None` otherwise.
    pub fn start(plan: &MediaPlan) -> Result<Option<Self>, MediaError> {
        if !plan.display_is_screen {
            return Ok(None);
        }
        let pipeline = gst::Pipeline::with_name("idle-screen");
        let text = format!(
            "{} ! video/x-raw,width={},height={},framerate=5/1 ! videoconvert",
            idle_source("is-live=true", plan.guest_link.is_some()),
            plan.width,
            plan.height
        );
        let source = fragment(&text, gst::PadDirection::Src)?;
        let sink = fragment(&plan.display.fragment, gst::PadDirection::Sink)?;
        pipeline.add_many([&source, &sink]).map_err(|e| MediaError::Internal(e.to_string()))?;
        source.link(&sink).map_err(|_| MediaError::Link { from: "idle screen".into(), to: "display".into() })?;
        label_idle_screen(pipeline.upcast_ref(), &IdleText::of(plan), plan.width, plan.height);
        // A display that fails later (a driver without vblank, a cable pulled) says so in the
        // log; the event loop never waits for it.
        if let Some(bus) = pipeline.bus() {
            let screen = plan.display.description.clone();
            bus.set_sync_handler(move |_, msg| {
                if let gst::MessageView::Error(e) = msg.view() {
                    tracing::warn!("idle screen: cannot show on {screen}: {}", e.error());
                }
                gst::BusSyncReply::Drop
            });
        }
        if pipeline.set_state(gst::State::Playing).is_err() {
            let _ = pipeline.set_state(gst::State::Null);
            return Err(MediaError::StartFailed(format!(
                "the idle screen would not show on {}",
                plan.display.description
            )));
        }
        Ok(Some(Self { pipeline }))
    }

    /// Writes the plan's text anew (its notes changed) on the screen showing now.
    pub fn relabel(&self, plan: &MediaPlan) {
        label_idle_screen(self.pipeline.upcast_ref(), &IdleText::of(plan), plan.width, plan.height);
    }
}

impl Drop for IdleDisplay {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
        if let Some(bus) = self.pipeline.bus() {
            bus.unset_sync_handler();
        }
    }
}
