use super::*;

const MS: fn(u64) -> Duration = Duration::from_millis;

/// Feeds one report every 250 ms for `seconds`, returning the instant after.
fn run(c: &mut RateController, from: Instant, seconds: f64, loss: f64, rtt: f64) -> Instant {
    let mut t = from;
    for _ in 0..(seconds * 4.0) as u32 {
        t += MS(250);
        c.on_report(t, loss, Some(rtt));
    }
    t
}

/// A controller between a 200 kbit/s floor and 2000 kbit/s after 2 s of a clean 1 ms path.
fn settled() -> (RateController, Instant) {
    let mut c = RateController::new(200, 2000);
    let t = run(&mut c, Instant::now(), 2.0, 0.0, 1.0);
    (c, t)
}

#[test]
fn a_clean_path_keeps_the_configured_rate() {
    let mut c = RateController::new(300, 2000);
    run(&mut c, Instant::now(), 10.0, 0.0, 1.0);
    assert_eq!((c.target_kbps(), c.reason()), (2000, &RateReason::Configured));
}

#[test]
fn heavy_loss_lowers_the_rate_in_proportion_and_no_further_than_the_floor() {
    let mut c = RateController::new(300, 2000);
    let t0 = Instant::now();
    assert_eq!(c.on_report(t0, 0.2, Some(1.0)), 2000, "20 % random loss: repair carries it");
    assert_eq!(c.on_report(t0 + MS(10), 0.4, Some(1.0)), 1600, "40 % loss: down by a fifth");
    assert_eq!(c.on_report(t0 + MS(100), 0.4, Some(1.0)), 1600, "a report that cannot reflect it yet");
    assert!(matches!(c.reason(), RateReason::Loss { percent } if (*percent - 40.0).abs() < 1e-9));
    run(&mut c, t0, 30.0, 0.5, 1.0);
    assert_eq!(c.target_kbps(), 300, "the floor holds");
}

#[test]
fn moderate_loss_holds_the_rate_and_little_loss_lets_it_climb_back_within_ten_seconds() {
    let mut c = RateController::new(300, 2000);
    let t = run(&mut c, Instant::now(), 2.0, 0.4, 1.0);
    let low = c.target_kbps();
    assert!(low < 1000, "{low}");
    let t = run(&mut c, t, 5.0, 0.15, 1.0);
    assert_eq!(c.target_kbps(), low, "15 % loss neither lowers nor raises it");
    let t = run(&mut c, t, 3.0, 0.0, 1.0);
    assert!(c.target_kbps() > low && c.reason() == &RateReason::Recovering);
    run(&mut c, t, 7.0, 0.0, 1.0);
    assert_eq!((c.target_kbps(), c.reason()), (2000, &RateReason::Configured), "from {low} in 10 s");
}

#[test]
fn a_queue_lowers_the_rate_before_any_loss_and_jitter_does_not() {
    let mut c = RateController::new(300, 2000);
    let t = run(&mut c, Instant::now(), 2.0, 0.0, 5.0);
    // Jitter: single round trips far above the minimum, others near it.
    let mut jittery = t;
    for i in 0..20 {
        jittery += MS(250);
        c.on_report(jittery, 0.0, Some(if i % 2 == 0 { 70.0 } else { 6.0 }));
    }
    assert_eq!(c.target_kbps(), 2000, "jitter is not a queue");
    // A queue: every round trip stays high.
    run(&mut c, jittery, 1.75, 0.0, 80.0);
    assert!(c.target_kbps() < 2000, "{}", c.target_kbps());
    assert_eq!(c.reason(), &RateReason::Delay { rtt_ms: 80.0, baseline_ms: 5.0 });
    assert!(c.reason().to_string().contains("round trip 80 ms"), "{}", c.reason());
}

#[test]
fn nonsense_reports_change_nothing() {
    let mut c = RateController::new(300, 2000);
    let t0 = Instant::now();
    c.on_report(t0, f64::NAN, Some(f64::NAN));
    c.on_report(t0 + MS(600), -3.0, Some(-1.0));
    c.on_report(t0 + MS(1200), 0.0, None);
    assert_eq!(c.target_kbps(), 2000);
    let mut odd = RateController::new(5000, 1000);
    assert_eq!(odd.on_report(t0, 0.9, None), 1000, "a floor above the rate is the rate");
}

