//! The resolution ladder, sans-IO: when the rate the link carries cannot carry the screen's
//! pixels, the encoder codes a smaller picture ([`Scale::RUNGS`]: 1, 3/4, 1/2, 1/3 of each
//! side), which the page scales back up, and climbs back when the rate recovers.
//!
//! The picture is made smaller rather than the frame rate lower: fewer, larger frames sent
//! whole into a narrow link's queue overflowed it (a frame-rate ladder was tried and measured
//! worse at 400 kbit/s: `benches/RESULTS.md`), while a smaller picture makes every frame
//! smaller, including the floor that content such as scrolling text costs at any quantizer.
//!
//! Two rules step down, one steps up:
//! - **bits per pixel**: the target spread over the rung's pixels of a second
//!   ([`bits_per_pixel`]); under [`DOWN_BPP`] the picture is too coarse to read, so the ladder
//!   steps down at once, as far as it must;
//! - **over target**: an encoder that cannot get a frame under its share of the rate sends
//!   more than the link carries whatever it is told, which fills the queue and pulls the
//!   estimate down further; coding over [`OVER_SHARE`] × the target for [`OVER_FOR`] steps down
//!   one rung, and the ladder stays there at least [`HOLD_AFTER_OVER`];
//! - **up**: once a higher rung has had [`UP_BPP`] (above [`DOWN_BPP`]: hysteresis) for
//!   [`UP_AFTER`], the ladder climbs to the highest rung the target gives that. For
//!   [`YOUNG_FOR`] after its encode gets a new peer ([`Ladder::start`]), until it first
//!   reaches the full size, a ladder waits only [`UP_AFTER_YOUNG`]: a new peer's rate starts
//!   at 1 Mbit/s (640x360 at 720p60) and climbs at most twice a second, so the wait that keeps
//!   a settled rate from going to and fro over a line only held the first picture small. On
//!   loopback the full screen came 2.9 s after the first frame with it, 2.1 s without
//!   (`benches/first-frame.mjs`; one more reopen on the way, at 960x540).
//!
//! Each step reopens the encoder, which costs a keyframe (a few KiB at these rates).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::encode::Scale;

/// Bits per pixel under which the ladder steps down (720p60 under 1.66 Mbit/s).
pub(crate) const DOWN_BPP: f64 = 0.03;
/// Bits per pixel a higher rung needs before the ladder climbs to it (720p60 from 2.5 Mbit/s).
pub(crate) const UP_BPP: f64 = 0.045;
/// How long a higher rung must be affordable before the ladder climbs.
pub(crate) const UP_AFTER: Duration = Duration::from_secs(2);
/// [`UP_AFTER`] for a young ladder (see the module docs).
pub(crate) const UP_AFTER_YOUNG: Duration = Duration::from_millis(400);
/// A ladder is young this long after its encode got its first peer, until it first reaches
/// the full size or steps down for coding over target.
pub(crate) const YOUNG_FOR: Duration = Duration::from_secs(5);
/// Coding over this share of the target counts as over target.
pub(crate) const OVER_SHARE: f64 = 1.3;
/// How long the encoder must be over target before the ladder steps down for it.
pub(crate) const OVER_FOR: Duration = Duration::from_millis(1500);
/// After a step down for being over target, no climbing for this long.
pub(crate) const HOLD_AFTER_OVER: Duration = Duration::from_secs(10);
/// The window the encoder's output rate is measured over.
const METER: Duration = Duration::from_secs(1);

/// Why the ladder is on its rung.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RungReason {
    /// The top rung: the screen's own size.
    Full,
    /// The target is too low for the pixels of the rungs above.
    BitsPerPixel,
    /// The target is the configured rate (`--bitrate`, within 3 %), and that is too low for
    /// the pixels of the rungs above: the user's own cap, not the link. A rung taken for bits
    /// per pixel says which of the two it is as the target moves.
    ConfiguredRate,
    /// As [`RungReason::ConfiguredRate`], for the cap a viewer chose in its page's Quality
    /// menu (signaling `max-bitrate`).
    ViewerCap,
    /// The encoder coded over its target on the rung above.
    OverTarget,
    /// The rate affords a larger picture again, and the ladder waits to be sure of it before
    /// it climbs (`UP_AFTER`).
    Climbing,
}

impl RungReason {
    /// The name `/api/stats` and the overlay show.
    pub fn as_str(self) -> &'static str {
        match self {
            RungReason::Full => "full size",
            RungReason::BitsPerPixel => "rate too low for the pixels",
            RungReason::ConfiguredRate => "--bitrate too low for the pixels",
            RungReason::ViewerCap => "the viewer's quality choice",
            RungReason::OverTarget => "encoder over its target",
            RungReason::Climbing => "climbing back to a larger picture",
        }
    }
}

