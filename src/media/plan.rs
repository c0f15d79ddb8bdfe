//! The media plan: what GStreamer elements a call uses, resolved once from the config and a
//! probe of this machine. Pure (the probe is plain data), so `auto` choices are unit tested and
//! `roombox check` can print exactly what a call would run.

use std::collections::BTreeMap;

use serde::Serialize;

use super::MediaError;
use super::encoder::{self, EncoderPlan, EncoderSettings};
use super::jitter::JitterBounds;
pub use super::probe::Probe;
use crate::config::{AudioDevice, Config, ControlValue, DisplayOutput, EncoderChoice, PipelineClock, VideoSource};
use crate::devices::audio;
use crate::devices::camera::{Camera, CameraId, choose_mode};
use crate::devices::mixer;

/// One resolved choice: the GStreamer fragment and, in words, what it is and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub fragment: String,
    pub description: String,
}

fn choice(fragment: impl Into<String>, description: impl Into<String>) -> Choice {
    Choice { fragment: fragment.into(), description: description.into() }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MediaPlan {
    pub room: String,
    pub video_source: Choice,
    /// The camera, when the video source is one.
    pub camera: Option<CameraId>,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub encoder: EncoderPlan,
    pub decoder: String,
    pub audio_source: Choice,
    pub audio_sink: Choice,
    pub display: Choice,
    /// Draw this room's own picture small in a corner of the screen.
    pub self_view: bool,
    /// The display is a real screen (KMS or a window): it shows the idle screen between calls.
    pub display_is_screen: bool,
    /// Mixer levels to set when a call starts, and the card whose capture switch mute cuts.
    pub mixer: MixerPlan,
    /// Echo cancelling, noise suppression and gain control on the microphone: a sound card
    /// or a custom source, never the built-in tone or silence (no room, so no echo).
    pub echo_cancel: bool,
    /// Configured devices or settings this machine does not have: `check` fails on them, a
    /// running room logs them and carries on (slate, silence).
    pub problems: Vec<String>,
    pub jitter: JitterBounds,
    pub render_deadline_ms: u32,
    /// Run on wall-clock time with base time 0 (timestamps are capture times).
    pub realtime_clock: bool,
    /// Places in a meeting, this room included (the room's media has a slot for each other).
    pub places: usize,
    /// The guest page's join link, shown as a QR code on the idle screen (`[guests]`).
    pub guest_link: Option<String>,
    /// The same link in a corner of the screen during a meeting (`show_link_in_call`).
    pub call_link: Option<String>,
    /// Lines the idle screen shows under the call to action (the box's address, a standing
    /// problem): set by the event loop as they change, kept across reloads.
    pub idle_notes: Vec<String>,
    /// Browser guests may join (their DTLS certificate is made before the first does).
    pub guests: bool,
}

impl MediaPlan {
    /// How many remote places the room's media makes room for.
    pub fn slots(&self) -> usize {
        self.places.saturating_sub(1).max(1)
    }
}

/// The sound cards behind the chosen ALSA devices and the levels the config asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MixerPlan {
    pub capture_card: Option<String>,
    pub playback_card: Option<String>,
    pub capture_percent: Option<u32>,
    pub playback_percent: Option<u32>,
}

/// The moving test picture, labelled with the room name so a receiver can tell who sent it.
pub fn test_pattern(room: &str) -> String {
    format!(
        "videotestsrc is-live=true pattern=smpte horizontal-speed=3 ! textoverlay text=\"{room}\" font-desc=\"Sans Bold 28\" valignment=top halignment=left shaded-background=true"
    )
}

/// The slate a call shows in place of a camera that is missing.
pub fn slate(message: &str) -> String {
    format!(
        "videotestsrc is-live=true pattern=solid-color foreground-color=0xff263238 ! textoverlay text=\"{message}\" font-desc=\"Sans 24\" valignment=center halignment=center"
    )
}

const TONE: &str = "audiotestsrc is-live=true samplesperbuffer=480 wave=sine freq=440 volume=0.25";
const SILENCE: &str = "audiotestsrc is-live=true samplesperbuffer=480 wave=silence";
const DISCARD: &str = "fakesink sync=true";

