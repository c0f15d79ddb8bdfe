//! The called side: requests from peers. New INVITEs pass the allow list, the busy check and
//! codec negotiation before the room rings (or auto-answers); in-dialog requests (ACK, BYE,
//! CANCEL, OPTIONS, re-INVITE) are matched to the current call by Call-ID.

use std::net::SocketAddr;
use std::time::Instant;

use super::core::{Core, Deadline, Tx};
use super::{CallState, Level};
use crate::sdp::{self, LocalMedia, SessionDescription};
use crate::sip::dialog::{Dialog, response, with_sdp_response};
use crate::sip::retransmit::TIMEOUT;
use crate::sip::{Method, NameAddr, Request, SipUri};

impl Core {
    pub(super) fn on_request(&mut self, now: Instant, from: SocketAddr, req: Request) {
        match req.method {
            Method::Invite => self.on_invite(now, from, req),
            Method::Ack => self.on_ack(&req),
            Method::Bye => self.on_bye(now, from, req),
            Method::Cancel => self.on_cancel(now, from, req),
            Method::Options => self.reply(from, &req, 200),
            Method::Other(ref m) => {
                let m = m.clone();
                self.reply(from, &req, 405);
                self.log(Level::Info, format!("answered {m} from {from} with 405: roombox does not handle it"));
            }
        }
    }

    fn reply(&mut self, to: SocketAddr, req: &Request, status: u16) {
        let tag = self.ids.token();
        self.send(to, response(req, status, Some(&tag), None));
    }

    fn current_dialog_is(&self, req: &Request) -> bool {
        let call_id = req.headers.call_id().ok();
        self.call.as_ref().is_some_and(|c| {
            let ours = c.dialog.as_ref().map(|d| d.call_id.as_str());
            let theirs = c.invite.as_ref().and_then(|i| i.headers.call_id().ok());
            call_id.is_some() && (call_id == ours || call_id == theirs)
        })
    }

    fn on_invite(&mut self, now: Instant, from: SocketAddr, req: Request) {
        if self.current_dialog_is(&req) {
            return self.on_invite_in_dialog(from, req);
        }
        let Ok(caller) = req.headers.from() else {
            return;
        };
        if !self.cfg.allow.allows(from, &caller.uri) {
            self.reply(from, &req, 403);
            let hint = "add it to allow under [call] if it should get in";
            self.log(
                Level::Warn,
                format!("refused a call from {} at {from}: not on the allow list ({hint})", caller.uri),
            );
            return;
        }
        if self.state != CallState::Idle {
            self.reply(from, &req, 486);
            self.log(Level::Info, format!("told {} we are busy: the room is already in a call", caller.uri));
            return;
        }
        let offer = match SessionDescription::parse(&req.body) {
            Ok(offer) => offer,
            Err(e) => {
                self.reply(from, &req, 488);
                let why = if req.body.trim().is_empty() {
                    "the INVITE carried no SDP offer".to_owned()
                } else {
                    e.to_string()
                };
                self.log(Level::Warn, format!("refused a call from {}: {why}", caller.uri));
                return;
            }
        };
        let probe_ports = LocalMedia { ip: from.ip(), video_rtp: 9, video_rtcp: 9, audio_rtp: 9, audio_rtcp: 9 };
        if let Err(e) = sdp::answer(&offer, 0, self.cfg.caps, &probe_ports) {
            self.reply(from, &req, 488);
            self.log(Level::Warn, format!("refused a call from {}: {e}", caller.uri));
            return;
        }
        self.send(from, response(&req, 100, None, None));
        let id = self.new_call(false, caller.uri.clone(), from);
        let (auto_answer, ring_deadline) = (self.cfg.auto_answer, now + self.cfg.timing.ring_timeout);
        if let Some(call) = self.call.as_mut() {
            call.invite = Some(req);
            call.remote_offer = Some(offer);
            call.answer_when_ready = auto_answer;
            call.deadline = Some((ring_deadline, Deadline::Ring));
        }
        self.set_state(now, CallState::Ringing);
        self.log(Level::Info, format!("incoming call from {}", caller.uri));
        self.push(super::Output::PrepareMedia { call: id, peer: from });
    }

    /// A retransmitted INVITE gets our last response again; a re-INVITE in an established call
    /// is answered with the session we already have (media changes are not supported yet).
    fn on_invite_in_dialog(&mut self, from: SocketAddr, req: Request) {
        let Some(call) = self.call.as_ref() else {
            return;
        };
        let same_branch = call.invite.as_ref().and_then(|i| i.headers.via_branch()) == req.headers.via_branch();
        if same_branch && !call.outgoing {
            if let Some(last) = call.last_invite_response.clone() {
                self.send(from, last);
            }
            return;
        }
        match (self.state, call.dialog.as_ref(), call.our_sdp.as_ref()) {
            (CallState::InCall, Some(dialog), Some(sdp)) => {
                let ok = with_sdp_response(
                    response(&req, 200, dialog.local.tag.as_deref(), Some(&dialog.local_contact())),
                    sdp.to_text(),
                );
                self.send(from, ok);
            }
            _ => self.reply(from, &req, 491),
        }
    }

