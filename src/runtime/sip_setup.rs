//! Opens the room's SIP transports from the config: the UDP socket (its port is the room's
//! SIP port), a TCP listener on the same address, and, when TLS is wanted (a `tls_listen`, or
//! a peer to call over TLS), the room's TLS identity, its trust in peers and a TLS listener.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, UdpSocket};

use super::RuntimeError;
use super::sip_transport::SipTransports;
use crate::config::Config;
use crate::tls::{Identity, TlsContext, Trust};

/// Where the transports listen.
pub struct Bound {
    pub transports: SipTransports,
    pub udp: SocketAddr,
    pub tls: Option<SocketAddr>,
}

fn bind_error(addr: SocketAddr, transport: &'static str) -> impl Fn(std::io::Error) -> RuntimeError {
    move |source| RuntimeError::SipBind {
        addr,
        transport,
        hint: if source.kind() == std::io::ErrorKind::AddrInUse {
            " (another program uses this port: change [sip] listen or tls_listen)"
        } else {
            ""
        },
        source,
    }
}

/// The room's TLS context, from its certificate (made on first start) and its trust settings.
pub fn tls_context(config: &Config) -> Result<TlsContext, RuntimeError> {
    let names = vec![config.room.name.clone(), config.sip.listen.ip().to_string()];
    let identity = Identity::load_or_create(&config.sip.tls_certificate, &config.sip.tls_key, &names)?;
    if identity.created {
        tracing::info!(fingerprint = %identity.fingerprint(), path = %config.sip.tls_certificate.display(), "made a self-signed TLS certificate");
    }
    let trust = Trust::load(config.sip.tls_ca.as_deref(), &config.sip.tls_pinned)?;
    Ok(TlsContext::new(identity, trust)?)
}

pub async fn bind(config: &Config) -> Result<Bound, RuntimeError> {
    let listen = config.sip.listen;
    let udp = UdpSocket::bind(listen).await.map_err(bind_error(listen, "UDP"))?;
    let udp_addr = udp.local_addr().map_err(bind_error(listen, "UDP"))?;
    let tcp = match config.sip.tcp {
        true => match TcpListener::bind(udp_addr).await {
            Ok(listener) => Some(listener),
            Err(e) => {
                tracing::warn!(addr = %udp_addr, "no SIP over TCP: {e} (set [sip] tcp = false to silence this)");
                None
            }
        },
        false => None,
    };
    let tls = if config.wants_tls() { Some(Arc::new(tls_context(config)?)) } else { None };
    if tls.as_ref().is_some_and(|t| !t.authenticates) {
        tracing::warn!("SIP over TLS encrypts, but no peer is authenticated: set [sip] tls_ca or tls_pinned");
    }
    let tls_listener = match config.sip.tls_listen {
        Some(addr) => Some(TcpListener::bind(addr).await.map_err(bind_error(addr, "TLS"))?),
        None => None,
    };
    let tls_addr = tls_listener.as_ref().and_then(|l| l.local_addr().ok());
    Ok(Bound { transports: SipTransports::new(udp, tcp, tls_listener, tls), udp: udp_addr, tls: tls_addr })
}

/// Transports that take nothing (an unused local port): held while the real ones are rebound.
pub async fn placeholder() -> Result<SipTransports, RuntimeError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let udp = UdpSocket::bind(addr).await.map_err(bind_error(addr, "UDP"))?;
    Ok(SipTransports::new(udp, None, None, None))
}
