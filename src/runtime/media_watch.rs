//! The loop's watch on the media thread. A job that does not return (a camera or sound card
//! driver that hangs in open or a state change) shows in `status` after [`MEDIA_SLOW`]; the
//! core hears how long a leg's media has been starting and ends the leg after its
//! `media_start_timeout`, so the call does not look connected while nothing flows (the loop
//! logs the stuck job once then too); after [`WATCHDOG_GIVE_UP`] the loop stops feeding
//! systemd's watchdog, which restarts the service (the only way past a hung driver).

use std::time::{Duration, Instant};

use super::Room;
use crate::meeting::Input;

pub(super) const MEDIA_SLOW: Duration = Duration::from_secs(3);
pub(super) const WATCHDOG_GIVE_UP: Duration = Duration::from_secs(120);
/// How long shutdown waits for the media thread to release the devices.
pub(super) const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

impl Room {
    pub(super) fn check_media_thread(&mut self) {
        // The core decides when a leg whose media does not start has waited long enough.
        if let Some(busy) = self.engine.busy()
            && let Some(leg) = busy.leg
        {
            self.core.handle_input(Instant::now(), Input::MediaStuck { leg, stuck_for: busy.since.elapsed() });
        }
        let stuck = self.config.timing().media_start_timeout;
        let Some(busy) = self.engine.newly_stuck(stuck) else { return };
        tracing::error!(
            job = busy.what,
            "the media thread has not returned for {} s: a device driver hangs? SIP and control keep working",
            stuck.as_secs()
        );
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
