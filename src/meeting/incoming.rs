//! The called side: requests from peers. A new INVITE passes the allow list, the meeting's
//! capacity and codec negotiation before it rings (or is answered at once, or joins a meeting
//! in progress); INVITEs that cross our own to the same peer (glare) become one call. In-dialog
//! requests (ACK, BYE, CANCEL, OPTIONS, re-INVITE) are matched to their leg by Call-ID.

use std::net::SocketAddr;
use std::time::Instant;

use super::core::{Meeting, Phase, Tx};
use super::{LegId, LegState, Level};
use crate::sdp::{self, LocalMedia, SessionDescription};
use crate::sip::dialog::{Dialog, response, with_sdp_response};
use crate::sip::retransmit::TIMEOUT;
use crate::sip::{Method, NameAddr, Request, SipAddr, SipUri};

/// The reason phrase of the 486 a caller gets when the meeting has no room left.
pub const MEETING_FULL: &str = "Busy Here (meeting full)";
/// The reason phrase of a 488 that refuses a call for its encryption (the log says more).
pub const ENCRYPTION_MISMATCH: &str = "Not Acceptable Here (SRTP)";

impl Meeting {
    pub(super) fn on_request(&mut self, now: Instant, from: SipAddr, req: Request) {
        match req.method {
            Method::Invite => self.on_invite(now, from, req),
            Method::Ack => self.on_ack(from, &req),
            Method::Bye => self.on_bye(now, from, req),
            Method::Cancel => self.on_cancel(now, from, req),
            Method::Options => self.reply(from, &req, 200),
            Method::Other(ref m) => {
                let m = m.clone();
                self.reply(from, &req, 405);
                let message = format!("answered {m} from {from} with 405: roombox does not handle it");
                self.log(Level::Info, None, message);
            }
        }
    }

    fn reply(&mut self, to: SipAddr, req: &Request, status: u16) {
        let tag = self.ids.token();
        self.send(to, response(req, status, Some(&tag), None));
    }

    fn leg_of(&self, req: &Request) -> Option<LegId> {
        let call_id = req.headers.call_id().ok()?;
        self.legs.values().find(|l| l.has_call_id(call_id)).map(|l| l.id)
    }

    fn on_invite(&mut self, now: Instant, from: SipAddr, req: Request) {
        if let Some(id) = self.leg_of(&req) {
            return match self.owner_check(id, from, &req) {
                Ok(cseq) => self.on_invite_in_dialog(from, id, req, cseq),
                Err(why) => self.refuse_stranger(id, from, &req, why),
            };
        }
        let Ok(caller) = req.headers.from() else { return };
        if !self.cfg.allow.allows(from.addr, &caller.uri) {
            self.reply(from, &req, 403);
            let hint = "add it to allow under [call] if it should get in";
            let message = format!("refused a call from {} at {from}: not on the allow list ({hint})", caller.uri);
            return self.log(Level::Warn, None, message);
        }
        let glare = self.glare_with(from, &req);
        if glare == Some(false) {
            // Our INVITE to the same peer crossed theirs and ours wins: they take ours.
            self.reply(from, &req, 486);
            return self.log(Level::Info, None, format!("{} called while we called it: keeping our call", caller.uri));
        }
        if glare.is_none() && self.active_legs() + 1 >= self.cfg.max_places {
            return self.turn_away(from, &req, &caller.uri);
        }
        let offer = match SessionDescription::parse(&req.body) {
            Ok(offer) => offer,
            Err(e) => {
                self.reply(from, &req, 488);
                let why =
                    if req.body.trim().is_empty() { "the INVITE carried no SDP offer".into() } else { e.to_string() };
                return self.log(Level::Warn, None, format!("refused a call from {}: {why}", caller.uri));
            }
        };
        if let Some(why) = self.keys_refused_over(from.transport) {
            let mut refusal = response(&req, 488, Some(&self.ids.token()), None);
            refusal.reason = ENCRYPTION_MISMATCH.into();
            self.send(from, refusal);
            return self.log(Level::Warn, None, format!("refused a call from {}: {why}", caller.uri));
        }
        let probe_ports = LocalMedia { ip: from.addr.ip(), video_rtp: 9, video_rtcp: 9, audio_rtp: 9, audio_rtcp: 9 };
        if let Err(e) = sdp::answer(&offer, 0, self.cfg.caps, &probe_ports) {
            let mut refusal = response(&req, 488, Some(&self.ids.token()), None);
            if e.is_about_encryption() {
                refusal.reason = ENCRYPTION_MISMATCH.into();
            }
            self.send(from, refusal);
            return self.log(Level::Warn, None, format!("refused a call from {}: {e}", caller.uri));
        }
        if glare == Some(true) {
            // Theirs wins: our own INVITE to them goes, and theirs is answered (we wanted it).
            if let Some(ours) = self.dialing_leg_to(from) {
                self.log(Level::Info, Some(ours), format!("{} called while we called it: taking its call", caller.uri));
                self.cancel_outgoing(now, ours, None);
            }
        }
        self.send(from, response(&req, 100, None, None));
        let until = now + self.cfg.timing.ring_timeout;
        let answer_when_ready = self.cfg.auto_answer || glare == Some(true);
        let phase = Phase::Ringing { offer, answer: None, answer_when_ready, until };
        let id = self.new_leg(now, false, caller.uri.clone(), from, phase);
        if let Some(leg) = self.legs.get_mut(&id) {
            leg.remote_cseq = req.headers.cseq().ok().map(|(n, _)| n);
            leg.invite = Some(req);
        }
        let joining = if self.active_legs() > 1 { " (joining the meeting)" } else { "" };
        self.log(Level::Info, Some(id), format!("incoming call from {}{joining}", caller.uri));
        self.push(super::Output::PrepareMedia { leg: id, peer: from.addr });
    }

