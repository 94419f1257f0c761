//! A viewer's own cap on its rate (the page's Quality choice).

use super::*;

#[test]
fn a_cap_holds_the_target_under_it_through_an_idle_screens_hold_and_lifts_cleanly() {
    let t0 = Instant::now();
    let mut r = RateControl::new(t0, 8000, 8000);
    // The picture sent at its target, then the desktop went still: the target is held.
    r.on_sent(t0, 8000.0);
    r.on_estimate(t0, 10_000.0);
    let mut now = t0;
    for i in 1..=50 {
        now = t0 + secs(f64::from(i) * 0.1);
        r.on_sent(now, 100.0);
        r.on_estimate(now, 300.0);
    }
    assert_eq!(r.target_kbps(), 8000, "held while idle");
    // The viewer caps itself at 500: the target goes under the cap at once and stays there
    // however the estimate moves, though the idle hold remembers 8000.
    r.set_cap(now, Some(500));
    assert!(r.capped());
    assert_eq!((r.target_kbps(), r.max_kbps()), (500, 500.0));
    for i in 1..=50 {
        now += secs(0.1);
        r.on_sent(now, 50.0);
        r.on_estimate(now, if i % 2 == 0 { 300.0 } else { 9000.0 });
        assert!(r.target_kbps() <= 500, "{} over the cap", r.target_kbps());
    }
    // Never under the floor, never over the configured rate.
    r.set_cap(now, Some(10));
    assert_eq!(r.max_kbps(), f64::from(MIN_KBPS));
    r.set_cap(now, Some(100_000));
    assert!(!r.capped());
    // Lifted: back to the configured rate as the estimate allows.
    r.set_cap(now, None);
    assert_eq!(r.max_kbps(), 8000.0);
    // A cap told before the estimator's first figure holds at once too.
    let mut fresh = RateControl::new(t0, 1000, 8000);
    fresh.set_cap(t0, Some(500));
    assert_eq!(fresh.target_kbps(), 500);
}
