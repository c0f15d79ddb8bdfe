//! Checks across fields of a parsed config, each failing with what to change.

use super::{Config, PanelBackend, SrtpPolicy};
use crate::sdp::Encryption;

impl Config {
    /// A GPIO panel needs its chip and both lines, from the board profile or `[panel]`.
    pub(super) fn check_panel(&self) -> Result<(), String> {
        let p = &self.panel;
        if !matches!(p.backend, PanelBackend::Gpio | PanelBackend::Rppal) {
            return Ok(());
        }
        let missing: Vec<&str> =
            [("chip", p.chip.is_none()), ("button_line", p.button_line.is_none()), ("led_line", p.led_line.is_none())]
                .into_iter()
                .filter_map(|(k, m)| m.then_some(k))
                .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(format!(
            "[panel] backend = \"gpio\" needs {} (set them in [panel], or pick a board such as board = \"rpi4\")",
            missing.join(", ")
        ))
    }

    /// Rate adaptation needs room between its floor and the configured rate.
    pub fn min_bitrate_kbps(&self) -> u32 {
        let max = self.video.bitrate_kbps.0;
        self.video.min_bitrate_kbps.map_or(super::DEFAULT_MIN_BITRATE_KBPS.min(max), |m| m.0)
    }

    /// A floor set above the configured rate leaves rate adaptation nowhere to go.
    pub(super) fn check_video(&self) -> Result<(), String> {
        let (Some(min), max) = (self.video.min_bitrate_kbps.map(|m| m.0), self.video.bitrate_kbps.0) else {
            return Ok(());
        };
        if min > max {
            return Err(format!(
                "[video] min_bitrate_kbps = {min} is above bitrate_kbps = {max}: rate adaptation lowers the bitrate \
                 from bitrate_kbps down to min_bitrate_kbps on a poor path (set min_bitrate_kbps to {max} or less)"
            ));
        }
        Ok(())
    }

    /// Encryption needs a suite, each named once.
    pub(super) fn check_call(&self) -> Result<(), String> {
        let suites = &self.call.srtp_suites;
        if suites.is_empty() && self.call.encryption.0 != Encryption::Off {
            return Err(
                "[call] srtp_suites is empty: name at least one of \"AEAD_AES_128_GCM\" and \"AES_CM_128_HMAC_SHA1_80\", \
                 or set encryption = \"off\""
                    .into(),
            );
        }
        if let Some((i, dup)) = suites.iter().enumerate().find(|(i, s)| suites[..*i].contains(s)) {
            return Err(format!(
                "[call] srtp_suites names {} twice (entry {}): name each suite once",
                dup.0.name(),
                i + 1
            ));
        }
        Ok(())
    }

    /// Whether the room needs TLS: it listens for it, or calls a peer over it.
    pub fn wants_tls(&self) -> bool {
        self.sip.tls_listen.is_some() || self.call.peers.iter().any(|p| p.0.transport() == crate::sip::Transport::Tls)
    }

    /// The SRTP settings offer/answer works with.
    pub fn srtp_policy(&self) -> SrtpPolicy {
        let suites: Vec<_> = self.call.srtp_suites.iter().map(|s| s.0).collect();
        SrtpPolicy::with_suites(self.call.encryption.0, &suites)
    }
}
