//! The daemon's side of the control socket: binds it (group read/write only), reads one JSON
//! request per line and forwards it to the runtime, within bounds a stuck or hostile client
//! cannot push: a line is at most [`MAX_LINE`] bytes and must arrive within [`LINE_TIMEOUT`];
//! the runtime's answer is awaited at most [`ANSWER_TIMEOUT`]; at most [`MAX_CONNECTIONS`] are
//! open, and a new one closes the connection idle longest. Every refusal is a JSON error.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

use crate::control::{ControlError, Pending, Request, Response};

pub const MAX_LINE: usize = 64 * 1024;
pub const LINE_TIMEOUT: Duration = Duration::from_secs(10);
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
pub const MAX_CONNECTIONS: usize = 16;

/// The open connections: when each last finished a request, and how to close it.
#[derive(Default)]
struct Open {
    next_id: u64,
    connections: Vec<(u64, Instant, Option<oneshot::Sender<()>>)>,
}

impl Open {
    /// Registers a new connection, closing the one idle longest when all slots are taken.
    fn admit(&mut self) -> (u64, oneshot::Receiver<()>) {
        if self.connections.len() >= MAX_CONNECTIONS
            && let Some(oldest) = self.connections.iter().enumerate().min_by_key(|(_, c)| c.1).map(|(i, _)| i)
        {
            let (_, _, close) = self.connections.remove(oldest);
            if let Some(close) = close {
                let _ = close.send(());
            }
        }
        let (close, closed) = oneshot::channel();
        self.next_id += 1;
        self.connections.push((self.next_id, Instant::now(), Some(close)));
        (self.next_id, closed)
    }

    fn touch(&mut self, id: u64) {
        if let Some(c) = self.connections.iter_mut().find(|c| c.0 == id) {
            c.1 = Instant::now();
        }
    }

    fn leave(&mut self, id: u64) {
        self.connections.retain(|c| c.0 != id);
    }
}

/// Binds the socket and forwards each request to `requests`.
pub async fn serve(path: &Path, requests: mpsc::Sender<Pending>) -> Result<tokio::task::JoinHandle<()>, ControlError> {
    if path.exists() {
        if UnixStream::connect(path).await.is_ok() {
            return Err(ControlError::InUse(path.into()));
        }
        let _ = std::fs::remove_file(path); // stale socket from a previous run
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| ControlError::Bind { path: path.into(), source })?;
    }
    let listener = UnixListener::bind(path).map_err(|source| ControlError::Bind { path: path.into(), source })?;
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660));
    let open = Arc::new(Mutex::new(Open::default()));
    Ok(tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let Ok((id, closed)) = open.lock().map(|mut o| o.admit()) else { continue };
            let (open, requests) = (open.clone(), requests.clone());
            tokio::spawn(async move {
                tokio::select! {
                    () = handle_connection(stream, requests, &open, id) => {}
                    _ = closed => {}
                }
                if let Ok(mut o) = open.lock() {
                    o.leave(id);
                }
            });
        }
    }))
}

/// What reading one request line gave.
enum Line {
    Text(String),
    Closed,
    Refused(String),
}

async fn read_line(reader: &mut BufReader<tokio::net::unix::OwnedReadHalf>) -> Line {
    let mut bytes = Vec::new();
    let mut limited = (&mut *reader).take(MAX_LINE as u64 + 1);
    let read = tokio::time::timeout(LINE_TIMEOUT, limited.read_until(b'\n', &mut bytes)).await;
    match read {
        Err(_) if bytes.is_empty() => Line::Closed, // idle: the slot goes back
        Err(_) => Line::Refused(format!("the request line did not end within {} s", LINE_TIMEOUT.as_secs())),
        Ok(Err(_) | Ok(0)) => Line::Closed,
        Ok(Ok(_)) if bytes.len() > MAX_LINE => {
            Line::Refused(format!("the request line is longer than {MAX_LINE} bytes: send one JSON object per line"))
        }
        Ok(Ok(_)) => match String::from_utf8(bytes) {
            Ok(text) => Line::Text(text),
            Err(_) => Line::Refused("the request is not UTF-8 text: send one JSON object per line".into()),
        },
    }
}

async fn reply(write: &mut OwnedWriteHalf, response: &Response) -> bool {
    let Ok(mut text) = serde_json::to_string(response) else { return false };
    text.push('\n');
    write.write_all(text.as_bytes()).await.is_ok()
}

async fn handle_connection(stream: UnixStream, requests: mpsc::Sender<Pending>, open: &Mutex<Open>, id: u64) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let line = match read_line(&mut reader).await {
            Line::Text(line) => line,
            Line::Closed => return,
            Line::Refused(why) => {
                reply(&mut write, &Response::error(why)).await;
                return;
            }
        };
        let response = match serde_json::from_str::<Request>(line.trim_end()) {
            Ok(request) => {
                let (tx, rx) = oneshot::channel();
                if requests.send((request, tx)).await.is_err() {
                    return;
                }
                match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
                    Ok(answer) => answer.unwrap_or_else(|_| Response::error("roombox is shutting down")),
                    Err(_) => Response::error(format!(
                        "roombox did not answer within {} s: its runtime is busy (see the log)",
                        ANSWER_TIMEOUT.as_secs()
                    )),
                }
            }
            Err(e) => Response::error(format!("bad request: {e}")),
        };
        if !reply(&mut write, &response).await {
            return;
        }
        if let Ok(mut o) = open.lock() {
            o.touch(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_connection_past_the_limit_closes_the_one_idle_longest() {
        let mut open = Open::default();
        let mut closed: Vec<_> = (0..MAX_CONNECTIONS).map(|_| open.admit()).collect();
        open.touch(1);
        let (newest, _) = open.admit();
        assert_eq!(open.connections.len(), MAX_CONNECTIONS);
        assert!(closed[1].1.try_recv().is_ok(), "connection 2 had been idle longest");
        assert!(closed[0].1.try_recv().is_err(), "connection 1 had just been used");
        assert_eq!(newest, MAX_CONNECTIONS as u64 + 1);
        open.leave(newest);
        assert_eq!(open.connections.len(), MAX_CONNECTIONS - 1);
    }
}
