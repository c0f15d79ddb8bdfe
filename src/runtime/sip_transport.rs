//! SIP's transports for the event loop: the UDP socket, and TCP and TLS connections (taken on
//! the room's listeners or opened to a peer). Each connection is a task that frames messages
//! by Content-Length and hands them in; connecting and handshaking happen in those tasks too,
//! so the loop never waits on a peer. A peer that cannot be reached comes back as
//! [`Arrival::Unreachable`] with the reason (a refused connection, a certificate not trusted).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

use crate::sip::message::MAX_MESSAGE_BYTES;
use crate::sip::{SipAddr, SipMessage, Transport};
use crate::tls::TlsContext;

/// How long opening a connection (TCP, then the TLS handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What came in.
pub enum Arrival {
    Message(SipAddr, SipMessage),
    Malformed(SipAddr, String),
    Unreachable(SipAddr, String),
}

type Connections = Arc<Mutex<HashMap<SipAddr, mpsc::UnboundedSender<Vec<u8>>>>>;

pub struct SipTransports {
    udp: UdpSocket,
    arrivals_tx: mpsc::UnboundedSender<Arrival>,
    arrivals: mpsc::UnboundedReceiver<Arrival>,
    connections: Connections,
    tls: Option<Arc<TlsContext>>,
    listeners: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for SipTransports {
    fn drop(&mut self) {
        for listener in &self.listeners {
            listener.abort();
        }
    }
}

impl SipTransports {
    /// The room's transports: `udp` bound already; TCP taken on `tcp`, TLS (with `tls`, which
    /// also calls out) on `tls_listener`.
    pub fn new(
        udp: UdpSocket,
        tcp: Option<TcpListener>,
        tls_listener: Option<TcpListener>,
        tls: Option<Arc<TlsContext>>,
    ) -> Self {
        let (arrivals_tx, arrivals) = mpsc::unbounded_channel();
        let mut transports =
            Self { udp, arrivals_tx, arrivals, connections: Arc::default(), tls: tls.clone(), listeners: Vec::new() };
        if let Some(listener) = tcp {
            transports.listen(listener, None);
        }
        if let (Some(listener), Some(context)) = (tls_listener, tls) {
            transports.listen(listener, Some(context));
        }
        transports
    }

    fn listen(&mut self, listener: TcpListener, tls: Option<Arc<TlsContext>>) {
        let (arrivals, connections) = (self.arrivals_tx.clone(), self.connections.clone());
        self.listeners.push(tokio::spawn(async move {
            while let Ok((stream, from)) = listener.accept().await {
                let (arrivals, connections, tls) = (arrivals.clone(), connections.clone(), tls.clone());
                tokio::spawn(async move {
                    let transport = if tls.is_some() { Transport::Tls } else { Transport::Tcp };
                    let peer = SipAddr::new(from, transport);
                    let (tx, rx) = mpsc::unbounded_channel();
                    match tls {
                        Some(tls) => match tokio::time::timeout(CONNECT_TIMEOUT, tls.acceptor.accept(stream)).await {
                            Ok(Ok(stream)) => serve(stream, peer, tx, rx, arrivals, connections).await,
                            Ok(Err(e)) => tracing::warn!(%from, "refused a SIP over TLS connection: {e}"),
                            Err(_) => tracing::warn!(%from, "a SIP over TLS connection did not finish its handshake"),
                        },
                        None => serve(stream, peer, tx, rx, arrivals, connections).await,
                    }
                });
            }
        }));
    }

    /// The next message (or failure) from any transport.
    pub async fn recv(&mut self, buf: &mut [u8]) -> Arrival {
        tokio::select! {
            received = self.udp.recv_from(buf) => match received {
                Ok((n, from)) => match SipMessage::parse(&buf[..n]) {
                    Ok(message) => Arrival::Message(SipAddr::udp(from), message),
                    Err(e) => Arrival::Malformed(SipAddr::udp(from), format!("{e} ({n} bytes)")),
                },
                Err(e) => Arrival::Malformed(SipAddr::udp(([0, 0, 0, 0], 0).into()), format!("SIP socket: {e}")),
            },
            Some(arrival) = self.arrivals.recv() => arrival,
        }
    }

