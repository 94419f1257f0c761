//! The video rate one peer's link carries, sans-IO: the encoder target follows the send-side
//! bandwidth estimate (str0m's goog_cc port over transport-wide congestion control feedback,
//! draft-holmer-rmcat-transport-wide-cc-extensions-01).
//!
//! - The target is [`HEADROOM`] of the estimate (room for audio, RTX and header overhead);
//! - a lower estimate cuts the target at once; a higher one raises it by at most
//!   [`RAISE_PER_SECOND`] a second (a keyframe-sized jump into a queue is a freeze). The
//!   estimator itself rises slowly (AIMD) except after a probe measured the link, so this cap
//!   only bounds jumps; at 1.15 a second, as first planned, an open link took ~9 s to reach
//!   8 Mbit/s from the start and 16 s to recover from 1 Mbit/s, on virtual time;
//! - an idle screen sends little, which says nothing about the link: while the peer's video
//!   (its encoded payloads, not the padding) is well under its target ([`IDLE_SHARE`]) and
//!   under what the estimate affords, the target follows the estimate but never below what it
//!   was when the screen went idle, if the picture had sent at that target before (a still
//!   spell neither loses the rate the link earned nor ratchets it up on the estimate's ups
//!   alone; a screen still from the start holds nothing, nor does a path found again after
//!   ICE lost one);
//! - after a collapse (one cut to under [`COLLAPSE_SHARE`] of the target: the link fell
//!   under the picture), for [`HOLD_AFTER_COLLAPSE`] the target goes no lower than where
//!   the last lossy second (or the collapse) took it, unless the link loses packets again;
//!   above that it follows the estimate as always, down as well (the delay-based estimate
//!   still keeps the queue short). Once the link carries the new rate without loss, str0m's
//!   loss-based estimator (a port of libwebrtc's LossBasedBweV2) still has the burst of loss
//!   in its window (15 observations of at least 250 ms) for ~5 s: while the window's
//!   byte-weighted loss is over 20 % its bandwidth bias favours lower candidates, so it slides
//!   ~5 % a step, and it may not rise while that loss is above its inherent-loss estimate.
//!   After 10 → 1 Mbit/s that took the target to 154 kbit/s on a lossless link on virtual
//!   time, with a delay-based estimate of 1.2 Mbit/s; the picture now keeps the rate the link
//!   just carried until the estimator lets go of the burst;
//! - the estimator is fed padding up to a little above what it currently says
//!   ([`RateControl::padding_kbps`]), so an app-limited sender keeps measuring the link; at
//!   0.9 of the configured rate and above nothing is padded;
//! - the target stays within `[min, max]` (`max` is `--bitrate`).

use std::time::{Duration, Instant};

/// Share of the estimate the encoder targets.
pub(crate) const HEADROOM: f64 = 0.85;
/// Largest rise of the target per second (×2).
pub(crate) const RAISE_PER_SECOND: f64 = 2.0;
/// A peer sending under this share of its target is application-limited (an idle screen).
pub(crate) const IDLE_SHARE: f64 = 0.4;
/// Padding brings what goes out up to this share of the target the estimate affords (about
/// 1.06 of the estimate). The estimator grows only while it is fed more than it says: at 1.1
/// (0.94 of the estimate) a 400 kbit/s link that opened never got its target to 622 kbit/s in
/// 20 s on virtual time, though a still screen's padding lost a third as many packets to a
/// 2 Mbit/s queue.
pub(crate) const PAD_ABOVE_TARGET: f64 = 1.25;
/// Without a figure from the estimator itself for this long, its estimate events are taken.
pub(crate) const STALE_ESTIMATE: Duration = Duration::from_secs(2);
/// The sound's rate is raised back only after the video target has allowed it this long.
pub(crate) const AUDIO_RAISE_AFTER: Duration = Duration::from_secs(3);
/// A cut to under this share of the target is a collapse (see the module docs).
pub(crate) const COLLAPSE_SHARE: f64 = 0.5;
/// After a collapse, the target goes under its floor (see the module docs) only while the
/// link loses packets, for this long: the loss-based estimator took ~5 s to let go of the
/// burst on virtual time.
pub(crate) const HOLD_AFTER_COLLAPSE: Duration = Duration::from_secs(8);
/// A second with at most this share of packets lost is lossless (str0m's TWCC figure).
pub(crate) const LOSSLESS: f64 = 0.02;
/// The lowest target, kbit/s: below it a picture is not legible.
pub(crate) const MIN_KBPS: u32 = 150;

