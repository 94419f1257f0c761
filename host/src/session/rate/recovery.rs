//! Asking the estimator to probe when a narrow link may have opened again, sans-IO.
//!
//! str0m's estimator climbs on its own by AIMD, about 12 % a second on virtual time: after
//! 10 → 1 → 10 Mbit/s the target took 15 s to come back to 8 Mbit/s. Its probes, which measure
//! the link in one burst, come only at the start, in an application-limited spell (our padding
//! keeps it out of one), on a rise of the desired rate, or after 15 s without a change in the
//! estimate (goog_cc's `ProbeController` as str0m ports it). So the peer asks for an
//! allocation probe itself (the desired rate lowered to the estimate for [`LOWERED_FOR`],
//! then raised again: str0m then probes at twice the estimate, and goes on doubling while the
//! link carries it) when everything says the link has room:
//!
//! - the target is well under the configured rate ([`WELL_UNDER`]) and under half of what the
//!   link carried lately ([`UNDER_PROVEN`]): a link that came down may come back up;
//! - for [`CLEAR_FOR`], every sample's newest packets were lossless ([`super::LOSSLESS`]) and
//!   the lowest of its last [`RTT_SAMPLES`] round trips at the path's floor
//!   ([`QUEUE_MARGIN_MS`] or [`QUEUE_MARGIN_SHARE`] over the lowest seen):
//!   no queue at the bottleneck. A link at its edge saws (AIMD up, a queue, a cut), so that
//!   rarely holds there for long, and when it does the probe costs a burst of a few packets
//!   at twice the estimate;
//! - at most every [`FIRST_EVERY`], and one at a time (the last judged: the estimate
//!   [`FOUND_RISE`] higher, or [`RESULT_WITHIN`] passed), doubling up to [`LONGEST_EVERY`]
//!   while what they find leads the target over the link (a failed lead, as a link at its
//!   edge makes one); back to the first after one whose lead the link carried, or during a
//!   clear spell of [`LONG_CLEAR`], which a link at its edge does not have. A probe that
//!   finds nothing costs a burst of a few packets at twice the estimate and no longer doubles
//!   the wait: on the link bench (10 → 1 → 10 Mbit/s) the wait those doubled to 6 s kept the
//!   first probe after the lift up to 3 s late.
//!
//! A probe's result asked for here leads the target at a lower jump than an unasked one (see
//! [`ASKED_PROBE_JUMP`]) and is checked like every lead. The rate controller asks none while
//! a collapse is held, unless the link has been clear for [`LONG_CLEAR`] since, or while
//! probes are distrusted after a failed lead (behind a router's large token bucket every probe
//! measures over the link), unless the link looks opened ([`RecoveryProbes::opened`]): then
//! the distrust ends, and any rise of [`OPENED_JUMP`] leads.
//!
//! On the link bench (10 → 1 → 10 Mbit/s, a scrolling terminal) what kept the lift slow was:
//! a lead that failed at the 1 Mbit/s edge (often the collapse itself, seen as the lead's
//! loss) distrusting probes past the lift; the wait for the next asked probe on a link that
//! sat clear under the ladder's low rung (no sign of the lift but a probe); and str0m's
//! loss-based estimate, which after the narrow link's loss climbs at most 1.5 times the
//! acknowledged rate a step, each step held to the quartile of the figures.

use std::time::{Duration, Instant};

