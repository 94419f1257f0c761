//! Quality tiers, sans-IO: viewers on different links share one session without dragging
//! each other down. Each frame is encoded once per tier (at most [`MAX_TIERS`], like an SFU's
//! simulcast layers or neko's pipelines), each tier at its own rate and rung of the resolution
//! ladder; every peer receives the tier its own link carries.
//!
//! Peers are grouped by their targets ([`group`]): the fastest peer opens tier 0, and a peer
//! joins the tier above it while its target is at least [`JOIN_SHARE`] of that tier's fastest
//! peer's, or stays in it down to [`STAY_SHARE`] when it already shares that peer's tier
//! (hysteresis: real estimates wobble by a tenth or more, and a target wobbling around one
//! boundary moved a peer to and fro at every regrouping); else it opens the next tier (the
//! last tier takes everyone left). The peers in control are placed first: a viewer left over
//! never drags a controller's tier down, and the encode thread codes the first controller's
//! tier before the others. A tier's rate is
//! the lowest target among its peers, so no peer gets more than its link carries. A 400 kbit/s
//! viewer joining a 50 Mbit/s one opens its own tier; two viewers on similar links share one
//! encode. A peer that changes tier gets a keyframe of its new tier before any other frame of
//! it; regrouping (other than for a peer joining or leaving) waits [`REGROUP_AFTER`] after the
//! previous one, so targets wobbling around a boundary do not cost a keyframe each time.
//!
//! A peer moves up to a faster tier only when its [`Sustained`] target, the lowest of the last
//! [`SUSTAINED_OVER`], would share it ([`group_sustained`]): a rise moves it up once its link
//! has held it; a fall moves it down at once. Grouped by the target of the moment, two viewers
//! behind 5 Mbit/s (whose estimates saw between ~2 and ~5 Mbit/s) joined the fast viewers'
//! tier at each peak, as the estimator overshot their link, and left it three seconds later at
//! the fall: 4 to 20 moves a minute, each a keyframe, on virtual time with link delays a
//! fraction of a millisecond apart (`benches/RESULTS.md`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::ladder::Ladder;
pub(crate) use crate::encode::MAX_TIERS;

/// A peer shares the tier above it while its target is at least this share of that tier's
/// fastest peer's target (the fast peer then loses at most 40 % of its rate to the slow one).
pub(crate) const JOIN_SHARE: f64 = 0.6;
/// A peer already in the tier of that tier's fastest peer stays while its target is at least
/// this share of that peer's.
pub(crate) const STAY_SHARE: f64 = 0.45;
/// A peer held under its link by its own cap (the page's Quality choice) shares a faster tier
/// only while its target is at least this share of that tier's fastest peer's: a viewer that
/// chose less costs the others at most a tenth, not the [`STAY_SHARE`] a slower link may (a
/// cap of 5 of 8 Mbit/s took the other viewers' tier to 5).
pub(crate) const CAPPED_SHARE: f64 = 0.9;
/// The least time between two regroupings that no peer joining or leaving asked for.
pub(crate) const REGROUP_AFTER: Duration = Duration::from_secs(3);
/// A peer is grouped by the lowest of its targets over this long.
pub(crate) const SUSTAINED_OVER: Duration = Duration::from_secs(8);

/// The lowest of one peer's targets over the last [`SUSTAINED_OVER`], kbit/s, once its
/// target has stopped climbing from its start (a fall, or no rise for [`SETTLED_AFTER`]): a
/// new peer climbing to the rate of the peers already there joins their tier as it reaches it
/// (and does not keep an encode of its own for the window's length).
#[derive(Debug, Default)]
pub(crate) struct Sustained {
    /// Each target as it was set: (when, kbit/s), oldest first; the first one may be older
    /// than the window (it held at the window's start).
    set: VecDeque<(Instant, u32)>,
    /// While the target climbs from its start: when it last rose, and to what.
    climb: Option<(Instant, u32)>,
    settled: bool,
}

