//! The [`Meeting`] itself: its legs, timers, mute, LED and the room's one state. The SIP
//! halves of its behaviour live in `outgoing.rs` and `incoming.rs`, how a leg ends in
//! `ending.rs`.

use crate::sip::SipAddr;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

pub(super) use super::leg::{IdGen, Leg, Phase, Tx, TxKey};
use super::{Command, Gesture, Input, LedPattern, LegId, LegState, Level, MeetingConfig, Output, RoomState, Unreached};
use crate::sdp::LocalMedia;
use crate::sip::retransmit::{Due, Retransmissions};
use crate::sip::{SipMessage, SipUri};

/// How long BYEs for calls that already ended are still answered with 200 (timer J).
const ENDED_MEMORY: Duration = Duration::from_secs(32);

pub struct Meeting {
    pub(super) cfg: MeetingConfig,
    pub(super) legs: BTreeMap<LegId, Leg>,
    pub(super) muted: bool,
    pub(super) tx: Retransmissions<TxKey>,
    pub(super) ids: IdGen,
    pub(super) outputs: VecDeque<Output>,
    next_leg: u64,
    pub(super) state: RoomState,
    pub(super) state_since: Instant,
    pub(super) error: Option<(String, Instant)>,
    pub(super) last_error: Option<String>,
    pub(super) led: LedPattern,
    /// Places of this meeting that could not be reached or dropped out, and why.
    pub(super) unreached: Vec<Unreached>,
    /// The latest notice for the admin about the meeting (e.g. a caller turned away: full).
    pub(super) notice: Option<String>,
    /// A problem outside the meeting an admin must fix; it stands until it is gone.
    pub(super) standing_problem: Option<String>,
    pub(super) ended: VecDeque<(String, Instant)>,
}

impl Meeting {
    pub fn new(cfg: MeetingConfig, now: Instant) -> Self {
        let ids = IdGen(cfg.seed);
        let mut meeting = Self {
            cfg,
            legs: BTreeMap::new(),
            muted: false,
            tx: Retransmissions::default(),
            ids,
            outputs: VecDeque::new(),
            next_leg: 1,
            state: RoomState::Idle,
            state_since: now,
            error: None,
            last_error: None,
            led: LedPattern::Off,
            unreached: Vec::new(),
            notice: None,
            standing_problem: None,
            ended: VecDeque::new(),
        };
        meeting.outputs.push_back(Output::Led(LedPattern::Off));
        meeting
    }

    /// Whether a reloaded configuration may take effect now (between meetings only).
    pub fn can_reconfigure(&self) -> bool {
        self.legs.is_empty()
    }

    /// Takes a reloaded configuration between meetings: a meeting in progress keeps the
    /// configuration it started with, so the caller retries once the room is idle. Mute, the
    /// last error and leg numbering carry over. Returns whether it was taken.
    pub fn reconfigure(&mut self, cfg: MeetingConfig) -> bool {
        if !self.can_reconfigure() {
            return false;
        }
        self.cfg = MeetingConfig { seed: self.cfg.seed, ..cfg };
        true
    }

