//! Opus framing and timestamps.
//!
//! [`Framer`] cuts raw buffers into 480-sample (10 ms) stereo frames and gives each the
//! capture instant of its first sample from a sample-counting clock: anchored at the first
//! buffer's capture instant, then advanced by exactly 10 ms per frame, so RTP timestamps step
//! by exactly 480. When a buffer's own capture instant strays more than [`REANCHOR_AFTER`]
//! from the counted clock (samples lost in a gap, a device clock drifting) the clock is
//! re-anchored to the buffer and the partial frame is dropped.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::{
    AudioCounters, AudioError, EncodedAudio, RawAudio, CHANNELS, FRAME_SAMPLES, SAMPLE_RATE,
};

/// Largest tolerated difference between counted and measured capture instants.
pub const REANCHOR_AFTER: Duration = Duration::from_millis(20);
/// Duration of one frame.
pub const FRAME: Duration = Duration::from_millis(10);

fn samples_to_duration(frames: usize) -> Duration {
    Duration::from_nanos(frames as u64 * 1_000_000_000 / u64::from(SAMPLE_RATE))
}

/// Cuts raw buffers into 10 ms frames stamped on a sample-counting clock.
#[derive(Debug, Default)]
pub struct Framer {
    pending: Vec<f32>,
    /// Capture instant of `pending[0]`.
    pending_at: Option<Instant>,
    pub reanchors: u64,
}

impl Framer {
    /// Adds a buffer; returns the whole frames now ready, each with its capture instant.
    pub fn push(&mut self, raw: &RawAudio) -> Vec<(Instant, Vec<f32>)> {
        let expected = self
            .pending_at
            .map(|at| at + samples_to_duration(self.pending.len() / CHANNELS));
        match expected {
            Some(e)
                if e.max(raw.first_sample_at) - e.min(raw.first_sample_at) <= REANCHOR_AFTER => {}
            Some(_) => {
                self.reanchors += 1;
                self.pending.clear();
                self.pending_at = Some(raw.first_sample_at);
            }
            None => self.pending_at = Some(raw.first_sample_at),
        }
        self.pending.extend_from_slice(&raw.samples);
        let per_frame = FRAME_SAMPLES * CHANNELS;
        let mut out = Vec::new();
        while self.pending.len() >= per_frame {
            let frame: Vec<f32> = self.pending.drain(..per_frame).collect();
            let at = self.pending_at.unwrap_or(raw.first_sample_at);
            self.pending_at = Some(at + FRAME);
            out.push((at, frame));
        }
        out
    }
}

pub struct OpusEncoder {
    inner: opus::Encoder,
    out: Vec<u8>,
}

impl OpusEncoder {
    /// Low-delay (CELT) Opus, stereo 48 kHz, in-band FEC requested, at `bitrate_kbps`.
    pub fn new(bitrate_kbps: u32) -> Result<Self, AudioError> {
        let e = |e: opus::Error| AudioError::Opus(e.to_string());
        let mut inner = opus::Encoder::new(
            SAMPLE_RATE,
            opus::Channels::Stereo,
            opus::Application::LowDelay,
        )
        .map_err(e)?;
        inner
            .set_bitrate(opus::Bitrate::Bits(bitrate_kbps as i32 * 1000))
            .map_err(e)?;
        inner.set_inband_fec(true).map_err(e)?;
        inner.set_packet_loss_perc(5).map_err(e)?;
        Ok(Self {
            inner,
            out: vec![0u8; 1500],
        })
    }

    /// Codes the next frames at `kbps` (Opus takes a new rate between any two frames).
    pub fn set_bitrate(&mut self, kbps: u32) -> Result<(), AudioError> {
        self.inner
            .set_bitrate(opus::Bitrate::Bits(kbps.clamp(6, 510) as i32 * 1000))
            .map_err(|e| AudioError::Opus(e.to_string()))
    }

    pub fn encode(&mut self, frame: &[f32]) -> Result<Arc<[u8]>, AudioError> {
        let n = self
            .inner
            .encode_float(frame, &mut self.out)
            .map_err(|e| AudioError::Opus(e.to_string()))?;
        Ok(Arc::from(&self.out[..n]))
    }
}

/// Puts a frame in the encoder → rtc queue; when it is full, the oldest frame goes. Returns
/// whether a frame was dropped.
pub fn push_latest(
    tx: &Sender<EncodedAudio>,
    stale: &Receiver<EncodedAudio>,
    frame: EncodedAudio,
) -> bool {
    match tx.try_send(frame) {
        Ok(()) => false,
        Err(TrySendError::Full(frame)) => {
            let dropped = stale.try_recv().is_ok();
            let _ = tx.try_send(frame);
            dropped
        }
        Err(TrySendError::Disconnected(_)) => false,
    }
}

