//! Validated config values. Each parses from its TOML string inside deserialization, so a bad
//! value is reported by `toml` with the position of that value and our advice as the message.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, de};

use crate::sdp::{Encryption, SrtpSuite};
use crate::sip::SipUri;

/// Where the camera picture comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoSource {
    /// The first V4L2 capture device, else the test pattern.
    Auto,
    /// A moving test pattern (no camera needed).
    Test,
    /// A V4L2 device node.
    Device(PathBuf),
    /// A GStreamer source fragment, e.g. `videotestsrc pattern=ball is-live=true`.
    Pipeline(String),
}

/// Where microphone audio comes from, or where remote audio goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioDevice {
    Auto,
    /// A tone (capture) or a silent sink (playback).
    Test,
    /// Silence in, discard out.
    Null,
    /// An ALSA PCM name, e.g. `hw:1,0`, `plughw:CARD=Speaker`, `default`.
    Alsa(String),
    /// A GStreamer source (capture) or sink (playback) fragment.
    Pipeline(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisplayOutput {
    Auto,
    /// kmssink straight to HDMI (no desktop).
    Kms,
    /// A desktop window (autovideosink).
    Window,
    /// No screen (the picture is still kept for `ctl snapshot`).
    None,
    /// A GStreamer sink fragment, e.g. for a benchmark probe.
    Pipeline(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncoderChoice {
    Auto,
    /// A GStreamer element name, e.g. `x264enc`, `v4l2h264enc`.
    Element(String),
}

/// The clock media runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipelineClock {
    /// Steady, immune to wall-clock steps (the right choice for a room).
    Monotonic,
    /// Wall-clock time with base time 0, so every timestamp is a capture time (benchmarks).
    Realtime,
}

impl TryFrom<String> for PipelineClock {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        match text.as_str() {
            "monotonic" => Ok(Self::Monotonic),
            "realtime" => Ok(Self::Realtime),
            other => Err(format!(
                "unknown clock \"{other}\": use \"monotonic\" (default) or \"realtime\" (for latency benchmarks)"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelBackend {
    /// The board profile's choice (the sim panel without a board).
    Auto,
    /// Driven by `roombox ctl press` / `long-press`.
    Sim,
    /// A button and an LED on GPIO lines, through the kernel's GPIO character device.
    Gpio,
    /// The same on a Raspberry Pi through `rppal`, with a dimmable (PWM) LED.
    Rppal,
}

fn is_fragment(text: &str) -> bool {
    text.contains(' ') || text.contains('!') || text.contains('=')
}

impl TryFrom<String> for VideoSource {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Ok(match text.as_str() {
            "auto" => Self::Auto,
            "test" => Self::Test,
            "" => return Err(
                "video source is empty: use \"auto\", \"test\", a device like \"/dev/video0\" or a GStreamer source"
                    .into(),
            ),
            path if path.starts_with("/dev/") => Self::Device(path.into()),
            fragment if is_fragment(fragment) || fragment.ends_with("src") => Self::Pipeline(text),
            other => {
                return Err(format!(
                    "unknown video source \"{other}\": use \"auto\", \"test\", a device like \"/dev/video0\", or a GStreamer source such as \"videotestsrc is-live=true\""
                ));
            }
        })
    }
}

impl TryFrom<String> for AudioDevice {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Ok(match text.as_str() {
            "auto" => Self::Auto,
            "test" => Self::Test,
            "null" => Self::Null,
            "" => {
                return Err(
                    "audio device is empty: use \"auto\", \"test\", \"null\" or an ALSA name like \"hw:1,0\"".into()
                );
            }
            // ALSA names may contain '=' (plughw:CARD=Speaker) but never spaces.
            fragment if fragment.contains(' ') || fragment.contains('!') => Self::Pipeline(text),
            alsa if alsa.chars().all(|c| c.is_ascii_alphanumeric() || ":,=_-.".contains(c)) => Self::Alsa(text),
            other => {
                return Err(format!(
                    "\"{other}\" is not an audio device: use \"auto\", \"test\", \"null\" an ALSA name like \"hw:1,0\" (see `aplay -L`) or a GStreamer element"
                ));
            }
        })
    }
}

impl TryFrom<String> for DisplayOutput {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Ok(match text.as_str() {
            "auto" => Self::Auto,
            "kms" => Self::Kms,
            "window" => Self::Window,
            "none" => Self::None,
            fragment if is_fragment(fragment) || fragment.ends_with("sink") => Self::Pipeline(text),
            other => {
                return Err(format!(
                    "unknown display \"{other}\": use \"auto\", \"kms\", \"window\", \"none\" or a GStreamer sink"
                ));
            }
        })
    }
}

impl TryFrom<String> for EncoderChoice {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        match text.as_str() {
            "auto" => Ok(Self::Auto),
            name if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') => {
                Ok(Self::Element(text))
            }
            other => Err(format!(
                "\"{other}\" is not an encoder element name: use \"auto\" or e.g. \"x264enc\", \"v4l2h264enc\" (see `roombox check`)"
            )),
        }
    }
}

impl TryFrom<String> for PanelBackend {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        match text.as_str() {
            "auto" => Ok(Self::Auto),
            "sim" => Ok(Self::Sim),
            "gpio" => Ok(Self::Gpio),
            "rppal" if cfg!(feature = "rppal") => Ok(Self::Rppal),
            "rppal" => {
                Err("this roombox was built without the rppal feature: use backend = \"gpio\" (works on every Pi)"
                    .into())
            }
            other => Err(format!(
                "unknown panel backend \"{other}\": use \"auto\", \"gpio\", \"rppal\" or \"sim\" (driven by `roombox ctl press`)"
            )),
        }
    }
}

