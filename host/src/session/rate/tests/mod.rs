//! The rate controller's rules, one by one, on made-up estimates.

use super::*;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// A peer that sends what it is told, against an estimator that reports `capacity`.
fn drive(r: &mut RateControl, t0: Instant, from: f64, to: f64, capacity: f64) -> Instant {
    let mut t = from;
    while t < to {
        t += 0.1;
        let now = t0 + secs(t);
        r.on_sent(now, f64::from(r.target_kbps()));
        r.on_estimate(now, capacity);
    }
    t0 + secs(to)
}

/// Both figures every 0.25 s from `from` to `to` s, the peer sending its target.
fn drive_raw(r: &mut RateControl, t0: Instant, from: f64, to: f64, raw: f64, event: f64) {
    let mut t = from;
    while t < to {
        t += 0.25;
        let now = t0 + secs(t);
        r.on_sent(now, f64::from(r.target_kbps()));
        r.on_raw_estimate(now, raw);
        r.on_estimate(now, event);
    }
}

#[test]
fn a_configured_rate_under_the_floor_is_obeyed() {
    let t0 = Instant::now();
    let mut r = RateControl::new(t0, 1000, 100);
    assert_eq!(r.target_kbps(), 100);
    r.on_sent(t0, 100.0);
    r.on_estimate(t0, 50.0);
    assert_eq!(r.target_kbps(), 100, "never under the floor of 100");
}

#[test]
fn starts_at_the_configured_rate_and_cuts_at_once_to_a_narrow_link() {
    let t0 = Instant::now();
    let mut r = RateControl::new(t0, 8000, 8000);
    assert_eq!(r.target_kbps(), 8000);
    r.on_sent(t0, 8000.0);
    r.on_estimate(t0 + secs(0.5), 2000.0);
    assert_eq!(
        r.target_kbps(),
        1700,
        "not cut at once to 0.85 of the estimate"
    );
}

#[test]
fn rises_by_at_most_double_a_second_and_never_past_the_configured_rate() {
    let t0 = Instant::now();
    let mut r = RateControl::new(t0, 8000, 8000);
    r.on_sent(t0, 8000.0);
    r.on_estimate(t0, 1000.0);
    assert_eq!(r.target_kbps(), 850);
    drive(&mut r, t0, 0.0, 1.0, 10_000.0);
    let after_1s = r.target_kbps();
    assert!(
        (1690..=1710).contains(&after_1s),
        "{after_1s} after 1 s (850 × 2 = 1700)"
    );
    drive(&mut r, t0, 1.0, 30.0, 10_000.0);
    assert_eq!(r.target_kbps(), 8000);
}

#[test]
fn an_idle_screen_keeps_its_rate() {
    let t0 = Instant::now();
    let mut r = RateControl::new(t0, 8000, 8000);
    // The picture sent at its target, then the desktop went still: 100 kbit/s, and the
    // estimate follows what it sees.
    r.on_sent(t0, 8000.0);
    r.on_estimate(t0, 10_000.0);
    for i in 1..=600 {
        let now = t0 + secs(f64::from(i) * 0.1);
        r.on_sent(now, 100.0);
        r.on_estimate(now, 300.0);
    }
    assert_eq!(
        r.target_kbps(),
        8000,
        "60 s of an idle screen lowered the rate"
    );
    // Motion: the estimator sees a real narrow link, and the peer sends at its target.
    let now = t0 + secs(61.0);
    r.on_estimate(now, 3000.0);
    assert_eq!(r.target_kbps(), 8000, "still idle: held");
    r.on_sent(now, 8000.0);
    assert_eq!(r.target_kbps(), 2550);
}

