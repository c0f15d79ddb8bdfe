//! Cameras over V4L2 (crate `v4l`): capture devices with their formats, sizes and frame rates,
//! and the pure choice of the mode `source = "auto"` uses.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use v4l::video::Capture;

/// One pixel format at one frame size, with the frame rates the camera offers for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mode {
    pub fourcc: String,
    pub width: u32,
    pub height: u32,
    pub fps: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Camera {
    pub path: PathBuf,
    pub card: String,
    pub driver: String,
    pub bus: String,
    pub modes: Vec<Mode>,
    pub controls: Vec<String>,
}

/// Which camera a call uses: its node now, and what identifies it if it comes back elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameraId {
    pub path: PathBuf,
    pub card: String,
    pub bus: String,
}

impl Camera {
    pub fn id(&self) -> CameraId {
        CameraId { path: self.path.clone(), card: self.card.clone(), bus: self.bus.clone() }
    }
}

/// The same camera after a re-plug, which may give it another node (`/dev/video2` instead of
/// `/dev/video0`): the same USB port (bus) first, else the same model (card name).
pub fn find_again<'a>(cameras: &'a [CameraId], id: &CameraId) -> Option<&'a CameraId> {
    cameras.iter().find(|c| c.bus == id.bus && c.card == id.card).or_else(|| cameras.iter().find(|c| c.card == id.card))
}

/// The mode a call uses, as GStreamer caps after `v4l2src`, and why it was chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModeChoice {
    pub mode: Mode,
    pub fps: f64,
    /// e.g. `image/jpeg,width=1280,height=720,framerate=30/1 ! jpegdec`
    pub caps: String,
    pub reason: String,
}

/// GStreamer caps for a V4L2 pixel format, and the decoder it needs.
fn gst_caps(fourcc: &str) -> Option<(&'static str, Option<&'static str>, &'static str)> {
    Some(match fourcc {
        "MJPG" | "JPEG" => ("image/jpeg", None, "jpegdec"),
        "YUYV" => ("video/x-raw", Some("YUY2"), ""),
        "UYVY" => ("video/x-raw", Some("UYVY"), ""),
        "NV12" => ("video/x-raw", Some("NV12"), ""),
        "YU12" => ("video/x-raw", Some("I420"), ""),
        "RGB3" => ("video/x-raw", Some("RGB"), ""),
        "BGR3" => ("video/x-raw", Some("BGR"), ""),
        _ => return None,
    })
}

/// Picks the camera mode for `width`x`height` at `fps`: enough frame rate first, then the
/// exact size (else the smallest larger one, else the largest), then the format. Compressed
/// MJPEG is preferred from 720p up (raw HD at 30 fps is more than USB 2 and the CPU like to
/// move); raw NV12/YUYV below that, where decoding JPEG would cost more than it saves.
pub fn choose_mode(modes: &[Mode], width: u32, height: u32, fps: u32) -> Option<ModeChoice> {
    let hd = width * height >= 1280 * 720;
    let format_rank = |f: &str| match (f, hd) {
        ("MJPG" | "JPEG", true) => 0,
        ("NV12", _) => 1,
        ("YUYV" | "UYVY" | "YU12", _) => 2,
        ("MJPG" | "JPEG", false) => 3,
        _ => 4,
    };
    let target = f64::from(fps);
    let best_fps = |m: &Mode| {
        m.fps.iter().copied().filter(|f| *f >= target - 0.5).fold(None::<f64>, |a, f| Some(a.map_or(f, |a| a.min(f))))
    };
    let size_rank = |m: &Mode| {
        if (m.width, m.height) == (width, height) {
            (0, 0)
        } else if m.width >= width && m.height >= height {
            (1, m.width * m.height)
        } else {
            (2, u32::MAX - m.width * m.height)
        }
    };
    let mode = modes
        .iter()
        .filter(|m| gst_caps(&m.fourcc).is_some())
        .min_by_key(|m| (best_fps(m).is_none(), size_rank(m), format_rank(&m.fourcc)))?;
    let chosen_fps = best_fps(mode).unwrap_or_else(|| mode.fps.iter().copied().fold(0.0, f64::max));
    let (media, format, decoder) = gst_caps(&mode.fourcc)?;
    let fps_fraction = if chosen_fps.fract() == 0.0 {
        format!("{}/1", chosen_fps as u32)
    } else {
        format!("{}/1000", (chosen_fps * 1000.0).round() as u32)
    };
    let mut caps = format!("{media},width={},height={},framerate={fps_fraction}", mode.width, mode.height);
    if let Some(format) = format {
        caps = format!("{media},format={format},width={},height={},framerate={fps_fraction}", mode.width, mode.height);
    }
    if !decoder.is_empty() {
        caps = format!("{caps} ! {decoder}");
    }
    let reason =
        format!("{} {}x{} at {chosen_fps} fps for a {width}x{height}@{fps} call", mode.fourcc, mode.width, mode.height);
    Some(ModeChoice { mode: mode.clone(), fps: chosen_fps, caps, reason })
}

/// Every V4L2 capture device under `dev` (metadata and codec nodes are skipped).
pub fn enumerate(dev: &Path) -> Vec<Camera> {
    video_nodes(dev).iter().filter_map(|p| describe(p)).collect()
}

/// Which cameras are plugged in, without their modes: cheap enough to ask while a call waits
/// for its camera to come back.
pub fn identities(dev: &Path) -> Vec<CameraId> {
    video_nodes(dev)
        .into_iter()
        .filter_map(|path| open_camera(&path).map(|(_, caps)| CameraId { path, card: caps.card, bus: caps.bus }))
        .collect()
}

