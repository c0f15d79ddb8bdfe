//! Browser guests (issue 12), in a private network namespace on a thread of its own (headless
//! Debian Chromium driven by `tests/browser/guest.mjs`): join time (the Join click to the
//! first frame the page decodes, median of 10, into an idle room), glass to glass from the
//! room's QR-stamped camera to the page's picture (read with jsQR at each presented frame),
//! and the host's CPU for a fourth place that is a guest against one that is a SIP room.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

#[path = "../../tests/common/browser.rs"]
#[allow(dead_code)]
mod browser;
#[path = "../../tests/common/process.rs"]
mod process;

use super::procs::{Room, RoomSpec, cpu_seconds, free_port};
use super::report::median;
use browser::{Browsers, Guest, enter_private_network, free_tcp_port};
use roombox::control::Request;
use roombox::meeting::RoomState;

const PIN: &str = "482913";

#[derive(Debug, Default)]
pub struct GuestFigures {
    pub joins_ms: Vec<f64>,
    /// Median ms from the click to each step of a join (camera, offer, answer, connected).
    pub steps: Vec<(String, f64)>,
    pub g2g_ms: Vec<f64>,
    /// Capture to the page's receipt of each frame (the rest of `g2g_ms` is the browser's).
    pub received_ms: Vec<f64>,
    /// The host's CPU (s/min) with three places, and with a fourth that is a guest or a room.
    pub cpu_three: f64,
    pub cpu_guest: f64,
    pub cpu_sip: f64,
}

fn guests_config(page: u16, dir: &std::path::Path) -> String {
    format!(
        "\n[guests]\nenabled = true\nlisten = \"127.0.0.1:{page}\"\npin = \"{PIN}\"\nmax = 3\n\
         tls_certificate = \"{0}/g.crt\"\ntls_key = \"{0}/g.key\"\n",
        dir.display()
    )
}

/// Only the joins (`BENCH_ONLY=guest-joins`): the join times and the median of each step.
pub fn joins_only(n: usize) -> (Vec<f64>, Vec<(String, f64)>) {
    std::thread::spawn(move || {
        enter_private_network();
        joins(n)
    })
    .join()
    .unwrap_or_default()
}

/// Measures everything in a network namespace of its own (the thread's, and its children's).
pub fn measure(seconds: u64, warmup: Duration, qr_source: &str) -> GuestFigures {
    let qr_source = qr_source.to_owned();
    std::thread::spawn(move || {
        enter_private_network();
        let mut figures = GuestFigures::default();
        eprintln!("== guests: 10 joins");
        (figures.joins_ms, figures.steps) = joins(10);
        eprintln!("== guests: glass to glass room → browser ({seconds} s)");
        (figures.g2g_ms, figures.received_ms) = glass_to_glass(seconds, warmup, &qr_source);
        eprintln!("== guests: host CPU, a guest against a SIP room as the fourth place ({seconds} s each)");
        (figures.cpu_three, figures.cpu_guest, figures.cpu_sip) = cpu_per_leg(seconds, warmup);
        figures
    })
    .join()
    .unwrap_or_default()
}

fn host(page: u16, dir: &tempfile::TempDir, source: &str, peers: &[(&str, u16)], port: u16) -> Room {
    let call = guests_config(page, dir.path());
    Room::start(&RoomSpec { name: "oslo", port, peers, video_source: source, call_extra: &call, ..RoomSpec::default() })
}

fn joins(n: usize) -> (Vec<f64>, Vec<(String, f64)>) {
    let (page, dir) = (free_tcp_port(), tempfile::tempdir().unwrap());
    let room = host(page, &dir, "test", &[], free_port());
    let url = format!("https://127.0.0.1:{page}/");
    let (mut joins, mut steps) = (Vec::new(), Vec::<(String, Vec<f64>)>::new());
    for i in 0..n {
        let name = format!("guest{i}");
        let browsers = Browsers::start(&url, &[Guest { name: &name, pin: PIN, camera: true, tone: None }]);
        let report = browsers.wait(&name, Duration::from_secs(30), "the first frame", |r| r["joinMs"].is_number());
        joins.push(report["joinMs"].as_f64().unwrap_or(f64::NAN));
        if let Some(timings) = report["stats"]["timings"].as_object() {
            for (step, ms) in timings.iter().filter(|(k, _)| *k != "t0") {
                match steps.iter_mut().find(|(s, _)| s == step) {
                    Some((_, v)) => v.extend(ms.as_f64()),
                    None => steps.push((step.clone(), ms.as_f64().into_iter().collect())),
                }
            }
        }
        drop(browsers);
        room.request(Request::Leave { peer: None });
        room.wait(Duration::from_secs(40), |s| s.meeting.state == RoomState::Idle);
    }
    let steps = steps.into_iter().filter_map(|(s, v)| Some((s, median(&v)?))).collect();
    (joins, steps)
}

