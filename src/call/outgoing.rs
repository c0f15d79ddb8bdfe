//! The calling side: dialling the configured peer, reading the answers to our INVITE, and
//! hanging up (CANCEL before the answer, BYE after it).

use std::net::SocketAddr;
use std::time::Instant;

use super::core::{Core, Deadline, Tx};
use super::{CallState, Level, Output};
use crate::sdp::{self, SdpError, SessionDescription};
use crate::sip::dialog::{Dialog, ack_for_failure, cancel_for, with_sdp};
use crate::sip::retransmit::TIMEOUT;
use crate::sip::{Method, NameAddr, Response, SipUri};

impl Core {
    /// Starts calling the first configured peer: bind media first, then INVITE.
    pub(super) fn dial(&mut self, now: Instant) {
        let Some(peer) = self.cfg.peers.first().cloned() else {
            self.fail_without_call(
                now,
                "no peer to call: add peers = [\"sip:room@192.0.2.10:5060\"] under [call] in the config",
            );
            return;
        };
        let Some(addr) = peer.socket_addr() else {
            self.fail_without_call(
                now,
                &format!("cannot dial {peer}: use the peer's IP address (DNS names need a registrar)"),
            );
            return;
        };
        let id = self.new_call(true, peer.clone(), addr);
        if let Some(call) = self.call.as_mut() {
            call.deadline = Some((now + self.cfg.timing.dial_timeout, Deadline::Dial));
        }
        self.set_state(now, CallState::Dialing);
        self.log(Level::Info, format!("calling {peer}"));
        self.push(Output::PrepareMedia { call: id, peer: addr });
    }

    fn fail_without_call(&mut self, now: Instant, error: &str) {
        let peer = SipUri { user: None, host: "nowhere".into(), port: None, params: String::new() };
        self.new_call(true, peer, SocketAddr::from(([0, 0, 0, 0], 0)));
        if let Some(call) = self.call.as_mut() {
            call.end_error = Some(error.to_owned());
            call.media_released = true;
        }
        self.finish_call(now);
    }

    /// Media is bound: send the INVITE with our offer.
    pub(super) fn send_invite(&mut self, now: Instant) {
        let (room, sip_port, caps) = (self.cfg.room.clone(), self.cfg.sip_port, self.cfg.caps);
        let (call_token, tag, branch, session) =
            (self.ids.token(), self.ids.token(), self.ids.branch(), self.ids.next() >> 1);
        let Some(call) = self.call.as_mut() else {
            return;
        };
        let Some(local) = call.local else { return };
        let sent_by = SocketAddr::new(local.ip, sip_port);
        let mut dialog = Dialog {
            call_id: format!("{call_token}@roombox"),
            local: NameAddr::new(SipUri::new(Some(&room), sent_by), Some(tag)),
            remote: NameAddr::new(call.peer.clone(), None),
            remote_target: call.peer.clone(),
            sent_by,
            local_cseq: 0,
        };
        let offer = sdp::offer(session, caps, &local);
        let invite = with_sdp(dialog.request(Method::Invite, &branch, None), offer.to_text());
        let to = call.peer_addr;
        call.dialog = Some(dialog);
        call.our_sdp = Some(offer);
        call.invite = Some(invite.clone());
        self.send(to, invite.clone());
        self.tx.start(now, Tx::Invite, invite.into(), to, false, TIMEOUT);
    }

    pub(super) fn on_response(&mut self, now: Instant, from: SocketAddr, resp: Response) {
        let Ok((_, method)) = resp.headers.cseq() else {
            return;
        };
        let ours = self
            .call
            .as_ref()
            .and_then(|c| c.dialog.as_ref())
            .is_some_and(|d| resp.headers.call_id().is_ok_and(|id| id == d.call_id));
        if !ours {
            self.log(Level::Info, format!("ignored a stray {} response from {from}", resp.status));
            return;
        }
        let is_final = resp.status >= 200;
        match method {
            Method::Invite => self.on_invite_response(now, resp),
            Method::Bye if is_final => self.finish_call(now),
            Method::Cancel if is_final => {
                self.tx.stop(&Tx::Cancel);
            }
            Method::Options if is_final => {
                self.tx.stop(&Tx::Options);
            }
            _ => {}
        }
    }

    fn on_invite_response(&mut self, now: Instant, resp: Response) {
        if !self.call.as_ref().is_some_and(|c| c.outgoing) {
            return;
        }
        match resp.status {
            // Proceeding: no more retransmissions and no timer B (RFC 3261 §17.1.1.2).
            100 => {
                self.tx.stop(&Tx::Invite);
            }
            101..=199 => self.on_provisional(now),
            200..=299 => self.on_answered(now, resp),
            _ => self.on_refused(now, resp),
        }
    }

    fn on_provisional(&mut self, now: Instant) {
        self.tx.stop(&Tx::Invite);
        let ring_deadline = now + self.cfg.timing.ring_timeout;
        let Some(call) = self.call.as_mut() else {
            return;
        };
        if !call.provisional {
            call.provisional = true;
            if call.cancel_pending {
                self.send_cancel(now);
                return;
            }
            call.deadline = Some((ring_deadline, Deadline::Ring));
            let peer = call.peer.to_string();
            self.log(Level::Info, format!("ringing at {peer}"));
        }
    }

