//! Video encoding: one encoded access unit per captured frame, no internal delay.
//!
//! One backend per file behind [`VideoEncoder`]; [`open`] is the one factory that picks.
//! Both software backends run through FFmpeg (`ffmpeg.rs`); `x264.rs` and `vpx.rs` hold the
//! low-latency settings of each, which the unit tests assert.

mod convert;
mod ffmpeg;
pub mod vpx;
pub mod x264;

use std::sync::Arc;
use std::time::Instant;

use thiserror::Error;

use crate::capture::Frame;

/// A codec Glint can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Codec {
    /// H.264 constrained baseline (profile-level-id 42e01f), packetization mode 1.
    H264,
    Vp8,
}

impl Codec {
    pub const ALL: [Codec; 2] = [Codec::H264, Codec::Vp8];

    /// A bit for this codec in [`EncodeControl`] masks.
    pub fn bit(self) -> u8 {
        match self {
            Codec::H264 => 1,
            Codec::Vp8 => 2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Codec::H264 => "H264",
            Codec::Vp8 => "VP8",
        }
    }
}

/// What an encoder is asked to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderSettings {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_kbps: u32,
}

/// One encoded access unit, shared by every peer that sends it (no copy per peer).
#[derive(Debug, Clone)]
pub struct EncodedFrame {
    pub codec: Codec,
    pub data: Arc<[u8]>,
    pub keyframe: bool,
    pub captured_at: Instant,
    pub width: u32,
    pub height: u32,
    /// Sequence number of the captured frame it came from.
    pub frame_seq: u64,
}

#[derive(Debug, Error)]
pub enum EncodeError {
    #[error("encoder {0} is not available in this FFmpeg build")]
    Missing(&'static str),
    #[error("cannot open encoder {name}: {source}")]
    Open {
        name: &'static str,
        source: ::ffmpeg_next::Error,
    },
    #[error("colour conversion failed: {0}")]
    Convert(::ffmpeg_next::Error),
    #[error("encoding failed: {0}")]
    Encode(::ffmpeg_next::Error),
    #[error("frame is {got_w}x{got_h}, encoder was opened for {want_w}x{want_h}")]
    Size {
        got_w: u32,
        got_h: u32,
        want_w: u32,
        want_h: u32,
    },
}

/// A video encoder: exactly one access unit out per frame in.
pub trait VideoEncoder: Send {
    fn codec(&self) -> Codec;
    fn settings(&self) -> EncoderSettings;
    /// Encodes one frame; `keyframe` forces an IDR / key frame.
    fn encode(&mut self, frame: &Frame, keyframe: bool) -> Result<EncodedFrame, EncodeError>;
}

/// The factory: the software encoder for `codec` (always available in Debian's FFmpeg).
pub fn open(codec: Codec, settings: EncoderSettings) -> Result<Box<dyn VideoEncoder>, EncodeError> {
    let backend = match codec {
        Codec::H264 => x264::backend(&settings),
        Codec::Vp8 => vpx::backend(&settings),
    };
    Ok(Box::new(ffmpeg::FfmpegEncoder::open(
        codec, backend, settings,
    )?))
}

/// How a backend configures the shared FFmpeg encoder.
#[derive(Debug, Clone)]
pub struct Backend {
    /// FFmpeg encoder name.
    pub name: &'static str,
    /// Private options of the encoder (`av_opt_set`), in order.
    pub options: Vec<(&'static str, String)>,
    /// Encoder threads (slice threads only: frame threads add a frame of delay).
    pub threads: usize,
    /// Key frame interval; `None` = infinite (key frames only on demand).
    pub gop: Option<u32>,
    /// CBR: min = max = target bitrate.
    pub cbr: bool,
}

/// Initialises FFmpeg once per process (idempotent).
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Err(e) = ::ffmpeg_next::init() {
            tracing::error!(error = %e, "FFmpeg init failed");
        }
        ::ffmpeg_next::log::set_level(::ffmpeg_next::log::Level::Error);
    });
}
