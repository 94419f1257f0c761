//! BGRX (X11 ZPixmap, depth 24) to I420 with swscale.

use ffmpeg_next::format::Pixel;
use ffmpeg_next::software::scaling::{Context as Scaler, Flags};
use ffmpeg_next::util::frame::video::Video as VideoFrame;

use super::EncodeError;
use crate::capture::Frame;

pub struct Converter {
    scaler: Scaler,
    input: VideoFrame,
    pub output: VideoFrame,
}

// SAFETY: the scaler and frames are owned by one encoder and used from one thread at a time;
// swscale contexts have no thread affinity.
unsafe impl Send for Converter {}

impl Converter {
    pub fn new(width: u32, height: u32) -> Result<Self, EncodeError> {
        let scaler = Scaler::get(
            Pixel::BGRZ,
            width,
            height,
            Pixel::YUV420P,
            width,
            height,
            Flags::POINT,
        )
        .map_err(EncodeError::Convert)?;
        Ok(Self {
            scaler,
            input: VideoFrame::new(Pixel::BGRZ, width, height),
            output: VideoFrame::new(Pixel::YUV420P, width, height),
        })
    }

    pub fn run(&mut self, frame: &Frame) -> Result<(), EncodeError> {
        let dst_stride = self.input.stride(0);
        let row = frame.width as usize * 4;
        let dst = self.input.data_mut(0);
        for (y, src) in frame
            .data
            .chunks_exact(frame.stride)
            .take(frame.height as usize)
            .enumerate()
        {
            dst[y * dst_stride..y * dst_stride + row].copy_from_slice(&src[..row]);
        }
        self.scaler
            .run(&self.input, &mut self.output)
            .map_err(EncodeError::Convert)
    }
}
