//! The [`Core`] itself: call state, timers, mute, LED and status. The SIP-specific halves of
//! its behaviour live in `outgoing.rs` and `incoming.rs`.

pub(super) use super::state::{Call, Deadline, IdGen, Tx};

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{CallId, CallState, Command, CoreConfig, CoreStatus, Gesture, Input, LedPattern, Level, Output};
use crate::sdp::LocalMedia;
use crate::sip::retransmit::{Due, Retransmissions};
use crate::sip::{SipMessage, SipUri};

/// How long BYEs for calls that already ended are still answered with 200 (timer J).
const ENDED_MEMORY: Duration = Duration::from_secs(32);

pub struct Core {
    pub(super) cfg: CoreConfig,
    pub(super) state: CallState,
    pub(super) state_since: Instant,
    pub(super) call: Option<Call>,
    pub(super) muted: bool,
    pub(super) tx: Retransmissions<Tx>,
    pub(super) ids: IdGen,
    outputs: VecDeque<Output>,
    next_call: u64,
    error: Option<(String, Instant)>,
    last_error: Option<String>,
    led: LedPattern,
    pub(super) ended: VecDeque<(String, Instant)>,
}

impl Core {
    pub fn new(cfg: CoreConfig, now: Instant) -> Self {
        let ids = IdGen(cfg.seed);
        let mut core = Self {
            cfg,
            state: CallState::Idle,
            state_since: now,
            call: None,
            muted: false,
            tx: Retransmissions::default(),
            ids,
            outputs: VecDeque::new(),
            next_call: 1,
            error: None,
            last_error: None,
            led: LedPattern::Off,
            ended: VecDeque::new(),
        };
        core.outputs.push_back(Output::Led(LedPattern::Off));
        core
    }

    /// Whether a reloaded configuration may take effect now (between calls only).
    pub fn can_reconfigure(&self) -> bool {
        self.state == CallState::Idle
    }

    /// Takes a reloaded configuration. Only between calls: a call in progress keeps the
    /// configuration it started with, so the caller retries once the core is idle. Mute,
    /// the last error and call numbering carry over. Returns whether it was taken.
    pub fn reconfigure(&mut self, cfg: CoreConfig) -> bool {
        if !self.can_reconfigure() {
            return false;
        }
        self.cfg = CoreConfig { seed: self.cfg.seed, ..cfg };
        true
    }