#[test]
fn an_idle_screen_neither_loses_its_target_nor_ratchets_it_up_and_pads_to_the_estimate() {
    let t0 = Instant::now();
    let mut r = RateControl::new(t0, 1000, 8000);
    drive(&mut r, t0, 0.0, 5.0, 2000.0);
    assert_eq!(r.target_kbps(), 1700);
    assert_eq!(r.padding_kbps(), 1700.0 * PAD_ABOVE_TARGET);
    // Still: the estimate swings with the padding's probes, up and down. The target
    // follows the ups (the link was measured) and comes back to the held one, no lower.
    let mut lowest = u32::MAX;
    for i in 1..=100 {
        let now = t0 + secs(5.0 + f64::from(i) * 0.25);
        r.on_sent(now, 30.0);
        r.on_raw_estimate(now, if i % 2 == 1 { 2600.0 } else { 1200.0 });
        if i % 2 == 0 {
            lowest = lowest.min(r.target_kbps());
        }
    }
    assert_eq!(
        lowest, 1700,
        "held after every down, not ratcheted up to 0.85 × 2600"
    );
    assert_eq!(r.target_kbps(), 1700);
    // While the estimate says less than the held target, padding follows the estimate.
    assert_eq!(r.padding_kbps(), 1200.0 * HEADROOM * PAD_ABOVE_TARGET);
    // Motion: the target follows the estimate again, down as well.
    let now = t0 + secs(31.0);
    r.on_sent(now, 1700.0);
    r.on_raw_estimate(now, 1200.0);
    assert_eq!(r.target_kbps(), 1020);
    // At the configured rate nothing is padded.
    drive(&mut r, t0, 31.0, 40.0, 20_000.0);
    assert_eq!(r.target_kbps(), 8000);
    assert_eq!(r.padding_kbps(), 0.0);
}

#[test]
fn only_a_target_the_picture_sent_at_is_held() {
    let t0 = Instant::now();
    // Still from the start behind a narrow link: the start rate is not held.
    let mut r = RateControl::new(t0, 1000, 8000);
    drive_still(&mut r, t0, 0.0, 3.0, 400.0);
    assert_eq!(r.target_kbps(), 340);
    // Low but real motion over what the estimate affords is not idle.
    let mut r = RateControl::new(t0, 1000, 8000);
    drive(&mut r, t0, 0.0, 3.0, 4000.0);
    assert_eq!(r.target_kbps(), 3400);
    let now = t0 + secs(3.5);
    r.on_sent(now, 1000.0);
    r.on_raw_estimate(now, 1000.0);
    assert_eq!(
        r.target_kbps(),
        850,
        "1000 kbit/s sent into a 1000 kbit/s estimate"
    );
    // A path found again: what was held for the old one goes.
    let mut r = RateControl::new(t0, 1000, 8000);
    drive(&mut r, t0, 0.0, 3.0, 4000.0);
    drive_still(&mut r, t0, 3.0, 4.0, 4000.0);
    r.forget_hold();
    drive_still(&mut r, t0, 4.0, 5.0, 400.0);
    assert_eq!(r.target_kbps(), 340);
}

#[test]
fn after_a_collapse_the_target_goes_lower_only_while_the_link_loses_packets() {
    let t0 = Instant::now();
    let mut r = RateControl::new(t0, 1000, 8000);
    drive(&mut r, t0, 0.0, 5.0, 8000.0);
    assert_eq!(r.target_kbps(), 6800);
    // The link falls: the estimate with it, while a second of packets is lossy.
    let at = |s: f64| t0 + secs(s);
    r.on_loss(at(5.1), 0.6, 0);
    r.on_raw_estimate(at(5.1), 600.0);
    assert_eq!(r.target_kbps(), 510, "a collapse is followed at once");
    r.on_raw_estimate(at(5.3), 400.0);
    assert_eq!(r.target_kbps(), 340, "lossy: followed down");
    // Lossless again: the loss-based estimate slides on; the target stays.
    r.on_loss(at(5.5), 0.0, 0);
    assert_eq!(
        r.padding_kbps(),
        340.0 * PAD_ABOVE_TARGET,
        "no padding on a clear link"
    );
    for (i, kbps) in [380.0, 300.0, 250.0, 200.0].into_iter().enumerate() {
        r.on_raw_estimate(at(5.6 + 0.25 * i as f64), kbps);
        assert_eq!(r.target_kbps(), 340, "lossless fall to {kbps} followed");
    }
    // Above the floor it follows the estimate (its average climbs from the fall's figures),
    // down as well.
    drive_raw(&mut r, t0, 6.5, 9.0, 700.0, 700.0);
    assert!(
        (400..=595).contains(&r.target_kbps()),
        "target {}",
        r.target_kbps()
    );
    r.on_raw_estimate(at(9.1), 500.0);
    assert_eq!(r.target_kbps(), 425, "a fall above the floor is followed");
    // Loss again: followed down, and that is the new floor.
    r.on_loss(at(9.2), 0.1, 0);
    r.on_raw_estimate(at(9.3), 300.0);
    assert_eq!(r.target_kbps(), 255);
    r.on_loss(at(9.4), 0.0, 0);
    r.on_raw_estimate(at(9.5), 200.0);
    assert_eq!(r.target_kbps(), 255);
    // The hold ends HOLD_AFTER_COLLAPSE after the collapse.
    r.on_raw_estimate(at(5.1) + HOLD_AFTER_COLLAPSE, 200.0);
    assert_eq!(r.target_kbps(), 170);
}