/// A target that has not risen for this long has stopped climbing from its start.
pub(crate) const SETTLED_AFTER: Duration = Duration::from_secs(1);

impl Sustained {
    /// The target is `kbps` at `now`.
    pub(crate) fn record(&mut self, now: Instant, kbps: u32) {
        if !self.settled {
            match self.climb {
                Some((at, k))
                    if kbps < k
                        || (kbps == k && now.saturating_duration_since(at) >= SETTLED_AFTER) =>
                {
                    self.settled = true;
                }
                Some((_, k)) if kbps == k => return,
                _ => {
                    self.climb = Some((now, kbps));
                    return;
                }
            }
        }
        if self.set.back().is_none_or(|&(_, k)| k != kbps) {
            self.set.push_back((now, kbps));
        }
        // The oldest is dropped once the one after it held from before the window.
        while self.set.len() > 1
            && self
                .set
                .get(1)
                .is_some_and(|&(t, _)| now.saturating_duration_since(t) >= SUSTAINED_OVER)
        {
            self.set.pop_front();
        }
    }

    /// The lowest target of the window (`None` while the target climbs from its start).
    pub(crate) fn floor(&self) -> Option<u32> {
        self.set.iter().map(|&(_, k)| k).min()
    }
}

/// Each peer's tier (0 the highest, below [`MAX_TIERS`]), by the rule of the module docs.
/// `targets` are the peers' targets in kbit/s, in any order; `priority` says which peers are
/// in control and `current` each one's tier now ([`MAX_TIERS`] or more: none yet), in the same
/// order. Controllers are placed first, so no viewer outside control ever makes a
/// controller's tier drop under [`STAY_SHARE`] of the controller's own target: a viewer that
/// finds no tier it can share and no tier left to open goes to the slowest tier
/// without a controller, if any (else the slowest). The result is in `targets`' order.
#[cfg(test)]
pub(crate) fn group(targets: &[u32], priority: &[bool], current: &[usize]) -> Vec<usize> {
    group_sustained(targets, &[], priority, &[], current)
}

/// [`group`], where a peer moves up to a tier faster than its current one only when its
/// `floors` figure ([`Sustained::floor`], in `targets`' order; its target where missing)
/// shares that tier too, and a peer `capped` by its own choice shares one only at
/// [`CAPPED_SHARE`] (both in `targets`' order; missing: no).
pub(crate) fn group_sustained(
    targets: &[u32],
    floors: &[u32],
    priority: &[bool],
    capped: &[bool],
    current: &[usize],
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..targets.len()).collect();
    let first = |i: usize| priority.get(i).copied().unwrap_or(false);
    let now_in = |i: usize| current.get(i).copied().filter(|&t| t < MAX_TIERS);
    order.sort_by(|&a, &b| {
        first(b)
            .cmp(&first(a))
            .then(targets[b].cmp(&targets[a]))
            .then(a.cmp(&b))
    });
    // Per tier as made: its fastest and slowest targets, whether it holds a controller, and
    // the tier its first peer is in now.
    let mut tiers: Vec<(u32, u32, bool, Option<usize>)> = Vec::new();
    let mut of = vec![0usize; targets.len()];
    for i in order {
        let t = targets[i];
        let shares = |&(hi, lo, _, origin): &(u32, u32, bool, Option<usize>)| {
            let share = if capped.get(i).copied().unwrap_or(false) {
                CAPPED_SHARE
            } else if origin.is_some() && origin == now_in(i) {
                STAY_SHARE
            } else {
                JOIN_SHARE
            };
            // Up to a faster tier, by the lowest target of its window.
            let up = matches!((origin, now_in(i)), (Some(o), Some(c)) if o < c);
            let t = if up {
                floors.get(i).map_or(t, |&f| f.min(t))
            } else {
                t
            };
            f64::from(t.min(lo)) >= f64::from(t.max(hi)) * share
        };
        let slowest = |controls: bool| {
            (0..tiers.len())
                .filter(|&k| controls || !tiers[k].2)
                .min_by_key(|&k| tiers[k].0)
        };
        let pick = if let Some(k) = tiers.iter().position(shares) {
            k
        } else if tiers.len() < MAX_TIERS {
            tiers.push((t, t, false, now_in(i)));
            tiers.len() - 1
        } else {
            slowest(false).or(slowest(true)).unwrap_or(0)
        };
        let tier = &mut tiers[pick];
        *tier = (tier.0.max(t), tier.1.min(t), tier.2 || first(i), tier.3);
        of[i] = pick;
    }
    // Tier 0 is the fastest.
    let mut rank: Vec<usize> = (0..tiers.len()).collect();
    rank.sort_by(|&a, &b| tiers[b].0.cmp(&tiers[a].0).then(a.cmp(&b)));
    let mut index = vec![0; tiers.len()];
    for (r, &k) in rank.iter().enumerate() {
        index[k] = r;
    }
    of.iter().map(|&k| index[k]).collect()
}

