//! roombox: meeting-room video-conferencing appliance firmware.
//!
//! # Layout
//! - [`meeting`]: the sans-IO meeting core (legs, LED, mute, timers). Decides, never acts.
//! - [`sip`], [`sdp`]: wire formats and dialog/offer-answer rules, pure.
pub mod board;
pub mod cli;
pub mod config;
pub mod control;
pub mod control_server;
pub mod daemon;
pub mod devices;
pub mod guests;
pub mod media;
pub mod meeting;
pub mod panel;
pub mod runtime;
pub mod sdp;
pub mod sip;
pub mod tls;
