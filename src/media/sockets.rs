//! The UDP sockets of one call: RTP and RTCP for video and audio, bound before the SDP is
//! written (so the ports in it are really ours) and handed to GStreamer as GSockets, so sending
//! and receiving share one port per flow (symmetric RTP).

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::OwnedFd;

use super::MediaError;
use crate::sdp::LocalMedia;

pub struct CallSockets {
    pub video_rtp: gio::Socket,
    pub video_rtcp: gio::Socket,
    pub audio_rtp: gio::Socket,
    pub audio_rtcp: gio::Socket,
}

/// The same sockets as plain file descriptors: bound on the event loop, handed to the media
/// thread (a GSocket stays on the thread that uses it).
pub struct BoundSockets {
    pub local: LocalMedia,
    fds: [OwnedFd; 4],
}

/// The address this machine uses to reach `peer` (no packet is sent: a UDP connect only
/// consults the routing table).
pub fn local_ip_towards(peer: SocketAddr) -> Result<IpAddr, MediaError> {
    let any: SocketAddr =
        if peer.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { (std::net::Ipv6Addr::UNSPECIFIED, 0).into() };
    let probe = UdpSocket::bind(any).map_err(|e| MediaError::Socket(format!("cannot open a UDP socket: {e}")))?;
    probe
        .connect(peer)
        .map_err(|e| MediaError::Socket(format!("no route to {peer}: {e} (check the network cable and address)")))?;
    Ok(probe.local_addr().map_err(|e| MediaError::Socket(e.to_string()))?.ip())
}

fn bind(ip: IpAddr) -> Result<(u16, OwnedFd), MediaError> {
    let socket = UdpSocket::bind(SocketAddr::new(ip, 0))
        .map_err(|e| MediaError::Socket(format!("cannot bind an RTP port on {ip}: {e}")))?;
    let port = socket.local_addr().map_err(|e| MediaError::Socket(e.to_string()))?.port();
    Ok((port, OwnedFd::from(socket)))
}

fn to_gio(fd: OwnedFd) -> Result<gio::Socket, MediaError> {
    gio::Socket::from_fd(fd).map_err(|e| MediaError::Socket(format!("cannot hand the socket to GStreamer: {e}")))
}

impl BoundSockets {
    /// Sockets for a call with `peer`, on the address that reaches it.
    pub fn bind(peer: SocketAddr) -> Result<Self, MediaError> {
        let ip = local_ip_towards(peer)?;
        let (video_rtp_port, video_rtp) = bind(ip)?;
        let (video_rtcp_port, video_rtcp) = bind(ip)?;
        let (audio_rtp_port, audio_rtp) = bind(ip)?;
        let (audio_rtcp_port, audio_rtcp) = bind(ip)?;
        let local = LocalMedia {
            ip,
            video_rtp: video_rtp_port,
            video_rtcp: video_rtcp_port,
            audio_rtp: audio_rtp_port,
            audio_rtcp: audio_rtcp_port,
        };
        Ok(Self { local, fds: [video_rtp, video_rtcp, audio_rtp, audio_rtcp] })
    }

    /// As GSockets for GStreamer (on the thread that will use them).
    pub fn into_call(self) -> Result<CallSockets, MediaError> {
        let [video_rtp, video_rtcp, audio_rtp, audio_rtcp] = self.fds;
        Ok(CallSockets {
            video_rtp: to_gio(video_rtp)?,
            video_rtcp: to_gio(video_rtcp)?,
            audio_rtp: to_gio(audio_rtp)?,
            audio_rtcp: to_gio(audio_rtcp)?,
        })
    }
}
