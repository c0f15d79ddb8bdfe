//! A browser guest over a lossy path: nftables drops 5 % of the UDP between the box's and the
//! browser's addresses (both ways) for 10 s, in a network namespace of the test's own. Each
//! side must ask for what it lost and the other resend it, and the pictures go on. Its own
//! binary, so its Chromium and room do not share the machine with `tests/guests.rs`'s.

mod common;

use std::time::Duration;

use common::browser::{Browsers, Guest, enter_private_network, free_tcp_port, guests_section, video};
use common::nft::Impairment;
use common::{Daemon, Devices, free_port};
use roombox::meeting::RoomState;

const PIN: &str = "482913";
const SECS: Duration = Duration::from_secs(5);

#[test]
fn a_guest_and_the_room_repair_five_percent_loss_both_ways() {
    enter_private_network();
    let dir = tempfile::tempdir().unwrap();
    let page = free_tcp_port();
    let mut devices = Devices::tone_room(440, 0xff20_40c0, &dir.path().join("heard.raw"));
    devices.extra = guests_section(page, PIN, dir.path());
    let oslo = Daemon::start_with("oslo", free_port(), &[], "", &devices);
    let browsers = Browsers::start(
        &format!("https://127.0.0.1:{page}/"),
        &[Guest { name: "Ingrid", pin: PIN, camera: true, tone: None }],
    );
    browsers.wait("Ingrid", Duration::from_secs(30), "20 fps of the room", |r| video(r).1 >= 20.0);
    oslo.wait_for(Duration::from_secs(20), "the guest's picture", |s| {
        s.first_media().is_some_and(|m| m.video_in.decoded_per_s >= 10.0)
    });
    let (before, at_room_before) = (browsers.next_report("Ingrid", SECS), oslo.status().unwrap());

    // Every UDP packet between the box's and the browser's addresses, 5 % of them dropped.
    let loss = Impairment::loss_to_network("203.0.113.0/24", 5);
    std::thread::sleep(Duration::from_secs(10));
    let (during, at_room) = (browsers.next_report("Ingrid", SECS), oslo.status().unwrap());
    drop(loss);
    let (page, sent) = (&during["stats"]["video"], &during["stats"]["sent"]["video"]);
    let figure = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    let (m, m0) = (at_room.first_media().unwrap(), at_room_before.first_media().unwrap());
    let shown = (video(&during).0 - video(&before).0) as f64 / 10.0;
    let decoded = (m.video_in.decoded_total - m0.video_in.decoded_total) as f64 / 10.0;
    eprintln!("page {page:#} sent {sent:#}\nroom in {:?}\nroom out {:?}", m.video_in, m.video_out);
    assert_eq!(at_room.meeting.state, RoomState::InCall, "the guest stays in the meeting");
    // The browser lost some of the room's picture, asked for it, the box resent it and the
    // browser got it: the room's picture goes on at its rate.
    assert!(figure(&page["lost"]) > 0 && figure(&page["nacks"]) > 0, "the page asked again: {page:#}");
    assert!(m.video_out.nacks_received > 0 && m.video_out.resent > 0, "the box resent: {:?}", m.video_out);
    assert!(figure(&page["resentReceived"]) > 0, "the page received the resent packets: {page:#}");
    assert!(shown >= 20.0, "the page showed the room at {shown:.1} fps through the loss: {page:#}");
    // And the other way: the box saw the guest's loss and asked again, and the browser resent.
    assert!(m.video_in.packets_lost > 0 && m.video_in.nacks_sent > 0, "the box asked again: {:?}", m.video_in);
    assert!(figure(&sent["resent"]) > 0, "the browser resent: {sent:#}");
    // Lost sound is concealed, never asked for: nothing resends it.
    assert_eq!(m.audio_in.nacks_sent, m0.audio_in.nacks_sent, "no NACK for the guest's sound: {:?}", m.audio_in);
    assert!(m.audio_in.packets_lost > 0 && m.audio_in.decoded_per_s >= 40.0, "{:?}", m.audio_in);
    assert!(decoded >= 8.0, "the room decoded the guest at {decoded:.1} fps through the loss: {:?}", m.video_in);
}
