use super::*;

fn error_of(text: &str) -> String {
    Config::parse(text, "room.toml").unwrap_err().to_string()
}

#[test]
fn an_empty_file_means_every_default() {
    let mut expected = Config::default();
    expected.apply_board().unwrap();
    assert_eq!(Config::parse("", "x").unwrap(), expected);
    assert_eq!(expected.panel.backend, PanelBackend::Sim, "no board: the sim panel");
}

#[test]
fn a_board_fills_in_what_the_config_leaves_at_auto_and_the_config_wins_elsewhere() {
    let c = Config::parse("board = \"rpi4\"\n[panel]\nled_line = 22\n[display]\noutput = \"none\"\n", "x").unwrap();
    assert_eq!(c.profile.encoder.preference[0], "v4l2h264enc");
    assert_eq!(c.panel.backend, PanelBackend::Gpio);
    assert_eq!(
        (c.panel.chip.as_deref(), c.panel.button_line, c.panel.led_line),
        (Some("pinctrl-bcm2711"), Some(17), Some(22))
    );
    assert_eq!(c.display.output, DisplayOutput::None, "the config wins");
    let sim = Config::parse("board = \"sim\"\n", "x").unwrap();
    assert_eq!(sim, Config::builtin(), "the built-in config is the sim board");
}

#[test]
fn an_unknown_board_points_at_it_and_lists_the_boards() {
    let err = error_of("board = \"rpi3\"\n");
    assert!(err.starts_with("room.toml:1:9: unknown board \"rpi3\": use one of rpi4, rpi5, generic-x86, sim"), "{err}");
}

#[test]
fn a_gpio_panel_without_lines_says_what_is_missing() {
    let err = error_of("[panel]\nbackend = \"gpio\"\nchip = \"gpiochip0\"\n");
    assert!(err.contains("needs button_line, led_line"), "{err}");
    let controls =
        Config::parse("[video.controls]\nbrightness = 140\nfocus_automatic_continuous = false\n", "x").unwrap();
    assert_eq!(controls.video.controls["brightness"], ControlValue::Number(140));
    assert_eq!(controls.video.controls["focus_automatic_continuous"].as_i64(), 0);
}

#[test]
fn a_typo_in_a_key_points_at_it_and_suggests_the_right_one() {
    let err = error_of("[room]\nname = \"oslo\"\n\n[video]\nfsp = 30\n");
    assert!(err.starts_with("room.toml:5:1:"), "{err}");
    assert!(err.contains("unknown field `fsp`"), "{err}");
    assert!(err.contains("did you mean `fps`?"), "{err}");
}

#[test]
fn a_wrong_type_points_at_the_value() {
    let err = error_of("[video]\nwidth = \"wide\"\n");
    assert!(err.starts_with("room.toml:2:9:"), "{err}");
    assert!(err.contains("/usr/share/doc/roombox/roombox.toml.example"), "a hint where to look: {err}");
}

#[test]
fn out_of_range_numbers_say_the_range() {
    let err = error_of("[video]\nfps = 500\n");
    assert!(err.starts_with("room.toml:2:7:"), "{err}");
    assert!(err.contains("from 1 to 60"), "{err}");
}

#[test]
fn a_peer_must_be_a_sip_uri_with_an_ip_address() {
    let err = error_of("[call]\npeers = [\"sip:oslo@192.0.2.10\", \"oslo.example.com\"]\n");
    assert!(err.starts_with("room.toml:2:9:"), "{err}");
    assert!(err.contains("sip:"), "{err}");
    let err = error_of("[call]\npeers = [\"sip:oslo@meeting.example.com\"]\n");
    assert!(err.contains("not an IP address"), "{err}");
}

#[test]
fn bad_device_and_listen_values_are_explained() {
    assert!(error_of("[sip]\nlisten = \"5060\"\n").contains("0.0.0.0:5060"));
    assert!(error_of("[audio]\ncapture = \"my-mic?\"\n").contains("ALSA"));
    assert!(error_of("[display]\noutput = \"hdmi\"\n").contains("\"kms\""));
    assert!(error_of("[panel]\nbackend = \"gpoi\"\n").contains("\"sim\""));
    assert!(error_of("[room]\nname = \"Room 1\"\n").contains("SIP user name"));
    assert!(error_of("[log]\nlevel = \"loud\"\n").contains("debug"));
}

#[test]
fn broken_toml_syntax_has_a_position() {
    let err = error_of("[video\nwidth = 3\n");
    assert!(err.starts_with("room.toml:1:"), "{err}");
}

#[test]
fn values_are_read_into_their_types() {
    let text = "[room]\nname = \"oslo\"\n[call]\npeers = [\"sip:bergen@127.0.0.1:5062\"]\nallow = [\"sip:tromso@127.0.0.1\"]\n\
                auto_answer = true\ndial_timeout_s = 1.5\n[video]\nsource = \"/dev/video2\"\nencoder = \"openh264enc\"\n\
                [audio]\ncapture = \"hw:1,0\"\nplayback = \"null\"\n[display]\noutput = \"fakesink sync=true\"\n";
    let c = Config::parse(text, "x").unwrap();
    assert_eq!(c.video.source, VideoSource::Device("/dev/video2".into()));
    assert_eq!(c.video.encoder, EncoderChoice::Element("openh264enc".into()));
    assert_eq!(c.audio.capture, AudioDevice::Alsa("hw:1,0".into()));
    let audio =
        Config::parse("[audio]\ncapture = \"plughw:CARD=Speaker\"\nplayback = \"fakesink sync=true\"\n", "x").unwrap();
    assert_eq!(audio.audio.capture, AudioDevice::Alsa("plughw:CARD=Speaker".into()));
    assert_eq!(audio.audio.playback, AudioDevice::Pipeline("fakesink sync=true".into()));
    assert_eq!(c.display.output, DisplayOutput::Pipeline("fakesink sync=true".into()));
    assert_eq!(c.timing().dial_timeout, std::time::Duration::from_millis(1500));
    let AllowList::Only(allowed) = c.allow_list() else { panic!("not anyone") };
    assert_eq!(allowed.len(), 2, "explicit entries plus the configured peer");
}

