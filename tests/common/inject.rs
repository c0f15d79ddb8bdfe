//! An outsider's packets: RTP sprayed at a room's media ports from a socket of its own, or
//! with a forged source address (a raw IPv4 socket, root) so they seem to come from the peer.

use std::net::{SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A small deterministic generator, so a failing run can be repeated.
pub struct Noise(pub u64);

impl Noise {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// An RTP packet of payload type `pt` and stream `ssrc`, with `len` random payload bytes
    /// (an SRTP packet under a key nobody has, as far as a receiver can tell).
    pub fn rtp(&mut self, pt: u8, ssrc: u32, len: usize) -> Vec<u8> {
        let seq = self.next() as u16;
        let ts = self.next() as u32;
        let mut p = vec![0x80, pt & 0x7f];
        p.extend(seq.to_be_bytes());
        p.extend(ts.to_be_bytes());
        p.extend(ssrc.to_be_bytes());
        p.extend((0..len).map(|_| self.next() as u8));
        p
    }
}

/// Sends from a UDP socket of the outsider's own.
pub fn spray(socket: &UdpSocket, to: SocketAddrV4, packet: &[u8]) {
    let _ = socket.send_to(packet, to);
}

/// A raw socket that writes whole IPv4 packets (so the source address is whatever we say).
pub struct Forger(OwnedFd);

impl Forger {
    pub fn new() -> Forger {
        // SAFETY: plain socket(2) call; the result is checked before it is owned.
        let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
        assert!(raw >= 0, "a raw socket needs root: {}", std::io::Error::last_os_error());
        // SAFETY: `raw` is a fresh, valid descriptor that nothing else owns.
        Forger(unsafe { OwnedFd::from_raw_fd(raw) })
    }

    /// One UDP datagram from `from` to `to` (no UDP checksum, which IPv4 allows).
    pub fn send(&self, from: SocketAddrV4, to: SocketAddrV4, payload: &[u8]) {
        let total = (20 + 8 + payload.len()) as u16;
        let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip.extend(from.ip().octets());
        ip.extend(to.ip().octets());
        ip.extend(from.port().to_be_bytes());
        ip.extend(to.port().to_be_bytes());
        ip.extend((8 + payload.len() as u16).to_be_bytes());
        ip.extend([0, 0]);
        ip.extend(payload);
        // SAFETY: a zeroed sockaddr_in is valid; family and address are set below.
        let mut dst: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        dst.sin_family = libc::AF_INET as u16;
        dst.sin_addr.s_addr = u32::from_ne_bytes(to.ip().octets());
        let len = std::mem::size_of::<libc::sockaddr_in>() as u32;
        // SAFETY: `ip` and `dst` outlive the call; their sizes are passed with them.
        unsafe { libc::sendto(self.0.as_raw_fd(), ip.as_ptr().cast(), ip.len(), 0, (&raw const dst).cast(), len) };
    }
}