#[test]
fn heavy_loss_goes_straight_to_what_got_through() {
    let mut c = RateController::new(200, 2000);
    c.set_sent_kbps(2000.0, 100.0);
    assert_eq!(
        c.on_report(Instant::now(), 0.5, Some(1.0)),
        855,
        "half of 2100 lost: 1050 got through, 100 of it sound; just under the 950 of video"
    );
}

#[test]
fn a_queue_lowers_the_rate_to_just_under_what_the_place_received() {
    let (mut c, t) = settled();
    c.set_delivered_kbps(Some(850.0));
    run(&mut c, t, 1.0, 0.0, 60.0);
    assert_eq!(c.target_kbps(), 765, "a 1 Mbit/s link delivered 850 kbit/s of video");
    assert!(matches!(c.reason(), RateReason::Delay { .. }), "{:?}", c.reason());
    let (mut deep, t) = settled();
    deep.set_delivered_kbps(Some(850.0));
    run(&mut deep, t, 1.0, 0.0, 301.0);
    assert_eq!(deep.target_kbps(), 595, "a 300 ms queue: far enough under it to drain within a second");
}

#[test]
fn the_climb_slows_near_what_the_path_carried_and_speeds_up_past_it() {
    let (mut c, t) = settled();
    c.set_delivered_kbps(Some(500.0));
    let t = run(&mut c, t, 1.0, 0.0, 300.0);
    c.set_delivered_kbps(None);
    let low = c.target_kbps();
    assert_eq!(low, 350);
    // Past the round trip's window: the queue has drained.
    let mut t = run(&mut c, t, 2.0, 0.0, 1.0);
    let mut steps = vec![c.target_kbps()];
    while c.target_kbps() < 2000 && steps.len() < 40 {
        t = run(&mut c, t, 1.0, 0.0, 1.0);
        steps.push(c.target_kbps());
    }
    let growth: Vec<f64> = steps.windows(2).map(|w| f64::from(w[1]) / f64::from(w[0])).collect();
    let mut near = steps.iter().zip(&growth).filter(|(kbps, _)| (425..550).contains(*kbps));
    assert!(near.clone().count() >= 1 && near.all(|(_, g)| *g < 1.09), "near 500 it probes: {steps:?}");
    let mut far = steps.iter().zip(&growth).filter(|(kbps, _)| **kbps >= 800 && **kbps < 1600);
    assert!(far.clone().count() >= 3 && far.all(|(_, g)| *g > 1.24), "past it, 25 % a second: {steps:?}");
    assert_eq!(c.reason(), &RateReason::Configured);
}

#[test]
fn no_climb_while_the_round_trip_grows() {
    let mut c = RateController::new(200, 2000);
    let t = run(&mut c, Instant::now(), 1.0, 0.0, 1.0);
    let t = run(&mut c, t, 2.5, 0.0, 300.0);
    let t = run(&mut c, t, 2.0, 0.0, 1.0);
    let low = c.target_kbps();
    assert!(low < 2000);
    // One report 30 ms above the baseline: a queue may be forming.
    c.on_report(t + MS(1100), 0.0, Some(31.0));
    assert_eq!(c.target_kbps(), low);
    c.on_report(t + MS(2200), 0.0, Some(2.0));
    assert!(
        c.target_kbps() > low,
        "the round trip fell back: the climb goes on ({low} -> {}, {:?})",
        c.target_kbps(),
        c.reason()
    );
}

#[test]
fn a_queue_on_the_way_in_is_not_ours_to_drain() {
    let (mut c, t) = settled();
    // The round trip grows by 200 ms, all of it on the place's way to us.
    c.set_incoming_queue_ms(Some(199.0));
    let t = run(&mut c, t, 2.0, 0.0, 201.0);
    assert_eq!(c.target_kbps(), 2000, "{:?}", c.reason());
    c.set_incoming_queue_ms(Some(50.0));
    run(&mut c, t, 1.0, 0.0, 201.0);
    assert!(matches!(c.reason(), RateReason::Delay { .. }), "150 ms of it on our way out: {:?}", c.reason());
}