/// `/dev/video*`, in number order.
fn video_nodes(dev: &Path) -> Vec<PathBuf> {
    let mut nodes: Vec<PathBuf> = std::fs::read_dir(dev)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("video")))
                .collect()
        })
        .unwrap_or_default();
    nodes.sort_by_key(|p| {
        p.file_name()
            .and_then(|n| n.to_string_lossy().trim_start_matches("video").parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    });
    nodes
}

/// The device at `path` and what it says of itself, if it is a camera (video capture).
fn open_camera(path: &Path) -> Option<(v4l::Device, v4l::Capabilities)> {
    let device = v4l::Device::with_path(path).ok()?;
    let caps = device.query_caps().ok()?;
    caps.capabilities.contains(v4l::capability::Flags::VIDEO_CAPTURE).then_some((device, caps))
}

/// One device, if it is a camera (video capture), with its modes and controls.
pub fn describe(path: &Path) -> Option<Camera> {
    let (device, caps) = open_camera(path)?;
    let mut modes = Vec::new();
    for format in device.enum_formats().unwrap_or_default() {
        let fourcc = format.fourcc.str().unwrap_or("????").to_owned();
        for size in device.enum_framesizes(format.fourcc).unwrap_or_default() {
            for (width, height) in super::frame_sizes::sizes_offered(&size.size) {
                let intervals = device.enum_frameintervals(format.fourcc, width, height).unwrap_or_default();
                let fps = intervals
                    .iter()
                    .filter_map(|i| match &i.interval {
                        v4l::frameinterval::FrameIntervalEnum::Discrete(f) if f.numerator > 0 => {
                            Some(f64::from(f.denominator) / f64::from(f.numerator))
                        }
                        v4l::frameinterval::FrameIntervalEnum::Stepwise(s) if s.min.numerator > 0 => {
                            Some(f64::from(s.min.denominator) / f64::from(s.min.numerator))
                        }
                        _ => None,
                    })
                    .collect();
                modes.push(Mode { fourcc: fourcc.clone(), width, height, fps });
            }
        }
    }
    let controls = device.query_controls().unwrap_or_default().into_iter().map(|c| c.name).collect();
    Some(Camera { path: path.to_owned(), card: caps.card, driver: caps.driver, bus: caps.bus, modes, controls })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(fourcc: &str, w: u32, h: u32, fps: &[f64]) -> Mode {
        Mode { fourcc: fourcc.into(), width: w, height: h, fps: fps.to_vec() }
    }

    fn usb_webcam() -> Vec<Mode> {
        vec![
            mode("YUYV", 640, 480, &[30.0, 15.0]),
            mode("YUYV", 1280, 720, &[10.0, 5.0]),
            mode("MJPG", 640, 480, &[30.0]),
            mode("MJPG", 1280, 720, &[30.0, 15.0]),
            mode("MJPG", 1920, 1080, &[30.0]),
        ]
    }

    fn camera(path: &str, card: &str, bus: &str) -> Camera {
        Camera {
            path: path.into(),
            card: card.into(),
            driver: "uvcvideo".into(),
            bus: bus.into(),
            modes: vec![],
            controls: vec![],
        }
    }

    #[test]
    fn a_replugged_camera_is_found_on_its_new_node_by_port_then_by_model() {
        let before = camera("/dev/video0", "C920", "usb-0000:00:14.0-1").id();
        let after = [
            camera("/dev/video0", "HD Webcam", "usb-0000:00:14.0-2").id(),
            camera("/dev/video2", "C920", "usb-0000:00:14.0-1").id(),
        ];
        assert_eq!(find_again(&after, &before).unwrap().path, PathBuf::from("/dev/video2"));
        let other_port = [camera("/dev/video4", "C920", "usb-0000:00:14.0-3").id()];
        assert_eq!(
            find_again(&other_port, &before).unwrap().path,
            PathBuf::from("/dev/video4"),
            "same model, other port"
        );
        assert!(find_again(&after[..1], &before).is_none(), "another camera is not taken for it");
    }

    #[test]
    fn hd_calls_take_mjpeg_when_raw_cannot_keep_the_frame_rate() {
        let c = choose_mode(&usb_webcam(), 1280, 720, 30).unwrap();
        assert_eq!((c.mode.fourcc.as_str(), c.mode.width, c.fps), ("MJPG", 1280, 30.0));
        assert_eq!(c.caps, "image/jpeg,width=1280,height=720,framerate=30/1 ! jpegdec");
    }

    #[test]
    fn small_calls_take_raw_video() {
        let c = choose_mode(&usb_webcam(), 640, 480, 30).unwrap();
        assert_eq!(c.mode.fourcc, "YUYV");
        assert_eq!(c.caps, "video/x-raw,format=YUY2,width=640,height=480,framerate=30/1");
    }

    #[test]
    fn a_size_the_camera_lacks_uses_the_next_larger_one() {
        let c = choose_mode(&usb_webcam(), 960, 540, 30).unwrap();
        assert_eq!((c.mode.width, c.mode.height), (1280, 720));
    }

    #[test]
    fn without_enough_frame_rate_anywhere_the_fastest_usable_mode_is_taken() {
        let slow = vec![mode("YUYV", 1280, 720, &[10.0]), mode("YUYV", 640, 480, &[15.0])];
        let c = choose_mode(&slow, 1280, 720, 30).unwrap();
        assert_eq!((c.mode.width, c.fps), (1280, 10.0));
        assert!(
            choose_mode(&[mode("H264", 1280, 720, &[30.0])], 1280, 720, 30).is_none(),
            "formats we cannot use are skipped"
        );
    }
}