/// Probes are asked for only while the target is under this share of the configured rate...
pub(crate) const WELL_UNDER: f64 = 0.85;
/// ...and under this share of the highest target the link carried lately ([`PROVEN_AFTER`]):
/// a link that never carried more is left to str0m's own probes (asked for on a 2 Mbit/s
/// link from the start, their leads took the target over the link on virtual time).
pub(crate) const UNDER_PROVEN: f64 = 0.5;
/// A target held with no loss for this long is one the link carried.
pub(crate) const PROVEN_AFTER: Duration = Duration::from_secs(3);
/// The highest target carried is forgotten this long after it was last carried.
pub(crate) const PROVEN_KEPT_FOR: Duration = Duration::from_secs(120);
/// How long the link must look clear (no loss, no queue) before a probe is asked for.
pub(crate) const CLEAR_FOR: Duration = Duration::from_millis(1500);
/// A round trip at most this much over the path's floor, or [`QUEUE_MARGIN_SHARE`] of it if
/// more, means no queue (str0m's round trip, from TWCC feedback, has a millisecond or two of jitter).
pub(crate) const QUEUE_MARGIN_MS: f64 = 5.0;
/// See [`QUEUE_MARGIN_MS`].
pub(crate) const QUEUE_MARGIN_SHARE: f64 = 0.15;
/// Whether there is a queue is judged from the lowest of this many round trips (one per stats
/// sample, a second's worth): the TWCC round trip of the last packet acknowledged includes
/// the wait behind its own frame's burst, which on the link bench (1 ms paths, 10 Mbit/s)
/// kept a single sample from ever looking clear on an open link.
pub(crate) const RTT_SAMPLES: usize = 4;
/// The path's floor is the lowest round trip seen; one not seen again for this long is
/// forgotten (a route that changed).
pub(crate) const FLOOR_KEPT_FOR: Duration = Duration::from_secs(60);
/// A clear spell this long asks again after [`FIRST_EVERY`] however the last probes went: a
/// link at its edge is clear for a second at a time at most (AIMD fills its queue), one that
/// opened stays clear. Without it, probes that failed at the edge of a 1 Mbit/s link made the
/// first one after the lift wait up to 12 s on virtual time.
pub(crate) const LONG_CLEAR: Duration = Duration::from_secs(3);
/// The wait between two asked probes during a clear spell of [`LONG_CLEAR`]: a link that
/// sat clear under a low target before it opened (the picture's ladder sent under what the
/// narrow link carried) shows its lift by nothing but a probe, so the probe's phase in this
/// wait is most of the time from the lift to the first sign of it. A probe that finds nothing
/// on a clear link costs a burst of a few packets at twice the estimate.
pub(crate) const CLEAR_EVERY: Duration = Duration::from_millis(1500);
/// The first wait between two asked probes.
pub(crate) const FIRST_EVERY: Duration = Duration::from_secs(3);
/// The longest wait between two asked probes (doubling from [`FIRST_EVERY`]).
pub(crate) const LONGEST_EVERY: Duration = Duration::from_secs(24);
/// A probe found room when the estimate rose this much within [`RESULT_WITHIN`].
pub(crate) const FOUND_RISE: f64 = 1.3;
/// See [`FOUND_RISE`].
pub(crate) const RESULT_WITHIN: Duration = Duration::from_secs(2);
/// While the link looks opened ([`RecoveryProbes::opened`]), a rise of the estimator's figure to
/// this many times the lower quartile of its figures leads the target (checked like every
/// lead): after a narrow link's loss, str0m's loss-based estimate climbs at most 1.5 times
/// the acknowledged rate a step, and held to the quartile each step waited seconds.
pub(crate) const OPENED_JUMP: f64 = 1.2;
/// How long the desired rate stays lowered for an asked probe: long enough for str0m to take
/// the lower figure (its probe controller compares each desired rate with the one it last
/// handled), short enough that nothing else notices.
pub(crate) const LOWERED_FOR: Duration = Duration::from_millis(100);
/// Within [`RESULT_WITHIN`] of an asked probe, an estimate this many times the lower quartile
/// of its figures is the probe's result and leads: str0m asks for twice the estimate, so its
/// result is at most about that (an unasked jump must be `super::PROBE_JUMP`).
pub(crate) const ASKED_PROBE_JUMP: f64 = 1.4;

/// When to ask for a probe (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct RecoveryProbes {
    /// The lowest round trip seen, ms, and when a round trip was last that low.
    floor: Option<(f64, Instant)>,
    /// Since when every sample was clear.
    clear_since: Option<Instant>,
    /// The last [`RTT_SAMPLES`] round trips, ms.
    recent_rtts: std::collections::VecDeque<f64>,
    /// Since when every sample was lossless.
    carrying_since: Option<Instant>,
    /// The highest target the link carried, kbit/s, and when it last carried it.
    proven: Option<(f64, Instant)>,
    /// The last asked probe: when, and the estimate then; `None` once judged.
    asked: Option<(Instant, f64)>,
    last_asked: Option<Instant>,
    every: Duration,
}

impl Default for RecoveryProbes {
    fn default() -> Self {
        Self {
            floor: None,
            clear_since: None,
            recent_rtts: std::collections::VecDeque::new(),
            carrying_since: None,
            proven: None,
            asked: None,
            last_asked: None,
            every: FIRST_EVERY,
        }
    }
}

