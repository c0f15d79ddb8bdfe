//! `make bench`: what a room feels, for roombox and for a hand-written gst-launch pipeline
//! measured in the same run. Writes bench/results.md, bench/out/samples.csv and (via
//! bench/plot.py) bench/latency.png. Targets are printed PASS/FAIL; they are not tests.
//!
//! `BENCH_SECONDS` (default 20) sets each measured call's length. `BENCH_ONLY` runs one part
//! and prints it (results.md stays): `through-host`, `meetings`, `srtp`, `guests`,
//! `guest-joins` (10 joins and each step's median), `joins`, `leaks` (RSS over 50 joins).
//! `BENCH_RUST_LOG` sets the rooms' `RUST_LOG` (default `roombox=info`); `BENCH_LOGS=dir`
//! keeps each room's log there.

#[path = "room/baseline.rs"]
mod baseline;
#[path = "room/guests.rs"]
mod guests;
#[path = "room/meeting.rs"]
mod meeting;
#[path = "room/procs.rs"]
mod procs;
#[path = "room/report.rs"]
mod report;
#[path = "room/srtp.rs"]
mod srtp;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use procs::{Room, RoomSpec, cpu_seconds, free_port, free_ports, memory_kb};
use report::{CallFigures, Results};
use roombox::control::Request;
use roombox::media::latency::unix_now_ns;
use roombox::meeting::RoomState;

const WARMUP: Duration = Duration::from_secs(3);

/// The QR-stamped test picture and the QR-reading display for a resolution.
fn qr_source(w: u32, h: u32) -> String {
    let pixel = if w >= 1280 { 4 } else { 2 };
    format!(
        "videotestsrc is-live=true ! video/x-raw,width={w},height={h},framerate=30/1 ! debugqroverlay pixel-size={pixel}"
    )
}

fn qr_display(w: u32, h: u32) -> String {
    // Only the middle of the picture goes to the QR reader: zbar is slow on a whole frame.
    let side = if w >= 1280 { 400 } else { 200 };
    let (x, y) = ((w - side) / 2, (h - side) / 2);
    format!("videoconvert ! videocrop left={x} right={x} top={y} bottom={y} ! zbar ! fakesink sync=true")
}

