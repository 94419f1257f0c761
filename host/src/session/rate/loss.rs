//! The link losing packets: the share among the newest ([`newest_loss`]), what a run of
//! loss means for the target ([`RateControl::on_loss`]: a collapse, a probe's failed lead, a
//! burst; see the parent module's docs), and how much of the bytes resends may take
//! ([`RateControl::resend_share`]): random loss (loss with no queue behind it, a poor radio
//! hop) needs far more than congestion, whose resends only lengthen the queue.

use std::time::{Duration, Instant};

use super::{
    Cap, Lead, RateControl, BURST_KEYFRAME_EVERY, COLLAPSE_SHARE, DISTRUST_PROBES_MAX,
    FAILED_LEAD_HOLD, FAST_CAP_FOR, FAST_COLLAPSE_LOSS, FAST_COLLAPSE_PACKETS,
    FAST_COLLAPSE_SECOND, FELL_COLLAPSE_LOSS, HEADROOM, MAX_FAST_CUT, PROBE_FAILED_LOSS,
    PROBE_FAILED_PACKETS,
};

/// The window str0m's egress loss share is taken over (its TWCC register's `loss(1 s)`).
const LOSS_WINDOW: Duration = Duration::from_secs(1);
/// Bytes of a packet on the wire, about: the newest packets are counted from the bytes sent.
const PACKET_BYTES: f64 = 1200.0;
/// The share of the last second's bytes resends may take while the link loses packets with
/// no queue at its bottleneck (random loss: radio, a lossy hop): at 25 % loss each way
/// resends alone are about a third of the bytes.
pub(crate) const RESEND_SHARE_RANDOM_LOSS: f32 = 0.5;
/// The share otherwise (str0m's default): loss with a queue is congestion, and its resends
/// would only lengthen the queue.
pub(crate) const RESEND_SHARE: f32 = 0.15;
/// [`RESEND_SHARE_RANDOM_LOSS`] takes this long a spell of loss (at least [`LOSSY_FROM`] of
/// each last second's packets) with no more than a short queue at the bottleneck
/// (`RecoveryProbes::short_queue_for`): the link loses packets at random. A clean link keeps
/// the narrow share, so that a fall under the picture finds no wide one in place.
const RANDOM_LOSS_FOR: Duration = Duration::from_secs(1);
/// See [`RANDOM_LOSS_FOR`].
const LOSSY_FROM: f64 = 0.02;
/// A spell of loss ends only once no second has lost [`LOSSY_FROM`] for this long: at a few
/// hundred kbit/s a second is a few dozen packets, and 10 % random loss left some of them
/// with none lost.
const LOSSY_KEPT: Duration = Duration::from_secs(2);

/// The share of the newest packets lost, 0–1: `now` is the share over the last
/// [`LOSS_WINDOW`] of packets sent, `before` the same `dt_secs` earlier. With packets sent at
/// an even rate, the window gained `dt` of new packets and lost as many old ones, whose share
/// lost is taken to be the earlier window's: new = before + (now − before) × window / dt.
pub(crate) fn newest_loss(before: f64, now: f64, dt_secs: f64) -> f64 {
    if dt_secs <= 0.0 {
        return now;
    }
    (before + (now - before) * LOSS_WINDOW.as_secs_f64() / dt_secs).clamp(0.0, 1.0)
}

/// A run of packets the link lost under the picture, seen by [`RateControl::on_loss`]: the
/// frames in it are past (their resends would only fill the link) and the page needs a
/// keyframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LossRun {
    /// The link fell under the picture (see the module docs).
    Collapse,
    /// A probe's result led the target over what the link carried (see the module docs).
    FailedLead,
    /// Any other large run of loss (see the module docs).
    Burst,
}

impl RateControl {
    /// The share of the bytes resends may take before str0m drops the queued ones (its
    /// `rtx_ratio_cap`): [`RESEND_SHARE_RANDOM_LOSS`] while the link has lost packets at
    /// random for [`RANDOM_LOSS_FOR`] and no collapse is held, else [`RESEND_SHARE`].
    pub(crate) fn resend_share(&self, now: Instant) -> f32 {
        if self.fast_cap.is_none() && self.random_loss(now) {
            RESEND_SHARE_RANDOM_LOSS
        } else {
            RESEND_SHARE
        }
    }

