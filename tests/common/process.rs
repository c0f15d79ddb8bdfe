//! Stopping the processes a test or benchmark started.

use std::process::Child;
use std::time::{Duration, Instant};

/// Gives a process asked to stop `grace` to exit, then kills it.
pub fn wait_or_kill(child: &mut Child, grace: Duration) {
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}