/// The bare 720p source of the plain calls (no QR overlay).
const PLAIN_SOURCE: &str = "videotestsrc is-live=true ! video/x-raw,width=1280,height=720,framerate=30/1";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--baseline-endpoint") {
        let (seconds, out, text) = (args[i + 1].parse().unwrap(), &args[i + 2], &args[i + 3]);
        match baseline::run_endpoint(text, seconds) {
            Ok(report) => std::fs::write(out, serde_json::to_string(&report).unwrap()).unwrap(),
            Err(e) => {
                eprintln!("baseline endpoint failed: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    if args.iter().any(|a| a == "--print-baseline") {
        let (source, display) = (qr_source(1280, 720), qr_display(1280, 720));
        println!("{}", baseline_text(&source, &display, [40000, 40001, 40002, 40003], [40010, 40011, 40012, 40013]));
        println!("{}", baseline_text(&source, &display, [40010, 40011, 40012, 40013], [40000, 40001, 40002, 40003]));
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return; // cargo bench asks benches to list themselves
    }
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    if std::env::var("BENCH_ONLY").as_deref() == Ok("through-host") {
        let samples = meeting::through_host(seconds, WARMUP, &qr_source(1280, 720));
        println!("{:?}", roombox::media::latency::summarize(samples.iter().copied(), samples.len() as u64));
        return;
    }
    if std::env::var("BENCH_ONLY").as_deref() == Ok("meetings") {
        let (md, targets) = meeting::report(&meeting::measure(seconds, WARMUP, &qr_source(1280, 720), 1));
        println!("{md}\n{targets:#?}");
        return;
    }
    if std::env::var("BENCH_ONLY").as_deref() == Ok("srtp") {
        let (qr, mut calls) = ((qr_source(1280, 720), qr_display(1280, 720)), Vec::new());
        let plain = (PLAIN_SOURCE.to_owned(), "fakesink sync=true".to_owned());
        for _ in 0..2 {
            calls.push(roombox_call("roombox", 1280, 720, seconds, &qr, true, ""));
            calls.push(roombox_call("roombox, SRTP off", 1280, 720, seconds, &qr, true, srtp::SRTP_OFF));
            calls.push(roombox_call("roombox plain", 1280, 720, seconds, &plain, false, ""));
            calls.push(roombox_call("roombox plain, SRTP off", 1280, 720, seconds, &plain, false, srtp::SRTP_OFF));
        }
        let (md, targets) = srtp::report(&calls);
        println!("{md}\n{targets:#?}");
        return;
    }
    if std::env::var("BENCH_ONLY").as_deref() == Ok("guests") {
        let (md, targets) = guests::report(&guests::measure(seconds, WARMUP, &qr_source(1280, 720)));
        println!("{md}\n{targets:#?}");
        return;
    }
    if std::env::var("BENCH_ONLY").as_deref() == Ok("guest-joins") {
        let (joins, steps) = guests::joins_only(10);
        println!("guest joins {joins:?}\nmedian ms per step {steps:?}");
        return;
    }
    if std::env::var("BENCH_ONLY").as_deref() == Ok("joins") {
        let (joins, peaks) = roombox_joins(10);
        println!("joins {joins:?}\npeak RSS MB {peaks:?}");
        return;
    }
    if std::env::var("BENCH_ONLY").as_deref() == Ok("leaks") {
        let rss = leak_check(50);
        let [a, b] = report::rss_trend_kb(&rss);
        println!("RSS MB {rss:.1?}\ntrend after the first 5 joins (kB per join) {a:+.0} / {b:+.0}");
        return;
    }
    let mut results = Results::default();
    for (w, h) in [(1280, 720), (640, 360)] {
        let qr = (qr_source(w, h), qr_display(w, h));
        eprintln!("== {w}x{h}: roombox call ({seconds} s)");
        results.calls.push(roombox_call("roombox", w, h, seconds, &qr, true, ""));
        if w == 1280 {
            eprintln!("== {w}x{h}: roombox call without SRTP ({seconds} s)");
            results.calls.push(roombox_call("roombox, SRTP off", w, h, seconds, &qr, true, srtp::SRTP_OFF));
        }
        eprintln!("== {w}x{h}: baseline call ({seconds} s)");
        results.calls.push(baseline_call("baseline", w, h, seconds, &qr));
    }
    // CPU is compared on plain calls: the same bare source and sink on both sides, without the
    // QR overlay and reader, whose cost (zbar alone is a third of a call's CPU) is noise here,
    // and without the self-view, which the baseline does not draw (its cost is its own row).
    let plain = (PLAIN_SOURCE.to_owned(), "fakesink sync=true".to_owned());
    // Two rounds, alternating, so a slow spell of the machine does not land on one side only.
    eprintln!("== 1280x720 plain calls for CPU ({seconds} s each, two rounds)");
    for _ in 0..2 {
        results.calls.push(roombox_call("roombox plain", 1280, 720, seconds, &plain, false, ""));
        results.calls.push(baseline_call("baseline plain", 1280, 720, seconds, &plain));
        results.calls.push(roombox_call("roombox plain, SRTP off", 1280, 720, seconds, &plain, false, srtp::SRTP_OFF));
    }
    results.calls.push(roombox_call("roombox plain + self-view", 1280, 720, seconds, &plain, true, ""));
    eprintln!("== join time: 10 joins");
    (results.roombox_joins, results.plain_peak_rss_mb) = roombox_joins(10);
    results.baseline_joins = baseline_joins(5);
    eprintln!("== memory over 50 joins and leaves");
    results.rss_per_join = leak_check(50);
    eprintln!("== start-up");
    results.startup_ms = startups(5);
    let meetings = meeting::measure(seconds, WARMUP, &qr_source(1280, 720), 3);
    (results.meeting_md, results.meeting_targets) = meeting::report(&meetings);
    let (srtp_md, srtp_targets) = srtp::report(&results.calls);
    results.meeting_md.push_str(&srtp_md);
    results.meeting_targets.extend(srtp_targets);
    let (guests_md, guests_targets) = guests::report(&guests::measure(seconds, WARMUP, &qr_source(1280, 720)));
    results.meeting_md.push_str(&guests_md);
    results.meeting_targets.extend(guests_targets);
    report::write(&results, seconds);
}

fn pair(w: u32, h: u32, source: &str, display: &str, self_view: bool, call_extra: &str) -> (Room, Room) {
    let (pa, pb) = (free_port(), free_port());
    let spec = |name, port, peers, auto_answer| RoomSpec {
        name,
        port,
        peers,
        auto_answer,
        video_source: source,
        display,
        self_view,
        width: w,
        height: h,
        call_extra,
        ..RoomSpec::default()
    };
    let (to_b, to_a) = ([("bergen", pb)], [("oslo", pa)]);
    let a = Room::start(&spec("oslo", pa, &to_b, false));
    let b = Room::start(&spec("bergen", pb, &to_a, true));
    (a, b)
}

fn in_call(a: &Room, b: &Room) {
    a.request(Request::Press);
    for room in [a, b] {
        room.wait(Duration::from_secs(15), |s| s.first_media().is_some_and(|m| m.video_in.decoded_total > 0));
    }
}

fn roombox_call(
    setup: &'static str,
    w: u32,
    h: u32,
    seconds: u64,
    (source, display): &(String, String),
    self_view: bool,
    call_extra: &str,
) -> CallFigures {
    let (a, b) = pair(w, h, source, display, self_view, call_extra);
    in_call(&a, &b);
    std::thread::sleep(WARMUP);
    let cpu0 = [cpu_seconds(a.pid()), cpu_seconds(b.pid())];
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    let minutes = t0.elapsed().as_secs_f64() / 60.0;
    let cpu = [(cpu_seconds(a.pid()) - cpu0[0]) / minutes, (cpu_seconds(b.pid()) - cpu0[1]) / minutes];
    let status = b.status().unwrap();
    let mut figures = CallFigures::new(setup, w, h);
    // The meters' windows hold the warm-up too: keep the last `seconds` worth of samples.
    let last = |v: Vec<f64>, per_s: u64| v[v.len().saturating_sub((seconds * per_s) as usize)..].to_vec();
    for room in [&a, &b] {
        let samples = room.latency_samples().unwrap_or_default();
        figures.g2g_ms.extend(last(samples.glass_to_glass_ms, 30));
        figures.audio_ms.extend(last(samples.audio_ms, 100));
    }
    let media = status.first_media().cloned().unwrap_or_default();
    figures.estimate_median_ms = media.video_in.latency.map(|l| l.median_ms);
    figures.jitter_buffer_ms = media.video_in.jitter_buffer_ms;
    figures.fps = media.video_in.decoded_per_s;
    figures.cpu_s_per_min = cpu.to_vec();
    figures.peak_rss_mb = [&a, &b].iter().map(|r| memory_kb(r.pid(), "VmHWM") as f64 / 1024.0).collect();
    a.request(Request::Leave { peer: None });
    figures
}

fn spawn_baseline(text: &str, seconds: u64, out: &std::path::Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .arg("--baseline-endpoint")
        .arg(seconds.to_string())
        .arg(out)
        .arg(text)
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

fn baseline_text(source: &str, display: &str, own: [u16; 4], peer: [u16; 4]) -> String {
    baseline::pipeline(source, display, own, peer, 20, 2000, 30)
}

fn baseline_call(
    setup: &'static str,
    w: u32,
    h: u32,
    seconds: u64,
    (source, display): &(String, String),
) -> CallFigures {
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (free_ports(), free_ports());
    let total = seconds + WARMUP.as_secs();
    let out = [dir.path().join("a.json"), dir.path().join("b.json")];
    let mut children = [
        spawn_baseline(&baseline_text(source, display, pa, pb), total, &out[0]),
        spawn_baseline(&baseline_text(source, display, pb, pa), total, &out[1]),
    ];
    std::thread::sleep(WARMUP);
    let pids = [children[0].id(), children[1].id()];
    let cpu0 = pids.map(cpu_seconds);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds) - Duration::from_millis(300));
    let minutes = t0.elapsed().as_secs_f64() / 60.0;
    let cpu: Vec<f64> = pids.iter().zip(cpu0).map(|(p, c)| (cpu_seconds(*p) - c) / minutes).collect();
    let rss: Vec<f64> = pids.iter().map(|p| memory_kb(*p, "VmHWM") as f64 / 1024.0).collect();
    let mut figures = CallFigures::new(setup, w, h);
    for (child, path) in children.iter_mut().zip(&out) {
        let _ = child.wait();
        let report: baseline::EndpointReport =
            serde_json::from_slice(&std::fs::read(path).unwrap_or_default()).unwrap_or_default();
        // Drop the warm-up: keep the last `seconds` worth of samples.
        let keep = |v: &[f64], per_s: usize| v[v.len().saturating_sub(seconds as usize * per_s)..].to_vec();
        figures.g2g_ms.extend(keep(&report.g2g_ms, 30));
        figures.audio_ms.extend(keep(&report.audio_ms, 100));
        figures.estimate_median_ms =
            roombox::media::latency::summarize(report.video_estimate_ms.iter().copied(), 0).map(|s| s.median_ms);
    }
    figures.cpu_s_per_min = cpu;
    figures.peak_rss_mb = rss;
    figures.jitter_buffer_ms = Some(20);
    figures
}

