//! What carries SIP to a peer (RFC 3261 §18): UDP datagrams, or a TCP or TLS connection; and
//! [`SipAddr`], where one message goes or came from: an address with its transport. Over TCP
//! and TLS a peer's address is that of the connection, so answers go back the way requests came.

use std::fmt;
use std::net::SocketAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// The transport's name in a Via header (`SIP/2.0/TLS`) and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    /// Reliable transports deliver or fail: nothing is retransmitted over them.
    pub fn is_reliable(self) -> bool {
        self != Transport::Udp
    }

    /// From a URI's `transport=` parameter value.
    pub fn from_param(value: &str) -> Option<Self> {
        [Transport::Udp, Transport::Tcp, Transport::Tls].into_iter().find(|t| t.name().eq_ignore_ascii_case(value))
    }
}

/// Where a SIP message goes or came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SipAddr {
    pub addr: SocketAddr,
    pub transport: Transport,
}

impl SipAddr {
    pub fn new(addr: SocketAddr, transport: Transport) -> Self {
        Self { addr, transport }
    }

    pub fn udp(addr: SocketAddr) -> Self {
        Self::new(addr, Transport::Udp)
    }
}

impl fmt::Display for SipAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.transport {
            Transport::Udp => write!(f, "{}", self.addr),
            other => write!(f, "{} over {}", self.addr, other.name()),
        }
    }
}

/// `ip:port` (UDP), or `ip:port over TLS|TCP` as it prints.
impl std::str::FromStr for SipAddr {
    type Err = std::net::AddrParseError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (addr, transport) = match text.split_once(" over ") {
            Some((addr, name)) => (addr, Transport::from_param(name).unwrap_or_default()),
            None => (text, Transport::Udp),
        };
        Ok(Self::new(addr.trim().parse()?, transport))
    }
}

impl From<SocketAddr> for SipAddr {
    fn from(addr: SocketAddr) -> Self {
        Self::udp(addr)
    }
}