/// The Opus rate for the encode's video target, kbit/s: the configured rate while the link is
/// wide, less under pressure, so that sound keeps flowing through a narrow link and leaves the
/// picture its room (96 kbit/s of sound is a quarter of a 400 kbit/s link, beside
/// [`HEADROOM`]'s 15 %): at most 64 under 2 Mbit/s of video, 48 under 1 Mbit/s, 32 under
/// 500 kbit/s and 24 under 250 kbit/s (Opus CELT stays clear for speech and music from about
/// 24 kbit/s stereo; RFC 7587 §3.1.1).
pub(crate) fn audio_kbps_for(video_target_kbps: u32, configured_kbps: u32) -> u32 {
    let cap = match video_target_kbps {
        t if t >= 2000 => u32::MAX,
        t if t >= 1000 => 64,
        t if t >= 500 => 48,
        t if t >= 250 => 32,
        _ => 24,
    };
    configured_kbps.min(cap)
}

/// Under this video target, kbit/s, the `audio` data channel carries two 10 ms Opus frames per
/// message (every other packet, each with its previous frame, which the page decodes as it
/// would a repeat after a loss) instead of one: each message costs ~100 bytes of SCTP, DTLS,
/// UDP and IP headers, and 100 a second of them were 140 kbit/s on the wire for 24 kbit/s of
/// Opus, which with a 150 kbit/s picture overflowed a 400 kbit/s link. Half as many messages
/// save ~60 kbit/s there, at the cost of the repeat that hid a lost packet.
pub(crate) const AUDIO_PAIRED_UNDER_KBPS: u32 = 500;

/// One peer's encoder target, in kbit/s.
#[derive(Debug, Clone)]
pub(crate) struct RateControl {
    min_kbps: f64,
    max_kbps: f64,
    target_kbps: f64,
    /// What the target follows (see [`RateControl::follow`]).
    estimate_kbps: Option<f64>,
    /// The last estimate event and when it came.
    event_kbps: Option<f64>,
    event_at: Instant,
    /// The estimator's last own figure and when it came.
    raw_kbps: Option<f64>,
    raw_at: Instant,
    sent_kbps: f64,
    /// While the screen is idle: the target when it went idle, which the target keeps.
    held_kbps: Option<f64>,
    /// The picture has sent at its target since the start (or the last [`Self::forget_hold`]):
    /// only such a target is held.
    earned: bool,
    /// The share of packets lost over the last second (TWCC).
    loss: f64,
    /// After a collapse: the lowest target a lossy second took it to, and when it collapsed.
    collapse_floor: Option<(f64, Instant)>,
    last: Instant,
}

impl RateControl {
    /// Starts at `start_kbps` (where the estimator starts), never above `max_kbps` (the
    /// configured bitrate).
    /// The floor is [`MIN_KBPS`], or `max_kbps` when that is lower (`--bitrate 100` is obeyed).
    pub(crate) fn new(now: Instant, start_kbps: u32, max_kbps: u32) -> Self {
        let max = f64::from(max_kbps.max(1));
        let min = f64::from(MIN_KBPS).min(max);
        Self {
            min_kbps: min,
            max_kbps: max,
            target_kbps: f64::from(start_kbps).clamp(min, max),
            estimate_kbps: None,
            event_kbps: None,
            event_at: now,
            raw_kbps: None,
            raw_at: now,
            sent_kbps: 0.0,
            held_kbps: None,
            earned: false,
            loss: 0.0,
            collapse_floor: None,
            last: now,
        }
    }

    /// The bandwidth estimate, kbit/s (str0m's estimate event: the estimator's figures of the
    /// last 3 s averaged, told when the average moves by 5 %).
    pub(crate) fn on_estimate(&mut self, now: Instant, kbps: f64) {
        if kbps.is_finite() && kbps > 0.0 {
            self.event_kbps = Some(kbps);
            self.event_at = now;
        }
        self.follow(now);
    }