/// Bits per pixel: `kbps` over `pixels` at `fps` frames a second.
pub(crate) fn bits_per_pixel(kbps: f64, pixels: f64, fps: u32) -> f64 {
    kbps * 1000.0 / (pixels.max(1.0) * f64::from(fps.max(1)))
}

/// The ladder for one encode.
#[derive(Debug)]
pub(crate) struct Ladder {
    fps: u32,
    index: usize,
    reason: RungReason,
    /// Encoded frames of the last [`METER`]: (when, codec bit, bytes).
    coded: VecDeque<(Instant, u8, usize)>,
    /// Since when the encoder has been over target (continuously).
    over_since: Option<Instant>,
    /// Since when a higher rung has been affordable (continuously).
    up_since: Option<Instant>,
    /// No climbing before this instant.
    hold_until: Instant,
    /// When the rung last changed (the meter counts from then).
    changed_at: Instant,
    /// Until when the ladder is young (see the module docs): `None` once it is not.
    young_until: Option<Instant>,
}

impl Ladder {
    /// A ladder on its top rung for an encode at `fps` frames a second.
    pub(crate) fn new(now: Instant, fps: u32) -> Self {
        Self {
            fps: fps.max(1),
            index: 0,
            reason: RungReason::Full,
            coded: VecDeque::new(),
            over_since: None,
            up_since: None,
            hold_until: now,
            changed_at: now,
            young_until: None,
        }
    }

    /// The encode got its first peer at `now`: the ladder is young (see the module docs).
    pub(crate) fn start(&mut self, now: Instant) {
        self.young_until = Some(now + YOUNG_FOR);
    }

    /// The current rung: an index into [`Scale::RUNGS`].
    pub(crate) fn rung(&self) -> usize {
        self.index
    }

    pub(crate) fn reason(&self) -> RungReason {
        self.reason
    }

    /// A frame came out of the encoder: `bytes` of codec `codec_bit`, coded on `rung`.
    pub(crate) fn on_frame(&mut self, now: Instant, codec_bit: u8, bytes: usize, rung: usize) {
        if rung == self.index {
            self.coded.push_back((now, codec_bit, bytes));
        }
        self.trim(now);
    }

    fn trim(&mut self, now: Instant) {
        while self
            .coded
            .front()
            .is_some_and(|&(t, _, _)| now.saturating_duration_since(t) > METER)
        {
            self.coded.pop_front();
        }
    }

    /// The encoder's output over the last second, kbit/s (the larger codec's, when two are
    /// coded); `None` until a whole second on this rung has passed.
    fn coded_kbps(&mut self, now: Instant) -> Option<f64> {
        self.trim(now);
        if now.saturating_duration_since(self.changed_at) < METER + METER / 2 {
            return None;
        }
        let mut by_codec = [0usize; 8];
        for &(_, bit, bytes) in &self.coded {
            by_codec[bit.trailing_zeros().min(7) as usize] += bytes;
        }
        let max = by_codec.iter().copied().max().unwrap_or(0);
        Some(max as f64 * 8.0 / 1000.0 / METER.as_secs_f64())
    }

    fn step(&mut self, now: Instant, index: usize, reason: RungReason) {
        self.index = index;
        self.reason = if index == 0 { RungReason::Full } else { reason };
        if index == 0 || reason == RungReason::OverTarget {
            self.young_until = None;
        }
        self.changed_at = now;
        self.coded.clear();
        self.over_since = None;
        self.up_since = None;
    }