    /// Whether the link loses packets at random: a spell of loss ([`LOSSY_FROM`], [`LOSSY_KEPT`])
    /// and of round trips with no more than a short queue, both [`RANDOM_LOSS_FOR`] long.
    fn random_loss(&self, now: Instant) -> bool {
        let lossy_for = self.lossy.map_or(Duration::ZERO, |(since, _)| {
            now.saturating_duration_since(since)
        });
        lossy_for >= RANDOM_LOSS_FOR && self.recovery.short_queue_for(now) >= RANDOM_LOSS_FOR
    }

    /// Whether the probe's result that leads the target failed: the newest packets (`newest`
    /// of them lost, about `packets` in all) lose [`PROBE_FAILED_LOSS`] more than the last
    /// second did when the lead began, at a sample after the one it began in. A failed lead
    /// ends, the target is capped where it was when the lead began, and probes are distrusted
    /// (see the module docs).
    fn probe_failed(&mut self, now: Instant, newest: f64, packets: f64) -> bool {
        let Some(Lead {
            since,
            loss_before,
            target_before,
            asked,
            carried: false,
            ..
        }) = self.probe_lead
        else {
            return false;
        };
        // The packets of the sample the lead began in went out before it: their loss is not
        // the lead's. On the link bench 5 of 7 failed leads were judged so (`led_for_ms=0`),
        // on the tail of a collapse's loss, and each doubled the wait for the next asked probe.
        if now <= since
            || newest < loss_before + PROBE_FAILED_LOSS
            || newest * packets < PROBE_FAILED_PACKETS
        {
            return false;
        }
        tracing::debug!(
            newest_loss = newest,
            led_for_ms = now.saturating_duration_since(since).as_millis() as u64,
            target_kbps = self.target_kbps,
            back_to_kbps = target_before,
            distrust_s = self.distrust_for.as_secs(),
            "a probe's result the link did not carry"
        );
        self.probe_lead = None;
        self.lead_cap = Some(Cap {
            kbps: target_before,
            until: now + FAILED_LEAD_HOLD,
            lifts_under: false,
        });
        if asked {
            self.recovery.failed();
        }
        self.distrust_until = Some(now + self.distrust_for);
        self.distrust_for = (self.distrust_for * 2).min(DISTRUST_PROBES_MAX);
        true
    }

    /// Ends the distrust of probes when the link looks opened again (`recovery.rs`): a lead
    /// that failed at a narrow link's edge kept the target on str0m's own climb for up to
    /// 20 s after a 1 → 10 Mbit/s lift on the link bench. The next distrust still doubles.
    pub(super) fn trust_opened_link(&mut self, now: Instant) {
        if self.distrust_until.is_some_and(|until| now < until)
            && self.recovery.opened(now, self.target_kbps)
        {
            tracing::debug!(
                target_kbps = self.target_kbps,
                "the link opened: probes are trusted again"
            );
            self.distrust_until = None;
        }
    }

    /// A collapse seen at `now`: the target stays under `kbps` (what got through) for
    /// [`FAST_CAP_FOR`] or until the estimator says as little.
    pub(super) fn cap_after_collapse(&mut self, now: Instant, kbps: f64) {
        self.fast_cap = Some(Cap {
            kbps,
            until: now + FAST_CAP_FOR,
            lifts_under: true,
        });
    }

