//! The room's own live figures, written by streaming threads: what the screen shows last, the
//! glass-to-glass readings of a QR reader on the display, the microphone's level, and the
//! first error an element reported.

use std::sync::{Arc, Mutex};

use gstreamer as gst;

use super::latency::LatencyMeter;
use super::measure::{Arrivals, RenderClock};

pub(super) struct RoomMeters {
    pub render: Arc<RenderClock>,
    pub glass_to_glass: LatencyMeter,
    /// When each of those frames was shown (Unix ms): a frame intact enough to be read.
    pub qr_shown_at: LatencyMeter,
    pub qr_arrivals: Mutex<Option<Arc<Arrivals>>>,
    pub last_error: Mutex<Option<String>>,
    pub last_frame: Mutex<Option<gst::Sample>>,
    pub mic_level_db: Mutex<Option<f64>>,
}

impl RoomMeters {
    pub fn new(render: Arc<RenderClock>) -> Self {
        Self {
            render,
            glass_to_glass: LatencyMeter::default(),
            qr_shown_at: LatencyMeter::default(),
            qr_arrivals: Mutex::default(),
            last_error: Mutex::default(),
            last_frame: Mutex::default(),
            mic_level_db: Mutex::default(),
        }
    }
}
