//! The media thread: the room's GStreamer work (pipeline builds and teardowns, state changes,
//! camera opens and re-scans, ALSA mixer calls) runs on a thread of its own, in order, so a
//! driver that hangs stalls only the media. The event loop sends jobs and never waits for one:
//! SIP, the control socket and the watchdog keep answering. What `status` shows comes from the
//! figures the thread leaves after each job; a job that does not return is reported as
//! [`Busy`], with its leg, so the call it was starting can be ended with a clear reason.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use super::engine::Engine;
use super::sockets::BoundSockets;
use super::{MediaError, MediaEvent, MediaPlan, MediaStats, gst, latency};
use crate::meeting::LegId;
use crate::sdp::{LocalMedia, Negotiated};

/// A job the media thread has been in for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    pub what: &'static str,
    /// The leg the job is for (starting its media), if it is for one.
    pub leg: Option<LegId>,
    pub since: Instant,
}

struct Job {
    what: &'static str,
    leg: Option<LegId>,
    run: Box<dyn FnOnce(&mut Engine) + Send>,
}

/// What the media thread leaves for the loop to read.
#[derive(Default)]
struct Shared {
    stats: Mutex<Vec<(LegId, MediaStats)>>,
    idle: Mutex<Vec<(LegId, Duration)>>,
    mixer: Mutex<String>,
    busy: Mutex<Option<Busy>>,
    /// The busy job was already reported as stuck.
    reported: AtomicBool,
    tick_queued: AtomicBool,
}

/// The loop's handle on the media thread. Dropping it lets the thread finish its jobs and
/// release the devices.
pub struct MediaWorker {
    jobs: mpsc::Sender<Job>,
    shared: Arc<Shared>,
    plan: MediaPlan,
    /// Each leg's sockets from `prepare` until `start`.
    prepared: HashMap<LegId, BoundSockets>,
    events: UnboundedSender<MediaEvent>,
    done: Option<std::sync::mpsc::Receiver<()>>,
}

