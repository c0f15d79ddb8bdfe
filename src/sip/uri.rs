//! SIP URIs (`sip:user@host:port;params`): parsing, printing and the socket address they name.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use super::SipError;

/// The default SIP port over UDP (RFC 3261 §19.1.2).
pub const DEFAULT_SIP_PORT: u16 = 5060;

/// A `sip:` URI. Parameters and headers after the host part are kept verbatim but not interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub params: String,
}

impl SipUri {
    pub fn new(user: Option<&str>, addr: SocketAddr) -> Self {
        Self {
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

    /// Where to send requests for this URI, if the host is an IP literal.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.ip().map(|ip| SocketAddr::new(ip, self.port.unwrap_or(DEFAULT_SIP_PORT)))
    }
}

impl FromStr for SipUri {
    type Err = SipError;

    fn from_str(text: &str) -> Result<Self, SipError> {
        let bad = |why: &str| SipError::BadUri(format!("'{text}': {why}"));
        let rest = text
            .get(..4)
            .filter(|scheme| scheme.eq_ignore_ascii_case("sip:"))
            .map(|_| &text[4..])
            .ok_or_else(|| bad("must start with 'sip:' (e.g. sip:oslo@192.0.2.10:5060)"))?;
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
        Ok(Self { user, host: host.to_owned(), port, params })
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
        f.write_str("sip:")?;
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