impl MediaPlan {
    pub fn resolve(config: &Config, probe: &Probe) -> Result<Self, MediaError> {
        let room = config.room.name.clone();
        let (w, h, fps) = (config.video.width.0, config.video.height.0, config.video.fps.0);
        let mut problems = Vec::new();
        let controls = &config.video.controls;
        let camera = match &config.video.source {
            VideoSource::Device(path) => probe.cameras.iter().find(|c| c.path == *path),
            VideoSource::Auto => probe.cameras.first(),
            _ => None,
        };
        let auto = if config.video.source == VideoSource::Auto { " (auto)" } else { "" };
        let video_source = match (&config.video.source, camera) {
            (_, Some(camera)) => camera_choice(camera, w, h, fps, auto, controls, &mut problems),
            (VideoSource::Test, _) => choice(test_pattern(&room), "test pattern"),
            (VideoSource::Pipeline(p), _) => choice(p.clone(), format!("custom source: {p}")),
            (VideoSource::Device(path), None) => {
                problems.push(format!(
                    "camera {} not found (cameras here: {}): check the cable, or use source = \"auto\"",
                    path.display(),
                    listed(probe.cameras.iter().map(|c| format!("{} {}", c.path.display(), c.card)))
                ));
                choice(
                    slate("camera unavailable"),
                    format!("slate: camera {} not found (check the cable, or `roombox devices`)", path.display()),
                )
            }
            (VideoSource::Auto, None) => choice(slate("camera unavailable"), "slate: no camera found (auto)"),
        };
        let camera = camera.map(Camera::id);
        let settings = EncoderSettings { bitrate_kbps: config.video.bitrate_kbps.0, fps: config.video.fps.0 };
        let requested = match &config.video.encoder {
            EncoderChoice::Auto => None,
            EncoderChoice::Element(e) => Some(e.as_str()),
        };
        let mut encoder =
            encoder::choose(requested, &config.profile.encoder.preference, settings, |e| probe.encoder(e))?;
        encoder.min_bitrate_kbps = config.min_bitrate_kbps();
        // openh264 decodes the Constrained Baseline our SDP negotiates with less than half the
        // memory and CPU of libav's decoder (see bench/results.md); libav is the fallback.
        let decoder =
            ["openh264dec", "avdec_h264"].into_iter().find(|d| probe.has(d)).ok_or(MediaError::NoDecoder)?.to_owned();
        let (display, display_is_screen) = display(&config.display.output, probe);
        let (mut audio_source, capture_pcm) = audio_source(&config.audio.capture, probe);
        let microphone = capture_pcm.is_some() || matches!(config.audio.capture, AudioDevice::Pipeline(_));
        let echo_cancel = config.audio.echo_cancel && microphone;
        if echo_cancel {
            audio_source.description += ", echo cancelling";
        }
        let (audio_sink, playback_pcm) = audio_sink(&config.audio.playback, probe);
        for (device, capture) in [(&config.audio.capture, true), (&config.audio.playback, false)] {
            if let AudioDevice::Alsa(name) = device
                && let Some(card) = mixer::card_of(name)
                && !probe.pcms.is_empty()
                && !probe.pcms.iter().any(|p| mixer::card_of(&p.name).as_deref() == Some(card.as_str()))
            {
                let what = if capture { "microphone" } else { "speaker" };
                let mut cards: Vec<String> = probe.pcms.iter().filter_map(|p| mixer::card_of(&p.name)).collect();
                cards.dedup();
                let cards = listed(cards.into_iter());
                problems.push(format!(
                    "{what} {name} not found (sound cards here: {cards}): check the cable, or use \"auto\""
                ));
            }
        }
        if config.display.output == DisplayOutput::Kms && !probe.dri {
            problems.push("display \"kms\": this machine has no /dev/dri/card* (no KMS driver loaded; on a Pi, enable dtoverlay=vc4-kms-v3d)".into());
        }
        if !controls.is_empty() && !matches!(config.video.source, VideoSource::Auto | VideoSource::Device(_)) {
            problems.push("[video.controls] apply to a camera, but the video source is not one".into());
        }
        let mixer = MixerPlan {
            capture_card: capture_pcm.as_deref().and_then(mixer::card_of),
            playback_card: playback_pcm.as_deref().and_then(mixer::card_of),
            capture_percent: config.audio.capture_volume_percent.map(|v| v.0),
            playback_percent: config.audio.playback_volume_percent.map(|v| v.0),
        };
        Ok(Self {
            room,
            video_source,
            camera,
            width: w,
            height: h,
            fps,
            encoder,
            decoder,
            audio_source,
            audio_sink,
            mixer,
            self_view: config.display.self_view,
            display_is_screen,
            problems,
            display,
            jitter: JitterBounds {
                min_ms: config.media.jitter_buffer_min_ms.0,
                max_ms: config.media.jitter_buffer_max_ms.0,
            },
            render_deadline_ms: config.media.render_deadline_ms.0,
            realtime_clock: config.media.clock == PipelineClock::Realtime,
            places: config.max_places(),
            guest_link: config.guests.link_to_show(),
            call_link: config.guests.link_to_show_in_call(),
            idle_notes: Vec::new(),
            guests: config.guests.enabled,
            echo_cancel,
        })
    }
}

