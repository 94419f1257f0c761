//! The video rate one peer's link carries, sans-IO: the encoder target follows the send-side
//! bandwidth estimate (str0m's goog_cc port over transport-wide congestion control feedback,
//! draft-holmer-rmcat-transport-wide-cc-extensions-01).
//!
//! - The target is [`HEADROOM`] of the estimate (room for audio, RTX and header overhead);
//! - a lower estimate cuts the target at once; a higher one raises it by at most
//!   [`RAISE_PER_SECOND`] a second (a keyframe-sized jump into a queue is a freeze). The estimator
//!   itself rises slowly (AIMD) except after a probe measured the link, so this cap only bounds
//!   jumps; at 1.15 a second, as first planned, an open link took ~9 s to reach 8 Mbit/s from the
//!   start and 16 s to recover from 1 Mbit/s, on virtual time;
//! - an idle screen sends little, which says nothing about the link: while the peer's video (its
//!   encoded payloads, not the padding) is well under its target ([`IDLE_SHARE`]) and under what
//!   the estimate affords, the target follows the estimate but never below what it was when the
//!   screen went idle, if the picture had sent at that target before (a still spell neither loses
//!   the rate the link earned nor ratchets it up on the estimate's ups alone; a screen still from
//!   the start holds nothing, nor does a path found again after ICE lost one);
//! - after a collapse (one cut to under [`COLLAPSE_SHARE`] of the target: the link fell under the
//!   picture), for [`HOLD_AFTER_COLLAPSE`] the target goes no lower than where the last lossy
//!   second (or the collapse) took it, unless the link loses packets again; above that it follows
//!   the estimate as always, down as well (the delay-based estimate still keeps the queue short).
//!   Once the link carries the new rate without loss, str0m's loss-based estimator (a port of
//!   libwebrtc's LossBasedBweV2) still has the burst of loss in its window (15 observations of at
//!   least 250 ms) for ~5 s: while the window's byte-weighted loss is over 20 % its bandwidth bias
//!   favours lower candidates, so it slides ~5 % a step, and it may not rise while that loss is
//!   above its inherent-loss estimate. After 10 → 1 Mbit/s that took the target to 154 kbit/s on a
//!   lossless link on virtual time, with a delay-based estimate of 1.2 Mbit/s; the picture now
//!   keeps the rate the link just carried until the estimator lets go of the burst;
//! - a collapse is also seen before the estimator sees it: str0m's estimate took ~0.9 s to fall
//!   after 10 → 1 Mbit/s (one delay-based cut to 0.85 of a lagging acknowledged rate, then
//!   loss-based steps), while every frame in between was mostly lost and the burst of loss kept its
//!   loss-based half near its floor for the rest of the run. The share of packets lost over the
//!   last second (TWCC) is sampled every [`super::RTC_STATS_INTERVAL`]; from two samples the share
//!   among the newest packets follows ([`loss::newest_loss`]). When at least [`FAST_COLLAPSE_LOSS`]
//!   of them, and [`FAST_COLLAPSE_PACKETS`] or more, were lost, and [`FAST_COLLAPSE_SECOND`] of the
//!   whole second (not a short burst), what got through (the rate sent since the last sample × the
//!   share not lost) is the link: the target is cut to [`HEADROOM`] of it at once (never more than
//!   [`MAX_FAST_CUT`] times lower), and stays under that until the estimator says as little or
//!   [`FAST_CAP_FOR`] has passed. Only a fall to under [`COLLAPSE_SHARE`] of the target counts
//!   (random loss of a few percent never comes near). At a sample where the estimator's own figure
//!   fell to under half the lower quartile of its figures (its delay-based half saw the queue
//!   build) while [`FELL_COLLAPSE_LOSS`] of the newest packets were lost, that is the collapse too:
//!   the loss reported then still lags the fall (on the link bench 8 % of the second, 31 % of the
//!   newest, 156 ms after 10 → 1 Mbit/s, with the figure down from 9 to 2.6 Mbit/s), so what got
//!   through is not known and the cut is the deepest ([`MAX_FAST_CUT`] under what the fallen figure
//!   affords); the loss alone showed it a sample (250 ms) later. Between samples, a fall from a
//!   clear link is seen from each TWCC feedback (`feedback.rs`);
//! - the target follows the lower of the estimator's current figure and the lower quartile of its
//!   figures over the last [`FIGURES_OVER`] (sampled every [`super::RTC_STATS_INTERVAL`]; a fall to
//!   under half the quartile starts them over): a fall is followed at once, a rise once the
//!   estimator has held it for three quarters of the window. A figure of [`PROBE_JUMP`] times the
//!   quartile or more is a probe's result, which leads at once ([`RateControl::follow`]). A
//!   quartile, not a mean: a probe's figure of 15 Mbit/s held for 0.75 s on a 4.5 Mbit/s link moved
//!   a 3 s mean to 7.5 Mbit/s, over the link (a 3 s freeze on the link bench), and the quartile not
//!   at all; where the estimator saws around a link's edge (AIMD up, a cut when it overshoots) the
//!   median still took the target over a 2 Mbit/s link on virtual time, and the lower quartile
//!   follows the saw's lows. str0m's own estimate events are no help there: they average the
//!   distinct figures of its last 3 s however long each lasted, so one probe's figure among two
//!   moved them halfway, and they stop while the link cannot be probed; they stand in only while no
//!   figure is sampled;
//! - a probe can be wrong: a router's large token bucket lets its burst through at the wire's
//!   speed, and str0m then measured 8–16 Mbit/s on a 5 Mbit/s link; the target climbed over the
//!   link and the picture froze for up to 3 s (a frame lost in the overflow, and the page asked for
//!   a keyframe only after that long). So for [`PROBE_TRUSTED_AFTER`] after a probe's result leads,
//!   the climb is checked: when the newest packets (from the sample after the one it began in: the
//!   packets before went out before it) lose [`PROBE_FAILED_LOSS`] more than the last second did
//!   when the lead began, the lead has failed ([`LossRun::FailedLead`]: the caller sends a
//!   keyframe). The target goes back to where it was when the lead began and stays under that for
//!   [`FAILED_LEAD_HOLD`] (the estimator still says the probe's figure until it sees the loss), and
//!   no probe's result leads again for [`DISTRUST_PROBES`] (doubled after each failed lead, up to
//!   [`DISTRUST_PROBES_MAX`]; back to the first after a lead the link carried). A lead the link
//!   carried goes on while the figure stays over the quartile (which catches up); a new probe's
//!   figure on top of it is checked again;
//! - when a link that came down may have opened again (the target under half of what it carried
//!   lately, and for a while no loss and no queue), the peer asks str0m for a probe
//!   ([`RateControl::desired_kbps`], `recovery.rs`; not while a collapse is held or probes are
//!   distrusted, unless the link looks opened: clear for `recovery::LONG_CLEAR`, which also ends
//!   the distrust); that probe's result leads from a smaller jump (any rise of
//!   `recovery::OPENED_JUMP` while the link looks opened, or climbs on a clear link after an asked
//!   probe found room), and after any probe the target climbs [`RAISE_BACK_TO_CARRIED`] a second
//!   back to what the link carried. After 10 → 1 → 10 Mbit/s on virtual time the target was back at
//!   7.6 Mbit/s in a median 7.3 s (6.4–14.4) instead of 13.3 s (12.6 to over 20);
//! - any other run of loss that large ([`PROBE_FAILED_LOSS`] over the last second's share, and
//!   [`FAST_COLLAPSE_PACKETS`] or more) is a [`LossRun::Burst`]: the caller sends a keyframe (at
//!   most one every [`BURST_KEYFRAME_EVERY`]), since a frame lost in it can leave the page frozen
//!   until its own keyframe request, 3 s later in Chromium;
//! - the estimator is fed padding up to a little above what it currently says
//!   ([`RateControl::padding_kbps`]), so an app-limited sender keeps measuring the link; at 0.9 of
//!   the configured rate and above nothing is padded;
//! - the target stays within `[min, max]` (`max` is `--bitrate`).

