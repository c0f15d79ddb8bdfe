//! H.264 encoder choice: the board's hardware encoder when its GStreamer factory exists, else
//! x264 tuned for zero latency, else openh264. Each encoder gets the common settings (bitrate,
//! keyframe interval, low latency) mapped onto its own property names. Pure: the caller says
//! which factories exist.

use serde::Serialize;

/// Preference order: hardware first (Raspberry Pi 4, Jetson, Rockchip, Intel/AMD), then software.
pub const PREFERENCE: &[&str] =
    &["v4l2h264enc", "nvv4l2h264enc", "mpph264enc", "vah264enc", "vaapih264enc", "x264enc", "openh264enc"];

/// The settings every encoder gets, in its own terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderSettings {
    pub bitrate_kbps: u32,
    pub fps: u32,
}

impl EncoderSettings {
    /// One keyframe per second: a lost picture or a late joiner recovers within a second.
    pub fn keyframe_interval(&self) -> u32 {
        self.fps.max(1)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EncoderPlan {
    pub element: String,
    pub hardware: bool,
    /// Properties as `(name, value)` strings, set only where the element has them.
    pub properties: Vec<(String, String)>,
    /// Why this encoder was chosen, in words for `check` and `status`.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncoderError {
    #[error("encoder \"{0}\" is not installed on this machine: use encoder = \"auto\" or one of {1}")]
    Missing(String, String),
    #[error(
        "no H.264 encoder found: install gstreamer1.0-plugins-ugly (x264enc) or gstreamer1.0-plugins-bad (openh264enc)"
    )]
    NoneAvailable,
}

/// The encoders of [`PREFERENCE`] installed here, in preference order.
pub fn installed() -> Vec<&'static str> {
    if gstreamer::init().is_err() {
        return vec![];
    }
    PREFERENCE.iter().copied().filter(|e| gstreamer::ElementFactory::find(e).is_some()).collect()
}

pub fn is_hardware(element: &str) -> bool {
    !matches!(element, "x264enc" | "openh264enc")
}

/// Picks the encoder: `requested` if given (it must exist), else the first available in
/// [`PREFERENCE`].
pub fn choose(
    requested: Option<&str>,
    settings: EncoderSettings,
    exists: impl Fn(&str) -> bool,
) -> Result<EncoderPlan, EncoderError> {
    let (element, reason) = match requested {
        Some(name) if exists(name) => (name.to_owned(), format!("{name}: chosen in the config")),
        Some(name) => {
            let available: Vec<&str> = PREFERENCE.iter().copied().filter(|e| exists(e)).collect();
            return Err(EncoderError::Missing(name.into(), available.join(", ")));
        }
        None => {
            let found = PREFERENCE.iter().copied().find(|e| exists(e)).ok_or(EncoderError::NoneAvailable)?;
            let skipped: Vec<&str> =
                PREFERENCE.iter().copied().take_while(|e| *e != found).filter(|e| is_hardware(e)).collect();
            let reason = if is_hardware(found) {
                format!("{found}: hardware H.264 encoder found")
            } else if skipped.is_empty() {
                format!("{found}: software fallback")
            } else {
                format!("{found}: no hardware H.264 encoder ({} not found), software fallback", skipped.join(", "))
            };
            (found.to_owned(), reason)
        }
    };
    let properties = properties_for(&element, settings).into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    Ok(EncoderPlan { hardware: is_hardware(&element), element, properties, reason })
}

fn properties_for(element: &str, s: EncoderSettings) -> Vec<(&'static str, String)> {
    let (kbps, bps, gop) = (s.bitrate_kbps, u64::from(s.bitrate_kbps) * 1000, s.keyframe_interval());
    match element {
        "x264enc" => vec![
            ("tune", "zerolatency".into()),
            ("speed-preset", "ultrafast".into()),
            ("bitrate", kbps.to_string()),
            ("key-int-max", gop.to_string()),
            ("vbv-buf-capacity", "200".into()),
        ],
        "openh264enc" => vec![
            ("bitrate", bps.to_string()),
            ("rate-control", "bitrate".into()),
            ("complexity", "low".into()),
            ("gop-size", gop.to_string()),
            ("usage-type", "camera".into()),
        ],
        "v4l2h264enc" => vec![(
            "extra-controls",
            format!(
                "controls,video_bitrate={bps},h264_i_frame_period={gop},repeat_sequence_header=1,video_bitrate_mode=1"
            ),
        )],
        "nvv4l2h264enc" => vec![
            ("bitrate", bps.to_string()),
            ("iframeinterval", gop.to_string()),
            ("insert-sps-pps", "true".into()),
            ("maxperf-enable", "true".into()),
        ],
        "mpph264enc" => vec![("bps", bps.to_string()), ("gop", gop.to_string()), ("rc-mode", "cbr".into())],
        "vah264enc" => vec![
            ("bitrate", kbps.to_string()),
            ("key-int-max", gop.to_string()),
            ("rate-control", "cbr".into()),
            ("b-frames", "0".into()),
        ],
        "vaapih264enc" => vec![
            ("bitrate", kbps.to_string()),
            ("keyframe-period", gop.to_string()),
            ("rate-control", "cbr".into()),
            ("max-bframes", "0".into()),
        ],
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: EncoderSettings = EncoderSettings { bitrate_kbps: 2000, fps: 30 };

    #[test]
    fn hardware_wins_when_its_factory_exists() {
        let plan = choose(None, S, |e| e == "v4l2h264enc" || e == "x264enc").unwrap();
        assert_eq!(plan.element, "v4l2h264enc");
        assert!(plan.hardware);
        assert!(plan.properties[0].1.contains("video_bitrate=2000000"));
    }

    #[test]
    fn x264_is_the_fallback_and_is_tuned_for_latency() {
        let plan = choose(None, S, |e| e == "x264enc" || e == "openh264enc").unwrap();
        assert_eq!(plan.element, "x264enc");
        assert!(plan.properties.contains(&("tune".into(), "zerolatency".into())));
        assert!(plan.properties.contains(&("bitrate".into(), "2000".into())));
        assert!(plan.properties.contains(&("key-int-max".into(), "30".into())));
        assert!(plan.reason.contains("software fallback"), "{}", plan.reason);
    }

    #[test]
    fn openh264_is_the_last_resort_with_bitrate_in_bits() {
        let plan = choose(None, S, |e| e == "openh264enc").unwrap();
        assert!(plan.properties.contains(&("bitrate".into(), "2000000".into())));
    }

    #[test]
    fn a_requested_encoder_that_is_missing_is_an_error_naming_the_alternatives() {
        let err = choose(Some("nvv4l2h264enc"), S, |e| e == "x264enc").unwrap_err();
        assert_eq!(
            err.to_string(),
            "encoder \"nvv4l2h264enc\" is not installed on this machine: use encoder = \"auto\" or one of x264enc"
        );
        assert_eq!(choose(None, S, |_| false).unwrap_err(), EncoderError::NoneAvailable);
    }
}
