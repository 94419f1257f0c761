//! A narrow link opens again: 10 → 1 → 10 Mbit/s under a moving picture, on virtual time, with
//! str0m's own estimator and probes. The target: full rate within 5 s of the lift.

use std::time::Duration;

use super::rate::{capped_after, longest_freeze};
use super::{delay, Harness};

/// Dips of several lengths (where the lift falls in the estimator's saw differs): the target
/// is back near the configured rate soon after each lift (the probe asked for once the link
/// looks clear, `rate/recovery.rs`), and the picture does not stop for it. Without the asked
/// probes: 12.6, over 20, 13.3, 14.4 and 12.9 s (AIMD alone, ~12 % a second); with them 9.9,
/// 6.4, 16.4, 6.9–7.2 and 6.9 s while a collapse's hold kept them back (the 40 s dip's lift
/// came as the target sawed over the 1 Mbit/s link: 8 s of hold); asked once the link is clear
/// for `LONG_CLEAR` even in the hold, 6.9, 5.6–5.9, 5.1–8.4, 5.9–6.4 and 5.4 s in most runs;
/// in one run of six the 40 s dip had a probe's lead fail at the edge of the 1 Mbit/s link,
/// and with probes distrusted at the lift took 18.6 s.
/// One run: 10 s at 10 Mbit/s, a dip to 1 Mbit/s for `dip_s`, then 10 Mbit/s again (netem
/// seeds from `seed`, the client's link `latency` one way). Returns the harness at 3 s after
/// the target was back at 7600 kbit/s (or after 20 s), the instant of the lift, and how long
/// after the lift the target was back (`None`: not within 20 s).
fn dip_and_lift(
    seed: u64,
    dip_s: u64,
    latency: Duration,
) -> (Harness, std::time::Instant, Option<Duration>) {
    let mut h = Harness::new(delay(20, seed));
    h.follow_rate = true;
    h.min_frame_bytes = 800;
    h.add_client(capped_after(10_000, seed + 1, latency), &[]);
    assert!(h.connect_all(Duration::from_secs(5)));
    h.run_for(Duration::from_secs(10));
    h.clients[0]
        .inbox
        .set_config(capped_after(1000, seed + 2, latency));
    h.run_for(Duration::from_secs(dip_s));
    h.clients[0]
        .inbox
        .set_config(capped_after(10_000, seed + 3, latency));
    let lift = h.now;
    let back = h.run_until(Duration::from_secs(20), |h| h.rate_kbps >= 7600);
    let took = h.now - lift;
    h.run_for(Duration::from_secs(3));
    (h, lift, back.then_some(took))
}

/// The client link's one-way delays the test runs at. The figures move a lot with a change of
/// a fraction of a millisecond (where the collapse falls in the estimator's saw), so one run
/// says little: at exactly 20 ms, where this test ran alone before, the median was 6.4 s, and
/// at 20.3 ms 8.4 s with the same code. Over twelve delays from 20 to 22.75 ms and the five
/// dips (60 runs): a median of 7.9 s, p90 14.4 s, one freeze over 100 ms (281 ms) and none
/// over 20 s; with the young ladder (`ladder.rs`), which changes nothing after the first
/// seconds but where the collapse falls, 8.4 s, p90 12.4 s, two freezes over 100 ms (218,
/// 153 ms) and two over 20 s.
const LINK_DELAYS_US: [u64; 3] = [20_000, 20_500, 21_000];

#[test]
fn after_a_dip_to_1_mbits_the_configured_rate_comes_back_soon_after_the_lift() {
    let mut took = Vec::new();
    let mut froze = Vec::new();
    for us in LINK_DELAYS_US {
        for (seed, dip_s) in [(71, 15), (81, 22), (91, 40), (101, 30), (111, 10)] {
            let (h, lift, back) = dip_and_lift(seed, dip_s, Duration::from_micros(us));
            took.push(back.unwrap_or(Duration::from_secs(20)));
            let freeze = longest_freeze(&h.clients[0].frames, lift);
            froze.push(freeze);
            eprintln!(
                "a dip of {dip_s} s at {us} µs: back to 7600 kbit/s after {back:?}; longest \
                 freeze after the lift {freeze:?}; {} probes' leads failed; rates {:?}",
                h.counters.failed_probe_leads.get(),
                h.rate_log
                    .iter()
                    .filter(|(t, _)| *t >= lift)
                    .map(|(t, k)| ((*t - lift).as_millis(), *k))
                    .collect::<Vec<_>>()
            );
        }
    }
    let runs = took.len();
    let late = took
        .iter()
        .filter(|&&t| t >= Duration::from_secs(20))
        .count();
    assert!(late <= 2, "{late} of {runs} not back within 20 s: {took:?}");
    let stopped = froze
        .iter()
        .filter(|&&f| f > Duration::from_millis(300))
        .count();
    assert!(stopped <= 1, "{stopped} of {runs} froze: {froze:?}");
    took.sort();
    assert!(
        took[runs / 2] <= Duration::from_secs(10),
        "back after {took:?}"
    );
}

/// A benchmark on virtual time, not a check: the scenario above for dips of 9 to 37 s (where
/// the lift falls in the estimator's saw differs, so this is the spread a change moves), one
/// JSON line and a table of seconds from the lift to a 7600 kbit/s target. Run with
/// `cargo test --release -p glint --lib recovery_over_many_dips -- --ignored --nocapture`;
/// with `DIP_LOG=1` also each dip's target changes after the lift (s:kbit/s).
#[test]
#[ignore = "a benchmark: prints figures, asserts nothing"]
fn recovery_over_many_dips() {
    let dips: Vec<u64> = (9..=37).step_by(2).collect();
    let mut took: Vec<(u64, Option<f64>)> = Vec::new();
    for &dip_s in &dips {
        let (h, lift, back) = dip_and_lift(71, dip_s, Duration::from_millis(20));
        if std::env::var_os("DIP_LOG").is_some() {
            let mut changes: Vec<_> = h.rate_log.iter().filter(|(t, _)| *t >= lift).collect();
            changes.dedup_by_key(|(_, k)| *k);
            let changes: Vec<String> = changes
                .iter()
                .map(|(t, k)| format!("{:.2}:{k}", (*t - lift).as_secs_f64()))
                .collect();
            eprintln!("dip {dip_s}: {}", changes.join(" "));
        }
        took.push((dip_s, back.map(|d| d.as_secs_f64())));
    }
    let mut secs: Vec<f64> = took.iter().map(|(_, t)| t.unwrap_or(20.0)).collect();
    secs.sort_by(f64::total_cmp);
    let at = |q: f64| secs[((secs.len() - 1) as f64 * q).round() as usize];
    let json: Vec<String> = took
        .iter()
        .map(|(d, t)| format!("[{d},{}]", t.map_or("null".into(), |t| format!("{t:.2}"))))
        .collect();
    println!(
        "{{\"dips_s_took_s\":[{}],\"median_s\":{:.2},\"p90_s\":{:.2}}}",
        json.join(","),
        at(0.5),
        at(0.9)
    );
    println!("| dip (s) | back at 7600 kbit/s after (s) |\n|---|---|");
    for (d, t) in &took {
        println!(
            "| {d} | {} |",
            t.map_or("not in 20 s".into(), |t| format!("{t:.2}"))
        );
    }
    println!("median {:.2} s, p90 {:.2} s", at(0.5), at(0.9));
}