/// A still screen (30 kbit/s) against an estimator that reports `capacity`.
fn drive_still(r: &mut RateControl, t0: Instant, from: f64, to: f64, capacity: f64) {
    let mut t = from;
    while t < to {
        t += 0.1;
        let now = t0 + secs(t);
        r.on_sent(now, 30.0);
        r.on_raw_estimate(now, capacity);
    }
}

#[test]
fn a_fall_is_followed_at_once_a_rise_once_held_and_events_are_not_waited_for() {
    let t0 = Instant::now();
    let mut r = RateControl::new(t0, 1000, 8000);
    r.on_sent(t0, 1000.0);
    r.on_estimate(t0, 9000.0);
    r.on_raw_estimate(t0, 8000.0);
    drive_raw(&mut r, t0, 0.0, 5.0, 8000.0, 9000.0);
    assert_eq!(
        r.target_kbps(),
        6800,
        "the estimator's own figure, not the event: 0.85 of 8 Mbit/s"
    );
    // The link falls to 1 Mbit/s: the estimator's figure says so at once.
    let now = t0 + secs(5.1);
    r.on_raw_estimate(now, 1000.0);
    assert_eq!(r.target_kbps(), 850, "the fall followed at once");
    r.on_estimate(t0 + secs(5.2), 6000.0);
    assert_eq!(
        r.target_kbps(),
        850,
        "a lagging event does not undo the cut"
    );
    // The estimator overshoots while it feels for the link: the lower quartile of its figures
    // since the fall leads, not the new figure.
    r.on_raw_estimate(t0 + secs(5.35), 1200.0);
    r.on_raw_estimate(t0 + secs(5.6), 1200.0);
    assert_eq!(
        r.target_kbps(),
        850,
        "0.85 of the quartile of 1000, 1200, 1200"
    );
    r.on_raw_estimate(t0 + secs(5.85), 1200.0);
    r.on_raw_estimate(t0 + secs(6.1), 1200.0);
    // Held in 4 samples of 5: 1200 leads (towards 1020, ×2^(1/4) in the quarter second).
    assert_eq!(r.target_kbps(), 1011);
    // Events stop (nothing to probe) while the estimator climbs to 9 Mbit/s: its figure
    // leads, and the target doubles a second towards 0.85 of it.
    for i in 1..=60 {
        r.on_raw_estimate(t0 + secs(5.35 + f64::from(i) * 0.25), 9000.0);
    }
    assert_eq!(r.target_kbps(), 7650, "0.85 of 9 Mbit/s 15 s later");
}

#[test]
fn sound_gives_way_on_a_narrow_link_and_keeps_its_rate_on_a_wide_one() {
    assert_eq!(audio_kbps_for(8000, 96), 96);
    assert_eq!(audio_kbps_for(2000, 96), 96);
    assert_eq!(audio_kbps_for(1500, 96), 64);
    assert_eq!(audio_kbps_for(850, 96), 48);
    assert_eq!(audio_kbps_for(340, 96), 32);
    assert_eq!(audio_kbps_for(150, 96), 24);
    // Never above what was configured.
    assert_eq!(audio_kbps_for(150, 16), 16);
    assert_eq!(audio_kbps_for(8000, 32), 32);
}

