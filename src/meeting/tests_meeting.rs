//! Meetings of more than two places on the shared clock: places join and leave, the meeting
//! fills up, INVITEs cross (glare), and one place's failure leaves the others talking.

use std::time::Duration;

use super::test_net::{Net, config};
use super::*;
use crate::sip::{Method, SipMessage};

const HOST: usize = 0;

/// A host (5061) that dials three rooms (5062-5064) which answer by themselves, plus a fifth
/// room (5065) that may call the host. The host takes calls from anyone.
fn host_and_rooms(max_places: usize) -> Net {
    let host = MeetingConfig { max_places, allow: AllowList::Anyone, ..config("host", 5061, &[5062, 5063, 5064]) };
    let mut rooms = vec![host];
    for port in 5062..=5065 {
        rooms.push(MeetingConfig { auto_answer: true, ..config("room", port, &[5061]) });
    }
    Net::new(rooms)
}

fn live_legs(net: &Net, room: usize) -> usize {
    net.rooms[room].core.status(net.now).live_legs().count()
}

#[test]
fn the_host_dials_every_peer_at_once_and_a_meeting_of_four_places_forms() {
    let mut net = host_and_rooms(4);
    net.press(HOST);
    assert_eq!(net.sent_request(HOST, Method::Invite), 3, "one INVITE per configured peer");
    let status = net.rooms[HOST].core.status(net.now);
    assert_eq!((status.state, status.places, status.led), (RoomState::InCall, 4, LedPattern::Solid));
    assert_eq!(net.rooms[HOST].started.len(), 3, "media starts once per leg");
    for room in 1..=3 {
        assert_eq!(net.state(room), RoomState::InCall);
        assert_eq!(live_legs(&net, room), 1, "a remote place makes an ordinary call to the host");
    }
    let ids: Vec<LegId> = status.legs.iter().map(|l| l.id).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[0] != w[1]), "every leg has its own id");
}

#[test]
fn a_caller_joins_a_meeting_in_progress_and_the_fifth_place_hears_meeting_full() {
    let mut net = host_and_rooms(4);
    net.rooms[HOST].core.handle_input(net.now, Input::Command(Command::Join));
    net.settle();
    assert_eq!(net.rooms[HOST].core.status(net.now).places, 4);
    net.press(4); // the fifth room calls the host
    let busy = net.rooms[HOST].sent.iter().find_map(|m| match m {
        SipMessage::Response(r) if r.status == 486 => Some(r.reason.clone()),
        _ => None,
    });
    assert!(busy.expect("a 486").contains("meeting full"));
    assert!(net.rooms[HOST].core.status(net.now).notice.unwrap().contains("full"));
    assert_eq!(net.state(4), RoomState::Idle);
    assert!(net.error(4).unwrap().contains("full"), "{:?}", net.error(4));
    assert_eq!(live_legs(&net, HOST), 3, "the meeting is untouched");

    // One place leaves: now the fifth gets in.
    net.press(3);
    assert_eq!(live_legs(&net, HOST), 2);
    net.press(4);
    assert_eq!(net.led(HOST), LedPattern::SlowBlink, "the host rings: it does not auto-answer");
    net.press(HOST);
    assert_eq!(live_legs(&net, HOST), 3, "a caller is added to the meeting in progress");
    assert_eq!(net.state(4), RoomState::InCall);
}

#[test]
fn a_remote_place_that_leaves_does_not_end_the_meeting_and_the_last_one_does() {
    let mut net = host_and_rooms(4);
    net.press(HOST);
    net.press(1);
    assert_eq!((net.state(1), net.state(HOST)), (RoomState::Idle, RoomState::InCall));
    assert_eq!(live_legs(&net, HOST), 2);
    assert_eq!((net.state(2), net.state(3)), (RoomState::InCall, RoomState::InCall));
    net.press(2);
    net.press(3);
    assert_eq!(net.state(HOST), RoomState::Idle, "the meeting ends when the last remote place leaves");
    assert_eq!(net.led(HOST), LedPattern::Off, "leaving is not an error");
    assert_eq!(net.rooms[HOST].released.len(), 3, "every leg's media is released");
}

#[test]
fn the_hosts_leave_sends_a_bye_to_every_leg() {
    let mut net = host_and_rooms(4);
    net.press(HOST);
    net.press(HOST);
    assert_eq!(net.sent_request(HOST, Method::Bye), 3);
    for room in 0..=3 {
        assert_eq!(net.state(room), RoomState::Idle);
    }
}

#[test]
fn a_peer_that_is_down_does_not_hold_the_others_back() {
    let mut net = host_and_rooms(4);
    net.down = vec![2];
    net.press(HOST);
    assert_eq!(live_legs(&net, HOST), 2);
    assert_eq!(net.led(HOST), LedPattern::Solid);
    net.advance(Duration::from_secs(11));
    let status = net.rooms[HOST].core.status(net.now);
    assert_eq!(status.places, 3);
    assert_eq!(status.led, LedPattern::Solid, "no error LED while other places are reached");
    let unreached = &status.unreached;
    assert_eq!(unreached.len(), 1, "{unreached:?}");
    assert!(unreached[0].peer.contains("5063") && unreached[0].reason.contains("did not answer"));
}

