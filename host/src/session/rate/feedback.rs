//! A collapse seen from each transport-wide feedback (TWCC,
//! draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1), between str0m's loss samples.
//!
//! str0m tells its loss share only with its stats, every [`super::super::RTC_STATS_INTERVAL`]
//! (a finer stats timer changes its estimator, which it drives from every timeout). After
//! 10 → 1 Mbit/s on the link bench the first sample after the drop came at a random 0–250 ms;
//! one under ~200 ms had too little of the loss reported yet, and the collapse waited for the
//! next: seen 330–480 ms after the drop in half the runs, with the picture frozen until then.
//! The browser's feedback reports the loss ~100–150 ms after the drop, so each feedback's
//! statuses (reported, received) are counted here, over the last [`FEEDBACK_WINDOW`]: when
//! [`FAST_COLLAPSE_LOSS`] of [`FEEDBACK_PACKETS`] or more were lost, with
//! [`FAST_COLLAPSE_PACKETS`] or more lost, on a link the loss samples found clear for
//! [`CLEAR_BEFORE`] (a new peer's start, a probe's overshoot on a link already losing and random
//! loss are theirs to judge), that is the collapse. What got through is the rate sent at the last sample less the share lost; the
//! target is cut to [`FEEDBACK_CUT`] of it (the queue is full and the frames sent meanwhile
//! still go through it), never more than [`MAX_FEEDBACK_CUT`] times lower.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::FAST_COLLAPSE_PACKETS;
use super::{LossRun, RateControl, COLLAPSE_SHARE, FAST_COLLAPSE_LOSS};

/// The feedback counted for a collapse: the last this long of it.
const FEEDBACK_WINDOW: Duration = Duration::from_millis(200);
/// At most this many feedbacks are kept (Chromium sends one every 50–100 ms).
const FEEDBACKS_KEPT: usize = 64;
/// The fewest packets reported over [`FEEDBACK_WINDOW`] for a collapse.
const FEEDBACK_PACKETS: u32 = 20;
/// A fall is seen from the feedback only on a link the loss samples found clear this long.
const CLEAR_BEFORE: Duration = Duration::from_secs(2);
/// ... or until a sample at most this long ago.
const FALL_SEEN_FOR: Duration = Duration::from_millis(500);
/// The share of what got through the target is cut to.
const FEEDBACK_CUT: f64 = 0.6;
/// A collapse seen from the feedback cuts the target by at most this factor.
const MAX_FEEDBACK_CUT: f64 = 32.0;

/// The feedback of the last [`FEEDBACK_WINDOW`] and the rate sent at the last loss sample.
#[derive(Debug, Clone, Default)]
pub(super) struct Feedback {
    /// (when, packets reported, packets lost), oldest first.
    window: VecDeque<(Instant, u32, u32)>,
    /// The rate sent between the last two loss samples, kbit/s (every packet).
    pub(super) sent_kbps: f64,
    /// Since when the loss samples have found the link clear (under `LOSSY_FROM` lost).
    clear_since: Option<Instant>,
    /// When a sample first found loss after a clear spell of [`CLEAR_BEFORE`] or more.
    lossy_after_clear: Option<Instant>,
}

impl Feedback {
    /// A loss sample at `now`: whether it found the link `lossy`.
    pub(super) fn on_sample(&mut self, now: Instant, lossy: bool) {
        if !lossy {
            self.clear_since.get_or_insert(now);
        } else if let Some(since) = self.clear_since.take() {
            if now.saturating_duration_since(since) >= CLEAR_BEFORE {
                self.lossy_after_clear = Some(now);
            }
        }
    }

    /// The share of the window's packets lost, when that is a collapse's run of loss:
    /// [`FEEDBACK_PACKETS`] or more reported, [`FAST_COLLAPSE_LOSS`] of them and
    /// [`FAST_COLLAPSE_PACKETS`] or more lost.
    fn lost_most(&self) -> Option<f64> {
        let (reported, lost) = self
            .window
            .iter()
            .fold((0, 0), |(r, l), &(_, rr, ll)| (r + rr, l + ll));
        let share = f64::from(lost) / f64::from(reported.max(1));
        (reported >= FEEDBACK_PACKETS
            && f64::from(lost) >= FAST_COLLAPSE_PACKETS
            && share >= FAST_COLLAPSE_LOSS)
            .then_some(share)
    }

    /// Whether the link had been clear for [`CLEAR_BEFORE`] until now or until a sample at
    /// most [`FALL_SEEN_FOR`] ago (the first sample after a fall often finds some loss).
    fn fell_from_clear(&self, now: Instant) -> bool {
        self.sent_kbps > 0.0
            && (self
                .clear_since
                .is_some_and(|s| now.saturating_duration_since(s) >= CLEAR_BEFORE)
                || self
                    .lossy_after_clear
                    .is_some_and(|t| now.saturating_duration_since(t) <= FALL_SEEN_FOR))
    }
}

impl RateControl {
    /// Whether the last [`FEEDBACK_WINDOW`] of feedback lost most of its packets with no
    /// collapse taken for it (the link is falling: a keyframe now would only be lost too).
    pub(crate) fn losing_most(&self) -> bool {
        self.fast_cap.is_none() && self.feedback.lost_most().is_some()
    }