impl MediaWorker {
    /// Starts the media thread for `plan` (a real screen shows the idle screen at once).
    pub fn spawn(plan: MediaPlan, events: UnboundedSender<MediaEvent>) -> Result<Self, MediaError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (finished, done) = mpsc::channel();
        let shared = Arc::new(Shared::default());
        let (thread_plan, thread_events, thread_shared) = (plan.clone(), events.clone(), shared.clone());
        std::thread::Builder::new()
            .name("roombox-media".into())
            .spawn(move || {
                // The idle screen first; then the SRTP plugin loads before any call's start.
                let guests = thread_plan.guests;
                let mut engine = Engine::new(thread_plan, thread_events);
                super::srtp::warm_up();
                if guests {
                    super::webrtc_negotiate::warm_up();
                }
                for job in queue {
                    if let Ok(mut busy) = thread_shared.busy.lock() {
                        *busy = Some(Busy { what: job.what, leg: job.leg, since: Instant::now() });
                    }
                    thread_shared.reported.store(false, Ordering::Relaxed);
                    (job.run)(&mut engine);
                    leave_figures(&engine, &thread_shared);
                    if let Ok(mut busy) = thread_shared.busy.lock() {
                        *busy = None;
                    }
                }
                drop(engine);
                let _ = finished.send(());
            })
            .map_err(|e| MediaError::Internal(format!("no media thread: {e}")))?;
        Ok(Self { jobs, shared, plan, prepared: HashMap::new(), events, done: Some(done) })
    }

    fn send(&self, what: &'static str, leg: Option<LegId>, run: impl FnOnce(&mut Engine) + Send + 'static) {
        if self.jobs.send(Job { what, leg, run: Box::new(run) }).is_err() {
            tracing::error!(job = what, "the media thread is gone");
        }
    }

    pub fn plan(&self) -> &MediaPlan {
        &self.plan
    }

    /// Takes a reloaded plan between meetings (the idle screen's notes carry over).
    pub fn replan(&mut self, mut plan: MediaPlan) {
        plan.idle_notes = self.plan.idle_notes.clone();
        self.plan = plan.clone();
        self.send("replan", None, move |engine| engine.replan(plan));
    }

    /// New lines under the idle screen's call to action (the box's address, a problem).
    pub fn set_idle_notes(&mut self, notes: Vec<String>) {
        self.plan.idle_notes = notes.clone();
        self.send("idle notes", None, move |engine| engine.set_idle_notes(notes));
    }

    /// Binds the leg's ports towards `peer` (on the loop: a bind never waits on a driver).
    pub fn prepare(&mut self, leg: LegId, peer: SocketAddr) -> Result<LocalMedia, MediaError> {
        let sockets = BoundSockets::bind(peer)?;
        let local = sockets.local;
        self.prepared.insert(leg, sockets);
        Ok(local)
    }

    /// Links the leg into the room's media; a failure comes back as [`MediaEvent::Failed`].
    pub fn start(&mut self, leg: LegId, name: &str, negotiated: &Negotiated, muted: bool) {
        let Some(sockets) = self.prepared.remove(&leg) else {
            let reason = format!("{leg} has no prepared ports");
            let _ = self.events.send(MediaEvent::Failed { leg: Some(leg), reason });
            return;
        };
        let (name, negotiated, events) = (name.to_owned(), negotiated.clone(), self.events.clone());
        self.send("start", Some(leg), move |engine| {
            if let Err(e) = engine.start(leg, &name, &negotiated, muted, sockets) {
                let _ = events.send(MediaEvent::Failed { leg: Some(leg), reason: e.to_string() });
            }
        });
    }

    /// Answers a browser guest's offer and links its leg into the room's media. The answer
    /// (or why there is none) goes to `reply` as soon as it is made; a failure, before or
    /// after, also comes back as [`MediaEvent::Failed`], so the core ends the leg.
    pub fn start_guest(
        &mut self,
        leg: LegId,
        name: &str,
        offer: String,
        muted: bool,
        reply: oneshot::Sender<Result<String, MediaError>>,
    ) {
        let (name, events) = (name.to_owned(), self.events.clone());
        self.send("start guest", Some(leg), move |engine| {
            let reply = std::cell::Cell::new(Some(reply));
            let answered = |answer| {
                if let Some(reply) = reply.take() {
                    let _ = reply.send(Ok(answer));
                }
            };
            if let Err(e) = engine.start_guest(leg, &name, &offer, muted, answered) {
                let _ = events.send(MediaEvent::Failed { leg: Some(leg), reason: e.to_string() });
                // Not answered yet: the page hears why; answered: the leg ends like any other.
                if let Some(reply) = reply.take() {
                    let _ = reply.send(Err(e));
                }
            }
        });
    }

    /// Unlinks the leg and closes its sockets; the last leg closes the devices. Idempotent.
    pub fn release(&mut self, leg: LegId) {
        self.prepared.remove(&leg);
        self.send("release", None, move |engine| engine.release(leg));
    }

    pub fn set_mute(&self, muted: bool) {
        self.send("mute", None, move |engine| engine.set_mute(muted));
    }

    /// Periodic upkeep; skipped while the last one waits in the queue.
    pub fn tick(&self) {
        if !self.shared.tick_queued.swap(true, Ordering::Relaxed) {
            let shared = self.shared.clone();
            self.send("tick", None, move |engine| {
                shared.tick_queued.store(false, Ordering::Relaxed);
                engine.tick();
            });
        }
    }

    pub fn camera_lost(&self, reason: &str) {
        let reason = reason.to_owned();
        self.send("camera lost", None, move |engine| engine.camera_lost(&reason));
    }

    pub fn recalculate_latency(&self) {
        self.send("latency", None, |engine| engine.recalculate_latency());
    }

    /// Each leg's figures, as the media thread last left them.
    pub fn stats(&self) -> Vec<(LegId, MediaStats)> {
        self.shared.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn idle_legs(&self) -> Vec<(LegId, Duration)> {
        self.shared.idle.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn mixer(&self) -> String {
        self.shared.mixer.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The job the media thread is in, if any.
    pub fn busy(&self) -> Option<Busy> {
        self.shared.busy.lock().ok().and_then(|b| b.clone())
    }

    /// The busy job, once, when it has run longer than `after`.
    pub fn newly_stuck(&self, after: Duration) -> Option<Busy> {
        let busy = self.busy().filter(|b| b.since.elapsed() >= after)?;
        (!self.shared.reported.swap(true, Ordering::Relaxed)).then_some(busy)
    }

    /// The latency samples, when the media thread gets to it.
    pub fn latency_samples(&self) -> oneshot::Receiver<Option<latency::LatencySamples>> {
        let (tx, rx) = oneshot::channel();
        self.send("latency samples", None, move |engine| drop(tx.send(engine.latency_samples())));
        rx
    }

    /// The frame on screen, when the media thread gets to it.
    pub fn snapshot_sample(&self) -> oneshot::Receiver<Option<gst::Sample>> {
        let (tx, rx) = oneshot::channel();
        self.send("snapshot", None, move |engine| drop(tx.send(engine.snapshot_sample())));
        rx
    }

    /// Lets the media thread finish its jobs (the BYE's release among them) for up to
    /// `timeout`; a thread stuck in a driver is left behind.
    pub fn finish(mut self, timeout: Duration) -> bool {
        let done = self.done.take();
        drop(self);
        done.is_some_and(|d| d.recv_timeout(timeout).is_ok())
    }
}

fn leave_figures(engine: &Engine, shared: &Shared) {
    if let Ok(mut stats) = shared.stats.lock() {
        *stats = engine.stats();
    }
    if let Ok(mut idle) = shared.idle.lock() {
        *idle = engine.idle_legs();
    }
    if let Ok(mut mixer) = shared.mixer.lock() {
        mixer.clear();
        mixer.push_str(engine.mixer());
    }
}
