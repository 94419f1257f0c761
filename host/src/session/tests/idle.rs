//! An idle screen says nothing about the link: on virtual time, scrolling text on a 2 Mbit/s
//! link, then a screen that stands still (tiny all-skip frames, the estimator fed padding),
//! then motion again: the target the link earned is held through the still spell, and the
//! picture moves at once at full quality.

use std::time::Duration;

use super::rate::{capped, longest_freeze, shown};
use super::{delay, Harness};

/// The target over the last `d` of the run: (lowest, highest), kbit/s.
fn target_range(h: &Harness, d: Duration) -> (u32, u32) {
    let from = h.now - d;
    let before = h
        .rate_log
        .iter()
        .rev()
        .find(|(t, _)| *t < from)
        .map_or(h.rate_kbps, |c| c.1);
    h.rate_log
        .iter()
        .filter(|(t, _)| *t >= from)
        .map(|(_, k)| *k)
        .fold((before, before), |(lo, hi), k| (lo.min(k), hi.max(k)))
}

#[test]
fn a_still_screen_keeps_the_rate_its_link_earned_and_motion_gets_it_at_once() {
    let mut h = Harness::new(delay(20, 61));
    h.follow_rate = true;
    h.min_frame_bytes = 800;
    h.add_client(capped(2000, 62), &[]);
    assert!(h.connect_all(Duration::from_secs(5)));
    h.run_for(Duration::from_secs(15));
    // The lowest target of the last 3 s of motion: what the link surely earned.
    let (earned, _) = target_range(&h, Duration::from_secs(3));
    let rung = h.rung;
    let t0 = h.now;

    h.still = true;
    h.run_for(Duration::from_secs(40));
    let (low, high) = target_range(&h, Duration::from_secs(40));
    let log: Vec<_> = h
        .rate_log
        .iter()
        .filter(|(t, _)| *t >= t0)
        .map(|(t, k)| (t.duration_since(t0).as_millis(), *k))
        .collect();
    eprintln!("while still: {log:?}");

    h.still = false;
    let moved = h.now;
    h.run_for(Duration::from_secs(2));
    let (after, _) = target_range(&h, Duration::from_millis(500));
    h.run_for(Duration::from_secs(3));
    let frames = &h.clients[0].frames;
    let freeze = longest_freeze(frames, moved);
    let shown_after = shown(frames, moved).count();
    eprintln!(
        "still screen at 2 Mbit/s: earned {earned} kbit/s at rung {rung}; while still \
         {low}..{high}; 1.5–2 s after motion {after} (rung {}); longest freeze after {freeze:?}, \
         {shown_after} frames shown in 5 s",
        h.rung
    );
    assert!(earned >= 600, "the link earned only {earned} kbit/s");
    assert!(
        low * 10 >= earned * 9,
        "the still screen lost the rate: {earned} → {low} kbit/s"
    );
    assert!(
        high <= 2000,
        "the target rose to {high} kbit/s above the link while nothing measured it"
    );
    // The target follows the lower quartile of the estimator's figures of the last 3 s (the
    // saw's lows: 0.86 of the rate earned here): within 0.85 of it, on no lower a rung.
    assert!(
        after * 100 >= earned * 85 && h.rung <= rung,
        "2 s after motion: {after} kbit/s at rung {} (earned {earned} at rung {rung})",
        h.rung
    );
    assert!(freeze <= Duration::from_millis(300), "froze for {freeze:?}");
    assert!(shown_after >= 45 * 5, "{shown_after} frames shown in 5 s");
}
