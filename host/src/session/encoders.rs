//! What the session tells the encode threads (each quality tier's codecs, rate and rung of
//! the ladder; the sound's rate) and each page (the screen's size, its figures).

use std::time::{Duration, Instant};

use super::ladder::{Ladder, YOUNG_FOR};
use super::tiers::{self, MAX_TIERS};
use super::{rate, EncoderCommand, Output, Peer, Session};
use crate::encode::{EncodedFrame, Scale};
use crate::peer::{Notice, PeerId};
use crate::stats::PeerSnapshot;

/// The least time between two caps (`max-bitrate`) of one page taking effect.
pub(crate) const CAP_EVERY: Duration = Duration::from_millis(500);

impl Session {
    /// Groups the connected peers into quality tiers (`tiers.rs`) and tells each tier's
    /// encode its rate (the lowest target of its peers, when it moved by 3 % or more, or
    /// reached the configured rate), its rung of the resolution ladder and its codecs; then
    /// the sound's rate, for the slowest peer.
    pub(super) fn update_rate(&mut self, now: Instant) {
        self.apply_caps(now);
        for p in self.peers.iter_mut().filter(|p| p.connected) {
            p.sustained.record(now, p.rate.target_kbps());
        }
        self.regroup(now);
        // While no peer is connected, the start rates of the peers still connecting for the
        // first time set their tier's rate and rung: the first keyframe a page gets is then
        // coded for its start rate, not at the full size and `--bitrate` (a 12 KB keyframe
        // into a 400 kbit/s link lost most of its packets, and the first picture waited for
        // their resends). A peer whose ICE lost its path keeps its tier as it was. (A new
        // peer's target is its estimator's start until the estimator's first figure, which
        // takes HEADROOM of it: the rung is chosen for that.)
        let first = !self.peers.iter().any(|p| p.connected && p.video.is_some());
        let counts = |p: &Peer| p.connected || (first && p.first_connecting());
        let target_of = |p: &Peer| match p.connected {
            true => p.rate.target_kbps(),
            false => (f64::from(p.rate.target_kbps()) * rate::HEADROOM).round() as u32,
        };
        let mut lowest = None::<u32>;
        for t in 0..MAX_TIERS {
            // The tier's lowest target, and the highest rate that peer's target may reach
            // (its own cap, if it chose one in its page, or --bitrate).
            let binding = self
                .peers
                .iter()
                .filter(|p| counts(p) && p.video.is_some() && p.tier == t)
                .min_by_key(|p| target_of(p));
            let Some(binding) = binding else {
                continue;
            };
            let target = target_of(binding);
            let ceiling = (
                binding.rate.max_kbps().round() as u32,
                binding.rate.capped(),
            );
            lowest = Some(lowest.map_or(target, |l| l.min(target)));
            let told = self.tiers[t].rate_kbps;
            let moved = target.abs_diff(told) * 100 >= told.max(1) * 3;
            if moved || (target != told && target == self.config.max_kbps) {
                self.tiers[t].rate_kbps = target;
                self.outputs
                    .push_back(Output::Encoder(EncoderCommand::Bitrate {
                        tier: t,
                        kbps: target,
                    }));
            }
            if let Some(screen) = self.screen.filter(|_| !self.config.no_ladder) {
                let ladder = &mut self.tiers[t].ladder;
                let reason = ladder.reason();
                let moved = ladder.update(now, target, ceiling, screen);
                if moved.is_none() && ladder.reason() != reason {
                    tracing::info!(
                        tier = t,
                        target_kbps = target,
                        reason = ladder.reason().as_str(),
                        "resolution rung, same size"
                    );
                }
                if let Some(rung) = moved {
                    let (width, height) = Scale::RUNGS[rung].picture(screen.0, screen.1);
                    tracing::info!(
                        tier = t,
                        width,
                        height,
                        target_kbps = target,
                        reason = ladder.reason().as_str(),
                        "resolution rung"
                    );
                    self.counters.rung_changes.inc();
                    self.outputs
                        .push_back(Output::Encoder(EncoderCommand::Rung { tier: t, rung }));
                }
            }
        }
        // The sound's rate is cut at once and raised only once the higher rate has been called
        // for AUDIO_RAISE_AFTER: a target wobbling around a threshold changed it several times
        // a second.
        let audio = rate::audio_kbps_for(
            lowest.unwrap_or(self.config.max_kbps),
            self.config.audio_kbps,
        );
        if audio != self.audio_wanted.0 {
            self.audio_wanted = (audio, now);
        }
        let raise = audio > self.audio_kbps
            && now.saturating_duration_since(self.audio_wanted.1) >= rate::AUDIO_RAISE_AFTER;
        if audio < self.audio_kbps || raise {
            self.audio_kbps = audio;
            if self.last_audio.is_some() {
                tracing::debug!(audio_kbps = audio, "sound rate");
            }
            self.outputs
                .push_back(Output::Encoder(EncoderCommand::AudioBitrate(audio)));
        }
    }