use std::time::{Duration, Instant};

mod audio;
mod feedback;
mod loss;
mod recovery;
pub(crate) use audio::{audio_kbps_for, AUDIO_PAIRED_UNDER_KBPS, AUDIO_RAISE_AFTER};
#[cfg(test)]
use loss::newest_loss;
pub(crate) use loss::{LossRun, RESEND_SHARE};
use recovery::RecoveryProbes;

/// Share of the estimate the encoder targets.
pub(crate) const HEADROOM: f64 = 0.85;
/// Largest rise of the target per second (×2).
pub(crate) const RAISE_PER_SECOND: f64 = 2.0;
/// Largest rise of the target per second while a probe's result leads it back to what the
/// link carried lately (`recovery.rs`): ×4. Not above that, nor on a link that never carried
/// more: on virtual time the start's probes then took 2 Mbit/s links into a collapse.
pub(crate) const RAISE_BACK_TO_CARRIED: f64 = 4.0;
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
/// A cut to under this share of the target is a collapse (see the module docs).
pub(crate) const COLLAPSE_SHARE: f64 = 0.5;
/// After a collapse, the target goes under its floor (see the module docs) only while the
/// link loses packets, for this long: the loss-based estimator took ~5 s to let go of the
/// burst on virtual time.
pub(crate) const HOLD_AFTER_COLLAPSE: Duration = Duration::from_secs(8);
/// A second with at most this share of packets lost is lossless (str0m's TWCC figure).
pub(crate) const LOSSLESS: f64 = 0.02;
/// The estimator's figure at this multiple of the lower quartile of its figures
/// ([`FIGURES_OVER`]) or more is a probe's result, which the target follows (still at most
/// [`RAISE_PER_SECOND`]) at once: after 10 → 1 → 10 Mbit/s the estimate said 9 Mbit/s ~4 s
/// after the lift, and the target, following str0m's averaged events, took 5 s more to reach
/// the configured rate.
pub(crate) const PROBE_JUMP: f64 = 2.0;
/// The window of the estimator's figures whose lower quartile the target follows (module docs).
pub(crate) const FIGURES_OVER: Duration = Duration::from_secs(3);
/// A probe's lead fails when the share of the newest packets lost is this much over the last
/// second's when the lead began (random loss of 5 % varies by ~2 % a quarter of a second at
/// 5 Mbit/s; a target 10 % over the link loses about that once the queue is full).
pub(crate) const PROBE_FAILED_LOSS: f64 = 0.08;
/// The fewest newest packets lost for a probe's lead to fail.
pub(crate) const PROBE_FAILED_PACKETS: f64 = 3.0;
/// After a failed lead, the target stays under where it was when the lead began this long.
pub(crate) const FAILED_LEAD_HOLD: Duration = Duration::from_secs(3);
/// Runs of loss outside a lead or a collapse ask for a keyframe at most this often.
pub(crate) const BURST_KEYFRAME_EVERY: Duration = Duration::from_secs(2);
/// After a failed lead, probe results do not lead for this long at first.
pub(crate) const DISTRUST_PROBES: Duration = Duration::from_secs(20);
/// The longest a failed lead's distrust grows to (doubling).
pub(crate) const DISTRUST_PROBES_MAX: Duration = Duration::from_secs(160);
/// A lead that lasted this long without failing was the link's: distrust starts over.
pub(crate) const PROBE_TRUSTED_AFTER: Duration = Duration::from_secs(3);
/// A share of the newest packets lost at or above this is a collapse seen at once (module docs).
pub(crate) const FAST_COLLAPSE_LOSS: f64 = 0.5;
/// The least share of the whole last second's packets lost for a collapse seen at once: a
/// link that fell under the picture loses most of every sample until the cut, where a short
/// burst (a probe through a router's large token bucket, which lets ~30 KiB through at the
/// wire's speed and then drops a run of packets) leaves the second at a few percent. On a
/// steady 5 Mbit/s link behind such a bucket the newest packets' share alone cut the target
/// from 3253 to 596 kbit/s with 6.5 % of the second lost.
pub(crate) const FAST_COLLAPSE_SECOND: f64 = 0.2;
/// The fewest packets lost among the newest for a collapse seen at once: at a few hundred
/// kbit/s (a few packets per sample) two or three lost by chance would look like one.
pub(crate) const FAST_COLLAPSE_PACKETS: f64 = 10.0;
/// The least share of the newest packets lost for a collapse seen by the estimator's fall: at
/// a sample where its figure fell to under half the lower quartile of its figures (its
/// delay-based half saw a queue build), this share lost is a collapse too, though the loss
/// the link reports still lags the fall (module docs).
pub(crate) const FELL_COLLAPSE_LOSS: f64 = 0.2;
/// After a collapse seen at once, the target stays under what got through at most this long,
/// unless the estimator says as little sooner.
pub(crate) const FAST_CAP_FOR: Duration = Duration::from_secs(2);
/// A collapse seen at once cuts the target by at most this factor (see `on_loss`).
pub(crate) const MAX_FAST_CUT: f64 = 10.0;
/// The lowest target, kbit/s: below it a picture is not legible.
pub(crate) const MIN_KBPS: u32 = 150;