#[test]
fn the_target_tracks_capacity_steps() {
    let t0 = Instant::now();
    let mut r = RateControl::new(t0, 8000, 8000);
    drive(&mut r, t0, 0.0, 5.0, 10_000.0);
    assert_eq!(r.target_kbps(), 8000);
    drive(&mut r, t0, 5.0, 6.0, 1000.0);
    assert_eq!(r.target_kbps(), 850);
    drive(&mut r, t0, 6.0, 30.0, 10_000.0);
    assert_eq!(r.target_kbps(), 8000, "not back to full rate within 24 s");
    // Never below the floor, whatever the estimate says.
    drive(&mut r, t0, 30.0, 31.0, 20.0);
    assert_eq!(r.target_kbps(), MIN_KBPS);
}

#[test]
fn the_newest_packets_loss_follows_from_two_samples_of_the_last_seconds() {
    // A lossless window, then a tenth of a second of which 87 % was lost.
    assert!((newest_loss(0.0, 0.087, 0.1) - 0.87).abs() < 1e-9);
    // Steady random loss: the newest lose as many as the window.
    assert!((newest_loss(0.05, 0.05, 0.1) - 0.05).abs() < 1e-9);
    // Loss leaving the window is no negative share.
    assert_eq!(newest_loss(0.3, 0.1, 0.1), 0.0);
}

/// Loss samples every 0.1 s from `from` to `to` s: `newest` of the packets sent in each
/// tenth lost, at `kbps`, the 1 s window following; returns the bytes sent so far.
#[allow(clippy::too_many_arguments)]
fn drive_loss(
    r: &mut RateControl,
    t0: Instant,
    window: &mut std::collections::VecDeque<f64>,
    bytes: &mut u64,
    from: f64,
    to: f64,
    kbps: f64,
    newest: f64,
) -> Vec<f64> {
    let mut collapsed_at = Vec::new();
    let mut t = from;
    while t < to - 1e-9 {
        t += 0.1;
        window.push_back(newest);
        if window.len() > 10 {
            window.pop_front();
        }
        let fraction = window.iter().sum::<f64>() / window.len() as f64;
        *bytes += (kbps * 1000.0 / 8.0 * 0.1) as u64;
        if r.on_loss(t0 + secs(t), fraction, *bytes) == Some(LossRun::Collapse) {
            collapsed_at.push(t);
        }
    }
    collapsed_at
}

#[test]
fn a_link_that_collapses_under_the_picture_is_cut_to_what_got_through_at_once() {
    let t0 = Instant::now();
    let mut r = RateControl::new(t0, 1000, 8000);
    drive(&mut r, t0, 0.0, 5.0, 10_000.0);
    assert_eq!(r.target_kbps(), 8000);
    let mut window = std::collections::VecDeque::new();
    let mut bytes = 0;
    // 5 % random loss for 5 s: never a collapse.
    let seen = drive_loss(&mut r, t0, &mut window, &mut bytes, 5.0, 10.0, 8000.0, 0.05);
    assert!(seen.is_empty(), "5 % loss seen as a collapse at {seen:?}");
    assert_eq!(r.target_kbps(), 8000);
    // The link falls to 1 Mbit/s under 8 Mbit/s: 7/8 of the newest packets lost.
    let (w, b) = (&mut window, &mut bytes);
    let seen = drive_loss(&mut r, t0, w, b, 10.0, 10.2, 8000.0, 0.875);
    // After a tenth of a second the last second has lost 13 % (under FAST_COLLAPSE_SECOND).
    assert_eq!(seen, [10.2], "not seen in the first fifth of a second");
    // 0.85 of the 1 Mbit/s that got through, or the 10× limit's 800: from two samples a
    // tenth of a second apart the window arithmetic takes 0.96 of the newest as lost (the
    // packets leaving the window lost 5 %, not the earlier window's 13 %).
    assert!(
        (800..=880).contains(&r.target_kbps()),
        "target {}",
        r.target_kbps()
    );
    // The estimator still says 8 Mbit/s: the cut stays for FAST_CAP_FOR, no padding meanwhile.
    r.on_raw_estimate(t0 + secs(10.5), 8000.0);
    r.on_estimate(t0 + secs(10.5), 8000.0);
    assert!(r.target_kbps() <= 880, "target {}", r.target_kbps());
    assert_eq!(r.padding_kbps(), 0.0, "padded into the fallen link");
    // The estimator catches up: it leads again, downwards as well.
    r.on_raw_estimate(t0 + secs(10.9), 700.0);
    assert_eq!(r.target_kbps(), 595);
    // And after FAST_CAP_FOR it leads upwards too.
    let later = drive(&mut r, t0, 10.9, 15.0, 1200.0);
    assert_eq!(r.target_kbps(), 1020, "at {later:?}");
    assert_eq!(r.padding_kbps(), 1020.0 * PAD_ABOVE_TARGET);
}

