//! Video encoding: one encoded access unit per captured frame, no internal delay.
//!
//! One backend per file behind [`VideoEncoder`]; [`open`] is the one factory that picks.
//! Both software backends run through FFmpeg (`ffmpeg.rs`); `x264.rs` and `vpx.rs` hold the
//! low-latency settings of each, which the unit tests assert.

pub mod convert;
mod ffmpeg;
pub mod vpx;
pub mod x264;

use std::sync::Arc;
use std::time::Instant;

use thiserror::Error;

use crate::capture::Frame;
use crate::peer::PeerId;

/// The most quality tiers a session encodes at once (`session/tiers.rs`): each frame is coded
/// once per tier (and codec) that a peer receives.
pub const MAX_TIERS: usize = 3;

/// A codec Glint can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Codec {
    /// H.264 constrained baseline (profile-level-id 42e01f), packetization mode 1.
    H264,
    Vp8,
}

impl Codec {
    pub const ALL: [Codec; 2] = [Codec::H264, Codec::Vp8];

    /// A bit for this codec in [`EncodeControl`](crate::pipeline::EncodeControl) masks.
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

/// How much of the screen's size the coded picture has, each way: `num`/`den` (a rung of the
/// session's resolution ladder, `session/ladder.rs`). The picture is scaled down before the
/// encoder; the page scales it back up and maps the pointer by the screen's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    pub num: u32,
    pub den: u32,
}

impl Scale {
    /// The screen's own size.
    pub const FULL: Scale = Scale { num: 1, den: 1 };
    /// The ladder's rungs, largest first: 1, 3/4, 1/2 and 1/3 of each side (1280x720 gives
    /// 960x540, 640x360 and 426x240).
    pub const RUNGS: [Scale; 4] = [
        Scale::FULL,
        Scale { num: 3, den: 4 },
        Scale { num: 1, den: 2 },
        Scale { num: 1, den: 3 },
    ];

    /// The picture's size for a `width`×`height` screen: the screen's own at [`Scale::FULL`];
    /// else each side scaled, rounded to the nearest even number (4:2:0 chroma) and at least 2.
    pub fn picture(self, width: u32, height: u32) -> (u32, u32) {
        if self.num >= self.den || self.den == 0 {
            return (width, height);
        }
        let side = |v: u32| {
            let scaled = u64::from(v) * u64::from(self.num);
            let even = (scaled + u64::from(self.den)) / (2 * u64::from(self.den)) * 2;
            (even as u32).clamp(2, v.max(2))
        };
        (side(width), side(height))
    }

    /// The share of the screen's pixels the picture has (`(num/den)²`).
    pub fn area(self) -> f64 {
        let s = f64::from(self.num) / f64::from(self.den.max(1));
        (s * s).min(1.0)
    }
}

/// What an encoder is asked to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderSettings {
    /// The screen's size: the frames it takes.
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_kbps: u32,
    /// The picture it codes: `scale` of the screen ([`Scale::picture`]).
    pub scale: Scale,
}

/// One encoded access unit, shared by every peer that sends it (no copy per peer).
#[derive(Debug, Clone)]
pub struct EncodedFrame {
    pub codec: Codec,
    pub data: Arc<[u8]>,
    pub keyframe: bool,
    pub captured_at: Instant,
    /// The capture finished reading pixels.
    pub grabbed_at: Instant,
    /// The encoder took the frame (after waiting in the capture mailbox).
    pub started_at: Instant,
    /// Colour conversion done.
    pub converted_at: Instant,
    /// The access unit is out of the encoder.
    pub encoded_at: Instant,
    /// The coded picture's size (smaller than the screen's on a lower rung).
    pub width: u32,
    pub height: u32,
    /// The screen's size, which the page maps its pointer by.
    pub screen: (u32, u32),
    /// The quality tier it was coded for (0 the highest; below [`MAX_TIERS`]); it goes to that
    /// tier's peers only.
    pub tier: usize,
    /// The rung of the resolution ladder it was coded at: an index into [`Scale::RUNGS`].
    pub rung: usize,
    /// Sequence number of the captured frame it came from.
    pub frame_seq: u64,
    /// Per peer, the newest input packet injected before the capture.
    pub input_echo: Arc<Vec<(PeerId, u32)>>,
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
    ConvertSimd(String),
    #[error("colour conversion: the frame's size or planes do not match the converter")]
    ConvertSize,
    #[error("scaling the picture to {width}x{height} failed: {source}")]
    Scale {
        width: u32,
        height: u32,
        source: ::ffmpeg_next::Error,
    },
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
    /// Encodes the next frames at `kbps` (and a VBV of about one frame), without a reopen or a
    /// keyframe where the encoder allows it (libx264 reconfigures between frames). False when
    /// it needs a reopen (libvpx here), which costs a keyframe.
    fn set_bitrate(&mut self, kbps: u32) -> bool;
}

