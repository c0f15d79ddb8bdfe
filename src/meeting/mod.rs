//! The meeting core: a sans-IO state machine that decides everything about the room's meeting
//! and does nothing itself. A meeting is this room plus up to `max_places - 1` remote places,
//! each reached over its own **leg** (one SIP dialog, one media session). Feed it
//! `(now, Input)` with [`Meeting::handle_input`], advance time with [`Meeting::handle_timeout`],
//! drain [`Meeting::poll_output`], and wake it at [`Meeting::poll_timeout`]. No sockets,
//! GStreamer or GPIO here, so every behaviour is a unit test with explicit instants.
//!
//! The room hosts: pressing the button dials every configured peer at once, and allowed callers
//! are added to a meeting in progress until it is full. Every other place makes an ordinary
//! two-party call to the host, so any SIP endpoint can take part.
//!
//! - `core.rs`: the meeting itself: legs, timers, mute, LED, the room's state.
//! - `leg.rs`: one leg's data and its per-phase state (dialing, ringing, live, ending).
//! - `outgoing.rs`: dialling peers and the responses to our requests.
//! - `incoming.rs`: requests from peers (INVITE, ACK, BYE, CANCEL, OPTIONS).
//! - `status.rs`: what `ctl status` shows of the meeting and each leg.
//! - `policy.rs`: who may call in.
//! - `guests.rs`: browser guests, places whose media is negotiated over HTTPS, not SIP.

mod core;
mod ending;
mod guests;
mod incoming;
mod leg;
mod liveness;
mod outgoing;
mod owners;
mod policy;
mod room_state;
mod status;

#[cfg(test)]
mod test_net;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_guests;
#[cfg(test)]
mod tests_liveness;
#[cfg(test)]
mod tests_meeting;
#[cfg(test)]
mod tests_owners;

use std::net::SocketAddr;

use crate::sip::SipAddr;
use std::time::Duration;

pub use self::core::Meeting;
pub use policy::{AllowEntry, AllowList};
pub use status::{LegStatus, MeetingStatus, Unreached};

use crate::sdp::{Capabilities, LocalMedia, Negotiated};
use crate::sip::{SipMessage, SipUri};

/// Identifies one leg of this room's meeting (media adapters key their resources by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct LegId(pub u64);

impl std::fmt::Display for LegId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "leg-{}", self.0)
    }
}

/// What the room as a whole is doing (one state, whatever its legs do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoomState {
    Idle,
    /// We invited peers and none has answered yet.
    Dialing,
    /// A peer invites us; waiting for the button (or auto-answer).
    Ringing,
    /// At least one remote place is live.
    InCall,
    /// We hung up and wait for the peers to confirm.
    Ending,
}

/// What one leg is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LegState {
    Dialing,
    Ringing,
    Live,
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
    /// In a meeting, but some place has sent nothing for a while.
    Interrupted,
}

/// A gesture on the panel button, already recognised by the panel adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gesture {
    ShortPress,
    LongPress,
}