/// Press on A → first decoded frame of the other room's video, on each side; also the peak
/// resident memory of both rooms over these plain 720p calls (no measuring instruments). The
/// picture is the plain calls' bare source, as the baseline's: the built-in `test` pattern
/// captions itself with the room's name, and its font stack (pango, fontconfig, harfbuzz) put
/// 5 to 7 MB on each room's peak here, which a room with a camera never loads.
fn roombox_joins(count: usize) -> (Vec<f64>, Vec<f64>) {
    let (a, b) = pair(1280, 720, PLAIN_SOURCE, "none", true, "");
    let mut joins = Vec::new();
    for _ in 0..count {
        let pressed = Instant::now();
        a.request(Request::Press);
        let mut seen = [None, None];
        while seen.iter().any(Option::is_none) && pressed.elapsed() < Duration::from_secs(10) {
            for (i, room) in [&a, &b].iter().enumerate() {
                if seen[i].is_none()
                    && room
                        .status()
                        .and_then(|s| s.first_media().cloned())
                        .is_some_and(|m| m.video_in.decoded_total > 0)
                {
                    seen[i] = Some(pressed.elapsed().as_secs_f64() * 1000.0);
                }
            }
        }
        joins.extend(seen.iter().flatten());
        std::thread::sleep(Duration::from_secs(1));
        a.request(Request::Leave { peer: None });
        for room in [&a, &b] {
            room.wait(Duration::from_secs(5), |s| s.meeting.state == RoomState::Idle);
        }
    }
    let peaks = [&a, &b].iter().map(|r| memory_kb(r.pid(), "VmHWM") as f64 / 1024.0).collect();
    (joins, peaks)
}