fn listed(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    if items.is_empty() { "none".into() } else { items.join(", ") }
}

/// A camera in the mode that suits the call best (see `devices::camera::choose_mode`), with
/// the configured controls (v4l2src applies them each time it opens the camera).
fn camera_choice(
    camera: &Camera,
    w: u32,
    h: u32,
    fps: u32,
    note: &str,
    controls: &BTreeMap<String, ControlValue>,
    problems: &mut Vec<String>,
) -> Choice {
    let device = camera.path.display();
    let known: Vec<String> = camera.controls.iter().map(|c| control_name(c)).collect();
    let mut applied = Vec::new();
    for (name, value) in controls {
        if known.contains(name) {
            applied.push(format!("{name}={}", value.as_i64()));
        } else {
            problems
                .push(format!("camera {device} has no control \"{name}\" (it has: {})", listed(known.iter().cloned())));
        }
    }
    let source = if applied.is_empty() {
        format!("v4l2src device={device}")
    } else {
        format!("v4l2src device={device} extra-controls=\"c,{}\"", applied.join(","))
    };
    let set = if applied.is_empty() { String::new() } else { format!("; controls {}", applied.join(", ")) };
    match choose_mode(&camera.modes, w, h, fps) {
        Some(mode) => {
            choice(format!("{source} ! {}", mode.caps), format!("camera {device}{note}: {}{set}", mode.reason))
        }
        None => choice(source, format!("camera {device}{note}: no listed mode fits, GStreamer negotiates{set}")),
    }
}

/// A V4L2 control's name as v4l2-ctl and GStreamer write it: "Focus, Automatic Continuous"
/// → `focus_automatic_continuous`.
pub fn control_name(label: &str) -> String {
    let mut name = String::new();
    let mut gap = false;
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            if gap && !name.is_empty() {
                name.push('_');
            }
            name.push(c.to_ascii_lowercase());
            gap = false;
        } else {
            gap = true;
        }
    }
    name
}

/// What differs between the microphone and the speaker when choosing one.
struct SoundSide {
    capture: bool,
    element: &'static str,
    direction: &'static str,
    custom: &'static str,
    test: (&'static str, &'static str),
    null: (&'static str, &'static str),
    none_found: (&'static str, &'static str),
}

const MICROPHONE: SoundSide = SoundSide {
    capture: true,
    element: "alsasrc",
    direction: "capture",
    custom: "custom source",
    test: (TONE, "test tone (440 Hz)"),
    null: (SILENCE, "silence"),
    none_found: (SILENCE, "silence: no microphone found (auto)"),
};