    /// Moves the rung by the rules of the module docs, as time passes or the rate moves.
    /// `target_kbps` is the encoder's target, `screen` the screen's size in pixels. Returns
    /// the new rung when it changed.
    /// `max_kbps` is the highest rate the tier's target may reach (the configured rate, or
    /// the cap of the viewer whose target is the tier's, `viewer_cap`): a target at it will
    /// not grow, so a higher rung needs only [`DOWN_BPP`] then (with `--bitrate 500` the
    /// hysteresis's 0.045 bits per pixel at 640x360 would be out of reach for good after one
    /// dip).
    pub(crate) fn update(
        &mut self,
        now: Instant,
        target_kbps: u32,
        (max_kbps, viewer_cap): (u32, bool),
        screen: (u32, u32),
    ) -> Option<usize> {
        let before = self.index;
        let target = f64::from(target_kbps);
        let pixels = f64::from(screen.0) * f64::from(screen.1);
        let fps = self.fps;
        let bpp = |i: usize| bits_per_pixel(target, pixels * Scale::RUNGS[i].area(), fps);
        let last = Scale::RUNGS.len() - 1;
        // Down, as far as bits per pixel must.
        let mut down = self.index;
        while down < last && bpp(down) < DOWN_BPP {
            down += 1;
        }
        // At the highest rate (within 3 %), the cap is the user's own (or the viewer's).
        let at_max = u64::from(target_kbps) * 100 >= u64::from(max_kbps) * 97;
        let rate_reason = match (at_max, viewer_cap) {
            (true, true) => RungReason::ViewerCap,
            (true, false) => RungReason::ConfiguredRate,
            (false, _) => RungReason::BitsPerPixel,
        };
        let rate_reasons = [
            RungReason::BitsPerPixel,
            RungReason::ConfiguredRate,
            RungReason::ViewerCap,
            RungReason::Climbing,
        ];
        if rate_reasons.contains(&self.reason) {
            self.reason = rate_reason;
        }
        if down > self.index {
            self.step(now, down, rate_reason);
            return Some(down);
        }
        // Down one for coding over target.
        let over = self
            .coded_kbps(now)
            .is_some_and(|coded| coded > target * OVER_SHARE);
        if !over {
            self.over_since = None;
        } else if self.index < last {
            let since = *self.over_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= OVER_FOR {
                self.step(now, self.index + 1, RungReason::OverTarget);
                self.hold_until = now + HOLD_AFTER_OVER;
                return Some(self.index);
            }
        }
        // Up, to the highest rung the target affords, once one has been affordable a while.
        let up_bpp = if at_max { DOWN_BPP } else { UP_BPP };
        let highest = (0..self.index).find(|&i| bpp(i) >= up_bpp);
        match highest {
            Some(up) if now >= self.hold_until && !over => {
                let since = *self.up_since.get_or_insert(now);
                let wait = match self.young_until {
                    Some(until) if now < until => UP_AFTER_YOUNG,
                    _ => UP_AFTER,
                };
                if now.saturating_duration_since(since) >= wait {
                    self.step(now, up, rate_reason);
                } else if rate_reasons.contains(&self.reason) {
                    // Not the rate that keeps it down now: it waits to climb.
                    self.reason = RungReason::Climbing;
                }
            }
            _ => self.up_since = None,
        }
        (self.index != before).then_some(self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCREEN: (u32, u32) = (1280, 720);

    /// Runs the ladder for `secs` at `target`, with an encoder coding `coded(rung)` kbit/s in
    /// 60 frames a second; returns the rung at the end.
    fn run(
        l: &mut Ladder,
        t: &mut Instant,
        secs: f64,
        target: u32,
        coded: impl Fn(usize) -> f64,
    ) -> usize {
        let end = *t + Duration::from_secs_f64(secs);
        while *t < end {
            *t += Duration::from_micros(16_667);
            let bytes = (coded(l.rung()) * 1000.0 / 8.0 / 60.0) as usize;
            l.on_frame(*t, 1, bytes, l.rung());
            l.update(*t, target, (8000, false), SCREEN);
        }
        l.rung()
    }

    #[test]
    fn a_narrow_link_gets_a_smaller_picture_at_once_and_a_wide_one_the_full_screen() {
        let mut t = Instant::now();
        let mut l = Ladder::new(t, 60);
        let follows = |_| 0.0;
        assert_eq!(run(&mut l, &mut t, 1.0, 8000, follows), 0, "8 Mbit/s: 720p");
        assert_eq!(l.reason(), RungReason::Full);
        // 0.85 × 2 Mbit/s: 0.031 bits per pixel at 720p60, still above the step down.
        assert_eq!(run(&mut l, &mut t, 1.0, 1700, follows), 0);
        assert_eq!(
            l.update(t, 1400, (8000, false), SCREEN),
            Some(1),
            "1.4 Mbit/s: 960x540"
        );
        assert_eq!(l.reason(), RungReason::BitsPerPixel);
        assert_eq!(
            l.update(t, 340, (8000, false), SCREEN),
            Some(3),
            "as far as it must at once"
        );
        // Hysteresis: 640x360 needs 0.045 bits per pixel (622 kbit/s) before it is taken.
        assert_eq!(run(&mut l, &mut t, 5.0, 600, follows), 3);
        // Back to the full screen in one climb, after UP_AFTER, once the rate allows; while it
        // waits the reason says so, not that the rate is too low.
        assert_eq!(
            run(&mut l, &mut t, 1.9, 8000, follows),
            3,
            "climbs only after 2 s"
        );
        assert_eq!(l.reason(), RungReason::Climbing);
        assert_eq!(run(&mut l, &mut t, 0.2, 8000, follows), 0);
        assert_eq!(l.reason(), RungReason::Full);
        // With --bitrate 500 the cap is the user's own, and the reason says so.
        assert_eq!(l.update(t, 500, (500, false), SCREEN), Some(2));
        assert_eq!(l.reason(), RungReason::ConfiguredRate);
        assert_eq!(l.reason().as_str(), "--bitrate too low for the pixels");
        // A viewer's own cap under --bitrate: the reason names the viewer's choice.
        let mut v = Ladder::new(t, 60);
        assert_eq!(v.update(t, 500, (500, true), SCREEN), Some(2));
        assert_eq!(v.reason().as_str(), "the viewer's quality choice");
        // Under its cap (the link's estimate), the rate is too low, not the choice.
        assert_eq!(v.update(t, 300, (500, true), SCREEN), Some(3));
        assert_eq!(v.reason(), RungReason::BitsPerPixel);
    }

    #[test]
    fn an_encoder_over_its_target_steps_down_one_and_stays_down_a_while() {
        let mut t = Instant::now();
        let mut l = Ladder::new(t, 60);
        // 3 Mbit/s affords 720p, but the content costs 5 Mbit/s at full size, 2.8 at 3/4.
        let content = |rung: usize| 5000.0 * Scale::RUNGS[rung].area();
        assert_eq!(
            run(&mut l, &mut t, 1.4, 3000, content),
            0,
            "not before 1.5 s"
        );
        assert_eq!(run(&mut l, &mut t, 2.0, 3000, content), 1);
        assert_eq!(l.reason(), RungReason::OverTarget);
        // At 3/4 it fits; the rate still affords 720p by bits per pixel, but the ladder holds.
        assert_eq!(run(&mut l, &mut t, 9.0, 3000, content), 1, "held");
        // A stuck encoder steps down one rung at a time, never past the last.
        let stuck = |_| 9000.0;
        assert_eq!(run(&mut l, &mut t, 30.0, 3000, stuck), 3);
    }

    #[test]
    fn at_the_configured_rate_a_higher_rung_needs_no_more_than_the_step_down_threshold() {
        // --bitrate 500: 640x360 at 0.036 bits per pixel; a dip to 412 steps down to 426x240.
        let mut t = Instant::now();
        let mut l = Ladder::new(t, 60);
        assert_eq!(l.update(t, 500, (500, false), SCREEN), Some(2));
        assert_eq!(l.update(t, 412, (500, false), SCREEN), Some(3));
        // Back at 500, the cap: 640x360 is taken again after UP_AFTER.
        for _ in 0..130 {
            t += Duration::from_micros(16_667);
            l.update(t, 500, (500, false), SCREEN);
        }
        assert_eq!(l.rung(), 2);
    }

    #[test]
    fn frames_of_an_earlier_rung_do_not_count_against_the_new_one() {
        let mut t = Instant::now();
        let mut l = Ladder::new(t, 60);
        l.update(t, 700, (8000, false), SCREEN);
        assert_eq!(l.rung(), 2);
        for _ in 0..120 {
            t += Duration::from_micros(16_667);
            l.on_frame(t, 1, 50_000, 0);
            l.update(t, 700, (8000, false), SCREEN);
        }
        assert_eq!(l.rung(), 2);
    }

    #[test]
    fn a_new_peers_ladder_climbs_sooner_until_it_first_reaches_the_full_size() {
        let mut t = Instant::now();
        let mut l = Ladder::new(t, 60);
        l.start(t);
        let follows = |_| 0.0;
        // The start's 850 kbit/s: 640x360; 1.5 Mbit/s affords 960x540 (0.048 bits per pixel).
        assert_eq!(l.update(t, 850, (8000, false), SCREEN), Some(2));
        assert_eq!(run(&mut l, &mut t, 0.3, 1500, follows), 2);
        assert_eq!(
            run(&mut l, &mut t, 0.15, 1500, follows),
            1,
            "not after UP_AFTER_YOUNG"
        );
        assert_eq!(run(&mut l, &mut t, 0.45, 2600, follows), 0);
        // Once at the full size it is young no more: the next climb waits UP_AFTER.
        assert_eq!(l.update(t, 850, (8000, false), SCREEN), Some(2));
        assert_eq!(run(&mut l, &mut t, 1.0, 2600, follows), 2);
        assert_eq!(run(&mut l, &mut t, 1.1, 2600, follows), 0);
        // Nor is a ladder whose encode did not just get a new peer.
        let mut old = Ladder::new(t, 60);
        assert_eq!(old.update(t, 850, (8000, false), SCREEN), Some(2));
        assert_eq!(run(&mut old, &mut t, 1.0, 2600, follows), 2);
    }
}
