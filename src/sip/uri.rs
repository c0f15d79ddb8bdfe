//! SIP URIs (`sip:user@host:port;params`): parsing, printing and the socket address they name.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use super::SipError;
use super::transport::{SipAddr, Transport};

/// The default SIP port over UDP and TCP (RFC 3261 §19.1.2).
pub const DEFAULT_SIP_PORT: u16 = 5060;
/// The default port for `sips:` URIs and SIP over TLS.
pub const DEFAULT_SIPS_PORT: u16 = 5061;

/// A `sip:` or `sips:` URI. Parameters and headers after the host part are kept verbatim;
/// only `transport=` is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    /// `sips:`: the peer must be reached over TLS.
    pub secure: bool,
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub params: String,
}

impl SipUri {
    pub fn new(user: Option<&str>, addr: SocketAddr) -> Self {
        Self {
            secure: false,
            user: user.map(str::to_owned),
            host: match addr.ip() {
                IpAddr::V6(v6) => format!("[{v6}]"),
                IpAddr::V4(v4) => v4.to_string(),
            },
            port: Some(addr.port()),
            params: String::new(),
        }
    }

    /// The IP address of the host part, if it is an IP literal (direct IP dialling).
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.trim_start_matches('[').trim_end_matches(']').parse().ok()
    }

    /// The transport requests for this URI take: TLS for `sips:` or `transport=tls`, TCP for
    /// `transport=tcp`, else UDP.
    pub fn transport(&self) -> Transport {
        if self.secure {
            return Transport::Tls;
        }
        self.params
            .split(';')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("transport"))
            .and_then(|(_, v)| Transport::from_param(v.trim()))
            .unwrap_or_default()
    }

    /// Where to send requests for this URI, if the host is an IP literal.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let default = if self.transport() == Transport::Tls { DEFAULT_SIPS_PORT } else { DEFAULT_SIP_PORT };
        self.ip().map(|ip| SocketAddr::new(ip, self.port.unwrap_or(default)))
    }

    /// The address and transport requests for this URI go to.
    pub fn sip_addr(&self) -> Option<SipAddr> {
        Some(SipAddr::new(self.socket_addr()?, self.transport()))
    }
}

impl FromStr for SipUri {
    type Err = SipError;

    fn from_str(text: &str) -> Result<Self, SipError> {
        let bad = |why: &str| SipError::BadUri(format!("'{text}': {why}"));
        let scheme = |s: &str| text.get(..s.len()).filter(|p| p.eq_ignore_ascii_case(s)).map(|_| &text[s.len()..]);
        let (secure, rest) = match (scheme("sip:"), scheme("sips:")) {
            (Some(rest), _) => (false, rest),
            (_, Some(rest)) => (true, rest),
            _ => return Err(bad("must start with 'sip:' or 'sips:' (e.g. sip:oslo@192.0.2.10:5060)")),
        };
        let (hostpart, params) = match rest.find([';', '?']) {
            Some(i) => (&rest[..i], rest[i..].to_owned()),
            None => (rest, String::new()),
        };
        let (user, hostport) = match hostpart.rsplit_once('@') {
            Some((u, h)) if !u.is_empty() => (Some(u.to_owned()), h),
            Some(_) => return Err(bad("empty user before '@'")),
            None => (None, hostpart),
        };
        let (host, port) = split_host_port(hostport).ok_or_else(|| bad("bad host or port"))?;
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '<' || c == '>') {
            return Err(bad("missing or invalid host"));
        }
        Ok(Self { secure, user, host: host.to_owned(), port, params })
    }
}

