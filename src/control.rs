//! The control protocol (`roombox ctl`): one JSON object per line over a Unix socket, a typed
//! request in, a typed response out. The server side only parses and forwards to the runtime.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::oneshot;

use crate::media::MediaStats;
use crate::media::latency::LatencySamples;
use crate::meeting::{LegId, MeetingStatus};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Request {
    Press,
    LongPress,
    Join,
    /// Leave the meeting, or with `peer` drop only that place (URI or name).
    Leave {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<String>,
    },
    Mute,
    Unmute,
    Status,
    Snapshot,
    /// The recent raw latency samples of the call (benchmarks, diagnostics).
    Latency,
    /// The link browser guests join with.
    GuestLink,
}

/// Everything `ctl status` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    #[serde(flatten)]
    pub meeting: MeetingStatus,
    pub panel: String,
    pub sip: String,
    pub encoder: String,
    pub encoder_reason: String,
    pub video_source: String,
    pub audio_source: String,
    pub display: String,
    /// Mixer levels and mute at the sound card.
    #[serde(default)]
    pub mixer: String,
    /// Each leg's live media figures.
    #[serde(default)]
    pub media: Vec<LegMedia>,
    /// The media thread is stuck in a job (a device driver does not answer), in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_busy: Option<String>,
    /// Where the box can be reached (shown on the idle screen too).
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// The live media figures of one leg.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegMedia {
    pub leg: LegId,
    #[serde(flatten)]
    pub stats: MediaStats,
}

impl Status {
    /// The media figures of the leg to `peer` (a URI, part of one, or a place's name).
    pub fn media_of(&self, peer: &str) -> Option<&MediaStats> {
        let leg = self.meeting.leg(peer)?;
        self.media.iter().find(|m| m.leg == leg.id).map(|m| &m.stats)
    }

    /// The media figures of the only (or first) leg: a two-place call.
    pub fn first_media(&self) -> Option<&MediaStats> {
        self.media.first().map(|m| &m.stats)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// A PNG, base64-encoded (snapshot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub png_base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencySamples>,
    /// The guest page's join link (guest-link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_link: Option<String>,
}

impl Response {
    pub fn status(status: Status) -> Self {
        Self { ok: true, status: Some(status), ..Self::default() }
    }
    pub fn error(error: impl Into<String>) -> Self {
        Self { error: Some(error.into()), ..Self::default() }
    }
    pub fn png(png: &[u8]) -> Self {
        use base64::Engine as _;
        Self { ok: true, png_base64: Some(base64::engine::general_purpose::STANDARD.encode(png)), ..Self::default() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("another roombox already answers on {0}: stop it first (systemctl stop roombox)")]
    InUse(PathBuf),
    #[error(
        "cannot create the control socket {path}: {source} (check [control] socket and that the directory is writable)"
    )]
    Bind { path: PathBuf, source: std::io::Error },
    #[error("cannot reach roombox at {path}: {source} (is it running? `systemctl status roombox`; or pass --socket)")]
    Connect { path: PathBuf, source: std::io::Error },
    #[error(
        "not allowed to drive roombox at {path}: {source} (the control socket is for the roombox group: `sudo adduser $USER roombox`, then log in again)"
    )]
    Denied { path: PathBuf, source: std::io::Error },
    #[error("roombox at {path} answered badly: {reason}")]
    Protocol { path: PathBuf, reason: String },
}

/// A request waiting for the runtime's answer.
pub type Pending = (Request, oneshot::Sender<Response>);

/// How long `ctl` waits for the room's answer.
const ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Sends one request and waits for the answer (the `roombox ctl` side).
pub async fn call(path: &Path, request: Request) -> Result<Response, ControlError> {
    let no_answer = || ControlError::Protocol {
        path: path.into(),
        reason: format!(
            "no answer within {} s (the daemon is stuck: `journalctl -u roombox`)",
            ANSWER_TIMEOUT.as_secs()
        ),
    };
    tokio::time::timeout(ANSWER_TIMEOUT, ask(path, request)).await.map_err(|_| no_answer())?
}

async fn ask(path: &Path, request: Request) -> Result<Response, ControlError> {
    let stream = UnixStream::connect(path).await.map_err(|source| match source.kind() {
        std::io::ErrorKind::PermissionDenied => ControlError::Denied { path: path.into(), source },
        _ => ControlError::Connect { path: path.into(), source },
    })?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_string(&request)
        .map_err(|e| ControlError::Protocol { path: path.into(), reason: e.to_string() })?;
    line.push('\n');
    write.write_all(line.as_bytes()).await.map_err(|source| ControlError::Connect { path: path.into(), source })?;
    let answer = BufReader::new(read)
        .lines()
        .next_line()
        .await
        .map_err(|source| ControlError::Connect { path: path.into(), source })?;
    let answer = answer.ok_or_else(|| ControlError::Protocol { path: path.into(), reason: "no answer".into() })?;
    serde_json::from_str(&answer).map_err(|e| ControlError::Protocol { path: path.into(), reason: e.to_string() })
}
