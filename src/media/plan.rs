//! The media plan: what GStreamer elements a call uses, resolved once from the config and a
//! probe of this machine. Pure (the probe is plain data), so `auto` choices are unit tested and
//! `roombox check` can print exactly what a call would run.

use serde::Serialize;

use super::MediaError;
use super::encoder::{self, EncoderPlan, EncoderSettings};
use super::jitter::JitterBounds;
use crate::config::{AudioDevice, Config, DisplayOutput, EncoderChoice, PipelineClock, VideoSource};
use crate::devices::audio::{self, Pcm};
use crate::devices::camera::{Camera, choose_mode};

/// What this machine has, as far as choosing devices goes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Probe {
    pub cameras: Vec<Camera>,
    pub pcms: Vec<Pcm>,
    pub dri: bool,
    pub desktop: bool,
    /// GStreamer element factories that exist here.
    pub factories: Vec<String>,
    /// Encoders whose factory exists but which failed their self-test, with the error.
    pub encoder_faults: Vec<(String, String)>,
}

impl Probe {
    pub fn has(&self, factory: &str) -> bool {
        self.factories.iter().any(|f| f == factory)
    }

    pub fn encoder(&self, element: &str) -> encoder::Availability {
        if let Some((_, why)) = self.encoder_faults.iter().find(|(e, _)| e == element) {
            return encoder::Availability::Broken(why.clone());
        }
        if self.has(element) { encoder::Availability::Usable } else { encoder::Availability::Missing }
    }
}

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
    /// The camera's device node, when the video source is a camera.
    pub camera_device: Option<std::path::PathBuf>,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub encoder: EncoderPlan,
    pub decoder: String,
    pub audio_source: Choice,
    pub audio_sink: Choice,
    pub display: Choice,
    pub jitter: JitterBounds,
    pub render_deadline_ms: u32,
    /// Run on wall-clock time with base time 0 (timestamps are capture times).
    pub realtime_clock: bool,
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
        let video_source = match &config.video.source {
            VideoSource::Test => choice(test_pattern(&room), "test pattern"),
            VideoSource::Pipeline(p) => choice(p.clone(), format!("custom source: {p}")),
            VideoSource::Device(path) => match probe.cameras.iter().find(|c| c.path == *path) {
                Some(camera) => camera_choice(camera, w, h, fps, ""),
                None => choice(
                    slate("camera unavailable"),
                    format!("slate: camera {} not found (check the cable, or `roombox devices`)", path.display()),
                ),
            },
            VideoSource::Auto => match probe.cameras.first() {
                Some(camera) => camera_choice(camera, w, h, fps, " (auto)"),
                None => choice(slate("camera unavailable"), "slate: no camera found (auto)"),
            },
        };
        let camera_device = match &config.video.source {
            VideoSource::Device(path) => probe.cameras.iter().any(|c| c.path == *path).then(|| path.clone()),
            VideoSource::Auto => probe.cameras.first().map(|c| c.path.clone()),
            _ => None,
        };
        let settings = EncoderSettings { bitrate_kbps: config.video.bitrate_kbps.0, fps: config.video.fps.0 };
        let requested = match &config.video.encoder {
            EncoderChoice::Auto => None,
            EncoderChoice::Element(e) => Some(e.as_str()),
        };
        let encoder = encoder::choose(requested, &config.profile.encoder.preference, settings, |e| probe.encoder(e))?;
        // openh264 decodes the Constrained Baseline our SDP negotiates with less than half the
        // memory and CPU of libav's decoder (see bench/results.md); libav is the fallback.
        let decoder =
            ["openh264dec", "avdec_h264"].into_iter().find(|d| probe.has(d)).ok_or(MediaError::NoDecoder)?.to_owned();
        Ok(Self {
            room,
            video_source,
            camera_device,
            width: config.video.width.0,
            height: config.video.height.0,
            fps: config.video.fps.0,
            encoder,
            decoder,
            audio_source: audio_source(&config.audio.capture, probe),
            audio_sink: audio_sink(&config.audio.playback, probe),
            display: display(&config.display.output, probe),
            jitter: JitterBounds {
                min_ms: config.media.jitter_buffer_min_ms.0,
                max_ms: config.media.jitter_buffer_max_ms.0,
            },
            render_deadline_ms: config.media.render_deadline_ms.0,
            realtime_clock: config.media.clock == PipelineClock::Realtime,
        })
    }
}

/// A camera in the mode that suits the call best (see `devices::camera::choose_mode`).
fn camera_choice(camera: &Camera, w: u32, h: u32, fps: u32, note: &str) -> Choice {
    let device = camera.path.display();
    match choose_mode(&camera.modes, w, h, fps) {
        Some(mode) => choice(
            format!("v4l2src device={device} ! {}", mode.caps),
            format!("camera {device}{note}: {}", mode.reason),
        ),
        None => choice(
            format!("v4l2src device={device}"),
            format!("camera {device}{note}: no listed mode fits, GStreamer negotiates"),
        ),
    }
}