/// Drops the figures of `window` (time, kbit/s; oldest first) older than `over` at `now`.
fn forget_older(
    window: &mut std::collections::VecDeque<(Instant, f64)>,
    now: Instant,
    over: Duration,
) {
    while window
        .front()
        .is_some_and(|&(t, _)| now.saturating_duration_since(t) > over)
    {
        window.pop_front();
    }
}

/// A probe's result leading the target (see [`RateControl::follow`]).
#[derive(Debug, Clone, Copy)]
struct Lead {
    /// Since when it is checked, the last second's loss share then and the target then.
    since: Instant,
    loss_before: f64,
    target_before: f64,
    /// The probe was asked for (`recovery.rs`).
    asked: bool,
    /// The check passed: the link carried it for [`PROBE_TRUSTED_AFTER`].
    carried: bool,
    /// The estimator's last figure while it leads, kbit/s.
    last_kbps: f64,
}

/// One peer's encoder target, in kbit/s.
#[derive(Debug, Clone)]
pub(crate) struct RateControl {
    min_kbps: f64,
    /// The highest target: the configured rate, or the viewer's own cap if lower.
    max_kbps: f64,
    /// The configured rate (`--bitrate`).
    configured_kbps: f64,
    target_kbps: f64,
    /// What the target follows (see [`RateControl::follow`]).
    estimate_kbps: Option<f64>,
    /// The last estimate event and when it came.
    event_kbps: Option<f64>,
    event_at: Instant,
    /// The estimator's last own figure and when it came.
    raw_kbps: Option<f64>,
    raw_at: Instant,
    /// The estimator's figures of the last [`FIGURES_OVER`], oldest first.
    raw_window: std::collections::VecDeque<(Instant, f64)>,
    sent_kbps: f64,
    /// While the screen is idle: the target when it went idle, which the target keeps.
    held_kbps: Option<f64>,
    /// The picture has sent at its target since the start (or the last [`Self::forget_hold`]):
    /// only such a target is held.
    earned: bool,
    /// The share of packets lost over the last second (TWCC).
    loss: f64,
    /// The share of the newest packets lost (since the sample before; [`loss::newest_loss`]).
    newest_loss: f64,
    /// A spell of loss: since when, and when a second last lost a share of its packets.
    lossy: Option<(Instant, Instant)>,
    /// The estimator's last figure fell to under half the lower quartile of its figures.
    fell: bool,
    /// After a collapse: the lowest target a lossy second took it to, and when it collapsed.
    collapse_floor: Option<(f64, Instant)>,
    /// The last loss sample: when, the share over the last second, the bytes sent until then.
    loss_sample: Option<(Instant, f64, u64)>,
    /// After a collapse seen at once: the target's cap (what got through), for
    /// [`FAST_CAP_FOR`] or until the estimator says as little.
    fast_cap: Option<Cap>,
    /// While a probe's result leads.
    probe_lead: Option<Lead>,
    /// After a failed lead: the target's cap (where it was when the lead began), for
    /// [`FAILED_LEAD_HOLD`].
    lead_cap: Option<Cap>,
    /// No probe's result leads until then (after a failed lead), and the next distrust's length.
    distrust_until: Option<Instant>,
    distrust_for: Duration,
    /// When the last [`LossRun::Burst`] was told.
    burst_at: Option<Instant>,
    feedback: feedback::Feedback,
    /// When to ask the estimator for a probe (`recovery.rs`).
    recovery: RecoveryProbes,
    /// An [`recovery::Ask::Restart`] the peer has not carried out yet: the estimate, kbit/s.
    restart: Option<f64>,
    last: Instant,
}

