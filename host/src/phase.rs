//! Frame phase: lines the capture tick up with the compositor of the page being played.
//!
//! A frame that reaches the page just after its compositor began a frame waits almost a whole
//! display period to be shown. Glint's 60 Hz tick and the page's 60 Hz compositor have an
//! arbitrary phase, so that wait varies from run to run (capture→display 14 to 31 ms p50 in
//! one measurement, with the same host and network times). The page of the player (the one
//! that sent input lately) reports, once a second, its *lead*: how long before the next
//! compositor frame its frames arrived (0 to one display period), at the 10th percentile. The capture thread then
//! moves its next tick by half of `lead − TARGET_LEAD`: frames arrive just in time, fresher by
//! the same amount. For a game the core process moves its frame clock instead.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::metrics::{Counter, Metrics};
use std::time::Duration;

/// The lead to converge to: margin for network and decode jitter.
pub const TARGET_LEAD_MS: f64 = 3.0;
/// Share of the error corrected per report (reports overlap the previous shift a little).
const GAIN: f64 = 0.5;
/// Largest single move: half a 60 Hz period.
const MAX_STEP_MS: f64 = 8.0;
/// A lead below this (a frame later than a whole period) is not a measurement.
const MAX_LATE_MS: f64 = 17.0;
/// A lead above this (a frame a second early) is not a measurement either.
const MAX_LEAD_MS: f64 = 1000.0;
/// Errors smaller than this are left alone.
const DEAD_BAND_MS: f64 = 0.5;

#[derive(Debug, Default)]
pub struct FramePhase {
    /// Shift the next tick by this much (µs, signed); taken by the capture thread.
    pending_us: AtomicI64,
    /// Reports taken, and shifts applied.
    pub reports: Counter,
    pub shifts: Counter,
}

impl FramePhase {
    /// A frame phase whose counters are registered in `m`.
    pub fn register(m: &mut Metrics) -> Self {
        Self {
            pending_us: AtomicI64::new(0),
            reports: m.counter(
                "frame_phase_reports",
                "Frame leads reported by the playing page",
            ),
            shifts: m.counter(
                "frame_phase_shifts",
                "Moves of the capture tick to the playing page's compositor phase",
            ),
        }
    }
}

impl FramePhase {
    /// A page's report of its 10th-percentile lead (ms; negative when frames came in just
    /// after the compositor frame began). Returns the move asked of the tick
    /// (ms; positive is later), or an error for a value no page can measure.
    pub fn report(&self, lead_ms: f64) -> Result<f64, String> {
        if !lead_ms.is_finite() || !(-MAX_LATE_MS..=MAX_LEAD_MS).contains(&lead_ms) {
            // Not echoed: 1e308 would come back as a 309-digit number.
            return Err(format!(
                "a frame lead outside -{MAX_LATE_MS}..={MAX_LEAD_MS} ms is not a measurement"
            ));
        }
        self.reports.inc();
        let step = ((lead_ms - TARGET_LEAD_MS) * GAIN).clamp(-MAX_STEP_MS, MAX_STEP_MS);
        if step.abs() < DEAD_BAND_MS {
            return Ok(0.0);
        }
        // Moves not yet applied add up to at most one step: a page that reports too often
        // cannot hold the tick back for longer.
        let (step_us, max_us) = ((step * 1000.0) as i64, (MAX_STEP_MS * 1000.0) as i64);
        let _ = self
            .pending_us
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                Some((p + step_us).clamp(-max_us, max_us))
            });
        Ok(step)
    }

    /// The pending move (µs, positive is later), once; 0 when there is none.
    pub fn take_us(&self) -> i64 {
        let us = self.pending_us.swap(0, Ordering::Relaxed);
        if us != 0 {
            self.shifts.inc();
        }
        us
    }

    /// For the capture thread: applies the pending move to the next tick, once.
    pub fn shift(&self, next: std::time::Instant) -> std::time::Instant {
        let us = self.take_us();
        if us == 0 {
            return next;
        }
        let d = Duration::from_micros(us.unsigned_abs());
        if us > 0 {
            next + d
        } else {
            next.checked_sub(d).unwrap_or(next)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_late_tick_moves_by_half_the_excess_lead() {
        let p = FramePhase::default();
        let t = Instant::now();
        assert_eq!(p.report(13.0), Ok(5.0));
        assert_eq!(p.shift(t), t + Duration::from_millis(5));
        assert_eq!(p.shift(t), t, "a move is applied once");
        // Too little lead, or frames just late: earlier. A huge lead: at most half a period.
        assert_eq!(p.report(1.0), Ok(-1.0));
        assert_eq!(p.report(-3.0), Ok(-3.0));
        assert_eq!(p.report(100.0), Ok(8.0));
        assert_eq!(p.shift(t), t + Duration::from_millis(4));
        // Near the target nothing moves.
        assert_eq!(p.report(3.4), Ok(0.0));
        assert_eq!(p.shift(t), t);
        assert_eq!(p.shifts.get(), 2);
    }

    #[test]
    fn a_flood_of_reports_moves_the_tick_by_one_step_at_most() {
        let p = FramePhase::default();
        let t = Instant::now();
        for _ in 0..10_000 {
            p.report(1000.0).expect("a lead");
        }
        assert_eq!(p.shift(t), t + Duration::from_millis(8));
    }

    #[test]
    fn nonsense_is_refused() {
        let p = FramePhase::default();
        for bad in [f64::NAN, f64::INFINITY, -20.0, 5000.0, 1e308] {
            let told = p.report(bad).expect_err("refused");
            assert!(
                told.len() < 80,
                "the page is told briefly, not an echo: {told}"
            );
        }
        assert_eq!(p.reports.get(), 0);
    }
}
