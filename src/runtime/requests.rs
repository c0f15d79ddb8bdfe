//! Control requests and the status the loop answers them with. Nothing here waits on the
//! media thread: figures come from what it last left, and a snapshot or latency samples are
//! awaited by a task of their own.

use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::Room;
use crate::control::{LegMedia, Request, Response, Status};
use crate::media;
use crate::meeting::{Command, Gesture, Input};

/// How long a snapshot or the latency samples may take before the request fails.
const MEDIA_ANSWER: Duration = Duration::from_secs(3);

impl Room {
    pub(super) fn on_control(&mut self, request: Request, reply: oneshot::Sender<Response>) {
        let now = Instant::now();
        let input = match request {
            Request::Press => Some(Input::Button(Gesture::ShortPress)),
            Request::LongPress => Some(Input::Button(Gesture::LongPress)),
            Request::Join => Some(Input::Command(Command::Join)),
            Request::Leave { peer: None } => Some(Input::Command(Command::Leave)),
            Request::Leave { peer: Some(place) } => match self.core.find_place(&place) {
                Some(leg) => Some(Input::Command(Command::Drop(leg))),
                None => {
                    let places: Vec<String> = self.core.status(now).legs.iter().map(|l| l.peer.clone()).collect();
                    let places = if places.is_empty() { "none: the room is idle".into() } else { places.join(", ") };
                    let _ =
                        reply.send(Response::error(format!("no place \"{place}\" in the meeting (places: {places})")));
                    return;
                }
            },
            Request::Mute => Some(Input::Command(Command::Mute)),
            Request::Unmute => Some(Input::Command(Command::Unmute)),
            Request::Status => None,
            Request::Snapshot => return self.snapshot(reply),
            Request::GuestLink => {
                let _ = reply.send(match self.guest_link() {
                    Some(link) => Response { ok: true, guest_link: Some(link), ..Response::default() },
                    None => Response::error(
                        "guests are not enabled in this room: set [guests] enabled = true and a pin in roombox.toml, \
                         then reload (systemctl reload roombox)",
                    ),
                });
                return;
            }
            Request::Latency => {
                let (samples, status) = (self.engine.latency_samples(), self.status(now));
                tokio::spawn(async move {
                    let samples = tokio::time::timeout(MEDIA_ANSWER, samples).await.ok().and_then(Result::ok).flatten();
                    let _ = reply.send(Response { latency: samples, ..Response::status(status) });
                });
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
        let meeting = self.core.status(now);
        let mut stats = self.engine.stats();
        stats.retain(|(leg, _)| meeting.legs.iter().any(|l| l.id == *leg));
        Status {
            meeting,
            panel: format!("{} (LED {:?})", self.panel.backend(), self.panel.led()),
            sip: self.sip_addr.to_string(),
            encoder: plan.encoder.element.clone(),
            encoder_reason: plan.encoder.reason.clone(),
            video_source: plan.video_source.description.clone(),
            audio_source: plan.audio_source.description.clone(),
            display: plan.display.description.clone(),
            mixer: self.engine.mixer(),
            media_busy: self.engine.busy().filter(|b| b.since.elapsed() >= super::media_watch::MEDIA_SLOW).map(|b| {
                format!(
                    "stuck for {} s in \"{}\" (a device driver does not answer; SIP and control still work; \
                     restart roombox if it stays)",
                    b.since.elapsed().as_secs(),
                    b.what
                )
            }),
            addresses: self.notes.addresses().iter().map(ToString::to_string).collect(),
            // The media thread's figures may still hold a leg the core has just ended.
            media: stats.into_iter().map(|(leg, stats)| LegMedia { leg, stats }).collect(),
        }
    }

    /// The frame comes from the media thread and PNG encoding runs off the loop; the reply
    /// goes straight back from there.
    fn snapshot(&self, reply: oneshot::Sender<Response>) {
        let frame = self.engine.snapshot_sample();
        let plan = self.engine.plan();
        let idle_plan = plan.clone();
        tokio::spawn(async move {
            let Ok(Ok(frame)) = tokio::time::timeout(MEDIA_ANSWER, frame).await else {
                let _ = reply.send(Response::error("the media thread did not answer: a device driver may hang"));
                return;
            };
            let png = tokio::task::spawn_blocking(move || match frame {
                Some(sample) => media::screen::sample_to_png(&sample),
                None => media::screen::idle_screen_png(
                    &media::screen::IdleText::of(&idle_plan),
                    idle_plan.width,
                    idle_plan.height,
                ),
            });
            let png = png.await.unwrap_or_else(|e| Err(media::MediaError::Snapshot(e.to_string())));
            let _ = reply.send(png.map_or_else(|e| Response::error(e.to_string()), |png| Response::png(&png)));
        });
    }
}
