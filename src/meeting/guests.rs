//! Browser guests: places that join over the box's own web page instead of SIP. The web
//! server checked the PIN; the core decides whether the guest may join (guests enabled, room
//! for one more place, the room not leaving), makes it a leg like any other (same place limit,
//! layout, mix-minus, status), and ends it without SIP: its media simply goes.

use std::net::SocketAddr;
use std::time::Instant;

use super::core::{Meeting, Phase};
use super::leg::Guest;
use super::{LegState, Level, Output, RoomState};
use crate::sdp::Negotiated;
use crate::sip::{SipAddr, SipUri, Transport};

impl Meeting {
    pub(super) fn on_guest_arrived(
        &mut self,
        now: Instant,
        ticket: u64,
        name: String,
        from: SocketAddr,
        offer: String,
    ) {
        let guests = self.legs.values().filter(|l| l.guest.is_some() && l.state() != LegState::Ending).count();
        let refusal = if self.cfg.max_guests == 0 {
            Some(("guests are not enabled in this room".to_owned(), false))
        } else if self.state == RoomState::Ending {
            Some(("the room is leaving its meeting: try again in a moment".to_owned(), false))
        } else if self.active_legs() + 1 >= self.cfg.max_places {
            Some((format!("the meeting is full ({} places)", self.cfg.max_places), true))
        } else if guests >= self.cfg.max_guests {
            Some((format!("the meeting has all the guests it takes ({})", self.cfg.max_guests), true))
        } else {
            None
        };
        if let Some((reason, full)) = refusal {
            self.log(Level::Info, None, format!("guest \"{name}\" from {} turned away: {reason}", from.ip()));
            if full {
                self.notice = Some(format!("a guest was turned away: {reason}"));
            }
            return self.push(Output::RefuseGuest { ticket, reason });
        }
        let uri = SipUri {
            secure: true,
            user: Some(name.clone()),
            host: from.ip().to_string(),
            port: None,
            params: String::new(),
        };
        let phase = Phase::Live { negotiated: Negotiated::default(), keepalive_at: None, interrupted: false };
        let id = self.new_leg(now, false, uri, SipAddr::new(from, Transport::Tls), phase);
        if let Some(leg) = self.legs.get_mut(&id) {
            leg.guest = Some(Guest { name: name.clone(), from });
        }
        self.log(Level::Info, Some(id), format!("guest \"{name}\" joins from {}", from.ip()));
        let muted = self.muted;
        self.push(Output::StartGuest { leg: id, ticket, name, offer, muted });
    }
}
