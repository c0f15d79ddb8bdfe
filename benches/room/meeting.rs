//! Meetings in the benchmark: CPU and peak memory of the host and of a remote place at 2, 3
//! and 4 places (720p30, plain test sources, no self-view), glass-to-glass from one remote place
//! to another through the host (QR), and how much of a far end's own voice comes back from a
//! room whose speaker feeds its microphone, with the echo canceller off and on.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use roombox::media::stats::{s16le_samples, tone_level_db};
use roombox::meeting::RoomState;

use super::procs::{Room, RoomSpec, cpu_seconds, free_port, memory_kb};
use super::report::{list, median};

const PLAIN: &str = "videotestsrc is-live=true ! video/x-raw,width=1280,height=720,framerate=30/1";
const NAMES: [&str; 4] = ["oslo", "bergen", "tromso", "narvik"];

/// One meeting size's figures.
#[derive(Debug, Default)]
pub struct Size {
    pub places: usize,
    pub host_cpu: f64,
    pub remote_cpu: Vec<f64>,
    pub host_rss_mb: f64,
    pub remote_rss_mb: Vec<f64>,
    /// The slowest decoding leg of any room (frames/s).
    pub min_fps: f64,
}

#[derive(Debug, Default)]
pub struct MeetingResults {
    pub sizes: Vec<Size>,
    pub through_host_ms: Vec<f64>,
    /// The far end's tone coming back (dBFS): (canceller off, canceller on), per round.
    pub echo_db: Vec<(f64, f64)>,
}

/// Every meeting figure: meetings of 2, 3 and 4 places, glass to glass through the host (with
/// `qr_source` at the sending place), and `echo_rounds` rounds of the echo canceller off and on.
pub fn measure(seconds: u64, warmup: Duration, qr_source: &str, echo_rounds: usize) -> MeetingResults {
    let mut meetings = MeetingResults::default();
    for places in [2, 3, 4] {
        eprintln!("== meeting of {places} places ({seconds} s)");
        meetings.sizes.push(size(places, seconds, warmup));
    }
    eprintln!("== glass to glass through the host ({seconds} s)");
    meetings.through_host_ms = through_host(seconds, warmup, qr_source);
    eprintln!("== echo returned, canceller off and on ({echo_rounds} rounds)");
    for _ in 0..echo_rounds {
        let settle = Duration::from_secs(8);
        meetings.echo_db.push((echo_returned(false, settle), echo_returned(true, settle)));
    }
    meetings
}

/// A host dialling `remotes` rooms (each described by `remote(i)`), all started; the host has
/// `host` as its video source and display.
fn start(places: usize, host: (&str, &str), remote: impl Fn(usize) -> (String, String)) -> Vec<Room> {
    let ports: Vec<u16> = (0..places).map(|_| free_port()).collect();
    let peers: Vec<(&str, u16)> = (1..places).map(|i| (NAMES[i], ports[i])).collect();
    let base = RoomSpec { self_view: false, ..RoomSpec::default() };
    let mut rooms = vec![Room::start(&RoomSpec {
        name: NAMES[0],
        port: ports[0],
        peers: &peers,
        video_source: host.0,
        display: host.1,
        ..base
    })];
    let to_host = [(NAMES[0], ports[0])];
    for i in 1..places {
        let (source, display) = remote(i);
        rooms.push(Room::start(&RoomSpec {
            name: NAMES[i],
            port: ports[i],
            peers: &to_host,
            auto_answer: true,
            video_source: &source,
            display: &display,
            self_view: false,
            ..RoomSpec::default()
        }));
    }
    rooms[0].request(roombox::control::Request::Press);
    rooms[0].wait(Duration::from_secs(30), |s| {
        s.media.len() == places - 1 && s.media.iter().all(|m| m.stats.video_in.decoded_total > 0)
    });
    rooms
}

