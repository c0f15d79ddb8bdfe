//! Browser guests for the tests: a network namespace of the test's own (libnice, so webrtcbin,
//! gathers no loopback candidates, and Chromium none either: a veth pair inside the namespace
//! gives both ICE agents documentation-range addresses), and headless Chromium guests driven
//! by Playwright (`tests/browser/guest.mjs`), reporting their page's figures as JSON lines.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

fn run(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().expect("the command runs");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Moves this test's thread (and so every process it starts) into a new network namespace
/// with loopback up and a veth pair at 203.0.113.1 and .2; it goes away with its processes.
pub fn enter_private_network() {
    // SAFETY: unshare only changes the calling thread's namespace membership.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "unshare(CLONE_NEWNET) needs root: {}", std::io::Error::last_os_error());
    // IPv4 only: the veth pair's IPv6 link-local addresses would appear a moment after it is
    // up (duplicate address detection), and Chromium aborts the requests under way when its
    // network changes (net::ERR_NETWORK_CHANGED: the page never loaded its script, on a busy
    // machine). /proc/sys/net is the namespace of the thread that opens it: this one's.
    for scope in ["all", "default"] {
        let knob = format!("/proc/sys/net/ipv6/conf/{scope}/disable_ipv6");
        std::fs::write(&knob, "1").unwrap_or_else(|e| panic!("{knob}: {e}"));
    }
    run(&["ip", "link", "set", "lo", "up"]);
    run(&["ip", "link", "add", "rbx0", "type", "veth", "peer", "name", "rbx1"]);
    for (dev, addr) in [("rbx0", "203.0.113.1/24"), ("rbx1", "203.0.113.2/24")] {
        run(&["ip", "addr", "add", addr, "dev", dev]);
        run(&["ip", "link", "set", dev, "up"]);
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (outside the ephemeral range).
pub fn free_tcp_port() -> u16 {
    super::free_port()
}

/// `[guests]` for a room whose page listens on `port`, with its certificate in `dir`.
pub fn guests_section(port: u16, pin: &str, dir: &Path) -> String {
    format!(
        "[guests]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\npin = \"{pin}\"\n\
         tls_certificate = \"{0}/guests.crt\"\ntls_key = \"{0}/guests.key\"\n",
        dir.display()
    )
}

/// A WAV file of a sine at `hz` (48 kHz mono, 16-bit, 4 s, looped by Chromium): a guest's
/// microphone, told apart from the others by its frequency.
pub fn tone_wav(path: &Path, hz: f64) {
    let rate = 48_000u32;
    let samples: Vec<i16> = (0..rate * 4)
        .map(|i| ((2.0 * std::f64::consts::PI * hz * f64::from(i) / f64::from(rate)).sin() * 8000.0) as i16)
        .collect();
    let data_len = (samples.len() * 2) as u32;
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&(rate * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    samples.iter().for_each(|s| wav.extend_from_slice(&s.to_le_bytes()));
    std::fs::write(path, wav).unwrap();
}

/// One guest of a [`Browsers`] run.
pub struct Guest<'a> {
    pub name: &'a str,
    pub pin: &'a str,
    /// Whether the page gets the (fake) camera and microphone.
    pub camera: bool,
    /// The microphone's sound, a WAV file.
    pub tone: Option<&'a Path>,
}

/// Headless Chromium guests on a room's page, one browser each.
pub struct Browsers {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<Value>,
    /// Everything the driver and the pages printed (shown when a test fails).
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Browsers {
    pub fn start(url: &str, guests: &[Guest<'_>]) -> Browsers {
        Self::start_with(url, guests, false)
    }

    /// As [`Browsers::start`]; `measure` lets the driver inject its glass-to-glass reader.
    pub fn start_with(url: &str, guests: &[Guest<'_>], measure: bool) -> Browsers {
        let guests: Vec<Value> = guests
            .iter()
            .map(|g| {
                serde_json::json!({"name": g.name, "pin": g.pin, "camera": g.camera,
                    "tone": g.tone.map(|t| t.display().to_string())})
            })
            .collect();
        let plan = serde_json::json!({"url": url, "guests": guests, "measure": measure}).to_string();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
        let mut child = Command::new("node")
            .arg("guest.mjs")
            .arg(plan)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node runs (scripts/install-deps browser installs it)");
        let (tx, lines) = channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let keep = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(value);
                }
                keep.lock().unwrap().push(line);
            }
        });
        let keep = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                keep.lock().unwrap().push(line);
            }
        });
        let stdin = child.stdin.take().unwrap();
        Browsers { child, stdin, lines, log }
    }

    /// Waits for a report about `name` for which `ok` holds; panics with the last one.
    pub fn wait(&self, name: &str, timeout: Duration, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        let mut last = Value::Null;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(report) = self.lines.recv_timeout(left) else { break };
            if report["name"] != name {
                continue;
            }
            if ok(&report) {
                return report;
            }
            last = report;
        }
        let log = self.log.lock().unwrap().join("\n");
        panic!("guest {name}: timed out waiting for {what}\nlast report: {last:#}\nbrowser log:\n{log}");
    }

    /// The first report about `name` made after this call (older ones queued are skipped).
    pub fn next_report(&self, name: &str, timeout: Duration) -> Value {
        while self.lines.try_recv().is_ok() {}
        self.wait(name, timeout, "a report", |_| true)
    }

    pub fn command(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
    }
}

impl Drop for Browsers {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        super::process::wait_or_kill(&mut self.child, Duration::from_secs(10));
    }
}

/// The figures of a report: frames the page decoded of the meeting's picture, and its rate.
pub fn video(report: &Value) -> (u64, f64) {
    let v = &report["stats"]["video"];
    (v["framesDecoded"].as_u64().unwrap_or(0), v["fps"].as_f64().unwrap_or(0.0))
}

/// The sound energy the page played of the meeting (grows while it hears something).
pub fn audio_energy(report: &Value) -> f64 {
    report["stats"]["audio"]["energy"].as_f64().unwrap_or(0.0)
}
