//! The event loop: waits on the SIP socket, the control socket, media events, the panel, the
//! core's next deadline and reloaded configs in one `select!`, feeds the core, and carries its
//! outputs to the adapters. It moves data and never decides; shutdown is a future passed in.
//! The loop itself feeds systemd's watchdog, so a stuck loop gets the service restarted. The
//! media work runs on a thread of its own (`media::MediaWorker`), watched in `media_watch.rs`;
//! control requests are answered in `requests.rs`.

mod guests;
pub mod idle_notes;
mod media_watch;
mod requests;
mod sip_setup;
mod sip_transport;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Instant;

use tokio::sync::mpsc;

use crate::config::Config;
use crate::control::{self, Pending};
use crate::media::{self, MediaEvent, MediaPlan, MediaWorker};
use crate::meeting::{Command, Gesture, Input, Level, Meeting, MeetingConfig, Output};
use crate::panel::{self, Panel};
use crate::sdp::Capabilities;
use sip_transport::{Arrival, SipTransports};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("GStreamer could not start: {0}")]
    Gstreamer(String),
    #[error(transparent)]
    Media(#[from] media::MediaError),
    #[error("cannot listen for SIP over {transport} on {addr}: {source}{hint}")]
    SipBind { addr: SocketAddr, transport: &'static str, source: std::io::Error, hint: &'static str },
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error(transparent)]
    Control(#[from] control::ControlError),
    #[error(transparent)]
    Guests(crate::guests::GuestsError),
}

/// A room, up and listening: what `run` reports once it is ready.
#[derive(Debug, Clone)]
pub struct Ready {
    pub sip: SocketAddr,
}

struct Room {
    config: Config,
    core: Meeting,
    engine: MediaWorker,
    panel: Box<dyn Panel>,
    sip: SipTransports,
    sip_addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    control_task: tokio::task::JoinHandle<()>,
    /// A reloaded config waiting for the call in progress to end.
    pending: Option<Reloaded>,
    channels: Channels,
    /// The guest page, when `[guests]` is on.
    guests: Option<guests::GuestDoor>,
    /// The idle screen's address and standing-problem lines, as last read.
    notes: idle_notes::NotesWatch,
}

/// Senders the adapters report through (kept to rebuild adapters on reload).
struct Channels {
    control: mpsc::Sender<Pending>,
    gestures: mpsc::Sender<Gesture>,
    guests: mpsc::Sender<crate::guests::GuestRequest>,
}

fn resolve_plan(config: &Config) -> Result<MediaPlan, RuntimeError> {
    let plan = MediaPlan::resolve(config, &media::probe::detect())?;
    media::check_plan(&plan)?;
    log_plan(&plan);
    Ok(plan)
}

/// A reloaded config with its media plan, resolved off the event loop (probing devices and
/// self-testing encoders takes a moment).
#[derive(Debug)]
pub struct Reloaded {
    config: Config,
    plan: MediaPlan,
}

impl Reloaded {
    /// Probes this machine for `config`; blocking, so callers run it off the event loop.
    pub fn prepare(config: Config) -> Result<Self, RuntimeError> {
        gstreamer::init().map_err(|e| RuntimeError::Gstreamer(e.to_string()))?;
        let plan = resolve_plan(&config)?;
        Ok(Self { config, plan })
    }
}

fn core_config(config: &Config, sip_port: u16, tls: Option<SocketAddr>) -> MeetingConfig {
    MeetingConfig {
        room: config.room.name.clone(),
        sip_port,
        tls_port: tls.map(|a| a.port()),
        peers: config.call.peers.iter().map(|p| p.0.clone()).collect(),
        allow: config.allow_list(),
        auto_answer: config.call.auto_answer,
        max_places: config.max_places(),
        caps: Capabilities { srtp: config.srtp_policy(), ..Capabilities::default() },
        allow_media_elsewhere: config.call.allow_media_elsewhere,
        keys_only_over_tls: config.call.keys_only_over_tls,
        max_guests: if config.guests.enabled { config.guests.max.0 as usize } else { 0 },
        timing: config.timing(),
        seed: entropy(),
    }
}