    /// Media is bound for an incoming call: ring, or answer at once.
    pub(super) fn incoming_media_ready(&mut self, now: Instant) {
        let (sip_port, caps, tag, session) = (self.cfg.sip_port, self.cfg.caps, self.ids.token(), self.ids.next() >> 1);
        let Some(call) = self.call.as_mut() else {
            return;
        };
        let (Some(local), Some(invite), Some(offer)) = (call.local, call.invite.as_ref(), call.remote_offer.as_ref())
        else {
            return;
        };
        let (Ok(to), Ok(caller), Ok(call_id)) = (invite.headers.to(), invite.headers.from(), invite.headers.call_id())
        else {
            return;
        };
        let sent_by = SocketAddr::new(local.ip, sip_port);
        let remote_target = invite.headers.contact().map_or_else(|| caller.uri.clone(), |c| c.uri);
        let (answer, negotiated) = match sdp::answer(offer, session, caps, &local) {
            Ok(a) => a,
            Err(e) => return self.reject_incoming(now, 488, Some(e.to_string())),
        };
        call.dialog = Some(Dialog {
            call_id: call_id.to_owned(),
            local: NameAddr::new(SipUri { params: String::new(), ..to.uri }, Some(tag)),
            remote: caller,
            remote_target,
            sent_by,
            local_cseq: 0,
        });
        call.our_sdp = Some(answer);
        call.negotiated = Some(negotiated);
        if call.answer_when_ready {
            self.accept(now);
        } else {
            self.respond_to_invite(180);
        }
    }

    /// Sends a response to the pending INVITE and remembers it for retransmitted INVITEs.
    fn respond_to_invite(&mut self, status: u16) {
        let Some(call) = self.call.as_mut() else {
            return;
        };
        let Some(invite) = &call.invite else { return };
        let tag = call.dialog.as_ref().and_then(|d| d.local.tag.clone()).unwrap_or_else(|| "0".into());
        let contact = call.dialog.as_ref().filter(|_| status < 300).map(Dialog::local_contact);
        let mut resp = response(invite, status, Some(&tag), contact.as_ref());
        if status == 200
            && let Some(sdp) = &call.our_sdp
        {
            resp = with_sdp_response(resp, sdp.to_text());
        }
        call.last_invite_response = Some(resp.clone());
        let to = call.peer_addr;
        self.send(to, resp);
    }

    /// The button (or `ctl join`) answers a ringing call.
    pub(super) fn answer(&mut self, now: Instant) {
        match self.call.as_mut() {
            Some(call) if call.local.is_none() => call.answer_when_ready = true,
            Some(_) => self.accept(now),
            None => {}
        }
    }

    fn accept(&mut self, now: Instant) {
        self.respond_to_invite(200);
        let Some(call) = self.call.as_ref() else {
            return;
        };
        let (Some(ok), Some(negotiated), to) =
            (call.last_invite_response.clone(), call.negotiated.clone(), call.peer_addr)
        else {
            return;
        };
        self.tx.start(now, Tx::Ok200, ok.into(), to, true, TIMEOUT);
        self.enter_call(now, negotiated);
    }

    /// Turns down a ringing call with `status` (486 declined, 480 unanswered, 487 cancelled).
    pub(super) fn reject_incoming(&mut self, now: Instant, status: u16, error: Option<String>) {
        self.respond_to_invite(status);
        if let Some(call) = self.call.as_mut() {
            call.end_error = error;
        }
        self.finish_call(now);
    }

    fn on_ack(&mut self, req: &Request) {
        if self.current_dialog_is(req) {
            self.tx.stop(&Tx::Ok200);
        }
    }

    fn on_bye(&mut self, now: Instant, from: SocketAddr, req: Request) {
        let call_id = req.headers.call_id().unwrap_or_default().to_owned();
        if self.current_dialog_is(&req) {
            let tag = self.call.as_ref().and_then(|c| c.dialog.as_ref()).and_then(|d| d.local.tag.clone());
            self.send(from, response(&req, 200, tag.as_deref(), None));
            if self.state != CallState::Ending {
                self.log(Level::Info, format!("{} left the call", self.peer_name()));
            }
            self.finish_call(now);
        } else if self.ended.iter().any(|(id, _)| *id == call_id) {
            self.reply(from, &req, 200);
        } else {
            self.reply(from, &req, 481);
        }
    }

    fn on_cancel(&mut self, now: Instant, from: SocketAddr, req: Request) {
        let ringing = self.state == CallState::Ringing && self.current_dialog_is(&req);
        let same_branch = self.call.as_ref().and_then(|c| c.invite.as_ref()).and_then(|i| i.headers.via_branch())
            == req.headers.via_branch();
        if ringing && same_branch {
            self.reply(from, &req, 200);
            self.log(Level::Info, format!("{} stopped calling", self.peer_name()));
            self.reject_incoming(now, 487, None);
        } else {
            self.reply(from, &req, 481);
        }
    }
}
