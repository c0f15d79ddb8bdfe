//! Test harness: real `roombox` daemons on 127.0.0.1 with simulated devices, driven through
//! the real `roombox ctl` command line.

#![allow(dead_code)]

pub mod browser;
pub mod capture;
pub mod deb;
pub mod image;
pub mod inject;
pub mod nft;
pub mod process;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use roombox::control::Status;
use roombox::media::stats::{s16le_samples, tone_level_db};
use roombox::meeting::RoomState;

pub const BIN: &str = env!("CARGO_BIN_EXE_roombox");

/// Runs `cmd`, panics with its output if it fails, returns its standard output.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{cmd:?} failed:\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// Whether the first place's picture decodes at `fps` or more and its sound at 40 buffers/s.
pub fn decoding(s: &Status, fps: f64) -> bool {
    s.first_media().is_some_and(|m| m.video_in.decoded_per_s >= fps && m.audio_in.decoded_per_s >= 40.0)
}

/// A port free a moment ago for UDP and TCP alike, below Linux's ephemeral range (32768 on):
/// a port the kernel handed out could be handed again to another test's media socket before
/// this test's daemon binds it. Random, so tests running side by side do not pick the same.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::UNIX_EPOCH.elapsed().map_or(0, |d| u64::from(d.subsec_nanos()));
    let seed = (u64::from(std::process::id()) << 32) ^ nanos;
    loop {
        let mut x = seed.wrapping_add(NEXT.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed));
        x = (x ^ (x >> 31)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let port = 20_000 + (x % 12_000) as u16;
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The simulated devices of a test room (GStreamer fragments or the built-in names).
#[derive(Clone)]
pub struct Devices {
    pub video_source: String,
    /// `[video]` size, rate and bitrate lines (320x240 at 30 fps and 500 kbit/s by default).
    pub video: String,
    pub display: String,
    /// Whole TOML sections appended to the config.
    pub extra: String,
    /// Environment for the daemon (after `RUST_LOG=roombox=debug`, which these may override).
    pub env: Vec<(String, String)>,
    /// `[audio] capture` and `playback` (the built-in tone and a silent sink by default).
    pub capture: String,
    pub playback: String,
    /// More lines for `[audio]`.
    pub audio_extra: String,
    /// More lines for `[sip]`.
    pub sip_extra: String,
    /// Appended to every peer's URI (such as `;transport=tls`).
    pub peer_params: String,
    /// More arguments for `roombox run` (such as `--notice FILE`).
    pub run_args: Vec<String>,
}

impl Default for Devices {
    fn default() -> Self {
        Self {
            video_source: "test".into(),
            video: "width = 320\nheight = 240\nfps = 30\nbitrate_kbps = 500".into(),
            display: "none".into(),
            extra: String::new(),
            env: vec![],
            capture: "test".into(),
            playback: "null".into(),
            audio_extra: String::new(),
            sip_extra: String::new(),
            peer_params: String::new(),
            run_args: vec![],
        }
    }
}

impl Devices {
    /// A room whose microphone hears a sine at `hz` and whose speaker is recorded as raw
    /// 48 kHz mono S16LE to `heard` (read it with [`tone_levels`]), with a solid picture.
    pub fn tone_room(hz: u32, argb: u32, heard: &Path) -> Devices {
        Devices {
            video_source: format!("videotestsrc is-live=true pattern=solid-color foreground-color={argb:#010x}"),
            capture: format!("audiotestsrc is-live=true samplesperbuffer=480 wave=sine freq={hz} volume=0.25"),
            playback: format!(
                "audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! filesink sync=true location={}",
                heard.display()
            ),
            ..Devices::default()
        }
    }
}

/// The level (dBFS) of each frequency in the last `seconds` of a raw 48 kHz mono S16LE
/// recording (Goertzel), so a test tells places apart by their tones.
pub fn tone_levels(path: &Path, seconds: f64, freqs: &[u32]) -> Vec<f64> {
    let samples = s16le_samples(&std::fs::read(path).unwrap_or_default());
    let n = ((seconds * 48000.0) as usize).min(samples.len());
    let window = &samples[samples.len() - n..];
    freqs.iter().map(|&f| tone_level_db(window, f64::from(f), 48000.0)).collect()
}

pub struct Daemon {
    pub name: String,
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl Daemon {
    /// Starts a room named `name` on `port`, calling `peers` (name, port), with extra TOML lines
    /// appended to its `[call]` section.
    pub fn start(name: &str, port: u16, peers: &[(&str, u16)], call_extra: &str) -> Daemon {
        Self::start_with(name, port, peers, call_extra, &Devices::default())
    }

    /// As [`Daemon::start`], with other simulated devices.
    pub fn start_with(name: &str, port: u16, peers: &[(&str, u16)], call_extra: &str, devices: &Devices) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let peers: Vec<String> =
            peers.iter().map(|(n, p)| format!("\"sip:{n}@127.0.0.1:{p}{}\"", devices.peer_params)).collect();
        let config = format!(
            "[room]\nname = \"{name}\"\n[sip]\nlisten = \"127.0.0.1:{port}\"\n{}[call]\npeers = [{}]\n{call_extra}\n\
             [video]\nsource = '{}'\n{}\n\
             [audio]\ncapture = '{}'\nplayback = '{}'\n{}\n[display]\noutput = '{}'\n\
             [control]\nsocket = \"{}\"\n{}\n",
            if devices.sip_extra.is_empty() { String::new() } else { format!("{}\n", devices.sip_extra) },
            peers.join(", "),
            devices.video_source,
            devices.video,
            devices.capture,
            devices.playback,
            devices.audio_extra,
            devices.display,
            dir.path().join("control.sock").display(),
            devices.extra,
        );
        let config_path = dir.path().join("roombox.toml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("roombox.log")).unwrap();
        let child = Command::new(BIN)
            .args(["run", "--config"])
            .arg(&config_path)
            .args(&devices.run_args)
            .env("RUST_LOG", "roombox=debug")
            .envs(devices.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let daemon = Daemon { name: name.into(), port, dir, child };
        daemon.wait_for(Duration::from_secs(20), "the control socket to answer", |_| true);
        daemon
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("control.sock")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("roombox.log")).unwrap_or_default()
    }

    /// The programming errors GStreamer and GLib reported in the log (`…-CRITICAL **: …`).
    pub fn criticals(&self) -> Vec<String> {
        self.log().lines().filter(|l| l.contains("-CRITICAL **")).take(5).map(str::to_owned).collect()
    }

    pub fn ctl(&self, args: &[&str]) -> Output {
        Command::new(BIN).arg("ctl").arg("--socket").arg(self.socket()).args(args).output().unwrap()
    }

    pub fn press(&self) {
        let out = self.ctl(&["press"]);
        assert!(out.status.success(), "press failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    pub fn status(&self) -> Option<Status> {
        let out = self.ctl(&["status", "--json"]);
        out.status.success().then(|| serde_json::from_slice(&out.stdout).ok()).flatten()
    }

    /// Polls status until `ok` holds; panics with the last status and the log otherwise.
    pub fn wait_for(&self, timeout: Duration, what: &str, ok: impl Fn(&Status) -> bool) -> Status {
        let start = Instant::now();
        let mut last = None;
        while start.elapsed() < timeout {
            if let Some(status) = self.status() {
                if ok(&status) {
                    return status;
                }
                last = Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{}: timed out waiting for {what}\nlast status: {last:#?}\nlog:\n{}", self.name, self.log());
    }

    pub fn wait_state(&self, state: RoomState, timeout: Duration) -> Status {
        self.wait_for(timeout, &format!("state {state:?}"), |s| s.meeting.state == state)
    }

    /// Threads and open file descriptors of the daemon process.
    pub fn resources(&self) -> (usize, usize) {
        let count =
            |dir: &str| std::fs::read_dir(format!("/proc/{}/{dir}", self.pid())).map(|d| d.count()).unwrap_or(0);
        (count("task"), count("fd"))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // A failing test shows every room's log, not only the one it was waiting on: in a
        // meeting the cause is often at another place (its warnings and errors, the last 30).
        if std::thread::panicking() {
            let log = self.log();
            let notable: Vec<&str> = log.lines().filter(|l| l.contains(" WARN ") || l.contains(" ERROR ")).collect();
            eprintln!("--- {}: its last warnings and errors ---", self.name);
            for line in &notable[notable.len().saturating_sub(30)..] {
                eprintln!("{line}");
            }
        }
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        process::wait_or_kill(&mut self.child, Duration::from_secs(5));
    }
}

/// Rooms oslo and bergen, each the other's peer; bergen answers by itself.
pub fn oslo_and_bergen(oslo: &Devices, bergen: &Devices) -> (Daemon, Daemon) {
    let (pa, pb) = (free_port(), free_port());
    let a = Daemon::start_with("oslo", pa, &[("bergen", pb)], "", oslo);
    let b = Daemon::start_with("bergen", pb, &[("oslo", pa)], "auto_answer = true", bergen);
    (a, b)
}

/// Width and height from a PNG's IHDR chunk, if `bytes` is a PNG.
pub fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() < 24 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&bytes[16..20]), be(&bytes[20..24])))
}

pub fn read_png(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

/// A decoded PNG: width, height and RGB(A) pixels, to look at what a screen showed.
pub struct Picture {
    pub width: u32,
    pub height: u32,
    channels: usize,
    pixels: Vec<u8>,
}

impl Picture {
    pub fn decode(bytes: &[u8]) -> Picture {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("a PNG");
        let mut pixels = vec![0; reader.output_buffer_size().expect("a sane size")];
        let info = reader.next_frame(&mut pixels).expect("one frame");
        Picture { width: info.width, height: info.height, channels: info.color_type.samples(), pixels }
    }

    /// How many pixels of the box (x, y, w, h) satisfy `test`.
    pub fn count(&self, x: u32, y: u32, w: u32, h: u32, test: impl Fn((u8, u8, u8)) -> bool) -> usize {
        let mut n = 0;
        for yy in y..(y + h).min(self.height) {
            for xx in x..(x + w).min(self.width) {
                let i = (yy as usize * self.width as usize + xx as usize) * self.channels;
                n += usize::from(test((self.pixels[i], self.pixels[i + 1], self.pixels[i + 2])));
            }
        }
        n
    }

    /// The average (r, g, b) of the box of `size` pixels centred on (x, y).
    pub fn rgb_around(&self, x: u32, y: u32, size: u32) -> (u8, u8, u8) {
        let (mut sum, mut n) = ([0u64; 3], 0u64);
        for yy in y.saturating_sub(size / 2)..(y + size / 2).min(self.height) {
            for xx in x.saturating_sub(size / 2)..(x + size / 2).min(self.width) {
                let i = (yy as usize * self.width as usize + xx as usize) * self.channels;
                for (c, total) in sum.iter_mut().enumerate() {
                    *total += u64::from(self.pixels[i + c]);
                }
                n += 1;
            }
        }
        let avg = |c: usize| (sum[c] / n.max(1)) as u8;
        (avg(0), avg(1), avg(2))
    }
}
