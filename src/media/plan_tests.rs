//! The plan's `auto` choices and the problems it finds, from plain probe data.
use super::*;
use crate::devices::audio::Pcm;

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
        modes: vec![crate::devices::camera::Mode { fourcc: "MJPG".into(), width: 1280, height: 720, fps: vec![30.0] }],
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
fn camera_controls_go_to_v4l2src_by_name_and_unknown_ones_are_problems() {
    assert_eq!(control_name("Focus, Automatic Continuous"), "focus_automatic_continuous");
    assert_eq!(control_name("White Balance Temperature"), "white_balance_temperature");
    let camera = Camera {
        path: "/dev/video0".into(),
        card: "C920".into(),
        driver: "uvcvideo".into(),
        bus: "usb".into(),
        modes: vec![],
        controls: vec!["Brightness".into(), "Focus, Automatic Continuous".into()],
    };
    let mut config = Config::default();
    config.video.controls.insert("brightness".into(), ControlValue::Number(140));
    config.video.controls.insert("focus_automatic_continuous".into(), ControlValue::Switch(false));
    let p = Probe { cameras: vec![camera], ..probe() };
    let plan = MediaPlan::resolve(&config, &p).unwrap();
    assert_eq!(
        plan.video_source.fragment,
        "v4l2src device=/dev/video0 extra-controls=\"c,brightness=140,focus_automatic_continuous=0\""
    );
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    config.video.controls.insert("zoom".into(), ControlValue::Number(2));
    let plan = MediaPlan::resolve(&config, &p).unwrap();
    assert_eq!(
        plan.problems,
        vec!["camera /dev/video0 has no control \"zoom\" (it has: brightness, focus_automatic_continuous)"]
    );
}

#[test]
fn a_named_device_that_is_absent_is_a_problem_naming_what_is_there() {
    let mut config = Config::default();
    config.video.source = VideoSource::Device("/dev/video7".into());
    config.audio.capture = AudioDevice::Alsa("plughw:CARD=Speaker,DEV=0".into());
    let pcm =
        Pcm { name: "hw:CARD=Loopback,DEV=0".into(), description: "Loopback".into(), capture: true, playback: true };
    let plan = MediaPlan::resolve(&config, &Probe { pcms: vec![pcm], ..probe() }).unwrap();
    assert!(plan.video_source.fragment.contains("camera unavailable"), "a slate stands in");
    assert_eq!(plan.problems.len(), 2, "{:?}", plan.problems);
    assert!(plan.problems[0].starts_with("camera /dev/video7 not found (cameras here: none)"));
    assert!(
        plan.problems[1].starts_with("microphone plughw:CARD=Speaker,DEV=0 not found (sound cards here: hw:Loopback)"),
        "{}",
        plan.problems[1]
    );
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

#[test]
fn kmssink_is_told_the_drm_driver_it_cannot_find_by_itself() {
    let mut config = Config::default();
    config.display.output = DisplayOutput::Kms;
    let pi = Probe { dri: true, dri_driver: Some("vc4-drm".into()), ..probe() };
    assert_eq!(MediaPlan::resolve(&config, &pi).unwrap().display.fragment, "kmssink");
    let vm = Probe { dri: true, dri_driver: Some("bochs-drm".into()), screen_mode: Some((1280, 800)), ..probe() };
    let plan = MediaPlan::resolve(&config, &vm).unwrap();
    assert_eq!(
        plan.display.fragment,
        "videoscale add-borders=true ! video/x-raw,width=1280,height=800,pixel-aspect-ratio=1/1 ! kmssink driver-name=bochs-drm force-modesetting=true",
        "a single-plane driver gets the picture at the screen's size"
    );
    assert!(plan.display_is_screen, "a KMS display shows the idle screen");
    assert!(!MediaPlan::resolve(&Config::builtin(), &vm).unwrap().display_is_screen);
}

#[test]
fn echo_cancelling_applies_to_a_microphone_and_never_to_the_test_tone() {
    let usb = Pcm { name: "plughw:CARD=Mic,DEV=0".into(), description: "USB".into(), capture: true, playback: false };
    let with_mic = Probe { pcms: vec![usb], ..probe() };
    let plan = MediaPlan::resolve(&Config::default(), &with_mic).unwrap();
    assert!(plan.echo_cancel && plan.audio_source.description.ends_with("echo cancelling"));
    let off = Config::parse("[audio]\necho_cancel = false\n", "x").unwrap();
    assert!(!MediaPlan::resolve(&off, &with_mic).unwrap().echo_cancel, "a speakerphone cancels its own echo");
    let tone = Config::parse("[audio]\ncapture = \"test\"\n", "x").unwrap();
    assert!(!MediaPlan::resolve(&tone, &with_mic).unwrap().echo_cancel, "a test tone is in no room");
    let custom = Config::parse("[audio]\ncapture = \"alsasrc device=hw:2\"\n", "x").unwrap();
    assert!(MediaPlan::resolve(&custom, &probe()).unwrap().echo_cancel, "a custom source may be a microphone");
}