#[test]
fn a_star_in_allow_lets_anyone_call() {
    let c = Config::parse("[call]\nallow = [\"*\"]\n", "x").unwrap();
    assert_eq!(c.allow_list(), AllowList::Anyone);
}

#[test]
fn the_documented_example_config_loads_and_equals_the_defaults() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/roombox.toml");
    let example = Config::load(Path::new(path)).unwrap();
    assert_eq!(example, Config::parse("", "defaults").unwrap(), "the example must document the defaults");
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains("# peers = [\"sip:"), "the example shows how to name a peer");
    let uncommented = text.replace("# peers = [\"sip:", "peers = [\"sip:").replace("peers = []\n", "");
    let with_peer = Config::parse(&uncommented, "example").unwrap();
    assert_eq!(with_peer.call.peers.len(), 2, "the commented meeting example is valid once uncommented");
}

#[test]
fn an_unreadable_file_names_the_path() {
    let err = Config::load(Path::new("/nonexistent/roombox.toml")).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/roombox.toml"), "{err}");
}

#[test]
fn a_bitrate_floor_above_the_bitrate_is_refused_with_the_fix() {
    let err = Config::parse("[video]\nbitrate_kbps = 500\nmin_bitrate_kbps = 800\n", "x").unwrap_err().to_string();
    assert!(err.contains("min_bitrate_kbps = 800") && err.contains("500 or less"), "{err}");
    let ok = Config::parse("[video]\nbitrate_kbps = 500\nmin_bitrate_kbps = 500\n", "x").unwrap();
    assert_eq!(ok.min_bitrate_kbps(), 500);
    let low = Config::parse("[video]\nbitrate_kbps = 150\n", "x").unwrap();
    assert_eq!(low.min_bitrate_kbps(), 150, "the default floor never lies above a low bitrate");
    assert_eq!(Config::parse("", "x").unwrap().min_bitrate_kbps(), 200);
}

#[test]
fn encryption_and_its_suites_are_read_and_bad_values_explained() {
    use crate::sdp::{Encryption, SrtpSuite};
    let default = Config::parse("", "x").unwrap().srtp_policy();
    assert_eq!(default.encryption, Encryption::Required, "calls are encrypted unless the config says otherwise");
    assert_eq!(default.suites().collect::<Vec<_>>(), SrtpSuite::ALL);
    let cm = Config::parse("[call]\nencryption = \"optional\"\nsrtp_suites = [\"AES_CM_128_HMAC_SHA1_80\"]\n", "x")
        .unwrap()
        .srtp_policy();
    assert_eq!(
        (cm.encryption, cm.suites().collect::<Vec<_>>()),
        (Encryption::Optional, vec![SrtpSuite::AesCm128HmacSha1_80])
    );
    let err = error_of("[call]\nencryption = \"yes\"\n");
    assert!(err.contains("\"yes\"") && err.contains("\"required\"") && err.contains("\"off\""), "{err}");
    let err = error_of("[call]\nsrtp_suites = [\"AES_CM_128_HMAC_SHA1_32\"]\n");
    assert!(err.contains("AES_CM_128_HMAC_SHA1_32") && err.contains("AEAD_AES_128_GCM"), "{err}");
    let err = error_of("[call]\nsrtp_suites = []\n");
    assert!(err.contains("srtp_suites is empty") && err.contains("off"), "{err}");
    assert!(Config::parse("[call]\nsrtp_suites = []\nencryption = \"off\"\n", "x").is_ok());
    let err = error_of("[call]\nsrtp_suites = [\"AEAD_AES_128_GCM\", \"AEAD_AES_128_GCM\"]\n");
    assert!(err.contains("twice"), "{err}");
}

#[test]
fn guests_need_a_pin_of_digits_a_key_with_their_certificate_and_an_https_link() {
    let parse = |extra: &str| Config::parse(&format!("[guests]\nenabled = true\n{extra}"), "x");
    let err = parse("").unwrap_err().to_string();
    assert!(err.contains("[guests] pin must be 4 to 12 digits (it is empty)"), "{err}");
    assert!(parse("pin = \"12a4\"\n").unwrap_err().to_string().contains("4 characters"));
    let err = parse("pin = \"482913\"\ntls_certificate = \"/x.crt\"\n").unwrap_err().to_string();
    assert!(err.contains("tls_certificate and tls_key go together"), "{err}");
    let err = parse("pin = \"482913\"\nlink = \"http://room/\"\n").unwrap_err().to_string();
    assert!(err.contains("must start with https://"), "{err}");
    let ok = parse("pin = \"482913\"\nmax = 3\n").unwrap();
    assert_eq!(ok.guests.link_to_show().as_deref().map(|l| l.ends_with(":8443/")), Some(true));
    assert!(parse("pin = \"482913\"\nmax = 4\n").is_err(), "at most 3 guests");
    // Off, a PIN is not needed.
    assert!(Config::parse("[guests]\nenabled = false\n", "x").is_ok());
}