    /// The outgoing leg still dialling the peer at `addr`, if any.
    fn dialing_leg_to(&self, addr: SipAddr) -> Option<LegId> {
        self.legs.values().find(|l| l.outgoing && l.peer_addr == addr && l.state() == LegState::Dialing).map(|l| l.id)
    }

    /// Whether `req` crosses our own INVITE to the same peer: `Some(true)` when theirs should
    /// win, `Some(false)` when ours should. Both sides compare the same two Call-IDs, so they
    /// agree without a word; an INVITE of ours not sent yet always gives way.
    fn glare_with(&self, from: SipAddr, req: &Request) -> Option<bool> {
        let ours = self.dialing_leg_to(from)?;
        let theirs = req.headers.call_id().ok()?;
        match self.legs.get(&ours)?.dialog.as_ref() {
            Some(dialog) => Some(theirs > dialog.call_id.as_str()),
            None => Some(true),
        }
    }

    /// The meeting has no room: 486 with a reason phrase that says so, and a notice in status.
    fn turn_away(&mut self, from: SipAddr, req: &Request, caller: &SipUri) {
        let max = self.cfg.max_places;
        let tag = self.ids.token();
        let mut busy = response(req, 486, Some(&tag), None);
        let message = if max > 2 {
            busy.reason = MEETING_FULL.into();
            format!("turned away {caller}: the meeting is full ({max} places, this room included)")
        } else {
            format!("told {caller} we are busy: the room is already in a call")
        };
        self.send(from, busy);
        self.notice = Some(message.clone());
        self.log(Level::Info, None, message);
    }

    /// A retransmitted INVITE gets our last response again; a re-INVITE in an established leg
    /// is answered with the session we already have (media changes are not supported yet).
    fn on_invite_in_dialog(&mut self, from: SipAddr, id: LegId, req: Request, cseq: u32) {
        let Some(leg) = self.legs.get_mut(&id) else { return };
        let same_branch = leg.invite.as_ref().and_then(|i| i.headers.via_branch()) == req.headers.via_branch();
        if same_branch && !leg.outgoing {
            if let Some(last) = leg.last_invite_response.clone() {
                self.send(from, last);
            }
            return;
        }
        leg.remote_cseq = Some(cseq);
        match (&leg.phase, leg.dialog.as_ref(), leg.our_sdp.as_ref()) {
            (Phase::Live { .. }, Some(dialog), Some(sdp)) => {
                let ok = with_sdp_response(
                    response(&req, 200, dialog.local.tag.as_deref(), Some(&dialog.local_contact())),
                    sdp.to_text(),
                );
                self.send(from, ok);
            }
            _ => self.reply(from, &req, 491),
        }
    }