    pub fn handle_input(&mut self, now: Instant, input: Input) {
        match input {
            Input::Button(Gesture::ShortPress) => self.on_short_press(now),
            Input::Button(Gesture::LongPress) => self.set_muted(!self.muted),
            Input::Command(Command::Join) => self.join(now),
            Input::Command(Command::Leave) => self.leave_all(now, "leave ignored: not in a call"),
            Input::Command(Command::Drop(leg)) => self.end_leg(now, leg, None),
            Input::Command(Command::Mute) => self.set_muted(true),
            Input::Command(Command::Unmute) => self.set_muted(false),
            Input::SipReceived { from, message: SipMessage::Request(req) } => self.on_request(now, from, req),
            Input::SipReceived { from, message: SipMessage::Response(resp) } => self.on_response(now, from, resp),
            Input::SipUnreachable { to, reason } => {
                let cut_off: Vec<LegId> = self.legs.values().filter(|l| l.peer_addr == to).map(|l| l.id).collect();
                for id in cut_off {
                    if let Some(leg) = self.legs.get_mut(&id) {
                        leg.end_error = Some(reason.clone());
                    }
                    self.log(Level::Warn, Some(id), reason.clone());
                    self.finish_leg(now, id);
                }
            }
            Input::MediaPrepared { leg, local } => self.on_media_prepared(now, leg, local),
            Input::MediaPrepareFailed { leg, reason } | Input::MediaFailed { leg, reason } => {
                if self.legs.contains_key(&leg) {
                    self.fail_leg(now, leg, format!("media failed: {reason}"));
                }
            }
            Input::MediaIdle { leg, idle } => self.on_media_idle(now, leg, idle),
            Input::MediaStuck { leg, stuck_for } => self.on_media_stuck(now, leg, stuck_for),
            Input::GuestArrived { ticket, name, from, offer } => self.on_guest_arrived(now, ticket, name, from, offer),
            Input::StandingProblem(problem) => self.set_standing_problem(problem),
            Input::RoomMediaFailed { reason } => {
                let legs: Vec<LegId> = self.legs.keys().copied().collect();
                for leg in legs {
                    self.fail_leg(now, leg, format!("media failed: {reason}"));
                }
            }
        }
        self.refresh(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        for due in self.tx.poll(now) {
            match due {
                Due::Resend(message, to) => self.outputs.push_back(Output::SendSip { to, message }),
                Due::TimedOut((leg, tx)) => self.on_tx_timeout(now, leg, tx),
            }
        }
        let due: Vec<LegId> =
            self.legs.values().filter(|l| l.deadline().is_some_and(|d| d <= now)).map(|l| l.id).collect();
        for leg in due {
            self.on_leg_deadline(now, leg);
        }
        while self.ended.front().is_some_and(|(_, at)| *at + ENDED_MEMORY <= now) {
            self.ended.pop_front();
        }
        self.refresh(now);
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.tx.next_deadline(),
            self.legs.values().filter_map(Leg::deadline).min(),
            self.error.as_ref().map(|(_, until)| *until),
            self.ended.front().map(|(_, at)| *at + ENDED_MEMORY),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn state(&self) -> RoomState {
        self.state
    }

    pub fn led(&self) -> LedPattern {
        self.led
    }

    /// Legs that still count as places of the meeting (not on their way out).
    pub(super) fn active_legs(&self) -> usize {
        self.legs.values().filter(|l| l.state() != LegState::Ending).count()
    }

    /// The leg whose peer is `place`: its URI, its user name or its caption name.
    pub fn find_place(&self, place: &str) -> Option<LegId> {
        let place = place.trim();
        self.legs
            .values()
            .find(|l| l.peer.to_string() == place || l.peer.user.as_deref() == Some(place) || l.name() == place)
            .map(|l| l.id)
    }

    fn on_short_press(&mut self, now: Instant) {
        if self.legs.values().any(|l| l.state() == LegState::Ringing) {
            return self.answer_ringing(now);
        }
        match self.state {
            RoomState::Idle => self.dial_peers(now),
            RoomState::Ending => self.log(Level::Info, None, "button ignored: already leaving the call"),
            _ => self.leave_all(now, ""),
        }
    }

    /// `ctl join`: answer whoever rings, and dial every configured peer not in the meeting.
    fn join(&mut self, now: Instant) {
        if self.legs.values().any(|l| l.state() == LegState::Ringing) {
            self.answer_ringing(now);
        }
        if self.state == RoomState::Ending {
            return self.log(Level::Info, None, "join ignored: the room is leaving a call");
        }
        self.dial_peers(now);
    }

    fn set_muted(&mut self, muted: bool) {
        if self.muted != muted {
            self.muted = muted;
            self.outputs.push_back(Output::SetMute(muted));
            self.log(Level::Info, None, if muted { "microphone muted" } else { "microphone live" });
        }
    }

    fn on_media_prepared(&mut self, now: Instant, id: LegId, local: LocalMedia) {
        let Some(leg) = self.legs.get_mut(&id).filter(|l| l.state() != LegState::Ending) else {
            // The leg ended while its ports were being bound: give them back.
            self.outputs.push_back(Output::ReleaseMedia { leg: id });
            return;
        };
        leg.local = Some(local);
        if leg.outgoing {
            self.send_invite(now, id);
        } else {
            self.incoming_media_ready(now, id);
        }
    }

    fn on_tx_timeout(&mut self, now: Instant, leg: LegId, tx: Tx) {
        let peer = self.peer_name(leg);
        match tx {
            Tx::Invite => {
                self.fail_leg(now, leg, format!("{peer} did not answer: check that it is switched on and reachable"))
            }
            Tx::Ok200 => self.fail_leg(now, leg, format!("{peer} never confirmed the call (no ACK)")),
            Tx::Options => self.fail_leg(now, leg, format!("lost contact with {peer}: it stopped answering")),
            Tx::Bye | Tx::Cancel => self.finish_leg(now, leg),
        }
    }

    fn on_leg_deadline(&mut self, now: Instant, id: LegId) {
        let peer = self.peer_name(id);
        let Some(leg) = self.legs.get(&id) else { return };
        match leg.phase {
            Phase::Dialing { provisional: false, .. } => {
                let secs = self.cfg.timing.dial_timeout.as_secs_f32();
                let error =
                    format!("{peer} did not answer within {secs:.0} s: check that it is switched on and reachable");
                self.fail_leg(now, id, error);
            }
            Phase::Dialing { provisional: true, .. } => {
                self.cancel_outgoing(now, id, Some(format!("nobody answered at {peer}")))
            }
            Phase::Ringing { .. } => self.reject_incoming(now, id, 480, Some("nobody answered in time".into())),
            Phase::Live { .. } => self.send_keepalive(now, id),
            Phase::Ending { .. } => self.finish_leg(now, id),
        }
    }

    pub(super) fn peer_name(&self, leg: LegId) -> String {
        self.legs.get(&leg).map_or_else(|| "the peer".into(), |l| l.place())
    }

    /// A new leg; the first of a meeting starts a fresh list of unreached places.
    pub(super) fn new_leg(&mut self, now: Instant, outgoing: bool, peer: SipUri, addr: SipAddr, phase: Phase) -> LegId {
        if self.legs.is_empty() {
            self.unreached.clear();
            self.notice = None;
        }
        let id = LegId(self.next_leg);
        self.next_leg += 1;
        self.legs.insert(id, Leg::new(id, outgoing, peer, addr, now, phase));
        self.error = None;
        id
    }

    /// Our own SIP port on `transport` (for Via and Contact).
    pub(super) fn our_port(&self, transport: crate::sip::Transport) -> u16 {
        match transport {
            crate::sip::Transport::Tls => self.cfg.tls_port.unwrap_or(self.cfg.sip_port),
            _ => self.cfg.sip_port,
        }
    }

    /// Why a call over `transport` may not carry SDES keys, under `[call] keys_only_over_tls`.
    pub(super) fn keys_refused_over(&self, transport: crate::sip::Transport) -> Option<String> {
        let encrypts = self.cfg.caps.srtp.encryption != crate::sdp::Encryption::Off;
        (self.cfg.keys_only_over_tls && encrypts && transport != crate::sip::Transport::Tls).then(|| {
            format!(
                "SRTP keys may travel only inside TLS ([call] keys_only_over_tls) and this call is SIP over {}: \
                 use sips: (or ;transport=tls) on both sides",
                transport.name()
            )
        })
    }

    pub(super) fn send(&mut self, to: SipAddr, message: impl Into<SipMessage>) {
        self.outputs.push_back(Output::SendSip { to, message: message.into() });
    }

    pub(super) fn push(&mut self, output: Output) {
        self.outputs.push_back(output);
    }

    /// A standing problem from outside (or its end): logged when it appears or changes.
    fn set_standing_problem(&mut self, problem: Option<String>) {
        if problem != self.standing_problem
            && let Some(text) = &problem
        {
            self.log(Level::Warn, None, text.clone());
        }
        self.standing_problem = problem;
    }

    pub(super) fn log(&mut self, level: Level, leg: Option<LegId>, message: impl Into<String>) {
        self.outputs.push_back(Output::Log { level, leg, message: message.into() });
    }
}
