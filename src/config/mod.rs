//! The room's configuration: one TOML file (default `/etc/roombox/roombox.toml`), plain data
//! with named defaults, validated once at load. Every mistake is reported as
//! `file:line:column: what is wrong` plus a hint (see `values.rs` for the value types).

mod checks;
mod defaults;
mod fields;
mod guests;
mod hints;
mod values;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use values::{
    AllowValue, AudioDevice, BoardName, Bounded, ControlValue, DisplayOutput, EncoderChoice, EncryptionSetting,
    PanelBackend, PeerUri, PipelineClock, Seconds, SuiteName, VideoSource,
};

use std::collections::BTreeMap;

use crate::board::{self, BoardProfile};

use crate::meeting::{AllowEntry, AllowList, Timing};
use crate::sdp::SrtpPolicy;
pub use guests::GuestsConfig;
use hints::{hint_for, line_column};

pub const DEFAULT_PATH: &str = "/etc/roombox/roombox.toml";
pub const DEFAULT_SOCKET: &str = "/run/roombox/control.sock";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}:{line}:{column}: {message}{hint}")]
    Invalid { path: String, line: usize, column: usize, message: String, hint: String },
    #[error("{path}: {message}")]
    Unplaced { path: String, message: String },
    #[error("cannot read {path}: {source} (check the path and that the roombox user may read it)")]
    Unreadable { path: String, source: std::io::Error },
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// A board profile from `board/` (rpi4, rpi5, generic-x86, sim); it fills in what is `auto`.
    pub board: Option<BoardName>,
    /// The selected profile (the generic rules without `board`), applied at load.
    #[serde(skip)]
    pub profile: BoardProfile,
    pub room: RoomConfig,
    pub sip: SipConfig,
    pub call: CallConfig,
    pub video: VideoConfig,
    pub audio: AudioConfig,
    pub display: DisplayConfig,
    pub panel: PanelConfig,
    pub control: ControlConfig,
    pub media: MediaConfig,
    pub log: LogConfig,
    pub guests: GuestsConfig,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoomConfig {
    /// Shown on the idle screen and used as our SIP user name.
    #[serde(deserialize_with = "fields::room_name")]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipConfig {
    /// Address and port for SIP over UDP (and TCP, with `tcp`).
    #[serde(deserialize_with = "fields::socket_addr")]
    pub listen: SocketAddr,
    /// Take SIP over TCP on the same address too.
    pub tcp: bool,
    /// Address and port for SIP over TLS (`sips:` peers call here); unset: no TLS listener.
    #[serde(deserialize_with = "fields::optional_socket_addr")]
    pub tls_listen: Option<SocketAddr>,
    /// The room's TLS certificate and key (PEM); made self-signed on first start if missing.
    pub tls_certificate: PathBuf,
    pub tls_key: PathBuf,
    /// Trust peers whose certificate this CA (PEM) signed.
    pub tls_ca: Option<PathBuf>,
    /// Trust peers whose certificate has one of these SHA-256 fingerprints (as `check` prints).
    pub tls_pinned: Vec<String>,
}

/// Where the room keeps its TLS identity when the config names no other place.
pub const DEFAULT_TLS_DIR: &str = "/var/lib/roombox/tls";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallConfig {
    /// Who to call when the button is pressed (the first entry, for now).
    pub peers: Vec<PeerUri>,
    /// Who may call in; empty means only the configured peers, `"*"` anyone.
    pub allow: Vec<AllowValue>,
    pub auto_answer: bool,
    /// Places in a meeting this room hosts, itself included (default: the board's figure).
    pub max_places: Option<Bounded<2, 4>>,
    pub dial_timeout_s: Seconds,
    pub ring_timeout_s: Seconds,
    pub peer_timeout_s: Seconds,
    /// A leg that receives no media this long is ended (it shows as interrupted after 3 s).
    pub media_timeout_s: Seconds,
    /// A leg whose media (camera, sound card, encoder) has not started this long is ended.
    pub media_start_timeout_s: Seconds,
    /// SRTP: "required" (default), "optional" or "off".
    pub encryption: EncryptionSetting,
    /// The SRTP suites offered and accepted, most preferred first.
    pub srtp_suites: Vec<SuiteName>,
    /// Send media to an SDP address other than the SIP peer's (a media relay on another host).
    pub allow_media_elsewhere: bool,
    /// Hardened: SRTP keys (SDES) only inside SIP over TLS; encrypted calls over UDP/TCP refused.
    pub keys_only_over_tls: bool,
}