fn open_panel(config: &Config, gestures: mpsc::Sender<Gesture>) -> Box<dyn Panel> {
    panel::open(&config.panel, gestures).unwrap_or_else(|e| {
        tracing::error!("panel: {e}. The room runs without its button; `roombox ctl press` still works");
        Box::new(panel::sim::SimPanel::unavailable(e.to_string()))
    })
}

/// Runs one room until `shutdown` completes. `on_ready` is called once sockets are up; each
/// config received on `reloads` replaces the running one (at once when idle, else when the
/// call ends). A non-empty file at `notice` is a standing problem the idle screen and LED show.
pub async fn run(
    config: Config,
    notice: Option<std::path::PathBuf>,
    shutdown: impl Future<Output = ()>,
    mut reloads: mpsc::Receiver<Reloaded>,
    on_ready: impl FnOnce(&Ready),
) -> Result<(), RuntimeError> {
    gstreamer::init().map_err(|e| RuntimeError::Gstreamer(e.to_string()))?;
    let plan = resolve_plan(&config)?;
    let sip_setup::Bound { transports: sip, udp: sip_addr, tls: tls_addr } = sip_setup::bind(&config).await?;
    let (media_tx, mut media_rx) = mpsc::unbounded_channel();
    let (control_tx, mut control_rx) = mpsc::channel::<Pending>(16);
    let control_task = crate::control_server::serve(&config.control.socket, control_tx.clone()).await?;
    let (gesture_tx, mut gesture_rx) = mpsc::channel(8);
    let panel = open_panel(&config, gesture_tx.clone());
    let (guest_tx, mut guest_rx) = mpsc::channel(16);
    let door = guests::open(&config, guest_tx.clone()).await?;
    let mut room = Room {
        core: Meeting::new(core_config(&config, sip_addr.port(), tls_addr), Instant::now()),
        engine: MediaWorker::spawn(plan, media_tx)?,
        config,
        panel,
        sip,
        sip_addr,
        tls_addr,
        control_task,
        pending: None,
        channels: Channels { control: control_tx, gestures: gesture_tx, guests: guest_tx },
        guests: door,
        notes: idle_notes::NotesWatch::new(notice),
    };
    tracing::info!(room = %room.config.room.name, sip = %sip_addr, control = %room.config.control.socket.display(), "room ready: press the button to join");
    on_ready(&Ready { sip: sip_addr });
    let watchdog = sd_notify::watchdog_enabled();
    let mut watchdog_tick = tokio::time::interval(watchdog.map_or(std::time::Duration::from_secs(3600), |d| d / 2));
    let mut last_state = room.core.state();

    tokio::pin!(shutdown);
    let mut buf = vec![0u8; 65536];
    let mut adapt = tokio::time::interval(std::time::Duration::from_millis(250));
    adapt.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut notes_tick = tokio::time::interval(idle_notes::EVERY);
    loop {
        room.drain().await;
        if room.core.state() != last_state {
            last_state = room.core.state();
            notify_state(&room.core.status(Instant::now()));
            if let Some(reloaded) = room.pending.take() {
                room.reload(reloaded).await;
            }
        }
        let deadline = room.core.poll_timeout();
        let sleep = tokio::time::sleep_until(deadline.map_or_else(far_future, tokio::time::Instant::from_std));
        tokio::select! {
            () = &mut shutdown => break,
            arrival = room.sip.recv(&mut buf) => match arrival {
                Arrival::Message(from, message) => room.core.handle_input(Instant::now(), Input::SipReceived { from, message }),
                Arrival::Malformed(from, e) => {
                    let what = if from.transport == crate::sip::Transport::Udp { "datagram" } else { "message" };
                    tracing::warn!(%from, "dropped a malformed SIP {what}: {e}");
                }
                Arrival::Unreachable(to, reason) => room.core.handle_input(Instant::now(), Input::SipUnreachable { to, reason }),
            },
            Some(event) = media_rx.recv() => match event {
                MediaEvent::Failed { leg: Some(leg), reason } => room.core.handle_input(Instant::now(), Input::MediaFailed { leg, reason }),
                MediaEvent::Failed { leg: None, reason } => room.core.handle_input(Instant::now(), Input::RoomMediaFailed { reason }),
                MediaEvent::LatencyChanged => room.engine.recalculate_latency(),
                MediaEvent::CameraLost { reason } => room.engine.camera_lost(&reason),
            },
            Some((request, reply)) = control_rx.recv() => room.on_control(request, reply),
            Some(request) = guest_rx.recv() => room.on_guest(request),
            Some(gesture) = gesture_rx.recv() => {
                tracing::info!(?gesture, "panel button");
                room.core.handle_input(Instant::now(), Input::Button(gesture));
            }
            () = sleep, if deadline.is_some() => room.core.handle_timeout(Instant::now()),
            _ = adapt.tick() => {
                room.engine.tick();
                for (leg, idle) in room.engine.idle_legs() {
                    room.core.handle_input(Instant::now(), Input::MediaIdle { leg, idle });
                }
                room.check_media_thread();
            }
            Some(reloaded) = reloads.recv() => room.reload(reloaded).await,
            _ = notes_tick.tick() => room.refresh_notes().await,
            _ = watchdog_tick.tick(), if watchdog.is_some() => room.pet_watchdog(),
        }
    }
    // Leave politely: a BYE to the peer, then release everything.
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    room.core.handle_input(Instant::now(), Input::Command(Command::Leave));
    room.drain().await;
    room.control_task.abort();
    let _ = std::fs::remove_file(&room.config.control.socket);
    let Room { engine, config, .. } = room;
    use media_watch::SHUTDOWN_WAIT;
    let finished = tokio::task::spawn_blocking(move || engine.finish(SHUTDOWN_WAIT)).await.unwrap_or(false);
    if !finished {
        tracing::warn!("the media thread did not finish in {SHUTDOWN_WAIT:?} (a device driver hangs?): leaving it");
    }
    tracing::info!(room = %config.room.name, "room stopped");
    Ok(())
}

