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
    /// The configured bitrate: where rate adaptation starts and returns to.
    pub bitrate_kbps: u32,
    /// How low rate adaptation may go.
    pub min_bitrate_kbps: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncoderError {
    #[error("encoder \"{0}\" is not installed on this machine: use encoder = \"auto\" or one of {1}")]
    Missing(String, String),
    #[error("encoder \"{0}\" is installed but failed its self-test ({1}): use encoder = \"auto\" or one of {2}")]
    Broken(String, String, String),
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

/// Whether an encoder can be used on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    Missing,
    /// The factory exists but could not encode a test picture (driver absent or busy…).
    Broken(String),
    Usable,
}

/// Picks the encoder: `requested` if given (it must be usable), else the first usable one of
/// `preference` (the board profile's order).
pub fn choose(
    requested: Option<&str>,
    preference: &[String],
    settings: EncoderSettings,
    availability: impl Fn(&str) -> Availability,
) -> Result<EncoderPlan, EncoderError> {
    let usable = |e: &str| availability(e) == Availability::Usable;
    let (element, reason) = match requested {
        Some(name) if usable(name) => (name.to_owned(), format!("{name}: chosen in the config")),
        Some(name) => {
            let available: Vec<&str> = PREFERENCE.iter().copied().filter(|e| usable(e)).collect();
            return Err(match availability(name) {
                Availability::Broken(why) => EncoderError::Broken(name.into(), why, available.join(", ")),
                _ => EncoderError::Missing(name.into(), available.join(", ")),
            });
        }
        None => {
            let found = preference.iter().find(|e| usable(e)).ok_or(EncoderError::NoneAvailable)?;
            // Why each hardware encoder before it was passed over: broken ones with their
            // error, then the ones not installed.
            let (mut why, mut missing) = (Vec::new(), Vec::new());
            for e in preference.iter().take_while(|e| *e != found).filter(|e| is_hardware(e)) {
                match availability(e) {
                    Availability::Broken(error) => why.push(format!("{e} failed its self-test: {error}")),
                    _ => missing.push(e.as_str()),
                }
            }
            if !missing.is_empty() {
                why.push(format!("{} not found", missing.join(", ")));
            }
            let reason = if is_hardware(found) {
                format!("{found}: hardware H.264 encoder, passed its self-test")
            } else if why.is_empty() {
                format!("{found}: software encoder")
            } else {
                format!("{found}: software fallback (no working hardware encoder: {})", why.join("; "))
            };
            (found.clone(), reason)
        }
    };
    let properties = properties_for(&element, settings).into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    Ok(EncoderPlan {
        hardware: is_hardware(&element),
        element,
        properties,
        reason,
        bitrate_kbps: settings.bitrate_kbps,
        // The plan lowers it to the configured floor.
        min_bitrate_kbps: settings.bitrate_kbps,
    })
}

