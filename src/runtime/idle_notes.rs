//! What the idle screen says under the room's name and call to action: where the box can be
//! reached (its IP addresses: where an admin points SSH) and a standing problem reported from
//! outside the daemon (the flashed image's card service writes a `roombox.toml` on the card
//! that was not used into a notice file, `roombox run --notice FILE`). Checked every few
//! seconds, as DHCP may answer long after the room started.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// How often the addresses and the notice file are read.
pub const EVERY: std::time::Duration = std::time::Duration::from_secs(5);
/// At most this many addresses are shown (a box with a cable, Wi-Fi and IPv6 has several).
const SHOWN_ADDRESSES: usize = 3;
/// A notice longer than this is cut (the screen has room for a line or two).
const NOTICE_CHARS: usize = 200;

/// The idle screen's extra lines, as last read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdleNotes {
    pub addresses: Vec<IpAddr>,
    pub problem: Option<String>,
}

impl IdleNotes {
    /// The lines the idle screen shows, in order.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.addresses.is_empty() {
            lines.push("no network yet: plug in a cable (Wi-Fi: roombox/wpa_supplicant.conf on the card)".into());
        } else {
            let shown: Vec<String> = self.addresses.iter().map(IpAddr::to_string).collect();
            lines.push(format!("address: {}", shown.join("  ")));
        }
        lines.extend(self.problem.clone());
        lines
    }
}

/// Reads the notes; remembers what it read last to tell a change.
pub struct NotesWatch {
    notice: Option<PathBuf>,
    last: Option<IdleNotes>,
}

impl NotesWatch {
    pub fn new(notice: Option<PathBuf>) -> Self {
        Self { notice, last: None }
    }

    /// The addresses as last read (empty before the first read).
    pub fn addresses(&self) -> &[IpAddr] {
        self.last.as_ref().map_or(&[], |n| &n.addresses)
    }

    /// The notes when they differ from the last read (always on the first), else `None`.
    pub async fn changed(&mut self) -> Option<IdleNotes> {
        let problem = match &self.notice {
            Some(path) => tokio::fs::read_to_string(path).await.ok().and_then(|text| notice_text(&text)),
            None => None,
        };
        let notes = IdleNotes { addresses: local_addresses(), problem };
        if self.last.as_ref() == Some(&notes) {
            return None;
        }
        self.last = Some(notes.clone());
        Some(notes)
    }
}

/// The notice file's text as one shown line: blank means no notice.
fn notice_text(text: &str) -> Option<String> {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        return None;
    }
    Some(match line.char_indices().nth(NOTICE_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    })
}

/// The box's addresses others can reach: up, not loopback, not IPv6 link-local; IPv4 first.
pub fn local_addresses() -> Vec<IpAddr> {
    let mut found = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a list that stays valid until freeifaddrs below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return found;
    }
    let mut entry = list;
    while !entry.is_null() {
        // SAFETY: `entry` is a node of the list getifaddrs returned, not yet freed.
        let node = unsafe { &*entry };
        let up = node.ifa_flags & libc::IFF_UP as u32 != 0 && node.ifa_flags & libc::IFF_LOOPBACK as u32 == 0;
        if up && !node.ifa_addr.is_null() {
            // SAFETY: ifa_addr is non-null and points at a sockaddr of the family it names;
            // it is read as that family's struct only.
            let address = unsafe {
                match i32::from((*node.ifa_addr).sa_family) {
                    libc::AF_INET => {
                        let v4 = &*(node.ifa_addr as *const libc::sockaddr_in);
                        Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr))))
                    }
                    libc::AF_INET6 => {
                        let v6 = &*(node.ifa_addr as *const libc::sockaddr_in6);
                        Some(IpAddr::V6(Ipv6Addr::from(v6.sin6_addr.s6_addr)))
                    }
                    _ => None,
                }
            };
            found.extend(address.filter(reachable));
        }
        entry = node.ifa_next;
    }
    // SAFETY: `list` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(list) };
    found.sort_by_key(|a| (a.is_ipv6(), *a));
    found.dedup();
    found.truncate(SHOWN_ADDRESSES);
    found
}

impl super::Room {
    /// Reads the notes; a change goes to the idle screen, and the problem to the core.
    pub(super) async fn refresh_notes(&mut self) {
        let Some(notes) = self.notes.changed().await else { return };
        let input = crate::meeting::Input::StandingProblem(notes.problem.clone());
        self.core.handle_input(std::time::Instant::now(), input);
        self.engine.set_idle_notes(notes.lines());
    }
}

fn reachable(address: &IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_unspecified(),
        IpAddr::V6(v6) => !v6.is_loopback() && !v6.is_unspecified() && (v6.segments()[0] & 0xffc0) != 0xfe80,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_name_the_addresses_or_the_missing_network_and_the_problem() {
        let notes =
            IdleNotes { addresses: vec!["192.0.2.7".parse().unwrap(), "2001:db8::7".parse().unwrap()], problem: None };
        assert_eq!(notes.lines(), vec!["address: 192.0.2.7  2001:db8::7".to_string()]);
        let none = IdleNotes { addresses: vec![], problem: Some("card roombox.toml not used: x".into()) };
        let lines = none.lines();
        assert!(lines[0].starts_with("no network yet"), "{lines:?}");
        assert_eq!(lines[1], "card roombox.toml not used: x");
    }

    #[test]
    fn a_notice_is_one_line_and_cut_when_long_and_blank_is_none() {
        assert_eq!(notice_text("  \n "), None);
        assert_eq!(
            notice_text("card roombox.toml\nnot used: line 3\n").as_deref(),
            Some("card roombox.toml not used: line 3")
        );
        let long = notice_text(&"é".repeat(500)).unwrap();
        assert_eq!(long.chars().count(), NOTICE_CHARS + 1);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn loopback_and_link_local_addresses_are_not_shown() {
        for shown in ["192.0.2.1", "2001:db8::1", "10.0.2.15"] {
            assert!(reachable(&shown.parse().unwrap()), "{shown}");
        }
        for hidden in ["127.0.0.1", "::1", "fe80::1", "0.0.0.0"] {
            assert!(!reachable(&hidden.parse().unwrap()), "{hidden}");
        }
        assert!(local_addresses().iter().all(reachable));
    }

    #[tokio::test]
    async fn the_watch_reports_a_change_once_and_reads_the_notice_file() {
        let dir = std::env::temp_dir().join(format!("roombox-notes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("notice");
        let mut watch = NotesWatch::new(Some(file.clone()));
        assert_eq!(watch.changed().await.map(|n| n.problem), Some(None), "the first read is reported");
        assert_eq!(watch.changed().await, None, "nothing changed");
        std::fs::write(&file, "card roombox.toml not used: bad\n").unwrap();
        assert_eq!(watch.changed().await.and_then(|n| n.problem).as_deref(), Some("card roombox.toml not used: bad"));
        std::fs::remove_file(&file).unwrap();
        assert_eq!(watch.changed().await.map(|n| n.problem), Some(None), "gone again");
        let _ = std::fs::remove_dir_all(dir);
    }
}
