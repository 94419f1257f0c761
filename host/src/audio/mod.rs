//! Sound: a source (PulseAudio through cpal, or the test pattern's tone) → 10 ms Opus frames
//! stamped on the video's clock → the rtc thread, which sends them on every peer's Opus track.
//!
//! Hand-offs: source → encoder is a bounded queue of raw buffers (when full the source drops
//! the new buffer and counts it); encoder → rtc is a short queue where, when full, the *oldest*
//! frame is dropped: late audio is dropped, never queued, so a stall cannot make audio drift
//! further and further behind.

pub mod capture;
pub mod encode;
pub mod pulse;
pub mod tone;

use std::sync::Arc;
use std::time::Instant;

use thiserror::Error;

use crate::metrics::{Counter, Metrics};

/// Opus at 48 kHz, stereo, 10 ms frames.
pub const SAMPLE_RATE: u32 = 48_000;
pub const CHANNELS: usize = 2;
pub const FRAME_SAMPLES: usize = 480;

/// Source → encoder: raw buffers (about 10 ms each). Full: the new buffer is dropped.
pub const RAW_QUEUE: usize = 16;
/// Encoder → rtc: 4 frames = 40 ms. Full: the oldest frame is dropped.
pub const ENCODED_AUDIO_QUEUE: usize = 4;

/// Whoever the sound goes to: the source pauses while there is nobody
/// (`crate::pipeline::EncodeControl` answers: a page is in the audience from its offer on).
pub trait Audience: Send + Sync {
    fn any(&self) -> bool;
}

/// Interleaved stereo f32 samples and the instant their first sample was captured.
#[derive(Debug, Clone)]
pub struct RawAudio {
    pub samples: Vec<f32>,
    pub first_sample_at: Instant,
}

/// One Opus packet (10 ms), shared by every peer.
#[derive(Debug, Clone)]
pub struct EncodedAudio {
    pub data: Arc<[u8]>,
    /// Capture instant of its first sample, on the sample-counting clock (see `encode.rs`).
    pub captured_at: Instant,
}

/// Counters of the sound path, registered in [`Metrics`].
#[derive(Debug, Default, Clone)]
pub struct AudioCounters {
    pub raw_buffers: Counter,
    pub raw_dropped: Counter,
    pub frames_encoded: Counter,
    /// Encoded frames dropped because the rtc thread had not taken the older ones yet.
    pub late_dropped: Counter,
    pub encode_errors: Counter,
    /// Times the sample clock was re-anchored to the capture instants (gap or drift).
    pub reanchors: Counter,
    /// Times the capture reopened its stream after the sound server dropped it.
    pub stream_reopens: Counter,
}

impl AudioCounters {
    pub fn register(m: &mut Metrics) -> Self {
        Self {
            raw_buffers: m.counter("audio_raw_buffers", "Raw sound buffers captured"),
            raw_dropped: m.counter(
                "audio_raw_dropped",
                "Raw sound buffers dropped on a full queue",
            ),
            frames_encoded: m.counter("audio_frames_encoded", "Opus frames (10 ms) encoded"),
            late_dropped: m.counter(
                "audio_late_dropped",
                "Opus frames dropped because newer ones came before the rtc thread took them",
            ),
            encode_errors: m.counter("audio_encode_errors", "Opus encoder failures"),
            reanchors: m.counter(
                "audio_reanchors",
                "Times the sound's sample clock was re-anchored to capture (gap or drift)",
            ),
            stream_reopens: m.counter(
                "audio_stream_reopens",
                "Times sound capture reopened its stream after the sound server dropped it",
            ),
        }
    }
}

#[derive(Debug, Error)]
pub enum AudioError {
    #[error("no PulseAudio server: {0}")]
    NoServer(String),
    #[error("no audio device {0:?}")]
    NoDevice(String),
    #[error("cannot open the audio device: {0}")]
    Open(String),
    #[error("Opus encoder: {0}")]
    Opus(String),
    #[error("cannot start the PulseAudio server: {0}")]
    Pulse(String),
}
