//! The event loop: waits on the SIP socket, the control socket, media events and the core's
//! next deadline in one `select!`, feeds the core, and carries its outputs to the adapters.
//! It moves data and never decides; shutdown is a future passed in.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::call::{Command, Core, CoreConfig, Gesture, Input, Level, Output};
use crate::config::Config;
use crate::control::{self, Pending, Request, Response, Status};
use crate::media::{self, Engine, MediaEvent, MediaPlan};
use crate::panel::{self, Panel};
use crate::sdp::Capabilities;
use crate::sip::SipMessage;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("GStreamer could not start: {0}")]
    Gstreamer(String),
    #[error(transparent)]
    Media(#[from] media::MediaError),
    #[error("cannot listen for SIP on {addr}: {source}{hint}")]
    SipBind { addr: SocketAddr, source: std::io::Error, hint: &'static str },
    #[error(transparent)]
    Control(#[from] control::ControlError),
}

/// A room, up and listening: what `run` reports once it is ready.
#[derive(Debug, Clone)]
pub struct Ready {
    pub sip: SocketAddr,
}

struct Room {
    core: Core,
    engine: Engine,
    panel: Box<dyn Panel>,
    sip: UdpSocket,
    sip_addr: SocketAddr,
}

/// Runs one room until `shutdown` completes. `on_ready` is called once sockets are up.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()>,
    on_ready: impl FnOnce(&Ready),
) -> Result<(), RuntimeError> {
    gstreamer::init().map_err(|e| RuntimeError::Gstreamer(e.to_string()))?;
    let plan = MediaPlan::resolve(&config, &media::probe::detect())?;
    media::check_plan(&plan)?;
    log_plan(&plan);
    let sip = UdpSocket::bind(config.sip.listen).await.map_err(|source| RuntimeError::SipBind {
        addr: config.sip.listen,
        hint: if source.kind() == std::io::ErrorKind::AddrInUse {
            " (another program uses this port: change [sip] listen)"
        } else {
            ""
        },
        source,
    })?;
    let sip_addr =
        sip.local_addr().map_err(|source| RuntimeError::SipBind { addr: config.sip.listen, source, hint: "" })?;
    let (media_tx, mut media_rx) = mpsc::unbounded_channel();
    let (control_tx, mut control_rx) = mpsc::channel::<Pending>(16);
    let control_task = control::serve(&config.control.socket, control_tx).await?;
    let core_config = CoreConfig {
        room: config.room.name.clone(),
        sip_port: sip_addr.port(),
        peers: config.call.peers.iter().map(|p| p.0.clone()).collect(),
        allow: config.allow_list(),
        auto_answer: config.call.auto_answer,
        caps: Capabilities::default(),
        timing: config.timing(),
        seed: entropy(),
    };
    let (gesture_tx, mut gesture_rx) = mpsc::channel(8);
    let panel = panel::open(&config.panel, gesture_tx).unwrap_or_else(|e| {
        tracing::error!("panel: {e}. The room runs without its button; `roombox ctl press` still works");
        Box::new(panel::sim::SimPanel::unavailable(e.to_string()))
    });
    let mut room = Room {
        core: Core::new(core_config, Instant::now()),
        engine: Engine::new(plan, media_tx),
        panel,
        sip,
        sip_addr,
    };
    tracing::info!(room = %config.room.name, sip = %sip_addr, control = %config.control.socket.display(), "room ready: press the button to join");
    on_ready(&Ready { sip: sip_addr });

    tokio::pin!(shutdown);
    let mut buf = vec![0u8; 65536];
    let mut adapt = tokio::time::interval(std::time::Duration::from_millis(250));
    adapt.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        room.drain().await;
        let deadline = room.core.poll_timeout();
        let sleep = tokio::time::sleep_until(deadline.map_or_else(far_future, tokio::time::Instant::from_std));
        tokio::select! {
            () = &mut shutdown => break,
            received = room.sip.recv_from(&mut buf) => match received {
                Ok((n, from)) => match SipMessage::parse(&buf[..n]) {
                    Ok(message) => room.core.handle_input(Instant::now(), Input::SipReceived { from, message }),
                    Err(e) => tracing::warn!(%from, bytes = n, "dropped a malformed SIP datagram: {e}"),
                },
                Err(e) => tracing::warn!("SIP socket: {e}"),
            },
            Some(event) = media_rx.recv() => match event {
                MediaEvent::Failed { call, reason } => room.core.handle_input(Instant::now(), Input::MediaFailed { call, reason }),
                MediaEvent::LatencyChanged { call } => room.engine.recalculate_latency(call),
                MediaEvent::CameraLost { call, reason } => room.engine.camera_lost(call, &reason),
            },
            Some((request, reply)) = control_rx.recv() => room.on_control(request, reply),
            Some(gesture) = gesture_rx.recv() => {
                tracing::info!(?gesture, "panel button");
                room.core.handle_input(Instant::now(), Input::Button(gesture));
            }
            () = sleep, if deadline.is_some() => room.core.handle_timeout(Instant::now()),
            _ = adapt.tick() => room.engine.tick(),
        }
    }
    // Leave politely: a BYE to the peer, then release everything.
    room.core.handle_input(Instant::now(), Input::Command(Command::Leave));
    room.drain().await;
    control_task.abort();
    let _ = std::fs::remove_file(&config.control.socket);
    tracing::info!(room = %config.room.name, "room stopped");
    Ok(())
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
    /// Carries every pending core output to its adapter; adapters may answer with inputs.
    async fn drain(&mut self) {
        while let Some(output) = self.core.poll_output() {
            let now = Instant::now();
            match output {
                Output::SendSip { to, message } => {
                    if let Err(e) = self.sip.send_to(message.to_string().as_bytes(), to).await {
                        tracing::warn!(%to, "could not send SIP: {e}");
                    }
                }
                Output::PrepareMedia { call, peer } => match self.engine.prepare(call, peer) {
                    Ok(local) => self.core.handle_input(now, Input::MediaPrepared { call, local }),
                    Err(e) => self.core.handle_input(now, Input::MediaPrepareFailed { call, reason: e.to_string() }),
                },
                Output::StartMedia { call, negotiated, muted, .. } => {
                    if let Err(e) = self.engine.start(call, &negotiated, muted) {
                        self.core.handle_input(now, Input::MediaFailed { call, reason: e.to_string() });
                    }
                }
                Output::ReleaseMedia { call } => self.engine.release(call),
                Output::SetMute(muted) => self.engine.set_mute(muted),
                Output::Led(led) => self.panel.show(led),
                Output::Log { level: Level::Info, message } => tracing::info!(state = ?self.core.state(), "{message}"),
                Output::Log { level: Level::Warn, message } => tracing::warn!(state = ?self.core.state(), "{message}"),
            }
        }
    }

    fn on_control(&mut self, request: Request, reply: oneshot::Sender<Response>) {
        let now = Instant::now();
        let input = match request {
            Request::Press => Some(Input::Button(Gesture::ShortPress)),
            Request::LongPress => Some(Input::Button(Gesture::LongPress)),
            Request::Join => Some(Input::Command(Command::Join)),
            Request::Leave => Some(Input::Command(Command::Leave)),
            Request::Mute => Some(Input::Command(Command::Mute)),
            Request::Unmute => Some(Input::Command(Command::Unmute)),
            Request::Status => None,
            Request::Snapshot => return self.snapshot(reply),
            Request::Latency => {
                let samples = self.engine.latency_samples();
                let response = Response { latency: samples, ..Response::status(self.status(now)) };
                let _ = reply.send(response);
                return;
            }
        };
        if let Some(input) = input {
            self.core.handle_input(now, input);
        }
        let _ = reply.send(Response::status(self.status(now)));
    }

    fn status(&self, now: Instant) -> Status {
        let plan = self.engine.plan();
        Status {
            call: self.core.status(now),
            panel: format!("{} (LED {:?})", self.panel.backend(), self.panel.led()),
            sip: self.sip_addr.to_string(),
            encoder: plan.encoder.element.clone(),
            encoder_reason: plan.encoder.reason.clone(),
            video_source: plan.video_source.description.clone(),
            audio_source: plan.audio_source.description.clone(),
            display: plan.display.description.clone(),
            mixer: self.engine.mixer().to_owned(),
            media: self.engine.stats(),
        }
    }

    /// PNG encoding runs off the loop; the reply goes straight back from there.
    fn snapshot(&self, reply: oneshot::Sender<Response>) {
        let frame = self.engine.snapshot_sample();
        let plan = self.engine.plan();
        let (room, width, height) = (plan.room.clone(), plan.width, plan.height);
        tokio::task::spawn_blocking(move || {
            let png = match frame {
                Some(sample) => media::screen::sample_to_png(&sample),
                None => media::screen::idle_screen_png(&room, width, height),
            };
            let _ = reply.send(png.map_or_else(|e| Response::error(e.to_string()), |png| Response::png(&png)));
        });
    }
}
