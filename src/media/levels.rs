//! The call's sound levels at the card: the configured microphone gain and speaker volume
//! when a call starts, and mute cutting the card's capture switch (the pipeline's own mute
//! stays as the second line). Failures are reported, never fatal: a card without a mixer
//! still makes calls.

use super::plan::MixerPlan;
use crate::devices::mixer::{self, Direction};

/// Sets the configured levels; returns what was done, in words, for `status` (empty when
/// the config sets no level and the card has no capture switch).
pub fn apply(plan: &MixerPlan, muted: bool) -> String {
    let mut done = Vec::new();
    for (card, percent, direction, label) in [
        (&plan.capture_card, plan.capture_percent, Direction::Capture, "mic"),
        (&plan.playback_card, plan.playback_percent, Direction::Playback, "speaker"),
    ] {
        let (Some(card), Some(percent)) = (card, percent) else { continue };
        match mixer::set_volume(card, direction, percent) {
            Ok(element) => done.push(format!("{label} {card} {element} {percent}%")),
            Err(e) => {
                tracing::warn!("mixer: {e}");
                done.push(format!("{label}: {e}"));
            }
        }
    }
    if let Some(cut) = set_mute(plan, muted) {
        done.push(cut);
    }
    done.join("; ")
}

/// Cuts (or opens) the microphone at the card, where the card has a capture switch.
pub fn set_mute(plan: &MixerPlan, muted: bool) -> Option<String> {
    let card = plan.capture_card.as_ref()?;
    match mixer::set_capture_switch(card, !muted) {
        Ok(switched) if switched.is_empty() => None,
        Ok(switched) => Some(format!("mic switch {} {}", switched.join("+"), if muted { "off (muted)" } else { "on" })),
        Err(e) => {
            tracing::warn!("mixer: {e}");
            Some(format!("mute at the card failed: {e}"))
        }
    }
}