/// A probe through a router's large token bucket: ~30 KiB pass at the wire's speed, then a
/// run of packets is dropped. Most of the newest tenth of a second is lost, 6.5 % of the second.
#[test]
fn a_short_burst_of_loss_on_a_steady_link_is_no_collapse() {
    let t0 = Instant::now();
    let mut r = RateControl::new(t0, 1000, 8000);
    drive(&mut r, t0, 0.0, 5.0, 4000.0);
    assert_eq!(r.target_kbps(), 3400);
    let mut window = std::collections::VecDeque::new();
    let mut bytes = 0;
    let mut at_3400 = |from, to, newest| {
        drive_loss(
            &mut r,
            t0,
            &mut window,
            &mut bytes,
            from,
            to,
            3400.0,
            newest,
        )
    };
    let mut seen = at_3400(5.0, 6.0, 0.0);
    seen.extend(at_3400(6.0, 6.1, 0.65));
    seen.extend(at_3400(6.1, 7.0, 0.0));
    assert!(seen.is_empty(), "a burst seen as a collapse at {seen:?}");
    assert_eq!(r.target_kbps(), 3400);
}

#[test]
fn a_slow_link_losing_a_few_packets_is_no_collapse() {
    let t0 = Instant::now();
    let mut r = RateControl::new(t0, 1000, 8000);
    drive(&mut r, t0, 0.0, 5.0, 400.0);
    let mut window = std::collections::VecDeque::new();
    let mut bytes = 0;
    // Most of a tenth of a second lost at 340 kbit/s is three or four packets.
    let seen = drive_loss(&mut r, t0, &mut window, &mut bytes, 5.0, 5.1, 340.0, 0.9);
    assert!(seen.is_empty());
    assert_eq!(r.target_kbps(), 340);
}

#[test]
fn a_probes_result_leads_the_target_without_waiting_for_the_average() {
    let t0 = Instant::now();
    let mut r = RateControl::new(t0, 1000, 8000);
    drive_raw(&mut r, t0, 0.0, 5.0, 1000.0, 1000.0);
    assert_eq!(r.target_kbps(), 850);
    // The estimator's figure rises under twice the quartile of its last 3 s: that leads.
    drive_raw(&mut r, t0, 5.0, 5.5, 1900.0, 1000.0);
    assert_eq!(r.target_kbps(), 850);
    drive_raw(&mut r, t0, 5.5, 6.0, 1000.0, 1000.0);
    // A probe found 9 Mbit/s: the target doubles a second towards 0.85 of it.
    drive_raw(&mut r, t0, 6.0, 7.0, 9000.0, 1200.0);
    // (×2^0.75: the first sample's rise waits for the next.)
    assert!(
        (1400..=1710).contains(&r.target_kbps()),
        "{} after 1 s",
        r.target_kbps()
    );
    drive_raw(&mut r, t0, 7.0, 10.0, 9000.0, 1500.0);
    assert_eq!(r.target_kbps(), 7650);
}

