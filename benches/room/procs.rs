//! Processes under measurement: roombox daemons driven over their control socket, and what
//! /proc says about any process (CPU time, resident memory).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use roombox::control::{self, Request, Status};

pub const BIN: &str = env!("CARGO_BIN_EXE_roombox");

pub fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Four consecutive-free ports for a baseline endpoint (video RTP/RTCP, audio RTP/RTCP).
pub fn free_ports() -> [u16; 4] {
    [free_port(), free_port(), free_port(), free_port()]
}

/// CPU seconds (user + system) a process has used.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 = [11, 12].iter().filter_map(|i| fields.get(*i)?.parse::<f64>().ok()).sum();
    ticks / 100.0 // USER_HZ is 100 on Linux
}

/// A field of /proc/PID/status in kB (VmRSS, VmHWM).
pub fn memory_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.trim_start_matches(':').trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or(0)
}

pub struct Room {
    pub name: String,
    pub dir: tempfile::TempDir,
    child: Child,
    rt: tokio::runtime::Runtime,
}

pub struct RoomSpec<'a> {
    pub name: &'a str,
    pub port: u16,
    /// Who the room calls (all at once: the room hosts).
    pub peers: &'a [(&'a str, u16)],
    pub auto_answer: bool,
    pub video_source: &'a str,
    pub display: &'a str,
    pub self_view: bool,
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
    pub capture: &'a str,
    pub playback: &'a str,
    pub echo_cancel: bool,
    /// The address the room listens on and its peers' address (the network bench puts each
    /// room in a network namespace of its own).
    pub ip: &'a str,
    pub peer_ip: &'a str,
    pub netns: Option<&'a str>,
    /// More lines for `[call]` (such as `encryption = "off"`).
    pub call_extra: &'a str,
}

impl Default for RoomSpec<'_> {
    fn default() -> Self {
        Self {
            name: "oslo",
            port: 0,
            peers: &[],
            auto_answer: false,
            video_source: "test",
            display: "none",
            self_view: true,
            width: 1280,
            height: 720,
            bitrate_kbps: 2000,
            capture: "test",
            playback: "null",
            echo_cancel: true,
            ip: "127.0.0.1",
            peer_ip: "127.0.0.1",
            netns: None,
            call_extra: "",
        }
    }
}

impl Room {
    pub fn start(spec: &RoomSpec) -> Room {
        let dir = tempfile::tempdir().unwrap();
        let peers: Vec<String> = spec.peers.iter().map(|(n, p)| format!("\"sip:{n}@{}:{p}\"", spec.peer_ip)).collect();
        let config = format!(
            "[room]\nname = \"{}\"\n[sip]\nlisten = \"{}:{}\"\n[call]\npeers = [{}]\nauto_answer = {}\n{}\n\
             [video]\nsource = '{}'\nwidth = {}\nheight = {}\nfps = 30\nbitrate_kbps = {}\n\
             [audio]\ncapture = '{}'\nplayback = '{}'\necho_cancel = {}\n\
             [display]\noutput = '{}'\nself_view = {}\n[media]\nclock = \"realtime\"\n\
             [control]\nsocket = \"{}\"\n",
            spec.name,
            spec.ip,
            spec.port,
            peers.join(", "),
            spec.auto_answer,
            spec.call_extra,
            spec.video_source,
            spec.width,
            spec.height,
            spec.bitrate_kbps,
            spec.capture,
            spec.playback,
            spec.echo_cancel,
            spec.display,
            spec.self_view,
            dir.path().join("control.sock").display()
        );
        let path = dir.path().join("roombox.toml");
        std::fs::write(&path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("roombox.log")).unwrap();
        let mut command = match spec.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, BIN]);
                c
            }
            None => Command::new(BIN),
        };
        let child = command
            .args(["run", "--config"])
            .arg(&path)
            .env("RUST_LOG", std::env::var("BENCH_RUST_LOG").unwrap_or_else(|_| "roombox=info".into()))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let room = Room { name: spec.name.into(), dir, child, rt };
        room.wait(Duration::from_secs(20), |_| true);
        room
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("control.sock")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("roombox.log")
    }

    pub fn request(&self, request: Request) -> Option<Status> {
        self.rt.block_on(control::call(&self.socket(), request)).ok()?.status
    }

    pub fn latency_samples(&self) -> Option<roombox::media::latency::LatencySamples> {
        self.rt.block_on(control::call(&self.socket(), Request::Latency)).ok()?.latency
    }

    pub fn status(&self) -> Option<Status> {
        self.request(Request::Status)
    }

    pub fn wait(&self, timeout: Duration, ok: impl Fn(&Status) -> bool) -> Status {
        let start = Instant::now();
        loop {
            if let Some(s) = self.status().filter(|s| ok(s)) {
                return s;
            }
            if start.elapsed() > timeout {
                let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
                panic!("{}: timed out; its log:\n{log}", self.name);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
        // BENCH_LOGS=dir keeps each room's log there (the room's own directory goes).
        if let Ok(dir) = std::env::var("BENCH_LOGS") {
            let _ = std::fs::create_dir_all(&dir);
            // A room name used again (one per call) gets the next free number.
            let dir = std::path::Path::new(&dir);
            let free = (0..).map(|n| dir.join(format!("{}-{n}.log", self.name))).find(|p| !p.exists());
            if let Some(path) = free {
                let _ = std::fs::copy(self.log_path(), path);
            }
        }
    }
}