impl RecoveryProbes {
    /// One stats sample: the round trip (ms, if known), the share of the newest packets lost
    /// (the last second's share lags a link that stopped losing by up to a second) and the
    /// target (kbit/s; `None` while a probe's unchecked result holds it). A target counts as carried whether or not the picture filled it (a
    /// scrolling terminal sends half its target or less, in bursts): the estimator measured
    /// the link with padding and probes before it allowed that target.
    pub(crate) fn on_sample(
        &mut self,
        now: Instant,
        rtt_ms: Option<f64>,
        loss: f64,
        target: Option<f64>,
    ) {
        if let Some(target) = target.filter(|_| loss <= super::LOSSLESS) {
            let since = *self.carrying_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= PROVEN_AFTER {
                // A higher one carried lately stays (with when it was carried); else this one.
                let higher = self.proven.filter(|&(p, at)| {
                    p > target && now.saturating_duration_since(at) < PROVEN_KEPT_FOR
                });
                self.proven = higher.or(Some((target, now)));
            }
        } else {
            self.carrying_since = None;
        }
        let Some(rtt) = rtt_ms.filter(|r| r.is_finite() && *r >= 0.0) else {
            self.clear_since = None;
            return;
        };
        let floor = match self.floor {
            Some((f, seen)) if rtt > f && now.saturating_duration_since(seen) < FLOOR_KEPT_FOR => {
                if rtt <= f + 1.0 {
                    self.floor = Some((f, now));
                }
                f
            }
            _ => {
                self.floor = Some((rtt, now));
                rtt
            }
        };
        // The lowest of the last few: on an open link a frame's own burst delays the packets
        // behind it (a 30 KiB frame is 25 ms at 10 Mbit/s), a standing queue delays them all.
        self.recent_rtts.push_back(rtt);
        if self.recent_rtts.len() > RTT_SAMPLES {
            self.recent_rtts.pop_front();
        }
        let lowest = self.recent_rtts.iter().copied().fold(rtt, f64::min);
        let no_queue = lowest <= floor + QUEUE_MARGIN_MS.max(floor * QUEUE_MARGIN_SHARE);
        if no_queue && loss <= super::LOSSLESS {
            self.clear_since.get_or_insert(now);
        } else {
            self.clear_since = None;
        }
    }

    /// The estimator's figure, kbit/s: judges the last asked probe (it found room, or
    /// [`RESULT_WITHIN`] passed). What it found is judged by whether the link carries it
    /// ([`Self::carried`], [`Self::failed`]).
    pub(crate) fn on_estimate(&mut self, now: Instant, kbps: f64) {
        if self.asked.is_some_and(|(at, before)| {
            kbps >= before * FOUND_RISE || now.saturating_duration_since(at) >= RESULT_WITHIN
        }) {
            self.asked = None;
        }
    }

    /// How long every sample has been clear (no loss, no queue).
    pub(crate) fn clear_for(&self, now: Instant) -> Duration {
        self.clear_since
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
    }

    /// Whether the link looks opened again: clear for [`LONG_CLEAR`] with the target
    /// (kbit/s) under [`UNDER_PROVEN`] of what it carried lately. A link at its edge is not
    /// clear that long, and behind a router's large token bucket the target stays near what
    /// was carried.
    pub(crate) fn opened(&self, now: Instant, target: f64) -> bool {
        self.clear_for(now) >= LONG_CLEAR && self.under_proven(now, target)
    }

    /// Whether `target` (kbit/s) is under [`UNDER_PROVEN`] of what the link carried lately.
    fn under_proven(&self, now: Instant, target: f64) -> bool {
        self.proven_kbps(now)
            .is_some_and(|p| target < p * UNDER_PROVEN)
    }

    /// Whether to ask for a probe now, with the target at `target` and the estimate at
    /// `estimate` (kbit/s) of a configured `max`; when so, it counts as asked.
    pub(crate) fn due(&mut self, now: Instant, target: f64, estimate: f64, max: f64) -> bool {
        let clear_for = self.clear_for(now);
        let since_asked = self
            .last_asked
            .map_or(Duration::MAX, |t| now.saturating_duration_since(t));
        let clear = clear_for >= CLEAR_FOR;
        let waited =
            since_asked >= self.every || (clear_for >= LONG_CLEAR && since_asked >= CLEAR_EVERY);
        let under = target < max * WELL_UNDER && self.under_proven(now, target);
        tracing::trace!(
            clear_ms = clear_for.as_millis() as u64,
            floor_ms = self.floor.map(|f| f.0),
            proven_kbps = self.proven_kbps(now),
            target_kbps = target,
            waited,
            "recovery probe"
        );
        if !(clear && waited && under && self.asked.is_none()) {
            return false;
        }
        self.asked = Some((now, estimate));
        self.last_asked = Some(now);
        true
    }