/// Launching both hand-written pipelines → first decoded frame at each.
fn baseline_joins(launches: usize) -> Vec<f64> {
    let mut joins = Vec::new();
    for _ in 0..launches {
        let dir = tempfile::tempdir().unwrap();
        let (pa, pb) = (free_ports(), free_ports());
        let text = |own, peer| {
            baseline::pipeline(
                "videotestsrc is-live=true ! video/x-raw,width=1280,height=720,framerate=30/1",
                "fakesink sync=true",
                own,
                peer,
                20,
                2000,
                30,
            )
        };
        let out = [dir.path().join("a.json"), dir.path().join("b.json")];
        let launched = unix_now_ns();
        let mut children = [spawn_baseline(&text(pa, pb), 2, &out[0]), spawn_baseline(&text(pb, pa), 2, &out[1])];
        for (child, path) in children.iter_mut().zip(&out) {
            let _ = child.wait();
            let report: baseline::EndpointReport =
                serde_json::from_slice(&std::fs::read(path).unwrap_or_default()).unwrap_or_default();
            joins.extend(report.first_frame_unix_ns.map(|t| (t.saturating_sub(launched)) as f64 / 1e6));
        }
    }
    joins
}

/// Resident memory of both rooms after each of `cycles` joins and leaves.
fn leak_check(cycles: usize) -> Vec<(f64, f64)> {
    let (a, b) = pair(640, 360, "test", "none", true, "");
    let mut rss = Vec::new();
    for _ in 0..cycles {
        in_call(&a, &b);
        a.request(Request::Leave { peer: None });
        for room in [&a, &b] {
            room.wait(Duration::from_secs(5), |s| s.meeting.state == RoomState::Idle);
        }
        rss.push((memory_kb(a.pid(), "VmRSS") as f64 / 1024.0, memory_kb(b.pid(), "VmRSS") as f64 / 1024.0));
    }
    rss
}

/// `roombox run` → control socket answering.
fn startups(runs: usize) -> Vec<f64> {
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            let peers = [("bergen", free_port())];
            let room = Room::start(&RoomSpec { port: free_port(), peers: &peers, ..RoomSpec::default() });
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            drop(room);
            ms
        })
        .collect()
}
