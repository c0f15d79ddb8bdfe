//! SIP over TLS (rustls): the room's identity (certificate and key from the config, or a
//! self-signed pair made on first start), its SHA-256 fingerprint as `check` shows it, and how
//! a peer's certificate is trusted: signed by a configured CA, or pinned by fingerprint. With
//! neither, TLS still encrypts but does not know who is at the other end (`check` warns).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS {what} {path}: {reason} (check [sip] tls_certificate and tls_key)")]
    Read { what: &'static str, path: PathBuf, reason: String },
    #[error("cannot write the new self-signed TLS {what} to {path}: {reason} (the directory must be writable)")]
    Write { what: &'static str, path: PathBuf, reason: String },
    #[error("cannot make a self-signed TLS certificate: {0}")]
    Generate(String),
    #[error(
        "[sip] tls_pinned entry \"{0}\" is not a SHA-256 fingerprint: write it as `check` prints it, sha256:AB:CD:…"
    )]
    BadPin(String),
    #[error("the TLS setup is refused: {0}")]
    Setup(String),
}

/// A certificate's SHA-256 fingerprint, `sha256:AB:CD:…` (as `check` prints it).
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    format!("sha256:{}", hex.join(":"))
}

/// Reads a pin as written in the config (`sha256:` prefix and colons optional, any case).
pub fn parse_pin(text: &str) -> Result<String, TlsError> {
    let bare = text.trim().strip_prefix("sha256:").unwrap_or(text.trim()).replace(':', "");
    let valid = bare.len() == 64 && bare.chars().all(|c| c.is_ascii_hexdigit());
    if !valid {
        return Err(TlsError::BadPin(text.to_owned()));
    }
    let pairs: Vec<String> =
        bare.to_ascii_uppercase().as_bytes().chunks(2).map(|p| String::from_utf8_lossy(p).into()).collect();
    Ok(format!("sha256:{}", pairs.join(":")))
}

/// The room's certificate chain and key.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// Whether the pair was made just now (first start).
    pub created: bool,
}

impl Identity {
    pub fn fingerprint(&self) -> String {
        self.chain.first().map_or_else(String::new, |c| fingerprint(c))
    }

    /// The pair at `cert` and `key`; when neither file exists, a self-signed pair for `names`
    /// (the room's name and addresses) is made and written there first.
    pub fn load_or_create(cert: &Path, key: &Path, names: &[String]) -> Result<Self, TlsError> {
        let mut created = false;
        if !cert.exists() && !key.exists() {
            let made =
                rcgen::generate_simple_self_signed(names.to_vec()).map_err(|e| TlsError::Generate(e.to_string()))?;
            write_private(cert, made.cert.pem().as_bytes(), "certificate", 0o644)?;
            write_private(key, made.key_pair.serialize_pem().as_bytes(), "key", 0o600)?;
            created = true;
        }
        let read = |what, path: &Path| {
            std::fs::read(path).map_err(|e| TlsError::Read { what, path: path.into(), reason: e.to_string() })
        };
        let cert_pem = read("certificate", cert)?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Read { what: "certificate", path: cert.into(), reason: e.to_string() })?;
        if chain.is_empty() {
            let reason = "no PEM certificate in it".into();
            return Err(TlsError::Read { what: "certificate", path: cert.into(), reason });
        }
        let key_pem = read("key", key)?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Read {
            what: "key",
            path: key.into(),
            reason: e.to_string(),
        })?;
        Ok(Self { chain, key, created })
    }
}

fn write_private(path: &Path, bytes: &[u8], what: &'static str, mode: u32) -> Result<(), TlsError> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |e: std::io::Error| TlsError::Write { what, path: path.into(), reason: e.to_string() };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    std::fs::write(path, bytes).map_err(fail)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(fail)
}

/// The acceptor of the guest page (HTTPS): the room's identity, no client certificates (a
/// browser has none), HTTP/1.1.
pub fn web_acceptor(identity: Identity) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    let mut server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(identity.chain, identity.key)
        .map_err(|e| TlsError::Setup(e.to_string()))?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(server)))
}

/// Who the room believes is at the other end of a TLS connection.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// Certificates signed by these CAs are trusted (names checked against the peer's address).
    pub ca: Option<Arc<RootCertStore>>,
    /// Certificates with these fingerprints are trusted, whoever signed them.
    pub pins: Vec<String>,
}

