use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Drives a recogniser through `(offset_ms, pressed)` edges, polling at every deadline up to
/// `end_ms`; returns the gestures with the time they fired.
fn run(start_pressed: bool, edges: &[(u64, bool)], end_ms: u64) -> Vec<(u64, Gesture)> {
    let t0 = Instant::now();
    let mut r = Recognizer::new(GestureTiming::default(), t0, start_pressed);
    let mut out = Vec::new();
    let mut edges = edges.iter().peekable();
    let mut now = t0;
    loop {
        let next_edge = edges.peek().map(|(at, _)| t0 + ms(*at));
        let next = [next_edge, r.next_deadline()].into_iter().flatten().min();
        let Some(at) = next.filter(|at| *at <= t0 + ms(end_ms)) else { break };
        now = now.max(at);
        let gesture = if next_edge == Some(at) {
            let (_, pressed) = edges.next().unwrap();
            r.on_edge(now, *pressed)
        } else {
            r.poll(now)
        };
        out.extend(gesture.map(|g| ((now - t0).as_millis() as u64, g)));
    }
    out
}

#[test]
fn a_clean_short_press_is_one_short_press_on_release() {
    assert_eq!(run(false, &[(100, true), (300, false)], 3000), vec![(330, Gesture::ShortPress)]);
}

#[test]
fn contact_bounce_on_press_and_release_still_gives_one_press() {
    let bouncy =
        [(100, true), (102, false), (104, true), (107, false), (109, true), (400, false), (401, true), (403, false)];
    assert_eq!(run(false, &bouncy, 3000), vec![(433, Gesture::ShortPress)]);
}

#[test]
fn a_glitch_shorter_than_the_debounce_is_not_a_press() {
    assert_eq!(run(false, &[(100, true), (110, false)], 3000), vec![]);
}

#[test]
fn holding_fires_a_long_press_while_held_and_the_release_adds_nothing() {
    assert_eq!(
        run(false, &[(100, true), (2500, false)], 5000),
        vec![(1600, Gesture::LongPress)],
        "1.5 s after the press itself"
    );
}

#[test]
fn a_button_held_at_boot_gives_nothing_until_released_and_pressed_again() {
    assert_eq!(run(true, &[(3000, false), (4000, true), (4200, false)], 6000), vec![(4230, Gesture::ShortPress)]);
}

#[test]
fn a_bounce_storm_is_ignored_and_the_button_works_again_after_quiet() {
    let mut edges: Vec<(u64, bool)> = (0..100).map(|i| (100 + i * 5, i % 2 == 0)).collect();
    edges.extend([(4000, true), (4200, false)]);
    let gestures = run(false, &edges, 6000);
    assert_eq!(gestures, vec![(4230, Gesture::ShortPress)], "nothing from the storm, then a normal press");
}

#[test]
fn the_storm_is_reported_while_it_lasts() {
    let t0 = Instant::now();
    let mut r = Recognizer::new(GestureTiming::default(), t0, false);
    for i in 0..60 {
        r.on_edge(t0 + ms(i * 5), i % 2 == 0);
    }
    assert!(r.storming());
    r.poll(t0 + ms(300 + 2001));
    assert!(!r.storming());
}
