//! The FFmpeg encoder both software backends share: convert, send one frame, receive one
//! packet. Zero-latency settings guarantee that the packet comes out of the same call.

use ff::codec::{self, Flags};
use ff::format::Pixel;
use ff::{Dictionary, Packet, Rational};
use ffmpeg_next as ff;
use std::time::Instant;

use super::convert::{Converter, Scaler};
use super::{Backend, Codec, EncodeError, EncodedFrame, EncoderSettings, VideoEncoder};
use crate::capture::Frame;

pub(crate) struct FfmpegEncoder {
    codec: Codec,
    settings: EncoderSettings,
    name: &'static str,
    encoder: ff::encoder::Video,
    converter: Converter,
    /// On a lower rung: the converted screen, scaled to the coded picture.
    scaler: Option<Scaler>,
    packet: Packet,
    pts: i64,
}

// SAFETY: the FFmpeg context is owned by this value alone and only used through `&mut self`.
unsafe impl Send for FfmpegEncoder {}

impl FfmpegEncoder {
    pub(crate) fn open(
        codec_id: Codec,
        backend: Backend,
        settings: EncoderSettings,
    ) -> Result<Self, EncodeError> {
        super::init();
        let name = backend.name;
        let codec = ff::encoder::find_by_name(name).ok_or(EncodeError::Missing(name))?;
        let open_err = |source| EncodeError::Open { name, source };
        let mut enc = codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()
            .map_err(open_err)?;
        // H.264's 4:2:0 needs even sizes (libx264 refuses to open otherwise), and its SPS can
        // crop only by 2 pixels at a time: an odd size is coded a pixel larger, the extra
        // column or row a copy of the edge. Video pixel i is still screen pixel i, so the
        // page's pointer mapping stays exact (the extra column maps to the edge, where X
        // clamps the pointer). libvpx takes odd sizes as they are. A scaled picture is even.
        let pad = |(w, h): (u32, u32)| {
            if codec_id == Codec::H264 {
                (w.next_multiple_of(2), h.next_multiple_of(2))
            } else {
                (w, h)
            }
        };
        let (screen_w, screen_h) = pad((settings.width, settings.height));
        let picture = settings.scale.picture(settings.width, settings.height);
        let (coded_w, coded_h) = pad(picture);
        let scaler = if picture == (settings.width, settings.height) {
            None
        } else {
            Some(Scaler::new((screen_w, screen_h), (coded_w, coded_h))?)
        };
        enc.set_width(coded_w);
        enc.set_height(coded_h);
        enc.set_format(Pixel::YUV420P);
        enc.set_time_base(Rational::new(1, settings.fps as i32));
        enc.set_frame_rate(Some(Rational::new(settings.fps as i32, 1)));
        let bps = settings.bitrate_kbps as usize * 1000;
        enc.set_bit_rate(bps);
        enc.set_max_b_frames(0);
        enc.set_gop(backend.gop.unwrap_or(i32::MAX as u32));
        enc.set_flags(Flags::LOW_DELAY);
        enc.set_threading(ff::threading::Config {
            kind: ff::threading::Type::Slice,
            count: backend.threads,
            ..Default::default()
        });
        if backend.cbr {
            enc.set_max_bit_rate(bps);
            // SAFETY: plain integer fields of a context this function owns and has not opened.
            unsafe {
                let ctx = enc.as_mut_ptr();
                (*ctx).rc_min_rate = bps as i64;
                (*ctx).rc_buffer_size = (bps / settings.fps as usize * 2) as i32;
            }
        }
        let mut opts = Dictionary::new();
        for (k, v) in &backend.options {
            opts.set(k, v);
        }
        let encoder = enc.open_with(opts).map_err(open_err)?;
        Ok(Self {
            codec: codec_id,
            settings,
            name,
            encoder,
            converter: Converter::new(settings.width, settings.height, screen_w, screen_h)?,
            scaler,
            packet: Packet::empty(),
            pts: 0,
        })
    }
}

impl VideoEncoder for FfmpegEncoder {
    fn codec(&self) -> Codec {
        self.codec
    }

    fn settings(&self) -> EncoderSettings {
        self.settings
    }

    fn set_bitrate(&mut self, kbps: u32) -> bool {
        if self.name != "libx264" {
            return false;
        }
        let bps = i64::from(kbps) * 1000;
        // SAFETY: plain integer fields of the context this value owns, written between two
        // frames on the thread that encodes; FFmpeg's libx264 wrapper compares them with its
        // parameters before each frame and calls x264_encoder_reconfig when they differ.
        unsafe {
            let ctx = self.encoder.as_mut_ptr();
            (*ctx).bit_rate = bps;
            (*ctx).rc_max_rate = bps;
            (*ctx).rc_buffer_size = (bps / i64::from(self.settings.fps).max(1)).max(1000) as i32;
        }
        self.settings.bitrate_kbps = kbps;
        true
    }

    fn encode(&mut self, frame: &Frame, keyframe: bool) -> Result<EncodedFrame, EncodeError> {
        if frame.width != self.settings.width || frame.height != self.settings.height {
            return Err(EncodeError::Size {
                got_w: frame.width,
                got_h: frame.height,
                want_w: self.settings.width,
                want_h: self.settings.height,
            });
        }
        let started_at = Instant::now();
        self.converter.run(frame)?;
        let out = match &mut self.scaler {
            Some(scaler) => scaler.run(&self.converter.output)?,
            None => &mut self.converter.output,
        };
        let converted_at = Instant::now();
        let (out_w, out_h) = self.settings.scale.picture(frame.width, frame.height);
        out.set_pts(Some(self.pts));
        self.pts += 1;
        out.set_kind(if keyframe {
            ff::picture::Type::I
        } else {
            ff::picture::Type::None
        });
        self.encoder.send_frame(out).map_err(EncodeError::Encode)?;
        let mut data: Vec<u8> = Vec::new();
        let mut is_key = false;
        // One frame in, one access unit out: with these settings the packet is ready now.
        while self.encoder.receive_packet(&mut self.packet).is_ok() {
            if let Some(d) = self.packet.data() {
                data.extend_from_slice(d);
            }
            is_key |= self.packet.is_key();
        }
        if data.is_empty() {
            tracing::warn!(encoder = self.name, "encoder held a frame back");
        }
        Ok(EncodedFrame {
            codec: self.codec,
            data: data.into(),
            keyframe: is_key,
            captured_at: frame.captured_at,
            grabbed_at: frame.grabbed_at,
            started_at,
            converted_at,
            encoded_at: Instant::now(),
            width: out_w,
            height: out_h,
            screen: (frame.width, frame.height),
            tier: 0,
            rung: 0,
            frame_seq: frame.seq,
            input_echo: frame.input_echo.clone(),
        })
    }
}
