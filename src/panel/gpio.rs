//! The panel on GPIO lines through the kernel's GPIO character device (crate `gpiocdev`): any
//! board. The button line is an input with a pull resistor and edge events (kernel debounce
//! where the chip supports it; the recogniser debounces anyway); the LED line is an output.

use std::path::PathBuf;
use std::time::Duration;

use gpiocdev::line::{Bias, EdgeDetection, EdgeKind, Value};
use gpiocdev::tokio::AsyncRequest;

use super::PanelError;
use super::driver::{ButtonLine, LedLine};

/// Finds a chip by device path (`/dev/gpiochip0`), name (`gpiochip0`) or label (`pinctrl-bcm2711`).
pub fn find_chip(chip: &str) -> Result<PathBuf, PanelError> {
    if chip.starts_with('/') {
        return if std::path::Path::new(chip).exists() {
            Ok(chip.into())
        } else {
            Err(PanelError::NoChip { chip: chip.into(), found: found_chips() })
        };
    }
    let paths = gpiocdev::chip::chips().unwrap_or_default();
    paths
        .into_iter()
        .find(|p| {
            gpiocdev::Chip::from_path(p)
                .and_then(|c| c.info())
                .is_ok_and(|info| info.label == chip || info.name == chip)
        })
        .ok_or_else(|| PanelError::NoChip { chip: chip.into(), found: found_chips() })
}

/// `gpiochip0 (pinctrl-bcm2711)`, … for error messages.
fn found_chips() -> String {
    let chips: Vec<String> = gpiocdev::chip::chips()
        .unwrap_or_default()
        .iter()
        .filter_map(|p| gpiocdev::Chip::from_path(p).and_then(|c| c.info()).ok())
        .map(|info| format!("{} ({})", info.name, info.label))
        .collect();
    if chips.is_empty() { "none".into() } else { chips.join(", ") }
}

pub struct GpioButton {
    request: AsyncRequest,
}

impl GpioButton {
    pub fn open(chip: &PathBuf, line: u32, active_low: bool) -> Result<Self, PanelError> {
        let request = |debounce: bool| {
            let mut builder = gpiocdev::Request::builder();
            builder.on_chip(chip).with_consumer("roombox-button").with_line(line).as_input();
            if active_low {
                builder.as_active_low().with_bias(Bias::PullUp);
            } else {
                builder.with_bias(Bias::PullDown);
            }
            builder.with_edge_detection(EdgeDetection::BothEdges);
            if debounce {
                builder.with_debounce_period(Duration::from_millis(5));
            }
            builder.request()
        };
        // Not every GPIO chip debounces in hardware or in its driver.
        let request = request(true).or_else(|_| request(false)).map_err(|e| PanelError::Line {
            what: "button",
            chip: chip.display().to_string(),
            line,
            message: e.to_string(),
        })?;
        Ok(Self { request: AsyncRequest::new(request) })
    }
}

impl ButtonLine for GpioButton {
    fn pressed(&mut self) -> Result<bool, PanelError> {
        let value = self.request.as_ref().lone_value().map_err(|e| PanelError::Io(e.to_string()))?;
        Ok(value == Value::Active)
    }
    async fn next_edge(&mut self) -> Result<bool, PanelError> {
        let event = self.request.read_edge_event().await.map_err(|e| PanelError::Io(e.to_string()))?;
        Ok(event.kind == EdgeKind::Rising)
    }
}

pub struct GpioLed {
    request: gpiocdev::Request,
}

impl GpioLed {
    pub fn open(chip: &PathBuf, line: u32) -> Result<Self, PanelError> {
        let request = gpiocdev::Request::builder()
            .on_chip(chip)
            .with_consumer("roombox-led")
            .with_line(line)
            .as_output(Value::Inactive)
            .request()
            .map_err(|e| PanelError::Line {
                what: "LED",
                chip: chip.display().to_string(),
                line,
                message: e.to_string(),
            })?;
        Ok(Self { request })
    }
}

impl LedLine for GpioLed {
    fn set(&mut self, lit: bool) -> Result<(), PanelError> {
        let value = if lit { Value::Active } else { Value::Inactive };
        self.request.set_lone_value(value).map_err(|e| PanelError::Io(e.to_string()))
    }
}
