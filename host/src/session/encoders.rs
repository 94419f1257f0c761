//! What the session tells the encode threads (codecs wanted, the video and sound rates, the
//! ladder's rung) and each page (the screen's size, its figures).

use std::time::Instant;

use super::{rate, EncoderCommand, Output, Peer, Session};
use crate::encode::{EncodedFrame, Scale};
use crate::peer::Notice;
use crate::stats::PeerSnapshot;

impl Session {
    /// One encode for every peer (for now): at the lowest target of the connected peers'
    /// links, told to the encoder when it moves by 3 % or more; then the ladder's rung for
    /// that target, and the sound's rate.
    pub(super) fn update_rate(&mut self, now: Instant) {
        let target = self
            .peers
            .iter()
            .filter(|p| p.connected && p.video.is_some())
            .map(|p| p.rate.target_kbps())
            .min()
            .unwrap_or(self.config.max_kbps);
        let moved = target.abs_diff(self.rate_kbps) * 100 >= self.rate_kbps.max(1) * 3;
        if moved || (target != self.rate_kbps && target == self.config.max_kbps) {
            self.rate_kbps = target;
            self.outputs
                .push_back(Output::Encoder(EncoderCommand::Bitrate(target)));
        }
        if let Some(screen) = self.screen.filter(|_| !self.config.no_ladder) {
            if let Some(rung) = self.ladder.update(now, target, screen) {
                let (width, height) = Scale::RUNGS[rung].picture(screen.0, screen.1);
                tracing::info!(
                    width,
                    height,
                    target_kbps = target,
                    reason = self.ladder.reason().as_str(),
                    "resolution rung"
                );
                self.counters.rung_changes.inc();
                self.outputs
                    .push_back(Output::Encoder(EncoderCommand::Rung(rung)));
            }
        }
        let audio = rate::audio_kbps_for(target, self.config.audio_kbps);
        if audio != self.audio_kbps {
            self.audio_kbps = audio;
            tracing::info!(audio_kbps = audio, video_kbps = target, "sound rate");
            self.outputs
                .push_back(Output::Encoder(EncoderCommand::AudioBitrate(audio)));
        }
    }

    pub(super) fn update_wanted(&mut self) {
        let mask = self
            .peers
            .iter()
            .filter_map(Peer::video_codec)
            .fold(0, |a, c| a | c.bit());
        if mask != self.wanted {
            self.wanted = mask;
            self.outputs
                .push_back(Output::Encoder(EncoderCommand::Wanted(mask)));
        }
    }

    /// An encoded frame is about to go out: the ladder counts its size, and the screen's size
    /// is noted (the ladder's pixels).
    pub(super) fn note_frame(&mut self, now: Instant, frame: &EncodedFrame) {
        self.screen = Some(frame.screen);
        let rung = Scale::RUNGS
            .iter()
            .position(|s| s.picture(frame.screen.0, frame.screen.1) == (frame.width, frame.height))
            .unwrap_or(0);
        self.ladder
            .on_frame(now, frame.codec.bit(), frame.data.len(), rung);
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

    /// Every peer's figures, with the encode's rung and the sound's rate.
    pub(super) fn publish_stats(&mut self) {
        let audio_kbps = Some(self.audio_kbps);
        let rung = self.ladder.rung();
        let picture = self.screen.map(|(w, h)| Scale::RUNGS[rung].picture(w, h));
        let rung_reason = Some(self.ladder.reason().as_str());
        let peers = self
            .peers
            .iter()
            .map(|p| PeerSnapshot {
                audio_kbps,
                picture,
                rung: Some(rung),
                rung_reason,
                ..p.snapshot()
            })
            .collect();
        self.outputs.push_back(Output::PeerStats(peers));
    }
}
