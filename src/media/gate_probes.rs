//! The [`SourceGate`]s on a leg's receiving sockets, as pad probes: one on each `udpsrc`
//! (before anything reads the packet) and, on encrypted sessions, one after the SRTP decoder
//! that tells the gate which sender authenticated, so a place behind NAT is answered where it
//! really sends from (the leg's `udpsink` is pointed there).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use gio::prelude::*;
use gst::prelude::*;
use gstreamer as gst;
use gstreamer_net as gst_net;

use super::source_gate::{SourceGate, Verdict, rtp_ssrc};
use crate::sdp::NegotiatedStream;

/// A leg's gates: per session, the RTP one and the RTCP one.
#[derive(Default)]
pub struct LegGates(Mutex<Vec<(u32, Arc<Mutex<SourceGate>>)>>);

impl LegGates {
    /// Packets the session's gates dropped (strangers, surplus streams).
    pub fn dropped(&self, session: u32) -> u64 {
        let Ok(gates) = self.0.lock() else { return 0 };
        gates.iter().filter(|(s, _)| *s == session).filter_map(|(_, g)| g.lock().ok().map(|g| g.dropped())).sum()
    }

    fn add(&self, session: u32, gate: SourceGate) -> Arc<Mutex<SourceGate>> {
        let gate = Arc::new(Mutex::new(gate));
        if let Ok(mut gates) = self.0.lock() {
            gates.push((session, gate.clone()));
        }
        gate
    }
}

/// Where a buffer came from (udpsrc stamps each with the sender's address).
fn sender(buffer: &gst::BufferRef) -> Option<SocketAddr> {
    let meta = buffer.meta::<gst_net::NetAddressMeta>()?;
    let inet = meta.addr().downcast::<gio::InetSocketAddress>().ok()?;
    Some(SocketAddr::new(inet.address().into(), inet.port()))
}

/// One socket of a session: what arrives on `socket_src`, decrypted on `decrypted` (if any),
/// answered through `answer` (the udpsink sending to the place).
pub struct Socket<'a> {
    pub socket_src: &'a gst::Element,
    pub decrypted: Option<gst::Pad>,
    pub answer: &'a gst::Element,
    pub remote_port: u16,
    pub rtp: bool,
}

/// Gates one socket of `session` to the address `stream` names.
pub fn install(gates: &LegGates, session: u32, stream: &NegotiatedStream, socket: Socket<'_>, leg: &str) {
    let expected = SocketAddr::new(stream.remote_ip, socket.remote_port);
    let gate = gates.add(session, SourceGate::new(expected, stream.srtp.is_some()));
    if let Some(src) = socket.socket_src.static_pad("src") {
        let (gate, rtp) = (gate.clone(), socket.rtp);
        src.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            let Some(buffer) = info.buffer() else { return gst::PadProbeReturn::Ok };
            let ssrc = if rtp { buffer.map_readable().ok().and_then(|m| rtp_ssrc(&m)) } else { None };
            let verdict = gate.lock().map_or(Verdict::Foreign, |mut g| g.admit(sender(buffer), ssrc));
            match verdict {
                Verdict::Pass | Verdict::Unverified => gst::PadProbeReturn::Ok,
                Verdict::Foreign | Verdict::TooManyStreams => gst::PadProbeReturn::Drop,
            }
        });
    }
    let Some(decrypted) = socket.decrypted else { return };
    let (answer, leg) = (socket.answer.downgrade(), leg.to_owned());
    decrypted.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        let from = info.buffer().and_then(|b| sender(b));
        let moved = from.and_then(|from| gate.lock().ok()?.authenticated(from));
        if let (Some(to), Some(sink)) = (moved, answer.upgrade()) {
            tracing::info!(leg, %to, "the place sends from another address than it announced (NAT): answering there");
            sink.emit_by_name::<()>("clear", &[]);
            sink.emit_by_name::<()>("add", &[&to.ip().to_string(), &i32::from(to.port())]);
        }
        gst::PadProbeReturn::Ok
    });
}
