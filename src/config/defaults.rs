//! Every setting's product default, in one place: what an empty roombox.toml means (each
//! section's own `Default` is taken from here).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use super::*;
use crate::board;
use crate::meeting::Timing;
use crate::sdp::SrtpSuite;

impl Default for Config {
    fn default() -> Self {
        Self {
            board: None,
            profile: board::generic(),
            room: RoomConfig { name: "roombox".into() },
            sip: SipConfig {
                listen: SocketAddr::from(([0, 0, 0, 0], 5060)),
                tcp: true,
                tls_listen: None,
                tls_certificate: Path::new(DEFAULT_TLS_DIR).join("roombox.crt"),
                tls_key: Path::new(DEFAULT_TLS_DIR).join("roombox.key"),
                tls_ca: None,
                tls_pinned: Vec::new(),
            },
            call: CallConfig {
                peers: vec![],
                allow: vec![],
                auto_answer: false,
                max_places: None,
                dial_timeout_s: Seconds(Timing::default().dial_timeout.as_secs_f64()),
                ring_timeout_s: Seconds(Timing::default().ring_timeout.as_secs_f64()),
                peer_timeout_s: Seconds(Timing::default().peer_timeout.as_secs_f64()),
                media_timeout_s: Seconds(Timing::default().media_timeout.as_secs_f64()),
                media_start_timeout_s: Seconds(Timing::default().media_start_timeout.as_secs_f64()),
                encryption: EncryptionSetting::default(),
                srtp_suites: SrtpSuite::ALL.into_iter().map(SuiteName).collect(),
                allow_media_elsewhere: false,
                keys_only_over_tls: false,
            },
            video: VideoConfig {
                source: VideoSource::Auto,
                width: Bounded(1280),
                height: Bounded(720),
                fps: Bounded(30),
                bitrate_kbps: Bounded(2000),
                min_bitrate_kbps: None,
                encoder: EncoderChoice::Auto,
                controls: BTreeMap::new(),
            },
            audio: AudioConfig {
                capture: AudioDevice::Auto,
                playback: AudioDevice::Auto,
                capture_volume_percent: None,
                playback_volume_percent: None,
                echo_cancel: true,
            },
            display: DisplayConfig { output: DisplayOutput::Auto, self_view: true },
            panel: PanelConfig {
                backend: PanelBackend::Auto,
                chip: None,
                button_line: None,
                led_line: None,
                button_active_low: None,
                long_press_ms: Bounded(1500),
                led_brightness_percent: Bounded(100),
            },
            control: ControlConfig { socket: DEFAULT_SOCKET.into() },
            media: MediaConfig {
                jitter_buffer_min_ms: Bounded(2),
                jitter_buffer_max_ms: Bounded(200),
                render_deadline_ms: Bounded(10),
                clock: PipelineClock::Monotonic,
            },
            log: LogConfig { level: "info".into() },
            guests: GuestsConfig::default(),
        }
    }
}

impl Default for GuestsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: SocketAddr::from(([0, 0, 0, 0], 8443)),
            pin: String::new(),
            max: Bounded(2),
            tls_certificate: None,
            tls_key: None,
            link: None,
            show_link: true,
            show_link_in_call: false,
        }
    }
}