    /// Moves the connected peers to the tiers their targets call for (`tiers::group`): at
    /// once after a peer connected or left, else at most once per [`tiers::REGROUP_AFTER`]. A
    /// peer that changes tier waits for a keyframe of its new one.
    fn regroup(&mut self, now: Instant) {
        let live: Vec<usize> = (0..self.peers.len())
            .filter(|&i| self.peers[i].connected && self.peers[i].video.is_some())
            .collect();
        let joined_or_left = live.len() != self.grouped_peers;
        let due = joined_or_left
            || now.saturating_duration_since(self.regrouped_at) >= tiers::REGROUP_AFTER;
        if !due {
            return;
        }
        let targets: Vec<u32> = live
            .iter()
            .map(|&i| self.peers[i].rate.target_kbps())
            .collect();
        // A move up goes by the lowest target of the peer's window (`tiers::Sustained`).
        let floors: Vec<u32> = live
            .iter()
            .zip(&targets)
            .map(|(&i, &t)| self.peers[i].sustained.floor().unwrap_or(t))
            .collect();
        let priority: Vec<bool> = live
            .iter()
            .map(|&i| self.controllers.contains(&self.peers[i].id))
            .collect();
        let current: Vec<usize> = live.iter().map(|&i| self.peers[i].tier).collect();
        let capped: Vec<bool> = live.iter().map(|&i| self.peers[i].rate.capped()).collect();
        let grouping = tiers::group_sustained(&targets, &floors, &priority, &capped, &current);
        let mut moved = false;
        for (&i, &tier) in live.iter().zip(&grouping) {
            let p = &mut self.peers[i];
            if p.tier == tier {
                continue;
            }
            // Both tiers' pictures start over from the full size: their peers changed, and
            // the ladder steps down at once as far as the new rate needs.
            let from = p.tier.min(MAX_TIERS - 1);
            tracing::info!(peer = %p.id, from = p.tier, to = tier, target_kbps = p.rate.target_kbps(), "quality tier");
            p.tier = tier;
            p.keyframes.reset();
            self.counters.tier_moves.inc();
            moved = true;
            if let Some(codec) = p.video_codec() {
                self.outputs
                    .push_back(Output::Encoder(EncoderCommand::Keyframe { tier, codec }));
            }
            for t in [from, tier] {
                self.reset_ladder(t, now);
            }
        }
        if moved || joined_or_left {
            self.regrouped_at = now;
        }
        self.grouped_peers = live.len();
        if moved {
            self.update_wanted(now);
        }
        // The first controller's frames never wait behind another tier's encode.
        let first = self
            .peers
            .iter()
            .find(|p| self.controllers.contains(&p.id))
            .map_or(0, |p| p.tier);
        if first != self.first_tier {
            self.first_tier = first;
            self.outputs
                .push_back(Output::Encoder(EncoderCommand::FirstTier(first)));
        }
    }

    /// The members in control changed (the input thread's room): they get priority in the
    /// tiers (`tiers::group`), regrouped at once.
    pub fn handle_controllers(&mut self, now: Instant, peers: Vec<PeerId>) {
        if peers != self.controllers {
            self.controllers = peers;
            self.grouped_peers = usize::MAX;
            self.update_rate(now);
        }
    }

    /// Tier `t`'s picture starts over from the full size (its peers changed); the ladder steps
    /// down at once as far as the tier's rate needs.
    fn reset_ladder(&mut self, t: usize, now: Instant) {
        let tier = &mut self.tiers[t];
        let was = tier.ladder.rung();
        tier.ladder = Ladder::new(now, self.config.fps);
        if was != 0 {
            self.outputs
                .push_back(Output::Encoder(EncoderCommand::Rung { tier: t, rung: 0 }));
        }
    }