/// The factory: the software encoder for `codec` (always available in Debian's FFmpeg).
/// Opens an encoder with explicit backend settings (benches compare presets with this).
pub fn open_backend(
    codec: Codec,
    backend: Backend,
    settings: EncoderSettings,
) -> Result<Box<dyn VideoEncoder>, EncodeError> {
    Ok(Box::new(ffmpeg::FfmpegEncoder::open(
        codec, backend, settings,
    )?))
}

pub fn open(codec: Codec, settings: EncoderSettings) -> Result<Box<dyn VideoEncoder>, EncodeError> {
    let backend = match codec {
        Codec::H264 => x264::backend(&settings),
        Codec::Vp8 => vpx::backend(&settings),
    };
    open_backend(codec, backend, settings)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> EncoderSettings {
        EncoderSettings {
            width: 320,
            height: 240,
            fps: 60,
            bitrate_kbps: 3000,
            scale: Scale::FULL,
        }
    }

    fn option<'a>(b: &'a Backend, key: &str) -> &'a str {
        b.options
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{} lacks option {key}", b.name))
    }

    #[test]
    fn x264_is_configured_for_zero_latency() {
        let b = x264::backend(&settings());
        assert_eq!(option(&b, "tune"), "zerolatency");
        assert_eq!(option(&b, "profile"), "baseline");
        assert_eq!(option(&b, "forced-idr"), "1");
        let params: Vec<&str> = option(&b, "x264-params").split(':').collect();
        for want in [
            "bframes=0",
            "rc-lookahead=0",
            "sync-lookahead=0",
            "keyint=infinite",
            "sliced-threads=1",
            "slices=4",
            "repeat-headers=1",
            "vbv-maxrate=3000",
            "vbv-bufsize=50", // one frame: 3000 kbit/s / 60 fps
        ] {
            assert!(
                params.contains(&want),
                "x264-params lacks {want}: {params:?}"
            );
        }
        assert_eq!(b.gop, None, "key frames only on demand");
    }

    #[test]
    fn vp8_is_configured_for_realtime() {
        let b = vpx::backend(&settings());
        assert_eq!(option(&b, "deadline"), "realtime");
        assert_eq!(option(&b, "lag-in-frames"), "0");
        assert_eq!(option(&b, "auto-alt-ref"), "0");
        assert!(b.cbr);
        assert_eq!(b.gop, None);
    }

    /// A frame whose content moves with `n`, so every frame differs.
    fn frame(n: u64) -> Frame {
        let (w, h) = (320u32, 240u32);
        let mut data = vec![0u8; (w * h * 4) as usize];
        for (i, px) in data.chunks_exact_mut(4).enumerate() {
            let (x, y) = (i as u64 % u64::from(w), i as u64 / u64::from(w));
            px[0] = (x + n * 3) as u8;
            px[1] = (y + n * 5) as u8;
            px[2] = (x ^ y) as u8;
        }
        Frame {
            data,
            width: w,
            height: h,
            stride: (w * 4) as usize,
            captured_at: Instant::now(),
            grabbed_at: Instant::now(),
            input_echo: Arc::default(),
            seq: n,
        }
    }

    #[test]
    fn every_codec_opens_and_encodes_at_odd_sizes() {
        for codec in Codec::ALL {
            for (w, h) in [(321, 240), (320, 241), (1281, 721)] {
                let s = EncoderSettings {
                    width: w,
                    height: h,
                    ..settings()
                };
                let mut enc = open(codec, s).unwrap_or_else(|e| panic!("{codec:?} {w}x{h}: {e}"));
                let mut f = frame(0);
                f.width = w;
                f.height = h;
                f.stride = w as usize * 4;
                f.data = vec![0x40; f.stride * h as usize];
                let unit = enc.encode(&f, true).expect("encodes");
                assert!(unit.keyframe && !unit.data.is_empty(), "{codec:?} {w}x{h}");
            }
        }
    }

    #[test]
    fn one_frame_in_one_access_unit_out_with_keyframes_on_demand() {
        for codec in Codec::ALL {
            let mut enc = open(codec, settings()).expect("software encoder opens");
            for n in 0..30u64 {
                let force = n == 0 || n == 17;
                let f = frame(n);
                let unit = enc.encode(&f, force).expect("encodes");
                assert!(
                    !unit.data.is_empty(),
                    "{codec:?}: frame {n} produced nothing"
                );
                assert_eq!(
                    unit.frame_seq, n,
                    "{codec:?}: output is not the frame just put in"
                );
                assert_eq!(unit.captured_at, f.captured_at);
                assert_eq!(unit.keyframe, force, "{codec:?}: frame {n} keyframe flag");
            }
        }
    }

    #[test]
    fn each_rung_codes_a_smaller_picture_of_the_same_screen() {
        assert_eq!(Scale::FULL.picture(1281, 721), (1281, 721));
        let sizes: Vec<_> = Scale::RUNGS.iter().map(|s| s.picture(1280, 720)).collect();
        assert_eq!(sizes, [(1280, 720), (960, 540), (640, 360), (426, 240)]);
        assert_eq!(Scale::RUNGS[2].picture(1281, 721), (640, 360));
        assert_eq!(Scale::RUNGS[3].picture(3, 3), (2, 2));
        for codec in Codec::ALL {
            let mut enc = open(
                codec,
                EncoderSettings {
                    scale: Scale::RUNGS[2],
                    ..settings()
                },
            )
            .expect("opens");
            let unit = enc.encode(&frame(0), true).expect("encodes");
            assert_eq!((unit.width, unit.height), (160, 120), "{codec:?}");
            assert_eq!(unit.screen, (320, 240), "{codec:?}");
            assert!(unit.keyframe && !unit.data.is_empty());
        }
    }

    #[test]
    fn a_frame_of_another_size_is_refused() {
        let mut enc = open(Codec::H264, settings()).expect("opens");
        let mut f = frame(0);
        f.width = 160;
        assert!(matches!(
            enc.encode(&f, false),
            Err(EncodeError::Size { .. })
        ));
    }

    /// A 320x240 frame of noise (a different one for each `n`): no encoder codes it small.
    fn noise(n: u64) -> Frame {
        let mut f = frame(n);
        let mut s = n.wrapping_add(1);
        for b in f.data.iter_mut() {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *b = (s >> 56) as u8;
        }
        f
    }

    /// x264 follows a new rate from the next frame on, without a reopen or a keyframe (FFmpeg's
    /// wrapper calls `x264_encoder_reconfig`). FFmpeg 5.1's libvpx wrapper reads its rate only
    /// when it opens (measured: still ~2000 kbit/s 60 frames after 200 was written), so VP8
    /// says no and the pipeline reopens it (a keyframe, at most once per
    /// `REOPEN_FOR_RATE_EVERY`).
    #[test]
    fn x264_takes_a_new_rate_between_frames_without_a_keyframe() {
        let fps = settings().fps as usize;
        let kbps = |sizes: &[(usize, bool)]| {
            let bytes: usize = sizes.iter().map(|(n, _)| n).sum();
            bytes * 8 * fps / sizes.len() / 1000
        };
        let mut enc = open(Codec::H264, settings()).expect("opens");
        assert!(enc.set_bitrate(2000));
        let mut sizes = vec![];
        for n in 0..180u64 {
            match n {
                60 => assert!(enc.set_bitrate(200)),
                120 => assert!(enc.set_bitrate(2000)),
                _ => {}
            }
            let unit = enc.encode(&noise(n), n == 0).expect("encodes");
            sizes.push((unit.data.len(), unit.keyframe));
        }
        assert!(
            sizes[1..].iter().all(|(_, key)| !key),
            "a keyframe after a rate change"
        );
        let (high, low, again) = (
            kbps(&sizes[30..60]),
            kbps(&sizes[75..120]),
            kbps(&sizes[135..180]),
        );
        // Noise at 2000 kbit/s fills most of it; at 200 the frames are a tenth of that.
        assert!(high > 1000 && again > 1000, "{high} {again} kbit/s at 2000");
        assert!(low < 300, "{low} kbit/s at 200 (from {high})");
        assert_eq!(enc.settings().bitrate_kbps, 2000);
        let mut vp8 = open(Codec::Vp8, settings()).expect("opens");
        assert!(!vp8.set_bitrate(200), "VP8 would keep its rate");
    }
}
