//! The control socket under a stuck or hostile client: an over-long line, a malformed request,
//! a client that stalls mid-line and a hundred idle connections each get a JSON error or are
//! closed, and the room still answers `ctl status` meanwhile.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::Daemon;
use roombox::control::Response;

fn answer(stream: &UnixStream) -> Response {
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).expect("an answer");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
}

fn status_answers(room: &Daemon) {
    let start = Instant::now();
    let out = room.ctl(&["status"]);
    assert!(out.status.success(), "ctl status: {}", String::from_utf8_lossy(&out.stderr));
    assert!(start.elapsed() < Duration::from_secs(5), "ctl status took {:?}", start.elapsed());
}

#[test]
fn bad_slow_and_idle_clients_get_errors_and_the_room_still_answers() {
    let room = Daemon::start("oslo", common::free_port(), &[], "");
    let connect = || UnixStream::connect(room.socket()).unwrap();

    let mut long = connect();
    let _ = long.write_all(&vec![b'x'; 100_000]);
    let refused = answer(&long);
    assert!(refused.error.as_deref().is_some_and(|e| e.contains("longer than 65536 bytes")), "{refused:?}");

    let mut malformed = connect();
    malformed.write_all(b"{\"cmd\": \"explode\"}\n").unwrap();
    let refused = answer(&malformed);
    assert!(refused.error.as_deref().is_some_and(|e| e.contains("bad request")), "{refused:?}");

    let mut slow = connect();
    slow.write_all(b"{\"cmd\": ").unwrap();
    status_answers(&room);
    let stalled = answer(&slow);
    assert!(stalled.error.as_deref().is_some_and(|e| e.contains("did not end within")), "{stalled:?}");

    // More idle connections than the room keeps: the ones idle longest make way.
    let idle: Vec<UnixStream> = (0..100).map(|_| connect()).collect();
    status_answers(&room);
    let mut first = &idle[0];
    let _ = first.write_all(b"{\"cmd\": \"status\"}\n");
    let mut rest = String::new();
    let _ = BufReader::new(first).read_line(&mut rest);
    assert!(rest.is_empty(), "the connection idle longest was closed: {rest:?}");
    status_answers(&room);
    drop(idle);
    assert!(room.status().is_some(), "the room runs on");
}
