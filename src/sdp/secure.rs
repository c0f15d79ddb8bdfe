//! The SDES-SRTP half of offer/answer (RFC 4568 §7, RFC 3264): which profile and `a=crypto`
//! lines a room offers under its [`Encryption`] policy, which offered key an answer takes, and
//! what an answer to our offer settles. Pure functions; keys come from [`MasterKey::fresh`].

use super::crypto::{CryptoAttribute, Encryption, MasterKey, SrtpKeys, SrtpSuite};
use super::{MediaDescription, SdpError};

/// The profile an SRTP-only offer uses (what `mediaenc=srtp-mand` peers send and expect).
pub const SECURE_PROFILE: &str = "RTP/SAVP";
pub const PLAIN_PROFILE: &str = "RTP/AVP";

/// A room's encryption settings, as offer/answer needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrtpPolicy {
    pub encryption: Encryption,
    /// The suites to offer and accept, most preferred first.
    pub suites: [Option<SrtpSuite>; 2],
}

impl Default for SrtpPolicy {
    fn default() -> Self {
        Self { encryption: Encryption::Required, suites: SrtpSuite::ALL.map(Some) }
    }
}

impl SrtpPolicy {
    pub fn with_suites(encryption: Encryption, suites: &[SrtpSuite]) -> Self {
        let mut chosen = [None; 2];
        for (slot, suite) in chosen.iter_mut().zip(suites) {
            *slot = Some(*suite);
        }
        Self { encryption, suites: chosen }
    }

    pub fn suites(&self) -> impl Iterator<Item = SrtpSuite> + '_ {
        self.suites.iter().flatten().copied()
    }

    fn suite_names(&self) -> String {
        self.suites().map(SrtpSuite::name).collect::<Vec<_>>().join(" and ")
    }
}

/// Whether an m-line's profile demands SRTP (`RTP/SAVP`, `RTP/SAVPF`).
pub fn demands_srtp(proto: &str) -> bool {
    proto.to_ascii_uppercase().contains("SAVP")
}

/// The profile and fresh `a=crypto` lines (tags 1, 2, …) of one line of our offer.
pub fn offer_crypto(policy: &SrtpPolicy) -> Result<(String, Vec<CryptoAttribute>), SdpError> {
    let crypto = match policy.encryption {
        Encryption::Off => Vec::new(),
        Encryption::Required | Encryption::Optional => (1..)
            .zip(policy.suites())
            .map(|(tag, suite)| Ok(CryptoAttribute { tag, suite, key: MasterKey::fresh(suite)? }))
            .collect::<Result<_, SdpError>>()?,
    };
    let proto = if policy.encryption == Encryption::Required { SECURE_PROFILE } else { PLAIN_PROFILE };
    Ok((proto.to_owned(), crypto))
}

/// What an answer does with one offered line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answered {
    Plain,
    /// SRTP: our `a=crypto` line for the answer and the stream's keys.
    Srtp(CryptoAttribute, SrtpKeys),
    /// The line is refused (port 0), for this reason.
    Refused(String),
}

/// The answerer's choice for an offered line: the offered key of our most preferred suite,
/// with a fresh key of our own under the same tag.
pub fn answer_crypto(policy: &SrtpPolicy, offered: &MediaDescription) -> Result<Answered, SdpError> {
    let kind = offered.media_name.as_str();
    let mandatory = demands_srtp(&offered.proto);
    if policy.encryption == Encryption::Off {
        return Ok(if mandatory {
            Answered::Refused(format!(
                "the peer sends {kind} only encrypted ({}) and this room has encryption = \"off\"",
                offered.proto
            ))
        } else {
            Answered::Plain
        });
    }
    let chosen = policy.suites().find_map(|suite| offered.crypto.iter().find(|c| c.suite == suite));
    if let Some(theirs) = chosen {
        let ours = CryptoAttribute { tag: theirs.tag, suite: theirs.suite, key: MasterKey::fresh(theirs.suite)? };
        let keys = SrtpKeys { suite: theirs.suite, send: ours.key.clone(), receive: theirs.key.clone() };
        return Ok(Answered::Srtp(ours, keys));
    }
    let offered_suites: Vec<String> = offered
        .unusable_crypto
        .iter()
        .map(|u| format!("{} ({})", u.suite, u.reason))
        .chain(offered.crypto.iter().map(|c| format!("{} (not enabled in srtp_suites)", c.suite.name())))
        .collect();
    if !offered_suites.is_empty() && (mandatory || policy.encryption == Encryption::Required) {
        return Ok(Answered::Refused(format!(
            "no SRTP suite in common for {kind}: the peer offers {}; this room speaks {}",
            offered_suites.join(", "),
            policy.suite_names()
        )));
    }
    Ok(match policy.encryption {
        Encryption::Required => Answered::Refused(format!(
            "the peer offers {kind} as plain RTP and this room requires encryption (encryption = \"required\"): \
             enable SRTP (SDES) on the peer, or set encryption = \"optional\" here"
        )),
        _ => Answered::Plain,
    })
}

/// The keys an answer to our offer settles for one line (`None`: plain RTP).
/// An offer made with encryption required is recognised by its profile (`RTP/SAVP`).
pub fn read_answer_crypto(ours: &MediaDescription, theirs: &MediaDescription) -> Result<Option<SrtpKeys>, SdpError> {
    let kind = ours.media_name.as_str();
    let Some(answered) = theirs.crypto.first() else {
        if demands_srtp(&ours.proto) {
            return Err(SdpError::Encryption(format!(
                "the peer answered our encrypted {kind} offer with plain RTP and this room requires encryption"
            )));
        }
        return Ok(None);
    };
    let offered = ours.crypto.iter().find(|c| c.tag == answered.tag && c.suite == answered.suite).ok_or_else(|| {
        SdpError::Encryption(format!(
            "the peer answered {kind} with SRTP key tag {} ({}), which our offer did not carry",
            answered.tag,
            answered.suite.name()
        ))
    })?;
    Ok(Some(SrtpKeys { suite: offered.suite, send: offered.key.clone(), receive: answered.key.clone() }))
}

#[cfg(test)]
#[path = "secure_tests.rs"]
mod tests;
