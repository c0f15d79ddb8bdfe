//! SDES-SRTP (RFC 4568) as typed data: the `a=crypto` attribute, the suites roombox speaks,
//! master keys drawn from the OS random source (never printed: their `Debug` is redacted), and
//! the room's encryption policy. The offer/answer choice itself is in [`super::negotiate`].

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

use super::SdpError;

/// An SRTP crypto suite roombox can key from SDES, in the room's default order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SrtpSuite {
    /// AES-128 in Galois/Counter mode (RFC 7714): encryption and a 16-byte tag in one.
    #[serde(rename = "AEAD_AES_128_GCM")]
    AeadAes128Gcm,
    /// AES-128 counter mode with an 80-bit HMAC-SHA1 tag (RFC 4568), what every SRTP peer has.
    #[serde(rename = "AES_CM_128_HMAC_SHA1_80")]
    AesCm128HmacSha1_80,
}

impl SrtpSuite {
    pub const ALL: [SrtpSuite; 2] = [SrtpSuite::AeadAes128Gcm, SrtpSuite::AesCm128HmacSha1_80];

    /// The suite's name in `a=crypto` and in the config file.
    pub fn name(self) -> &'static str {
        match self {
            SrtpSuite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            SrtpSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name().eq_ignore_ascii_case(name))
    }

    /// Master key and master salt together, in bytes (16 + 12 for GCM, 16 + 14 for AES-CM).
    pub fn key_len(self) -> usize {
        match self {
            SrtpSuite::AeadAes128Gcm => 28,
            SrtpSuite::AesCm128HmacSha1_80 => 30,
        }
    }

    /// The cipher's nick in `srtpenc`/`srtpdec` (for RTP and RTCP alike).
    pub fn cipher(self) -> &'static str {
        match self {
            SrtpSuite::AeadAes128Gcm => "aes-128-gcm",
            SrtpSuite::AesCm128HmacSha1_80 => "aes-128-icm",
        }
    }

    /// The authentication's nick in `srtpenc`/`srtpdec` (GCM authenticates by itself).
    pub fn auth(self) -> &'static str {
        match self {
            SrtpSuite::AeadAes128Gcm => "null",
            SrtpSuite::AesCm128HmacSha1_80 => "hmac-sha1-80",
        }
    }
}

/// Whether a room's calls are encrypted (`[call] encryption`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encryption {
    /// Offer SRTP only (`RTP/SAVP`) and refuse plain-RTP offers with 488.
    #[default]
    Required,
    /// Offer SRTP over `RTP/AVP` (best effort) and accept plain RTP.
    Optional,
    /// Plain RTP; SRTP-only offers are refused.
    Off,
}

impl Encryption {
    pub fn name(self) -> &'static str {
        match self {
            Encryption::Required => "required",
            Encryption::Optional => "optional",
            Encryption::Off => "off",
        }
    }
}

/// An SRTP master key and salt. Its `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey(Vec<u8>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey(<{} bytes, redacted>)", self.0.len())
    }
}

impl MasterKey {
    /// A new key for `suite` from the operating system's random source.
    pub fn fresh(suite: SrtpSuite) -> Result<Self, SdpError> {
        let mut bytes = vec![0u8; suite.key_len()];
        getrandom::fill(&mut bytes).map_err(|e| SdpError::NoRandom(e.to_string()))?;
        Ok(Self(bytes))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// One `a=crypto` line: `tag suite inline:key[|lifetime]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoAttribute {
    pub tag: u32,
    pub suite: SrtpSuite,
    pub key: MasterKey,
}

/// Why an `a=crypto` line cannot be used (kept so refusals can name what the peer offered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusableCrypto {
    pub suite: String,
    pub reason: String,
}

