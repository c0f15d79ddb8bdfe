//! The panel glue with in-memory lines on tokio's paused clock: what a person pressing the
//! button sees happen, and what the LED line does.

use std::sync::{Arc, Mutex};

use super::*;

struct FakeButton {
    level: bool,
    edges: mpsc::UnboundedReceiver<bool>,
}

impl ButtonLine for FakeButton {
    fn pressed(&mut self) -> Result<bool, PanelError> {
        Ok(self.level)
    }
    async fn next_edge(&mut self) -> Result<bool, PanelError> {
        match self.edges.recv().await {
            Some(level) => {
                self.level = level;
                Ok(level)
            }
            None => std::future::pending().await,
        }
    }
}

#[derive(Clone, Default)]
struct FakeLed(Arc<Mutex<Vec<(Duration, bool)>>>, Option<Instant>);

impl LedLine for FakeLed {
    fn set(&mut self, lit: bool) -> Result<(), PanelError> {
        let t0 = self.1.expect("start set");
        self.0.lock().unwrap().push((t0.elapsed(), lit));
        Ok(())
    }
}

struct Rig {
    press: mpsc::UnboundedSender<bool>,
    gestures: mpsc::Receiver<Gesture>,
    led: FakeLed,
    panel: DrivenPanel,
}

fn rig(held_at_boot: bool) -> Rig {
    let (press, edges) = mpsc::unbounded_channel();
    let (tx, gestures) = mpsc::channel(8);
    let led = FakeLed(Arc::default(), Some(Instant::now()));
    let button = FakeButton { level: held_at_boot, edges };
    let panel = DrivenPanel::start("test".into(), button, led.clone(), GestureTiming::default(), tx).unwrap();
    Rig { press, gestures, led, panel }
}

async fn wait(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[tokio::test(start_paused = true)]
async fn a_short_press_is_one_gesture_even_with_contact_bounce() {
    let mut r = rig(false);
    for level in [true, false, true] {
        r.press.send(level).unwrap();
        wait(2).await;
    }
    wait(200).await;
    r.press.send(false).unwrap();
    wait(100).await;
    assert_eq!(r.gestures.try_recv(), Ok(Gesture::ShortPress));
    assert!(r.gestures.try_recv().is_err(), "bounces make no extra presses");
}

#[tokio::test(start_paused = true)]
async fn holding_the_button_fires_a_long_press_while_still_held() {
    let mut r = rig(false);
    r.press.send(true).unwrap();
    wait(1400).await;
    assert!(r.gestures.try_recv().is_err(), "not yet long");
    wait(200).await;
    assert_eq!(r.gestures.try_recv(), Ok(Gesture::LongPress));
    r.press.send(false).unwrap();
    wait(100).await;
    assert!(r.gestures.try_recv().is_err(), "the release adds no short press");
}

#[tokio::test(start_paused = true)]
async fn a_button_held_at_boot_does_nothing_until_released_and_pressed_again() {
    let mut r = rig(true);
    wait(3000).await;
    r.press.send(false).unwrap();
    wait(100).await;
    assert!(r.gestures.try_recv().is_err());
    r.press.send(true).unwrap();
    wait(100).await;
    r.press.send(false).unwrap();
    wait(100).await;
    assert_eq!(r.gestures.try_recv(), Ok(Gesture::ShortPress));
}

#[tokio::test(start_paused = true)]
async fn the_led_line_blinks_at_one_hertz_while_calling_and_stays_lit_in_a_call() {
    let mut r = rig(false);
    wait(10).await;
    r.panel.show(LedPattern::SlowBlink);
    wait(2100).await;
    r.panel.show(LedPattern::Solid);
    wait(1000).await;
    let log = r.led.0.lock().unwrap().clone();
    let states: Vec<bool> = log.iter().map(|(_, lit)| *lit).collect();
    assert_eq!(states, vec![false, true, false, true, false, true], "{log:?}");
    let toggles: Vec<u128> = log.windows(2).take(5).skip(1).map(|w| (w[1].0 - w[0].0).as_millis()).collect();
    assert!(toggles.iter().all(|ms| (499..=501).contains(ms)), "half a second each: {toggles:?}");
    assert_eq!(r.panel.led(), LedPattern::Solid);
}
