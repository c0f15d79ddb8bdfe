//! `make bench-net`: a 720p30, 2 Mbit/s call between two rooms over impaired networks. Each
//! room runs in a network namespace of its own, joined through a router namespace that loses,
//! delays, caps or cuts the media both ways (`net/topology.rs`, `net/delay.rs`); bergen's
//! screen reads oslo's QR-stamped picture. Writes bench/network.md, bench/out/network.csv and
//! bench/network.png; targets are printed PASS/FAIL, they are not tests.
//!
//! `BENCH_SECONDS` (default 20) sets how long each condition lasts; `BENCH_ONLY` picks the
//! conditions whose name contains it; `BENCH_DEBUG` prints both rooms' figures every second;
//! `BENCH_LOGS=dir` keeps the rooms' logs there.

#[path = "net/delay.rs"]
mod delay;
#[allow(dead_code)]
#[path = "room/procs.rs"]
mod procs;
#[path = "net/report.rs"]
mod report;
#[path = "net/topology.rs"]
mod topology;

use std::time::{Duration, Instant};

use procs::{Room, RoomSpec};
use report::Figures;
use roombox::control::{Request, Status};
use roombox::media::MediaStats;
use roombox::meeting::LedPattern;
use topology::{A_IP, B_IP, Topology};

const SIP_PORT: u16 = 5060;
const CONFIGURED_KBPS: u32 = 2000;
const WARMUP: Duration = Duration::from_secs(3);
/// Impaired time not measured: jitter buffers, FEC and the rate settle first.
const SETTLE: Duration = Duration::from_secs(2);

/// One network condition: random loss (%) each way, jitter (ms), a cap (kbit/s) each way, an
/// outage (s).
#[derive(Debug, Clone, Copy)]
pub struct Condition {
    pub name: &'static str,
    pub loss: u32,
    pub jitter_ms: u32,
    pub cap_kbps: u32,
    pub outage_s: u64,
}

const fn c(name: &'static str, loss: u32, jitter_ms: u32, cap_kbps: u32, outage_s: u64) -> Condition {
    Condition { name, loss, jitter_ms, cap_kbps, outage_s }
}

const CONDITIONS: [Condition; 10] = [
    c("clean", 0, 0, 0, 0),
    c("1 % loss", 1, 0, 0, 0),
    c("5 % loss", 5, 0, 0, 0),
    c("10 % loss", 10, 0, 0, 0),
    c("20 % loss", 20, 0, 0, 0),
    c("30 ms jitter", 0, 30, 0, 0),
    c("5 % loss + 30 ms jitter", 5, 30, 0, 0),
    c("1 Mbit/s cap", 0, 0, 1000, 0),
    c("500 kbit/s cap", 0, 0, 500, 0),
    c("10 s outage", 0, 0, 0, 10),
];

fn qr_source() -> String {
    "videotestsrc is-live=true ! video/x-raw,width=1280,height=720,framerate=30/1 ! debugqroverlay pixel-size=4".into()
}

fn qr_display() -> String {
    "videoconvert ! videocrop left=440 right=440 top=160 bottom=160 ! zbar ! fakesink sync=true".into()
}

fn media(s: &Status) -> MediaStats {
    s.first_media().cloned().unwrap_or_default()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let net = Topology::create(&[SIP_PORT]);
    let shim = delay::Shim::start(&net.router, &net.tun);
    let mut results = Vec::new();
    for condition in CONDITIONS.iter().filter(|c| c.name.contains(only.as_str())) {
        eprintln!("== {} ({seconds} s)", condition.name);
        results.push(measure(&net, &shim, condition, seconds));
    }
    report::write(&results, seconds);
}

/// oslo's microphone: a steady tone, so that any silence bergen hears is a gap.
const TONE: &str = "audiotestsrc is-live=true samplesperbuffer=480 wave=sine freq=440 volume=0.25";

fn rooms(net: &Topology, heard: &std::path::Path) -> (Room, Room) {
    let (source, display) = (qr_source(), qr_display());
    let speaker = format!(
        "audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! filesink sync=true location={}",
        heard.display()
    );
    let spec = |name, ip, peer_ip, ns, peers, auto_answer, display| RoomSpec {
        name,
        port: SIP_PORT,
        peers,
        auto_answer,
        video_source: &source,
        display,
        self_view: false,
        bitrate_kbps: CONFIGURED_KBPS,
        ip,
        peer_ip,
        netns: Some(ns),
        capture: TONE,
        echo_cancel: false,
        ..RoomSpec::default()
    };
    let oslo = Room::start(&spec("oslo", A_IP, B_IP, &net.a, &[("bergen", SIP_PORT)], false, "fakesink sync=true"));
    let bergen = Room::start(&RoomSpec {
        playback: &speaker,
        ..spec("bergen", B_IP, A_IP, &net.b, &[("oslo", SIP_PORT)], true, &display)
    });
    (oslo, bergen)
}

