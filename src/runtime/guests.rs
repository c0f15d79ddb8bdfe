//! The guest page's side of the event loop: it opens the HTTPS door when `[guests]` is on,
//! turns a join into the core's `GuestArrived` (the core decides), carries the core's
//! `StartGuest` to the media thread and the answer back to the waiting page, and maps each
//! guest's session (the `Location` its page DELETEs) to its leg.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::{Room, RuntimeError};
use crate::config::Config;
use crate::guests::{GuestRequest, JoinReply, server};
use crate::meeting::{Command, Input, LegId};
use crate::tls::Identity;

/// How long the media thread may take to answer a guest's offer.
const ANSWER_WAIT: Duration = Duration::from_secs(15);

pub(super) struct GuestDoor {
    task: tokio::task::JoinHandle<()>,
    pub link: String,
    /// Joins the core has not decided on yet, by ticket.
    pending: HashMap<u64, oneshot::Sender<JoinReply>>,
    /// Each guest's session token and its leg.
    sessions: HashMap<String, LegId>,
    next_ticket: u64,
}

impl Drop for GuestDoor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Opens the guest page when `[guests] enabled`; with guests off nothing listens.
pub(super) async fn open(
    config: &Config,
    requests: mpsc::Sender<GuestRequest>,
) -> Result<Option<GuestDoor>, RuntimeError> {
    let g = &config.guests;
    if !g.enabled {
        return Ok(None);
    }
    let (cert, key) = match (&g.tls_certificate, &g.tls_key) {
        (Some(cert), Some(key)) => (cert, key),
        _ => (&config.sip.tls_certificate, &config.sip.tls_key),
    };
    let names = vec![config.room.name.clone(), g.listen.ip().to_string()];
    let identity = Identity::load_or_create(cert, key, &names)?;
    let acceptor = crate::tls::web_acceptor(identity)?;
    let (addr, task) = server::serve(g.listen, &g.pin, acceptor, requests).await.map_err(RuntimeError::Guests)?;
    let link = g.join_link();
    tracing::info!(%addr, link, max = g.max.0, "guest page ready");
    Ok(Some(GuestDoor { task, link, pending: HashMap::new(), sessions: HashMap::new(), next_ticket: 1 }))
}

/// A session token nobody can guess (the page's DELETE is its only credential).
fn session_token() -> String {
    let (a, b) = (getrandom::u64().unwrap_or_default(), getrandom::u64().unwrap_or_default());
    format!("{a:016x}{b:016x}")
}

impl Room {
    pub(super) fn on_guest(&mut self, request: GuestRequest) {
        let Some(door) = self.guests.as_mut() else { return };
        match request {
            GuestRequest::Join { name, from, offer, reply } => {
                let ticket = door.next_ticket;
                door.next_ticket += 1;
                door.pending.insert(ticket, reply);
                self.core.handle_input(Instant::now(), Input::GuestArrived { ticket, name, from, offer });
            }
            GuestRequest::Leave { session, reply } => {
                let leg = door.sessions.remove(&session);
                let _ = reply.send(leg.is_some());
                if let Some(leg) = leg {
                    self.core.handle_input(Instant::now(), Input::Command(Command::Drop(leg)));
                }
            }
        }
    }

    /// The core admitted the guest: its media answers the offer, the page gets the answer.
    pub(super) fn start_guest(&mut self, leg: LegId, ticket: u64, name: &str, offer: String, muted: bool) {
        let Some(door) = self.guests.as_mut() else { return };
        let Some(reply) = door.pending.remove(&ticket) else { return };
        let session = session_token();
        door.sessions.insert(session.clone(), leg);
        let (answer_tx, answer_rx) = oneshot::channel();
        self.engine.start_guest(leg, name, offer, muted, answer_tx);
        tokio::spawn(async move {
            let answered = tokio::time::timeout(ANSWER_WAIT, answer_rx).await;
            let _ = reply.send(match answered {
                Ok(Ok(Ok(answer))) => JoinReply::Joined { session, answer },
                Ok(Ok(Err(e))) => JoinReply::Failed(e.to_string()),
                _ => JoinReply::Failed("the room's media did not answer in time".into()),
            });
        });
    }

    pub(super) fn refuse_guest(&mut self, ticket: u64, reason: String) {
        if let Some(reply) = self.guests.as_mut().and_then(|d| d.pending.remove(&ticket)) {
            let _ = reply.send(JoinReply::Refused(reason));
        }
    }

    /// A leg's media went: a guest's session ends with it.
    pub(super) fn forget_guest(&mut self, leg: LegId) {
        if let Some(door) = self.guests.as_mut() {
            door.sessions.retain(|_, l| *l != leg);
        }
    }

    /// The join link, when guests are on.
    pub(super) fn guest_link(&self) -> Option<String> {
        self.guests.as_ref().map(|d| d.link.clone())
    }
}
