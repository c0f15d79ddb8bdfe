//! Button gestures from raw edges: debouncing, short and long presses, bounce storms and a
//! button held at boot. Pure: the GPIO adapter feeds edges with their instants and wakes the
//! recogniser at [`Recognizer::next_deadline`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::meeting::Gesture;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GestureTiming {
    /// The line must be stable this long before a level counts (contact bounce).
    pub debounce: Duration,
    /// Held this long, a press is a long press (it fires while still held).
    pub long_press: Duration,
    /// More raw edges than `storm_edges` within `storm_window` is a fault (loose wire,
    /// interference): the button is ignored until the line has been quiet for `storm_window`.
    pub storm_edges: usize,
    pub storm_window: Duration,
}

impl Default for GestureTiming {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(30),
            long_press: Duration::from_millis(1500),
            storm_edges: 40,
            storm_window: Duration::from_secs(2),
        }
    }
}

#[derive(Debug)]
pub struct Recognizer {
    timing: GestureTiming,
    /// The last raw level seen (true = pressed) and when it became so.
    raw: (bool, Instant),
    /// The debounced level.
    stable: bool,
    /// When the current debounced press started, and whether it already fired a long press.
    down: Option<(Instant, bool)>,
    /// Ignore the button until it is released (held at boot, or after a storm).
    ignore_until_released: bool,
    recent_edges: VecDeque<Instant>,
    storm_until: Option<Instant>,
}

impl Recognizer {
    /// `pressed_now` is the line's level at start: a button held at boot gives no gesture.
    pub fn new(timing: GestureTiming, now: Instant, pressed_now: bool) -> Self {
        Self {
            timing,
            raw: (pressed_now, now),
            stable: pressed_now,
            down: None,
            ignore_until_released: pressed_now,
            recent_edges: VecDeque::new(),
            storm_until: None,
        }
    }

    /// A raw edge: the line is now `pressed` (after the adapter applied active-low).
    pub fn on_edge(&mut self, now: Instant, pressed: bool) -> Option<Gesture> {
        let gesture = self.poll(now);
        self.recent_edges.push_back(now);
        while self.recent_edges.front().is_some_and(|t| now.duration_since(*t) > self.timing.storm_window) {
            self.recent_edges.pop_front();
        }
        if self.recent_edges.len() > self.timing.storm_edges {
            self.storm_until = Some(now + self.timing.storm_window);
            self.down = None;
            self.ignore_until_released = true;
        } else if self.storm_until.is_some() {
            self.storm_until = Some(now + self.timing.storm_window);
        }
        if pressed != self.raw.0 {
            self.raw = (pressed, now);
        }
        gesture
    }

    /// Whether the line is misbehaving (a bounce storm): worth a log line and a fault LED.
    pub fn storming(&self) -> bool {
        self.storm_until.is_some()
    }

    /// Advances time: settles the debounced level and fires long presses.
    pub fn poll(&mut self, now: Instant) -> Option<Gesture> {
        if self.storm_until.is_some_and(|until| now >= until) {
            self.storm_until = None;
            // Quiet again: a released button works at once, a held one after its release.
            self.ignore_until_released = self.stable;
        }
        let mut gesture = None;
        if self.raw.0 != self.stable && now.duration_since(self.raw.1) >= self.timing.debounce {
            self.stable = self.raw.0;
            let at = self.raw.1;
            gesture = self.on_stable_change(at);
        }
        if let Some((since, false)) = self.down
            && now.duration_since(since) >= self.timing.long_press
        {
            self.down = Some((since, true));
            return Some(Gesture::LongPress);
        }
        gesture
    }

    fn on_stable_change(&mut self, at: Instant) -> Option<Gesture> {
        if !self.stable {
            // A release ends any "ignore until released", even during a storm.
            let ignored = std::mem::take(&mut self.ignore_until_released);
            let press = self.down.take();
            if ignored || self.storm_until.is_some() {
                return None;
            }
            return match press {
                Some((_, false)) => Some(Gesture::ShortPress),
                _ => None, // a long press already fired
            };
        }
        if self.storm_until.is_none() && !self.ignore_until_released {
            self.down = Some((at, false));
        }
        None
    }

    /// When [`Recognizer::poll`] must run next.
    pub fn next_deadline(&self) -> Option<Instant> {
        let settle = (self.raw.0 != self.stable).then(|| self.raw.1 + self.timing.debounce);
        let long = match self.down {
            Some((since, false)) => Some(since + self.timing.long_press),
            _ => None,
        };
        [settle, long, self.storm_until].into_iter().flatten().min()
    }
}

#[cfg(test)]
#[path = "gesture_tests.rs"]
mod tests;
