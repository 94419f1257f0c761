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
//!   link carried lately ([`UNDER_PROVEN`]): a link that came down may come back up; or the
//!   estimator's figure has stood still for [`STUCK_AFTER`] (str0m's estimate has been seen
//!   to stop moving for the rest of a run, holding the target at 5.3–5.6 Mbit/s on an open
//!   10 Mbit/s link);
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
//! When the figure is stuck, the asked probe also starts str0m's estimator over from its
//! estimate ([`Ask::Restart`]): a stuck one let allocation probes pass without a move (5451
//! kbit/s for 7 s through two of them on the link bench), a fresh one follows them. So does
//! every asked probe that found room, at once, with the fresh estimator's first probes (3 and
//! 6 times what was found) not held while the first is under the configured rate
//! ([`UNHELD_UNDER`]) and the find is well over what the link showed lately
//! ([`UNHELD_OVER_PEAK`]; else held to twice it and to [`PROBE_REACH`] times the configured
//! rate): the link opened, and str0m's loss-based half,
//! which still holds the narrow link's loss, keeps its own probes off (its probe controller
//! probes only while delay-limited or loss-limited and rising) and lets the figure rise at
//! most 1.5 times what was acknowledged a step. For [`CLIMB_WITHIN`] after one found room,
//! the next are asked on a clear link every [`CLEAR_EVERY`] (once the last is judged), up to
//! [`WELL_UNDER`] of the configured rate, and none once the estimate affords that. And an
//! asked probe after one that found nothing starts the estimator over too (its first probes
//! held to twice the estimate): while str0m's loss-based half is not rising its probe
//! controller sends no probe at all, and on the link bench allocation probes asked on a link
//! that had opened found nothing (844.7 kbit/s for 5.5 s through two).
//!
//! A probe's result asked for here leads the target at a lower jump than an unasked one (see
//! [`ASKED_PROBE_JUMP`]) and is checked like every lead. The rate controller asks none while
//! a collapse is held, unless the link has been clear for [`LONG_CLEAR`] since, or while
//! probes are distrusted after a failed lead (behind a router's large token bucket every probe
//! measures over the link), unless the link looks opened ([`RecoveryProbes::opened`]): then
//! the distrust ends, and any rise of [`OPENED_JUMP`] leads; so does one on a clear link
//! for [`CLIMB_WITHIN`] after an asked probe found room ([`RecoveryProbes::rising`]).
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
/// more, means no queue. str0m's round trip is the last packet acknowledged's, until the
/// TWCC feedback that acknowledged it came back, so it includes the wait from that packet to
/// the page's next feedback: on the link bench's 1 ms path with no queue (10 Mbit/s, ~650
/// kbit/s sent) it read 0.5–15 ms. At 5 ms the lowest of [`RTT_SAMPLES`] stayed over it for
/// 4–5 s after a lift in some runs, and no probe was asked.
pub(crate) const QUEUE_MARGIN_MS: f64 = 10.0;
/// See [`QUEUE_MARGIN_MS`].
pub(crate) const QUEUE_MARGIN_SHARE: f64 = 0.15;
/// Whether there is a queue is judged from the lowest of this many round trips (one per stats
/// sample, a second's worth): the TWCC round trip of the last packet acknowledged includes
/// the wait behind its own frame's burst, which on the link bench (1 ms paths, 10 Mbit/s)
/// kept a single sample from ever looking clear on an open link.
pub(crate) const RTT_SAMPLES: usize = 4;
/// A round trip at most this much over the path's floor, or [`SHORT_QUEUE_SHARE`] of it if
/// more, has at most a short queue behind it ([`RecoveryProbes::short_queue_for`]): a queue
/// overflowing (tbf's 50 ms on the link bench) is longer.
pub(crate) const SHORT_QUEUE_MS: f64 = 20.0;
/// See [`SHORT_QUEUE_MS`].
pub(crate) const SHORT_QUEUE_SHARE: f64 = 0.25;
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
/// See [`FOUND_RISE`]. On the link bench a probe's result showed in the next stats sample
/// (250 ms); at 2 s, the wait for a probe that found nothing held the next one back while a
/// climb after a lift stood at ~1.3 times a step.
pub(crate) const RESULT_WITHIN: Duration = Duration::from_secs(1);
/// While the link looks opened ([`RecoveryProbes::opened`]), a rise of the estimator's figure to
/// this many times the lower quartile of its figures leads the target (checked like every
/// lead): after a narrow link's loss, str0m's loss-based estimate climbs at most 1.5 times
/// the acknowledged rate a step, and held to the quartile each step waited seconds.
pub(crate) const OPENED_JUMP: f64 = 1.2;
/// After an asked probe found room, for this long the next is asked on a clear link after
/// [`CLEAR_EVERY`] while the target is under [`WELL_UNDER`] of the configured rate (not only
/// under [`UNDER_PROVEN`] of what the link carried): after the narrow link's loss str0m does
/// not go on probing by itself (its loss-based half holds it), and from half of what the link
/// had carried the target climbed at str0m's AIMD pace, ~20 % a second (4 → 8 Mbit/s in
/// 4–5 s on the link bench). A failed lead ends it.
pub(crate) const CLIMB_WITHIN: Duration = Duration::from_secs(6);
/// A restart after a probe found room leaves str0m's first probes unheld only while this
/// many times the estimate (its first probe) is under the configured rate...
pub(crate) const UNHELD_UNDER: f64 = 3.0;
/// ...and only when what the probe found is this many times the highest figure of the
/// [`PEAK_OVER`] before it was asked: a link that opened shows more than its narrow past, one
/// at its edge only what it has shown. At the edge of a 1 Mbit/s link asked probes found 1.3–1.6
/// times a sawing estimate, and unheld restarts from there (str0m's first probes at 3 and 6
/// Mbit/s) took the target over the link: freezes of 780–970 ms in 2 of 34 runs on the link
/// bench; none in 6 since.
pub(crate) const UNHELD_OVER_PEAK: f64 = 1.5;
/// See [`UNHELD_OVER_PEAK`].
pub(crate) const PEAK_OVER: Duration = Duration::from_secs(10);
/// A restart's first probes (held: the desired rate lowered) go at most this many times the
/// configured rate: str0m sends them at up to twice the desired rate, so that is lowered to
/// half this (or to the estimate, if lower). Nothing over about the configured rate needs
/// measuring, and a probe that fills the link's queue sinks the fresh estimator: held to twice
/// the estimate alone, restarts from 4.7–6.8 Mbit/s after a lift on the link bench (10 Mbit/s,
/// `--bitrate 8000`) probed at 9.5–13.6 Mbit/s, and in about half of them the estimator found
/// nothing or fell back to 4.4–7.4 Mbit/s, for 1–2 s of AIMD (full rate 5.8 and 6.6 s after
/// the lift); at 1.25 (10 Mbit/s, the link's own rate) in 2 of 11 runs; at 1.1 in 1 of 16.
pub(crate) const PROBE_REACH: f64 = 1.1;
/// How long the desired rate stays lowered for an asked probe: long enough for str0m to take
/// the lower figure (its probe controller compares each desired rate with the one it last
/// handled), short enough that nothing else notices.
pub(crate) const LOWERED_FOR: Duration = Duration::from_millis(100);
/// Within [`RESULT_WITHIN`] of an asked probe, an estimate this many times the lower quartile
/// of its figures is the probe's result and leads: str0m asks for twice the estimate, so its
/// result is at most about that (an unasked jump must be `super::PROBE_JUMP`).
pub(crate) const ASKED_PROBE_JUMP: f64 = 1.4;
/// An estimate that has not moved by [`HELD_WITHIN`] for this long is stuck: on the link
/// bench str0m's estimate stood at exactly 6565 kbit/s for the last 8 s after a lift to
/// 10 Mbit/s (and at 6249 for 17 s for a viewer on an open link), the target at 0.85 of it,
/// with no loss, no queue and its probing allowed. AIMD moves it every few hundred ms on
/// any link it measures, and a link at its edge saws. At 2 s, on virtual time the 15-dip
/// median went from 6.19 to 6.38 s and a viewer on a 1 Mbit/s link lowered the picture of
/// one on an open link (the tiers test failed).
pub(crate) const STUCK_AFTER: Duration = Duration::from_secs(4);
/// See [`STUCK_AFTER`], kbit/s.
pub(crate) const HELD_WITHIN: f64 = 1.0;

