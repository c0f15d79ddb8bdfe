//! Looks at this machine: camera device nodes, sound cards, screens and which GStreamer
//! element factories are installed (hardware encoders must pass a self-test). The device
//! facts come from `devices`; the result is plain data for `MediaPlan::resolve`.

use std::path::Path;

use gstreamer as gst;

use super::encoder;
use crate::devices;
use crate::devices::audio::Pcm;
use crate::devices::camera::Camera;

/// Factories whose presence changes a plan.
const INTERESTING: &[&str] = &["avdec_h264", "openh264dec", "kmssink", "autovideosink", "alsasrc", "alsasink"];

pub fn detect() -> Probe {
    let others = INTERESTING.iter().copied().filter(|f| gst::init().is_ok() && gst::ElementFactory::find(f).is_some());
    let encoders = super::encoder::installed();
    let settings = super::encoder::EncoderSettings { bitrate_kbps: 2000, fps: 30 };
    let encoder_faults = encoders
        .iter()
        .filter(|e| super::encoder::is_hardware(e))
        .filter_map(|e| super::encoder::self_test(e, settings).err().map(|why| ((*e).to_owned(), why)))
        .collect();
    let factories = encoders.into_iter().chain(others).map(str::to_owned).collect();
    Probe {
        cameras: devices::camera::enumerate(Path::new("/dev")),
        pcms: devices::audio::enumerate(),
        dri: devices::has_drm(),
        dri_driver: devices::drm_driver(),
        screen_mode: devices::screen_mode(),
        desktop: std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some(),
        factories,
        encoder_faults,
    }
}

/// What this machine has, as far as choosing devices goes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Probe {
    pub cameras: Vec<Camera>,
    pub pcms: Vec<Pcm>,
    pub dri: bool,
    /// The kernel driver of the first DRM card (e.g. `vc4-drm`, `i915`, `bochs-drm`).
    pub dri_driver: Option<String>,
    /// The current (preferred) mode of the first connected screen, e.g. (1920, 1080).
    pub screen_mode: Option<(u32, u32)>,
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
