//! A media outage on a live call between two real daemons: an nftables rule drops every
//! packet to oslo's media ports (SIP still answers, as behind a firewall that closed the
//! media ports). oslo shows bergen as interrupted and its LED says so, the call stays up and
//! the picture returns by itself when the rule goes; when the outage lasts longer than
//! `media_timeout_s` oslo ends the call with a BYE.

mod common;

use std::time::Duration;

use common::nft::{Impairment, far_media_ports};
use common::{Daemon, decoding, free_port};
use roombox::control::Status;
use roombox::meeting::{LedPattern, RoomState};

const SECS: fn(u64) -> Duration = Duration::from_secs;

fn interrupted(s: &Status) -> bool {
    s.meeting.legs.first().is_some_and(|l| l.interrupted)
}

#[test]
fn an_outage_shows_the_place_interrupted_the_call_recovers_and_a_long_one_ends_it() {
    let (pa, pb) = (free_port(), free_port());
    let oslo = Daemon::start("oslo", pa, &[("bergen", pb)], "media_timeout_s = 6.0");
    let bergen = Daemon::start("bergen", pb, &[("oslo", pa)], "auto_answer = true");
    oslo.press();
    oslo.wait_for(SECS(20), "bergen's picture and sound", |s| decoding(s, 20.0));
    let ports = far_media_ports(&bergen.wait_for(SECS(10), "oslo's picture", |s| decoding(s, 20.0)));
    assert_eq!(ports.len(), 4, "video and audio, RTP and RTCP: {ports:?}");

    let outage = Impairment::outage(&ports);
    let cut = oslo.wait_for(SECS(10), "bergen shown as interrupted", interrupted);
    assert_eq!((cut.meeting.state, cut.meeting.led), (RoomState::InCall, LedPattern::Interrupted));
    let text = String::from_utf8_lossy(&oslo.ctl(&["status"]).stdout).to_string();
    assert!(text.contains("INTERRUPTED"), "the text status says so:\n{text}");
    assert!(oslo.log().contains("interrupted"), "and the log:\n{}", oslo.log());

    drop(outage);
    let back = oslo.wait_for(SECS(10), "bergen's picture back by itself", |s| !interrupted(s) && decoding(s, 20.0));
    assert_eq!((back.meeting.state, back.meeting.led), (RoomState::InCall, LedPattern::Solid));

    let _long = Impairment::outage(&ports);
    let ended = oslo.wait_state(RoomState::Idle, SECS(15));
    let error = ended.meeting.last_error.clone().unwrap_or_default();
    assert!(error.contains("no media") && error.contains("6 s"), "oslo says why it ended the call: {error}");
    bergen.wait_state(RoomState::Idle, SECS(5));
}
