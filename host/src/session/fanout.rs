//! Media fan-out: one encoded frame or Opus packet to every peer that takes it, and the
//! keyframe gate (a peer gets no delta frame before its first keyframe; its keyframe requests
//! are honoured at most once per [`KEYFRAME_MIN_INTERVAL`]).

use std::time::{Duration, Instant, UNIX_EPOCH};

use str0m::media::{Frequency, MediaTime};
use str0m::rtp::AbsCaptureTime;
use str0m::Input;

use super::channels::{self, ChannelKind, Written};
use super::rate::AUDIO_PAIRED_UNDER_KBPS;
use super::Session;
use crate::audio::EncodedAudio;
use crate::encode::EncodedFrame;
use crate::proto::{audio, echo};

/// A peer's keyframe requests (PLI/FIR) are honoured at most this often; a storm of them
/// would otherwise make every frame a keyframe, several times the bitrate.
pub(super) const KEYFRAME_MIN_INTERVAL: Duration = Duration::from_millis(300);
/// A page gets a frame echo (`proto::echo`) on this many frames after a new input packet of
/// its own was injected, and on no other: the echo's one use is to find the first frame that
/// shows a press, and the frames after it cover an echo lost on the unreliable channel. One
/// per frame cost 60 kbit/s at 60 fps with its headers, a sixth of a 400 kbit/s link.
pub(super) const ECHO_FRAMES: u32 = 12;
/// Under [`AUDIO_PAIRED_UNDER_KBPS`] a run of echoes is this many frames long...
pub(super) const ECHO_FRAMES_NARROW: u32 = 3;
/// ...and new input starts one at most this often (its first frame only: a later one would
/// say the press took longer to show than it did). At 400 kbit/s the bench's four presses a
/// second cost ~48 echo packets a second, ~45 kbit/s with their headers.
pub(super) const ECHO_EVERY_NARROW: Duration = Duration::from_millis(200);

/// Per peer: whether it had its keyframe, and when it last had a request honoured.
#[derive(Debug, Default)]
pub(super) struct KeyframeGate {
    has_keyframe: bool,
    last_request: Option<Instant>,
}

impl KeyframeGate {
    /// Whether a frame may go to this peer: anything after its first keyframe.
    pub(super) fn admits(&self, keyframe: bool) -> bool {
        self.has_keyframe || keyframe
    }

    pub(super) fn sent(&mut self, keyframe: bool) {
        self.has_keyframe |= keyframe;
    }

    /// The peer moved to another tier's frames: nothing until that tier's keyframe.
    pub(super) fn reset(&mut self) {
        self.has_keyframe = false;
    }

    /// A keyframe sent at `now` whatever the gate says (the link collapsed): the gate counts
    /// from it. Always true.
    pub(super) fn force(&mut self, now: Instant) -> bool {
        self.last_request = Some(now);
        true
    }

    /// A keyframe request at `now`; whether to honour it.
    pub(super) fn request(&mut self, now: Instant) -> bool {
        let due = self
            .last_request
            .is_none_or(|t| now.saturating_duration_since(t) >= KEYFRAME_MIN_INTERVAL);
        if due {
            self.last_request = Some(now);
        }
        due
    }
}

