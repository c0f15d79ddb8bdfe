//! The front panel: one button and one LED. Adapters show the LED pattern the core asks for
//! and turn button activity into gestures, sent to the event loop.
//!
//! - `sim.rs`: no hardware; the button is `roombox ctl press`.
//! - `driver.rs`: the glue for hardware lines (button task, LED task).
//! - `gpio.rs`: lines through the GPIO character device (gpiocdev), any board.
//! - `rpi.rs`: lines through `rppal` on a Raspberry Pi (feature `rppal`), with a dimmable LED.
//! - `gesture.rs`, `led.rs`: debounced gestures and blink timing (pure).

pub mod driver;
pub mod gesture;
pub mod gpio;
pub mod led;
#[cfg(feature = "rppal")]
pub mod rpi;
pub mod sim;

use std::time::Duration;

use tokio::sync::mpsc;

use crate::config::{PanelBackend, PanelConfig};
use crate::meeting::{Gesture, LedPattern};

#[derive(Debug, thiserror::Error)]
pub enum PanelError {
    #[error("GPIO chip \"{chip}\" not found (this machine has: {found}): check [panel] chip or the board profile")]
    NoChip { chip: String, found: String },
    #[error(
        "cannot use the {what} line {line} on {chip}: {message} (is the line number right, and is it free? `gpioinfo` shows who holds it; the roombox user needs the gpio group)"
    )]
    Line { what: &'static str, chip: String, line: u32, message: String },
    #[error("GPIO: {0}")]
    Io(String),
}

pub trait Panel: Send {
    /// Shows the pattern (the adapter owns the blink timing).
    fn show(&mut self, led: LedPattern);
    /// What the LED shows now.
    fn led(&self) -> LedPattern;
    /// Which backend, and its lines, for `status`.
    fn backend(&self) -> String;
}

/// The panel the config names. A hardware panel that cannot be opened is an error the caller
/// reports; the room then runs with the sim panel (`roombox ctl press` still works).
pub fn open(config: &PanelConfig, gestures: mpsc::Sender<Gesture>) -> Result<Box<dyn Panel>, PanelError> {
    let timing = gesture::GestureTiming {
        long_press: Duration::from_millis(u64::from(config.long_press_ms.0)),
        ..gesture::GestureTiming::default()
    };
    let lines = config.lines();
    let (button, led, active_low) = (lines.button, lines.led, lines.button_active_low);
    match config.backend {
        PanelBackend::Auto | PanelBackend::Sim => Ok(Box::new(sim::SimPanel::default())),
        PanelBackend::Gpio => {
            let chip = gpio::find_chip(lines.chip)?;
            let name = format!("gpio {} button {button} LED {led}", chip.display());
            let lines = (gpio::GpioButton::open(&chip, button, active_low)?, gpio::GpioLed::open(&chip, led)?);
            Ok(Box::new(driver::DrivenPanel::start(name, lines.0, lines.1, timing, gestures)?))
        }
        #[cfg(feature = "rppal")]
        PanelBackend::Rppal => {
            let name = format!("rppal button GPIO{button} LED GPIO{led}");
            let lines = (
                rpi::RppalButton::open(button, active_low)?,
                rpi::RppalLed::open(led, config.led_brightness_percent.0)?,
            );
            Ok(Box::new(driver::DrivenPanel::start(name, lines.0, lines.1, timing, gestures)?))
        }
        #[cfg(not(feature = "rppal"))]
        PanelBackend::Rppal => Err(PanelError::Io("this roombox was built without the rppal feature".into())),
    }
}
