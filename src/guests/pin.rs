//! The meeting PIN at the door of the guest page: compared in constant time, and an address
//! that keeps getting it wrong waits longer and longer before it may try again (a 6-digit PIN
//! would otherwise fall to a script in minutes). Pure: time is passed in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Wrong tries an address gets before it has to wait.
const FREE_TRIES: u32 = 3;
/// The longest wait between two tries.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// Addresses remembered at once (the oldest is forgotten first).
const REMEMBERED: usize = 1024;

/// What the door says to one try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Admitted,
    /// Wrong PIN; the address may try again after `wait` (zero for its first tries).
    Wrong {
        wait: Duration,
    },
    /// Too soon after wrong tries: not even checked.
    TooSoon {
        wait: Duration,
    },
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    not_before: Instant,
    last: Instant,
}

#[derive(Debug)]
pub struct PinGate {
    pin: String,
    failures: HashMap<IpAddr, Failures>,
}

/// Equal strings, compared without an early exit (no timing tells how much of a PIN was right).
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0xff));
    }
    diff == 0
}

impl PinGate {
    pub fn new(pin: &str) -> Self {
        Self { pin: pin.to_owned(), failures: HashMap::new() }
    }

    /// Checks one try of `pin` from `from` at `now`.
    pub fn check(&mut self, from: IpAddr, pin: &str, now: Instant) -> Verdict {
        if let Some(f) = self.failures.get(&from)
            && now < f.not_before
        {
            return Verdict::TooSoon { wait: f.not_before - now };
        }
        if same(pin, &self.pin) {
            self.failures.remove(&from);
            return Verdict::Admitted;
        }
        if self.failures.len() >= REMEMBERED && !self.failures.contains_key(&from) {
            let oldest = self.failures.iter().min_by_key(|(_, f)| f.last).map(|(ip, _)| *ip);
            oldest.map(|ip| self.failures.remove(&ip));
        }
        let f = self.failures.entry(from).or_insert(Failures { count: 0, not_before: now, last: now });
        f.count += 1;
        f.last = now;
        let wait = match f.count.checked_sub(FREE_TRIES) {
            None | Some(0) => Duration::ZERO,
            Some(n) => Duration::from_secs(1u64 << (n - 1).min(6)).min(MAX_WAIT),
        };
        f.not_before = now + wait;
        Verdict::Wrong { wait }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_right_pin_is_admitted_and_wrong_ones_wait_longer_each_time() {
        let mut gate = PinGate::new("482913");
        let (ip, other) = ("203.0.113.2".parse().unwrap(), "203.0.113.3".parse().unwrap());
        let t = Instant::now();
        assert_eq!(gate.check(ip, "482913", t), Verdict::Admitted);
        for _ in 0..3 {
            assert_eq!(gate.check(ip, "000000", t), Verdict::Wrong { wait: Duration::ZERO });
        }
        assert_eq!(gate.check(ip, "111111", t), Verdict::Wrong { wait: Duration::from_secs(1) });
        // Even the right PIN is not looked at while the address waits.
        assert_eq!(gate.check(ip, "482913", t), Verdict::TooSoon { wait: Duration::from_secs(1) });
        let t = t + Duration::from_secs(1);
        assert_eq!(gate.check(ip, "222222", t), Verdict::Wrong { wait: Duration::from_secs(2) });
        let t = t + Duration::from_secs(2);
        assert_eq!(gate.check(ip, "333333", t), Verdict::Wrong { wait: Duration::from_secs(4) });
        // Another address is not slowed down by this one.
        assert_eq!(gate.check(other, "482913", t), Verdict::Admitted);
        let t = t + Duration::from_secs(4);
        assert_eq!(gate.check(ip, "482913", t), Verdict::Admitted);
        assert_eq!(gate.check(ip, "000000", t), Verdict::Wrong { wait: Duration::ZERO }, "success forgets");
    }

    #[test]
    fn waits_are_capped_and_memory_is_bounded() {
        let mut gate = PinGate::new("1234");
        let ip: IpAddr = "203.0.113.2".parse().unwrap();
        let mut t = Instant::now();
        let mut last = Duration::ZERO;
        for _ in 0..20 {
            if let Verdict::Wrong { wait } = gate.check(ip, "9999", t) {
                last = wait;
            }
            t += MAX_WAIT;
        }
        assert_eq!(last, MAX_WAIT);
        for i in 0..(REMEMBERED as u32 + 10) {
            gate.check(IpAddr::from(i.to_be_bytes()), "0000", t);
        }
        assert!(gate.failures.len() <= REMEMBERED);
        assert!(!same("1234", "12345") && !same("1234", "1235") && same("1234", "1234"));
    }
}
