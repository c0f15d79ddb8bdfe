//! Who may call this room: an allow list of SIP URIs matched against the caller's source
//! address (which cannot be spoofed on a reply path) and the user part of its From URI.

use std::net::SocketAddr;

use crate::sip::SipUri;

/// One allowed caller: `sip:user@ip[:port]`; without a user any room at that address matches,
/// without a port any source port matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry(pub SipUri);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowList {
    Anyone,
    Only(Vec<AllowEntry>),
}

impl AllowEntry {
    pub fn matches(&self, source: SocketAddr, from: &SipUri) -> bool {
        let uri = &self.0;
        let ip_ok = uri.ip().is_some_and(|ip| ip == source.ip());
        let port_ok = uri.port.is_none_or(|p| p == source.port());
        let user_ok = uri.user.as_ref().is_none_or(|u| from.user.as_deref() == Some(u.as_str()));
        ip_ok && port_ok && user_ok
    }
}

impl AllowList {
    pub fn allows(&self, source: SocketAddr, from: &SipUri) -> bool {
        match self {
            AllowList::Anyone => true,
            AllowList::Only(entries) => entries.iter().any(|e| e.matches(source, from)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> SipUri {
        s.parse().unwrap()
    }

    #[test]
    fn a_configured_peer_is_allowed_and_a_stranger_on_the_same_host_is_not() {
        let list = AllowList::Only(vec![AllowEntry(uri("sip:oslo@127.0.0.1:5061"))]);
        let oslo = "127.0.0.1:5061".parse().unwrap();
        assert!(list.allows(oslo, &uri("sip:oslo@127.0.0.1:5061")));
        assert!(!list.allows("127.0.0.1:5063".parse().unwrap(), &uri("sip:oslo@127.0.0.1:5063")));
        assert!(!list.allows(oslo, &uri("sip:mallory@127.0.0.1:5061")));
        assert!(AllowList::Anyone.allows(oslo, &uri("sip:mallory@10.1.1.1")));
    }

    #[test]
    fn an_entry_without_user_or_port_admits_the_whole_host() {
        let list = AllowList::Only(vec![AllowEntry(uri("sip:192.0.2.7"))]);
        assert!(list.allows("192.0.2.7:40000".parse().unwrap(), &uri("sip:anyone@192.0.2.7")));
        assert!(!list.allows("192.0.2.8:5060".parse().unwrap(), &uri("sip:anyone@192.0.2.8")));
    }
}