fn audio_source(device: &AudioDevice, probe: &Probe) -> Choice {
    match device {
        AudioDevice::Test => choice(TONE, "test tone (440 Hz)"),
        AudioDevice::Null => choice(SILENCE, "silence"),
        AudioDevice::Alsa(name) => choice(format!("alsasrc device={name}"), format!("ALSA capture {name}")),
        AudioDevice::Pipeline(p) => choice(p.clone(), format!("custom source: {p}")),
        AudioDevice::Auto => match audio::choose(&probe.pcms, true) {
            Some(pcm) => choice(
                format!("alsasrc device={}", pcm.name),
                format!("ALSA capture {} (auto): {}", pcm.name, pcm.description),
            ),
            None => choice(SILENCE, "silence: no microphone found (auto)"),
        },
    }
}

fn audio_sink(device: &AudioDevice, probe: &Probe) -> Choice {
    match device {
        AudioDevice::Test | AudioDevice::Null => choice(DISCARD, "discarded (no speaker)"),
        AudioDevice::Alsa(name) => choice(format!("alsasink device={name}"), format!("ALSA playback {name}")),
        AudioDevice::Pipeline(p) => choice(p.clone(), format!("custom sink: {p}")),
        AudioDevice::Auto => match audio::choose(&probe.pcms, false) {
            Some(pcm) => choice(
                format!("alsasink device={}", pcm.name),
                format!("ALSA playback {} (auto): {}", pcm.name, pcm.description),
            ),
            None => choice(DISCARD, "discarded: no speaker found (auto)"),
        },
    }
}

fn display(output: &DisplayOutput, probe: &Probe) -> Choice {
    match output {
        DisplayOutput::Kms => choice("kmssink", "HDMI via KMS"),
        DisplayOutput::Window => choice("autovideosink", "desktop window"),
        DisplayOutput::None => choice(DISCARD, "no screen (picture kept for snapshots)"),
        DisplayOutput::Pipeline(p) => choice(p.clone(), format!("custom sink: {p}")),
        DisplayOutput::Auto if probe.desktop => choice("autovideosink", "desktop window (auto: a desktop is running)"),
        DisplayOutput::Auto if probe.dri => choice("kmssink", "HDMI via KMS (auto: /dev/dri present, no desktop)"),
        DisplayOutput::Auto => choice(DISCARD, "no screen found (auto); picture kept for snapshots"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe() -> Probe {
        Probe { factories: vec!["x264enc".into(), "avdec_h264".into()], ..Probe::default() }
    }

    #[test]
    fn the_builtin_config_needs_no_devices() {
        let plan = MediaPlan::resolve(&Config::builtin(), &probe()).unwrap();
        assert!(plan.video_source.fragment.starts_with("videotestsrc"));
        assert!(plan.video_source.fragment.contains("roombox"), "the picture names the room");
        assert_eq!(plan.audio_source.fragment, TONE);
        assert_eq!(plan.display.fragment, DISCARD);
        assert_eq!(plan.encoder.element, "x264enc");
    }

    #[test]
    fn auto_uses_a_camera_and_sound_card_when_present_and_kms_without_a_desktop() {
        let camera = Camera {
            path: "/dev/video0".into(),
            card: "C920".into(),
            driver: "uvcvideo".into(),
            bus: "usb".into(),
            modes: vec![crate::devices::camera::Mode {
                fourcc: "MJPG".into(),
                width: 1280,
                height: 720,
                fps: vec![30.0],
            }],
            controls: vec![],
        };
        let usb = Pcm {
            name: "plughw:CARD=Speaker,DEV=0".into(),
            description: "USB Audio".into(),
            capture: true,
            playback: true,
        };
        let p = Probe { cameras: vec![camera], pcms: vec![usb], dri: true, ..probe() };
        let plan = MediaPlan::resolve(&Config::default(), &p).unwrap();
        assert_eq!(
            plan.video_source.fragment,
            "v4l2src device=/dev/video0 ! image/jpeg,width=1280,height=720,framerate=30/1 ! jpegdec"
        );
        assert!(plan.video_source.description.contains("MJPG 1280x720"), "{}", plan.video_source.description);
        assert_eq!(plan.audio_source.fragment, "alsasrc device=plughw:CARD=Speaker,DEV=0");
        assert_eq!(plan.audio_sink.fragment, "alsasink device=plughw:CARD=Speaker,DEV=0");
        assert_eq!(plan.display.fragment, "kmssink");
    }

    #[test]
    fn auto_without_devices_shows_a_slate_and_sends_silence_not_a_tone() {
        let plan = MediaPlan::resolve(&Config::default(), &probe()).unwrap();
        assert!(plan.video_source.fragment.contains("camera unavailable"));
        assert_eq!(plan.audio_source.fragment, SILENCE);
        assert!(plan.display.description.contains("no screen"));
    }

    #[test]
    fn openh264_is_the_preferred_decoder_and_libav_the_fallback() {
        let both =
            Probe { factories: vec!["x264enc".into(), "avdec_h264".into(), "openh264dec".into()], ..Probe::default() };
        assert_eq!(MediaPlan::resolve(&Config::builtin(), &both).unwrap().decoder, "openh264dec");
        assert_eq!(MediaPlan::resolve(&Config::builtin(), &probe()).unwrap().decoder, "avdec_h264");
    }

    #[test]
    fn no_h264_decoder_is_an_error_with_the_package_to_install() {
        let p = Probe { factories: vec!["x264enc".into()], ..Probe::default() };
        let err = MediaPlan::resolve(&Config::builtin(), &p).unwrap_err();
        assert!(err.to_string().contains("gstreamer1.0-libav"), "{err}");
    }
}