/// Both figures and a loss sample every 0.25 s from `from` to `to` s, the peer sending its
/// target: `newest` of each quarter's packets lost (the 1 s share following). Returns the
/// runs of loss seen.
pub(super) fn drive_raw_loss(
    r: &mut RateControl,
    t0: Instant,
    bytes: &mut u64,
    from: f64,
    to: f64,
    raw: f64,
    newest: f64,
) -> Vec<LossRun> {
    let mut runs = Vec::new();
    let mut t = from;
    let mut fraction = 0.0;
    while t < to - 1e-9 {
        t += 0.25;
        let now = t0 + secs(t);
        r.on_sent(now, f64::from(r.target_kbps()));
        r.on_raw_estimate(now, raw);
        fraction = fraction * 0.75 + newest * 0.25;
        *bytes += (f64::from(r.target_kbps()) * 1000.0 / 8.0 * 0.25) as u64;
        runs.extend(r.on_loss(now, fraction, *bytes));
    }
    runs
}

/// Behind a router's large token bucket a probe's burst passes at the wire's speed: the
/// estimator says 12 Mbit/s on a 5 Mbit/s link. The target follows until the link loses
/// packets, then goes back at once and stays back while the estimator still says 12, and
/// the next probe's result within the distrust leads nothing; a later lead the link carries
/// (a link that opened) is followed to the top, through random loss.
#[test]
fn a_probes_result_the_link_does_not_carry_is_dropped_and_distrusted() {
    let t0 = Instant::now();
    let mut r = RateControl::new(t0, 4000, 8000);
    let mut bytes = 0;
    drive_raw_loss(&mut r, t0, &mut bytes, 0.0, 5.0, 4500.0, 0.0);
    assert_eq!(r.target_kbps(), 3825);
    // The probe's result leads: the target climbs over the 5 Mbit/s link, losslessly at first
    // (the queue fills).
    drive_raw_loss(&mut r, t0, &mut bytes, 5.0, 5.75, 12_000.0, 0.0);
    let over = r.target_kbps();
    assert!(over > 5000, "target {over} while the probe led");
    // Then the queue overflows: a tenth of the newest packets lost. Back at once, and held
    // there while the estimator still says 12 Mbit/s.
    let runs = drive_raw_loss(&mut r, t0, &mut bytes, 5.75, 6.0, 12_000.0, 0.1);
    assert_eq!(runs, [LossRun::FailedLead], "the page gets a keyframe");
    assert_eq!(r.target_kbps(), 3825, "after the lead failed");
    drive_raw_loss(&mut r, t0, &mut bytes, 6.0, 6.75, 12_000.0, 0.0);
    assert_eq!(
        r.target_kbps(),
        3825,
        "while the estimator still says the probe's figure"
    );
    // The estimator saw the loss.
    drive_raw_loss(&mut r, t0, &mut bytes, 6.75, 12.0, 4500.0, 0.0);
    assert_eq!(r.target_kbps(), 3825);
    // The next probe within the distrust leads nothing: a quarter of a second at 12 Mbit/s
    // moves the 3 s mean only.
    drive_raw_loss(&mut r, t0, &mut bytes, 12.0, 12.25, 12_000.0, 0.0);
    assert!(
        r.target_kbps() < 4400,
        "target {} within the distrust",
        r.target_kbps()
    );
    drive_raw_loss(&mut r, t0, &mut bytes, 12.25, 20.0, 4500.0, 0.0);
    // Random loss of 5 % under a lead is no failure: after the distrust a link that opened is
    // followed to the configured rate.
    drive_raw_loss(&mut r, t0, &mut bytes, 26.0, 30.0, 10_000.0, 0.05);
    assert_eq!(
        r.target_kbps(),
        8000,
        "the opened link's probe did not lead"
    );
}