/// How an asked probe is made (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Ask {
    /// The desired rate lowered for [`LOWERED_FOR`] (to the estimate, or to half of
    /// [`PROBE_REACH`] times the configured rate if lower), then raised again: str0m's
    /// allocation probe, at twice the estimate.
    Allocation,
    /// The same, with str0m's estimator started over from its estimate (`Bwe::reset`)
    /// first, when the figure is stuck ([`STUCK_AFTER`]), the last asked probe found nothing,
    /// or one found room (see the module docs). Its initial probes (3 and 6 times the
    /// estimate) are held to twice it by the lowered desired rate: unheld, on virtual time
    /// they took a 1 Mbit/s link that had not opened (the ladder's low rung sent under it)
    /// into loss, and the new estimator, knowing no better, down to 300 kbit/s.
    Restart {
        /// The estimate to start over from, kbit/s.
        from_kbps: f64,
        /// Whether its first probes are held to twice the estimate and to [`PROBE_REACH`]
        /// times the configured rate (the desired rate lowered for [`LOWERED_FOR`]). Not
        /// after a probe found room while the first (3 times the estimate) is under the
        /// configured rate ([`UNHELD_UNDER`]) and the find is well over what the link showed
        /// lately ([`UNHELD_OVER_PEAK`]): the link opened, and str0m's first probes (3 and 6
        /// times the estimate) measure how far in one step.
        held: bool,
    },
}

