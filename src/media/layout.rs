//! Screen layout of a meeting, pure: where each place's tile goes on a screen (or in the
//! composite every remote place receives), which place is speaking, and how its tile is
//! framed. Tiles keep the screen's aspect ratio; no GStreamer here.

/// A rectangle on the screen, in pixels; all even, as I420's half-size colour planes need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

fn even(v: i32) -> i32 {
    v & !1
}

/// The tiles of `places` places on a `width` x `height` screen, in order: one place fills the
/// screen; two sit side by side at half size, centred vertically; three or four share a 2x2
/// grid, a lone place in the last row centred.
pub fn tiles(places: usize, width: u32, height: u32) -> Vec<Rect> {
    let (w, h) = (width as i32, height as i32);
    match places {
        0 => vec![],
        1 => vec![Rect { x: 0, y: 0, w: even(w), h: even(h) }],
        _ => {
            let (tw, th) = (even(w / 2), even(h / 2));
            let rows = places.div_ceil(2);
            let top = if rows == 1 { even((h - th) / 2) } else { 0 };
            (0..places)
                .map(|i| {
                    let (row, col) = ((i / 2) as i32, (i % 2) as i32);
                    let alone = i == places - 1 && places % 2 == 1;
                    let x = if alone { even((w - tw) / 2) } else { col * tw };
                    Rect { x, y: top + row * th, w: tw, h: th }
                })
                .collect()
        }
    }
}

/// The speaking place's picture inside its tile, `border` pixels in on every side: the
/// highlight drawn behind the tile shows as a frame around it.
pub fn inset(tile: Rect, border: i32) -> Rect {
    let border = border.min(tile.w / 4).min(tile.h / 4).max(0);
    Rect {
        x: even(tile.x + border),
        y: even(tile.y + border),
        w: even(tile.w - 2 * border),
        h: even(tile.h - 2 * border),
    }
}

/// Below this a place counts as silent (dBFS RMS of its decoded sound).
pub const SPEAKING_DB: f64 = -45.0;
/// A new speaker must be this much louder than the current one to take the highlight, so it
/// does not flicker between two people talking at once.
pub const SWITCH_MARGIN_DB: f64 = 6.0;

/// Who is speaking, from each place's level (place, dBFS): the loudest place above
/// [`SPEAKING_DB`]; the `current` speaker keeps it unless another is clearly louder.
pub fn speaker<P: Copy + PartialEq>(levels: &[(P, f64)], current: Option<P>) -> Option<P> {
    let loudest = levels.iter().filter(|(_, db)| *db > SPEAKING_DB).max_by(|a, b| a.1.total_cmp(&b.1));
    let current_level = current.and_then(|c| levels.iter().find(|(i, _)| *i == c)).map(|(_, db)| *db);
    match (loudest, current_level) {
        (None, _) => None,
        (Some(&(i, _)), None) => Some(i),
        (Some(&(i, db)), Some(now)) if now <= SPEAKING_DB || db > now + SWITCH_MARGIN_DB => Some(i),
        (Some(_), Some(_)) => current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_place_fills_the_screen() {
        assert_eq!(tiles(1, 1280, 720), vec![Rect { x: 0, y: 0, w: 1280, h: 720 }]);
    }

    #[test]
    fn two_places_sit_side_by_side_in_the_middle() {
        let t = tiles(2, 1280, 720);
        assert_eq!(t, vec![Rect { x: 0, y: 180, w: 640, h: 360 }, Rect { x: 640, y: 180, w: 640, h: 360 }]);
    }

    #[test]
    fn three_places_share_a_grid_with_the_last_one_centred() {
        let t = tiles(3, 1280, 720);
        assert_eq!(t[0], Rect { x: 0, y: 0, w: 640, h: 360 });
        assert_eq!(t[1], Rect { x: 640, y: 0, w: 640, h: 360 });
        assert_eq!(t[2], Rect { x: 320, y: 360, w: 640, h: 360 });
    }

    #[test]
    fn four_places_fill_a_two_by_two_grid_without_overlap() {
        let t = tiles(4, 320, 240);
        assert_eq!(t.len(), 4);
        assert_eq!(t[3], Rect { x: 160, y: 120, w: 160, h: 120 });
        for (i, a) in t.iter().enumerate() {
            for b in &t[i + 1..] {
                let apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
                assert!(apart, "{a:?} overlaps {b:?}");
            }
        }
    }

    #[test]
    fn tiles_are_even_on_odd_screens() {
        for r in tiles(3, 323, 241) {
            assert!([r.x, r.y, r.w, r.h].iter().all(|v| v % 2 == 0), "{r:?}");
        }
    }

    #[test]
    fn the_speakers_picture_sits_inside_its_tile_leaving_a_frame() {
        let tile = Rect { x: 640, y: 360, w: 640, h: 360 };
        assert_eq!(inset(tile, 8), Rect { x: 648, y: 368, w: 624, h: 344 });
        assert_eq!(
            inset(Rect { x: 0, y: 0, w: 16, h: 12 }, 8),
            Rect { x: 2, y: 2, w: 10, h: 6 },
            "never more than a quarter"
        );
    }

    #[test]
    fn the_loudest_place_speaks_and_silence_has_no_speaker() {
        assert_eq!(speaker(&[(0, -60.0), (1, -20.0), (2, -30.0)], None), Some(1));
        assert_eq!(speaker(&[(0, -60.0), (1, -70.0)], Some(1)), None);
    }

    #[test]
    fn the_current_speaker_keeps_the_highlight_unless_another_is_clearly_louder() {
        assert_eq!(speaker(&[(0, -22.0), (1, -20.0)], Some(0)), Some(0));
        assert_eq!(speaker(&[(0, -30.0), (1, -20.0)], Some(0)), Some(1));
        assert_eq!(speaker(&[(0, -50.0), (1, -40.0)], Some(0)), Some(1), "a silent speaker gives way");
    }
}