/// The estimator's figure, a lossless loss sample and a round trip (`rtt` ms) every 0.25 s
/// from `from` to `to` s, the peer sending its target and asking for what `desired_kbps`
/// says. Returns the instants (s) a probe was asked for.
fn drive_clear(
    r: &mut RateControl,
    t0: Instant,
    bytes: &mut u64,
    (from, to): (f64, f64),
    raw: f64,
    rtt: f64,
) -> Vec<f64> {
    let mut asked = Vec::new();
    let mut t = from;
    while t < to - 1e-9 {
        t += 0.25;
        let now = t0 + secs(t);
        r.on_sent(now, f64::from(r.target_kbps()));
        r.on_raw_estimate(now, raw);
        *bytes += (f64::from(r.target_kbps()) * 1000.0 / 8.0 * 0.25) as u64;
        r.on_loss(now, 0.0, *bytes);
        r.on_rtt(now, Some(rtt));
        // An allocation probe lowers the desired rate; a restart starts str0m's estimator over.
        if r.desired_kbps(now) < r.max_kbps() || r.take_restart().is_some() {
            asked.push(t);
        }
    }
    asked
}

/// A probe's lead failed at the edge of a narrow link (probes distrusted for 20 s), then the
/// link opened: once it has been clear for `LONG_CLEAR` with the target under half of what
/// it carried, probes are asked for and lead again, and a rise of the estimator's figure
/// short of a probe's jump leads too (str0m's loss-based climb after a narrow link's loss).
#[test]
fn a_link_that_opened_ends_the_distrust_of_probes() {
    let t0 = Instant::now();
    let mut r = RateControl::new(t0, 1000, 8000);
    let mut bytes = 0;
    drive_clear(&mut r, t0, &mut bytes, (0.0, 6.0), 10_000.0, 40.0);
    assert_eq!(r.target_kbps(), 8000);
    // 1 Mbit/s: a queue, and the estimator follows it down.
    drive_clear(&mut r, t0, &mut bytes, (6.0, 12.0), 1000.0, 90.0);
    assert_eq!(r.target_kbps(), 850);
    r.distrust_until = Some(t0 + secs(32.0));
    // The queue drains (the lift): no probe asked for until it has been clear for 3 s.
    let asked = drive_clear(&mut r, t0, &mut bytes, (12.0, 14.75), 1000.0, 40.0);
    assert!(asked.is_empty(), "asked at {asked:?} while distrusted");
    assert!(!r.probes_trusted(t0 + secs(14.75)));
    let asked = drive_clear(&mut r, t0, &mut bytes, (14.75, 15.5), 1000.0, 40.0);
    assert!(!asked.is_empty(), "no probe asked for once the link opened");
    assert!(r.probes_trusted(t0 + secs(15.5)));
    // The estimator climbs (1.5 times a step at most): a rise short of an asked probe's jump
    // leads.
    drive_clear(&mut r, t0, &mut bytes, (15.5, 16.5), 1300.0, 40.0);
    assert!(r.probe_lead.is_some(), "a 1.3 times rise did not lead");
    assert_eq!(r.target_kbps(), 1105);
}

/// After a lift a probe's figure stands still until the quartile catches up with it, then
/// str0m climbs slowly: on a clear link the lead goes on, and the target follows the climb.
#[test]
fn a_lead_on_a_clear_link_follows_the_climb_after_it() {
    let t0 = Instant::now();
    let mut r = RateControl::new(t0, 1000, 8000);
    let mut bytes = 0;
    drive_clear(&mut r, t0, &mut bytes, (0.0, 6.0), 10_000.0, 40.0);
    drive_clear(&mut r, t0, &mut bytes, (6.0, 12.0), 1000.0, 90.0);
    drive_clear(&mut r, t0, &mut bytes, (12.0, 16.0), 1000.0, 40.0);
    // The probe's figure, held past the quartile's catching up.
    drive_clear(&mut r, t0, &mut bytes, (16.0, 20.0), 6000.0, 40.0);
    assert_eq!(r.target_kbps(), 5100);
    // A climb of 1.25 times: short of a new probe's jump.
    drive_clear(&mut r, t0, &mut bytes, (20.0, 21.0), 7500.0, 40.0);
    assert_eq!(
        r.target_kbps(),
        6375,
        "the target stayed behind the quartile"
    );
}

mod cap;
