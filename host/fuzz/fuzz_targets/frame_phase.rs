//! Frame-phase reports: the playing page's frame lead (ms), as [`FramePhase::report`] takes
//! it from a `frame-phase` signaling message, and the capture thread taking the moves.
//!
//! Input: 9 bytes a report: an `f64` (little-endian, so NaN, infinities and subnormals come
//! up) and a byte whose bit 0 has the capture thread take the pending move after it.
//!
//! Checked beyond "no panic": a report is taken exactly when it is finite and within
//! −17 ms (a frame more than a period late) to 1000 ms; a move is finite, at most half a
//! period (8 ms) and never inside the dead band (0 or at least 0.5 ms); the pending move the
//! capture thread takes is never beyond one step (±8 ms) however many reports came, and the
//! counters count what happened.

#![no_main]

use std::time::{Duration, Instant};

use glint::phase::FramePhase;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let phase = FramePhase::default();
    let t = Instant::now() + Duration::from_secs(1);
    let (mut taken, mut shifts) = (0u64, 0u64);
    for chunk in data.chunks_exact(9) {
        let mut b = [0u8; 8];
        b.copy_from_slice(&chunk[..8]);
        let lead_ms = f64::from_le_bytes(b);
        let measurement = lead_ms.is_finite() && (-17.0..=1000.0).contains(&lead_ms);
        match phase.report(lead_ms) {
            Ok(step) => {
                assert!(measurement, "{lead_ms} taken");
                taken += 1;
                assert!(step.is_finite() && step.abs() <= 8.0, "{lead_ms} → {step}");
                assert!(step == 0.0 || step.abs() >= 0.5, "{lead_ms} → {step}");
            }
            Err(_) => assert!(!measurement, "{lead_ms} refused"),
        }
        if chunk[8] & 1 != 0 {
            let next = phase.shift(t);
            let moved = if next >= t { next - t } else { t - next };
            assert!(moved <= Duration::from_millis(8), "a move of {moved:?}");
            shifts += u64::from(next != t);
        }
    }
    assert!(phase.take_us().abs() <= 8000);
    assert_eq!(phase.reports.get(), taken);
    assert!(phase.shifts.get() >= shifts);
});