fn min_fps(rooms: &[Room]) -> f64 {
    let fps = rooms.iter().filter_map(|r| r.status()).flat_map(|s| s.media).map(|m| m.stats.video_in.decoded_per_s);
    fps.fold(f64::INFINITY, f64::min)
}

/// CPU (s/min) and peak RSS of every room of a `places`-place meeting over `seconds`.
pub fn size(places: usize, seconds: u64, warmup: Duration) -> Size {
    let rooms = start(places, (PLAIN, "fakesink sync=true"), |_| (PLAIN.into(), "fakesink sync=true".into()));
    std::thread::sleep(warmup);
    let cpu0: Vec<f64> = rooms.iter().map(|r| cpu_seconds(r.pid())).collect();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    let minutes = t0.elapsed().as_secs_f64() / 60.0;
    let cpu: Vec<f64> = rooms.iter().zip(&cpu0).map(|(r, c)| (cpu_seconds(r.pid()) - c) / minutes).collect();
    let rss: Vec<f64> = rooms.iter().map(|r| memory_kb(r.pid(), "VmHWM") as f64 / 1024.0).collect();
    let figures = Size {
        places,
        host_cpu: cpu[0],
        remote_cpu: cpu[1..].to_vec(),
        host_rss_mb: rss[0],
        remote_rss_mb: rss[1..].to_vec(),
        min_fps: min_fps(&rooms),
    };
    leave(&rooms);
    figures
}

fn leave(rooms: &[Room]) {
    rooms[0].request(roombox::control::Request::Leave { peer: None });
    rooms[0].wait(Duration::from_secs(10), |s| s.meeting.state == RoomState::Idle);
}

/// Glass to glass from bergen (QR source) to tromso (QR reader) through oslo's gallery.
pub fn through_host(seconds: u64, warmup: Duration, qr_source: &str) -> Vec<f64> {
    let reader = "videoconvert ! zbar ! fakesink sync=true";
    let rooms = start(3, (PLAIN, "fakesink sync=true"), |i| {
        if i == 1 { (qr_source.into(), "fakesink sync=true".into()) } else { (PLAIN.into(), reader.into()) }
    });
    std::thread::sleep(warmup + Duration::from_secs(seconds));
    let samples = rooms[2].latency_samples().unwrap_or_default().glass_to_glass_ms;
    if std::env::var("BENCH_VERBOSE").is_ok() {
        for room in &rooms {
            for m in room.status().map(|s| s.media).unwrap_or_default() {
                let v = &m.stats.video_in;
                eprintln!(
                    "{}: {} jb {:?} est {:?} fps {:.1}",
                    room.name,
                    m.leg,
                    v.jitter_buffer_ms,
                    v.latency.as_ref().map(|l| l.median_ms),
                    v.decoded_per_s
                );
            }
        }
    }
    leave(&rooms);
    samples[samples.len().saturating_sub(seconds as usize * 30)..].to_vec()
}

/// The level at which a far end hears its own 660 Hz tone back from a loopback room.
pub fn echo_returned(echo_cancel: bool, settle: Duration) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let heard = dir.path().join("far.raw");
    let (pa, pb) = (free_port(), free_port());
    let (to_b, to_a) = ([("bergen", pb)], [("oslo", pa)]);
    let playback = format!(
        "audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! filesink sync=true location={}",
        heard.display()
    );
    let a = Room::start(&RoomSpec {
        port: pa,
        peers: &to_b,
        capture: "interaudiosrc channel=room ! volume volume=0.5",
        playback: "interaudiosink channel=room",
        echo_cancel,
        width: 320,
        height: 240,
        ..RoomSpec::default()
    });
    let b = Room::start(&RoomSpec {
        name: "bergen",
        port: pb,
        peers: &to_a,
        auto_answer: true,
        capture: "audiotestsrc is-live=true samplesperbuffer=480 wave=sine freq=660 volume=0.25",
        playback: &playback,
        width: 320,
        height: 240,
        ..RoomSpec::default()
    });
    a.request(roombox::control::Request::Press);
    b.wait(Duration::from_secs(20), |s| s.first_media().is_some_and(|m| m.audio_in.decoded_total > 0));
    std::thread::sleep(settle);
    let samples = s16le_samples(&std::fs::read(&heard).unwrap_or_default());
    let last = &samples[samples.len().saturating_sub(3 * 48000)..];
    drop((a, b));
    tone_level_db(last, 660.0, 48000.0)
}