/// Encodes a few frames with `element` and its mapped settings: proves a hardware encoder
/// works (its driver is there and free), not only that its factory is registered.
pub fn self_test(element: &str, settings: EncoderSettings) -> Result<(), String> {
    use gstreamer::prelude::*;
    gstreamer::init().map_err(|e| e.to_string())?;
    let props: Vec<String> =
        properties_for(element, settings).into_iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    let launch = format!(
        "videotestsrc num-buffers=5 ! video/x-raw,width=320,height=240,framerate=30/1 ! videoconvert ! {element} {} ! h264parse ! video/x-h264,stream-format=byte-stream ! fakesink name=out",
        props.join(" ")
    );
    let pipeline = gstreamer::parse::launch(&launch).map_err(|e| e.to_string())?;
    let bus = pipeline.bus().ok_or("no bus")?;
    let outcome = match pipeline.set_state(gstreamer::State::Playing) {
        Err(_) => Err("it would not start".to_owned()),
        Ok(_) => {
            let msg = bus.timed_pop_filtered(
                gstreamer::ClockTime::from_seconds(2),
                &[gstreamer::MessageType::Eos, gstreamer::MessageType::Error],
            );
            match msg.as_ref().map(|m| m.view()) {
                Some(gstreamer::MessageView::Eos(_)) => Ok(()),
                Some(gstreamer::MessageView::Error(e)) => Err(e.error().to_string()),
                _ => Err("no frames within 2 s".to_owned()),
            }
        }
    };
    let _ = pipeline.set_state(gstreamer::State::Null);
    outcome
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

    fn generic() -> Vec<String> {
        PREFERENCE.iter().map(|e| (*e).to_owned()).collect()
    }

    fn only(names: &'static [&'static str]) -> impl Fn(&str) -> Availability {
        move |e| if names.contains(&e) { Availability::Usable } else { Availability::Missing }
    }

    #[test]
    fn a_hardware_encoder_that_fails_its_self_test_is_passed_over_with_the_reason() {
        let availability = |e: &str| match e {
            "v4l2h264enc" => Availability::Broken("Device '/dev/video11' is busy".into()),
            "x264enc" => Availability::Usable,
            _ => Availability::Missing,
        };
        let plan = choose(None, &generic(), S, availability).unwrap();
        assert_eq!(plan.element, "x264enc");
        assert!(
            plan.reason.contains("v4l2h264enc failed its self-test: Device '/dev/video11' is busy"),
            "{}",
            plan.reason
        );
        let err = choose(Some("v4l2h264enc"), &generic(), S, availability).unwrap_err().to_string();
        assert!(err.contains("failed its self-test") && err.ends_with("one of x264enc"), "{err}");
    }

    #[test]
    fn the_board_preference_decides_the_order() {
        let plan =
            choose(None, &["openh264enc".to_owned(), "x264enc".to_owned()], S, only(&["x264enc", "openh264enc"]));
        assert_eq!(plan.unwrap().element, "openh264enc");
    }

    #[test]
    fn the_self_test_encodes_with_a_real_encoder_and_fails_for_one_that_makes_no_h264() {
        assert_eq!(self_test("x264enc", S), Ok(()));
        let err = self_test("jpegenc", S).unwrap_err();
        assert!(!err.is_empty());
    }

    #[test]
    fn hardware_wins_when_its_factory_exists() {
        let plan = choose(None, &generic(), S, only(&["v4l2h264enc", "x264enc"])).unwrap();
        assert_eq!(plan.element, "v4l2h264enc");
        assert!(plan.hardware);
        assert!(plan.properties[0].1.contains("video_bitrate=2000000"));
    }

    #[test]
    fn x264_is_the_fallback_and_is_tuned_for_latency() {
        let plan = choose(None, &generic(), S, only(&["x264enc", "openh264enc"])).unwrap();
        assert_eq!(plan.element, "x264enc");
        assert!(plan.properties.contains(&("tune".into(), "zerolatency".into())));
        assert!(plan.properties.contains(&("bitrate".into(), "2000".into())));
        assert!(plan.properties.contains(&("key-int-max".into(), "30".into())));
        assert!(
            plan.reason.contains("software fallback (no working hardware encoder: v4l2h264enc, nvv4l2h264enc, mpph264enc, vah264enc, vaapih264enc not found)"),
            "{}",
            plan.reason
        );
    }

    #[test]
    fn openh264_is_the_last_resort_with_bitrate_in_bits() {
        let plan = choose(None, &generic(), S, only(&["openh264enc"])).unwrap();
        assert!(plan.properties.contains(&("bitrate".into(), "2000000".into())));
    }

    #[test]
    fn a_requested_encoder_that_is_missing_is_an_error_naming_the_alternatives() {
        let err = choose(Some("nvv4l2h264enc"), &generic(), S, only(&["x264enc"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "encoder \"nvv4l2h264enc\" is not installed on this machine: use encoder = \"auto\" or one of x264enc"
        );
        assert_eq!(choose(None, &generic(), S, only(&[])).unwrap_err(), EncoderError::NoneAvailable);
    }
}