/// The bitrate floor of rate adaptation when the config names none (kbit/s).
pub const DEFAULT_MIN_BITRATE_KBPS: u32 = 200;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VideoConfig {
    pub source: VideoSource,
    pub width: Bounded<64, 3840>,
    pub height: Bounded<64, 2160>,
    pub fps: Bounded<1, 60>,
    pub bitrate_kbps: Bounded<100, 20000>,
    /// The lowest bitrate rate adaptation goes to on a poor path (at most `bitrate_kbps`);
    /// unset: [`DEFAULT_MIN_BITRATE_KBPS`], or `bitrate_kbps` if that is lower.
    pub min_bitrate_kbps: Option<Bounded<50, 20000>>,
    pub encoder: EncoderChoice,
    /// Camera controls by name, as `roombox devices` lists them (brightness, exposure_time_absolute,
    /// focus_automatic_continuous…), applied when a call opens the camera.
    pub controls: BTreeMap<String, ControlValue>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AudioConfig {
    pub capture: AudioDevice,
    pub playback: AudioDevice,
    /// Microphone gain and speaker volume set through the sound card's mixer when a call
    /// starts (percent of the control's range); unset leaves the mixer alone.
    pub capture_volume_percent: Option<Bounded<0, 100>>,
    pub playback_volume_percent: Option<Bounded<0, 100>>,
    /// Echo cancelling, noise suppression and gain control on the microphone (webrtcdsp).
    pub echo_cancel: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DisplayConfig {
    pub output: DisplayOutput,
    /// This room's own picture, small in the bottom-right corner during a call.
    pub self_view: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PanelConfig {
    pub backend: PanelBackend,
    /// GPIO chip label (`pinctrl-bcm2711`) or path (`/dev/gpiochip0`); default from the board.
    pub chip: Option<String>,
    pub button_line: Option<u32>,
    pub led_line: Option<u32>,
    /// The button pulls its line to ground when pressed (the internal pull-up is enabled).
    pub button_active_low: Option<bool>,
    /// Held this long, a press is a long press (mute).
    pub long_press_ms: Bounded<300, 10000>,
    /// LED brightness (PWM) with the rppal backend.
    pub led_brightness_percent: Bounded<1, 100>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControlConfig {
    pub socket: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// The receive jitter buffer adapts to measured jitter between these bounds (ms).
    pub jitter_buffer_min_ms: Bounded<0, 2000>,
    pub jitter_buffer_max_ms: Bounded<0, 2000>,
    /// Time allowed to decode and draw a frame before it is due on screen (ms).
    pub render_deadline_ms: Bounded<0, 200>,
    /// "monotonic", or "realtime" (timestamps are capture times: latency benchmarks).
    pub clock: PipelineClock,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// error, warn, info, debug or trace (RUST_LOG overrides it).
    #[serde(deserialize_with = "fields::log_level")]
    pub level: String,
}

macro_rules! section_defaults {
    ($($t:ident . $field:ident),*) => {$(
        impl Default for $t {
            fn default() -> Self {
                Config::default().$field
            }
        }
    )*};
}
section_defaults!(
    RoomConfig.room,
    SipConfig.sip,
    CallConfig.call,
    VideoConfig.video,
    AudioConfig.audio,
    DisplayConfig.display,
    PanelConfig.panel,
    ControlConfig.control,
    MediaConfig.media,
    LogConfig.log
);

/// Where a hardware panel's button and LED are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PanelLines<'a> {
    pub chip: &'a str,
    pub button: u32,
    pub led: u32,
    pub button_active_low: bool,
}

impl PanelConfig {
    /// The lines, from `[panel]` or the board profile. A loaded config with a GPIO backend
    /// always has them (`Config::parse` checks), so the fallbacks only serve the sim panel.
    pub fn lines(&self) -> PanelLines<'_> {
        PanelLines {
            chip: self.chip.as_deref().unwrap_or("gpiochip0"),
            button: self.button_line.unwrap_or(0),
            led: self.led_line.unwrap_or(0),
            button_active_low: self.button_active_low.unwrap_or(false),
        }
    }
}

impl Config {
    /// The configuration used when no file exists: works on a machine with no devices at all.
    pub fn builtin() -> Self {
        let mut config = Self { board: Some(BoardName("sim".into())), ..Self::default() };
        // The sim profile is compiled in and loaded by a unit test.
        let _ = config.apply_board();
        config
    }

    /// Selects the board profile and lets it fill in whatever is left at `auto`.
    fn apply_board(&mut self) -> Result<(), board::BoardError> {
        self.profile = match &self.board {
            Some(name) => board::profile(&name.0)?,
            None => board::generic(),
        };
        let p = &self.profile;
        if self.video.source == VideoSource::Auto {
            self.video.source = p.devices.camera.clone();
        }
        if self.audio.capture == AudioDevice::Auto {
            self.audio.capture = p.devices.capture.clone();
        }
        if self.audio.playback == AudioDevice::Auto {
            self.audio.playback = p.devices.playback.clone();
        }
        if self.display.output == DisplayOutput::Auto {
            self.display.output = p.devices.display.clone();
        }
        let panel = &mut self.panel;
        if panel.backend == PanelBackend::Auto {
            panel.backend = p.panel.backend;
        }
        panel.chip = panel.chip.take().or_else(|| p.panel.chip.clone());
        panel.button_line = panel.button_line.or(p.panel.button_line);
        panel.led_line = panel.led_line.or(p.panel.led_line);
        panel.button_active_low = panel.button_active_low.or(Some(p.panel.button_active_low));
        Ok(())
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Unreadable { path: path.display().to_string(), source })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let mut config: Self = toml::from_str(text).map_err(|e| {
            let message = e.message().trim_end_matches('\n').to_owned();
            let hint = hint_for(&message);
            match e.span() {
                Some(span) => {
                    let (line, column) = line_column(text, span.start);
                    ConfigError::Invalid { path: origin.into(), line, column, message, hint }
                }
                None => ConfigError::Unplaced { path: origin.into(), message: format!("{message}{hint}") },
            }
        })?;
        config.apply_board().map_err(|e| ConfigError::Unplaced { path: origin.into(), message: e.to_string() })?;
        let checked = config
            .check_panel()
            .and_then(|()| config.check_video())
            .and_then(|()| config.check_call())
            .and_then(|()| config.guests.check());
        checked.map_err(|message| ConfigError::Unplaced { path: origin.into(), message })?;
        Ok(config)
    }

    pub fn allow_list(&self) -> AllowList {
        if self.call.allow.contains(&AllowValue::Anyone) {
            return AllowList::Anyone;
        }
        let explicit = self.call.allow.iter().filter_map(|a| match a {
            AllowValue::Peer(uri) => Some(uri.clone()),
            AllowValue::Anyone => None,
        });
        let peers = self.call.peers.iter().map(|p| p.0.clone());
        AllowList::Only(explicit.chain(peers).map(AllowEntry).collect())
    }

    /// Places in a meeting this room hosts: `[call] max_places`, else the board's figure.
    pub fn max_places(&self) -> usize {
        self.call.max_places.map_or(self.profile.meeting.max_places, |m| m.0 as usize)
    }

    pub fn timing(&self) -> Timing {
        Timing {
            dial_timeout: self.call.dial_timeout_s.duration(),
            ring_timeout: self.call.ring_timeout_s.duration(),
            peer_timeout: self.call.peer_timeout_s.duration(),
            media_timeout: self.call.media_timeout_s.duration(),
            media_start_timeout: self.call.media_start_timeout_s.duration(),
            ..Timing::default()
        }
    }
}
