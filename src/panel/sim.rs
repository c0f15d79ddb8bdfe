//! The simulated panel: no hardware; its button is `roombox ctl press` / `long-press` (routed
//! by the runtime) and its LED is whatever the core last asked for, reported by `ctl status`.

use super::Panel;
use crate::call::LedPattern;

#[derive(Debug)]
pub struct SimPanel {
    led: LedPattern,
}

impl Default for SimPanel {
    fn default() -> Self {
        Self { led: LedPattern::Off }
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
    fn backend(&self) -> &'static str {
        "sim"
    }
}
