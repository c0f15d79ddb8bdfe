//! Browser guests in the meeting core: they join an idle room or a meeting in progress,
//! count towards its place limit, and leave without SIP.

use std::time::Duration;

use super::test_net::{Net, config};
use super::*;

fn with_guests(max_guests: usize, max_places: usize) -> Net {
    let mut host = config("host", 5061, &[5062]);
    host.max_guests = max_guests;
    host.max_places = max_places;
    let room = MeetingConfig { auto_answer: true, ..config("room", 5062, &[5061]) };
    Net::new(vec![host, room])
}

fn guest(net: &mut Net, ticket: u64, name: &str) -> Result<LegId, String> {
    let from = SocketAddr::from(([203, 0, 113, 2], 40000 + ticket as u16));
    net.input(0, Input::GuestArrived { ticket, name: name.into(), from, offer: "v=0".into() });
    net.settle();
    net.rooms[0].guests.iter().find(|(t, _)| *t == ticket).map(|(_, r)| r.clone()).expect("the guest was answered")
}

#[test]
fn a_guest_joins_an_idle_room_and_leaves_without_sip() {
    let mut net = with_guests(2, 4);
    let leg = guest(&mut net, 1, "Alice").expect("the guest joins");
    assert_eq!(net.state(0), RoomState::InCall);
    assert_eq!(net.led(0), LedPattern::Solid);
    let status = net.rooms[0].core.status(net.now);
    assert_eq!(status.places, 2);
    assert_eq!(status.legs[0].direction, "guest");
    assert_eq!(status.legs[0].name, "Alice");
    assert_eq!(status.legs[0].peer, "guest \"Alice\" from 203.0.113.2");
    // A minute on, nothing was probed: a guest has no SIP to keep alive.
    net.advance(Duration::from_secs(60));
    assert!(net.rooms[0].sent.is_empty(), "no SIP to a guest");
    net.input(0, Input::Command(Command::Drop(leg)));
    net.settle();
    assert_eq!(net.rooms[0].released, vec![leg]);
    assert_eq!(net.state(0), RoomState::Idle);
    assert!(net.rooms[0].sent.is_empty(), "no BYE to a guest");
}

#[test]
fn guests_count_towards_the_place_limit() {
    let mut net = with_guests(4, 3);
    net.press(0); // the host calls its peer: two places
    net.settle();
    assert_eq!(net.state(0), RoomState::InCall);
    guest(&mut net, 1, "Alice").expect("the third place");
    let refused = guest(&mut net, 2, "Bob").unwrap_err();
    assert_eq!(refused, "the meeting is full (3 places)");
    assert_eq!(net.rooms[0].core.status(net.now).legs.len(), 2, "the meeting did not change");
    assert!(net.rooms[0].core.status(net.now).notice.unwrap().contains("full"));
}

#[test]
fn the_guest_limit_and_disabled_guests() {
    let mut net = with_guests(1, 4);
    guest(&mut net, 1, "Alice").unwrap();
    assert!(guest(&mut net, 2, "Bob").unwrap_err().contains("all the guests it takes (1)"));
    let mut off = with_guests(0, 4);
    assert_eq!(guest(&mut off, 1, "Alice").unwrap_err(), "guests are not enabled in this room");
    assert_eq!(off.state(0), RoomState::Idle);
}

#[test]
fn a_guest_whose_media_fails_or_falls_silent_leaves_the_others_on() {
    let mut net = with_guests(2, 4);
    net.press(0);
    net.settle();
    let alice = guest(&mut net, 1, "Alice").unwrap();
    let bob = guest(&mut net, 2, "Bob").unwrap();
    net.input(0, Input::MediaFailed { leg: alice, reason: "ICE failed".into() });
    net.settle();
    let timeout = net.rooms[0].core.cfg.timing.media_timeout;
    net.input(0, Input::MediaIdle { leg: bob, idle: timeout });
    net.settle();
    assert_eq!(net.rooms[0].released, vec![alice, bob]);
    let status = net.rooms[0].core.status(net.now);
    assert_eq!(status.legs.len(), 1, "the SIP place goes on");
    assert_eq!(net.state(0), RoomState::InCall);
    assert!(status.unreached.iter().any(|u| u.peer.contains("Alice") && u.reason.contains("ICE failed")));
}
