//! Frame pacing at the core's rate without drift: deadlines are `start + n × period`, not
//! "last + period"; the thread sleeps to about a millisecond before a deadline, then spins.
//! A frame that is already late is run at once; when more than a whole period behind, the
//! missed deadlines are skipped (the clock jumps forward) rather than run back to back.

use std::time::{Duration, Instant};

/// Sleep until this long before the deadline, then spin (sleep overshoots by ~0.1–1 ms).
const SPIN: Duration = Duration::from_millis(1);

pub struct Pacer {
    period: Duration,
    next: Instant,
    /// Deadlines skipped because the loop fell more than a period behind.
    pub skipped: u64,
}

impl Pacer {
    pub fn new(fps: f64, now: Instant) -> Self {
        Self {
            period: Duration::from_secs_f64(1.0 / fps),
            next: now,
            skipped: 0,
        }
    }

    pub fn period(&self) -> Duration {
        self.period
    }

    /// Waits for the next deadline and returns it.
    pub fn wait(&mut self) -> Instant {
        let deadline = self.next;
        loop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let left = deadline - now;
            if left > SPIN {
                std::thread::sleep(left - SPIN);
            } else {
                std::hint::spin_loop();
            }
        }
        self.advance(Instant::now());
        deadline
    }

    /// Moves to the next deadline; when `now` is already past it by a period or more, skips
    /// ahead to the next deadline after `now`.
    /// Moves every later deadline by `by_us` microseconds (later when positive): the frame
    /// phase follows the player's display. Moves of more than a period are cut to one.
    pub fn shift(&mut self, by_us: i64) {
        let d = Duration::from_micros(by_us.unsigned_abs()).min(self.period);
        self.next = if by_us >= 0 {
            self.next + d
        } else {
            self.next.checked_sub(d).unwrap_or(self.next)
        };
    }

    pub fn advance(&mut self, now: Instant) {
        self.next += self.period;
        if now >= self.next + self.period {
            let behind = now.duration_since(self.next);
            let missed = (behind.as_nanos() / self.period.as_nanos().max(1)) as u32;
            self.skipped += u64::from(missed);
            self.next += self.period * missed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shift_moves_the_deadlines_and_keeps_the_period() {
        let t0 = Instant::now();
        let mut p = Pacer::new(60.0, t0);
        p.advance(t0);
        let before = p.next;
        p.shift(3_000);
        assert_eq!(p.next, before + Duration::from_millis(3));
        p.shift(-1_000_000); // cut to one period
        assert_eq!(p.next, before + Duration::from_millis(3) - p.period());
        let at = p.next;
        p.advance(at);
        assert_eq!(p.next, at + p.period());
    }

    #[test]
    fn deadlines_do_not_drift() {
        let t0 = Instant::now();
        let mut p = Pacer::new(60.0988, t0);
        for _ in 0..600 {
            let now = p.next;
            p.advance(now + Duration::from_micros(300)); // each frame a little late
        }
        let expected = t0 + p.period() * 600;
        let diff = p.next.max(expected) - p.next.min(expected);
        assert!(diff < Duration::from_micros(10), "drifted {diff:?}");
        assert_eq!(p.skipped, 0);
    }

    #[test]
    fn a_stall_skips_frames_instead_of_bursting() {
        let t0 = Instant::now();
        let mut p = Pacer::new(60.0, t0);
        // The loop stalls for 100 ms after the first frame.
        p.advance(t0 + Duration::from_millis(100));
        assert!(p.skipped >= 4, "skipped {}", p.skipped);
        assert!(p.next > t0 + Duration::from_millis(83));
        assert!(p.next <= t0 + Duration::from_millis(117));
    }

    #[test]
    fn wait_holds_the_period() {
        let mut p = Pacer::new(100.0, Instant::now());
        let a = p.wait();
        let b = p.wait();
        let c = p.wait();
        assert_eq!(b - a, Duration::from_millis(10));
        assert_eq!(c - b, Duration::from_millis(10));
    }
}
