//! The guests' join link as a QR code in the bottom-left corner of the room's screen during a
//! meeting (`[guests] show_link_in_call`), so a person in the room can hand the meeting to a
//! phone without leaving it. The code is drawn once per screen size and pasted into each
//! I420 frame on its way to the display (the self-view's way, opposite corner); the pictures
//! the room sends to the other places do not carry it.

use std::sync::Mutex;

use gstreamer as gst;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;

/// Modules of white around the code, as QR readers expect.
const QUIET_MODULES: u32 = 4;

/// A drawn code: `side` x `side` luma values (0 dark, 255 light).
#[derive(Debug, Clone, PartialEq)]
pub struct Drawn {
    pub side: u32,
    pub luma: Vec<u8>,
}

/// The code drawn for a screen size (`None`: it does not fit that screen).
type ForSize = ((u32, u32), Option<Drawn>);

/// Where the code goes on a screen of `width` x `height`: its side (a third of the shorter
/// edge, even) and the margin from the bottom-left corner (the self-view's), both even.
pub fn geometry(width: u32, height: u32) -> (u32, u32) {
    ((width.min(height) / 3) & !1, (width / 40).max(4) & !1)
}

/// Draws `modules` (dark = true, row by row) with their quiet zone in at most `side` pixels,
/// each module a whole number of pixels (the code is centred in the rest). `None` when not
/// even one pixel per module fits.
pub fn draw(modules: &[Vec<bool>], side: u32) -> Option<Drawn> {
    let count = modules.len() as u32 + 2 * QUIET_MODULES;
    let scale = side / count;
    if scale == 0 || modules.iter().any(|row| row.len() != modules.len()) {
        return None;
    }
    let offset = (side - scale * count) / 2 + QUIET_MODULES * scale;
    let mut luma = vec![255u8; (side * side) as usize];
    for (row, cells) in modules.iter().enumerate() {
        for (column, dark) in cells.iter().enumerate() {
            if !dark {
                continue;
            }
            let (x0, y0) = (offset + column as u32 * scale, offset + row as u32 * scale);
            for y in y0..y0 + scale {
                let start = (y * side + x0) as usize;
                luma[start..start + scale as usize].fill(0);
            }
        }
    }
    Some(Drawn { side, luma })
}

/// Pastes the code of `link` into every I420 frame leaving `element`'s src pad.
pub fn draw_on(element: &gst::Element, link: &str) {
    let (Some(pad), Some(modules)) = (element.static_pad("src"), crate::guests::link::modules(link)) else {
        tracing::warn!(link, "the join link cannot be drawn as a QR code: the in-call screen goes without it");
        return;
    };
    let drawn: Mutex<Option<ForSize>> = Mutex::new(None);
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(screen) = pad.current_caps().and_then(|c| gst_video::VideoInfo::from_caps(&c).ok()) else {
            return gst::PadProbeReturn::Ok;
        };
        let (Ok(mut cache), Some(gst::PadProbeData::Buffer(buffer))) = (drawn.lock(), &mut info.data) else {
            return gst::PadProbeReturn::Ok;
        };
        let size = (screen.width(), screen.height());
        if cache.as_ref().is_none_or(|(at, _)| *at != size) {
            *cache = Some((size, draw(&modules, geometry(size.0, size.1).0)));
        }
        if let Some((_, Some(code))) = cache.as_ref() {
            paste(buffer.make_mut(), &screen, code);
        }
        gst::PadProbeReturn::Ok
    });
}

/// The code's luma into the frame's bottom-left corner, its colour planes neutral (grey).
fn paste(frame: &mut gst::BufferRef, screen: &gst_video::VideoInfo, code: &Drawn) {
    if screen.format() != gst_video::VideoFormat::I420 || code.side + 8 > screen.width().min(screen.height()) {
        return;
    }
    let margin = geometry(screen.width(), screen.height()).1;
    let (x, y) = (margin, (screen.height() - code.side - margin) & !1);
    let Ok(mut dst) = gst_video::VideoFrameRef::from_buffer_ref_writable(frame, screen) else { return };
    for plane in 0..3u32 {
        let (shift, stride) = (u32::from(plane > 0), dst.plane_stride()[plane as usize] as usize);
        let Ok(to) = dst.plane_data_mut(plane) else { return };
        let (side, x, y) = ((code.side >> shift) as usize, (x >> shift) as usize, (y >> shift) as usize);
        for row in 0..side {
            let Some(line) = to.get_mut((y + row) * stride + x..(y + row) * stride + x + side) else { return };
            if plane == 0 {
                line.copy_from_slice(&code.luma[row * side..(row + 1) * side]);
            } else {
                line.fill(128);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_module_is_a_square_of_whole_pixels_inside_its_quiet_zone() {
        let modules = vec![vec![true, false], vec![false, true]];
        // 2 modules + 8 of quiet zone = 10; 23 px gives 2 px per module and 3 px to centre.
        let drawn = draw(&modules, 23).unwrap();
        assert_eq!((drawn.side, drawn.luma.len()), (23, 23 * 23));
        let at = |x: usize, y: usize| drawn.luma[y * 23 + x];
        let first = 1 + 4 * 2; // half the spare 3 px (1), then the quiet zone
        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            assert_eq!(at(first + dx, first + dy), 0, "top-left module");
            assert_eq!(at(first + 2 + dx, first + 2 + dy), 0, "bottom-right module");
            assert_eq!(at(first + 2 + dx, first + dy), 255, "top-right module");
        }
        assert_eq!(drawn.luma.iter().filter(|v| **v == 0).count(), 8, "two dark modules of 4 px");
    }

    #[test]
    fn a_code_that_does_not_fit_is_not_drawn() {
        let modules = vec![vec![true; 21]; 21];
        assert!(draw(&modules, 28).is_none(), "29 modules with the quiet zone need 29 px");
        assert!(draw(&modules, 29).is_some());
        assert!(draw(&[vec![true, false]], 40).is_none(), "not square");
    }

    #[test]
    fn the_code_takes_a_third_of_the_shorter_edge_in_even_sizes() {
        assert_eq!(geometry(1280, 720), (240, 32));
        assert_eq!(geometry(320, 240), (80, 8));
    }
}