impl Ask {
    /// Whether it lowers the desired rate for [`LOWERED_FOR`]: all but an unheld restart.
    fn lowers(self) -> bool {
        !matches!(self, Ask::Restart { held: false, .. })
    }
}

/// When to ask for a probe (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct RecoveryProbes {
    /// The lowest round trip seen, ms, and when a round trip was last that low.
    floor: Option<(f64, Instant)>,
    /// Since when every sample was clear.
    clear_since: Option<Instant>,
    /// Since when every sample's own round trip was near the path's floor
    /// ([`SHORT_QUEUE_MS`]).
    short_queue_since: Option<Instant>,
    /// The last [`RTT_SAMPLES`] round trips, ms.
    recent_rtts: std::collections::VecDeque<f64>,
    /// Since when every sample was lossless.
    carrying_since: Option<Instant>,
    /// The highest target the link carried, kbit/s, and when it last carried it.
    proven: Option<(f64, Instant)>,
    /// The last asked probe: when, the estimate then and how it was made; `None` once judged.
    asked: Option<(Instant, f64, Ask)>,
    /// The estimator's figures of the last [`PEAK_OVER`], kbit/s, oldest first.
    figures: std::collections::VecDeque<(Instant, f64)>,
    /// The highest of them when the last probe was asked, kbit/s.
    peak_at_ask: f64,
    /// When the last probe was asked, kept after `asked` is judged: the wait for the next
    /// ([`RecoveryProbes::due`]) and the window its result may come in
    /// ([`RecoveryProbes::awaiting`]) run from it.
    last_asked: Option<Instant>,
    /// The estimator's figure, kbit/s, and since when it has stood there (within
    /// [`HELD_WITHIN`]).
    held: Option<(f64, Instant)>,
    /// When an asked probe last found room (its estimate [`FOUND_RISE`] higher).
    found_at: Option<Instant>,
    /// An asked probe found room and the estimator has not been started over from it yet.
    restart_found: bool,
    /// The last asked probe found nothing: the next starts the estimator over.
    missed: bool,
    every: Duration,
}

