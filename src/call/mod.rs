//! The call core: a sans-IO state machine that decides everything about a call and does
//! nothing itself. Feed it `(now, Input)` with [`Core::handle_input`], advance time with
//! [`Core::handle_timeout`], drain [`Core::poll_output`], and wake it at [`Core::poll_timeout`].
//! No sockets, GStreamer or GPIO here, so every behaviour is a unit test with explicit instants.
//!
//! - `core.rs`: the state, timers, LED and status.
//! - `outgoing.rs`: dialling a peer and the responses to our requests.
//! - `incoming.rs`: requests from peers (INVITE, ACK, BYE, CANCEL, OPTIONS).
//! - `policy.rs`: who may call in.
//! - `state.rs`: the data of the call in progress.

mod core;
mod incoming;
mod outgoing;
mod policy;
mod state;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::Duration;

pub use self::core::Core;
pub use policy::{AllowEntry, AllowList};

use crate::sdp::{Capabilities, LocalMedia, Negotiated};
use crate::sip::{SipMessage, SipUri};

/// Identifies one call of this room (media adapters key their resources by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct CallId(pub u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallState {
    Idle,
    /// We invited a peer and wait for the answer.
    Dialing,
    /// A peer invites us; waiting for the button (or auto-answer).
    Ringing,
    InCall,
    /// We hung up and wait for the peer to confirm.
    Ending,
}

/// What the panel LED shows (see DESIGN.md, "Panel UX").
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LedPattern {
    Off,
    SlowBlink,
    Solid,
    Muted,
    FastBlink,
}

/// A gesture on the panel button, already recognised by the panel adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gesture {
    ShortPress,
    LongPress,
}

/// Explicit commands from the control socket (as opposed to the context-dependent button).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Join,
    Leave,
    Mute,
    Unmute,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Button(Gesture),
    Command(Command),
    SipReceived { from: SocketAddr, message: SipMessage },
    MediaPrepared { call: CallId, local: LocalMedia },
    MediaPrepareFailed { call: CallId, reason: String },
    MediaFailed { call: CallId, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    SendSip {
        to: SocketAddr,
        message: SipMessage,
    },
    /// Bind this call's RTP/RTCP sockets towards `peer` and answer with `MediaPrepared`.
    PrepareMedia {
        call: CallId,
        peer: SocketAddr,
    },
    StartMedia {
        call: CallId,
        local: LocalMedia,
        negotiated: Negotiated,
        muted: bool,
    },
    /// Tear down everything media holds for this call (pipeline and sockets).
    ReleaseMedia {
        call: CallId,
    },
    SetMute(bool),
    Led(LedPattern),
    /// Something an admin reading the log should know, in words.
    Log {
        level: Level,
        message: String,
    },
}

/// Timing of the call core; every field has a product default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Give up dialling when the peer has not responded at all within this time.
    pub dial_timeout: Duration,
    /// Give up when a ringing call is not answered within this time.
    pub ring_timeout: Duration,
    /// In a call, probe the peer with OPTIONS this often.
    pub keepalive_interval: Duration,
    /// End the call when a probe is unanswered this long.
    pub peer_timeout: Duration,
    /// Wait this long for the peer to confirm our BYE or CANCEL.
    pub hangup_timeout: Duration,
    /// Show the error LED this long after a failure.
    pub error_display: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            dial_timeout: Duration::from_secs(10),
            ring_timeout: Duration::from_secs(45),
            keepalive_interval: Duration::from_secs(5),
            peer_timeout: Duration::from_secs(15),
            hangup_timeout: Duration::from_secs(4),
            error_display: Duration::from_secs(10),
        }
    }
}

/// Everything the core needs to know about this room.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreConfig {
    pub room: String,
    /// The port our SIP socket is bound to (for Via and Contact).
    pub sip_port: u16,
    pub peers: Vec<SipUri>,
    pub allow: AllowList,
    pub auto_answer: bool,
    pub caps: Capabilities,
    pub timing: Timing,
    /// Seeds tags, branches and Call-IDs (the runtime passes entropy; tests a constant).
    pub seed: u64,
}

/// The core's view of the room, for `roombox ctl status`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CoreStatus {
    pub room: String,
    pub state: CallState,
    pub led: LedPattern,
    pub muted: bool,
    pub peer: Option<String>,
    pub direction: Option<String>,
    pub call_id: Option<String>,
    pub negotiated: Option<Negotiated>,
    pub last_error: Option<String>,
    pub state_for_ms: u64,
}
