//! Board profiles (`board/*.toml`, compiled in): per board, the H.264 encoder preference, the
//! default camera, sound and display choices, and the panel's GPIO chip and lines. The room
//! config selects one with `board = "rpi4"`; what the config leaves at `auto` the profile fills
//! in (see `Config::apply_board`).

use serde::Deserialize;

use crate::config::{AudioDevice, DisplayOutput, PanelBackend, VideoSource};
use crate::media::encoder;

/// Every profile shipped, by name: the file text as compiled in.
pub const PROFILES: &[(&str, &str)] = &[
    ("rpi4", include_str!("../board/rpi4.toml")),
    ("rpi5", include_str!("../board/rpi5.toml")),
    ("generic-x86", include_str!("../board/generic-x86.toml")),
    ("sim", include_str!("../board/sim.toml")),
];

#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    #[error("unknown board \"{0}\": use one of {known} (see board/README.md)", known = names().join(", "))]
    Unknown(String),
    #[error("board profile {name} is broken: {message} (a packaging bug: reinstall roombox)")]
    Broken { name: String, message: String },
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardProfile {
    pub board: BoardInfo,
    pub encoder: EncoderPreference,
    pub devices: BoardDevices,
    pub panel: BoardPanel,
    pub meeting: BoardMeeting,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardInfo {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderPreference {
    /// H.264 encoders to try, best first.
    pub preference: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardDevices {
    pub camera: VideoSource,
    pub capture: AudioDevice,
    pub playback: AudioDevice,
    pub display: DisplayOutput,
}

/// How big a meeting this board can host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardMeeting {
    /// Places in a meeting, this room included: each remote place costs a decoder.
    pub max_places: usize,
}

/// Where the front-panel button and LED are wired.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardPanel {
    pub backend: PanelBackend,
    /// The GPIO chip: its label (`pinctrl-bcm2711`) or device path (`/dev/gpiochip0`).
    pub chip: Option<String>,
    pub button_line: Option<u32>,
    pub led_line: Option<u32>,
    #[serde(default)]
    pub button_active_low: bool,
}

impl Default for BoardProfile {
    fn default() -> Self {
        generic()
    }
}

/// The names of the shipped profiles.
pub fn names() -> Vec<&'static str> {
    PROFILES.iter().map(|(name, _)| *name).collect()
}

/// The shipped profile called `name`.
pub fn profile(name: &str) -> Result<BoardProfile, BoardError> {
    let (_, text) = PROFILES.iter().find(|(n, _)| *n == name).ok_or_else(|| BoardError::Unknown(name.into()))?;
    let broken = |message: String| BoardError::Broken { name: name.into(), message };
    let profile: BoardProfile = toml::from_str(text).map_err(|e| broken(e.message().to_owned()))?;
    if profile.board.name != name {
        return Err(broken(format!("it calls itself \"{}\"", profile.board.name)));
    }
    if let Some(unknown) = profile.encoder.preference.iter().find(|e| !encoder::PREFERENCE.contains(&e.as_str())) {
        return Err(broken(format!("encoder \"{unknown}\" has no settings mapping")));
    }
    Ok(profile)
}

/// No board named: every known encoder in the generic order, `auto` devices, the sim panel.
pub fn generic() -> BoardProfile {
    BoardProfile {
        board: BoardInfo { name: "generic".into(), description: "no board profile (generic rules)".into() },
        encoder: EncoderPreference { preference: encoder::PREFERENCE.iter().map(|e| (*e).to_owned()).collect() },
        devices: BoardDevices {
            camera: VideoSource::Auto,
            capture: AudioDevice::Auto,
            playback: AudioDevice::Auto,
            display: DisplayOutput::Auto,
        },
        panel: BoardPanel {
            backend: PanelBackend::Sim,
            chip: None,
            button_line: None,
            led_line: None,
            button_active_low: false,
        },
        meeting: BoardMeeting { max_places: 4 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_profile_loads_and_names_itself() {
        for name in names() {
            let p = profile(name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(p.board.name, name);
            assert!(!p.encoder.preference.is_empty(), "{name} names no encoder");
            if p.panel.backend == PanelBackend::Gpio {
                assert!(
                    p.panel.chip.is_some() && p.panel.button_line.is_some() && p.panel.led_line.is_some(),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn the_boards_differ_where_the_hardware_does() {
        let rpi4 = profile("rpi4").unwrap();
        assert_eq!(rpi4.encoder.preference[0], "v4l2h264enc", "the Pi 4 has a hardware encoder");
        let rpi5 = profile("rpi5").unwrap();
        assert!(rpi5.encoder.preference.iter().all(|e| !encoder::is_hardware(e)), "the Pi 5 has none");
        assert_eq!(rpi5.panel.chip.as_deref(), Some("pinctrl-rp1"));
        assert!(profile("generic-x86").unwrap().encoder.preference[0].starts_with("va"));
        assert_eq!((rpi4.meeting.max_places, rpi5.meeting.max_places), (4, 3), "the Pi 5 decodes in software");
        let sim = profile("sim").unwrap();
        assert_eq!((sim.devices.camera, sim.panel.backend), (VideoSource::Test, PanelBackend::Sim));
    }

    #[test]
    fn an_unknown_board_lists_the_known_ones() {
        let err = profile("rpi3").unwrap_err().to_string();
        assert!(err.contains("unknown board \"rpi3\""), "{err}");
        assert!(err.contains("rpi4, rpi5, generic-x86, sim"), "{err}");
    }
}