    /// One transport-wide feedback at `now`: `reported` packets' statuses, `received` of them
    /// received. Whether the link collapsed (see the module docs); the caller treats it as
    /// [`RateControl::on_loss`]'s collapse.
    pub(crate) fn on_feedback(
        &mut self,
        now: Instant,
        reported: u16,
        received: u16,
    ) -> Option<LossRun> {
        let fb = &mut self.feedback;
        let lost = u32::from(reported.saturating_sub(received));
        let newest = f64::from(lost) / f64::from(reported.max(1));
        fb.window.push_back((now, u32::from(reported), lost));
        // A browser sends a few a window; a flood of them is cut short.
        while fb.window.len() > FEEDBACKS_KEPT
            || fb
                .window
                .front()
                .is_some_and(|&(t, ..)| now.saturating_duration_since(t) > FEEDBACK_WINDOW)
        {
            fb.window.pop_front();
        }
        // Only a fall from a clear link (a new peer's start, a probe's overshoot and random
        // loss are the loss samples' to judge).
        let window_share = fb.lost_most().filter(|_| fb.fell_from_clear(now));
        let window_share = window_share.filter(|_| self.fast_cap.is_none())?;
        // The window's share is diluted by the packets sent before the fall: what got
        // through is taken at the worse of it and the newest feedback's.
        let share = window_share.max(newest);
        let floor = (self.target_kbps / MAX_FEEDBACK_CUT).max(self.min_kbps);
        let cap =
            (self.feedback.sent_kbps * (1.0 - share) * FEEDBACK_CUT).clamp(floor, self.max_kbps);
        if cap >= self.target_kbps * COLLAPSE_SHARE {
            return None;
        }
        tracing::debug!(
            lost_share = share,
            newest_reported = reported,
            sent_kbps = self.feedback.sent_kbps,
            target_kbps = self.target_kbps,
            cap_kbps = cap,
            "the link collapsed (seen from the feedback)"
        );
        self.cap_after_collapse(now, cap);
        self.feedback.window.clear();
        self.update(now);
        Some(LossRun::Collapse)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::tests::drive_raw_loss;
    use super::{LossRun, RateControl};

    /// Feedback every 50 ms from `from` to `to` seconds after `t0`: 40 packets reported each,
    /// `lost` of them lost. The runs it called for, with when.
    fn feedback(r: &mut RateControl, t0: Instant, from: f64, to: f64, lost: u16) -> Vec<f64> {
        let mut seen = Vec::new();
        let mut t = from;
        while t < to - 1e-9 {
            t += 0.05;
            if r.on_feedback(t0 + Duration::from_secs_f64(t), 40, 40 - lost)
                == Some(LossRun::Collapse)
            {
                seen.push(t);
            }
        }
        seen
    }

    /// 10 → 1 Mbit/s under an 8 Mbit/s picture on a link clear for seconds: the feedback that
    /// reports seven in eight packets lost is the collapse, before the next loss sample, and
    /// the target is cut under what got through. A sample that found the fall's first loss
    /// does not hide it.
    #[test]
    fn a_fall_from_a_clear_link_is_a_collapse_at_the_feedback() {
        for first_sample_lossy in [false, true] {
            let t0 = Instant::now();
            let mut r = RateControl::new(t0, 1000, 8000);
            let mut bytes = 0;
            assert_eq!(
                drive_raw_loss(&mut r, t0, &mut bytes, 0.0, 8.0, 9000.0, 0.0),
                []
            );
            assert_eq!(feedback(&mut r, t0, 8.0, 8.05, 0), Vec::<f64>::new());
            if first_sample_lossy {
                drive_raw_loss(&mut r, t0, &mut bytes, 8.0, 8.25, 9000.0, 0.1);
            }
            let from = if first_sample_lossy { 8.25 } else { 8.05 };
            let seen = feedback(&mut r, t0, from, from + 0.15, 35);
            assert_eq!(seen.len(), 1, "{first_sample_lossy}: {seen:?}");
            let target = r.target_kbps();
            // 7650 sent, 7/8 lost: 956 got through, 0.6 of it.
            assert!(
                (500..=600).contains(&target),
                "{first_sample_lossy}: {target}"
            );
        }
    }

    /// The same feedback on a link that was not clear before (a new peer's start over its
    /// link, a probe's overshoot on a link losing packets, random loss) is left to the loss
    /// samples; so is loss too small to be a fall.
    #[test]
    fn loss_on_a_link_that_was_not_clear_is_left_to_the_samples() {
        let t0 = Instant::now();
        // The start: no loss sample yet.
        let mut r = RateControl::new(t0, 1000, 8000);
        assert_eq!(feedback(&mut r, t0, 0.0, 0.3, 35), Vec::<f64>::new());
        // A link losing 10 % for seconds.
        let mut r = RateControl::new(t0, 1000, 8000);
        let mut bytes = 0;
        drive_raw_loss(&mut r, t0, &mut bytes, 0.0, 8.0, 9000.0, 0.1);
        assert_eq!(feedback(&mut r, t0, 8.0, 8.3, 35), Vec::<f64>::new());
        // A clear link losing a third of a few feedbacks' packets: no fall.
        let mut r = RateControl::new(t0, 1000, 8000);
        drive_raw_loss(&mut r, t0, &mut bytes, 0.0, 8.0, 9000.0, 0.0);
        assert_eq!(feedback(&mut r, t0, 8.0, 8.2, 13), Vec::<f64>::new());
        assert_eq!(r.target_kbps(), 7650);
        // A flood of feedbacks that each lose nothing keeps a bounded window.
        for i in 0..10_000 {
            r.on_feedback(
                t0 + Duration::from_secs(9) + Duration::from_micros(i),
                40,
                40,
            );
        }
        assert!(r.feedback.window.len() <= super::FEEDBACKS_KEPT);
    }
}
