//! Dead media on a live leg, on the shared clock: a quiet place is shown as interrupted and
//! recovers by itself; one that stays quiet is ended with a BYE, and the others stay.

use std::time::Duration;

use super::test_net::{Net, config};
use super::*;

const HOST: usize = 0;
const SECS: fn(u64) -> Duration = Duration::from_secs;

/// A host dialling two rooms that answer by themselves, in a meeting of three places.
fn meeting() -> (Net, Vec<LegId>) {
    let host = MeetingConfig { max_places: 4, ..config("host", 5061, &[5062, 5063]) };
    let rooms = [5062, 5063].map(|port| MeetingConfig { auto_answer: true, ..config("room", port, &[5061]) });
    let mut net = Net::new(std::iter::once(host).chain(rooms).collect());
    net.press(HOST);
    let legs = net.rooms[HOST].core.status(net.now).legs.iter().map(|l| l.id).collect();
    (net, legs)
}

fn interrupted(net: &Net, leg: LegId) -> Option<bool> {
    net.rooms[HOST].core.status(net.now).legs.iter().find(|l| l.id == leg).map(|l| l.interrupted)
}

#[test]
fn a_place_that_goes_quiet_is_shown_interrupted_and_recovers_when_its_media_returns() {
    let (mut net, legs) = meeting();
    assert_eq!(net.led(HOST), LedPattern::Solid);
    net.input(HOST, Input::MediaIdle { leg: legs[0], idle: Duration::from_millis(1900) });
    assert_eq!((interrupted(&net, legs[0]), net.led(HOST)), (Some(false), LedPattern::Solid), "not yet at 1.9 s");
    net.input(HOST, Input::MediaIdle { leg: legs[0], idle: Duration::from_millis(2000) });
    assert_eq!(interrupted(&net, legs[0]), Some(true));
    assert_eq!(interrupted(&net, legs[1]), Some(false), "only the quiet place");
    assert_eq!(net.led(HOST), LedPattern::Interrupted);
    let status = net.rooms[HOST].core.status(net.now);
    assert_eq!((status.state, status.places), (RoomState::InCall, 3), "the meeting stays up");

    net.input(HOST, Input::MediaIdle { leg: legs[0], idle: Duration::ZERO });
    assert_eq!((interrupted(&net, legs[0]), net.led(HOST)), (Some(false), LedPattern::Solid));
}

#[test]
fn a_place_quiet_for_the_media_timeout_is_ended_with_a_bye_and_the_others_stay() {
    let (mut net, legs) = meeting();
    net.input(HOST, Input::MediaIdle { leg: legs[0], idle: SECS(10) });
    assert_eq!(interrupted(&net, legs[0]), Some(true));
    net.input(HOST, Input::MediaIdle { leg: legs[0], idle: SECS(30) });
    net.settle();
    assert_eq!(net.state(1), RoomState::Idle, "the quiet place got a BYE");
    assert_eq!(net.state(2), RoomState::InCall);
    let status = net.rooms[HOST].core.status(net.now);
    assert_eq!((status.state, status.places, status.led), (RoomState::InCall, 2, LedPattern::Solid));
    assert!(status.unreached.iter().any(|u| u.reason.contains("no media") && u.reason.contains("30 s")), "{status:?}");
}

#[test]
fn a_place_whose_media_does_not_start_is_ended_with_the_reason_and_the_others_stay() {
    let (mut net, legs) = meeting();
    net.input(HOST, Input::MediaStuck { leg: legs[0], stuck_for: Duration::from_millis(9900) });
    assert_eq!(net.rooms[HOST].core.status(net.now).places, 3, "not yet at 9.9 s");
    net.input(HOST, Input::MediaStuck { leg: legs[0], stuck_for: SECS(10) });
    net.settle();
    assert_eq!((net.state(1), net.state(2)), (RoomState::Idle, RoomState::InCall), "that place got a BYE");
    let status = net.rooms[HOST].core.status(net.now);
    assert!(status.unreached.iter().any(|u| u.reason.contains("did not start within 10 s")), "{status:?}");
}

#[test]
fn media_reports_for_a_leg_that_is_not_live_change_nothing() {
    let (mut net, legs) = meeting();
    net.input(HOST, Input::MediaIdle { leg: LegId(99), idle: SECS(60) });
    assert_eq!(net.rooms[HOST].core.status(net.now).places, 3);
    net.press(HOST);
    net.input(HOST, Input::MediaIdle { leg: legs[0], idle: SECS(60) });
    assert_eq!(net.state(HOST), RoomState::Idle, "a leg already ending just ends");
}

#[test]
fn a_standing_problem_blinks_the_led_while_idle_and_stays_in_status_until_it_is_gone() {
    let mut net = Net::two_rooms();
    let problem = "card roombox.toml not used: line 3: unknown key".to_string();
    net.input(0, Input::StandingProblem(Some(problem.clone())));
    assert_eq!(net.led(0), LedPattern::FastBlink, "idle: the LED shows the problem");
    assert_eq!(net.rooms[0].core.status(net.now).problem.as_deref(), Some(problem.as_str()));

    // A call still works and its LED shows the call; the problem comes back when it ends.
    net.press(0);
    net.press(1);
    assert_eq!(net.state(0), RoomState::InCall);
    assert_eq!(net.led(0), LedPattern::Solid);
    net.input(0, Input::Command(Command::Leave));
    net.advance(SECS(5));
    assert_eq!(net.state(0), RoomState::Idle);
    assert_eq!(net.led(0), LedPattern::FastBlink);

    net.input(0, Input::StandingProblem(None));
    assert_eq!(net.led(0), LedPattern::Off);
    assert_eq!(net.rooms[0].core.status(net.now).problem, None);
}
