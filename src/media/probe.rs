//! Looks at this machine: camera device nodes, sound cards, screens and which GStreamer
//! element factories are installed (hardware encoders must pass a self-test). The device
//! facts come from `devices`; the result is plain data for `MediaPlan::resolve`.

use std::path::Path;

use gstreamer as gst;

use super::plan::Probe;
use crate::devices;

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
