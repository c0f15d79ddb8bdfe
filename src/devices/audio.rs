//! Sound devices over ALSA (crate `alsa`): capture and playback PCMs, and the pure choice of
//! what `auto` uses (a USB speakerphone over HDMI audio, a real card over the defaults).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pcm {
    /// The ALSA name to open, e.g. `plughw:CARD=Loopback,DEV=0`.
    pub name: String,
    pub description: String,
    pub capture: bool,
    pub playback: bool,
}

/// Every PCM ALSA's hints list (`aplay -L` / `arecord -L`).
pub fn enumerate() -> Vec<Pcm> {
    let Ok(hints) = alsa::device_name::HintIter::new_str(None, "pcm") else { return vec![] };
    hints
        .filter_map(|h| {
            let name = h.name?;
            let description = h.desc.unwrap_or_default().replace('\n', " ");
            let (capture, playback) = match h.direction {
                Some(alsa::Direction::Capture) => (true, false),
                Some(alsa::Direction::Playback) => (false, true),
                None => (true, true),
            };
            Some(Pcm { name, description, capture, playback })
        })
        .collect()
}

/// How much `auto` wants a PCM: USB (speakerphones, webcam mics) first, then other cards,
/// HDMI last; plug devices (format conversion) over raw hw; never null/default aliases.
fn rank(pcm: &Pcm) -> Option<u32> {
    let name = pcm.name.as_str();
    if !name.starts_with("plughw:") && !name.starts_with("hw:") {
        return None;
    }
    let text = format!("{} {}", pcm.name, pcm.description).to_lowercase();
    let kind = if text.contains("usb") {
        0
    } else if text.contains("hdmi") {
        2
    } else {
        1
    };
    Some(kind * 10 + u32::from(name.starts_with("hw:")))
}

/// The PCM `auto` picks for capture (`true`) or playback.
pub fn choose(pcms: &[Pcm], capture: bool) -> Option<&Pcm> {
    pcms.iter()
        .filter(|p| if capture { p.capture } else { p.playback })
        .filter_map(|p| Some((rank(p)?, p)))
        .min_by_key(|(r, _)| *r)
        .map(|(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcm(name: &str, description: &str, capture: bool, playback: bool) -> Pcm {
        Pcm { name: name.into(), description: description.into(), capture, playback }
    }

    fn room_box() -> Vec<Pcm> {
        vec![
            pcm("default", "Default ALSA Output", true, true),
            pcm("hw:CARD=vc4hdmi0,DEV=0", "vc4-hdmi-0, MAI PCM i2s-hifi-0 Direct hardware device", false, true),
            pcm(
                "plughw:CARD=vc4hdmi0,DEV=0",
                "vc4-hdmi-0, MAI PCM i2s-hifi-0 Hardware device with all software conversions",
                false,
                true,
            ),
            pcm("hw:CARD=Speaker,DEV=0", "Jabra SPEAK 510 USB, USB Audio Direct hardware device", true, true),
            pcm(
                "plughw:CARD=Speaker,DEV=0",
                "Jabra SPEAK 510 USB, USB Audio Hardware device with all software conversions",
                true,
                true,
            ),
        ]
    }

    #[test]
    fn a_usb_speakerphone_wins_over_hdmi_both_ways() {
        let pcms = room_box();
        assert_eq!(choose(&pcms, true).unwrap().name, "plughw:CARD=Speaker,DEV=0");
        assert_eq!(choose(&pcms, false).unwrap().name, "plughw:CARD=Speaker,DEV=0");
    }

    #[test]
    fn hdmi_is_used_for_playback_when_nothing_else_exists_and_never_for_capture() {
        let pcms: Vec<Pcm> = room_box().into_iter().filter(|p| !p.name.contains("Speaker")).collect();
        assert_eq!(choose(&pcms, false).unwrap().name, "plughw:CARD=vc4hdmi0,DEV=0");
        assert_eq!(choose(&pcms, true), None, "no microphone: the default alias is not a choice");
    }
}
