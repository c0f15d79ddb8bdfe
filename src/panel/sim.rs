//! The simulated panel: no hardware; its button is `roombox ctl press` / `long-press` (routed
//! by the runtime) and its LED is whatever the core last asked for, reported by `ctl status`.

use super::Panel;
use crate::meeting::LedPattern;

#[derive(Debug)]
pub struct SimPanel {
    led: LedPattern,
    /// Why the configured hardware panel is not in use, if it is not.
    fault: Option<String>,
}

impl Default for SimPanel {
    fn default() -> Self {
        Self { led: LedPattern::Off, fault: None }
    }
}

impl SimPanel {
    /// Stands in for a hardware panel that could not be opened.
    pub fn unavailable(fault: String) -> Self {
        Self { led: LedPattern::Off, fault: Some(fault) }
    }
}

impl Panel for SimPanel {
    fn show(&mut self, led: LedPattern) {
        if led != self.led {
            tracing::debug!(?led, "sim panel LED");
        }
        self.led = led;
    }
    fn led(&self) -> LedPattern {
        self.led
    }
    fn backend(&self) -> String {
        match &self.fault {
            Some(fault) => format!("sim (hardware panel unavailable: {fault})"),
            None => "sim".into(),
        }
    }
}