    /// The estimator's current figure, kbit/s (str0m's `bwe_tx` stat, sampled every
    /// [`super::RTC_STATS_INTERVAL`]).
    pub(crate) fn on_raw_estimate(&mut self, now: Instant, kbps: f64) {
        if kbps.is_finite() && kbps > 0.0 {
            self.raw_kbps = Some(kbps);
            self.raw_at = now;
        }
        self.follow(now);
    }

    /// The estimate the target follows: the lower of the estimator's current figure and its
    /// 3 s average, so a fall is followed at once (the average crept down 5 % at a time on the
    /// link bench while a 10 → 1 Mbit/s step overflowed the queue) and a rise at the
    /// average's pace (the current figure overshoots the link while the estimator feels for
    /// it: 0.85 of it froze a 400 kbit/s link on virtual time). Without an event for
    /// [`STALE_ESTIMATE`] the current figure alone: str0m tells no event while the link cannot
    /// be probed, however far the estimator has moved (events stuck at ~150 kbit/s while the
    /// estimator said 8 Mbit/s for 10 s after a 1 → 10 Mbit/s step).
    fn follow(&mut self, now: Instant) {
        let raw = self
            .raw_kbps
            .filter(|_| now.saturating_duration_since(self.raw_at) < STALE_ESTIMATE);
        let event = self
            .event_kbps
            .filter(|_| now.saturating_duration_since(self.event_at) < STALE_ESTIMATE);
        self.estimate_kbps = match (raw, event) {
            (Some(r), Some(e)) => Some(r.min(e)),
            (Some(r), None) => Some(r),
            (None, Some(e)) => Some(e),
            (None, None) => self.estimate_kbps.or(self.event_kbps).or(self.raw_kbps),
        };
        self.update(now);
    }

    /// The rate the peer's encoded video went out at lately (payloads only: no padding,
    /// retransmissions or headers), kbit/s.
    pub(crate) fn on_sent(&mut self, now: Instant, kbps: f64) {
        if kbps.is_finite() && kbps >= 0.0 {
            self.sent_kbps = kbps;
        }
        self.update(now);
    }

    /// The share of the packets sent over the last second that were lost, 0–1 (str0m's
    /// `egress_loss_fraction`, from TWCC feedback).
    pub(crate) fn on_loss(&mut self, now: Instant, fraction: f64) {
        if fraction.is_finite() {
            self.loss = fraction.clamp(0.0, 1.0);
        }
        self.update(now);
    }

    /// Moves the target towards the estimate (see the module docs); call as time passes.
    pub(crate) fn update(&mut self, now: Instant) {
        let dt = now
            .saturating_duration_since(self.last)
            .min(Duration::from_secs(5));
        self.last = now;
        let Some(estimate) = self.estimate_kbps else {
            return;
        };
        let wanted = (estimate * HEADROOM).clamp(self.min_kbps, self.max_kbps);
        // Sending more than the estimate affords is never idle, however little it is.
        let idle = self.sent_kbps < self.target_kbps * IDLE_SHARE && self.sent_kbps < wanted;
        if !idle {
            self.held_kbps = None;
            self.earned = true;
        } else if self.held_kbps.is_none() && self.earned {
            self.held_kbps = Some(self.target_kbps);
        }
        if wanted < self.target_kbps {
            let cut = wanted.max(self.held_kbps.unwrap_or(0.0));
            if cut < self.target_kbps * COLLAPSE_SHARE {
                self.collapse_floor = Some((cut, now));
            }
            match &mut self.collapse_floor {
                Some((floor, since))
                    if now.saturating_duration_since(*since) < HOLD_AFTER_COLLAPSE =>
                {
                    if self.loss > LOSSLESS {
                        *floor = cut;
                    }
                    self.target_kbps = cut.max(*floor);
                }
                _ => self.target_kbps = cut,
            }
        } else {
            let cap = self.target_kbps * RAISE_PER_SECOND.powf(dt.as_secs_f64());
            self.target_kbps = wanted.min(cap);
        }
    }