    /// The share of the packets sent over the last second that were lost, 0–1 (str0m's
    /// `egress_loss_fraction`, from TWCC feedback), and the bytes sent to the peer so far
    /// (every packet: media, retransmissions, padding, channels). Whether the link lost a run
    /// of packets now (it collapsed, seen before the estimator saw it, or a probe's lead
    /// failed: see the module docs): the caller drops the resends of what was lost and asks
    /// for a keyframe.
    pub(crate) fn on_loss(
        &mut self,
        now: Instant,
        fraction: f64,
        bytes_sent: u64,
    ) -> Option<LossRun> {
        let fell = std::mem::take(&mut self.fell);
        if !fraction.is_finite() {
            self.update(now);
            return None;
        }
        let fraction = fraction.clamp(0.0, 1.0);
        self.loss = fraction;
        self.feedback.on_sample(now, fraction >= LOSSY_FROM);
        self.lossy = match self.lossy {
            _ if fraction >= LOSSY_FROM => Some((self.lossy.map_or(now, |(since, _)| since), now)),
            Some((_, last)) if now.saturating_duration_since(last) >= LOSSY_KEPT => None,
            kept => kept,
        };
        let random_loss = self.random_loss(now);
        let before = self.loss_sample.replace((now, fraction, bytes_sent));
        let mut collapsed = false;
        let mut lead_failed = false;
        let mut burst = false;
        if let Some((at, loss_before, bytes_before)) = before {
            let dt = now.saturating_duration_since(at).as_secs_f64();
            let bytes = bytes_sent.saturating_sub(bytes_before) as f64;
            if dt > 0.0 && dt <= LOSS_WINDOW.as_secs_f64() / 2.0 {
                let newest = newest_loss(loss_before, fraction, dt);
                self.newest_loss = newest;
                let sent_kbps = bytes * 8.0 / 1000.0 / dt;
                self.feedback.sent_kbps = sent_kbps;
                // What got through is a small difference of large figures (0.9 or 0.96 of
                // 8 Mbit/s lost is 2.5 times apart): no deeper than MAX_FAST_CUT at once.
                let floor = (self.target_kbps / MAX_FAST_CUT).max(self.min_kbps);
                let cap = (sent_kbps * (1.0 - newest) * HEADROOM).clamp(floor, self.max_kbps);
                lead_failed = self.probe_failed(now, newest, bytes / PACKET_BYTES);
                burst = newest >= loss_before + PROBE_FAILED_LOSS
                    && newest * bytes / PACKET_BYTES >= FAST_COLLAPSE_PACKETS
                    && self
                        .burst_at
                        .is_none_or(|t| now.saturating_duration_since(t) >= BURST_KEYFRAME_EVERY);
                // The estimator's figure fell at this sample with a share of the newest
                // packets lost: the link fell under the picture, and what got through is not
                // known yet (the loss reported lags it): the deepest cut.
                let fell = fell && newest >= FELL_COLLAPSE_LOSS;
                let cap = if fell { floor } else { cap };
                // Random loss (radio, a lossy hop) is no collapse: the link did not fall.
                if self.fast_cap.is_none()
                    && !random_loss
                    && (fell || (newest >= FAST_COLLAPSE_LOSS && fraction >= FAST_COLLAPSE_SECOND))
                    && newest * bytes / PACKET_BYTES >= FAST_COLLAPSE_PACKETS
                    && cap < self.target_kbps * COLLAPSE_SHARE
                {
                    tracing::debug!(
                        newest_loss = newest,
                        sent_kbps,
                        target_kbps = self.target_kbps,
                        cap_kbps = cap,
                        by_the_fall = fell,
                        "the link collapsed"
                    );
                    self.cap_after_collapse(now, cap);
                    collapsed = true;
                }
            }
        }
        if lead_failed {
            self.follow(now);
        } else {
            self.update(now);
        }
        if collapsed {
            Some(LossRun::Collapse)
        } else if lead_failed {
            Some(LossRun::FailedLead)
        } else if burst {
            self.burst_at = Some(now);
            Some(LossRun::Burst)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::tests::drive_raw_loss;
    use super::{LossRun, RateControl, RESEND_SHARE, RESEND_SHARE_RANDOM_LOSS};

    /// Resends may take a wide share of the bytes only on a link that has lost packets for a
    /// second with no queue behind the loss (`rtt_ms` each 250 ms sample, on a 30 ms path):
    /// a clean link, and loss with a queue (congestion), keep the narrow one; a spike in one
    /// round trip (a lost feedback packet) does not end the spell, a standing queue does.
    #[test]
    fn resends_get_a_wide_share_only_under_loss_with_no_queue() {
        // Each sample's (loss share, round trip in ms), by its index.
        type Samples = fn(usize) -> (f64, f64);
        let cases: [(&str, f32, Samples); 5] = [
            ("clean", RESEND_SHARE, |_| (0.0, 30.0)),
            ("random loss", RESEND_SHARE_RANDOM_LOSS, |_| (0.15, 30.0)),
            ("loss, a spike", RESEND_SHARE_RANDOM_LOSS, |i| {
                (0.15, if i == 14 { 90.0 } else { 30.0 })
            }),
            ("loss, a queue", RESEND_SHARE, |i| {
                (0.15, if i < 4 { 30.0 } else { 80.0 })
            }),
            ("loss then none", RESEND_SHARE, |i| {
                (if i < 4 { 0.15 } else { 0.0 }, 30.0)
            }),
        ];
        for (name, want, sample) in cases {
            let t0 = Instant::now();
            let mut r = RateControl::new(t0, 1000, 8000);
            let mut bytes = 0;
            for i in 0..16 {
                let now = t0 + Duration::from_millis(250 * (i as u64 + 1));
                let (loss, rtt) = sample(i);
                bytes += 30_000;
                r.on_estimate(now, 4000.0);
                r.on_loss(now, loss, bytes);
                r.on_rtt(now, Some(rtt));
            }
            let now = t0 + Duration::from_millis(250 * 16);
            assert_eq!(r.resend_share(now), want, "{name}");
        }
    }

    /// 10 → 1 Mbit/s under an 8 Mbit/s picture, as the link bench saw it: at the first stats
    /// sample after the fall the estimator's figure had fallen to under a third (its
    /// delay-based half saw the queue), while the loss reported over the last second was 8 %
    /// (the newest packets' 31 %): the loss that would show the collapse came a sample later.
    /// A fall of the figure with a fifth of the newest packets lost is the collapse; either
    /// alone is not.
    #[test]
    fn an_estimate_that_falls_with_the_newest_packets_lost_is_a_collapse() {
        let cases = [
            (2600.0, 0.31, vec![LossRun::Collapse]),
            // A queue with no loss to speak of (a delay-based cut): followed, no collapse.
            (2600.0, 0.05, vec![]),
            // A run of loss while the figure stands (a probe through a router's large
            // bucket): the newest alone, under FAST_COLLAPSE_LOSS, is no collapse, only a
            // burst (a keyframe, the target as it was).
            (8800.0, 0.31, vec![LossRun::Burst]),
        ];
        for (fell_to, newest, runs) in cases {
            let t0 = Instant::now();
            let mut r = RateControl::new(t0, 1000, 8000);
            let mut bytes = 0;
            let quiet = drive_raw_loss(&mut r, t0, &mut bytes, 0.0, 8.0, 9000.0, 0.0);
            assert_eq!(quiet, []);
            assert_eq!(r.target_kbps(), 7650);
            // One sample: a quarter of the last second new, `newest` of those lost.
            let seen = drive_raw_loss(&mut r, t0, &mut bytes, 8.0, 8.25, fell_to, newest);
            assert_eq!(seen, runs, "{fell_to} {newest}");
            let target = r.target_kbps();
            match runs.first() {
                // The deepest cut: a tenth of what the fallen figure affords.
                Some(LossRun::Collapse) => assert_eq!(target, 221, "{fell_to} {newest}"),
                // The figure followed at once, down or not at all.
                _ => assert_eq!(target, (fell_to * 0.85).min(7650.0) as u32),
            }
        }
    }

    /// A probe's result that begins to lead at a sample whose newest packets were lost (the
    /// tail of a collapse's loss, sent before the lead) is not failed by that loss: the lead
    /// goes on, and the same loss of its own packets later fails it.
    #[test]
    fn a_lead_is_judged_by_the_loss_of_its_own_packets() {
        let t0 = Instant::now();
        let mut r = RateControl::new(t0, 1000, 8000);
        let mut bytes = 0;
        assert_eq!(
            drive_raw_loss(&mut r, t0, &mut bytes, 0.0, 8.0, 1000.0, 0.0),
            []
        );
        assert_eq!(r.target_kbps(), 850);
        // A probe found 2.5 Mbit/s in the sample that lost a fifth of its newest packets.
        let seen = drive_raw_loss(&mut r, t0, &mut bytes, 8.0, 8.25, 2500.0, 0.2);
        assert_eq!(seen, [], "failed on older loss");
        // No more loss: the lead climbs on.
        assert_eq!(
            drive_raw_loss(&mut r, t0, &mut bytes, 8.25, 8.75, 2500.0, 0.0),
            []
        );
        assert!(r.target_kbps() > 1000, "target {}", r.target_kbps());
        // Then its own packets lose as much: it failed, and the target is back where the lead
        // found it.
        let seen = drive_raw_loss(&mut r, t0, &mut bytes, 8.75, 9.0, 2500.0, 0.2);
        assert_eq!(seen, [LossRun::FailedLead]);
        assert_eq!(r.target_kbps(), 850);
    }
}
