//! What an eavesdropper on the path reads: UDP packets on the loopback interface, taken with a
//! packet socket (root), as they travel between rooms.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// One UDP datagram seen on the wire.
pub struct Datagram {
    pub dst_port: u16,
    pub payload: Vec<u8>,
}

pub struct Capture {
    fd: OwnedFd,
}

impl Capture {
    /// A packet socket on `lo` for IPv4 (needs root, as `make test` runs).
    pub fn loopback() -> Capture {
        let protocol = (libc::ETH_P_IP as u16).to_be();
        // SAFETY: plain socket(2) call; the result is checked before it is owned.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM, i32::from(protocol)) };
        assert!(raw >= 0, "a packet socket needs root: {}", std::io::Error::last_os_error());
        // SAFETY: `raw` is a fresh, valid descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: a zeroed sockaddr_ll is valid; the fields set are the ones bind(2) reads.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = protocol;
        // SAFETY: the name is a NUL-terminated C string literal.
        addr.sll_ifindex = unsafe { libc::if_nametoindex(c"lo".as_ptr()) } as i32;
        let len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
        // SAFETY: `addr` outlives the call and `len` is its size.
        let bound = unsafe { libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len) };
        assert_eq!(bound, 0, "bind to lo: {}", std::io::Error::last_os_error());
        let timeout = libc::timeval { tv_sec: 0, tv_usec: 100_000 };
        // SAFETY: `timeout` outlives the call and the length is its size.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&raw const timeout).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        Capture { fd }
    }

    /// The UDP datagrams to any of `ports` for `duration` (each once: loopback's outgoing
    /// copies are skipped).
    pub fn udp_to(&self, ports: &[u16], duration: Duration) -> Vec<Datagram> {
        let mut seen = Vec::new();
        let mut buf = vec![0u8; 65536];
        let end = Instant::now() + duration;
        while Instant::now() < end {
            // SAFETY: a zeroed sockaddr_ll is valid for recvfrom(2) to fill.
            let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            // SAFETY: `buf` and `from` outlive the call; their sizes are passed with them.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    (&raw mut from).cast(),
                    &mut len,
                )
            };
            if n <= 0 || from.sll_pkttype == libc::PACKET_OUTGOING {
                continue;
            }
            if let Some(d) = udp(&buf[..n as usize]).filter(|d| ports.contains(&d.dst_port)) {
                seen.push(d);
            }
        }
        seen
    }
}

/// The UDP datagram in an IPv4 packet.
fn udp(ip: &[u8]) -> Option<Datagram> {
    let header = usize::from(*ip.first()? & 0x0f) * 4;
    if ip.get(9) != Some(&17) || ip.len() < header + 8 {
        return None;
    }
    let udp = &ip[header..];
    Some(Datagram { dst_port: u16::from_be_bytes([udp[2], udp[3]]), payload: udp[8..].to_vec() })
}
