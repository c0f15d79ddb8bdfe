//! The calling side: dialling the configured peers (all at once), reading the answers to our
//! INVITEs, and hanging up a leg (CANCEL before the answer, BYE after it).

use std::net::SocketAddr;
use std::time::Instant;

use super::core::{Meeting, Phase, Tx};
use super::{LegId, LegState, Level, Output};
use crate::sdp::{self, SdpError, SessionDescription};
use crate::sip::dialog::{Dialog, ack_for_failure, cancel_for, with_sdp};
use crate::sip::retransmit::TIMEOUT;
use crate::sip::{Method, NameAddr, Response, SipAddr, SipUri};

impl Meeting {
    /// Dials every configured peer that is not in the meeting yet, as far as the meeting has
    /// room: bind media first, then INVITE.
    pub(super) fn dial_peers(&mut self, now: Instant) {
        if self.cfg.peers.is_empty() {
            let error = "no peer to call: add peers = [\"sip:room@192.0.2.10:5060\"] under [call] in the config";
            return self.fail_without_leg(now, error.into());
        }
        let (mut dialled, mut present) = (0, 0);
        for peer in self.cfg.peers.clone() {
            let Some(addr) = peer.sip_addr() else {
                let error = format!("cannot dial {peer}: use the peer's IP address (DNS names need a registrar)");
                self.fail_without_leg(now, error);
                continue;
            };
            if self.legs.values().any(|l| l.peer_addr == addr) {
                present += 1; // already in the meeting, or on its way in or out
                continue;
            }
            if self.active_legs() + 1 >= self.cfg.max_places {
                let max = self.cfg.max_places;
                self.log(Level::Warn, None, format!("not calling {peer}: the meeting is full ({max} places)"));
                continue;
            }
            let until = now + self.cfg.timing.dial_timeout;
            let id = self.new_leg(now, true, peer.clone(), addr, Phase::Dialing { provisional: false, until });
            self.log(Level::Info, Some(id), format!("calling {peer}"));
            self.push(Output::PrepareMedia { leg: id, peer: addr.addr });
            dialled += 1;
        }
        if dialled == 0 && present > 0 {
            self.log(Level::Info, None, "join: every configured peer is already in the meeting");
        }
    }

    /// A place that could not even be dialled: recorded (and shown, when nothing else runs).
    fn fail_without_leg(&mut self, now: Instant, error: String) {
        let peer = SipUri { secure: false, user: None, host: "nowhere".into(), port: None, params: String::new() };
        let phase = Phase::Dialing { provisional: false, until: now };
        let id = self.new_leg(now, true, peer, SipAddr::udp(SocketAddr::from(([0, 0, 0, 0], 0))), phase);
        if let Some(leg) = self.legs.get_mut(&id) {
            leg.end_error = Some(error);
            leg.media_released = true;
        }
        self.finish_leg(now, id);
    }

    /// Media is bound: send the INVITE with our offer.
    pub(super) fn send_invite(&mut self, now: Instant, id: LegId) {
        let (room, caps) = (self.cfg.room.clone(), self.cfg.caps);
        let Some(transport) = self.legs.get(&id).map(|l| l.peer_addr.transport) else { return };
        if let Some(why) = self.keys_refused_over(transport) {
            if let Some(leg) = self.legs.get_mut(&id) {
                leg.end_error = Some(format!("not calling {}: {why}", leg.peer));
            }
            return self.finish_leg(now, id);
        }
        let sip_port = self.our_port(transport);
        let (call_token, tag, branch, session) =
            (self.ids.token(), self.ids.token(), self.ids.branch(), self.ids.next() >> 1);
        let Some(leg) = self.legs.get_mut(&id) else { return };
        let Some(local) = leg.local else { return };
        let sent_by = SocketAddr::new(local.ip, sip_port);
        let mut dialog = Dialog {
            call_id: format!("{call_token}@roombox"),
            local: NameAddr::new(SipUri::new(Some(&room), sent_by), Some(tag)),
            remote: NameAddr::new(leg.peer.clone(), None),
            remote_target: leg.peer.clone(),
            sent_by,
            transport,
            local_cseq: 0,
        };
        let offer = match sdp::offer(session, caps, &local) {
            Ok(offer) => offer,
            Err(e) => {
                leg.end_error = Some(format!("could not call {}: {e}", leg.peer));
                return self.finish_leg(now, id);
            }
        };
        let invite = with_sdp(dialog.request(Method::Invite, &branch, None), offer.to_text());
        let to = leg.peer_addr;
        leg.dialog = Some(dialog);
        leg.our_sdp = Some(offer);
        leg.invite = Some(invite.clone());
        self.send(to, invite.clone());
        self.tx.start(now, (id, Tx::Invite), invite.into(), to, false, TIMEOUT);
    }