fn impair(net: &Topology, shim: &delay::Shim, condition: &Condition, on: bool) {
    let pick = |v: u32| if on { v } else { 0 };
    net.set_loss(if condition.outage_s > 0 && on { 100 } else { pick(condition.loss) });
    net.set_cap(pick(condition.cap_kbps));
    shim.set(0, pick(condition.jitter_ms));
    net.route_through_shim(on && condition.jitter_ms > 0);
}

/// A poll of both rooms during the measurement.
pub struct Poll {
    pub at: Instant,
    pub bergen: MediaStats,
    pub oslo_encoder_kbps: u32,
    pub led: LedPattern,
}

fn measure(net: &Topology, shim: &delay::Shim, condition: &Condition, seconds: u64) -> Figures {
    let debug = std::env::var_os("BENCH_DEBUG").is_some();
    let heard = tempfile::NamedTempFile::new().unwrap();
    let (oslo, bergen) = rooms(net, heard.path());
    oslo.request(Request::Press);
    for room in [&oslo, &bergen] {
        room.wait(Duration::from_secs(20), |s| s.first_media().is_some_and(|m| m.video_in.decoded_total > 0));
    }
    std::thread::sleep(WARMUP);
    let started = Instant::now();
    let start_unix_ms = roombox::media::latency::unix_now_ns() as f64 / 1e6;
    impair(net, shim, condition, true);
    let impaired_for =
        if condition.outage_s > 0 { Duration::from_secs(condition.outage_s) } else { Duration::from_secs(seconds) };
    let mut polls = Vec::new();
    let poll = |polls: &mut Vec<Poll>| {
        if let (Some(b), Some(o)) = (bergen.status(), oslo.status()) {
            let (b_media, o_media) = (media(&b), media(&o));
            if debug && polls.len() % 10 == 9 {
                print_debug_line(&b_media, &o_media, started);
            }
            polls.push(Poll {
                at: Instant::now(),
                bergen: b_media,
                oslo_encoder_kbps: o_media.encoder_kbps,
                led: b.meeting.led,
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    while started.elapsed() < impaired_for {
        poll(&mut polls);
    }
    let lifted = Instant::now();
    let lifted_unix_ms = roombox::media::latency::unix_now_ns() as f64 / 1e6;
    impair(net, shim, condition, false);
    // After a cap or an outage: how soon the rate and the picture come back.
    let after = if condition.cap_kbps > 0 || condition.outage_s > 0 { Duration::from_secs(15) } else { Duration::ZERO };
    while lifted.elapsed() < after {
        poll(&mut polls);
        if condition.outage_s > 0 && lifted.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    if debug && let Some(s) = bergen.status() {
        eprintln!("bergen at the end:\n{}", roombox::cli::render_status(&s));
    }
    let samples = bergen.latency_samples().unwrap_or_default();
    let sender = oslo.status().map(|s| media(&s)).unwrap_or_default();
    oslo.request(Request::Leave { peer: None });
    let window = (start_unix_ms + SETTLE.as_secs_f64() * 1000.0, lifted_unix_ms);
    let mut f = report::figures(condition, &polls, started, lifted, &samples, window, &sender, CONFIGURED_KBPS);
    drop((oslo, bergen));
    if condition.outage_s == 0 {
        let recording = std::fs::read(heard.path()).unwrap_or_default();
        f.audio_longest_gap_ms = report::longest_silence_ms(&recording, (WARMUP + SETTLE).as_secs_f64());
    }
    f
}

/// With BENCH_DEBUG: one line of what bergen receives and oslo sends, seconds since the
/// impairment began.
fn print_debug_line(b: &MediaStats, o: &MediaStats, started: Instant) {
    let line = |m: &roombox::media::stats::ReceiveStats| {
        format!("{:.0}/s jitter {:.1} ms jb {:?} ms", m.decoded_per_s, m.jitter_ms, m.jitter_buffer_ms)
    };
    eprintln!(
        "{:.1} s: bergen video {} lost {} given up {} keyframes asked {}, audio {}; \
         oslo sends {:.0} kbit/s, resent {}, keyframes made {}, round trip {:.0} ms, target {:?} ({}), encoder {} kbit/s",
        started.elapsed().as_secs_f64(),
        line(&b.video_in),
        b.video_in.packets_lost,
        b.video_in.unrepaired,
        b.video_in.keyframes_asked,
        line(&b.audio_in),
        o.video_out.kbps,
        o.video_out.resent,
        o.keyframes_on_request,
        o.video_out.rtt_ms.unwrap_or(f64::NAN),
        o.video_out.target_kbps,
        o.video_out.target_reason,
        o.encoder_kbps
    );
}
