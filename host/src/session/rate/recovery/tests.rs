//! Unit tests of `recovery.rs`: when probes are asked for, and how.

use super::*;

/// The link carried 8000 kbit/s at `t0`.
fn had_8000(t0: Instant) -> RecoveryProbes {
    RecoveryProbes {
        proven: Some((8000.0, t0)),
        ..RecoveryProbes::default()
    }
}

/// [`had_8000`], then 1.5 s clear at an estimate of 1000 and a target of 850: an allocation
/// probe asked at 1500 ms.
fn asked_at_1000(t0: Instant) -> RecoveryProbes {
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut p = had_8000(t0);
    for i in 0..7 {
        p.on_sample(at(i * 250), Some(40.0), 0.0, Some(850.0));
        p.on_estimate(at(i * 250), 1000.0);
    }
    assert_eq!(
        p.due(at(1500), 850.0, 1000.0, 8000.0),
        Some(Ask::Allocation)
    );
    p
}

#[test]
fn only_a_link_that_carried_more_lately_is_probed_for_it() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut p = RecoveryProbes::default();
    // 2 s lossless at 4000, then a lost packet: not carried yet.
    for i in 0..8 {
        p.on_sample(at(i * 250), Some(40.0), 0.0, Some(4000.0));
    }
    p.on_sample(at(2000), Some(40.0), 0.05, Some(4000.0));
    assert_eq!(p.proven_kbps(at(2000)), None);
    assert!(
        p.due(at(2000), 1000.0, 1200.0, 8000.0).is_none(),
        "never carried more"
    );
    for i in 9..30 {
        p.on_sample(at(i * 250), Some(40.0), 0.05, Some(4000.0));
    }
    // 3 s lossless: carried.
    for i in 30..43 {
        p.on_sample(at(i * 250), Some(40.0), 0.0, Some(4000.0));
    }
    assert_eq!(p.proven_kbps(at(10_500)), Some(4000.0));
    // Down to 1000: a clear spell asks for a probe; not at 2500 (over half of 4000).
    for i in 43..50 {
        p.on_sample(at(i * 250), Some(40.0), 0.0, Some(1000.0));
    }
    assert!(p.due(at(12_250), 2500.0, 3000.0, 8000.0).is_none());
    assert!(p.due(at(12_250), 1000.0, 1200.0, 8000.0).is_some());
    // Forgotten two minutes after it was last carried.
    assert_eq!(p.proven_kbps(at(10_500) + PROVEN_KEPT_FOR), None);
}

#[test]
fn a_probe_is_asked_for_only_after_a_clear_spell_and_less_often_after_failed_leads() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut p = had_8000(t0);
    let mut ms = 0;
    // A standing queue (57 ms over a 40 ms floor) or loss: never clear for long.
    for rtt in [40.0, 57.0, 58.0, 57.0, 59.0, 57.0, 58.0, 57.0] {
        p.on_sample(at(ms), Some(rtt), 0.0, Some(900.0));
        assert!(p.due(at(ms), 900.0, 1000.0, 8000.0).is_none(), "at {ms} ms");
        ms += 250;
    }
    for _ in 0..8 {
        p.on_sample(at(ms), Some(41.0), 0.05, Some(900.0));
        assert!(
            p.due(at(ms), 900.0, 1000.0, 8000.0).is_none(),
            "lossy, at {ms} ms"
        );
        ms += 250;
    }
    // Clear spells of 2.5 s between standing queues (a link at its edge; one sample in a
    // queue is not enough, the lowest of four counts): asked after 1.5 s of each, at most
    // every `FIRST_EVERY` however little the probes found (a probe that finds nothing
    // costs a burst of a few packets; the wait it doubled to kept the first probe after a
    // lift 6 s back on the link bench).
    let start = ms;
    let mut asked = Vec::new();
    for i in 0..120 {
        let rtt = if i % 12 >= 7 { 57.0 } else { 41.0 };
        p.on_sample(at(ms), Some(rtt), 0.0, Some(900.0));
        p.on_estimate(at(ms), 1000.0);
        if p.due(at(ms), 900.0, 1000.0, 8000.0).is_some() {
            asked.push(ms - start);
        }
        ms += 250;
    }
    assert_eq!(
        asked,
        [1500, 4500, 7500, 10_500, 13_500, 16_500, 19_500, 22_500, 25_500, 28_500]
    );
    // A long clear spell asks as soon as the last probe is judged (its result waited for
    // `RESULT_WITHIN`), every `CLEAR_EVERY` at most, however little the probes found.
    let mut c = had_8000(t0);
    let mut asked = Vec::new();
    for i in 0..40 {
        c.on_sample(at(i * 250), Some(40.0), 0.0, Some(900.0));
        c.on_estimate(at(i * 250), 1000.0);
        if c.due(at(i * 250), 900.0, 1000.0, 8000.0).is_some() {
            asked.push(i * 250);
        }
    }
    assert_eq!(asked, [1500, 3000, 4500, 6000, 7500, 9000]);
    // What a probe finds leads the target over the link (the lead fails a sample after its
    // result): the next waits longer, and the estimator is not started over from it.
    let mut f = had_8000(t0);
    let mut asked = Vec::new();
    let mut fails = false;
    for i in 0..100 {
        let now = at(i * 250);
        let rtt = if i % 12 >= 7 { 57.0 } else { 40.0 };
        let estimate = if asked.is_empty() { 1000.0 } else { 1500.0 };
        f.on_sample(now, Some(rtt), 0.0, Some(900.0));
        f.on_estimate(now, estimate);
        if std::mem::take(&mut fails) {
            f.failed();
        }
        if f.due(now, 900.0, estimate, 8000.0).is_some() {
            asked.push(i * 250);
            fails = true;
        }
    }
    assert_eq!(asked, [1500, 7500, 19_500]);
    // Near the configured rate: never.
    let mut q = had_8000(t0);
    for i in 0..40 {
        q.on_sample(at(i * 250), Some(40.0), 0.0, Some(7000.0));
        assert!(q.due(at(i * 250), 7000.0, 8200.0, 8000.0).is_none());
    }
}