    /// Sends `message` to `to`: over UDP at once, over TCP/TLS on its connection (opened now
    /// if there is none; what is sent meanwhile waits for it).
    pub async fn send(&mut self, to: SipAddr, message: &SipMessage) {
        let bytes = message.to_string().into_bytes();
        if to.transport == Transport::Udp {
            if let Err(e) = self.udp.send_to(&bytes, to.addr).await {
                tracing::warn!(%to, "could not send SIP: {e}");
            }
            return;
        }
        let Ok(mut connections) = self.connections.lock() else { return };
        if let Some(connection) = connections.get(&to)
            && connection.send(bytes.clone()).is_ok()
        {
            return;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(bytes);
        connections.insert(to, tx.clone());
        drop(connections);
        let (arrivals, connections, tls) = (self.arrivals_tx.clone(), self.connections.clone(), self.tls.clone());
        tokio::spawn(async move {
            match open(to, tls.as_deref()).await {
                Ok(Stream::Tcp(stream)) => serve(stream, to, tx, rx, arrivals, connections).await,
                Ok(Stream::Tls(stream)) => serve(*stream, to, tx, rx, arrivals, connections).await,
                Err(reason) => {
                    if let Ok(mut c) = connections.lock() {
                        c.remove(&to);
                    }
                    let _ = arrivals.send(Arrival::Unreachable(to, reason));
                }
            }
        });
    }
}

enum Stream {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

async fn open(to: SipAddr, tls: Option<&TlsContext>) -> Result<Stream, String> {
    let connect = TcpStream::connect(to.addr);
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(format!("cannot connect to {to}: {e}")),
        Err(_) => return Err(format!("cannot connect to {to}: no answer in {} s", CONNECT_TIMEOUT.as_secs())),
    };
    if to.transport != Transport::Tls {
        return Ok(Stream::Tcp(stream));
    }
    let tls = tls.ok_or_else(|| format!("cannot call {to}: SIP over TLS is not set up (set [sip] tls_listen)"))?;
    let name = rustls::pki_types::ServerName::IpAddress(to.addr.ip().into());
    match tokio::time::timeout(CONNECT_TIMEOUT, tls.connector.connect(name, stream)).await {
        Ok(Ok(stream)) => Ok(Stream::Tls(Box::new(stream))),
        Ok(Err(e)) => Err(format!("the TLS handshake with {to} failed: {e}")),
        Err(_) => Err(format!("the TLS handshake with {to} did not finish in {} s", CONNECT_TIMEOUT.as_secs())),
    }
}

/// One connection: messages read from it go in as arrivals from `peer`; what the loop sends
/// to `peer` goes out on it. Closed on EOF, a framing error or a write failure.
async fn serve<S: AsyncRead + AsyncWrite + Send + 'static>(
    stream: S,
    peer: SipAddr,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    mut outgoing: mpsc::UnboundedReceiver<Vec<u8>>,
    arrivals: mpsc::UnboundedSender<Arrival>,
    connections: Connections,
) {
    if let Ok(mut c) = connections.lock() {
        c.insert(peer, tx);
    }
    let (read, mut write) = tokio::io::split(stream);
    let mut reader = BufReader::new(read);
    loop {
        tokio::select! {
            framed = read_message(&mut reader) => match framed {
                Ok(Some(bytes)) => {
                    let arrival = match SipMessage::parse(&bytes) {
                        Ok(message) => Arrival::Message(peer, message),
                        Err(e) => Arrival::Malformed(peer, e.to_string()),
                    };
                    let _ = arrivals.send(arrival);
                }
                Ok(None) => break,
                Err(why) => {
                    let _ = arrivals.send(Arrival::Malformed(peer, why));
                    break;
                }
            },
            Some(bytes) = outgoing.recv() => {
                if write.write_all(&bytes).await.is_err() {
                    break;
                }
            }
        }
    }
    if let Ok(mut c) = connections.lock() {
        c.remove(&peer);
    }
}

/// One message off a stream (RFC 3261 §18.3): the head up to its blank line, then as many body
/// bytes as Content-Length says. Blank keep-alive lines in between are skipped.
async fn read_message<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Result<Option<Vec<u8>>, String> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        let n = (&mut *reader).take((MAX_MESSAGE_BYTES + 1 - head.len()) as u64).read_until(b'\n', &mut head).await;
        let n = match n {
            Ok(n) => n,
            // A peer that hangs up without a TLS goodbye has still just hung up.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(e.to_string()),
        };
        if n == 0 {
            return Ok(None);
        }
        let line = &head[before..];
        if line == b"\r\n" || line == b"\n" {
            if before == 0 {
                head.clear(); // a keep-alive
                continue;
            }
            break;
        }
        if head.len() > MAX_MESSAGE_BYTES {
            return Err(format!("a SIP message head longer than {MAX_MESSAGE_BYTES} bytes"));
        }
    }
    let text = String::from_utf8_lossy(&head);
    let length = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| matches!(name.trim().to_ascii_lowercase().as_str(), "content-length" | "l"))
        .map(|(_, v)| v.trim().parse::<usize>().map_err(|_| format!("bad Content-Length '{}'", v.trim())))
        .transpose()?
        .unwrap_or(0);
    if head.len() + length > MAX_MESSAGE_BYTES {
        return Err(format!(
            "a SIP message of {} bytes, over the {MAX_MESSAGE_BYTES} a room takes",
            head.len() + length
        ));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.map_err(|e| e.to_string())?;
    head.extend(body);
    Ok(Some(head))
}
