//! Whether an in-dialog request comes from the dialog's owner (RFC 3261 §12.2.2): the leg is
//! found by Call-ID, then the request must come from the peer's address, carry the peer's tag
//! in From and ours in To, and count its CSeq on from the peer's last one (ACK and CANCEL
//! repeat the INVITE's). A request that fails gets 481 and changes nothing.

use super::core::Meeting;
use super::{LegId, Level};
use crate::sip::dialog::response;
use crate::sip::{Method, NameAddr, Request, SipAddr};

impl Meeting {
    /// `Ok` with the request's CSeq number, or why the request is not the peer's.
    pub(super) fn owner_check(&self, id: LegId, from: SipAddr, req: &Request) -> Result<u32, String> {
        let Some(leg) = self.legs.get(&id) else { return Err("the call is gone".into()) };
        if from != leg.peer_addr {
            return Err(format!("it came from {from}, and the call is with {}", leg.peer_addr));
        }
        let their_invite = leg.invite.as_ref().filter(|_| !leg.outgoing);
        let peer_tag = leg
            .dialog
            .as_ref()
            .and_then(|d| d.remote.tag.clone())
            .or_else(|| their_invite.and_then(|i| i.headers.from().ok()?.tag));
        let tag_of = |header: Result<NameAddr, _>| header.ok().and_then(|n| n.tag);
        if peer_tag.is_some() && tag_of(req.headers.from()) != peer_tag {
            return Err("its From tag is not the peer's".into());
        }
        let (cseq, _) = req.headers.cseq().map_err(|e| e.to_string())?;
        let invite_cseq = their_invite.and_then(|i| i.headers.cseq().ok()).map(|(n, _)| n);
        let retransmitted_invite = req.method == Method::Invite
            && their_invite.and_then(|i| i.headers.via_branch()) == req.headers.via_branch();
        let repeats_invite = matches!(req.method, Method::Ack | Method::Cancel) || retransmitted_invite;
        // A CANCEL or a retransmitted INVITE was sent before our tag existed; an ACK carries
        // the tag of whichever final response it acknowledges.
        let our_tag = leg.dialog.as_ref().and_then(|d| d.local.tag.clone());
        let tagged = !(req.method == Method::Cancel || retransmitted_invite);
        let to_tag = tag_of(req.headers.to());
        let acks_our_refusal = req.method == Method::Ack
            && leg
                .last_invite_response
                .as_ref()
                .is_some_and(|r| r.status >= 300 && r.headers.to().ok().and_then(|t| t.tag) == to_tag);
        if tagged && our_tag.is_some() && to_tag != our_tag && !acks_our_refusal {
            return Err("its To tag is not this room's".into());
        }
        match (repeats_invite, invite_cseq, leg.remote_cseq) {
            (true, Some(invite), _) if cseq != invite => Err(format!("its CSeq {cseq} is not the INVITE's {invite}")),
            (false, _, Some(last)) if cseq <= last => Err(format!("its CSeq {cseq} does not follow the peer's {last}")),
            _ => Ok(cseq),
        }
    }

    /// Answers a request that failed [`Meeting::owner_check`] with 481 and says so.
    pub(super) fn refuse_stranger(&mut self, id: LegId, from: SipAddr, req: &Request, why: String) {
        if req.method != Method::Ack {
            let tag = self.ids.token();
            self.send(from, response(req, 481, Some(&tag), None));
        }
        let peer = self.peer_name(id);
        let message = format!("ignored a {} that claimed to be in the call with {peer}: {why}", req.method);
        self.log(Level::Warn, Some(id), message);
    }
}