#[test]
fn the_error_led_shows_only_when_no_place_at_all_could_be_reached() {
    let mut net = host_and_rooms(4);
    net.down = vec![1, 2, 3];
    net.press(HOST);
    net.advance(Duration::from_secs(11));
    let status = net.rooms[HOST].core.status(net.now);
    assert_eq!((status.state, status.led), (RoomState::Idle, LedPattern::FastBlink));
    assert_eq!(status.unreached.len(), 3);
}

#[test]
fn one_legs_timeout_or_media_failure_leaves_the_others_up() {
    let mut net = host_and_rooms(4);
    net.press(HOST);
    let legs: Vec<LegId> = net.rooms[HOST].core.status(net.now).legs.iter().map(|l| l.id).collect();
    net.input(HOST, Input::MediaFailed { leg: legs[0], reason: "decoder died".into() });
    assert_eq!(live_legs(&net, HOST), 2);
    assert_eq!(net.state(1), RoomState::Idle, "the failed place got a BYE");
    net.down = vec![2];
    net.advance(Duration::from_secs(25));
    assert_eq!(live_legs(&net, HOST), 1, "a vanished place times out on its own");
    assert_eq!(net.state(3), RoomState::InCall);
    assert_eq!(net.led(HOST), LedPattern::Solid);
    let unreached = net.rooms[HOST].core.status(net.now).unreached;
    assert!(unreached.iter().any(|u| u.reason.contains("decoder died")));
    assert!(unreached.iter().any(|u| u.reason.contains("lost contact")));
}

#[test]
fn one_place_is_dropped_by_command_and_the_others_stay() {
    let mut net = host_and_rooms(4);
    net.press(HOST);
    let leg = net.rooms[HOST].core.find_place("sip:peer@127.0.0.1:5063").expect("a leg to 5063");
    net.input(HOST, Input::Command(Command::Drop(leg)));
    assert_eq!(net.state(2), RoomState::Idle);
    assert_eq!(live_legs(&net, HOST), 2);
    assert_eq!(net.rooms[HOST].core.find_place("sip:peer@127.0.0.1:5063"), None);
}

#[test]
fn two_rooms_that_press_at_the_same_moment_end_up_in_one_call() {
    let mut net = Net::two_rooms();
    net.held = Some(Vec::new());
    net.press(0);
    net.press(1);
    assert_eq!((net.sent_request(0, Method::Invite), net.sent_request(1, Method::Invite)), (1, 1));
    net.release_held();
    net.advance(Duration::from_secs(1));
    for room in 0..2 {
        let status = net.rooms[room].core.status(net.now);
        assert_eq!(status.state, RoomState::InCall, "room {room}: {status:?}");
        assert_eq!(status.live_legs().count(), 1, "room {room}: one call, not two");
        assert_eq!(status.last_error, None, "room {room}: no busy error");
    }
    let a = net.rooms[0].core.status(net.now).legs[0].call_id.clone();
    let b = net.rooms[1].core.status(net.now).live_legs().next().unwrap().call_id.clone();
    assert_eq!(a, b, "both rooms are in the same dialog");
}

#[test]
fn glare_before_our_invite_left_gives_way_to_theirs() {
    let mut net = Net::two_rooms();
    net.prepare_answers = false;
    net.press(1); // b's ports are still being bound
    net.prepare_answers = true;
    net.press(0);
    assert_eq!((net.state(0), net.state(1)), (RoomState::InCall, RoomState::InCall));
    assert_eq!(net.rooms[1].core.status(net.now).legs.len(), 1);
}

#[test]
fn a_ringing_leg_in_a_meeting_blinks_the_led_and_a_press_lets_it_in() {
    let host = MeetingConfig { allow: AllowList::Anyone, ..config("host", 5061, &[5062]) };
    let b = MeetingConfig { auto_answer: true, ..config("b", 5062, &[5061]) };
    let mut net = Net::new(vec![host, b, config("c", 5063, &[5061])]);
    net.press(HOST);
    assert_eq!(net.state(HOST), RoomState::InCall);
    net.press(2);
    assert_eq!(net.led(HOST), LedPattern::SlowBlink, "someone waits to join");
    assert_eq!(net.state(HOST), RoomState::InCall);
    net.press(HOST);
    assert_eq!(live_legs(&net, HOST), 2);
    assert_eq!(net.led(HOST), LedPattern::Solid);
}

#[test]
fn a_meeting_limit_of_three_places_dials_only_two_peers() {
    let mut net = host_and_rooms(3);
    net.press(HOST);
    assert_eq!(net.sent_request(HOST, Method::Invite), 2);
    assert_eq!(net.rooms[HOST].core.status(net.now).places, 3);
    assert!(net.rooms[HOST].logs.iter().any(|l| l.contains("meeting is full")));
}

#[test]
fn a_failure_of_the_rooms_own_media_ends_every_leg() {
    let mut net = host_and_rooms(4);
    net.press(HOST);
    net.input(HOST, Input::RoomMediaFailed { reason: "encoder died".into() });
    for room in 0..=3 {
        assert_eq!(net.state(room), RoomState::Idle, "room {room}");
    }
    assert_eq!(net.led(HOST), LedPattern::FastBlink);
    assert!(net.error(HOST).unwrap().contains("encoder died"));
}