    pub(super) fn on_response(&mut self, now: Instant, from: SipAddr, resp: Response) {
        let Ok((_, method)) = resp.headers.cseq() else { return };
        let call_id = resp.headers.call_id().unwrap_or_default();
        let Some(id) =
            self.legs.values().find(|l| l.dialog.as_ref().is_some_and(|d| d.call_id == call_id)).map(|l| l.id)
        else {
            self.log(Level::Info, None, format!("ignored a stray {} response from {from}", resp.status));
            return;
        };
        if self.legs.get(&id).is_some_and(|l| l.peer_addr != from) {
            let message = format!("ignored a {} response from {from}: the call is with another address", resp.status);
            return self.log(Level::Warn, Some(id), message);
        }
        let is_final = resp.status >= 200;
        let ending = self.legs.get(&id).is_some_and(|l| l.state() == LegState::Ending);
        match method {
            Method::Invite => self.on_invite_response(now, id, resp),
            // Only an answer to a BYE we sent ends the leg.
            Method::Bye if is_final && ending => self.finish_leg(now, id),
            Method::Cancel if is_final => {
                self.tx.stop(&(id, Tx::Cancel));
            }
            Method::Options if is_final => {
                self.tx.stop(&(id, Tx::Options));
            }
            _ => {}
        }
    }

    fn on_invite_response(&mut self, now: Instant, id: LegId, resp: Response) {
        let Some(leg) = self.legs.get(&id).filter(|l| l.outgoing) else { return };
        if resp.status >= 300 && matches!(leg.phase, Phase::Live { .. }) {
            // The call was answered; a refusal now (a stray or forged one) changes nothing.
            let message = format!("ignored a {} response to an INVITE that was already answered", resp.status);
            return self.log(Level::Warn, Some(id), message);
        }
        match resp.status {
            // Proceeding: no more retransmissions and no timer B (RFC 3261 §17.1.1.2).
            100 => {
                self.tx.stop(&(id, Tx::Invite));
            }
            101..=199 => self.on_provisional(now, id),
            200..=299 => self.on_answered(now, id, resp),
            _ => self.on_refused(now, id, resp),
        }
    }

    fn on_provisional(&mut self, now: Instant, id: LegId) {
        self.tx.stop(&(id, Tx::Invite));
        let ring_until = now + self.cfg.timing.ring_timeout;
        let Some(leg) = self.legs.get_mut(&id) else { return };
        match leg.phase {
            Phase::Dialing { provisional: false, .. } => {
                leg.phase = Phase::Dialing { provisional: true, until: ring_until };
                let peer = leg.peer.to_string();
                self.log(Level::Info, Some(id), format!("ringing at {peer}"));
            }
            Phase::Ending { until, cancel_pending: true } => {
                leg.phase = Phase::Ending { until, cancel_pending: false };
                self.send_cancel(now, id);
            }
            _ => {}
        }
    }

    fn on_answered(&mut self, now: Instant, id: LegId, resp: Response) {
        self.tx.stop(&(id, Tx::Invite));
        let branch = self.ids.branch();
        let Some(leg) = self.legs.get_mut(&id) else { return };
        let (Some(dialog), Some(invite)) = (leg.dialog.as_mut(), leg.invite.as_ref()) else { return };
        if let Ok(to) = resp.headers.to() {
            dialog.remote.tag = to.tag;
        }
        if let Some(contact) = resp.headers.contact() {
            dialog.remote_target = contact.uri;
        }
        let invite_cseq = invite.headers.cseq().map(|(n, _)| n).ok();
        let ack = dialog.request(Method::Ack, &branch, invite_cseq);
        let to = leg.peer_addr;
        let offer = leg.our_sdp.clone();
        let dialing = matches!(leg.phase, Phase::Dialing { .. });
        let hung_up = matches!(leg.phase, Phase::Ending { .. });
        let end_error = if hung_up { leg.end_error.take() } else { None };
        self.send(to, ack);
        match (dialing, hung_up) {
            (true, _) => {
                let answer = offer
                    .ok_or_else(|| SdpError::AnswerMismatch("no offer was sent".into()))
                    .and_then(|offer| sdp::read_answer(&offer, &SessionDescription::parse(&resp.body)?));
                match answer {
                    Ok(negotiated) => self.enter_live(now, id, negotiated),
                    Err(e) => {
                        let error = format!("{} answered with media roombox cannot use: {e}", self.peer_name(id));
                        self.send_bye(now, id, Some(error));
                    }
                }
            }
            // We hung up while the answer was on its way: the call exists now, so end it.
            (_, true) if !self.tx.is_active(&(id, Tx::Bye)) => self.send_bye(now, id, end_error),
            _ => {} // a retransmitted 200: the ACK above was all it needed
        }
    }