#[test]
fn a_probe_that_found_room_lets_the_next_come_soon() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut p = had_8000(t0);
    let mut estimate = 1000.0;
    let mut asked = Vec::new();
    for i in 0..60 {
        let now = at(i * 250);
        p.on_sample(now, Some(40.0), 0.0, Some(estimate * 0.85));
        p.on_estimate(now, estimate);
        if p.due(now, estimate * 0.85, estimate, 8000.0).is_some() {
            asked.push(i * 250);
            estimate *= 2.0; // the link had room
            p.carried();
        }
        assert_eq!(
            p.awaiting(now),
            asked
                .last()
                .is_some_and(|&a| i * 250 - a < RESULT_WITHIN.as_millis() as u64)
        );
    }
    // Each probe that found room starts the estimator over from what it found at once (its
    // loss-based half forgets the narrow link's loss), until the target is near the
    // configured rate.
    assert_eq!(asked, [1500, 1750, 2000]);
}

#[test]
fn after_a_probe_found_room_the_estimator_starts_over_and_the_next_come_soon() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    // The asks when the first finds `found` (the target over half of what was carried at
    // 5000) and the rest find nothing more.
    let chain = |found: f64| {
        let mut p = had_8000(t0);
        let mut estimate: f64 = 1000.0;
        let mut asked = Vec::new();
        for i in 0..60 {
            let now = at(i * 250);
            p.on_sample(now, Some(40.0), 0.0, Some(estimate * 0.85));
            p.on_estimate(now, estimate);
            if let Some(ask) = p.due(now, estimate * 0.85, estimate, 8000.0) {
                asked.push((i * 250, ask));
                estimate = estimate.max(found);
            } else if estimate >= found {
                estimate += 5.0; // str0m's own climb: not stuck
            }
        }
        asked
    };
    let restart = |from_kbps, held| Ask::Restart { from_kbps, held };
    // After the one that found room, as soon as the last is judged (`RESULT_WITHIN`) on the
    // clear link though the target is over half of what was carried, for `CLIMB_WITHIN`;
    // each after one that found nothing starts the estimator over (held). The first restart
    // is unheld while str0m's first probe (3 times what was found) stays under the
    // configured rate (`UNHELD_UNDER`).
    // (Under half of what was carried, the link looks opened: asks go on after those.)
    assert_eq!(
        chain(2500.0)[..5],
        [
            (1500, Ask::Allocation),
            (1750, restart(2500.0, false)),
            (3250, restart(2525.0, true)),
            (4750, restart(2550.0, true)),
            (6250, restart(2575.0, true)),
        ]
    );
    assert_eq!(
        chain(5000.0),
        [
            (1500, Ask::Allocation),
            (1750, restart(5000.0, true)),
            (3250, restart(5025.0, true)),
            (4750, restart(5050.0, true)),
            (6250, restart(5075.0, true)),
        ]
    );
}

