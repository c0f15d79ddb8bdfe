//! What room hardware this machine has: cameras (V4L2), sound devices (ALSA), H.264 encoders
//! (GStreamer factories), display outputs (DRM connectors) and GPIO chips. `roombox devices`
//! prints it; `check` and `auto` choices use the same probes.

pub mod audio;
pub mod camera;
mod frame_sizes;
pub mod mixer;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::media::encoder;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayOutput {
    pub connector: String,
    pub connected: bool,
    pub modes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncoderInfo {
    pub element: String,
    pub hardware: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Devices {
    pub cameras: Vec<camera::Camera>,
    pub audio: Vec<audio::Pcm>,
    pub encoders: Vec<EncoderInfo>,
    pub displays: Vec<DisplayOutput>,
    pub gpio_chips: Vec<PathBuf>,
}

pub fn probe() -> Devices {
    let encoders = encoder::installed()
        .into_iter()
        .map(|e| EncoderInfo { element: e.into(), hardware: encoder::is_hardware(e) })
        .collect();
    Devices {
        cameras: camera::enumerate(Path::new("/dev")),
        audio: audio::enumerate(),
        encoders,
        displays: displays(Path::new("/sys/class/drm")),
        gpio_chips: nodes(Path::new("/dev"), "gpiochip"),
    }
}

/// Whether a KMS driver is loaded (`/dev/dri/card*`).
pub fn has_drm() -> bool {
    !nodes(Path::new("/dev/dri"), "card").is_empty()
}

/// The kernel driver behind the first DRM card, from its `uevent` (`DRIVER=vc4-drm`).
pub fn drm_driver() -> Option<String> {
    nodes(Path::new("/sys/class/drm"), "card")
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| !n.to_string_lossy().contains('-')))
        .find_map(|card| {
            let uevent = std::fs::read_to_string(card.join("device/uevent")).ok()?;
            uevent.lines().find_map(|l| l.strip_prefix("DRIVER=")).map(str::to_owned)
        })
}

/// The first connected screen's preferred mode (the kernel lists it first), e.g. (1920, 1080).
pub fn screen_mode() -> Option<(u32, u32)> {
    let displays = displays(Path::new("/sys/class/drm"));
    let mode = displays.iter().find(|d| d.connected)?.modes.first()?.clone();
    let (w, h) = mode.split_once('x')?;
    Some((w.parse().ok()?, h.trim_end_matches(|c: char| !c.is_ascii_digit()).parse().ok()?))
}

fn nodes(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// DRM connectors (`card0-HDMI-A-1` …) with their state and modes.
fn displays(drm: &Path) -> Vec<DisplayOutput> {
    nodes(drm, "card")
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains('-')))
        .map(|p| {
            let read = |f: &str| std::fs::read_to_string(p.join(f)).unwrap_or_default();
            DisplayOutput {
                connector: p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                connected: read("status").trim() == "connected",
                modes: read("modes").lines().map(str::to_owned).collect(),
            }
        })
        .collect()
}

/// `roombox devices` as text an admin reads over SSH.
pub fn render(d: &Devices) -> String {
    let mut out = String::from("cameras:\n");
    if d.cameras.is_empty() {
        out += "  none found (check the cable; `ls /dev/video*`)\n";
    }
    for c in &d.cameras {
        out += &format!("  {} — {} ({}, {})\n", c.path.display(), c.card, c.driver, c.bus);
        for m in &c.modes {
            let fps: Vec<String> = m.fps.iter().map(|f| format!("{f:.0}")).collect();
            out += &format!("      {} {}x{} @ {} fps\n", m.fourcc, m.width, m.height, fps.join("/"));
        }
        if !c.controls.is_empty() {
            out += &format!("      controls: {}\n", c.controls.join(", "));
        }
    }
    out += "audio:\n";
    for p in d.audio.iter().filter(|p| p.name.starts_with("hw:") || p.name.starts_with("plughw:")) {
        let dir = match (p.capture, p.playback) {
            (true, true) => "capture+playback",
            (true, false) => "capture",
            _ => "playback",
        };
        out += &format!("  {} [{dir}] {}\n", p.name, p.description);
    }
    out += "encoders:\n";
    for e in &d.encoders {
        out += &format!("  {}{}\n", e.element, if e.hardware { " (hardware)" } else { "" });
    }
    out += "displays:\n";
    for s in &d.displays {
        out += &format!(
            "  {} {}{}\n",
            s.connector,
            if s.connected { "connected" } else { "disconnected" },
            s.modes.first().map(|m| format!(" ({m})")).unwrap_or_default()
        );
    }
    out += &format!(
        "gpio chips: {}\n",
        if d.gpio_chips.is_empty() {
            "none".into()
        } else {
            d.gpio_chips.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        }
    );
    out
}
