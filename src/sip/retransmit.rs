//! The UDP retransmission schedule of RFC 3261 §17: a request (or a 2xx to INVITE) is sent
//! again after T1, 2·T1, 4·T1 … (capped at T2 for non-INVITE requests and 2xx responses) until
//! it is answered or its transaction timeout passes. Over TCP and TLS nothing is resent; only
//! the timeout runs. Pure: driven by explicit instants.

use std::time::{Duration, Instant};

use super::{SipAddr, SipMessage};

/// RTT estimate (RFC 3261 §17.1.1.1).
pub const T1: Duration = Duration::from_millis(500);
/// Maximum retransmit interval for non-INVITE requests and INVITE responses.
pub const T2: Duration = Duration::from_secs(4);
/// Transaction timeout (timers B, F, H): 64·T1.
pub const TIMEOUT: Duration = Duration::from_secs(32);

/// One message being retransmitted until answered.
#[derive(Debug, Clone)]
pub struct Retransmit<K> {
    pub key: K,
    pub message: SipMessage,
    pub to: SipAddr,
    next: Instant,
    interval: Duration,
    cap: Option<Duration>,
    give_up_at: Instant,
}

/// What a retransmission timer asks for when it fires.
#[derive(Debug, Clone, PartialEq)]
pub enum Due<K> {
    Resend(SipMessage, SipAddr),
    TimedOut(K),
}

/// The set of messages in flight, keyed by what the caller uses to cancel them.
#[derive(Debug, Clone)]
pub struct Retransmissions<K> {
    entries: Vec<Retransmit<K>>,
}

impl<K> Default for Retransmissions<K> {
    fn default() -> Self {
        Self { entries: Vec::new() }
    }
}

impl<K: Clone + PartialEq> Retransmissions<K> {
    /// Tracks a message just sent. `capped` is true for non-INVITE requests and 2xx responses
    /// (interval grows to T2 and stays there); INVITE requests keep doubling.
    pub fn start(&mut self, now: Instant, key: K, message: SipMessage, to: SipAddr, capped: bool, timeout: Duration) {
        self.stop(&key);
        self.entries.push(Retransmit {
            key,
            message,
            to,
            next: if to.transport.is_reliable() { now + timeout } else { now + T1 },
            interval: T1,
            cap: capped.then_some(T2),
            give_up_at: now + timeout,
        });
    }

    /// The message was answered (or is no longer wanted): stop sending it.
    pub fn stop(&mut self, key: &K) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| &e.key != key);
        before != self.entries.len()
    }

    pub fn is_active(&self, key: &K) -> bool {
        self.entries.iter().any(|e| &e.key == key)
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.entries.iter().map(|e| e.next.min(e.give_up_at)).min()
    }

    /// Everything that is due at `now`: resends, and transactions that timed out (removed).
    pub fn poll(&mut self, now: Instant) -> Vec<Due<K>> {
        let mut due = Vec::new();
        self.entries.retain_mut(|e| {
            if now >= e.give_up_at {
                due.push(Due::TimedOut(e.key.clone()));
                return false;
            }
            if now >= e.next {
                due.push(Due::Resend(e.message.clone(), e.to));
                e.interval = e.cap.map_or(e.interval * 2, |cap| (e.interval * 2).min(cap));
                e.next = (now + e.interval).min(e.give_up_at);
            }
            true
        });
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> SipMessage {
        SipMessage::parse(
            b"OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n\
              From: <sip:b@127.0.0.1>;tag=1\r\nTo: <sip:a@127.0.0.1>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n",
        )
        .unwrap()
    }

    #[test]
    fn non_invite_requests_back_off_to_t2_then_time_out() {
        let t0 = Instant::now();
        let mut r = Retransmissions::default();
        r.start(t0, "opt", options(), "127.0.0.1:5060".parse().unwrap(), true, TIMEOUT);
        let mut resends = Vec::new();
        let mut now;
        loop {
            now = r.next_deadline().expect("a deadline while in flight");
            let due = r.poll(now);
            if due.iter().any(|d| matches!(d, Due::TimedOut("opt"))) {
                break;
            }
            resends.push(now - t0);
        }
        let secs: Vec<f64> = resends.iter().take(6).map(Duration::as_secs_f64).collect();
        assert_eq!(secs, vec![0.5, 1.5, 3.5, 7.5, 11.5, 15.5]);
        assert_eq!(now - t0, TIMEOUT);
        assert!(r.next_deadline().is_none());
    }

    #[test]
    fn stopping_a_transaction_ends_its_retransmissions() {
        let t0 = Instant::now();
        let mut r = Retransmissions::default();
        r.start(t0, 1, options(), "127.0.0.1:5060".parse().unwrap(), false, TIMEOUT);
        assert!(r.stop(&1));
        assert!(r.poll(t0 + TIMEOUT).is_empty());
    }
}