impl Session {
    /// An encoded frame: written to every connected peer of its codec that may take it, with
    /// its capture time (abs-capture-time) and, on the `control` channel, its frame echo.
    /// Returns whether any peer got it.
    pub fn handle_frame(&mut self, now: Instant, frame: &EncodedFrame) -> bool {
        let elapsed = frame
            .captured_at
            .saturating_duration_since(self.clock.epoch);
        let capture_wallclock = self.clock.wallclock(frame.captured_at);
        let rtp_ticks = (elapsed.as_micros() * 9 / 100) as u64;
        let rtp_time = MediaTime::from_90khz(rtp_ticks);
        let capture_unix_ms = capture_wallclock
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u32);
        let av_sync = self.config.av_sync;
        let mut written = false;
        self.note_frame(now, frame);
        for i in 0..self.peers.len() {
            let p = &self.peers[i];
            let Some((mid, pt, codec)) = p.video else {
                continue;
            };
            if codec != frame.codec
                || p.tier != frame.tier
                || !p.connected
                || !p.keyframes.admits(frame.keyframe)
            {
                continue;
            }
            self.tell_screen(i, frame.screen);
            let p = &mut self.peers[i];
            if frame.keyframe {
                p.before_keyframe(now);
            }
            let Some(writer) = p.rtc.writer(mid) else {
                continue;
            };
            // With lip sync the browser must be free to delay the picture.
            let writer = if av_sync {
                writer
            } else {
                writer.playout_delay(MediaTime::from_90khz(0), MediaTime::from_90khz(0))
            };
            let writer = writer.abs_capture_time(AbsCaptureTime {
                capture_time: capture_wallclock,
                clock_offset: None,
            });
            match writer.write(pt, frame.captured_at, rtp_time, frame.data.clone()) {
                Ok(()) => {
                    written = true;
                    p.keyframes.sent(frame.keyframe);
                    p.snapshot.frames_sent += 1;
                    p.snapshot.video_bytes_sent += frame.data.len() as u64;
                    if frame.keyframe {
                        p.snapshot.keyframes_sent += 1;
                        p.snapshot.keyframe_bytes = frame.data.len() as u64;
                    }
                    self.counters.frames_sent.inc();
                    if p.snapshot.frames_sent == 1 {
                        p.pad_to_target(now);
                    }
                }
                Err(e) => tracing::debug!(peer = %p.id, error = %e, "write failed"),
            }
            let seq = frame
                .input_echo
                .iter()
                .find(|(peer, _)| *peer == p.id)
                .map(|&(_, s)| s);
            if seq != p.echo_seq {
                p.echo_since = std::mem::replace(&mut p.echo_seq, seq);
                let spaced = |t: Instant| now.saturating_duration_since(t) >= ECHO_EVERY_NARROW;
                let frames = if p.rate.target_kbps() >= AUDIO_PAIRED_UNDER_KBPS {
                    Some(ECHO_FRAMES)
                } else {
                    p.echoes_began
                        .is_none_or(spaced)
                        .then_some(ECHO_FRAMES_NARROW)
                };
                if let Some(frames) = frames {
                    p.echoes_left = frames;
                    p.echoes_began = Some(now);
                }
            }
            if let (Some(id), true) = (p.channels.id(ChannelKind::Control), p.echoes_left > 0) {
                p.echoes_left -= 1;
                let msg = echo::FrameEcho {
                    rtp_timestamp: rtp_ticks as u32,
                    input_seq: seq,
                    since_seq: p.echo_since,
                    host: now.saturating_duration_since(frame.captured_at),
                    capture_unix_ms,
                }
                .encode();
                channels::write(&mut p.rtc, id, &msg, &self.counters);
            }
            // Send now rather than at the next internal timeout (~8 ms later).
            self.drive(i, now, Input::Timeout(now));
        }
        written
    }

    /// One Opus packet: on the `audio` channel of peers that opened one, else on their track.
    pub fn handle_audio(&mut self, now: Instant, frame: &EncodedAudio) {
        let elapsed = frame
            .captured_at
            .saturating_duration_since(self.clock.epoch);
        // 48 kHz ticks on the video's epoch: the sender reports of both tracks map to one
        // clock, which is what lets the browser line them up.
        let ticks = (elapsed.as_nanos() * 48_000 / 1_000_000_000) as u64;
        let rtp_time = MediaTime::new(ticks, Frequency::FORTY_EIGHT_KHZ);
        let capture_unix_us = self
            .clock
            .wallclock(frame.captured_at)
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        let timestamp = ticks as u32;
        let last = self.last_audio.take();
        let contiguous = last
            .as_ref()
            .is_some_and(|(t, ..)| timestamp.wrapping_sub(*t) == audio::FRAME_TICKS);
        // The frame before, whether this packet carries it (contiguous) or not (a gap in the
        // capture: a frame held for this packet then goes on its own first).
        let (previous, orphan) = match last {
            Some((_, data, _)) if contiguous => (Some(data), None),
            other => (None, other),
        };
        self.last_audio = Some((timestamp, frame.data.clone(), capture_unix_us));
        let mut packet: Option<Vec<u8>> = None;
        for i in 0..self.peers.len() {
            let p = &mut self.peers[i];
            if !p.connected {
                continue;
            }
            if let Some(id) = p.channels.id(ChannelKind::Audio) {
                // On a narrow link every other frame waits for the next packet, which carries
                // it as its previous one.
                if std::mem::take(&mut p.audio_held) {
                    if let Some((t, data, us)) = &orphan {
                        let alone = audio::AudioPacket {
                            timestamp: *t,
                            capture_unix_us: *us,
                            previous: None,
                            opus: data,
                        }
                        .encode();
                        channels::write(&mut p.rtc, id, &alone, &self.counters);
                    }
                } else if p.rate.target_kbps() < AUDIO_PAIRED_UNDER_KBPS {
                    p.audio_held = true;
                    p.snapshot.audio_frames_sent += 1;
                    continue;
                }
                let bytes = packet.get_or_insert_with(|| {
                    audio::AudioPacket {
                        timestamp,
                        capture_unix_us,
                        previous: previous.as_deref(),
                        opus: &frame.data,
                    }
                    .encode()
                });
                if channels::write(&mut p.rtc, id, bytes, &self.counters) != Written::Sent {
                    continue;
                }
            } else {
                let Some((mid, pt)) = p.audio else {
                    continue;
                };
                let Some(writer) = p.rtc.writer(mid) else {
                    continue;
                };
                if let Err(e) = writer.write(pt, frame.captured_at, rtp_time, frame.data.clone()) {
                    tracing::debug!(peer = %p.id, error = %e, "audio write failed");
                    continue;
                }
            }
            p.snapshot.audio_frames_sent += 1;
            self.drive(i, now, Input::Timeout(now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_holds_deltas_until_a_keyframe_and_throttles_requests() {
        let mut g = KeyframeGate::default();
        assert!(!g.admits(false));
        assert!(g.admits(true));
        g.sent(true);
        assert!(g.admits(false));
        let t0 = Instant::now();
        assert!(g.request(t0));
        assert!(!g.request(t0 + Duration::from_millis(100)));
        assert!(!g.request(t0 + Duration::from_millis(299)));
        assert!(g.request(t0 + KEYFRAME_MIN_INTERVAL));
    }
}
