//! The network of `make bench-net`: two rooms in network namespaces of their own, joined
//! through a router namespace where the impairments live (this kernel has no netem):
//!
//! ```text
//!  room a 10.99.1.2 ── veth ── 10.99.1.1 [router] 10.99.2.1 ── veth ── 10.99.2.2 room b
//! ```
//!
//! Loss and outages are nftables rules on the router's forward hook (`numgen random`, drop),
//! caps are `tc tbf` on its two egress sides (one per direction), delay and jitter send the
//! forwarded packets through a TUN device read by the shim in `delay.rs`. SIP is spared.
//! Everything is removed when the value is dropped.

use std::process::Command;

pub const A_IP: &str = "10.99.1.2";
pub const B_IP: &str = "10.99.2.2";

pub struct Topology {
    pub a: String,
    pub b: String,
    pub router: String,
    /// The router's interfaces towards a and b: packets leaving by them go to a and b.
    pub to_a: String,
    pub to_b: String,
    pub tun: String,
    sip_ports: Vec<u16>,
}

fn run(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().expect("iproute2 and nftables are installed");
    assert!(out.status.success(), "{}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

impl Topology {
    pub fn create(sip_ports: &[u16]) -> Topology {
        let id = std::process::id() % 100_000;
        let t = Topology {
            a: format!("rbn{id}a"),
            b: format!("rbn{id}b"),
            router: format!("rbn{id}r"),
            to_a: format!("rb{id}ra"),
            to_b: format!("rb{id}rb"),
            tun: format!("rb{id}tun"),
            sip_ports: sip_ports.to_vec(),
        };
        for ns in [&t.a, &t.b, &t.router] {
            run(&["ip", "netns", "add", ns]);
            t.exec(ns, &["ip", "link", "set", "lo", "up"]);
        }
        for (room, ns, router_side, net) in [("a", &t.a, &t.to_a, "1"), ("b", &t.b, &t.to_b, "2")] {
            let room_side = format!("rb{id}{room}0");
            run(&["ip", "link", "add", &room_side, "type", "veth", "peer", "name", router_side]);
            run(&["ip", "link", "set", &room_side, "netns", ns]);
            run(&["ip", "link", "set", router_side, "netns", &t.router]);
            t.exec(ns, &["ip", "addr", "add", &format!("10.99.{net}.2/24"), "dev", &room_side]);
            t.exec(ns, &["ip", "link", "set", &room_side, "up"]);
            t.exec(ns, &["ip", "route", "add", "default", "via", &format!("10.99.{net}.1")]);
            t.exec(&t.router, &["ip", "addr", "add", &format!("10.99.{net}.1/24"), "dev", router_side]);
            t.exec(&t.router, &["ip", "link", "set", router_side, "up"]);
        }
        t.exec(&t.router, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        t.exec(&t.router, &["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0"]);
        t
    }

    pub fn exec(&self, ns: &str, args: &[&str]) {
        let mut full = vec!["ip", "netns", "exec", ns];
        full.extend_from_slice(args);
        run(&full);
    }

    fn nft(&self, rules: &str) {
        let path = std::env::temp_dir().join(format!("{}.nft", self.router));
        std::fs::write(&path, rules).unwrap();
        self.exec(&self.router, &["nft", "-f", path.to_str().unwrap()]);
    }

    /// Replaces the router's filter: drop `percent` % of media packets at random each way
    /// (100: an outage). 0 removes it.
    pub fn set_loss(&self, percent: u32) {
        let _ = Command::new("ip")
            .args(["netns", "exec", &self.router, "nft", "delete", "table", "inet", "impair"])
            .output();
        if percent == 0 {
            return;
        }
        let verdict =
            if percent >= 100 { "drop".to_owned() } else { format!("numgen random mod 100 < {percent} drop") };
        let sip: Vec<String> = self.sip_ports.iter().map(u16::to_string).collect();
        // Only as packets arrive from a room: with the delay shim they pass the hook twice.
        self.nft(&format!(
            "table inet impair {{\n chain forward {{\n  type filter hook forward priority 0; policy accept;\n  \
             iifname {{ {}, {} }} udp dport != {{ {} }} udp sport != {{ {} }} {verdict}\n }}\n}}\n",
            self.to_a,
            self.to_b,
            sip.join(", "),
            sip.join(", ")
        ));
    }

    /// Caps each direction at `kbps` (0 lifts it). The queue holds 100 ms, as a thin uplink's.
    pub fn set_cap(&self, kbps: u32) {
        for dev in [&self.to_a, &self.to_b] {
            let _ = Command::new("ip")
                .args(["netns", "exec", &self.router, "tc", "qdisc", "del", "dev", dev, "root"])
                .output();
            if kbps > 0 {
                let rate = format!("{kbps}kbit");
                self.exec(
                    &self.router,
                    &[
                        "tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", &rate, "burst", "16kb", "latency",
                        "100ms",
                    ],
                );
            }
        }
    }

    /// Sends every forwarded packet through the delay shim's TUN device (or not).
    pub fn route_through_shim(&self, on: bool) {
        for iif in [&self.to_a, &self.to_b] {
            let _ = Command::new("ip")
                .args(["netns", "exec", &self.router, "ip", "rule", "del", "iif", iif, "lookup", "100"])
                .output();
            if on {
                self.exec(&self.router, &["ip", "rule", "add", "iif", iif, "lookup", "100"]);
            }
        }
        if on {
            self.exec(&self.router, &["ip", "link", "set", &self.tun, "up"]);
            let _ = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &self.router,
                    "ip",
                    "route",
                    "replace",
                    "default",
                    "dev",
                    &self.tun,
                    "table",
                    "100",
                ])
                .output();
            self.exec(&self.router, &["sysctl", "-qw", &format!("net.ipv4.conf.{}.rp_filter=0", self.tun)]);
        }
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b, &self.router] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