impl Default for RecoveryProbes {
    fn default() -> Self {
        Self {
            floor: None,
            clear_since: None,
            short_queue_since: None,
            recent_rtts: std::collections::VecDeque::new(),
            carrying_since: None,
            proven: None,
            asked: None,
            figures: std::collections::VecDeque::new(),
            peak_at_ask: 0.0,
            last_asked: None,
            held: None,
            found_at: None,
            restart_found: false,
            missed: false,
            every: FIRST_EVERY,
        }
    }
}

impl RecoveryProbes {
    /// One stats sample: the round trip (ms, if known), the share of the newest packets lost
    /// (the last second's share lags a link that stopped losing by up to a second) and the
    /// target (kbit/s; `None` while a probe's unchecked result holds it). A target counts as
    /// carried whether or not the picture filled it (a scrolling terminal sends half its
    /// target or less, in bursts): the estimator measured the link with padding and probes
    /// before it allowed that target.
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
            self.short_queue_since = None;
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
        tracing::trace!(
            rtt_ms = rtt,
            lowest_ms = lowest,
            floor_ms = floor,
            loss,
            "round trip"
        );
        // The lower of the newest two round trips, not of the last few: a queue that began to
        // build under a link that fell shows in them first; and not the newest alone: with a
        // quarter of the packets lost, a lost feedback packet adds its wait to one sample.
        let newest = self
            .recent_rtts
            .iter()
            .rev()
            .take(2)
            .copied()
            .fold(rtt, f64::min);
        if newest <= floor + SHORT_QUEUE_MS.max(floor * SHORT_QUEUE_SHARE) {
            self.short_queue_since.get_or_insert(now);
        } else {
            self.short_queue_since = None;
        }
        if no_queue && loss <= super::LOSSLESS {
            self.clear_since.get_or_insert(now);
        } else {
            self.clear_since = None;
        }
    }

    /// The estimator's figure, kbit/s: judges the last asked probe (it found room, or
    /// [`RESULT_WITHIN`] passed; what it found is judged by whether the link carries it,
    /// [`Self::carried`], [`Self::failed`]), and whether the figure is stuck
    /// ([`STUCK_AFTER`]).
    pub(crate) fn on_estimate(&mut self, now: Instant, kbps: f64) {
        if self
            .held
            .is_none_or(|(k, _)| (kbps - k).abs() > HELD_WITHIN)
        {
            self.held = Some((kbps, now));
        }
        self.figures.push_back((now, kbps));
        super::forget_older(&mut self.figures, now, PEAK_OVER);
        if let Some((at, before, _)) = self.asked {
            if kbps >= before * FOUND_RISE {
                self.found_at = Some(now);
                self.restart_found = true;
                self.missed = false;
                self.asked = None;
            } else if now.saturating_duration_since(at) >= RESULT_WITHIN {
                self.missed = true;
                self.asked = None;
            }
        }
    }

    /// How long every sample has been clear (no loss, no queue).
    pub(crate) fn clear_for(&self, now: Instant) -> Duration {
        self.clear_since
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
    }

    /// How long every sample's own round trip has been within [`SHORT_QUEUE_MS`] (or
    /// [`SHORT_QUEUE_SHARE`]) of the path's floor: loss meanwhile is not a queue's overflow.
    pub(crate) fn short_queue_for(&self, now: Instant) -> Duration {
        self.short_queue_since
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
    }

    /// Whether the link looks opened again: clear for [`LONG_CLEAR`] with the target
    /// (kbit/s) under [`UNDER_PROVEN`] of what it carried lately. A link at its edge is not
    /// clear that long, and behind a router's large token bucket the target stays near what
    /// was carried.
    pub(crate) fn opened(&self, now: Instant, target: f64) -> bool {
        self.clear_for(now) >= LONG_CLEAR && self.under_proven(now, target)
    }

    /// Whether the estimator's figure is taken to climb a link that opened: it looks opened
    /// ([`Self::opened`]), or an asked probe found room within [`CLIMB_WITHIN`] and the link
    /// has been clear for [`CLEAR_FOR`]. Then a rise of [`OPENED_JUMP`] leads the target:
    /// on the link bench str0m's own probe found 7680 kbit/s 2.1 s after a lift, under twice
    /// the quartile that the asked probes' finds had raised, and the target waited for the
    /// quartile (full rate 6.9 s after the lift).
    pub(crate) fn rising(&self, now: Instant, target: f64) -> bool {
        self.opened(now, target) || (self.climbing(now) && self.clear_for(now) >= CLEAR_FOR)
    }

    /// Whether `target` (kbit/s) is under [`UNDER_PROVEN`] of what the link carried lately.
    fn under_proven(&self, now: Instant, target: f64) -> bool {
        self.proven_kbps(now)
            .is_some_and(|p| target < p * UNDER_PROVEN)
    }

    /// Whether an asked probe found room within [`CLIMB_WITHIN`] (and no lead failed since).
    fn climbing(&self, now: Instant) -> bool {
        self.found_at
            .is_some_and(|t| now.saturating_duration_since(t) < CLIMB_WITHIN)
    }

    /// Whether the estimator's figure has stood still for [`STUCK_AFTER`].
    fn stuck(&self, now: Instant) -> bool {
        self.held
            .is_some_and(|(_, since)| now.saturating_duration_since(since) >= STUCK_AFTER)
    }

    /// Whether to ask for a probe now, and how, with the target at `target` and the estimate
    /// at `estimate` (kbit/s) of a configured `max`; when so, it counts as asked.
    pub(crate) fn due(
        &mut self,
        now: Instant,
        target: f64,
        estimate: f64,
        max: f64,
    ) -> Option<Ask> {
        let clear_for = self.clear_for(now);
        let since_asked = self
            .last_asked
            .map_or(Duration::MAX, |t| now.saturating_duration_since(t));
        let clear = clear_for >= CLEAR_FOR;
        let climbing = self.climbing(now);
        let waited = since_asked >= self.every
            || ((clear_for >= LONG_CLEAR || climbing) && since_asked >= CLEAR_EVERY);
        let stuck = self.stuck(now);
        // Nothing to find when the estimate already affords the target probes stop at: the
        // target, climbing after it, gets there (a restart from 8893 kbit/s on a 10 Mbit/s
        // link sent str0m's first probes at 16 Mbit/s, and the fresh estimator, seeing the
        // overshoot, fell to 5492; full rate 3.3 s after that on the link bench).
        let room = target < max * WELL_UNDER && estimate * super::HEADROOM < max * WELL_UNDER;
        let under = room && (self.under_proven(now, target) || stuck || climbing);
        tracing::trace!(
            clear_ms = clear_for.as_millis() as u64,
            floor_ms = self.floor.map(|f| f.0),
            proven_kbps = self.proven_kbps(now),
            target_kbps = target,
            waited,
            stuck,
            "recovery probe"
        );
        // An asked probe found room: the link opened. str0m's estimator starts over from what
        // it found, at once: its loss-based half still holds the narrow link's loss, and
        // neither its own probes nor ours then took it over 1.5 times what was acknowledged
        // a step (~20 % a second after a lift on the link bench); a fresh one's first probes
        // (3 and 6 times what was found) measure how far the link opened.
        if std::mem::take(&mut self.restart_found) && room {
            // Held where str0m's first probe (3 times the estimate) would go over the
            // configured rate: from 5488 kbit/s its probes went at 16 Mbit/s into a 10 Mbit/s
            // link, and the fresh estimator fell to 3138. And where the find is no more than
            // the link showed lately (`UNHELD_OVER_PEAK`).
            let held =
                estimate * UNHELD_UNDER > max || estimate < self.peak_at_ask * UNHELD_OVER_PEAK;
            return Some(self.ask(
                now,
                estimate,
                Ask::Restart {
                    from_kbps: estimate,
                    held,
                },
            ));
        }
        if !(clear && waited && under && self.asked.is_none()) {
            return None;
        }
        let ask = if stuck || std::mem::take(&mut self.missed) {
            Ask::Restart {
                from_kbps: estimate,
                held: true,
            }
        } else {
            Ask::Allocation
        };
        Some(self.ask(now, estimate, ask))
    }

    /// Records `ask`, made at `now` with the estimate `estimate` (kbit/s), and returns it.
    fn ask(&mut self, now: Instant, estimate: f64, ask: Ask) -> Ask {
        self.asked = Some((now, estimate, ask));
        self.peak_at_ask = self
            .figures
            .iter()
            .map(|&(_, k)| k)
            .fold(estimate, f64::max);
        self.last_asked = Some(now);
        ask
    }

    /// The desired rate to give str0m while an asked probe lowers it ([`LOWERED_FOR`]): the
    /// estimate when it was asked, or half of [`PROBE_REACH`] times the configured `max` if
    /// lower; kbit/s.
    pub(crate) fn lowered(&self, now: Instant, max: f64) -> Option<f64> {
        let (at, estimate, _) = self.asked.filter(|&(_, _, ask)| ask.lowers())?;
        (now.saturating_duration_since(at) < LOWERED_FOR)
            .then_some(estimate.min(max * PROBE_REACH / 2.0))
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
        self.found_at = None;
        self.restart_found = false;
    }

    /// A new path: its round trips start over.
    pub(crate) fn forget(&mut self) {
        *self = Self::default();
    }
}