    /// The estimate to give str0m as the desired rate while an asked probe lowers it
    /// ([`LOWERED_FOR`]), kbit/s.
    pub(crate) fn lowered(&self, now: Instant) -> Option<f64> {
        let (at, estimate) = self.asked?;
        (now.saturating_duration_since(at) < LOWERED_FOR).then_some(estimate)
    }

    /// The highest target the link carried lately, kbit/s (see [`PROVEN_AFTER`]).
    pub(crate) fn proven_kbps(&self, now: Instant) -> Option<f64> {
        self.proven
            .filter(|&(_, at)| now.saturating_duration_since(at) < PROVEN_KEPT_FOR)
            .map(|(p, _)| p)
    }

    /// Whether a probe asked for lately may still report (see [`ASKED_PROBE_JUMP`]).
    pub(crate) fn awaiting(&self, now: Instant) -> bool {
        self.last_asked
            .is_some_and(|t| now.saturating_duration_since(t) < RESULT_WITHIN)
    }

    /// The result of an asked probe led the target and the link carried it: the next may
    /// come soon.
    pub(crate) fn carried(&mut self) {
        self.every = FIRST_EVERY;
    }

    /// The result of an asked probe led the target over the link: the next waits longer.
    pub(crate) fn failed(&mut self) {
        self.every = (self.every * 2).min(LONGEST_EVERY);
    }

    /// A new path: its round trips start over.
    pub(crate) fn forget(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The link carried 8000 kbit/s at `t0`.
    fn had_8000(t0: Instant) -> RecoveryProbes {
        RecoveryProbes {
            proven: Some((8000.0, t0)),
            ..RecoveryProbes::default()
        }
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
            !p.due(at(2000), 1000.0, 1200.0, 8000.0),
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
        assert!(!p.due(at(12_250), 2500.0, 3000.0, 8000.0));
        assert!(p.due(at(12_250), 1000.0, 1200.0, 8000.0));
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
            assert!(!p.due(at(ms), 900.0, 1000.0, 8000.0), "at {ms} ms");
            ms += 250;
        }
        for _ in 0..8 {
            p.on_sample(at(ms), Some(41.0), 0.05, Some(900.0));
            assert!(!p.due(at(ms), 900.0, 1000.0, 8000.0), "lossy, at {ms} ms");
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
            if p.due(at(ms), 900.0, 1000.0, 8000.0) {
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
            if c.due(at(i * 250), 900.0, 1000.0, 8000.0) {
                asked.push(i * 250);
            }
        }
        assert_eq!(asked, [1500, 3500, 5500, 7500, 9500]);
        // What a probe finds leads the target over the link: the next waits longer.
        let mut f = had_8000(t0);
        let mut asked = Vec::new();
        for i in 0..100 {
            let now = at(i * 250);
            let rtt = if i % 12 >= 7 { 57.0 } else { 40.0 };
            f.on_sample(now, Some(rtt), 0.0, Some(900.0));
            f.on_estimate(now, if asked.is_empty() { 1000.0 } else { 1500.0 });
            if f.due(now, 900.0, 1000.0, 8000.0) {
                asked.push(i * 250);
                f.failed();
            }
        }
        assert_eq!(asked, [1500, 7500, 19_500]);
        // Near the configured rate: never.
        let mut q = had_8000(t0);
        for i in 0..40 {
            q.on_sample(at(i * 250), Some(40.0), 0.0, Some(7000.0));
            assert!(!q.due(at(i * 250), 7000.0, 8200.0, 8000.0));
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
            if p.due(now, estimate * 0.85, estimate, 8000.0) {
                asked.push(i * 250);
                estimate *= 2.0; // the link had room
                p.carried();
            }
            assert_eq!(
                p.awaiting(now),
                asked.last().is_some_and(|&a| i * 250 - a < 2000)
            );
        }
        // Every `CLEAR_EVERY` on the clear link, until the target is half of what was carried.
        assert_eq!(asked, [1500, 3000, 4500]);
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
}
