//! Delay and jitter without netem: a thread in the router's namespace reads every forwarded
//! packet from a TUN device, holds it for the base delay plus a uniform random jitter, and
//! writes it back, where the kernel forwards it on. Packets may overtake each other, as they do
//! behind netem's jitter.

use std::collections::BinaryHeap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The delay now applied, in ms (changed while running).
#[derive(Default)]
pub struct DelaySetting {
    pub base_ms: AtomicU32,
    pub jitter_ms: AtomicU32,
}

pub struct Shim {
    pub setting: Arc<DelaySetting>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

/// Opens TUN device `name` in network namespace `netns` (this thread joins it).
fn open_tun(netns: &str, name: &str) -> std::io::Result<OwnedFd> {
    let ns = std::fs::File::open(format!("/run/netns/{netns}"))?;
    // SAFETY: plain syscalls on descriptors this function owns; the ifreq is zeroed and sized.
    unsafe {
        if libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_NONBLOCK);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let mut ifreq = [0u8; 40];
        ifreq[..name.len().min(15)].copy_from_slice(&name.as_bytes()[..name.len().min(15)]);
        let flags = (libc::IFF_TUN | libc::IFF_NO_PI) as i16;
        ifreq[16..18].copy_from_slice(&flags.to_ne_bytes());
        if libc::ioctl(fd.as_raw_fd(), TUNSETIFF, ifreq.as_mut_ptr()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(fd)
    }
}

/// A packet due at `due` (the heap pops the earliest first).
struct Held {
    due: Instant,
    packet: Vec<u8>,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        self.due == other.due
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.due.cmp(&self.due)
    }
}

impl Shim {
    pub fn start(netns: &str, tun: &str) -> Shim {
        let (setting, stop) = (Arc::new(DelaySetting::default()), Arc::new(AtomicBool::new(false)));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (netns, tun, s, halt) = (netns.to_owned(), tun.to_owned(), setting.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let fd = match open_tun(&netns, &tun) {
                Ok(fd) => fd,
                Err(e) => return drop(ready_tx.send(Err(e.to_string()))),
            };
            let _ = ready_tx.send(Ok(()));
            relay(&fd, &s, &halt);
        });
        ready_rx.recv().unwrap().expect("the delay shim's TUN device opens");
        Shim { setting, stop, thread: Some(thread) }
    }

    pub fn set(&self, base_ms: u32, jitter_ms: u32) {
        self.setting.base_ms.store(base_ms, Ordering::Relaxed);
        self.setting.jitter_ms.store(jitter_ms, Ordering::Relaxed);
    }
}

fn relay(fd: &OwnedFd, setting: &DelaySetting, stop: &AtomicBool) {
    let mut held = BinaryHeap::new();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(std::process::id());
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        while held.peek().is_some_and(|h: &Held| h.due <= now) {
            let h = held.pop().unwrap();
            // SAFETY: writes a buffer this function owns to a descriptor it borrows.
            unsafe { libc::write(fd.as_raw_fd(), h.packet.as_ptr().cast(), h.packet.len()) };
        }
        let wait = held.peek().map_or(Duration::from_millis(5), |h| h.due.saturating_duration_since(now));
        let mut poll = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one pollfd on a descriptor this function borrows.
        unsafe { libc::poll(&mut poll, 1, wait.as_millis().clamp(0, 5) as i32) };
        loop {
            // SAFETY: reads into a buffer this function owns.
            let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let jitter = u64::from(setting.jitter_ms.load(Ordering::Relaxed)) * 1000;
            let extra = if jitter > 0 { seed % (jitter + 1) } else { 0 };
            let delay = u64::from(setting.base_ms.load(Ordering::Relaxed)) * 1000 + extra;
            held.push(Held { due: Instant::now() + Duration::from_micros(delay), packet: buf[..n as usize].to_vec() });
        }
    }
}

impl Drop for Shim {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
