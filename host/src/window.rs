//! A sliding window of event times, sans-IO (every call takes `now`): at most `max` events in
//! any `span`. Unlike a fixed window (a count reset on the second), it never lets `2 × max`
//! through around a boundary. The password throttle (5 checks in any second) and the session's
//! offer limit (8 offers in any 10 s) both count with it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The times of the last events, at most `max` of them, oldest first.
#[derive(Debug, Clone)]
pub struct SlidingWindow {
    times: VecDeque<Instant>,
    max: usize,
    span: Duration,
}

impl SlidingWindow {
    /// A window taking at most `max` events (at least one) in any `span`.
    pub fn new(max: usize, span: Duration) -> Self {
        let max = max.max(1);
        Self {
            times: VecDeque::with_capacity(max),
            max,
            span,
        }
    }

    /// How long until one more event fits at `now`: `None` when it fits now.
    pub fn wait(&self, now: Instant) -> Option<Duration> {
        if self.times.len() < self.max {
            return None;
        }
        let free_at = *self.times.front()? + self.span;
        (now < free_at).then(|| free_at - now)
    }

    /// Counts an event at `now` (the oldest is forgotten once `max` are kept). It does not
    /// check [`SlidingWindow::wait`]: a caller may count an event it let through anyway.
    pub fn record(&mut self, now: Instant) {
        if self.times.len() >= self.max {
            self.times.pop_front();
        }
        self.times.push_back(now);
    }

    /// Whether no event of the last `span` is left at `now` (the window can be dropped).
    pub fn is_idle(&self, now: Instant) -> bool {
        self.times
            .back()
            .is_none_or(|t| now.saturating_duration_since(*t) >= self.span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn never_more_than_max_in_any_span() {
        let mut w = SlidingWindow::new(3, ms(1000));
        let t0 = Instant::now();
        let mut taken = vec![];
        for at in [0, 900, 950, 990, 1010, 1500, 1899, 1900, 1950, 2000] {
            let now = t0 + ms(at);
            if w.wait(now).is_none() {
                w.record(now);
                taken.push(at);
            }
        }
        // A fixed window (a count reset each second) would take 1500 and 1899 as well: five
        // between 900 and 1899.
        assert_eq!(taken, [0, 900, 950, 1010, 1900, 1950]);
        assert_eq!(w.wait(t0 + ms(2000)), Some(ms(10)));
    }

    #[test]
    fn idle_once_the_newest_event_is_a_span_old() {
        let mut w = SlidingWindow::new(2, ms(100));
        let t0 = Instant::now();
        assert!(w.is_idle(t0));
        w.record(t0);
        w.record(t0 + ms(50));
        assert!(!w.is_idle(t0 + ms(149)));
        assert!(w.is_idle(t0 + ms(150)));
    }
}