    fn on_refused(&mut self, now: Instant, id: LegId, resp: Response) {
        self.tx.stop(&(id, Tx::Invite));
        let Some(leg) = self.legs.get_mut(&id) else { return };
        if let Some(invite) = &leg.invite {
            let ack = ack_for_failure(invite, &resp);
            let to = leg.peer_addr;
            self.send(to, ack);
        }
        let Some(leg) = self.legs.get_mut(&id) else { return };
        // After we hung up, the refusal (487, or a crossing 480) says nothing new.
        if !matches!(leg.phase, Phase::Ending { .. }) {
            let peer = leg.peer.to_string();
            leg.end_error = Some(match resp.status {
                403 => format!("{peer} refused the call (403 Forbidden): add this room to its allow list"),
                486 | 600 if resp.reason.to_ascii_lowercase().contains("full") => {
                    format!("{peer} is hosting a meeting that is full ({})", resp.reason)
                }
                486 | 600 => format!("{peer} is busy in another call"),
                488 | 606 if resp.reason.contains("SRTP") => format!(
                    "{peer} refused the call's encryption ({} {}): set [call] encryption to agree on both sides",
                    resp.status, resp.reason
                ),
                488 | 606 => {
                    format!("{peer} has no codec in common with this room (488): it must speak H.264 and Opus")
                }
                404 | 480 => format!("{peer} is unavailable ({} {})", resp.status, resp.reason),
                status => format!("{peer} rejected the call: {status} {}", resp.reason),
            });
        }
        self.finish_leg(now, id);
    }

    /// Hang up a leg before the answer: CANCEL once the peer has responded, else as soon as
    /// it does.
    pub(super) fn cancel_outgoing(&mut self, now: Instant, id: LegId, error: Option<String>) {
        let Some(leg) = self.legs.get_mut(&id) else { return };
        if leg.invite.is_none() {
            leg.end_error = error;
            return self.finish_leg(now, id);
        }
        let provisional = matches!(leg.phase, Phase::Dialing { provisional: true, .. });
        if provisional {
            self.send_cancel(now, id);
        }
        self.start_hangup(now, id, error, !provisional);
    }

    fn send_cancel(&mut self, now: Instant, id: LegId) {
        let Some(leg) = self.legs.get(&id) else { return };
        let Some(invite) = &leg.invite else { return };
        let (cancel, to) = (cancel_for(invite), leg.peer_addr);
        self.send(to, cancel.clone());
        self.tx.start(now, (id, Tx::Cancel), cancel.into(), to, true, TIMEOUT);
    }

    /// Hang up an established leg (or one being established by a crossing 200).
    pub(super) fn send_bye(&mut self, now: Instant, id: LegId, error: Option<String>) {
        let branch = self.ids.branch();
        let Some(leg) = self.legs.get_mut(&id) else { return };
        let to = leg.peer_addr;
        let Some(dialog) = leg.dialog.as_mut() else {
            leg.end_error = error;
            return self.finish_leg(now, id);
        };
        let bye = dialog.request(Method::Bye, &branch, None);
        self.send(to, bye.clone());
        self.tx.start(now, (id, Tx::Bye), bye.into(), to, true, TIMEOUT);
        self.start_hangup(now, id, error, false);
    }

    /// Both sides agreed: the leg's media starts and the keep-alive probing begins.
    pub(super) fn enter_live(&mut self, now: Instant, id: LegId, mut negotiated: sdp::Negotiated) {
        let (muted, keepalive_at) = (self.muted, now + self.cfg.timing.keepalive_interval);
        let Some(leg) = self.legs.get_mut(&id) else { return };
        let Some(local) = leg.local else { return };
        let moved =
            if self.cfg.allow_media_elsewhere { Vec::new() } else { negotiated.confine_to(leg.peer_addr.addr.ip()) };
        leg.set_phase(
            now,
            Phase::Live { negotiated: negotiated.clone(), keepalive_at: Some(keepalive_at), interrupted: false },
        );
        let (peer, name, transport) = (leg.peer.to_string(), leg.name(), leg.peer_addr.transport);
        let codecs: Vec<&str> =
            [&negotiated.video, &negotiated.audio].into_iter().flatten().map(|s| s.codec.as_str()).collect();
        for note in moved {
            self.log(Level::Warn, Some(id), note);
        }
        let secured = negotiated.encryption(transport.name());
        self.log(Level::Info, Some(id), format!("in call with {peer} ({}), {secured}", codecs.join(", ")));
        self.push(Output::StartMedia { leg: id, name, local, negotiated, muted });
    }

    /// A live leg: probe the peer so a vanished peer ends its leg instead of freezing it.
    pub(super) fn send_keepalive(&mut self, now: Instant, id: LegId) {
        let (interval, timeout, branch) =
            (self.cfg.timing.keepalive_interval, self.cfg.timing.peer_timeout, self.ids.branch());
        let probing = self.tx.is_active(&(id, Tx::Options));
        let Some(leg) = self.legs.get_mut(&id) else { return };
        let Phase::Live { keepalive_at, .. } = &mut leg.phase else { return };
        *keepalive_at = Some(now + interval);
        if probing {
            return; // the previous probe is still waiting; its timeout decides
        }
        let (to, Some(dialog)) = (leg.peer_addr, leg.dialog.as_mut()) else { return };
        let options = dialog.request(Method::Options, &branch, None);
        self.send(to, options.clone());
        self.tx.start(now, (id, Tx::Options), options.into(), to, true, timeout);
    }
}