fn glass_to_glass(seconds: u64, warmup: Duration, qr_source: &str) -> (Vec<f64>, Vec<f64>) {
    let (page, dir) = (free_tcp_port(), tempfile::tempdir().unwrap());
    let _room = host(page, &dir, qr_source, &[], free_port());
    let url = format!("https://127.0.0.1:{page}/");
    let mut browsers =
        Browsers::start_with(&url, &[Guest { name: "watcher", pin: PIN, camera: false, tone: None }], true);
    browsers.wait("watcher", Duration::from_secs(30), "the room's picture", |r| r["joinMs"].is_number());
    std::thread::sleep(warmup);
    browsers.command(&format!("g2g watcher {seconds}"));
    let report =
        browsers.wait("watcher", Duration::from_secs(seconds + 30), "the QR readings", |r| r["g2g"].is_array());
    let numbers = |key: &str| -> Vec<f64> {
        report[key].as_array().map(|a| a.iter().filter_map(|v| v.as_f64()).collect()).unwrap_or_default()
    };
    (numbers("g2g"), numbers("received"))
}

/// The host's CPU (s/min) over `seconds` once the meeting has settled.
fn cpu_of(room: &Room, seconds: u64, warmup: Duration) -> f64 {
    std::thread::sleep(warmup);
    let (cpu0, t0) = (cpu_seconds(room.pid()), Instant::now());
    std::thread::sleep(Duration::from_secs(seconds));
    (cpu_seconds(room.pid()) - cpu0) / (t0.elapsed().as_secs_f64() / 60.0)
}

fn cpu_per_leg(seconds: u64, warmup: Duration) -> (f64, f64, f64) {
    let (page, dir) = (free_tcp_port(), tempfile::tempdir().unwrap());
    let ports = [free_port(), free_port(), free_port()];
    let peers = [("bergen", ports[0]), ("tromso", ports[1]), ("hamar", ports[2])];
    let oslo_port = free_port();
    let oslo = host(page, &dir, "test", &peers, oslo_port);
    let remote = |name, port| {
        let to_host = [("oslo", oslo_port)];
        Room::start(&RoomSpec { name, port, peers: &to_host, auto_answer: true, ..RoomSpec::default() })
    };
    let (_bergen, _tromso) = (remote("bergen", ports[0]), remote("tromso", ports[1]));
    oslo.request(Request::Press);
    oslo.wait(Duration::from_secs(30), |s| {
        s.meeting.places == 3 && s.media.iter().all(|m| m.stats.video_in.decoded_total > 0)
    });
    let three = cpu_of(&oslo, seconds, warmup);
    let url = format!("https://127.0.0.1:{page}/");
    let browsers = Browsers::start(&url, &[Guest { name: "guest", pin: PIN, camera: true, tone: None }]);
    browsers.wait("guest", Duration::from_secs(30), "the meeting's picture", |r| r["joinMs"].is_number());
    let with_guest = cpu_of(&oslo, seconds, warmup);
    drop(browsers);
    oslo.wait(Duration::from_secs(40), |s| s.meeting.places == 3);
    let _hamar = remote("hamar", ports[2]);
    oslo.request(Request::Join);
    oslo.wait(Duration::from_secs(30), |s| s.meeting.places == 4);
    let with_room = cpu_of(&oslo, seconds, warmup);
    (three, with_guest, with_room)
}

/// The section for bench/results.md and its targets.
pub fn report(f: &GuestFigures) -> (String, Vec<(String, bool, String)>) {
    let (join, g2g) = (median(&f.joins_ms), median(&f.g2g_ms));
    let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0} ms"));
    let mut md = String::from("\n## Browser guests\n\n");
    let _ = writeln!(
        md,
        "Headless Debian Chromium (Playwright) on the room's guest page, in a network namespace of the bench's own.\n\n\
         - Join time, the Join click to the first frame the page decodes (10 joins into an idle room, 1280x720): \
         median {}, all: {:?}.",
        ms(join),
        f.joins_ms.iter().map(|v| v.round()).collect::<Vec<_>>()
    );
    let steps: Vec<String> = f.steps.iter().map(|(s, v)| format!("{s} {v:.0} ms")).collect();
    let _ = writeln!(md, "- Median time from the click to each step of a join: {}.", steps.join(", "));
    let _ = writeln!(
        md,
        "- Glass to glass, the room's QR-stamped 720p camera to the page's presented frame: median {} over {} frames \
         (of which capture to the page's receipt of the frame: median {}; the rest is the browser's decoding and \
         rendering).",
        ms(g2g),
        f.g2g_ms.len(),
        ms(median(&f.received_ms))
    );
    let _ = writeln!(
        md,
        "- The host's CPU with three places: {:.1} s/min; with a guest as the fourth: {:.1} (+{:.1}); with a SIP room as the fourth: {:.1} (+{:.1}).",
        f.cpu_three,
        f.cpu_guest,
        f.cpu_guest - f.cpu_three,
        f.cpu_sip,
        f.cpu_sip - f.cpu_three
    );
    let targets = vec![
        ("guest join ≤ 250 ms (median of 10)".to_owned(), join.is_some_and(|j| j <= 250.0), ms(join)),
        ("glass to glass room → browser ≤ 40 ms (720p30)".to_owned(), g2g.is_some_and(|g| g <= 40.0), ms(g2g)),
    ];
    (md, targets)
}