/// One tier's encode, as last told to the encode thread.
#[derive(Debug)]
pub(crate) struct Tier {
    /// Its rate, kbit/s.
    pub(crate) rate_kbps: u32,
    /// The picture's size the rate carries.
    pub(crate) ladder: Ladder,
    /// Codecs its peers receive ([`crate::encode::Codec::bit`] mask).
    pub(crate) wanted: u8,
}

impl Tier {
    pub(crate) fn new(now: Instant, rate_kbps: u32, fps: u32) -> Self {
        Self {
            rate_kbps,
            ladder: Ladder::new(now, fps),
            wanted: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_peer_or_peers_on_similar_links_share_the_top_tier() {
        assert_eq!(group(&[], &[], &[]), Vec::<usize>::new());
        assert_eq!(group(&[8000], &[], &[]), [0]);
        assert_eq!(group(&[8000, 6000, 4800], &[], &[]), [0, 0, 0]);
    }

    #[test]
    fn a_slow_link_opens_a_lower_tier_and_never_pulls_the_fast_one_down() {
        // The 50 Mbit/s viewer's target is the configured 8 Mbit/s; the 1 Mbit/s one's 850.
        assert_eq!(group(&[850, 8000], &[], &[]), [1, 0]);
        assert_eq!(group(&[8000, 4700, 850, 340], &[], &[]), [0, 1, 2, 2]);
        // The last tier takes everyone left, at the slowest one's rate.
        assert_eq!(
            group(&[8000, 4000, 2000, 1000, 500], &[], &[]),
            [0, 1, 2, 2, 2]
        );
        // Each tier is measured against its own fastest peer.
        assert_eq!(group(&[8000, 4000, 2500], &[], &[]), [0, 1, 1]);
    }

    #[test]
    fn a_peer_under_its_own_cap_shares_a_faster_tier_only_near_its_rate() {
        // A viewer that chose 5 of 8 Mbit/s (or 3.7: under the stay share's reach) opens its
        // own tier, where a link carrying that much would share; at 0.9 it shares.
        let group_capped = |targets: &[u32], capped: &[bool], current: &[usize]| {
            group_sustained(targets, &[], &[], capped, current)
        };
        assert_eq!(group(&[8000, 5000], &[], &[0, 0]), [0, 0]);
        assert_eq!(group_capped(&[8000, 5000], &[false, true], &[0, 0]), [0, 1]);
        assert_eq!(group_capped(&[8000, 3700], &[false, true], &[0, 0]), [0, 1]);
        assert_eq!(group_capped(&[8000, 7300], &[false, true], &[0, 0]), [0, 0]);
        // A slower link still shares the capped viewer's tier, at its own rate.
        assert_eq!(
            group_capped(&[8000, 5000, 3500], &[false, true, false], &[]),
            [0, 1, 1]
        );
    }

    #[test]
    fn a_peer_sharing_a_tier_stays_while_its_target_wobbles_and_joins_only_at_the_join_share() {
        const NONE: usize = MAX_TIERS;
        // 0.55 of the fast peer: two tiers for peers new to them, one for peers in one tier.
        assert_eq!(group(&[8000, 4400], &[], &[NONE, NONE]), [0, 1]);
        assert_eq!(group(&[8000, 4400], &[], &[0, 0]), [0, 0]);
        // Apart, the slow one joins only at the join share.
        assert_eq!(group(&[8000, 4400], &[], &[0, 1]), [0, 1]);
        assert_eq!(group(&[8000, 4800], &[], &[0, 1]), [0, 0]);
        // Under the stay share it leaves.
        assert_eq!(group(&[8000, 3500], &[], &[0, 0]), [0, 1]);
        // The slow peer shares the tier as the fast one's tier: joining another counts anew.
        assert_eq!(group(&[8000, 4400, 4300], &[], &[1, 0, 0]), [0, 1, 1]);
    }

    #[test]
    fn a_viewer_left_over_never_drags_the_controllers_tier_down() {
        // Without priority the 500 kbit/s viewer would share the 2 Mbit/s controller's tier.
        let targets = [8000, 4000, 2000, 500];
        assert_eq!(group(&targets, &[], &[]), [0, 1, 2, 2]);
        assert_eq!(
            group(&targets, &[false, false, true, false], &[]),
            [0, 1, 2, 1]
        );
        // A controller on the slowest link still gets its own rate.
        assert_eq!(
            group(&targets, &[false, false, false, true], &[]),
            [0, 1, 1, 2]
        );
        // Every tier holds a controller: the last one takes the viewer.
        assert_eq!(
            group(&[8000, 4000, 2000, 500], &[true, true, true, false], &[]),
            [0, 1, 2, 2]
        );
    }

    #[test]
    fn a_peer_moves_up_by_its_lowest_target_of_the_window() {
        // 4800 of 8000 joins the tier above, unless its window holds 2000; it falls at once.
        assert_eq!(
            group_sustained(&[8000, 4800], &[8000, 2000], &[], &[], &[0, 1]),
            [0, 1]
        );
        assert_eq!(
            group_sustained(&[8000, 4800], &[8000, 4800], &[], &[], &[0, 1]),
            [0, 0]
        );
        assert_eq!(
            group_sustained(&[8000, 3000], &[8000, 3000], &[], &[], &[0, 0]),
            [0, 1]
        );
        // Staying is by its target of the moment (its window's low is behind it).
        assert_eq!(
            group_sustained(&[8000, 4400], &[8000, 2000], &[], &[], &[0, 0]),
            [0, 0]
        );
    }

    #[test]
    fn the_window_holds_the_lowest_target_once_the_start_has_climbed() {
        let t0 = Instant::now();
        let at = |s: f64| t0 + Duration::from_secs_f64(s);
        let mut sustained = Sustained::default();
        // The start's climb counts for nothing: a new peer joins the tier it reaches.
        for (i, k) in [850, 1200, 2400, 4800, 8000].into_iter().enumerate() {
            sustained.record(at(i as f64 * 0.25), k);
            assert_eq!(sustained.floor(), None);
        }
        sustained.record(at(1.5), 8000);
        assert_eq!(sustained.floor(), None, "not settled before SETTLED_AFTER");
        sustained.record(at(2.0), 8000);
        assert_eq!(sustained.floor(), Some(8000));
        // Then a fall counts at once, and a rise once the window no longer holds the fall.
        sustained.record(at(3.0), 2000);
        sustained.record(at(4.0), 4800);
        assert_eq!(sustained.floor(), Some(2000));
        sustained.record(at(11.9), 4800);
        assert_eq!(sustained.floor(), Some(2000));
        sustained.record(at(12.0), 4800);
        assert_eq!(sustained.floor(), Some(4800));
        // A climb that ends in a fall has settled too.
        let mut fell = Sustained::default();
        fell.record(at(0.0), 850);
        fell.record(at(0.25), 1200);
        fell.record(at(0.5), 900);
        assert_eq!(fell.floor(), Some(900));
    }
}
