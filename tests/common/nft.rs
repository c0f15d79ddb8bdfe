//! Network impairments for tests, with nftables (this kernel has no netem): a table of the
//! test's own on the input hook that drops UDP to some ports, all of it (an outage) or a
//! random share (`numgen random`, loss). Dropping the value removes the table.

use std::process::Command;

use roombox::control::Status;

pub struct Impairment {
    table: String,
}

impl Impairment {
    /// Every packet to `ports` is dropped.
    pub fn outage(ports: &[u16]) -> Impairment {
        Self::install(&to_ports(ports), "drop", "outage")
    }

    /// `percent` % of the packets to `ports` are dropped, at random.
    pub fn loss(ports: &[u16], percent: u32) -> Impairment {
        Self::install(&to_ports(ports), &random_drop(percent), "loss")
    }

    /// `percent` % of the UDP packets to any address of `network` (such as "203.0.113.0/24")
    /// are dropped, at random: between two addresses of it, loss both ways.
    pub fn loss_to_network(network: &str, percent: u32) -> Impairment {
        Self::install(&format!("ip daddr {network} meta l4proto udp"), &random_drop(percent), "loss")
    }

    fn install(matches: &str, verdict: &str, kind: &str) -> Impairment {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let table = format!("roombox_{kind}_{}_{n}", std::process::id());
        let rules = format!(
            "table inet {table} {{\n  chain input {{\n    type filter hook input priority 0; policy accept;\n    \
             {matches} {verdict}\n  }}\n}}\n"
        );
        let path = std::env::temp_dir().join(format!("{table}.nft"));
        std::fs::write(&path, rules).unwrap();
        let out = Command::new("nft").arg("-f").arg(&path).output().expect("nft is installed (scripts/install-deps)");
        assert!(out.status.success(), "nft refused the rule: {}", String::from_utf8_lossy(&out.stderr));
        Impairment { table }
    }
}

fn to_ports(ports: &[u16]) -> String {
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    format!("udp dport {{ {} }}", ports.join(", "))
}

fn random_drop(percent: u32) -> String {
    format!("numgen random mod 100 < {percent} drop")
}

impl Drop for Impairment {
    fn drop(&mut self) {
        let _ = Command::new("nft").args(["delete", "table", "inet", &self.table]).status();
    }
}

/// The media ports (RTP and RTCP, video and audio) of the far end of `status`'s first leg:
/// where this room sends.
pub fn far_media_ports(status: &Status) -> Vec<u16> {
    let negotiated = status.meeting.legs[0].negotiated.clone().expect("the call was negotiated");
    [negotiated.video, negotiated.audio]
        .into_iter()
        .flatten()
        .flat_map(|s| [s.remote_rtp_port, s.remote_rtcp_port])
        .collect()
}