impl Trust {
    pub fn load(ca: Option<&Path>, pins: &[String]) -> Result<Self, TlsError> {
        let pins = pins.iter().map(|p| parse_pin(p)).collect::<Result<Vec<_>, _>>()?;
        let Some(path) = ca else { return Ok(Self { ca: None, pins }) };
        let fail = |reason: String| TlsError::Read { what: "CA", path: path.into(), reason };
        let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            roots.add(cert.map_err(|e| fail(e.to_string()))?).map_err(|e| fail(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(fail("no PEM certificate in it".into()));
        }
        Ok(Self { ca: Some(Arc::new(roots)), pins })
    }

    /// Whether anything authenticates peers (else TLS only encrypts).
    pub fn authenticates(&self) -> bool {
        self.ca.is_some() || !self.pins.is_empty()
    }

    /// `Ok` when `end_entity` (with `intermediates`) is trusted; `ca_check` runs the CA's
    /// verification when a CA is configured.
    fn judge(
        &self,
        end_entity: &CertificateDer<'_>,
        ca_check: impl FnOnce() -> Result<(), rustls::Error>,
    ) -> Result<(), rustls::Error> {
        let seen = fingerprint(end_entity);
        if self.pins.contains(&seen) || !self.authenticates() {
            return Ok(());
        }
        match &self.ca {
            Some(_) => ca_check().map_err(|e| {
                rustls::Error::General(format!("certificate {seen} is neither pinned nor accepted by the CA: {e}"))
            }),
            None => Err(rustls::Error::General(format!(
                "certificate {seen} is not pinned: add it to [sip] tls_pinned if this is the peer"
            ))),
        }
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The handshake-signature checks both verifiers share: the provider's algorithms (field 1).
macro_rules! handshake_signatures {
    () => {
        fn verify_tls12_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(m, c, d, &self.1.signature_verification_algorithms)
        }
        fn verify_tls13_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(m, c, d, &self.1.signature_verification_algorithms)
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.1.signature_verification_algorithms.supported_schemes()
        }
    };
}

/// Checks servers we connect to against [`Trust`].
#[derive(Debug)]
struct ServerTrust(Trust, Arc<CryptoProvider>);

impl ServerCertVerifier for ServerTrust {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0.judge(end_entity, || {
            let roots = self.0.ca.clone().ok_or_else(|| rustls::Error::General("no CA".into()))?;
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, self.1.clone())
                .build()
                .map_err(|e| rustls::Error::General(e.to_string()))?;
            webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now).map(|_| ())
        })?;
        Ok(ServerCertVerified::assertion())
    }
    handshake_signatures!();
}

/// Checks rooms that connect to us against [`Trust`] (their certificate is asked for, and
/// required once anything authenticates).
#[derive(Debug)]
struct ClientTrust(Trust, Arc<CryptoProvider>);

impl ClientCertVerifier for ClientTrust {
    fn client_auth_mandatory(&self) -> bool {
        self.0.authenticates()
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.0.judge(end_entity, || {
            let roots = self.0.ca.clone().ok_or_else(|| rustls::Error::General("no CA".into()))?;
            let webpki = rustls::server::WebPkiClientVerifier::builder_with_provider(roots, self.1.clone())
                .build()
                .map_err(|e| rustls::Error::General(e.to_string()))?;
            webpki.verify_client_cert(end_entity, intermediates, now).map(|_| ())
        })?;
        Ok(ClientCertVerified::assertion())
    }
    handshake_signatures!();
}

/// Both sides of the room's TLS: the acceptor for its listener, the connector for its calls.
pub struct TlsContext {
    pub acceptor: tokio_rustls::TlsAcceptor,
    pub connector: tokio_rustls::TlsConnector,
    pub fingerprint: String,
    pub authenticates: bool,
}

impl TlsContext {
    pub fn new(identity: Identity, trust: Trust) -> Result<Self, TlsError> {
        let setup = |e: rustls::Error| TlsError::Setup(e.to_string());
        let provider = provider();
        let fingerprint = identity.fingerprint();
        let authenticates = trust.authenticates();
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(setup)?
            .with_client_cert_verifier(Arc::new(ClientTrust(trust.clone(), provider.clone())))
            .with_single_cert(identity.chain.clone(), identity.key.clone_key())
            .map_err(setup)?;
        let client = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(setup)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ServerTrust(trust, provider)))
            .with_client_auth_cert(identity.chain, identity.key)
            .map_err(setup)?;
        Ok(Self {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
            connector: tokio_rustls::TlsConnector::from(Arc::new(client)),
            fingerprint,
            authenticates,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_read_in_any_spelling_and_bad_ones_named() {
        let hex = "ab".repeat(32);
        let canonical = parse_pin(&hex).unwrap();
        assert!(canonical.starts_with("sha256:AB:AB:") && canonical.len() == 7 + 32 * 3 - 1, "{canonical}");
        assert_eq!(parse_pin(&canonical).unwrap(), canonical);
        assert!(parse_pin("sha256:12:34").unwrap_err().to_string().contains("sha256:12:34"));
    }

    #[test]
    fn a_first_start_makes_a_self_signed_pair_and_the_next_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("tls/room.crt"), dir.path().join("tls/room.key"));
        let made = Identity::load_or_create(&cert, &key, &["oslo".into(), "127.0.0.1".into()]).unwrap();
        assert!(made.created);
        let again = Identity::load_or_create(&cert, &key, &[]).unwrap();
        assert!(!again.created);
        assert_eq!(made.fingerprint(), again.fingerprint());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600, "the key is private");
        assert!(TlsContext::new(again, Trust::default()).is_ok());
    }
}