/// A ceiling on the target for a while, kbit/s: until `until`, or, with `lifts_under`, until
/// the estimate alone asks for no more than it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cap {
    pub(super) kbps: f64,
    pub(super) until: Instant,
    pub(super) lifts_under: bool,
}

impl Cap {
    /// `wanted` under the cap in `slot` at `now`; a cap that is over is taken out of `slot`.
    fn apply(slot: &mut Option<Cap>, now: Instant, wanted: f64) -> f64 {
        match *slot {
            Some(c) if now < c.until && !(c.lifts_under && wanted <= c.kbps) => wanted.min(c.kbps),
            Some(_) => {
                *slot = None;
                wanted
            }
            None => wanted,
        }
    }
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
            configured_kbps: max,
            target_kbps: f64::from(start_kbps).clamp(min, max),
            estimate_kbps: None,
            event_kbps: None,
            event_at: now,
            raw_kbps: None,
            raw_at: now,
            raw_window: std::collections::VecDeque::new(),
            sent_kbps: 0.0,
            held_kbps: None,
            earned: false,
            loss: 0.0,
            newest_loss: 0.0,
            lossy: None,
            fell: false,
            collapse_floor: None,
            loss_sample: None,
            fast_cap: None,
            probe_lead: None,
            lead_cap: None,
            distrust_until: None,
            distrust_for: DISTRUST_PROBES,
            burst_at: None,
            feedback: feedback::Feedback::default(),
            recovery: RecoveryProbes::default(),
            restart: None,
            last: now,
        }
    }

    /// The bandwidth estimate, kbit/s (str0m's estimate event: the distinct figures of the
    /// estimator's last 3 s averaged, told when that moves by 5 %); followed only while the
    /// estimator's own figure is not sampled (see [`RateControl::follow`]).
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
            self.recovery.on_estimate(now, kbps);
            // A fall to under half the quartile starts the window over: the rise that follows
            // is measured from there, not against the figures of the wider link before.
            self.fell = self.raw_quartile().is_some_and(|q| kbps < q / 2.0);
            if self.fell {
                self.raw_window.clear();
            }
            self.raw_window.push_back((now, kbps));
        }
        forget_older(&mut self.raw_window, now, FIGURES_OVER);
        self.follow(now);
    }

    /// The estimate the target follows: the lower of the estimator's current figure and the
    /// lower quartile of its figures over [`FIGURES_OVER`], so a fall is followed at once (an
    /// average crept down 5 % at a time on the link bench while a 10 → 1 Mbit/s step
    /// overflowed the queue) and a rise once held (the current figure overshoots the link while
    /// the estimator feels for it: 0.85 of it froze a 400 kbit/s link on virtual time). A
    /// current figure of [`PROBE_JUMP`] times the quartile or more is a probe's result, and
    /// leads at once unless a lead failed lately (see the module docs), and goes on leading
    /// while the figure is over the quartile, or at it on a clear link. Without a figure for
    /// [`STALE_ESTIMATE`], str0m's estimate event.
    fn follow(&mut self, now: Instant) {
        let raw = self
            .raw_kbps
            .filter(|_| now.saturating_duration_since(self.raw_at) < STALE_ESTIMATE);
        let event = self
            .event_kbps
            .filter(|_| now.saturating_duration_since(self.event_at) < STALE_ESTIMATE);
        let quartile = self.raw_quartile();
        self.trust_opened_link(now);
        let trusted = self.probes_trusted(now);
        let carried_now = self.probe_lead.as_mut().and_then(|lead| {
            let due =
                !lead.carried && now.saturating_duration_since(lead.since) >= PROBE_TRUSTED_AFTER;
            lead.carried |= due;
            due.then_some(lead.asked)
        });
        if let Some(asked) = carried_now {
            // The link carried it: probes are trusted again.
            self.distrust_for = DISTRUST_PROBES;
            if asked {
                self.recovery.carried();
            }
        }
        // A probe asked for lately reports at most about twice the estimate; on a link that
        // looks opened (or climbs after an asked probe found room), str0m's loss-based climb
        // rises 1.5 times a step at most.
        let jump = if self.recovery.rising(now, self.target_kbps) {
            recovery::OPENED_JUMP
        } else if self.recovery.awaiting(now) {
            recovery::ASKED_PROBE_JUMP
        } else {
            PROBE_JUMP
        };
        let leading = self.probe_lead.is_some();
        // On a clear link (no loss, no queue for `CLEAR_FOR`) a lead also goes on at the
        // quartile: str0m's figure stands still after a probe until the quartile has caught
        // up, and a lead that ended there left the climb after it 2–3 s behind the quartile
        // (on the link bench a lift's probe found 7466 kbit/s, str0m climbed to 10943 in
        // 5 s, and the target stood at 0.85 of 7466 for 4 s of it).
        let clear = self.recovery.clear_for(now) >= recovery::CLEAR_FOR;
        self.estimate_kbps = match (raw, quartile, event) {
            // AIMD cannot double the figure within the window: a probe measured the link. A
            // lead goes on while the figure is over the quartile (which catches up in
            // three quarters of the window); a new probe's figure on top of a lead the link
            // carried is checked again.
            (Some(r), Some(a), _)
                if trusted && (r >= a * jump || (leading && (r > a || (clear && r >= a)))) =>
            {
                let new = Lead {
                    since: now,
                    loss_before: self.loss,
                    target_before: self.target_kbps,
                    asked: self.recovery.awaiting(now),
                    carried: false,
                    last_kbps: r,
                };
                match &mut self.probe_lead {
                    Some(lead)
                        if lead.carried && r >= lead.last_kbps * recovery::ASKED_PROBE_JUMP =>
                    {
                        *lead = Lead {
                            asked: lead.asked || new.asked,
                            ..new
                        };
                    }
                    Some(lead) => lead.last_kbps = r,
                    None => self.probe_lead = Some(new),
                }
                Some(r)
            }
            (Some(r), Some(a), _) => {
                self.probe_lead = None;
                Some(r.min(a))
            }
            (Some(r), None, _) => Some(r),
            (None, _, Some(e)) => Some(e),
            (None, _, None) => self.estimate_kbps.or(self.event_kbps).or(self.raw_kbps),
        };
        self.update(now);
    }

    /// No failed lead distrusts probes now (see the module docs).
    fn probes_trusted(&self, now: Instant) -> bool {
        self.distrust_until.is_none_or(|until| now >= until)
    }

    /// The lower quartile of the estimator's figures in the window, kbit/s (sampled evenly:
    /// a figure held less than three quarters of the window does not raise it).
    fn raw_quartile(&self) -> Option<f64> {
        let mut figures: Vec<f64> = self.raw_window.iter().map(|&(_, k)| k).collect();
        figures.sort_by(f64::total_cmp);
        figures.get(figures.len().saturating_sub(1) / 4).copied()
    }

    /// The rate the peer's encoded video went out at lately (payloads only: no padding,
    /// retransmissions or headers), kbit/s.
    pub(crate) fn on_sent(&mut self, now: Instant, kbps: f64) {
        if kbps.is_finite() && kbps >= 0.0 {
            self.sent_kbps = kbps;
        }
        self.update(now);
    }

    /// Moves the target towards the estimate (see the module docs); call as time passes.
    /// Nothing holds it over the highest rate: an idle screen's or a collapse's hold kept from
    /// before a viewer's own cap is still under the cap.
    pub(crate) fn update(&mut self, now: Instant) {
        let dt = now
            .saturating_duration_since(self.last)
            .min(Duration::from_secs(5));
        self.last = now;
        if let Some(estimate) = self.estimate_kbps {
            self.toward(now, dt, estimate);
        }
        self.target_kbps = self.target_kbps.min(self.max_kbps);
    }

    /// [`Self::update`]'s step towards `estimate` (kbit/s), `dt` after the last one.
    fn toward(&mut self, now: Instant, dt: Duration, estimate: f64) {
        let mut wanted = (estimate * HEADROOM).clamp(self.min_kbps, self.max_kbps);
        for cap in [&mut self.fast_cap, &mut self.lead_cap] {
            wanted = Cap::apply(cap, now, wanted);
        }
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
            // A probe's lead climbs faster back to what the link carried lately.
            let proven = self.recovery.proven_kbps(now).unwrap_or(0.0);
            let raise = match self.probe_lead {
                Some(_) if self.target_kbps < proven => RAISE_BACK_TO_CARRIED,
                _ => RAISE_PER_SECOND,
            };
            let cap = self.target_kbps * raise.powf(dt.as_secs_f64());
            self.target_kbps = wanted.min(cap);
        }
    }

    /// The rate padding brings this peer's RTP up to, kbit/s: [`PAD_ABOVE_TARGET`] of the
    /// target the estimate affords (not of a held target: padded above one the estimate no
    /// longer affords, a still screen flooded a 2 Mbit/s link), so the estimator has traffic
    /// to measure while the screen is idle. None at the configured rate, nor while the estimate
    /// affords less than the floor ([`MIN_KBPS`]), nor under a collapse's cap
    /// ([`FAST_CAP_FOR`]) while the link still loses packets: padded to 1.25 × a cap near the
    /// narrow link's rate (952 kbit/s on 1 Mbit/s), its queue lost 20–60 % for 1.7 s.
    pub(crate) fn padding_kbps(&self) -> f64 {
        let collapsed = self.fast_cap.is_some_and(|c| self.last < c.until);
        if self.target_kbps >= self.max_kbps * 0.9 || (collapsed && self.loss > LOSSLESS) {
            return 0.0;
        }
        // Under the floor the picture alone sends more than the estimate: padding only added
        // loss (at 400 kbit/s with sound, ~35 padding packets a second, 911 drops in 15 s).
        if self
            .estimate_kbps
            .is_some_and(|e| e * HEADROOM < self.min_kbps)
        {
            return 0.0;
        }
        let affords = self
            .estimate_kbps
            .map_or(self.target_kbps, |e| (e * HEADROOM).min(self.target_kbps));
        (affords * PAD_ABOVE_TARGET).min(self.max_kbps)
    }

    /// A new path (ICE found one again): the target held for the old one is let go, and its
    /// round trips are forgotten.
    pub(crate) fn forget_hold(&mut self) {
        self.held_kbps = None;
        self.earned = false;
        self.recovery.forget();
    }

    /// The round trip, ms (str0m's, from TWCC feedback), sampled with the loss: whether the
    /// link has a queue (see `recovery.rs`).
    pub(crate) fn on_rtt(&mut self, now: Instant, rtt_ms: Option<f64>) {
        // A target a probe's result holds is not carried until its check passed: behind a
        // router's large token bucket probes measure over the link.
        let unchecked = self.probe_lead.is_some_and(|lead| !lead.carried);
        let target = (!unchecked).then_some(self.target_kbps);
        self.recovery
            .on_sample(now, rtt_ms, self.newest_loss, target);
    }

    /// The highest rate, kbit/s: the configured one, or the viewer's cap if lower.
    pub(crate) fn max_kbps(&self) -> f64 {
        self.max_kbps
    }

    /// Whether the viewer's own cap holds it under the configured rate.
    pub(crate) fn capped(&self) -> bool {
        self.max_kbps < self.configured_kbps
    }

    /// The viewer's own cap on its rate, kbit/s (`None`: the configured rate), as a data saver
    /// on a metered link: the target, str0m's desired rate (so no probe goes over it) and the
    /// padding follow it from `now`. Never under the floor nor over the configured rate.
    pub(crate) fn set_cap(&mut self, now: Instant, cap_kbps: Option<u32>) {
        self.max_kbps = cap_kbps.map_or(self.configured_kbps, |c| {
            f64::from(c).clamp(self.min_kbps, self.configured_kbps)
        });
        self.update(now);
    }

    /// The encoder target, kbit/s.
    pub(crate) fn target_kbps(&self) -> u32 {
        self.target_kbps.round() as u32
    }
}

#[cfg(test)]
mod tests;