#[test]
fn a_find_no_higher_than_the_link_showed_lately_restarts_held() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    // A link at its edge: the figure sawed up to 1100 kbit/s a few seconds before, and the
    // probe asked at 800 finds 1200; a link that opened: the probe finds 2000.
    for (found, held) in [(1200.0, true), (2000.0, false)] {
        let mut p = had_8000(t0);
        p.on_estimate(at(0), 1100.0);
        for i in 1..=10 {
            p.on_sample(at(i * 250), Some(40.0), 0.0, Some(680.0));
            p.on_estimate(at(i * 250), 800.0);
        }
        assert_eq!(p.due(at(2500), 680.0, 800.0, 8000.0), Some(Ask::Allocation));
        p.on_estimate(at(2750), found);
        assert_eq!(
            p.due(at(2750), 680.0, found, 8000.0),
            Some(Ask::Restart {
                from_kbps: found,
                held
            }),
            "found {found}"
        );
    }
}

#[test]
fn a_link_looks_opened_after_a_long_clear_spell_under_half_of_what_it_carried() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut p = had_8000(t0);
    for i in 0..11 {
        p.on_sample(at(i * 250), Some(40.0), 0.0, Some(900.0));
    }
    assert!(!p.opened(at(2500), 900.0), "clear for 2.5 s only");
    p.on_sample(at(2750), Some(40.0), 0.0, Some(900.0));
    p.on_sample(at(3000), Some(40.0), 0.0, Some(900.0));
    assert!(p.opened(at(3000), 900.0));
    assert!(!p.opened(at(3000), 4000.0), "half of what was carried");
    // A lost packet, and a new clear spell starts.
    p.on_sample(at(3250), Some(40.0), 0.05, Some(900.0));
    assert!(!p.opened(at(3250), 900.0));
    // A link that never carried more does not look opened.
    let mut n = RecoveryProbes::default();
    for i in 0..40 {
        n.on_sample(at(i * 250), Some(40.0), 0.0, Some(900.0));
    }
    assert!(!n.opened(at(9750), 900.0));
}

#[test]
fn a_probe_that_found_the_full_rate_asks_for_nothing_more() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut p = asked_at_1000(t0);
    // It found 9000, which affords more than WELL_UNDER of 8000: the target, still at
    // 850, climbs there; no restart (its probes would overshoot the link) and no probe.
    let mut ms = 1750;
    while ms <= 9000 {
        p.on_sample(at(ms), Some(40.0), 0.0, Some(850.0));
        p.on_estimate(at(ms), 9000.0 + ms as f64 / 100.0);
        assert_eq!(p.due(at(ms), 850.0, 9000.0, 8000.0), None, "at {ms} ms");
        ms += 250;
    }
}

#[test]
fn a_link_climbs_after_a_probe_found_room_while_it_stays_clear() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut p = asked_at_1000(t0);
    assert!(!p.rising(at(1500), 850.0), "nothing found yet");
    // The probe found 5300: the target at 4500 is over half of what was carried (the link
    // never looks opened), but it climbs while it stays clear, for CLIMB_WITHIN.
    p.on_sample(at(1750), Some(40.0), 0.0, Some(850.0));
    p.on_estimate(at(1750), 5300.0);
    assert!(!p.opened(at(1750), 4500.0));
    assert!(p.rising(at(1750), 4500.0));
    let late = 1750 + CLIMB_WITHIN.as_millis() as u64;
    let mut ms = 2000;
    while ms <= late {
        p.on_sample(at(ms), Some(40.0), 0.0, Some(4500.0));
        ms += 250;
    }
    assert!(!p.opened(at(late), 4500.0));
    assert!(p.rising(at(late - 250), 4500.0));
    assert!(!p.rising(at(late), 4500.0), "CLIMB_WITHIN passed");
    // A lost packet ends the clear spell, and a failed lead ends the climb.
    let mut q = asked_at_1000(t0);
    q.on_estimate(at(1750), 5300.0);
    q.on_sample(at(1750), Some(40.0), 0.05, Some(4500.0));
    assert!(!q.rising(at(1750), 4500.0), "not clear");
    for i in 8..15 {
        q.on_sample(at(i * 250), Some(40.0), 0.0, Some(4500.0));
    }
    assert!(q.rising(at(3500), 4500.0));
    q.failed();
    assert!(!q.rising(at(3500), 4500.0), "a failed lead");
}

