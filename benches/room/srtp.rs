//! What encryption costs: the same 720p calls with SRTP (the default) and with
//! `encryption = "off"`, measured in alternating rounds of one run. CPU comes from the plain
//! calls (no QR instruments, whose own cost is noise here), glass to glass from the QR ones.

use std::fmt::Write as _;

use super::report::{CallFigures, median};

pub const SRTP_OFF: &str = "encryption = \"off\"";

/// The section for bench/results.md and its targets (≤ 5 % CPU, ≤ 1 ms latency).
pub fn report(calls: &[CallFigures]) -> (String, Vec<(String, bool, String)>) {
    let cpu = |setup: &str| {
        let cpus: Vec<f64> = calls.iter().filter(|c| c.setup == setup).map(CallFigures::cpu).collect();
        (!cpus.is_empty()).then(|| cpus.iter().sum::<f64>() / cpus.len() as f64)
    };
    let g2g = |setup: &str| {
        let samples: Vec<f64> =
            calls.iter().filter(|c| c.setup == setup && c.width == 1280).flat_map(|c| c.g2g_ms.clone()).collect();
        median(&samples)
    };
    let (cpu_on, cpu_off) = (cpu("roombox plain"), cpu("roombox plain, SRTP off"));
    let (g2g_on, g2g_off) = (g2g("roombox"), g2g("roombox, SRTP off"));
    let ratio = cpu_on.zip(cpu_off).map(|(on, off)| on / off.max(1e-9));
    let extra_ms = g2g_on.zip(g2g_off).map(|(on, off)| on - off);
    let figure = |v: Option<f64>, unit: &str| v.map_or("-".into(), |v| format!("{v:.1} {unit}"));
    let mut md = String::from("\n## Encryption\n\n");
    let _ = writeln!(
        md,
        "1280x720 at 30 fps, SRTP (AEAD_AES_128_GCM, the default) against `encryption = \"off\"` in the same run: \
         CPU {} vs {} per endpoint (plain calls, mean of two rounds), glass to glass {} vs {} (QR calls).",
        figure(cpu_on, "s/min"),
        figure(cpu_off, "s/min"),
        figure(g2g_on, "ms"),
        figure(g2g_off, "ms"),
    );
    let targets = vec![
        (
            "SRTP costs ≤ 5 % CPU (720p call)".to_owned(),
            ratio.is_some_and(|r| r <= 1.05),
            ratio.map_or("-".into(), |r| format!("{:+.1} %", (r - 1.0) * 100.0)),
        ),
        (
            "SRTP costs ≤ 1 ms glass to glass (720p call)".to_owned(),
            extra_ms.is_some_and(|d| d <= 1.0),
            extra_ms.map_or("-".into(), |d| format!("{d:+.1} ms")),
        ),
    ];
    (md, targets)
}
