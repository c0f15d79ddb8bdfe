//! The benchmark's output: bench/results.md (tables and PASS/FAIL against the targets),
//! bench/out/samples.csv, and the latency plot drawn by bench/plot.py.

use std::fmt::Write as _;
use std::path::Path;

use roombox::media::latency::{LatencySummary, summarize};

#[derive(Debug, Default)]
pub struct CallFigures {
    pub setup: &'static str,
    pub width: u32,
    pub height: u32,
    pub g2g_ms: Vec<f64>,
    pub audio_ms: Vec<f64>,
    pub estimate_median_ms: Option<f64>,
    pub jitter_buffer_ms: Option<u32>,
    pub fps: f64,
    pub cpu_s_per_min: Vec<f64>,
    pub peak_rss_mb: Vec<f64>,
}

impl CallFigures {
    pub fn new(setup: &'static str, width: u32, height: u32) -> Self {
        Self { setup, width, height, ..Self::default() }
    }
    pub fn g2g(&self) -> Option<LatencySummary> {
        summarize(self.g2g_ms.iter().copied(), self.g2g_ms.len() as u64)
    }
    fn audio(&self) -> Option<LatencySummary> {
        summarize(self.audio_ms.iter().copied(), self.audio_ms.len() as u64)
    }
    pub fn cpu(&self) -> f64 {
        self.cpu_s_per_min.iter().sum::<f64>() / self.cpu_s_per_min.len().max(1) as f64
    }
}

#[derive(Debug, Default)]
pub struct Results {
    pub calls: Vec<CallFigures>,
    pub roombox_joins: Vec<f64>,
    pub baseline_joins: Vec<f64>,
    pub rss_per_join: Vec<(f64, f64)>,
    /// Peak RSS of each room over plain 720p calls (test sources, no QR instruments).
    pub plain_peak_rss_mb: Vec<f64>,
    pub startup_ms: Vec<f64>,
    /// The meetings section (from `meeting.rs`) and its targets.
    pub meeting_md: String,
    pub meeting_targets: Vec<(String, bool, String)>,
}

/// Glass to glass of a two-place 720p call as the last benchmark before meetings measured it
/// (session 2): a two-place call must not get slower now that it runs in the room graph.
const TWO_PLACE_G2G_BEFORE_MS: f64 = 16.8;

pub fn median(v: &[f64]) -> Option<f64> {
    summarize(v.iter().copied(), v.len() as u64).map(|s| s.median_ms)
}

/// Figures separated by commas, each with `digits` decimals (one per room or per round).
pub fn list(v: &[f64], digits: usize) -> String {
    v.iter().map(|x| format!("{x:.digits$}")).collect::<Vec<_>>().join(", ")
}

