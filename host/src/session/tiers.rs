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

use std::time::{Duration, Instant};

use super::ladder::Ladder;
pub(crate) use crate::encode::MAX_TIERS;

/// A peer shares the tier above it while its target is at least this share of that tier's
/// fastest peer's target (the fast peer then loses at most 40 % of its rate to the slow one).
pub(crate) const JOIN_SHARE: f64 = 0.6;
/// A peer already in the tier of that tier's fastest peer stays while its target is at least
/// this share of that peer's.
pub(crate) const STAY_SHARE: f64 = 0.45;
/// The least time between two regroupings that no peer joining or leaving asked for.
pub(crate) const REGROUP_AFTER: Duration = Duration::from_secs(3);

/// Each peer's tier (0 the highest, below [`MAX_TIERS`]), by the rule of the module docs.
/// `targets` are the peers' targets in kbit/s, in any order; `priority` says which peers are
/// in control and `current` each one's tier now ([`MAX_TIERS`] or more: none yet), in the same
/// order. Controllers are placed first, so no viewer outside control ever makes a
/// controller's tier drop under [`STAY_SHARE`] of the controller's own target: a viewer that
/// finds no tier it can share and no tier left to open goes to the slowest tier
/// without a controller, if any (else the slowest). The result is in `targets`' order.
pub(crate) fn group(targets: &[u32], priority: &[bool], current: &[usize]) -> Vec<usize> {
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
            let share = if origin.is_some() && origin == now_in(i) {
                STAY_SHARE
            } else {
                JOIN_SHARE
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
}