    /// The rate padding brings this peer's RTP up to, kbit/s: [`PAD_ABOVE_TARGET`] of the
    /// target the estimate affords (of the held target only while the estimate is as high),
    /// so the estimator has traffic to measure while the screen is idle; 0 at the configured
    /// rate (an idle screen then sends next to nothing). Padded above a held target the
    /// estimate no longer affords, a still screen flooded a 2 Mbit/s link (643 drops a
    /// minute) and dragged the estimate down with it.
    pub(crate) fn padding_kbps(&self) -> f64 {
        if self.target_kbps >= self.max_kbps * 0.9 {
            return 0.0;
        }
        let affords = self
            .estimate_kbps
            .map_or(self.target_kbps, |e| (e * HEADROOM).min(self.target_kbps));
        (affords * PAD_ABOVE_TARGET).min(self.max_kbps)
    }

    /// A new path (ICE found one again): the target held for the old one is let go.
    pub(crate) fn forget_hold(&mut self) {
        self.held_kbps = None;
        self.earned = false;
    }

    /// The configured (highest) rate, kbit/s.
    pub(crate) fn max_kbps(&self) -> f64 {
        self.max_kbps
    }

    /// The encoder target, kbit/s.
    pub(crate) fn target_kbps(&self) -> u32 {
        self.target_kbps.round() as u32
    }
}

#[cfg(test)]
mod tests {
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
        r.on_loss(at(5.1), 0.6);
        r.on_raw_estimate(at(5.1), 600.0);
        assert_eq!(r.target_kbps(), 510, "a collapse is followed at once");
        r.on_raw_estimate(at(5.3), 400.0);
        assert_eq!(r.target_kbps(), 340, "lossy: followed down");
        // Lossless again: the loss-based estimate slides on; the target stays.
        r.on_loss(at(5.5), 0.0);
        for (i, kbps) in [380.0, 300.0, 250.0, 200.0].into_iter().enumerate() {
            r.on_raw_estimate(at(5.6 + 0.25 * i as f64), kbps);
            assert_eq!(r.target_kbps(), 340, "lossless fall to {kbps} followed");
        }
        // Above the floor it follows the estimate, down as well.
        drive_raw(&mut r, t0, 6.5, 9.0, 700.0, 700.0);
        assert_eq!(r.target_kbps(), 595);
        r.on_raw_estimate(at(9.1), 500.0);
        assert_eq!(r.target_kbps(), 425, "a fall above the floor is followed");
        // Loss again: followed down, and that is the new floor.
        r.on_loss(at(9.2), 0.1);
        r.on_raw_estimate(at(9.3), 300.0);
        assert_eq!(r.target_kbps(), 255);
        r.on_loss(at(9.4), 0.0);
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
    fn a_fall_is_followed_at_once_a_rise_at_the_averages_pace_and_stopped_events_are_not_waited_for(
    ) {
        let t0 = Instant::now();
        let mut r = RateControl::new(t0, 1000, 8000);
        r.on_sent(t0, 1000.0);
        r.on_estimate(t0, 9000.0);
        r.on_raw_estimate(t0, 8000.0);
        drive_raw(&mut r, t0, 0.0, 5.0, 8000.0, 9000.0);
        assert_eq!(
            r.target_kbps(),
            6800,
            "the lower of the two: 0.85 of 8 Mbit/s"
        );
        // The link falls to 1 Mbit/s: the estimator's figure says so at once, the average lags.
        let now = t0 + secs(5.1);
        r.on_raw_estimate(now, 1000.0);
        assert_eq!(r.target_kbps(), 850, "the fall followed at once");
        r.on_estimate(t0 + secs(5.2), 6000.0);
        assert_eq!(
            r.target_kbps(),
            850,
            "a lagging average does not undo the cut"
        );
        // The estimator overshoots while it feels for the link: the average holds the target.
        drive_raw(&mut r, t0, 5.2, 7.0, 1400.0, 1000.0);
        assert_eq!(r.target_kbps(), 850);
        // Events stop (nothing to probe) while the estimator climbs to 9 Mbit/s: after 2 s its
        // figure alone leads, and the target doubles a second towards 0.85 of it.
        for i in 1..=60 {
            r.on_raw_estimate(t0 + secs(7.0 + f64::from(i) * 0.25), 9000.0);
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
}