#[test]
fn an_allocation_probe_lowers_the_desired_rate_for_a_moment_and_restarts_nothing() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut p = had_8000(t0);
    let mut asks = Vec::new();
    for i in 0..13 {
        p.on_sample(at(i * 250), Some(40.0), 0.0, Some(900.0));
        p.on_estimate(at(i * 250), 900.0 + i as f64 * 20.0);
        p.asked = None; // each probe judged at once: every ask shows
        asks.extend(
            p.due(at(i * 250), 900.0, 1000.0, 8000.0)
                .map(|a| (i * 250, a)),
        );
    }
    // After 1.5 s clear, and after 3 s (a link that looks opened: every `CLEAR_EVERY`).
    assert_eq!(asks, [(1500, Ask::Allocation), (3000, Ask::Allocation)]);
    assert_eq!(
        p.lowered(at(3000), 8000.0),
        Some(1000.0),
        "the desired rate is lowered"
    );
    assert_eq!(
        p.lowered(at(3000) + LOWERED_FOR, 8000.0),
        None,
        "for a moment"
    );
}

#[test]
fn a_held_restart_probes_at_most_a_little_over_the_configured_rate() {
    let t0 = Instant::now();
    for (estimate, lowered) in [(3000.0, 3000.0), (6654.0, 8000.0 * PROBE_REACH / 2.0)] {
        let mut p = had_8000(t0);
        p.restart_found = true; // an asked probe found room
        let ask = p.due(t0, 4000.0, estimate, 8000.0);
        assert_eq!(
            ask,
            Some(Ask::Restart {
                from_kbps: estimate,
                held: true
            })
        );
        // str0m's first probes go at up to twice the desired rate: 6000 and 8800 kbit/s.
        assert_eq!(
            p.lowered(t0, 8000.0),
            Some(lowered),
            "from {estimate} kbit/s"
        );
    }
}

#[test]
fn an_estimate_that_stands_still_on_a_clear_link_is_probed_though_it_is_not_low() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    // The link carried 7000; the estimate then stands at exactly 6565 (target 5580: over
    // half of what was carried, so no probe for a link that came down).
    let mut p = RecoveryProbes {
        proven: Some((7000.0, t0)),
        ..RecoveryProbes::default()
    };
    let mut asked = Vec::new();
    for i in 0..24 {
        p.on_sample(at(i * 250), Some(40.0), 0.0, Some(5580.0));
        p.on_estimate(at(i * 250), 6565.0);
        if let Some(ask) = p.due(at(i * 250), 5580.0, 6565.0, 8000.0) {
            asked.push((i * 250, ask));
        }
    }
    // Started over from the estimate, and again after `CLEAR_EVERY` while it stands still.
    let restart = Ask::Restart {
        from_kbps: 6565.0,
        held: true,
    };
    let stuck = STUCK_AFTER.as_millis() as u64;
    let again = stuck + CLEAR_EVERY.as_millis() as u64;
    assert_eq!(asked, [(stuck, restart), (again, restart)]);
    // An estimate that moves (AIMD, or sawing at a link's edge) is not stuck.
    let mut m = RecoveryProbes {
        proven: Some((7000.0, t0)),
        ..RecoveryProbes::default()
    };
    for i in 0..24 {
        let kbps = 6565.0 + (i % 3) as f64 * 40.0;
        m.on_sample(at(i * 250), Some(40.0), 0.0, Some(5580.0));
        m.on_estimate(at(i * 250), kbps);
        assert_eq!(
            m.due(at(i * 250), 5580.0, kbps, 8000.0),
            None,
            "at {} ms",
            i * 250
        );
    }
    // Nor near the configured rate.
    let mut q = RecoveryProbes::default();
    for i in 0..24 {
        q.on_sample(at(i * 250), Some(40.0), 0.0, Some(7000.0));
        q.on_estimate(at(i * 250), 8235.0);
        assert_eq!(q.due(at(i * 250), 7000.0, 8235.0, 8000.0), None);
    }
}
