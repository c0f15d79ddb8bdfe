//! The frame sizes worth asking a camera about. A camera lists its sizes one by one
//! (discrete) or as a range with a step (stepwise; "continuous" is a step of 1). Expanding a
//! sensor's range into every size it allows would be millions of sizes, each asked for its
//! frame rates with an ioctl, so a range yields only its two ends and the common call sizes
//! that fall on its grid. A step of 0 (a driver's mistake) is read as 1.

use v4l::framesize::{FrameSizeEnum, Stepwise};

/// Sizes a room might call at (16:9 first, then 4:3).
const CALL_SIZES: &[(u32, u32)] =
    &[(320, 180), (640, 360), (960, 540), (1280, 720), (1920, 1080), (320, 240), (640, 480), (800, 600), (1024, 768)];

/// The sizes to describe for one entry of a camera's size list, smallest first.
pub fn sizes_offered(size: &FrameSizeEnum) -> Vec<(u32, u32)> {
    match size {
        FrameSizeEnum::Discrete(d) => vec![(d.width, d.height)],
        FrameSizeEnum::Stepwise(range) => {
            let ends = [(range.min_width, range.min_height), (range.max_width, range.max_height)];
            let mut sizes: Vec<(u32, u32)> =
                ends.into_iter().chain(CALL_SIZES.iter().copied()).filter(|s| on_grid(range, *s)).collect();
            sizes.sort_unstable_by_key(|(w, h)| (u64::from(*w) * u64::from(*h), *w));
            sizes.dedup();
            sizes
        }
    }
}

fn on_grid(range: &Stepwise, (w, h): (u32, u32)) -> bool {
    let fits = |v: u32, min: u32, max: u32, step: u32| v >= min && v <= max && (v - min).is_multiple_of(step.max(1));
    fits(w, range.min_width, range.max_width, range.step_width)
        && fits(h, range.min_height, range.max_height, range.step_height)
}

#[cfg(test)]
mod tests {
    use super::*;
    use v4l::framesize::Discrete;

    fn range(min: (u32, u32), max: (u32, u32), step: (u32, u32)) -> FrameSizeEnum {
        FrameSizeEnum::Stepwise(Stepwise {
            min_width: min.0,
            max_width: max.0,
            step_width: step.0,
            min_height: min.1,
            max_height: max.1,
            step_height: step.1,
        })
    }

    #[test]
    fn a_listed_size_is_itself() {
        let size = FrameSizeEnum::Discrete(Discrete { width: 640, height: 480 });
        assert_eq!(sizes_offered(&size), vec![(640, 480)]);
    }

    #[test]
    fn a_sensor_range_gives_its_ends_and_the_call_sizes_on_its_grid_not_every_size() {
        // A 16-megapixel sensor in steps of 2: every size would be 2.5 million sizes.
        let sizes = sizes_offered(&range((16, 16), (4656, 3496), (2, 2)));
        assert!(sizes.len() <= CALL_SIZES.len() + 2, "{sizes:?}");
        assert_eq!(sizes.first(), Some(&(16, 16)));
        assert_eq!(sizes.last(), Some(&(4656, 3496)));
        assert!(sizes.contains(&(1280, 720)) && sizes.contains(&(640, 480)));
    }

    #[test]
    fn sizes_off_the_grid_are_left_out() {
        // Steps of 64 from 64: 1280 is on the grid, 180 and 1080 are not.
        let sizes = sizes_offered(&range((64, 64), (1920, 1088), (64, 64)));
        assert!(sizes.contains(&(64, 64)) && sizes.contains(&(1920, 1088)), "{sizes:?}");
        assert!(!sizes.contains(&(320, 180)) && !sizes.contains(&(1920, 1080)), "{sizes:?}");
    }

    #[test]
    fn a_step_of_zero_is_a_step_of_one_and_does_not_panic() {
        let sizes = sizes_offered(&range((320, 180), (1920, 1080), (0, 0)));
        assert!(sizes.contains(&(1280, 720)) && sizes.contains(&(320, 180)), "{sizes:?}");
        let empty = sizes_offered(&range((800, 600), (640, 480), (0, 0)));
        assert!(empty.is_empty(), "a range whose minimum is past its maximum offers nothing: {empty:?}");
    }
}
