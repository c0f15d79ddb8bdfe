//! `[guests]`: browser guests join the meeting from the box's own web page (HTTPS), with a PIN.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::Bounded;
use super::fields;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuestsConfig {
    /// Serve the guest page; off, nothing listens on `listen`.
    pub enabled: bool,
    /// Address and port of the guest page (HTTPS).
    #[serde(deserialize_with = "fields::socket_addr")]
    pub listen: SocketAddr,
    /// The meeting PIN guests type to join: 4 to 12 digits.
    pub pin: String,
    /// Guests at once in the meeting (each is a place: `[call] max_places` counts them too).
    pub max: Bounded<1, 3>,
    /// The page's certificate and key (PEM); unset, the room's SIP/TLS identity (made
    /// self-signed on first start).
    pub tls_certificate: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The join link `ctl guest-link` prints and the idle screen shows (e.g.
    /// "https://room-3.example.org:8443/"); unset, the box's own address and port.
    pub link: Option<String>,
    /// Show the join link as a QR code on the idle screen.
    pub show_link: bool,
    /// Show it too in the bottom-left corner of the room's screen during a meeting.
    pub show_link_in_call: bool,
}

impl GuestsConfig {
    /// The link guests open: `link`, else the page's own address (the box's on its default
    /// route when it listens on every address).
    pub fn join_link(&self) -> String {
        crate::guests::link::join_url(self.link.as_deref(), self.listen, std::net::IpAddr::from([127, 0, 0, 1]))
    }

    /// The join link the idle screen shows, when guests are on and `show_link` is set.
    pub fn link_to_show(&self) -> Option<String> {
        (self.enabled && self.show_link).then(|| self.join_link())
    }

    /// The join link the in-call screen shows, when guests are on and `show_link_in_call` is set.
    pub fn link_to_show_in_call(&self) -> Option<String> {
        (self.enabled && self.show_link_in_call).then(|| self.join_link())
    }

    /// Guests need a PIN of 4 to 12 digits, and a certificate needs its key.
    pub(super) fn check(&self) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        if self.pin.len() < 4 || self.pin.len() > 12 || !self.pin.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "[guests] pin must be 4 to 12 digits (it is {}): set e.g. pin = \"482913\", the number guests type to join",
                if self.pin.is_empty() {
                    "empty".to_owned()
                } else {
                    format!("{} characters", self.pin.chars().count())
                }
            ));
        }
        if self.tls_certificate.is_some() != self.tls_key.is_some() {
            return Err(
                "[guests] tls_certificate and tls_key go together: set both, or neither to use the room's own".into()
            );
        }
        if let Some(link) = &self.link
            && !link.starts_with("https://")
        {
            return Err(format!(
                "[guests] link \"{link}\" must start with https:// (browsers give cameras only to secure pages)"
            ));
        }
        Ok(())
    }
}