    fn on_answered(&mut self, now: Instant, resp: Response) {
        self.tx.stop(&Tx::Invite);
        let branch = self.ids.branch();
        let Some(call) = self.call.as_mut() else {
            return;
        };
        let (Some(dialog), Some(invite)) = (call.dialog.as_mut(), call.invite.as_ref()) else {
            return;
        };
        if let Ok(to) = resp.headers.to() {
            dialog.remote.tag = to.tag;
        }
        if let Some(contact) = resp.headers.contact() {
            dialog.remote_target = contact.uri;
        }
        let invite_cseq = invite.headers.cseq().map(|(n, _)| n).ok();
        let offer = call.our_sdp.clone();
        let ack = dialog.request(Method::Ack, &branch, invite_cseq);
        let to = call.peer_addr;
        self.send(to, ack);
        match self.state {
            CallState::Dialing => {
                let answer = offer
                    .ok_or_else(|| SdpError::AnswerMismatch("no offer was sent".into()))
                    .and_then(|offer| sdp::read_answer(&offer, &SessionDescription::parse(&resp.body)?));
                match answer {
                    Ok(negotiated) => self.enter_call(now, negotiated),
                    Err(e) => self.send_bye(
                        now,
                        Some(format!("{} answered with media roombox cannot use: {e}", self.peer_name())),
                    ),
                }
            }
            // We hung up while the answer was on its way: the call exists now, so end it.
            CallState::Ending if !self.tx.is_active(&Tx::Bye) => {
                let error = self.call.as_mut().and_then(|c| c.end_error.take());
                self.send_bye(now, error);
            }
            _ => {} // a retransmitted 200: the ACK above was all it needed
        }
    }

    fn on_refused(&mut self, now: Instant, resp: Response) {
        self.tx.stop(&Tx::Invite);
        let Some(call) = self.call.as_mut() else {
            return;
        };
        if let Some(invite) = &call.invite {
            let ack = ack_for_failure(invite, &resp);
            let to = call.peer_addr;
            self.send(to, ack);
        }
        let Some(call) = self.call.as_mut() else {
            return;
        };
        // After we hung up, the refusal (487, or a crossing 480) says nothing new.
        if self.state != CallState::Ending {
            let peer = call.peer.to_string();
            call.end_error = Some(match resp.status {
                403 => format!("{peer} refused the call (403 Forbidden): add this room to its allow list"),
                486 | 600 => format!("{peer} is busy in another call"),
                488 | 606 => {
                    format!("{peer} has no codec in common with this room (488): it must speak H.264 and Opus")
                }
                404 | 480 => format!("{peer} is unavailable ({} {})", resp.status, resp.reason),
                status => format!("{peer} rejected the call: {status} {}", resp.reason),
            });
        }
        self.finish_call(now);
    }

    /// Hang up before the answer: CANCEL once the peer has responded, else as soon as it does.
    pub(super) fn cancel_outgoing(&mut self, now: Instant, error: Option<String>) {
        let Some(call) = self.call.as_mut() else {
            return;
        };
        if call.invite.is_none() {
            call.end_error = error;
            self.finish_call(now);
            return;
        }
        if call.provisional {
            self.send_cancel(now);
        } else {
            call.cancel_pending = true;
        }
        self.start_hangup(now, error);
    }

    fn send_cancel(&mut self, now: Instant) {
        let Some(call) = self.call.as_ref() else {
            return;
        };
        let Some(invite) = &call.invite else { return };
        let (cancel, to) = (cancel_for(invite), call.peer_addr);
        self.send(to, cancel.clone());
        self.tx.start(now, Tx::Cancel, cancel.into(), to, true, TIMEOUT);
    }

    /// Hang up an established call (or one being established by a crossing 200).
    pub(super) fn send_bye(&mut self, now: Instant, error: Option<String>) {
        let branch = self.ids.branch();
        let Some(call) = self.call.as_mut() else {
            return;
        };
        let to = call.peer_addr;
        let Some(dialog) = call.dialog.as_mut() else {
            call.end_error = error;
            self.finish_call(now);
            return;
        };
        let bye = dialog.request(Method::Bye, &branch, None);
        self.send(to, bye.clone());
        self.tx.start(now, Tx::Bye, bye.into(), to, true, TIMEOUT);
        self.start_hangup(now, error);
    }

    /// Both sides agreed: media starts and the keep-alive probing begins.
    pub(super) fn enter_call(&mut self, now: Instant, negotiated: sdp::Negotiated) {
        let (muted, keepalive) = (self.muted, now + self.cfg.timing.keepalive_interval);
        let Some(call) = self.call.as_mut() else {
            return;
        };
        let Some(local) = call.local else { return };
        call.negotiated = Some(negotiated.clone());
        call.deadline = None;
        call.keepalive_at = Some(keepalive);
        let (id, peer) = (call.id, call.peer.to_string());
        let codecs: Vec<&str> =
            [&negotiated.video, &negotiated.audio].into_iter().flatten().map(|s| s.codec.as_str()).collect();
        self.set_state(now, CallState::InCall);
        self.log(Level::Info, format!("in call with {peer} ({})", codecs.join(", ")));
        self.push(Output::StartMedia { call: id, local, negotiated, muted });
    }

    /// In a call: probe the peer so a vanished peer ends the call instead of freezing it.
    pub(super) fn send_keepalive(&mut self, now: Instant) {
        let (interval, timeout, branch) =
            (self.cfg.timing.keepalive_interval, self.cfg.timing.peer_timeout, self.ids.branch());
        let probing = self.tx.is_active(&Tx::Options);
        let Some(call) = self.call.as_mut() else {
            return;
        };
        call.keepalive_at = Some(now + interval);
        if probing {
            return; // the previous probe is still waiting; its timeout decides
        }
        let (to, Some(dialog)) = (call.peer_addr, call.dialog.as_mut()) else {
            return;
        };
        let options = dialog.request(Method::Options, &branch, None);
        self.send(to, options.clone());
        self.tx.start(now, Tx::Options, options.into(), to, true, timeout);
    }
}
