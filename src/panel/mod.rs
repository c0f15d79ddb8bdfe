//! The front panel: one button and one LED. Adapters show the LED pattern the core asks for
//! and turn button activity into gestures. `sim` is driven by `roombox ctl press`; GPIO
//! boards plug in behind the same trait.
//!
//! - `gesture.rs`: debounced short/long presses from raw edges (pure).
//! - `led.rs`: blink timing of each LED pattern (pure).

pub mod gesture;
pub mod led;
pub mod sim;

use crate::call::LedPattern;
use crate::config::PanelBackend;

pub trait Panel: Send {
    /// Shows the pattern (the adapter owns the blink timing).
    fn show(&mut self, led: LedPattern);
    /// What the LED shows now.
    fn led(&self) -> LedPattern;
    fn backend(&self) -> &'static str;
}

/// The panel named in the config.
pub fn open(backend: PanelBackend) -> Box<dyn Panel> {
    match backend {
        PanelBackend::Sim => Box::new(sim::SimPanel::default()),
    }
}