/// The encoder thread's loop: until the raw queue closes. It starts at `bitrate_kbps` and
/// follows `rate` (kbit/s; 0 keeps the start), which the rtc thread lowers when the link
/// narrows (`session::rate::audio_kbps_for`).
pub fn run(
    raw: Receiver<RawAudio>,
    out: Sender<EncodedAudio>,
    stale: Receiver<EncodedAudio>,
    bitrate_kbps: u32,
    rate: Arc<AtomicU32>,
    counters: Arc<AudioCounters>,
) {
    let mut encoder = match OpusEncoder::new(bitrate_kbps) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "no audio: the Opus encoder did not open");
            return;
        }
    };
    let mut framer = Framer::default();
    let mut current = bitrate_kbps;
    for buffer in raw.iter() {
        let wanted = rate.load(Ordering::Relaxed);
        if wanted != 0 && wanted != current {
            current = wanted;
            if let Err(e) = encoder.set_bitrate(wanted) {
                tracing::warn!(error = %e, kbps = wanted, "the Opus rate was not changed");
            }
        }
        for (captured_at, frame) in framer.push(&buffer) {
            match encoder.encode(&frame) {
                Ok(data) => {
                    counters.frames_encoded.inc();
                    if push_latest(&out, &stale, EncodedAudio { data, captured_at }) {
                        counters.late_dropped.inc();
                    }
                }
                Err(e) => {
                    counters.encode_errors.inc();
                    tracing::debug!(error = %e, "audio frame not encoded");
                }
            }
        }
        counters
            .reanchors
            .inc_by(framer.reanchors.saturating_sub(counters.reanchors.get()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::bounded;

    fn raw(at: Instant, frames: usize, value: f32) -> RawAudio {
        RawAudio {
            samples: vec![value; frames * CHANNELS],
            first_sample_at: at,
        }
    }

    #[test]
    fn frames_are_10ms_and_stamped_on_a_counting_clock() {
        let t0 = Instant::now();
        let mut f = Framer::default();
        // Buffers of 512 frames (ALSA-sized) with a little timing jitter.
        let mut out = Vec::new();
        let mut at = t0;
        for i in 0..20 {
            let jitter = Duration::from_micros((i % 3) * 700);
            out.extend(f.push(&raw(at + jitter, 512, 0.1)));
            at += samples_to_duration(512);
        }
        assert_eq!(out.len(), 20 * 512 / 480);
        for (i, (stamp, frame)) in out.iter().enumerate() {
            assert_eq!(frame.len(), 960);
            assert_eq!(*stamp, t0 + FRAME * i as u32, "frame {i}");
        }
        assert_eq!(f.reanchors, 0);
    }

    #[test]
    fn a_gap_reanchors_the_clock_and_drops_the_partial_frame() {
        let t0 = Instant::now();
        let mut f = Framer::default();
        assert_eq!(f.push(&raw(t0, 600, 0.0)).len(), 1); // 120 frames left pending
        let later = t0 + Duration::from_millis(500);
        let out = f.push(&raw(later, 480, 0.0));
        assert_eq!(f.reanchors, 1);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, later);
    }

    #[test]
    fn a_lower_rate_makes_smaller_packets_between_two_frames() {
        let mut e = OpusEncoder::new(96).expect("opus opens");
        // Noise: it takes whatever rate it is given.
        let mut x = 1u32;
        let mut noise = || {
            (0..960)
                .map(|_| {
                    x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (x >> 8) as f32 / (1u32 << 24) as f32 - 0.5
                })
                .collect::<Vec<f32>>()
        };
        let mean = |e: &mut OpusEncoder, noise: &mut dyn FnMut() -> Vec<f32>| {
            let sizes: Vec<usize> = (0..50)
                .map(|_| e.encode(&noise()).expect("encodes").len())
                .collect();
            sizes[10..].iter().sum::<usize>() / 40
        };
        let at_96 = mean(&mut e, &mut noise);
        e.set_bitrate(24).expect("rate taken");
        let at_24 = mean(&mut e, &mut noise);
        // 10 ms frames: 96 kbit/s is 120 B a frame, 24 kbit/s 30 B.
        assert!(at_96 >= 100, "{at_96} B a frame at 96 kbit/s");
        assert!(at_24 <= 40, "{at_24} B a frame at 24 kbit/s");
    }

    #[test]
    fn the_opus_encoder_makes_10ms_packets() {
        let mut e = OpusEncoder::new(96).expect("opus opens");
        let tone: Vec<f32> = (0..FRAME_SAMPLES)
            .flat_map(|i| {
                let v = (i as f32 * 2.0 * std::f32::consts::PI * 1000.0 / 48000.0).sin() * 0.5;
                [v, v]
            })
            .collect();
        let packet = e.encode(&tone).expect("encodes");
        assert!(
            !packet.is_empty() && packet.len() < 400,
            "{} bytes",
            packet.len()
        );
        // TOC byte: config 16..=31 is CELT-only (low delay); the frame size code for 10 ms
        // in CELT is 2 (configs 18, 22, 26, 30).
        let config = packet[0] >> 3;
        assert!((16..=31).contains(&config), "config {config} is not CELT");
        assert_eq!(config % 4, 2, "config {config} is not a 10 ms frame");
    }

    #[test]
    fn a_full_queue_drops_the_oldest_frame_not_the_newest() {
        let (tx, rx) = bounded(2);
        let stale = rx.clone();
        let t0 = Instant::now();
        let frame = |n: u8| EncodedAudio {
            data: Arc::from(&[n][..]),
            captured_at: t0,
        };
        assert!(!push_latest(&tx, &stale, frame(1)));
        assert!(!push_latest(&tx, &stale, frame(2)));
        assert!(push_latest(&tx, &stale, frame(3)));
        let left: Vec<u8> = rx.try_iter().map(|f| f.data[0]).collect();
        assert_eq!(left, vec![2, 3]);
    }
}
