//! Drives a hardware panel: one task turns the button line's edges into gestures through the
//! pure [`Recognizer`], another blinks the LED line by the pure [`LedTiming`]. The lines are
//! traits so the same glue runs on gpiocdev, rppal, or in-memory lines in tests.

use std::future::Future;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::gesture::{GestureTiming, Recognizer};
use super::led::LedTiming;
use super::{Panel, PanelError};
use crate::meeting::{Gesture, LedPattern};

/// The button's line: its level (true = pressed, active-low already applied) and its edges.
pub trait ButtonLine: Send + 'static {
    fn pressed(&mut self) -> Result<bool, PanelError>;
    /// Waits for the next edge and returns the new level.
    fn next_edge(&mut self) -> impl Future<Output = Result<bool, PanelError>> + Send;
}

/// The LED's line.
pub trait LedLine: Send + 'static {
    fn set(&mut self, lit: bool) -> Result<(), PanelError>;
}

/// A panel whose lines are served by two tasks; dropping it stops them.
pub struct DrivenPanel {
    name: String,
    led: LedPattern,
    led_tx: watch::Sender<LedPattern>,
    tasks: Vec<JoinHandle<()>>,
}

impl DrivenPanel {
    pub fn start(
        name: String,
        mut button: impl ButtonLine,
        led: impl LedLine,
        timing: GestureTiming,
        gestures: mpsc::Sender<Gesture>,
    ) -> Result<Self, PanelError> {
        let held_at_boot = button.pressed()?;
        if held_at_boot {
            tracing::warn!("the panel button is held down at start: it is ignored until released");
        }
        let recognizer = Recognizer::new(timing, Instant::now().into_std(), held_at_boot);
        let (led_tx, led_rx) = watch::channel(LedPattern::Off);
        let tasks =
            vec![tokio::spawn(serve_button(button, recognizer, gestures)), tokio::spawn(serve_led(led, led_rx))];
        Ok(Self { name, led: LedPattern::Off, led_tx, tasks })
    }
}

impl Drop for DrivenPanel {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

impl Panel for DrivenPanel {
    fn show(&mut self, led: LedPattern) {
        self.led = led;
        self.led_tx.send_replace(led);
    }
    fn led(&self) -> LedPattern {
        self.led
    }
    fn backend(&self) -> String {
        self.name.clone()
    }
}

async fn serve_button(mut button: impl ButtonLine, mut recognizer: Recognizer, gestures: mpsc::Sender<Gesture>) {
    let mut storming = false;
    loop {
        let deadline = recognizer.next_deadline().map(Instant::from_std);
        let gesture = tokio::select! {
            edge = button.next_edge() => match edge {
                Ok(level) => recognizer.on_edge(Instant::now().into_std(), level),
                Err(e) => {
                    tracing::error!("panel button stopped: {e} (the room still answers `roombox ctl press`)");
                    return;
                }
            },
            () = sleep_until(deadline), if deadline.is_some() => recognizer.poll(Instant::now().into_std()),
        };
        if recognizer.storming() != storming {
            storming = recognizer.storming();
            if storming {
                tracing::warn!("the panel button line is bouncing wildly (loose wire?): ignored until it settles");
            } else {
                tracing::info!("the panel button line has settled");
            }
        }
        if let Some(gesture) = gesture
            && gestures.send(gesture).await.is_err()
        {
            return;
        }
    }
}

async fn serve_led(mut led: impl LedLine, mut patterns: watch::Receiver<LedPattern>) {
    let mut timing = LedTiming { pattern: *patterns.borrow_and_update(), since: Instant::now().into_std() };
    let mut lit = None;
    loop {
        let now = Instant::now().into_std();
        let want = timing.lit(now);
        if lit != Some(want) {
            if let Err(e) = led.set(want) {
                tracing::error!("panel LED: {e}");
            }
            lit = Some(want);
        }
        let next = timing.next_change(now).map(Instant::from_std);
        tokio::select! {
            changed = patterns.changed() => {
                if changed.is_err() {
                    return;
                }
                let pattern = *patterns.borrow_and_update();
                if pattern != timing.pattern {
                    timing = LedTiming { pattern, since: Instant::now().into_std() };
                }
            }
            () = sleep_until(next), if next.is_some() => {}
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    tokio::time::sleep_until(deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))).await;
}

#[cfg(test)]
#[path = "driver_tests.rs"]
mod tests;
