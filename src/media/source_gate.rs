//! Who may send a leg media, decided per socket and per packet (pure; the probes that ask are
//! in [`super::gate_probes`]). A packet passes when it comes from the address the negotiation
//! named, or from the address the gate latched on to: a place behind NAT sends from another
//! address than its SDP says, so on an encrypted session the first packet that passes SRTP
//! authentication from elsewhere, while the named address is silent, moves the gate there
//! (symmetric RTP). Everything else is dropped and counted, and a session takes at most
//! [`MAX_SSRCS`] distinct streams.

use std::collections::HashSet;
use std::net::SocketAddr;

/// Remote streams a socket takes: the place's media, its retransmissions and a few restarts.
pub const MAX_SSRCS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// From an unknown address, let through only to be authenticated (encrypted sessions).
    Unverified,
    /// From a stranger: dropped.
    Foreign,
    /// A stream beyond [`MAX_SSRCS`]: dropped.
    TooManyStreams,
}

#[derive(Debug)]
pub struct SourceGate {
    expected: SocketAddr,
    latched: Option<SocketAddr>,
    /// Whether packets are authenticated after the gate (SRTP), so it may latch.
    may_latch: bool,
    heard_expected: bool,
    ssrcs: HashSet<u32>,
    pub foreign: u64,
    pub surplus_streams: u64,
}

impl SourceGate {
    pub fn new(expected: SocketAddr, may_latch: bool) -> Self {
        Self {
            expected,
            latched: None,
            may_latch,
            heard_expected: false,
            ssrcs: HashSet::new(),
            foreign: 0,
            surplus_streams: 0,
        }
    }

    /// Whether a packet from `from` (of stream `ssrc`, for RTP) goes on.
    pub fn admit(&mut self, from: Option<SocketAddr>, ssrc: Option<u32>) -> Verdict {
        let Some(from) = from else {
            self.foreign += 1;
            return Verdict::Foreign;
        };
        let known = from == self.expected || Some(from) == self.latched;
        if !known {
            if self.may_latch && self.latched.is_none() && !self.heard_expected {
                return Verdict::Unverified;
            }
            self.foreign += 1;
            return Verdict::Foreign;
        }
        if let Some(ssrc) = ssrc
            && !self.ssrcs.contains(&ssrc)
        {
            if self.ssrcs.len() >= MAX_SSRCS {
                self.surplus_streams += 1;
                return Verdict::TooManyStreams;
            }
            self.ssrcs.insert(ssrc);
        }
        Verdict::Pass
    }

    /// A packet from `from` passed authentication. Returns the new address to send to when
    /// the gate latched on to it (the place is behind NAT).
    pub fn authenticated(&mut self, from: SocketAddr) -> Option<SocketAddr> {
        if from == self.expected {
            self.heard_expected = true;
            return None;
        }
        if self.may_latch && self.latched.is_none() && !self.heard_expected {
            self.latched = Some(from);
            return Some(from);
        }
        None
    }

    pub fn dropped(&self) -> u64 {
        self.foreign + self.surplus_streams
    }
}

/// The SSRC of an RTP packet (bytes 8..12), if it is one.
pub fn rtp_ssrc(packet: &[u8]) -> Option<u32> {
    let bytes = packet.get(8..12)?;
    (packet[0] >> 6 == 2).then(|| u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> Option<SocketAddr> {
        Some(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    #[test]
    fn only_the_negotiated_address_passes_a_plain_session() {
        let mut gate = SourceGate::new(addr(4000).unwrap(), false);
        assert_eq!(gate.admit(addr(4000), Some(1)), Verdict::Pass);
        assert_eq!(gate.admit(addr(4001), Some(1)), Verdict::Foreign);
        assert_eq!(gate.admit(None, None), Verdict::Foreign);
        assert_eq!(gate.authenticated(addr(4001).unwrap()), None, "plain RTP never latches");
        assert_eq!((gate.foreign, gate.dropped()), (2, 2));
    }

    #[test]
    fn an_encrypted_session_latches_on_the_first_authenticated_stranger_only_while_the_named_address_is_silent() {
        let mut gate = SourceGate::new(addr(4000).unwrap(), true);
        assert_eq!(gate.admit(addr(5000), Some(1)), Verdict::Unverified);
        assert_eq!(gate.admit(addr(6000), Some(2)), Verdict::Unverified);
        assert_eq!(gate.authenticated(addr(5000).unwrap()), addr(5000), "the NAT's address");
        assert_eq!(gate.admit(addr(5000), Some(1)), Verdict::Pass);
        assert_eq!(gate.admit(addr(6000), Some(2)), Verdict::Foreign, "once latched, others are strangers");
        assert_eq!(gate.authenticated(addr(6000).unwrap()), None);

        let mut heard = SourceGate::new(addr(4000).unwrap(), true);
        assert_eq!(heard.authenticated(addr(4000).unwrap()), None);
        assert_eq!(heard.admit(addr(5000), Some(1)), Verdict::Foreign, "the place is heard where it said");
    }

    #[test]
    fn streams_beyond_the_bound_are_dropped_and_known_ones_go_on() {
        let mut gate = SourceGate::new(addr(4000).unwrap(), false);
        for ssrc in 0..MAX_SSRCS as u32 {
            assert_eq!(gate.admit(addr(4000), Some(ssrc)), Verdict::Pass);
        }
        assert_eq!(gate.admit(addr(4000), Some(999)), Verdict::TooManyStreams);
        assert_eq!(gate.admit(addr(4000), Some(3)), Verdict::Pass);
        assert_eq!(gate.surplus_streams, 1);
    }

    #[test]
    fn ssrcs_are_read_from_rtp_only() {
        assert_eq!(rtp_ssrc(&[0x80, 96, 0, 1, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]), Some(0xdead_beef));
        assert_eq!(rtp_ssrc(&[0x00; 12]), None);
        assert_eq!(rtp_ssrc(&[0x80, 96]), None);
    }
}