#[test]
fn a_jittery_path_needs_a_longer_round_trip_to_mean_a_queue() {
    let (mut c, t) = settled();
    c.set_jitter_ms(Some(10.0));
    let t = run(&mut c, t, 2.0, 0.0, 60.0);
    assert_eq!(c.target_kbps(), 2000, "60 ms on a path jittering 10 ms each packet: {:?}", c.reason());
    run(&mut c, t, 1.0, 0.0, 90.0);
    assert!(matches!(c.reason(), RateReason::Delay { .. }), "{:?}", c.reason());
}

#[test]
fn the_climb_is_a_share_a_second_however_far_apart_the_reports_are() {
    let climb_after = |gap: Duration| {
        let (mut c, t) = settled();
        let t = run(&mut c, t, 3.0, 0.5, 1.0);
        let low = c.target_kbps();
        let mut t = run(&mut c, t, 1.5, 0.0, 1.0);
        let start = (c.target_kbps(), t);
        while t < start.1 + Duration::from_secs(6) {
            t += gap;
            c.on_report(t, 0.0, Some(1.0));
        }
        let per_second = (f64::from(c.target_kbps()) / f64::from(start.0)).powf(1.0 / (t - start.1).as_secs_f64());
        (low, per_second)
    };
    let (low, every_quarter) = climb_after(MS(250));
    let (_, thin_link) = climb_after(MS(450));
    assert!(low < 400, "six halvings by a quarter: {low}");
    assert!((every_quarter - 1.25).abs() < 0.03, "{every_quarter}");
    assert!(
        (thin_link - every_quarter).abs() < 0.04,
        "reports every 0.45 s: {thin_link} a second, {every_quarter} with 0.25 s"
    );
}

/// Feeds `n` round trips of `rtt` ms from reports of a few packets, 100 ms apart, after `from`.
fn few_packet_reports(c: &mut RateController, from: Instant, n: u32, rtt: f64) -> Instant {
    let mut t = from;
    for _ in 0..n {
        t += MS(100);
        c.observe_rtt(t, rtt);
    }
    t
}

/// A settled controller whose place received 900 kbit/s of video lately.
fn delivering_900() -> (RateController, Instant) {
    let (mut c, t) = settled();
    c.set_delivered_kbps(Some(900.0));
    (c, t)
}

#[test]
fn a_queue_counts_on_reports_of_too_few_packets_to_judge_loss() {
    let (mut c, t) = delivering_900();
    // Loss cannot be judged on a handful of packets; the queue can.
    few_packet_reports(&mut c, t, 3, 250.0);
    assert!(matches!(c.reason(), RateReason::Delay { .. }), "{:?}", c.reason());
    assert_eq!(c.target_kbps(), 675, "three reports 0.3 s apart, and just under what got through");
}

#[test]
fn a_draining_queue_does_not_lower_the_rate_again() {
    let (mut c, t) = delivering_900();
    let mut at = few_packet_reports(&mut c, t, 3, 400.0);
    let lowered = c.target_kbps();
    assert!(lowered < 900, "{lowered}");
    // The queue shrinks once the lower rate reaches it: still a queue, but no new lowering.
    for rtt in [400.0, 390.0, 350.0, 300.0, 250.0, 200.0, 150.0, 100.0] {
        at += MS(150);
        c.observe_rtt(at, rtt);
    }
    assert_eq!(c.target_kbps(), lowered, "{:?}", c.reason());
    // A queue that stays (the link got thinner still) lowers it, once the last lowering could show.
    let (mut thinner, t) = delivering_900();
    let at = few_packet_reports(&mut thinner, t, 10, 400.0);
    assert_eq!(thinner.target_kbps(), lowered, "not within two round trips of the last lowering");
    few_packet_reports(&mut thinner, at, 2, 400.0);
    assert!(thinner.target_kbps() < lowered, "{}", thinner.target_kbps());
}
