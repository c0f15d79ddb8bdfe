//! What `check` says about privacy: how calls are encrypted, the room's TLS certificate and
//! its fingerprint (for peers to pin), and warnings where keys or peers are exposed.

use crate::config::Config;
use crate::sdp::Encryption;
use crate::sip::Transport;
use crate::tls::{Identity, Trust};

/// The lines to print, and the warnings (the room runs, but less privately than it could).
pub fn report(config: &Config) -> (Vec<String>, Vec<String>) {
    let (mut lines, mut warnings) = (Vec::new(), Vec::new());
    let encryption = config.call.encryption.0;
    let suites: Vec<&str> = config.call.srtp_suites.iter().map(|s| s.0.name()).collect();
    lines.push(match encryption {
        Encryption::Off => "media:   NOT encrypted (encryption = \"off\")".to_owned(),
        e => format!("media:   SRTP {} ({})", e.name(), suites.join(", ")),
    });
    let over_udp = config.call.peers.iter().filter(|p| p.0.transport() != Transport::Tls).count();
    if encryption != Encryption::Off && (over_udp > 0 || config.sip.tls_listen.is_none()) {
        warnings.push(
            "SDES keys of calls over SIP/UDP or TCP are readable on the path: call peers as sips: URIs and \
             set [sip] tls_listen so the keys travel inside TLS"
                .to_owned(),
        );
    }
    guests(config, &mut lines, &mut warnings);
    if !config.wants_tls() {
        lines.push("tls:     off (no [sip] tls_listen, no sips: peer)".into());
        return (lines, warnings);
    }
    let (cert, key) = (&config.sip.tls_certificate, &config.sip.tls_key);
    if !cert.exists() && !key.exists() {
        lines.push(format!("tls:     a self-signed certificate will be made at {} on first start", cert.display()));
    } else {
        match Identity::load_or_create(cert, key, &[]) {
            Ok(identity) => lines.push(format!("tls:     {} fingerprint {}", cert.display(), identity.fingerprint())),
            Err(e) => warnings.push(e.to_string()),
        }
    }
    match Trust::load(config.sip.tls_ca.as_deref(), &config.sip.tls_pinned) {
        Ok(trust) if trust.authenticates() => {
            lines.push(format!("peers:   {} pinned, CA {}", trust.pins.len(), if trust.ca.is_some() { "set" } else { "none" }));
        }
        Ok(_) => warnings.push(
            "TLS peers are not authenticated (TLS only encrypts): set [sip] tls_pinned to their fingerprints, or tls_ca"
                .into(),
        ),
        Err(e) => warnings.push(e.to_string()),
    }
    (lines, warnings)
}

/// The guest page: where it is served, and what it lacks.
fn guests(config: &Config, lines: &mut Vec<String>, warnings: &mut Vec<String>) {
    let g = &config.guests;
    if !g.enabled {
        lines.push("guests:  off ([guests] enabled = false: nothing listens for browsers)".into());
        return;
    }
    let link = g.join_link();
    lines.push(format!("guests:  {link} (listening on {}), up to {}, PIN of {} digits", g.listen, g.max, g.pin.len()));
    if g.pin.len() < 6 {
        warnings.push(format!(
            "a {}-digit guest PIN falls to a patient guesser even slowed down: use 6 digits or more",
            g.pin.len()
        ));
    }
    let missing: Vec<&str> = ["webrtcbin", "nicesrc", "dtlssrtpenc"]
        .into_iter()
        .filter(|e| gstreamer::init().is_err() || gstreamer::ElementFactory::find(e).is_none())
        .collect();
    if !missing.is_empty() {
        warnings.push(format!(
            "browser guests need GStreamer's {}: install gstreamer1.0-plugins-bad and gstreamer1.0-nice",
            missing.join(", ")
        ));
    }
}