/// Tells systemd what the room is doing (`systemctl status roombox` shows it).
fn notify_state(status: &crate::meeting::MeetingStatus) {
    let peers: Vec<&str> = status.legs.iter().map(|l| l.peer.as_str()).collect();
    let text = match peers.as_slice() {
        [] => format!("{:?}", status.state),
        _ => format!("{:?} with {}", status.state, peers.join(", ")),
    };
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(&text)]);
}

fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + std::time::Duration::from_secs(3600)
}

fn entropy() -> u64 {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    nanos ^ (u64::from(std::process::id()) << 32)
}

fn log_plan(plan: &MediaPlan) {
    for problem in &plan.problems {
        tracing::warn!("{problem} (the room runs on; `roombox check` lists this too)");
    }
    tracing::info!(video = %plan.video_source.description, audio_in = %plan.audio_source.description, audio_out = %plan.audio_sink.description,
        display = %plan.display.description, encoder = %plan.encoder.reason, "media plan");
}

impl Room {
    /// Applies a reloaded config: at once between calls; during a call it waits (the core
    /// decides), so the call is never dropped. Anything that cannot be applied keeps the
    /// running setting.
    async fn reload(&mut self, reloaded: Reloaded) {
        if reloaded.config == self.config {
            tracing::info!("config reloaded: nothing changed");
            return;
        }
        if !self.core.can_reconfigure() {
            tracing::info!(state = ?self.core.state(), "config reloaded: it applies when this call ends");
            self.pending = Some(reloaded);
            return;
        }
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Reloading]);
        match self.apply(reloaded).await {
            Ok(()) => tracing::info!(room = %self.config.room.name, "config reloaded and applied"),
            Err(e) => tracing::error!("config reload not applied, the running config stays in force: {e}"),
        }
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    }

    /// Rebinds what moved, then hands the core and the adapters their new settings.
    async fn apply(&mut self, Reloaded { config, plan }: Reloaded) -> Result<(), RuntimeError> {
        if config.sip != self.config.sip || config.wants_tls() != self.config.wants_tls() {
            // The old listeners go first, so the new ones may take the same ports.
            let placeholder = sip_setup::placeholder().await?;
            drop(std::mem::replace(&mut self.sip, placeholder));
            let bound = match sip_setup::bind(&config).await {
                Ok(bound) => bound,
                Err(e) => {
                    // Back to the settings that worked, and the reload is refused.
                    self.sip = sip_setup::bind(&self.config).await?.transports;
                    return Err(e);
                }
            };
            (self.sip, self.sip_addr, self.tls_addr) = (bound.transports, bound.udp, bound.tls);
            tracing::info!(sip = %bound.udp, tls = ?bound.tls, "listening for SIP on the new settings");
        }
        if config.control.socket != self.config.control.socket {
            let task = crate::control_server::serve(&config.control.socket, self.channels.control.clone()).await?;
            std::mem::replace(&mut self.control_task, task).abort();
            let _ = std::fs::remove_file(&self.config.control.socket);
        }
        if config.guests != self.config.guests || config.sip.tls_certificate != self.config.sip.tls_certificate {
            self.guests = None; // the old page's port is free before the new one binds
            self.guests = guests::open(&config, self.channels.guests.clone()).await?;
            if !config.guests.enabled {
                tracing::info!("guest page closed ([guests] enabled = false)");
            }
        }
        self.core.reconfigure(core_config(&config, self.sip_addr.port(), self.tls_addr));
        self.engine.replan(plan);
        if config.panel != self.config.panel {
            // Release the old lines before claiming them again.
            self.panel = Box::new(panel::sim::SimPanel::default());
            self.panel = open_panel(&config, self.channels.gestures.clone());
            self.panel.show(self.core.led());
        }
        self.config = config;
        Ok(())
    }

    /// Carries every pending core output to its adapter; adapters may answer with inputs.
    async fn drain(&mut self) {
        while let Some(output) = self.core.poll_output() {
            let now = Instant::now();
            match output {
                Output::SendSip { to, message } => self.sip.send(to, &message).await,
                Output::PrepareMedia { leg, peer } => match self.engine.prepare(leg, peer) {
                    Ok(local) => self.core.handle_input(now, Input::MediaPrepared { leg, local }),
                    Err(e) => self.core.handle_input(now, Input::MediaPrepareFailed { leg, reason: e.to_string() }),
                },
                Output::StartMedia { leg, name, negotiated, muted, .. } => {
                    self.engine.start(leg, &name, &negotiated, muted);
                }
                Output::ReleaseMedia { leg } => {
                    self.engine.release(leg);
                    self.forget_guest(leg);
                }
                Output::StartGuest { leg, ticket, name, offer, muted } => {
                    self.start_guest(leg, ticket, &name, offer, muted)
                }
                Output::RefuseGuest { ticket, reason } => self.refuse_guest(ticket, reason),
                Output::SetMute(muted) => self.engine.set_mute(muted),
                Output::Led(led) => self.panel.show(led),
                Output::Log { level, leg, message } => {
                    let state = self.core.state();
                    let (call, peer) =
                        leg.and_then(|l| self.core.leg_fields(l)).unwrap_or_else(|| ("-".into(), "-".into()));
                    let leg = leg.map_or_else(|| "-".to_owned(), |l| l.to_string());
                    match level {
                        Level::Info => tracing::info!(?state, leg, call, peer, "{message}"),
                        Level::Warn => tracing::warn!(?state, leg, call, peer, "{message}"),
                    }
                }
            }
        }
    }
}