/// The meetings section of bench/results.md, and its targets (name, passed, measured).
pub fn report(r: &MeetingResults) -> (String, Vec<(String, bool, String)>) {
    let mut md = String::from(
        "\n## Meetings\n\n1280x720 at 30 fps, plain test sources, no self-view; the host dials every other place.\n\n\
         | places | host CPU s/min | remote CPU s/min | host peak RSS MB | remote peak RSS MB | slowest leg fps |\n|---|---|---|---|---|---|\n",
    );
    for s in &r.sizes {
        let _ = writeln!(
            md,
            "| {} | {:.1} | {} | {:.0} | {} | {:.1} |",
            s.places,
            s.host_cpu,
            list(&s.remote_cpu, 1),
            s.host_rss_mb,
            list(&s.remote_rss_mb, 0),
            s.min_fps
        );
    }
    let through = roombox::media::latency::summarize(r.through_host_ms.iter().copied(), r.through_host_ms.len() as u64);
    let _ = writeln!(
        md,
        "\n- Glass to glass from one remote place to another through the host's gallery (QR): {}.",
        through.as_ref().map_or("no samples".into(), |s| format!(
            "median {:.1} ms, p95 {:.1}, max {:.1} (n={})",
            s.median_ms, s.p95_ms, s.max_ms, s.samples
        ))
    );
    let off: Vec<f64> = r.echo_db.iter().map(|e| e.0).collect();
    let on: Vec<f64> = r.echo_db.iter().map(|e| e.1).collect();
    let _ = writeln!(
        md,
        "- Echo: a room whose speaker feeds its own microphone (GStreamer inter elements, −6 dB) calls a room sending a 660 Hz tone; \
         the far end hears its tone back at {} dBFS with the canceller off and {} dBFS with it on (rounds).",
        list(&off, 1),
        list(&on, 1)
    );
    let by = |places| r.sizes.iter().find(|s| s.places == places);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let host_ratio = by(4).zip(by(2)).map(|(four, two)| four.host_cpu / two.host_cpu.max(1e-9));
    let remote_ratio = by(4).zip(by(2)).map(|(four, two)| mean(&four.remote_cpu) / mean(&two.remote_cpu).max(1e-9));
    let through_median = through.map(|s| s.median_ms);
    let echo_gain = median(&off).zip(median(&on)).map(|(off, on)| off - on);
    let targets = vec![
        (
            "Host of a 4-place meeting ≤ 3× the CPU of a 2-place call".to_owned(),
            host_ratio.is_some_and(|x| x <= 3.0),
            host_ratio.map_or("-".into(), |x| format!("{x:.2}×")),
        ),
        (
            "A remote place's CPU unchanged from a 2-place call (≤ 1.15×)".to_owned(),
            remote_ratio.is_some_and(|x| x <= 1.15),
            remote_ratio.map_or("-".into(), |x| format!("{x:.2}×")),
        ),
        (
            "Glass-to-glass remote → host → remote median ≤ 45 ms".to_owned(),
            through_median.is_some_and(|m| m <= 45.0),
            through_median.map_or("no samples".into(), |m| format!("{m:.1} ms")),
        ),
        (
            "Echo back at the far end ≥ 20 dB quieter with the canceller on".to_owned(),
            echo_gain.is_some_and(|g| g >= 20.0),
            echo_gain.map_or("-".into(), |g| format!("{g:.1} dB")),
        ),
    ];
    (md, targets)
}