fn split_host_port(hostport: &str) -> Option<(&str, Option<u16>)> {
    if hostport.starts_with('[') {
        let end = hostport.find(']')?;
        let (host, tail) = hostport.split_at(end + 1);
        return match tail.strip_prefix(':') {
            Some(p) => Some((host, Some(p.parse().ok()?))),
            None if tail.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match hostport.rsplit_once(':') {
        Some((host, p)) => Some((host, Some(p.parse().ok().filter(|p| *p != 0)?))),
        None => Some((hostport, None)),
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        f.write_str(&self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        f.write_str(&self.params)
    }
}

/// A `name-addr` or `addr-spec` header value (From, To, Contact) with its `tag` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    pub display: Option<String>,
    pub uri: SipUri,
    pub tag: Option<String>,
}

impl NameAddr {
    pub fn new(uri: SipUri, tag: Option<String>) -> Self {
        Self { display: None, uri, tag }
    }
}

impl FromStr for NameAddr {
    type Err = SipError;

    fn from_str(text: &str) -> Result<Self, SipError> {
        let text = text.trim();
        let (display, uri, header_params) = if let Some(open) = text.find('<') {
            let close = text[open..]
                .find('>')
                .map(|i| i + open)
                .ok_or_else(|| SipError::BadHeader(format!("unclosed '<' in '{text}'")))?;
            let display = text[..open].trim().trim_matches('"').trim();
            let display = (!display.is_empty()).then(|| display.to_owned());
            (display, &text[open + 1..close], &text[close + 1..])
        } else {
            // addr-spec form: parameters after ';' belong to the header, not the URI.
            match text.find(';') {
                Some(i) => (None, &text[..i], &text[i..]),
                None => (None, text, ""),
            }
        };
        let tag = header_params
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.eq_ignore_ascii_case("tag"))
            .map(|(_, v)| v.to_owned());
        Ok(Self { display, uri: uri.parse()?, tag })
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(display) = &self.display {
            write!(f, "\"{display}\" ")?;
        }
        write!(f, "<{}>", self.uri)?;
        if let Some(tag) = &self.tag {
            write!(f, ";tag={tag}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_round_trips_and_names_its_socket_address() {
        let uri: SipUri = "sip:oslo@192.0.2.10:5070".parse().unwrap();
        assert_eq!(uri.user.as_deref(), Some("oslo"));
        assert_eq!(uri.socket_addr(), Some("192.0.2.10:5070".parse().unwrap()));
        assert_eq!(uri.to_string(), "sip:oslo@192.0.2.10:5070");
        let v6: SipUri = "sip:[::1]".parse().unwrap();
        assert_eq!(v6.socket_addr(), Some("[::1]:5060".parse().unwrap()));
    }

    #[test]
    fn sips_and_transport_parameters_choose_the_transport_and_its_default_port() {
        let sips: SipUri = "sips:bergen@192.0.2.11".parse().unwrap();
        assert_eq!((sips.transport(), sips.socket_addr().unwrap().port()), (Transport::Tls, 5061));
        assert_eq!(sips.to_string(), "sips:bergen@192.0.2.11");
        let tls: SipUri = "sip:bergen@192.0.2.11:5071;transport=TLS".parse().unwrap();
        assert_eq!(tls.sip_addr(), Some(SipAddr::new("192.0.2.11:5071".parse().unwrap(), Transport::Tls)));
        let tcp: SipUri = "sip:bergen@192.0.2.11;transport=tcp".parse().unwrap();
        assert_eq!((tcp.transport(), tcp.socket_addr().unwrap().port()), (Transport::Tcp, 5060));
        assert_eq!("sip:b@192.0.2.11".parse::<SipUri>().unwrap().transport(), Transport::Udp);
    }

    #[test]
    fn uri_rejects_what_is_not_sip() {
        for bad in ["http://x", "sip:", "sip:@host", "sip:a@host:99999", "sip:a@host:0", "oslo"] {
            assert!(bad.parse::<SipUri>().is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn name_addr_reads_display_uri_and_tag() {
        let na: NameAddr = "\"Oslo room\" <sip:oslo@10.0.0.1;transport=udp>;tag=abc".parse().unwrap();
        assert_eq!(na.display.as_deref(), Some("Oslo room"));
        assert_eq!(na.uri.params, ";transport=udp");
        assert_eq!(na.tag.as_deref(), Some("abc"));
        let bare: NameAddr = "sip:bob@10.0.0.2;tag=9".parse().unwrap();
        assert_eq!(bare.tag.as_deref(), Some("9"));
        assert_eq!(bare.uri.params, "");
    }
}
