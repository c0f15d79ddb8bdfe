//! The figures of one network condition, from the polls of both rooms and the QR reader's
//! samples at bergen, and the report: bench/network.md (with PASS/FAIL targets),
//! bench/out/network.csv and bench/network.png.

use std::fmt::Write as _;
use std::time::Instant;

use roombox::media::MediaStats;
use roombox::media::latency::{LatencySamples, summarize};
use roombox::meeting::LedPattern;

use crate::{Condition, Poll, SETTLE};

#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub name: String,
    pub decoded_fps: f64,
    pub intact_fps: f64,
    pub intact_share: f64,
    pub longest_freeze_ms: f64,
    pub g2g_median_ms: Option<f64>,
    pub audio_concealed_pct: f64,
    pub audio_longest_gap_ms: f64,
    pub sender_kbps: u32,
    pub sender_reason: String,
    pub call_up: bool,
    /// Caps: seconds until the sender went below the cap, and back to the configured rate.
    pub settle_s: Option<f64>,
    pub back_s: Option<f64>,
    /// Outages: seconds until the LED showed it, and until the picture was back.
    pub interrupted_s: Option<f64>,
    pub resumed_s: Option<f64>,
}

/// The longest run of silence (10 ms blocks under -50 dBFS) in a recording of 48 kHz mono
/// S16LE, skipping its first `skip_s` and last second: a gap in what bergen heard. Concealed
/// packets sound (Opus fills them in); a lost stream does not.
pub fn longest_silence_ms(recording: &[u8], skip_s: f64) -> f64 {
    let samples = roombox::media::stats::s16le_samples(recording);
    let (from, to) = ((skip_s * 48000.0) as usize, samples.len().saturating_sub(48000));
    let (mut run, mut longest) = (0usize, 0usize);
    for block in samples.get(from..to.max(from)).unwrap_or_default().chunks(480) {
        let rms = (block.iter().map(|x| x * x).sum::<f64>() / block.len().max(1) as f64).sqrt();
        if rms < 10f64.powf(-50.0 / 20.0) {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest as f64 * 10.0
}

#[allow(clippy::too_many_arguments)]
pub fn figures(
    condition: &Condition,
    polls: &[Poll],
    started: Instant,
    lifted: Instant,
    samples: &LatencySamples,
    (from_ms, to_ms): (f64, f64),
    sender: &MediaStats,
    configured: u32,
) -> Figures {
    let in_window: Vec<&Poll> = polls.iter().filter(|p| p.at >= started + SETTLE && p.at <= lifted).collect();
    let mut f = Figures { name: condition.name.into(), ..Figures::default() };
    if let (Some(first), Some(last)) = (in_window.first(), in_window.last()) {
        let dt = last.at.duration_since(first.at).as_secs_f64().max(1e-3);
        let (b0, b1) = (&first.bergen, &last.bergen);
        f.decoded_fps = (b1.video_in.decoded_total - b0.video_in.decoded_total) as f64 / dt;
        let decoded = (b1.audio_in.decoded_total - b0.audio_in.decoded_total).max(1) as f64;
        f.audio_concealed_pct =
            (b1.audio_in.unrepaired.saturating_sub(b0.audio_in.unrepaired)) as f64 * 100.0 / decoded;
        f.sender_kbps = last.oslo_encoder_kbps;
        f.call_up = last.bergen.video_in.decoded_per_s > 0.0 || condition.outage_s > 0;
    }
    f.sender_reason = sender.video_out.target_reason.clone();
    // Frames shown intact: those whose QR code the reader could read.
    let shown: Vec<(f64, f64)> =
        samples.shown_unix_ms.iter().copied().zip(samples.glass_to_glass_ms.iter().copied()).collect();
    let mut times: Vec<f64> = shown.iter().map(|(t, _)| *t).filter(|t| (from_ms..=to_ms).contains(t)).collect();
    times.sort_by(f64::total_cmp);
    let secs = ((to_ms - from_ms) / 1000.0).max(1e-3);
    f.intact_fps = times.len() as f64 / secs;
    f.intact_share = (f.intact_fps / 30.0).min(1.0);
    let edges = std::iter::once(from_ms).chain(times.iter().copied()).chain(std::iter::once(to_ms)).collect::<Vec<_>>();
    f.longest_freeze_ms = edges.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    let g2g = shown.iter().filter(|(t, _)| (from_ms..=to_ms).contains(t)).map(|(_, g)| *g);
    f.g2g_median_ms = summarize(g2g, 0).map(|s| s.median_ms);
    if condition.cap_kbps > 0 {
        let below = polls.iter().find(|p| p.at >= started && p.oslo_encoder_kbps < condition.cap_kbps);
        f.settle_s = below.map(|p| p.at.duration_since(started).as_secs_f64());
        let back = polls.iter().find(|p| p.at >= lifted && p.oslo_encoder_kbps >= configured);
        f.back_s = back.map(|p| p.at.duration_since(lifted).as_secs_f64());
    }
    if condition.outage_s > 0 {
        let shown_led = polls.iter().find(|p| p.at >= started && p.led == LedPattern::Interrupted);
        f.interrupted_s = shown_led.map(|p| p.at.duration_since(started).as_secs_f64());
        let lifted_ms = to_ms;
        let mut after: Vec<f64> = shown.iter().map(|(t, _)| *t).filter(|t| *t > lifted_ms).collect();
        after.sort_by(f64::total_cmp);
        f.resumed_s = after.first().map(|t| (t - lifted_ms) / 1000.0);
        f.call_up = polls.last().is_some_and(|p| p.bergen.video_in.decoded_per_s > 0.0);
    }
    f
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

/// The targets of the issue, each with what was measured.
fn targets(results: &[Figures]) -> Vec<String> {
    let find = |name: &str| results.iter().find(|f| f.name == name);
    let ms = |v: Option<f64>| v.unwrap_or(f64::INFINITY);
    let mut out = Vec::new();
    if let Some(f) = find("clean") {
        out.push(format!(
            "{} clean link: glass-to-glass median {:.1} ms (target ≈ 17 ms, ≤ 18)",
            verdict(ms(f.g2g_median_ms) <= 18.0),
            ms(f.g2g_median_ms)
        ));
    }
    if let Some(f) = find("5 % loss") {
        let ok = f.intact_fps >= 29.0 && f.longest_freeze_ms <= 200.0 && ms(f.g2g_median_ms) <= 50.0;
        out.push(format!(
            "{} 5 % loss: {:.1} fps intact (≥ 29), longest freeze {:.0} ms (≤ 200), G2G {:.1} ms (≤ 50)",
            verdict(ok),
            f.intact_fps,
            f.longest_freeze_ms,
            ms(f.g2g_median_ms)
        ));
    }
    if let Some(f) = find("20 % loss") {
        let ok = f.intact_fps >= 25.0 && f.longest_freeze_ms <= 500.0 && f.audio_longest_gap_ms <= 200.0 && f.call_up;
        out.push(format!("{} 20 % loss: {:.1} fps intact (≥ 25), longest freeze {:.0} ms (≤ 500), audio gap {:.0} ms (≤ 200), call up: {}", verdict(ok), f.intact_fps, f.longest_freeze_ms, f.audio_longest_gap_ms, f.call_up));
    }
    if let Some(f) = find("5 % loss + 30 ms jitter") {
        let ok = f.intact_share >= 0.97 && f.longest_freeze_ms <= 300.0 && ms(f.g2g_median_ms) <= 80.0;
        out.push(format!(
            "{} 5 % loss + 30 ms jitter: {:.1} % intact (≥ 97), longest freeze {:.0} ms (≤ 300), G2G {:.1} ms (≤ 80)",
            verdict(ok),
            f.intact_share * 100.0,
            f.longest_freeze_ms,
            ms(f.g2g_median_ms)
        ));
    }
    if let Some(f) = find("1 Mbit/s cap") {
        let ok = ms(f.settle_s) <= 5.0 && f.longest_freeze_ms <= 1000.0 && ms(f.back_s) <= 10.0;
        out.push(format!("{} 1 Mbit/s cap: below the cap after {:.1} s (≤ 5), longest freeze {:.0} ms (≤ 1000), configured rate again {:.1} s after (≤ 10)", verdict(ok), ms(f.settle_s), f.longest_freeze_ms, ms(f.back_s)));
    }
    if let Some(f) = find("10 s outage") {
        let ok = ms(f.interrupted_s) <= 3.0 && ms(f.resumed_s) <= 1.0 && f.call_up;
        out.push(format!(
            "{} 10 s outage: LED shows it after {:.1} s (≤ 3), picture back {:.2} s after the link (≤ 1), call up: {}",
            verdict(ok),
            ms(f.interrupted_s),
            ms(f.resumed_s),
            f.call_up
        ));
    }
    out
}

fn opt(v: Option<f64>, unit: &str) -> String {
    v.map_or("-".into(), |v| format!("{v:.1} {unit}"))
}

pub fn write(results: &[Figures], seconds: u64) {
    let mut md = format!(
        "# Calls over impaired networks\n\n`make bench-net` on this machine: 720p30 at 2 Mbit/s, two rooms in network \
         namespaces through a router namespace; impairments on all media, both ways ({seconds} s per condition, \
         the first {} s not measured). Figures at bergen, receiving oslo's QR-stamped picture: a frame counts as \
         shown intact when its QR code can be read.\n\n\
         | condition | decoded fps | shown intact fps | longest freeze | G2G median | audio concealed | longest audio gap | sender settled on | recovery |\n\
         |---|---|---|---|---|---|---|---|---|\n",
        SETTLE.as_secs()
    );
    let mut csv = String::from(
        "condition,decoded_fps,intact_fps,longest_freeze_ms,g2g_median_ms,audio_concealed_pct,sender_kbps\n",
    );
    for f in results {
        let recovery = match (f.settle_s, f.back_s, f.interrupted_s, f.resumed_s) {
            (Some(_), _, _, _) | (_, Some(_), _, _) => {
                format!("below cap {}, back {}", opt(f.settle_s, "s"), opt(f.back_s, "s"))
            }
            (_, _, i, r) if i.is_some() || r.is_some() => format!("LED {}, picture back {}", opt(i, "s"), opt(r, "s")),
            _ => "-".into(),
        };
        let _ = writeln!(
            md,
            "| {} | {:.1} | {:.1} ({:.0} %) | {:.0} ms | {} | {:.1} % | {:.0} ms | {} kbit/s ({}) | {} |",
            f.name,
            f.decoded_fps,
            f.intact_fps,
            f.intact_share * 100.0,
            f.longest_freeze_ms,
            opt(f.g2g_median_ms, "ms"),
            f.audio_concealed_pct,
            f.audio_longest_gap_ms,
            f.sender_kbps,
            f.sender_reason,
            recovery
        );
        let _ = writeln!(
            csv,
            "{},{:.2},{:.2},{:.1},{:.2},{:.2},{}",
            f.name,
            f.decoded_fps,
            f.intact_fps,
            f.longest_freeze_ms,
            f.g2g_median_ms.unwrap_or(f64::NAN),
            f.audio_concealed_pct,
            f.sender_kbps
        );
    }
    md += "\n## Targets\n\n";
    for t in targets(results) {
        eprintln!("{t}");
        let _ = writeln!(md, "- {t}");
    }
    md += "\n![intact frames and freezes per condition](network.png)\n";
    let root = env!("CARGO_MANIFEST_DIR");
    std::fs::create_dir_all(format!("{root}/bench/out")).unwrap();
    std::fs::write(format!("{root}/bench/out/network.csv"), csv).unwrap();
    std::fs::write(format!("{root}/bench/network.md"), md).unwrap();
    // Debian's python3, which has python3-matplotlib (not whatever python3 is first on PATH).
    let plot = std::process::Command::new("/usr/bin/python3")
        .arg(format!("{root}/bench/plot_net.py"))
        .arg(format!("{root}/bench/out/network.csv"))
        .arg(format!("{root}/bench/network.png"))
        .status();
    if !plot.is_ok_and(|s| s.success()) {
        eprintln!("bench/network.png not drawn (python3-matplotlib: scripts/install-deps bench)");
    }
}