const SPEAKER: SoundSide = SoundSide {
    capture: false,
    element: "alsasink",
    direction: "playback",
    custom: "custom sink",
    test: (DISCARD, "discarded (no speaker)"),
    null: (DISCARD, "discarded (no speaker)"),
    none_found: (DISCARD, "discarded: no speaker found (auto)"),
};

fn audio_source(device: &AudioDevice, probe: &Probe) -> (Choice, Option<String>) {
    sound(device, probe, &MICROPHONE)
}

fn audio_sink(device: &AudioDevice, probe: &Probe) -> (Choice, Option<String>) {
    sound(device, probe, &SPEAKER)
}

/// The microphone or speaker, and its ALSA PCM name when it is a sound card (for the mixer).
fn sound(device: &AudioDevice, probe: &Probe, side: &SoundSide) -> (Choice, Option<String>) {
    let alsa = |name: &str, note: String| {
        (
            choice(format!("{} device={name}", side.element), format!("ALSA {} {name}{note}", side.direction)),
            Some(name.to_owned()),
        )
    };
    match device {
        AudioDevice::Test => (choice(side.test.0, side.test.1), None),
        AudioDevice::Null => (choice(side.null.0, side.null.1), None),
        AudioDevice::Alsa(name) => alsa(name, String::new()),
        AudioDevice::Pipeline(p) => (choice(p.clone(), format!("{}: {p}", side.custom)), None),
        AudioDevice::Auto => match audio::choose(&probe.pcms, side.capture) {
            Some(pcm) => alsa(&pcm.name, format!(" (auto): {}", pcm.description)),
            None => (choice(side.none_found.0, side.none_found.1), None),
        },
    }
}

/// DRM drivers kmssink finds by itself (GStreamer 1.22), whose planes scale the picture to
/// the screen. Others are named to it, and the picture is scaled to the screen's mode first
/// (their one plane must cover the whole screen).
const KMSSINK_FINDS: &[&str] = &[
    "i915",
    "radeon",
    "nouveau",
    "vmwgfx",
    "exynos",
    "amdgpu",
    "imx-drm",
    "imx-lcdif",
    "rockchip",
    "rockchip-drm",
    "atmel-hlcdc",
    "msm",
    "xlnx",
    "vc4",
    "vc4-drm",
    "vc4_hdmi",
    "meson",
    "stm",
    "sun4i-drm",
    "mxsfb-drm",
    "tegra",
    "tidss",
    "xilinx_drm",
    "virtio_gpu",
];

fn kmssink(probe: &Probe) -> String {
    match (&probe.dri_driver, probe.screen_mode) {
        (Some(driver), Some((w, h))) if !KMSSINK_FINDS.contains(&driver.as_str()) => format!(
            "videoscale add-borders=true ! video/x-raw,width={w},height={h},pixel-aspect-ratio=1/1 ! kmssink driver-name={driver} force-modesetting=true"
        ),
        (Some(driver), None) if !KMSSINK_FINDS.contains(&driver.as_str()) => format!("kmssink driver-name={driver}"),
        _ => "kmssink".into(),
    }
}

/// The screen, and whether it is a real one (KMS or a window, which show the idle screen).
fn display(output: &DisplayOutput, probe: &Probe) -> (Choice, bool) {
    match output {
        DisplayOutput::Kms => (choice(kmssink(probe), "HDMI via KMS"), true),
        DisplayOutput::Window => (choice("autovideosink", "desktop window"), true),
        DisplayOutput::None => (choice(DISCARD, "no screen (picture kept for snapshots)"), false),
        DisplayOutput::Pipeline(p) => (choice(p.clone(), format!("custom sink: {p}")), false),
        DisplayOutput::Auto if probe.desktop => {
            (choice("autovideosink", "desktop window (auto: a desktop is running)"), true)
        }
        DisplayOutput::Auto if probe.dri => {
            (choice(kmssink(probe), "HDMI via KMS (auto: /dev/dri present, no desktop)"), true)
        }
        DisplayOutput::Auto => (choice(DISCARD, "no screen found (auto); picture kept for snapshots"), false),
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