    /// Media is bound for an incoming leg: ring, or answer at once.
    pub(super) fn incoming_media_ready(&mut self, now: Instant, id: LegId) {
        let (caps, tag, session) = (self.cfg.caps, self.ids.token(), self.ids.next() >> 1);
        let Some(transport) = self.legs.get(&id).map(|l| l.peer_addr.transport) else { return };
        let sip_port = self.our_port(transport);
        let Some(leg) = self.legs.get_mut(&id) else { return };
        let (Some(local), Some(invite), Phase::Ringing { offer, .. }) = (leg.local, leg.invite.as_ref(), &leg.phase)
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
            Err(e) => return self.reject_incoming(now, id, 488, Some(e.to_string())),
        };
        leg.dialog = Some(Dialog {
            call_id: call_id.to_owned(),
            local: NameAddr::new(SipUri { params: String::new(), ..to.uri }, Some(tag)),
            remote: caller,
            remote_target,
            sent_by,
            transport,
            local_cseq: 0,
        });
        leg.our_sdp = Some(answer);
        let Phase::Ringing { answer, answer_when_ready, .. } = &mut leg.phase else { return };
        *answer = Some(negotiated);
        if *answer_when_ready {
            self.accept(now, id);
        } else {
            self.respond_to_invite(id, 180);
        }
    }

    /// Sends a response to the leg's pending INVITE and remembers it for retransmitted INVITEs.
    fn respond_to_invite(&mut self, id: LegId, status: u16) {
        let Some(leg) = self.legs.get_mut(&id) else { return };
        let Some(invite) = &leg.invite else { return };
        let tag = leg.dialog.as_ref().and_then(|d| d.local.tag.clone()).unwrap_or_else(|| "0".into());
        let contact = leg.dialog.as_ref().filter(|_| status < 300).map(Dialog::local_contact);
        let mut resp = response(invite, status, Some(&tag), contact.as_ref());
        if status == 200
            && let Some(sdp) = &leg.our_sdp
        {
            resp = with_sdp_response(resp, sdp.to_text());
        }
        leg.last_invite_response = Some(resp.clone());
        let to = leg.peer_addr;
        self.send(to, resp);
    }

    /// The button (or `ctl join`) answers every ringing leg.
    pub(super) fn answer_ringing(&mut self, now: Instant) {
        let ringing: Vec<LegId> = self.legs.values().filter(|l| l.state() == LegState::Ringing).map(|l| l.id).collect();
        for id in ringing {
            let Some(leg) = self.legs.get_mut(&id) else { continue };
            let ready = leg.local.is_some();
            if let Phase::Ringing { answer_when_ready, .. } = &mut leg.phase {
                *answer_when_ready = true;
            }
            if ready {
                self.accept(now, id);
            }
        }
    }

    fn accept(&mut self, now: Instant, id: LegId) {
        self.respond_to_invite(id, 200);
        let Some(leg) = self.legs.get(&id) else { return };
        let (Some(ok), Some(negotiated), to) =
            (leg.last_invite_response.clone(), leg.negotiated().cloned(), leg.peer_addr)
        else {
            return;
        };
        self.tx.start(now, (id, Tx::Ok200), ok.into(), to, true, TIMEOUT);
        self.enter_live(now, id, negotiated);
    }

    /// Turns down a ringing leg with `status` (486 declined, 480 unanswered, 487 cancelled).
    pub(super) fn reject_incoming(&mut self, now: Instant, id: LegId, status: u16, error: Option<String>) {
        self.respond_to_invite(id, status);
        if let Some(leg) = self.legs.get_mut(&id) {
            leg.end_error = error;
        }
        self.finish_leg(now, id);
    }

    fn on_ack(&mut self, from: SipAddr, req: &Request) {
        if let Some(id) = self.leg_of(req) {
            match self.owner_check(id, from, req) {
                Ok(_) => {
                    self.tx.stop(&(id, Tx::Ok200));
                }
                Err(why) => self.refuse_stranger(id, from, req, why),
            }
        }
    }

    fn on_bye(&mut self, now: Instant, from: SipAddr, req: Request) {
        let call_id = req.headers.call_id().unwrap_or_default().to_owned();
        if let Some(id) = self.leg_of(&req) {
            if let Err(why) = self.owner_check(id, from, &req) {
                return self.refuse_stranger(id, from, &req, why);
            }
            let leg = &self.legs[&id];
            let tag = leg.dialog.as_ref().and_then(|d| d.local.tag.clone());
            let was_ending = leg.state() == LegState::Ending;
            self.send(from, response(&req, 200, tag.as_deref(), None));
            if !was_ending {
                self.log(Level::Info, Some(id), format!("{} left the call", self.peer_name(id)));
            }
            self.finish_leg(now, id);
        } else if self.ended.iter().any(|(id, _)| *id == call_id) {
            self.reply(from, &req, 200);
        } else {
            self.reply(from, &req, 481);
        }
    }

    fn on_cancel(&mut self, now: Instant, from: SipAddr, req: Request) {
        if let Some(id) = self.leg_of(&req)
            && let Err(why) = self.owner_check(id, from, &req)
        {
            return self.refuse_stranger(id, from, &req, why);
        }
        let ringing = self.leg_of(&req).filter(|id| {
            let leg = &self.legs[id];
            leg.state() == LegState::Ringing
                && leg.invite.as_ref().and_then(|i| i.headers.via_branch()) == req.headers.via_branch()
        });
        match ringing {
            Some(id) => {
                self.reply(from, &req, 200);
                self.log(Level::Info, Some(id), format!("{} stopped calling", self.peer_name(id)));
                self.reject_incoming(now, id, 487, None);
            }
            None => self.reply(from, &req, 481),
        }
    }
}
