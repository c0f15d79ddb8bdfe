//! The loop's watch on the media thread. A job that does not return (a camera or sound card
//! driver that hangs in open or a state change) shows in `status` after [`MEDIA_SLOW`]; a leg
//! whose media it was starting ends after [`MEDIA_STUCK`] with the reason, so the call does
//! not look connected while nothing flows; after [`WATCHDOG_GIVE_UP`] the loop stops feeding
//! systemd's watchdog, which restarts the service (the only way past a hung driver).

use std::time::{Duration, Instant};

use super::Room;
use crate::meeting::Input;

pub(super) const MEDIA_SLOW: Duration = Duration::from_secs(3);
pub(super) const MEDIA_STUCK: Duration = Duration::from_secs(10);
pub(super) const WATCHDOG_GIVE_UP: Duration = Duration::from_secs(120);
/// How long shutdown waits for the media thread to release the devices.
pub(super) const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

impl Room {
    pub(super) fn check_media_thread(&mut self) {
        let Some(busy) = self.engine.newly_stuck(MEDIA_STUCK) else { return };
        tracing::error!(
            job = busy.what,
            "the media thread has not returned for {} s: a device driver hangs? SIP and control keep working",
            MEDIA_STUCK.as_secs()
        );
        if let Some(leg) = busy.leg {
            let reason = format!(
                "media did not start within {} s: a device (camera or sound card) does not answer",
                MEDIA_STUCK.as_secs()
            );
            self.core.handle_input(Instant::now(), Input::MediaFailed { leg, reason });
        }
    }

    pub(super) fn pet_watchdog(&self) {
        match self.engine.busy() {
            Some(busy) if busy.since.elapsed() >= WATCHDOG_GIVE_UP => tracing::error!(
                job = busy.what,
                "the media thread is stuck for {} s: no more watchdog pings, systemd restarts roombox",
                busy.since.elapsed().as_secs()
            ),
            _ => drop(sd_notify::notify(&[sd_notify::NotifyState::Watchdog])),
        }
    }
}
