//! The test harness of the meeting core, like str0m's: rooms stepped on one virtual clock,
//! their SIP outputs delivered to each other through an in-memory network that can drop, hold
//! or lose packets.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::sdp::LocalMedia;
use crate::sip::{Method, SipAddr, SipMessage};

pub(super) struct Room {
    pub(super) core: Meeting,
    pub(super) addr: SocketAddr,
    pub(super) media: Option<LegId>,
    pub(super) started: Vec<(LegId, Negotiated)>,
    pub(super) released: Vec<LegId>,
    pub(super) logs: Vec<String>,
    pub(super) sent: Vec<SipMessage>,
    /// Each guest's ticket and what became of it: its leg, or why it was turned away.
    pub(super) guests: Vec<(u64, Result<LegId, String>)>,
}

pub(super) struct Net {
    pub(super) now: Instant,
    pub(super) rooms: Vec<Room>,
    /// Rooms whose traffic is lost (a peer that is down).
    pub(super) down: Vec<usize>,
    pub(super) drop_next: usize,
    pub(super) prepare_answers: bool,
    /// When set, SIP messages wait here instead of arriving (messages that cross).
    pub(super) held: Option<Vec<(SipAddr, SipAddr, SipMessage)>>,
}

pub(super) fn config(name: &str, port: u16, peers: &[u16]) -> MeetingConfig {
    MeetingConfig {
        room: name.into(),
        sip_port: port,
        peers: peers.iter().map(|p| format!("sip:peer@127.0.0.1:{p}").parse().unwrap()).collect(),
        allow: AllowList::Only(
            peers.iter().map(|p| AllowEntry(format!("sip:127.0.0.1:{p}").parse().unwrap())).collect(),
        ),
        auto_answer: false,
        max_places: 4,
        caps: Default::default(),
        allow_media_elsewhere: false,
        keys_only_over_tls: false,
        max_guests: 0,
        timing: Timing::default(),
        seed: u64::from(port),
        tls_port: None,
    }
}

impl Net {
    pub(super) fn new(configs: Vec<MeetingConfig>) -> Self {
        let now = Instant::now();
        let rooms = configs
            .into_iter()
            .map(|c| Room {
                addr: SocketAddr::from(([127, 0, 0, 1], c.sip_port)),
                core: Meeting::new(c, now),
                media: None,
                started: vec![],
                released: vec![],
                logs: vec![],
                sent: vec![],
                guests: vec![],
            })
            .collect();
        Self { now, rooms, down: vec![], drop_next: 0, prepare_answers: true, held: None }
    }

    pub(super) fn two_rooms() -> Self {
        Self::new(vec![config("a", 5061, &[5062]), config("b", 5062, &[5061])])
    }

    pub(super) fn input(&mut self, room: usize, input: Input) {
        self.rooms[room].core.handle_input(self.now, input);
        self.settle();
    }

    pub(super) fn press(&mut self, room: usize) {
        self.input(room, Input::Button(Gesture::ShortPress));
    }

    /// Delivers every output until nothing moves (instantly: a LAN with no delay).
    pub(super) fn settle(&mut self) {
        let addrs: HashMap<SocketAddr, usize> = self.rooms.iter().enumerate().map(|(i, r)| (r.addr, i)).collect();
        loop {
            let mut moved = false;
            for i in 0..self.rooms.len() {
                while let Some(out) = self.rooms[i].core.poll_output() {
                    moved = true;
                    let from = SipAddr::udp(self.rooms[i].addr);
                    match out {
                        Output::SendSip { to, message } => {
                            self.rooms[i].sent.push(message.clone());
                            let lost =
                                self.down.contains(&i) || addrs.get(&to.addr).is_some_and(|j| self.down.contains(j));
                            if let Some(held) = self.held.as_mut() {
                                held.push((from, to, message));
                            } else if self.drop_next > 0 {
                                self.drop_next -= 1;
                            } else if let (Some(&j), false) = (addrs.get(&to.addr), lost) {
                                let bytes = message.to_string();
                                let parsed =
                                    SipMessage::parse(bytes.as_bytes()).expect("the core only sends valid SIP");
                                self.rooms[j].core.handle_input(self.now, Input::SipReceived { from, message: parsed });
                            }
                        }
                        Output::PrepareMedia { leg: call, .. } => {
                            self.rooms[i].media = Some(call);
                            if self.prepare_answers {
                                let base = self.rooms[i].addr.port() * 10;
                                let local = LocalMedia {
                                    ip: [127, 0, 0, 1].into(),
                                    video_rtp: base,
                                    video_rtcp: base + 1,
                                    audio_rtp: base + 2,
                                    audio_rtcp: base + 3,
                                };
                                self.rooms[i].core.handle_input(self.now, Input::MediaPrepared { leg: call, local });
                            }
                        }
                        Output::StartMedia { leg: call, negotiated, .. } => {
                            self.rooms[i].started.push((call, negotiated))
                        }
                        Output::ReleaseMedia { leg: call } => self.rooms[i].released.push(call),
                        Output::Log { message, .. } => self.rooms[i].logs.push(message),
                        Output::StartGuest { leg, ticket, .. } => self.rooms[i].guests.push((ticket, Ok(leg))),
                        Output::RefuseGuest { ticket, reason } => self.rooms[i].guests.push((ticket, Err(reason))),
                        Output::SetMute(_) | Output::Led(_) => {}
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }

    /// Delivers the held messages (they crossed on the way) and goes back to instant delivery.
    pub(super) fn release_held(&mut self) {
        let addrs: HashMap<SocketAddr, usize> = self.rooms.iter().enumerate().map(|(i, r)| (r.addr, i)).collect();
        for (from, to, message) in self.held.take().unwrap_or_default() {
            if let Some(&j) = addrs.get(&to.addr) {
                self.rooms[j].core.handle_input(self.now, Input::SipReceived { from, message });
            }
        }
        self.settle();
    }

    /// Advances the clock, firing every timer due on the way.
    pub(super) fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        loop {
            let next = self.rooms.iter().filter_map(|r| r.core.poll_timeout()).filter(|t| *t <= end).min();
            let Some(at) = next else { break };
            self.now = self.now.max(at);
            for r in &mut self.rooms {
                if r.core.poll_timeout().is_some_and(|t| t <= self.now) {
                    r.core.handle_timeout(self.now);
                }
            }
            self.settle();
        }
        self.now = end;
    }

    pub(super) fn state(&self, room: usize) -> RoomState {
        self.rooms[room].core.state()
    }
    pub(super) fn led(&self, room: usize) -> LedPattern {
        self.rooms[room].core.led()
    }
    pub(super) fn error(&self, room: usize) -> Option<String> {
        self.rooms[room].core.status(self.now).last_error
    }
    pub(super) fn sent_status(&self, room: usize, status: u16) -> bool {
        self.rooms[room].sent.iter().any(|m| matches!(m, SipMessage::Response(r) if r.status == status))
    }
    pub(super) fn sent_request(&self, room: usize, method: Method) -> usize {
        self.rooms[room].sent.iter().filter(|m| matches!(m, SipMessage::Request(r) if r.method == method)).count()
    }
}