    pub fn handle_input(&mut self, now: Instant, input: Input) {
        match input {
            Input::Button(Gesture::ShortPress) => self.on_short_press(now),
            Input::Button(Gesture::LongPress) => self.set_muted(!self.muted),
            Input::Command(Command::Join) if self.state == CallState::Idle => self.dial(now),
            Input::Command(Command::Join) => {
                self.log(Level::Info, "join ignored: the room is already in or joining a call")
            }
            Input::Command(Command::Leave) => self.leave(now),
            Input::Command(Command::Mute) => self.set_muted(true),
            Input::Command(Command::Unmute) => self.set_muted(false),
            Input::SipReceived { from, message: SipMessage::Request(req) } => self.on_request(now, from, req),
            Input::SipReceived { from, message: SipMessage::Response(resp) } => self.on_response(now, from, resp),
            Input::MediaPrepared { call, local } => self.on_media_prepared(now, call, local),
            Input::MediaPrepareFailed { call, reason } | Input::MediaFailed { call, reason } => {
                if self.call.as_ref().is_some_and(|c| c.id == call) {
                    self.fail_call(now, format!("media failed: {reason}"));
                }
            }
        }
        self.refresh_led(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        for due in self.tx.poll(now) {
            match due {
                Due::Resend(message, to) => self.outputs.push_back(Output::SendSip { to, message }),
                Due::TimedOut(tx) => self.on_tx_timeout(now, tx),
            }
        }
        let deadline = self.call.as_ref().and_then(|c| c.deadline).filter(|(at, _)| *at <= now);
        if let Some((_, which)) = deadline {
            if let Some(call) = self.call.as_mut() {
                call.deadline = None;
            }
            self.on_deadline(now, which);
        }
        if self.call.as_ref().and_then(|c| c.keepalive_at).is_some_and(|at| at <= now) {
            self.send_keepalive(now);
        }
        while self.ended.front().is_some_and(|(_, at)| *at + ENDED_MEMORY <= now) {
            self.ended.pop_front();
        }
        self.refresh_led(now);
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let call = self.call.as_ref();
        [
            self.tx.next_deadline(),
            call.and_then(|c| c.deadline.map(|(at, _)| at)),
            call.and_then(|c| c.keepalive_at),
            self.error.as_ref().map(|(_, until)| *until),
            self.ended.front().map(|(_, at)| *at + ENDED_MEMORY),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn state(&self) -> CallState {
        self.state
    }

    pub fn led(&self) -> LedPattern {
        self.led
    }

    pub fn status(&self, now: Instant) -> CoreStatus {
        let call = self.call.as_ref();
        CoreStatus {
            room: self.cfg.room.clone(),
            state: self.state,
            led: self.led,
            muted: self.muted,
            peer: call.map(|c| c.peer.to_string()),
            direction: call.map(|c| if c.outgoing { "outgoing" } else { "incoming" }.to_owned()),
            call_id: call.and_then(|c| c.dialog.as_ref()).map(|d| d.call_id.clone()),
            negotiated: call.and_then(|c| c.negotiated.clone()),
            last_error: self.last_error.clone(),
            state_for_ms: now.saturating_duration_since(self.state_since).as_millis() as u64,
        }
    }

    fn on_short_press(&mut self, now: Instant) {
        match self.state {
            CallState::Idle => self.dial(now),
            CallState::Ringing => self.answer(now),
            CallState::Dialing | CallState::InCall => self.leave(now),
            CallState::Ending => self.log(Level::Info, "button ignored: already leaving the call"),
        }
    }

    fn set_muted(&mut self, muted: bool) {
        if self.muted != muted {
            self.muted = muted;
            self.outputs.push_back(Output::SetMute(muted));
            self.log(Level::Info, if muted { "microphone muted" } else { "microphone live" });
        }
    }

    fn on_media_prepared(&mut self, now: Instant, id: CallId, local: LocalMedia) {
        let Some(call) = self.call.as_mut().filter(|c| c.id == id) else {
            // The call ended while its ports were being bound: give them back.
            self.outputs.push_back(Output::ReleaseMedia { call: id });
            return;
        };
        call.local = Some(local);
        if call.outgoing {
            self.send_invite(now);
        } else {
            self.incoming_media_ready(now);
        }
    }

    fn on_tx_timeout(&mut self, now: Instant, tx: Tx) {
        match tx {
            Tx::Invite => self.fail_call(
                now,
                format!("{} did not answer: check that it is switched on and reachable", self.peer_name()),
            ),
            Tx::Ok200 => self.fail_call(now, format!("{} never confirmed the call (no ACK)", self.peer_name())),
            Tx::Options => self.fail_call(now, format!("lost contact with {}: it stopped answering", self.peer_name())),
            Tx::Bye | Tx::Cancel => self.finish_call(now),
        }
    }

    fn on_deadline(&mut self, now: Instant, which: Deadline) {
        match which {
            Deadline::Dial => {
                let secs = self.cfg.timing.dial_timeout.as_secs_f32();
                self.fail_call(
                    now,
                    format!(
                        "{} did not answer within {secs:.0} s: check that it is switched on and reachable",
                        self.peer_name()
                    ),
                );
            }
            Deadline::Ring if self.state == CallState::Ringing => {
                self.reject_incoming(now, 480, Some("nobody answered in time".into()))
            }
            Deadline::Ring => {
                let error = format!("nobody answered at {}", self.peer_name());
                self.cancel_outgoing(now, Some(error));
            }
            Deadline::Hangup => self.finish_call(now),
        }
    }

    pub(super) fn peer_name(&self) -> String {
        self.call.as_ref().map_or_else(|| "the peer".into(), |c| c.peer.to_string())
    }

    pub(super) fn new_call(&mut self, outgoing: bool, peer: SipUri, peer_addr: SocketAddr) -> CallId {
        let id = CallId(self.next_call);
        self.next_call += 1;
        self.call = Some(Call::new(id, outgoing, peer, peer_addr));
        self.error = None;
        id
    }

    pub(super) fn set_state(&mut self, now: Instant, state: CallState) {
        if self.state != state {
            self.state = state;
            self.state_since = now;
        }
    }

    pub(super) fn send(&mut self, to: SocketAddr, message: impl Into<SipMessage>) {
        self.outputs.push_back(Output::SendSip { to, message: message.into() });
    }

    pub(super) fn push(&mut self, output: Output) {
        self.outputs.push_back(output);
    }

    pub(super) fn log(&mut self, level: Level, message: impl Into<String>) {
        self.outputs.push_back(Output::Log { level, message: message.into() });
    }

    /// Ends the call now as a failure: the peer is told (BYE or CANCEL) where that makes
    /// sense, media is released, and the error LED is shown.
    pub(super) fn fail_call(&mut self, now: Instant, error: String) {
        match self.state {
            CallState::InCall => self.send_bye(now, Some(error)),
            CallState::Dialing if self.call.as_ref().is_some_and(|c| c.provisional) => {
                self.cancel_outgoing(now, Some(error))
            }
            CallState::Ringing => self.reject_incoming(now, 500, Some(error)),
            _ => {
                if let Some(call) = self.call.as_mut() {
                    call.end_error = Some(error);
                }
                self.finish_call(now);
            }
        }
    }

    /// Ends the call for good: media released, retransmissions stopped, back to idle.
    pub(super) fn finish_call(&mut self, now: Instant) {
        let Some(call) = self.call.take() else { return };
        self.tx.clear();
        if !call.media_released {
            self.outputs.push_back(Output::ReleaseMedia { call: call.id });
        }
        if let Some(dialog) = &call.dialog {
            self.ended.push_back((dialog.call_id.clone(), now));
        }
        match call.end_error {
            Some(error) => self.show_error(now, &call.peer, error),
            None => self.log(Level::Info, format!("call with {} ended", call.peer)),
        }
        self.set_state(now, CallState::Idle);
    }

    /// Logs a failure and shows the error LED for a while.
    fn show_error(&mut self, now: Instant, peer: &SipUri, error: String) {
        self.log(Level::Warn, format!("call with {peer} failed: {error}"));
        self.error = Some((error.clone(), now + self.cfg.timing.error_display));
        self.last_error = Some(error);
    }

    /// Leaves (or declines) whatever call is in progress, as the button or `ctl leave` asks.
    fn leave(&mut self, now: Instant) {
        match self.state {
            CallState::Idle | CallState::Ending => self.log(Level::Info, "leave ignored: not in a call"),
            CallState::Dialing => self.cancel_outgoing(now, None),
            CallState::Ringing => self.reject_incoming(now, 486, None),
            CallState::InCall => self.send_bye(now, None),
        }
    }

    /// Starts the hang-up wait: the call is over for the room, the peer may still confirm.
    /// A failure is shown at once; the call's end is only logged when the peer confirms.
    pub(super) fn start_hangup(&mut self, now: Instant, error: Option<String>) {
        let deadline = now + self.cfg.timing.hangup_timeout;
        let Some(call) = self.call.as_mut() else {
            return;
        };
        call.deadline = Some((deadline, Deadline::Hangup));
        call.keepalive_at = None;
        if !call.media_released {
            call.media_released = true;
            self.outputs.push_back(Output::ReleaseMedia { call: call.id });
        }
        if let Some(error) = error.or(call.end_error.take()) {
            let peer = call.peer.clone();
            self.show_error(now, &peer, error);
        }
        self.tx.stop(&Tx::Options);
        self.tx.stop(&Tx::Ok200);
        self.set_state(now, CallState::Ending);
    }

    fn refresh_led(&mut self, now: Instant) {
        if self.error.as_ref().is_some_and(|(_, until)| *until <= now) {
            self.error = None;
        }
        let led = if self.error.is_some() {
            LedPattern::FastBlink
        } else if self.muted {
            LedPattern::Muted
        } else {
            match self.state {
                CallState::Idle | CallState::Ending => LedPattern::Off,
                CallState::Dialing | CallState::Ringing => LedPattern::SlowBlink,
                CallState::InCall => LedPattern::Solid,
            }
        };
        if led != self.led {
            self.led = led;
            self.outputs.push_back(Output::Led(led));
        }
    }
}
