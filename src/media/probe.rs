//! Looks at this machine: camera device nodes, sound cards, screens and which GStreamer
//! element factories are installed. The result is plain data for `MediaPlan::resolve`.

use std::path::{Path, PathBuf};

use gstreamer as gst;

use super::encoder::PREFERENCE;
use super::plan::Probe;

/// Factories whose presence changes a plan.
const INTERESTING: &[&str] = &["avdec_h264", "openh264dec", "kmssink", "autovideosink", "alsasrc", "alsasink"];

pub fn detect() -> Probe {
    let factories = PREFERENCE
        .iter()
        .chain(INTERESTING)
        .filter(|f| gst::init().is_ok() && gst::ElementFactory::find(f).is_some())
        .map(|f| f.to_string())
        .collect();
    Probe {
        video_devices: video_devices(Path::new("/dev")),
        alsa_cards: std::fs::read_to_string("/proc/asound/cards").is_ok_and(|cards| cards.contains('[')),
        dri: std::fs::read_dir("/dev/dri")
            .is_ok_and(|mut d| d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("card")))),
        desktop: std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some(),
        factories,
    }
}

fn video_devices(dev: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dev)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("video")))
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|p| {
        p.file_name()
            .and_then(|n| n.to_string_lossy().trim_start_matches("video").parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    });
    found
}