fn fmt_summary(s: &Option<LatencySummary>) -> String {
    s.as_ref().map_or("no samples".into(), |s| {
        format!("{:.1} / {:.1} / {:.1} (n={})", s.median_ms, s.p95_ms, s.max_ms, s.samples)
    })
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

/// Least-squares slope of y over its index.
fn slope(y: &[f64]) -> f64 {
    let n = y.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mx = (n - 1.0) / 2.0;
    let my = y.iter().sum::<f64>() / n;
    let (num, den) = y
        .iter()
        .enumerate()
        .fold((0.0, 0.0), |(a, b), (i, v)| (a + (i as f64 - mx) * (v - my), b + (i as f64 - mx).powi(2)));
    num / den
}

/// Each room's RSS growth in kB per join over `rss` (MB after each join and leave, both
/// rooms), leaving out the first 5 joins, whose caches and pools still fill.
pub fn rss_trend_kb(rss: &[(f64, f64)]) -> [f64; 2] {
    let series = |room: fn(&(f64, f64)) -> f64| rss.iter().skip(5).map(room).collect::<Vec<_>>();
    [slope(&series(|p| p.0)) * 1024.0, slope(&series(|p| p.1)) * 1024.0]
}

pub fn write(r: &Results, seconds: u64) {
    let mut md = String::new();
    let machine = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let _ = writeln!(md, "# roombox benchmark results\n");
    let _ = writeln!(
        md,
        "Produced by `make bench` ({seconds} s per measured call, loopback, simulated devices, H.264 2 Mbit/s, Opus 64 kbit/s; {} cores, {machine}).",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let _ = writeln!(
        md,
        "Baseline: a hand-written gst-launch pipeline per endpoint with the same encoder settings and `rtpbin latency=20` (see `benches/room/baseline.rs`).\n"
    );
    let _ = writeln!(
        md,
        "## Calls\n\n| setup | size | glass-to-glass ms median / p95 / max | mouth-to-ear ms median / p95 / max | live estimate (median) | jitter buffer ms | fps | CPU s/min per endpoint | peak RSS MB per endpoint |\n|---|---|---|---|---|---|---|---|---|"
    );
    for c in &r.calls {
        let _ = writeln!(
            md,
            "| {} | {}x{} | {} | {} | {} | {} | {} | {} | {} |",
            c.setup,
            c.width,
            c.height,
            fmt_summary(&c.g2g()),
            fmt_summary(&c.audio()),
            c.estimate_median_ms.map_or("-".into(), |e| format!("{e:.1}")),
            c.jitter_buffer_ms.map_or("-".into(), |j| j.to_string()),
            if c.fps > 0.0 { format!("{:.1}", c.fps) } else { "-".into() },
            list(&c.cpu_s_per_min, 1),
            list(&c.peak_rss_mb, 0),
        );
    }
    let _ = writeln!(
        md,
        "\n## Ratios (roombox / baseline, same run)\n\n| call | glass-to-glass median | mouth-to-ear median | CPU |\n|---|---|---|---|"
    );
    for pair in r.calls.chunks(2) {
        if let [rb, base] = pair {
            let ratio = |a: Option<LatencySummary>, b: Option<LatencySummary>| match (a, b) {
                (Some(a), Some(b)) if b.median_ms > 0.0 => format!("{:.2}", a.median_ms / b.median_ms),
                _ => "-".into(),
            };
            let _ = writeln!(
                md,
                "| {} {}x{} | {} | {} | {:.2} |",
                if rb.setup.contains("plain") { "plain" } else { "QR-instrumented" },
                rb.width,
                rb.height,
                ratio(rb.g2g(), base.g2g()),
                ratio(rb.audio(), base.audio()),
                rb.cpu() / base.cpu().max(1e-9)
            );
        }
    }
    let joins = median(&r.roombox_joins);
    let base_joins = median(&r.baseline_joins);
    let startup = median(&r.startup_ms);
    let trend = rss_trend_kb(&r.rss_per_join);
    let _ = writeln!(md, "\n## Joining, memory, start-up\n");
    let _ = writeln!(
        md,
        "- Join time (press → first decoded remote frame), roombox: median {} ms over {} joins (both sides); baseline (launch → first frame): median {} ms.",
        joins.map_or("-".into(), |j| format!("{j:.0}")),
        r.roombox_joins.len(),
        base_joins.map_or("-".into(), |j| format!("{j:.0}"))
    );
    let _ = writeln!(
        md,
        "- RSS over {} joins and leaves: {:.1} → {:.1} MB (room A), {:.1} → {:.1} MB (room B); trend after the first 5: {:+.0} / {:+.0} kB per join.",
        r.rss_per_join.len(),
        r.rss_per_join.first().map_or(0.0, |p| p.0),
        r.rss_per_join.last().map_or(0.0, |p| p.0),
        r.rss_per_join.first().map_or(0.0, |p| p.1),
        r.rss_per_join.last().map_or(0.0, |p| p.1),
        trend[0],
        trend[1]
    );
    let plain: Vec<String> = r.plain_peak_rss_mb.iter().map(|v| format!("{v:.0}")).collect();
    let _ = writeln!(
        md,
        "- Peak RSS over 10 plain 720p calls (the bare test source, self-view on, no QR instruments): {} MB per room. The call table's peak \
         includes the bench's QR overlay and reader (`debugqroverlay`, `zbar`), which the baseline carries too.",
        plain.join(", ")
    );
    let _ = writeln!(
        md,
        "- Start-up (`roombox run` → control socket answering): median {} ms over {} runs.",
        startup.map_or("-".into(), |s| format!("{s:.0}")),
        r.startup_ms.len()
    );

    let hd = r.calls.iter().find(|c| c.setup == "roombox" && c.width == 1280);
    let g2g = hd.and_then(|c| c.g2g()).map(|s| s.median_ms);
    let estimate_gap = hd.and_then(|c| Some((c.estimate_median_ms? - c.g2g()?.median_ms).abs()));
    // Mean CPU of every call with this setup (the plain calls run in alternating rounds).
    let mean_cpu = |setup: &str| {
        let cpus: Vec<f64> = r.calls.iter().filter(|c| c.setup == setup).map(CallFigures::cpu).collect();
        (!cpus.is_empty()).then(|| cpus.iter().sum::<f64>() / cpus.len() as f64)
    };
    let plain = mean_cpu("roombox plain").zip(mean_cpu("baseline plain"));
    let cpu_ratio = plain.map(|(a, b)| a / b.max(1e-9));
    if let Some((with, without)) = mean_cpu("roombox plain + self-view").zip(plain.map(|p| p.0)) {
        let _ = writeln!(
            md,
            "- Self-view (this room's picture in the corner, 15 fps): {with:.1} s/min per endpoint against {without:.1} without ({:+.0}%); the baseline draws none, so the CPU target compares calls without it.",
            (with / without.max(1e-9) - 1.0) * 100.0
        );
    }
    let peak = r.plain_peak_rss_mb.iter().copied().fold(0.0, f64::max);
    let targets = [
        (
            "Glass-to-glass median ≤ 30 ms at 720p30",
            g2g.is_some_and(|g| g <= 30.0),
            g2g.map_or("no samples".into(), |g| format!("{g:.1} ms")),
        ),
        (
            "Live latency estimate within 5 ms of the QR figure",
            estimate_gap.is_some_and(|d| d <= 5.0),
            estimate_gap.map_or("-".into(), |d| format!("{d:.1} ms apart")),
        ),
        (
            "Join time median ≤ 200 ms",
            joins.is_some_and(|j| j <= 200.0),
            joins.map_or("-".into(), |j| format!("{j:.0} ms")),
        ),
        (
            "CPU per endpoint ≤ 1.1× baseline (plain 720p call)",
            cpu_ratio.is_some_and(|c| c <= 1.1),
            cpu_ratio.map_or("-".into(), |c| format!("{c:.2}×")),
        ),
        ("Peak RSS ≤ 80 MB (plain 720p call)", peak > 0.0 && peak <= 80.0, format!("{peak:.0} MB")),
        (
            "No RSS growth over 50 joins (< 20 kB/join)",
            trend.iter().all(|kb| *kb < 20.0),
            format!("{:+.0} / {:+.0} kB/join", trend[0], trend[1]),
        ),
        (
            "Start-up ≤ 500 ms",
            startup.is_some_and(|s| s <= 500.0),
            startup.map_or("-".into(), |s| format!("{s:.0} ms")),
        ),
        (
            "Two-place glass-to-glass no worse than before meetings (16.8 ms, + 1 ms)",
            g2g.is_some_and(|g| g <= TWO_PLACE_G2G_BEFORE_MS + 1.0),
            g2g.map_or("no samples".into(), |g| format!("{g:.1} ms")),
        ),
    ];
    let owned: Vec<(String, bool, String)> =
        targets.into_iter().map(|(n, ok, v)| (n.to_owned(), ok, v)).chain(r.meeting_targets.iter().cloned()).collect();
    md.push_str(&r.meeting_md);
    let _ = writeln!(md, "\n## Targets\n\n| target | result | measured |\n|---|---|---|");
    for (name, ok, value) in &owned {
        let _ = writeln!(md, "| {name} | {} | {value} |", verdict(*ok));
        println!("{}  {name}: {value}", verdict(*ok));
    }
    let _ = writeln!(md, "\n![latency distribution](latency.png)\n");
    if let Ok(notes) = std::fs::read_to_string("bench/findings.md") {
        md.push_str(&notes);
    }
    std::fs::create_dir_all("bench/out").unwrap();
    std::fs::write("bench/results.md", md).unwrap();
    let mut csv = String::from("setup,size,kind,ms\n");
    for c in &r.calls {
        for (kind, values) in [("video", &c.g2g_ms), ("audio", &c.audio_ms)] {
            for v in values.iter() {
                // Quoted: a setup's name may hold a comma ("roombox, SRTP off").
                let _ = writeln!(csv, "\"{}\",{}x{},{kind},{v:.3}", c.setup, c.width, c.height);
            }
        }
    }
    std::fs::write("bench/out/samples.csv", csv).unwrap();
    let plotted = std::process::Command::new("/usr/bin/python3")
        .args(["bench/plot.py", "bench/out/samples.csv", "bench/latency.png"])
        .status();
    if !plotted.is_ok_and(|s| s.success()) || !Path::new("bench/latency.png").exists() {
        eprintln!("warning: the plot was not drawn (python3-matplotlib missing?)");
    }
    println!("wrote bench/results.md and bench/latency.png");
}