/// Explicit commands from the control socket (as opposed to the context-dependent button).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Dial every configured peer not yet in the meeting, and answer whoever rings.
    Join,
    /// Leave the meeting: every leg ends.
    Leave,
    /// Drop one place from the meeting; the others stay.
    Drop(LegId),
    Mute,
    Unmute,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Button(Gesture),
    Command(Command),
    SipReceived {
        from: SipAddr,
        message: SipMessage,
    },
    /// SIP cannot reach `to` (a TCP or TLS connection could not be opened, or its peer's
    /// certificate is not trusted): its legs end with `reason`.
    SipUnreachable {
        to: SipAddr,
        reason: String,
    },
    MediaPrepared {
        leg: LegId,
        local: LocalMedia,
    },
    MediaPrepareFailed {
        leg: LegId,
        reason: String,
    },
    /// One leg's media failed: that leg ends, the others stay.
    MediaFailed {
        leg: LegId,
        reason: String,
    },
    /// One leg's media has received nothing (no RTP, no RTCP) for `idle`.
    MediaIdle {
        leg: LegId,
        idle: Duration,
    },
    /// The media side has been starting one leg's media for `stuck_for` without returning.
    MediaStuck {
        leg: LegId,
        stuck_for: Duration,
    },
    /// The room's own media (devices, encoder, mixers) failed: every leg ends.
    RoomMediaFailed {
        reason: String,
    },
    /// A browser guest with the right PIN asks to join (`ticket` names its request until it
    /// is answered with `StartGuest` or `RefuseGuest`). `offer` is its SDP, for the media.
    GuestArrived {
        ticket: u64,
        name: String,
        from: SocketAddr,
        offer: String,
    },
    /// A standing problem from outside the daemon that an admin must fix (the flashed image's
    /// card service: a `roombox.toml` on the card that was not used), or `None` once it is
    /// gone. It stays in `status`, and the LED blinks fast while the room is idle.
    StandingProblem(Option<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    SendSip {
        to: SipAddr,
        message: SipMessage,
    },
    /// Bind this leg's RTP/RTCP sockets towards `peer` and answer with `MediaPrepared`.
    PrepareMedia {
        leg: LegId,
        peer: SocketAddr,
    },
    /// Link this leg into the room's media: `name` captions the place on screen.
    StartMedia {
        leg: LegId,
        name: String,
        local: LocalMedia,
        negotiated: Negotiated,
        muted: bool,
    },
    /// Unlink this leg and free what media holds for it (sockets, its part of the graph).
    ReleaseMedia {
        leg: LegId,
    },
    /// Answer the guest's offer and link its media into the room as `leg`.
    StartGuest {
        leg: LegId,
        ticket: u64,
        name: String,
        offer: String,
        muted: bool,
    },
    /// The guest cannot join: `reason` is shown on its page.
    RefuseGuest {
        ticket: u64,
        reason: String,
    },
    SetMute(bool),
    Led(LedPattern),
    /// Something an admin reading the log should know, in words; `leg` when it is about one.
    Log {
        level: Level,
        leg: Option<LegId>,
        message: String,
    },
}

/// Timing of the meeting core; every field has a product default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Give up dialling when the peer has not responded at all within this time.
    pub dial_timeout: Duration,
    /// Give up when a ringing call is not answered within this time.
    pub ring_timeout: Duration,
    /// In a call, probe each peer with OPTIONS this often.
    pub keepalive_interval: Duration,
    /// End a leg when a probe is unanswered this long.
    pub peer_timeout: Duration,
    /// Wait this long for the peer to confirm our BYE or CANCEL.
    pub hangup_timeout: Duration,
    /// Show the error LED this long after a failure.
    pub error_display: Duration,
    /// A live place that has sent no media this long is shown as interrupted (well under 3 s,
    /// so that the LED shows an outage within 3 s: the room polls its legs every 250 ms, and
    /// at 2.5 s the bench saw the LED after up to 3.0 s)...
    pub media_interrupted: Duration,
    /// ...and its leg ends with a BYE when nothing has come this long.
    pub media_timeout: Duration,
    /// A leg whose media has not started this long (a device that does not answer) ends.
    pub media_start_timeout: Duration,
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
            media_interrupted: Duration::from_millis(2000),
            media_timeout: Duration::from_secs(30),
            media_start_timeout: Duration::from_secs(10),
        }
    }
}

/// Everything the core needs to know about this room.
#[derive(Debug, Clone, PartialEq)]
pub struct MeetingConfig {
    pub room: String,
    /// The port our SIP socket is bound to (for Via and Contact).
    pub sip_port: u16,
    /// The port we take SIP over TLS on, if we do.
    pub tls_port: Option<u16>,
    /// Who the button calls (all at once).
    pub peers: Vec<SipUri>,
    pub allow: AllowList,
    pub auto_answer: bool,
    /// Places in a meeting, this room included (2 = two-party calls only).
    pub max_places: usize,
    pub caps: Capabilities,
    /// Send media where the SDP says even when that is not the SIP peer's address.
    pub allow_media_elsewhere: bool,
    /// SDES keys travel only inside TLS: encrypted calls over UDP or TCP are refused.
    pub keys_only_over_tls: bool,
    /// Browser guests at once in the meeting (0: guests are off).
    pub max_guests: usize,
    pub timing: Timing,
    /// Seeds tags, branches and Call-IDs (the runtime passes entropy; tests a constant).
    pub seed: u64,
}
