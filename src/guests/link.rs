//! The join link guests open: `[guests] link`, else the box's own address and the page's
//! port; and that link as a QR code, drawn in a terminal (`ctl guest-link`) or as a picture.

use std::net::{IpAddr, SocketAddr};

use qrcode::{Color, QrCode};

/// The link to the guest page. `listen` is where the page is served; an unspecified address
/// (0.0.0.0) stands for the box's address on its default route, `fallback` if it has none.
pub fn join_url(configured: Option<&str>, listen: SocketAddr, fallback: IpAddr) -> String {
    if let Some(link) = configured {
        return link.to_owned();
    }
    let ip = if listen.ip().is_unspecified() { primary_address().unwrap_or(fallback) } else { listen.ip() };
    match ip {
        IpAddr::V6(v6) => format!("https://[{v6}]:{}/", listen.port()),
        IpAddr::V4(v4) => format!("https://{v4}:{}/", listen.port()),
    }
}

/// The address the box reaches other hosts from (no packet is sent: a UDP socket is only
/// connected, which picks the route).
fn primary_address() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    socket.local_addr().ok().map(|a| a.ip()).filter(|ip| !ip.is_unspecified())
}

/// The QR code's modules, dark = true, row by row (with no quiet zone).
pub fn modules(text: &str) -> Option<Vec<Vec<bool>>> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    Some(colors.chunks(width).map(|row| row.iter().map(|c| *c == Color::Dark).collect()).collect())
}

/// The QR code of `text` as an SVG picture of `size` pixels, dark on white with its quiet
/// zone (the idle screen draws it with rsvgoverlay).
pub fn svg_qr(text: &str, size: u32) -> Option<String> {
    let rows = modules(text)?;
    let n = rows.len() + 8;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size}\" height=\"{size}\" viewBox=\"0 0 {n} {n}\" \
         shape-rendering=\"crispEdges\"><rect width=\"{n}\" height=\"{n}\" fill=\"#fff\"/><path fill=\"#000\" d=\""
    );
    for (y, row) in rows.iter().enumerate() {
        for (x, _) in row.iter().enumerate().filter(|(_, dark)| **dark) {
            svg += &format!("M{} {}h1v1h-1z", x + 4, y + 4);
        }
    }
    svg += "\"/></svg>";
    Some(svg)
}

/// The QR code of `text` for a terminal: two rows of modules per line of half blocks, with
/// the quiet zone a phone's camera needs around it.
pub fn terminal_qr(text: &str) -> Option<String> {
    let rows = modules(text)?;
    let size = rows.len() + 4;
    let dark =
        |y: usize, x: usize| -> bool { (2..size - 2).contains(&y) && (2..size - 2).contains(&x) && rows[y - 2][x - 2] };
    let mut out = String::new();
    for y in (0..size).step_by(2) {
        for x in 0..size {
            // Light modules are drawn (light on a dark terminal reads as the paper of a code).
            out.push(match (!dark(y, x), y + 1 < size && !dark(y + 1, x)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_names_the_configured_or_the_listening_address() {
        let listen: SocketAddr = "127.0.0.1:8443".parse().unwrap();
        let fallback = IpAddr::from([127, 0, 0, 1]);
        assert_eq!(join_url(None, listen, fallback), "https://127.0.0.1:8443/");
        assert_eq!(join_url(Some("https://room.example.org/"), listen, fallback), "https://room.example.org/");
        let any: SocketAddr = "0.0.0.0:8443".parse().unwrap();
        assert!(join_url(None, any, fallback).ends_with(":8443/"));
        assert!(!join_url(None, any, fallback).contains("0.0.0.0"));
    }

    #[test]
    fn the_qr_code_is_square_with_its_finder_patterns() {
        let rows = modules("https://127.0.0.1:8443/").unwrap();
        assert!(rows.len() >= 21 && rows.iter().all(|r| r.len() == rows.len()));
        // The top-left finder pattern: a dark 7x7 ring around a light ring around a dark core.
        assert!(rows[0][..7].iter().all(|d| *d) && rows[3][3] && !rows[1][1]);
        let art = terminal_qr("https://127.0.0.1:8443/").unwrap();
        assert_eq!(art.lines().count(), (rows.len() + 4).div_ceil(2));
    }
}
