//! Looks at this machine: camera device nodes, sound cards, screens and which GStreamer
//! element factories are installed (hardware encoders must pass a self-test). The result is plain data for `MediaPlan::resolve`.

use std::path::Path;

use gstreamer as gst;

use super::plan::Probe;

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
        cameras: crate::devices::camera::enumerate(Path::new("/dev")),
        pcms: crate::devices::audio::enumerate(),
        dri: std::fs::read_dir("/dev/dri")
            .is_ok_and(|mut d| d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("card")))),
        dri_driver: dri_driver(Path::new("/sys/class/drm")),
        screen_mode: screen_mode(),
        desktop: std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some(),
        factories,
        encoder_faults,
    }
}

/// The kernel driver behind the first DRM card, from its `uevent` (`DRIVER=vc4-drm`).
fn dri_driver(drm: &Path) -> Option<String> {
    let mut cards: Vec<_> = std::fs::read_dir(drm)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("card") && !n.contains('-'))
        .collect();
    cards.sort();
    cards.iter().find_map(|card| {
        let uevent = std::fs::read_to_string(drm.join(card).join("device/uevent")).ok()?;
        uevent.lines().find_map(|l| l.strip_prefix("DRIVER=")).map(str::to_owned)
    })
}

/// The first connected screen's preferred mode (listed first by the kernel).
fn screen_mode() -> Option<(u32, u32)> {
    let displays = crate::devices::probe_displays();
    let mode = displays.iter().find(|d| d.connected)?.modes.first()?.clone();
    let (w, h) = mode.split_once('x')?;
    Some((w.parse().ok()?, h.trim_end_matches(|c: char| !c.is_ascii_digit()).parse().ok()?))
}