impl super::RateControl {
    /// The rate str0m is to discover, kbit/s: the configured one, or for a moment the
    /// estimate, so that raising it again makes str0m probe (an allocation probe; see
    /// `recovery.rs` for when).
    pub(crate) fn desired_kbps(&mut self, now: Instant) -> f64 {
        if let Some(lowered) = self.recovery.lowered(now, self.max_kbps) {
            return lowered;
        }
        // Not while a collapse is held: the link just fell, and a probe's lead then climbed
        // back over it (a 1.2 s freeze on virtual time). Unless the link has been clear (no
        // loss, no queue) for LONG_CLEAR since: one that opened again right after its collapse
        // (a lift that came as the target sawed over a 1 Mbit/s link) waited out the whole
        // hold, up to 16 s back to the configured rate on virtual time.
        let holding = self.collapse_floor.is_some_and(|(_, since)| {
            now.saturating_duration_since(since) < super::HOLD_AFTER_COLLAPSE
        }) && self.recovery.clear_for(now) < LONG_CLEAR;
        // Nor while probes are distrusted after a failed lead: behind a router's large token
        // bucket every probe measures over the link, and asked ones took the target into
        // collapses on the link bench. A link that looks opened ends the distrust.
        self.trust_opened_link(now);
        let trusted = self.probes_trusted(now);
        let estimate = (self.raw_kbps.or(self.estimate_kbps)).filter(|_| trusted && !holding);
        let target = self.target_kbps;
        match estimate.map(|e| (e, self.recovery.due(now, target, e, self.max_kbps))) {
            Some((e, Some(ask))) => {
                if let Ask::Restart { from_kbps, .. } = ask {
                    self.restart = Some(from_kbps);
                }
                tracing::debug!(
                    estimate_kbps = e,
                    target_kbps = target,
                    ?ask,
                    "asking for a probe"
                );
                e
            }
            _ => self.max_kbps,
        }
    }

    /// After an [`Ask::Restart`]: the estimate (kbit/s) str0m's estimator is to
    /// start over from (`Bwe::reset`), once.
    pub(crate) fn take_restart(&mut self) -> Option<f64> {
        self.restart.take()
    }
}

#[cfg(test)]
mod tests;
