//! The panel on a Raspberry Pi through `rppal` (cargo feature `rppal`): the same button as the
//! gpiocdev backend, and an LED dimmed by software PWM (`led_brightness_percent`).

use rppal::gpio::{Gpio, InputPin, Level, OutputPin, Trigger};
use tokio::sync::mpsc;

use super::PanelError;
use super::driver::{ButtonLine, LedLine};

fn gpio_error(what: &'static str, line: u32) -> impl Fn(rppal::gpio::Error) -> PanelError {
    move |e| PanelError::Line { what, chip: "rppal".into(), line, message: e.to_string() }
}

pub struct RppalButton {
    pin: InputPin,
    active_low: bool,
    edges: mpsc::UnboundedReceiver<bool>,
}

impl RppalButton {
    pub fn open(line: u32, active_low: bool) -> Result<Self, PanelError> {
        let error = gpio_error("button", line);
        let gpio = Gpio::new().map_err(&error)?;
        let pin = gpio.get(u8::try_from(line).unwrap_or(u8::MAX)).map_err(&error)?;
        let mut pin = if active_low { pin.into_input_pullup() } else { pin.into_input_pulldown() };
        let (tx, edges) = mpsc::unbounded_channel();
        pin.set_async_interrupt(Trigger::Both, None, move |event| {
            let high = event.trigger == Trigger::RisingEdge;
            let _ = tx.send(high != active_low);
        })
        .map_err(&error)?;
        Ok(Self { pin, active_low, edges })
    }
}

impl ButtonLine for RppalButton {
    fn pressed(&mut self) -> Result<bool, PanelError> {
        Ok((self.pin.read() == Level::High) != self.active_low)
    }
    async fn next_edge(&mut self) -> Result<bool, PanelError> {
        self.edges.recv().await.ok_or_else(|| PanelError::Io("the rppal interrupt thread stopped".into()))
    }
}

pub struct RppalLed {
    pin: OutputPin,
    duty: f64,
}

impl RppalLed {
    pub fn open(line: u32, brightness_percent: u32) -> Result<Self, PanelError> {
        let error = gpio_error("LED", line);
        let pin = Gpio::new().map_err(&error)?.get(u8::try_from(line).unwrap_or(u8::MAX)).map_err(&error)?;
        Ok(Self { pin: pin.into_output_low(), duty: f64::from(brightness_percent.clamp(1, 100)) / 100.0 })
    }
}

impl LedLine for RppalLed {
    fn set(&mut self, lit: bool) -> Result<(), PanelError> {
        let result = match (lit, self.duty >= 1.0) {
            (true, true) => {
                self.pin.set_high();
                Ok(())
            }
            (true, false) => self.pin.set_pwm_frequency(200.0, self.duty),
            (false, _) => self.pin.clear_pwm().map(|()| self.pin.set_low()),
        };
        result.map_err(|e| PanelError::Io(e.to_string()))
    }
}