impl CryptoAttribute {
    /// Reads the value of an `a=crypto` attribute (without `crypto:`).
    pub fn parse(value: &str) -> Result<Self, UnusableCrypto> {
        let mut words = value.split_whitespace();
        let (tag, suite_name, key_params) = (words.next(), words.next().unwrap_or(""), words.next());
        let unusable = |reason: &str| UnusableCrypto { suite: suite_name.to_owned(), reason: reason.to_owned() };
        let tag = tag
            .and_then(|t| t.parse::<u32>().ok())
            .filter(|t| *t < 1_000_000_000)
            .ok_or_else(|| unusable("its tag is not a number of at most 9 digits"))?;
        let suite = SrtpSuite::from_name(suite_name).ok_or_else(|| unusable("roombox does not speak this suite"))?;
        if words.next().is_some() {
            return Err(unusable("session parameters (KDR, UNENCRYPTED_SRTP, …) are not supported"));
        }
        let key_params = key_params.ok_or_else(|| unusable("it has no key"))?;
        if key_params.contains(';') {
            return Err(unusable("more than one key per line is not supported"));
        }
        let inline = key_params.strip_prefix("inline:").ok_or_else(|| unusable("its key is not given inline:"))?;
        let mut parts = inline.split('|');
        let encoded = parts.next().unwrap_or("");
        match (parts.next(), parts.next()) {
            (_, Some(_)) => return Err(unusable("keys with a master key identifier (MKI) are not supported")),
            (Some(lifetime), None) if lifetime.contains(':') => {
                return Err(unusable("keys with a master key identifier (MKI) are not supported"));
            }
            _ => {}
        }
        let bytes = STANDARD
            .decode(encoded)
            .or_else(|_| STANDARD_NO_PAD.decode(encoded))
            .map_err(|_| unusable("its key is not valid base64"))?;
        if bytes.len() != suite.key_len() {
            return Err(unusable(&format!("its key has {} bytes, the suite needs {}", bytes.len(), suite.key_len())));
        }
        Ok(Self { tag, suite, key: MasterKey(bytes) })
    }

    /// The attribute's value, as sent in SDP.
    pub fn to_value(&self) -> String {
        format!("{} {} inline:{}", self.tag, self.suite.name(), STANDARD.encode(&self.key.0))
    }
}

/// The keys of one negotiated SRTP stream: ours encrypts what we send, theirs decrypts what
/// arrives. `Debug` shows the suite only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpKeys {
    pub suite: SrtpSuite,
    pub send: MasterKey,
    pub receive: MasterKey,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attribute_reads_back_what_it_prints() {
        for suite in SrtpSuite::ALL {
            let attr = CryptoAttribute { tag: 7, suite, key: MasterKey::fresh(suite).unwrap() };
            assert_eq!(CryptoAttribute::parse(&attr.to_value()), Ok(attr));
        }
    }

    #[test]
    fn rfc_4568_example_with_a_lifetime_is_read() {
        let attr =
            CryptoAttribute::parse("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20")
                .unwrap();
        assert_eq!((attr.tag, attr.suite, attr.key.bytes().len()), (1, SrtpSuite::AesCm128HmacSha1_80, 30));
    }

    #[test]
    fn unusable_lines_say_why() {
        let why = |v: &str| CryptoAttribute::parse(v).unwrap_err().reason;
        assert!(why("1 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR").contains("suite"));
        assert!(
            why("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4").contains("MKI")
        );
        assert!(why("1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=").contains("30"));
        assert!(why("x AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=").contains("tag"));
        assert!(why("1 AES_CM_128_HMAC_SHA1_80 inline:!!!").contains("base64"));
        assert!(why("1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ= KDR=1").contains("session parameters"));
        assert!(why("1 AES_CM_128_HMAC_SHA1_80").contains("no key"));
    }

    #[test]
    fn keys_never_show_in_debug_output() {
        let key = MasterKey(vec![0xab; 30]);
        let keys = SrtpKeys { suite: SrtpSuite::AesCm128HmacSha1_80, send: key.clone(), receive: key };
        let text = format!("{keys:?}");
        assert!(!text.contains("171") && !text.contains("ab") && text.contains("redacted"), "{text}");
    }

    #[test]
    fn fresh_keys_differ() {
        let suite = SrtpSuite::AeadAes128Gcm;
        assert_ne!(MasterKey::fresh(suite).unwrap(), MasterKey::fresh(suite).unwrap());
    }
}