    /// Tells each tier's encode the codecs its peers receive (connected or not: a peer's
    /// first keyframe is ready when it connects).
    pub(super) fn update_wanted(&mut self, now: Instant) {
        for t in 0..MAX_TIERS {
            let mask = self
                .peers
                .iter()
                .filter(|p| p.tier == t)
                .filter_map(Peer::video_codec)
                .fold(0, |a, c| a | c.bit());
            if mask != self.tiers[t].wanted {
                if mask == 0 {
                    // Nobody left on it: the next peer starts from the full size.
                    self.reset_ladder(t, now);
                } else if self.tiers[t].wanted == 0
                    && self.peers.iter().any(|p| {
                        p.tier == t && now.saturating_duration_since(p.added_at) < YOUNG_FOR
                    })
                {
                    // A new peer's encode: its rate starts low and climbs, and so may the
                    // picture (not one a peer moved to: its rate is where its link put it).
                    self.tiers[t].ladder.start(now);
                }
                self.tiers[t].wanted = mask;
                self.outputs
                    .push_back(Output::Encoder(EncoderCommand::Wanted { tier: t, mask }));
            }
        }
    }

    /// An encoded frame is about to go out: its tier's ladder counts its size (if it was
    /// coded at the ladder's rung), and the screen's size is noted (the ladders' pixels).
    pub(super) fn note_frame(&mut self, now: Instant, frame: &EncodedFrame) {
        self.screen = Some(frame.screen);
        if let Some(tier) = self.tiers.get_mut(frame.tier) {
            tier.ladder
                .on_frame(now, frame.codec.bit(), frame.data.len(), frame.rung);
        }
    }

    /// Tells peer `i` the screen's size before the first frame it gets, and again when it
    /// changed: the page maps its pointer by it (the picture may be smaller).
    pub(super) fn tell_screen(&mut self, i: usize, screen: (u32, u32)) {
        let p = &mut self.peers[i];
        if p.screen_told != Some(screen) {
            p.screen_told = Some(screen);
            self.outputs.push_back(Output::Notice(
                p.id,
                Notice::Screen {
                    width: screen.0,
                    height: screen.1,
                },
            ));
        }
    }

    /// A viewer's own cap on its rate, kbit/s (the page's `max-bitrate`, a data saver on a
    /// metered link; `None`: the configured rate): its target stays under it, so it takes
    /// the quality tier that carries it (`tiers.rs`), regrouped at once so that the others'
    /// tier never codes at its cap. A page's caps take effect at most once per [`CAP_EVERY`],
    /// the newest one when it is due: a page sending them as fast as it can regroups the tiers
    /// and logs no oftener than that.
    pub fn handle_max_bitrate(&mut self, now: Instant, peer: PeerId, kbps: Option<u32>) {
        if let Some(p) = self.peers.iter_mut().find(|p| p.id == peer) {
            p.cap_wanted = Some(kbps);
        }
        self.update_rate(now);
    }

    /// Applies each peer's newest cap when it is due ([`Session::handle_max_bitrate`]).
    fn apply_caps(&mut self, now: Instant) {
        for p in self.peers.iter_mut() {
            let due = p.cap_set_at.is_none_or(|at| now >= at + CAP_EVERY);
            let Some(kbps) = p.cap_wanted.take_if(|_| due) else {
                continue;
            };
            p.cap_set_at = Some(now);
            p.rate.set_cap(now, kbps);
            p.pad_to_target(now);
            tracing::info!(peer = %p.id, cap_kbps = ?kbps, "the viewer's own rate cap");
            self.grouped_peers = usize::MAX;
        }
    }

    /// Every peer's figures, with its tier, the tier's rung and the sound's rate.
    pub(super) fn publish_stats(&mut self) {
        // No rate for a host that sends no sound (--no-audio, or no device).
        let audio_kbps = self.last_audio.is_some().then_some(self.audio_kbps);
        let screen = self.screen;
        let no_ladder = self.config.no_ladder;
        let tiers = &self.tiers;
        let peers = self
            .peers
            .iter()
            .map(|p| {
                let ladder = &tiers[p.tier.min(MAX_TIERS - 1)].ladder;
                let rung = ladder.rung();
                let own = p.snapshot();
                PeerSnapshot {
                    audio_kbps,
                    audio_path: if audio_kbps.is_some() {
                        own.audio_path
                    } else {
                        "none"
                    },
                    tier: Some(p.tier),
                    max_kbps: Some(p.rate.max_kbps()),
                    picture: screen.map(|(w, h)| Scale::RUNGS[rung].picture(w, h)),
                    rung: Some(rung),
                    rung_reason: Some(if no_ladder {
                        "ladder off (--no-ladder)"
                    } else {
                        ladder.reason().as_str()
                    }),
                    ..own
                }
            })
            .collect();
        self.outputs.push_back(Output::PeerStats(peers));
    }
}