macro_rules! deserialize_via_string {
    ($($t:ty),*) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Self::try_from(String::deserialize(d)?).map_err(de::Error::custom)
            }
        }
    )*};
}
deserialize_via_string!(
    VideoSource,
    AudioDevice,
    DisplayOutput,
    EncoderChoice,
    PanelBackend,
    PipelineClock,
    BoardName,
    EncryptionSetting,
    SuiteName
);

/// `[call] encryption`: whether calls use SRTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncryptionSetting(pub Encryption);

impl TryFrom<String> for EncryptionSetting {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        [Encryption::Required, Encryption::Optional, Encryption::Off]
            .into_iter()
            .find(|e| e.name() == text)
            .map(Self)
            .ok_or_else(|| {
                format!(
                    "unknown encryption \"{text}\": use \"required\" (default: SRTP or no call), \"optional\" \
                     (SRTP when the peer has it) or \"off\" (plain RTP)"
                )
            })
    }
}

/// One entry of `[call] srtp_suites`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuiteName(pub SrtpSuite);

impl TryFrom<String> for SuiteName {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        SrtpSuite::from_name(&text).map(Self).ok_or_else(|| {
            let known: Vec<&str> = SrtpSuite::ALL.iter().map(|s| s.name()).collect();
            format!("unknown SRTP suite \"{text}\": roombox speaks {}", known.join(" and "))
        })
    }
}

/// A shipped board profile's name (see `board/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardName(pub String);

impl TryFrom<String> for BoardName {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        // Only the name here: the profile itself is read once, when the config applies it.
        if crate::board::names().contains(&text.as_str()) {
            Ok(Self(text))
        } else {
            Err(crate::board::BoardError::Unknown(text).to_string())
        }
    }
}

/// A camera control's value: a number (brightness = 140) or a switch (focus_automatic_continuous = false).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ControlValue {
    Number(i64),
    Switch(bool),
}

impl ControlValue {
    pub fn as_i64(self) -> i64 {
        match self {
            Self::Number(n) => n,
            Self::Switch(b) => i64::from(b),
        }
    }
}

/// A `sip:` URI whose host is an IP address (roombox dials peers directly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerUri(pub SipUri);

impl<'de> Deserialize<'de> for PeerUri {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let uri: SipUri = text.parse().map_err(|e| de::Error::custom(format!("{e}")))?;
        if uri.ip().is_none() {
            return Err(de::Error::custom(format!(
                "\"{text}\" names a host, not an IP address: roombox dials directly, e.g. \"sip:oslo@192.0.2.10:5060\""
            )));
        }
        Ok(Self(uri))
    }
}

/// An entry of the allow list: a peer URI, or `"*"` for anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowValue {
    Anyone,
    Peer(SipUri),
}

impl<'de> Deserialize<'de> for AllowValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text == "*" {
            return Ok(Self::Anyone);
        }
        PeerUri::deserialize(de::value::StringDeserializer::<D::Error>::new(text)).map(|p| Self::Peer(p.0))
    }
}

/// A whole number in `MIN..=MAX` (checked where it is written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bounded<const MIN: u32, const MAX: u32>(pub u32);

impl<'de, const MIN: u32, const MAX: u32> Deserialize<'de> for Bounded<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = i64::deserialize(d)?;
        u32::try_from(value).ok().filter(|v| (MIN..=MAX).contains(v)).map(Self).ok_or_else(|| {
            de::Error::custom(format!("{value} is out of range: use a whole number from {MIN} to {MAX}"))
        })
    }
}

impl<const MIN: u32, const MAX: u32> fmt::Display for Bounded<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A duration in seconds, written as a whole or decimal number (`10`, `0.5`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seconds(pub f64);

impl Seconds {
    pub fn duration(self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.0)
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Seconds;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of seconds, e.g. 10 or 0.5")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seconds, E> {
                self.visit_f64(v as f64)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seconds, E> {
                self.visit_f64(v as f64)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Seconds, E> {
                if (0.05..=3600.0).contains(&v) {
                    Ok(Seconds(v))
                } else {
                    Err(E::custom(format!("{v} s is out of range: use 0.05 to 3600 seconds")))
                }
            }
        }
        d.deserialize_any(V)
    }
}
