//! BGRX (X11 ZPixmap, depth 24) to I420, straight into the encoder's input frame.
//!
//! `yuvutils-rs` does it with SIMD (AVX2/SSE chosen at run time), BT.601 limited range, the
//! same colours swscale produced before; at 1280x720 it takes a fraction of swscale's 1.27 ms
//! (benches/RESULTS.md). The source rows are read in place, with their stride: no copy.
//!
//! The encoder's frame may be a pixel wider or taller than the source (H.264 at an odd size:
//! `ffmpeg.rs`); the extra luma column or row repeats the edge (the chroma planes, at half
//! size rounded up, already cover it).

use ffmpeg_next::format::Pixel;
use ffmpeg_next::util::frame::video::Video as VideoFrame;
use yuvutils_rs::{
    bgra_to_yuv420, BufferStoreMut, YuvConversionMode, YuvPlanarImageMut, YuvRange,
    YuvStandardMatrix,
};

use super::EncodeError;
use crate::capture::Frame;

pub struct Converter {
    width: u32,
    height: u32,
    /// The encoder's frame size: `width`, `height` or one more.
    coded: (u32, u32),
    pub output: VideoFrame,
}

// SAFETY: the frame is owned by one encoder and used from one thread at a time.
unsafe impl Send for Converter {}

impl Converter {
    /// Converts `width`x`height` frames into a `coded_w`x`coded_h` I420 frame (at most one
    /// pixel larger each way).
    pub fn new(width: u32, height: u32, coded_w: u32, coded_h: u32) -> Result<Self, EncodeError> {
        if !(width..=width + 1).contains(&coded_w) || !(height..=height + 1).contains(&coded_h) {
            return Err(EncodeError::ConvertSize);
        }
        Ok(Self {
            width,
            height,
            coded: (coded_w, coded_h),
            output: VideoFrame::new(Pixel::YUV420P, coded_w, coded_h),
        })
    }

    pub fn run(&mut self, frame: &Frame) -> Result<(), EncodeError> {
        if (frame.width, frame.height) != (self.width, self.height)
            || frame.data.len() < frame.stride * frame.height as usize
        {
            return Err(EncodeError::ConvertSize);
        }
        let (w, h) = (self.width as usize, self.height as usize);
        let (pw, ph) = (self.coded.0 as usize, self.coded.1 as usize);
        let (cw, ch) = (pw.div_ceil(2), ph.div_ceil(2));
        // SAFETY: `output` was allocated by FFmpeg for YUV420P at exactly this size, so plane 0
        // holds `linesize[0] * h` bytes and planes 1 and 2 `linesize[i] * ceil(h / 2)`; the
        // three planes are distinct allocations (or distinct parts of one), so the three
        // mutable slices do not overlap, and they live only during this call.
        let (y, u, v, strides) = unsafe {
            let f = &*self.output.as_ptr();
            let ls = [f.linesize[0], f.linesize[1], f.linesize[2]];
            if ls.iter().any(|&l| l <= 0)
                || (ls[0] as usize) < pw
                || (ls[1] as usize) < cw
                || (ls[2] as usize) < cw
            {
                return Err(EncodeError::ConvertSize);
            }
            let plane = |i: usize, rows: usize| {
                std::slice::from_raw_parts_mut(f.data[i], ls[i] as usize * rows)
            };
            (
                plane(0, ph),
                plane(1, ch),
                plane(2, ch),
                [ls[0] as u32, ls[1] as u32, ls[2] as u32],
            )
        };
        // The converter takes exactly the source's rows; a padding row is written after.
        let stride = strides[0] as usize;
        let (y, y_pad) = y.split_at_mut(stride * h);
        let mut image = YuvPlanarImageMut {
            y_plane: BufferStoreMut::Borrowed(y),
            y_stride: strides[0],
            u_plane: BufferStoreMut::Borrowed(u),
            u_stride: strides[1],
            v_plane: BufferStoreMut::Borrowed(v),
            v_stride: strides[2],
            width: self.width,
            height: self.height,
        };
        bgra_to_yuv420(
            &mut image,
            &frame.data,
            frame.stride as u32,
            YuvRange::Limited,
            YuvStandardMatrix::Bt601,
            YuvConversionMode::Balanced,
        )
        .map_err(|e| EncodeError::ConvertSimd(e.to_string()))?;
        drop(image);
        if pw > w {
            for row in y.chunks_mut(stride) {
                row[w] = row[w - 1];
            }
        }
        if ph > h {
            y_pad[..pw].copy_from_slice(&y[(h - 1) * stride..(h - 1) * stride + pw]);
        }
        Ok(())
    }
}

/// Scales an I420 picture down to the coded size of a lower rung, with FFmpeg's swscale
/// (area averaging: each coded pixel the mean of the screen pixels it covers, so thin text
/// strokes fade rather than vanish).
pub struct Scaler {
    context: ffmpeg_next::software::scaling::Context,
    pub output: VideoFrame,
}

// SAFETY: the scaling context and frame are owned by one encoder and used from one thread at a
// time.
unsafe impl Send for Scaler {}

impl Scaler {
    /// From `from` (the converted screen) to `to` (the coded picture), both I420.
    pub fn new(from: (u32, u32), to: (u32, u32)) -> Result<Self, EncodeError> {
        let context = ffmpeg_next::software::scaling::Context::get(
            Pixel::YUV420P,
            from.0,
            from.1,
            Pixel::YUV420P,
            to.0,
            to.1,
            ffmpeg_next::software::scaling::Flags::AREA,
        )
        .map_err(|source| EncodeError::Scale {
            width: to.0,
            height: to.1,
            source,
        })?;
        Ok(Self {
            context,
            output: VideoFrame::new(Pixel::YUV420P, to.0, to.1),
        })
    }

    /// Scales `input` into [`Scaler::output`], which it returns.
    pub fn run(&mut self, input: &VideoFrame) -> Result<&mut VideoFrame, EncodeError> {
        let (width, height) = (self.output.width(), self.output.height());
        self.context
            .run(input, &mut self.output)
            .map_err(|source| EncodeError::Scale {
                width,
                height,
                source,
            })?;
        Ok(&mut self.output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    fn solid(w: u32, h: u32, bgrx: [u8; 4]) -> Frame {
        let now = Instant::now();
        Frame {
            data: bgrx.repeat((w * h) as usize),
            width: w,
            height: h,
            stride: w as usize * 4,
            captured_at: now,
            grabbed_at: now,
            seq: 0,
            input_echo: Arc::default(),
        }
    }

    #[test]
    fn colours_land_where_bt601_limited_range_puts_them() {
        // (B, G, R, X) → expected (Y, U, V), within 1 of the BT.601 studio-swing values.
        for (bgrx, want) in [
            ([0, 0, 0, 255], (16, 128, 128)),
            ([255, 255, 255, 255], (235, 128, 128)),
            ([0, 0, 255, 255], (81, 90, 240)),
            ([0, 255, 0, 255], (145, 54, 34)),
            ([255, 0, 0, 255], (41, 240, 110)),
        ] {
            let mut c = Converter::new(64, 32, 64, 32).expect("converter");
            c.run(&solid(64, 32, bgrx)).expect("converts");
            let got = (
                c.output.data(0)[0],
                c.output.data(1)[0],
                c.output.data(2)[0],
            );
            let close = |a: u8, b: u8| a.abs_diff(b) <= 1;
            assert!(
                close(got.0, want.0) && close(got.1, want.1) && close(got.2, want.2),
                "{bgrx:?}: got {got:?}, want {want:?}"
            );
        }
    }

    #[test]
    fn a_scaled_picture_keeps_its_colours_and_halves_its_size() {
        // Left half red, right half white: after scaling to half size each side, the coded
        // picture is half red, half white, with the edge between them where it was.
        let (w, h) = (128u32, 64u32);
        let mut f = solid(w, h, [0, 0, 255, 255]);
        for (i, px) in f.data.chunks_exact_mut(4).enumerate() {
            if i % w as usize >= w as usize / 2 {
                px[..3].copy_from_slice(&[255, 255, 255]);
            }
        }
        let mut c = Converter::new(w, h, w, h).expect("converter");
        c.run(&f).expect("converts");
        let mut s = Scaler::new((w, h), (64, 32)).expect("scaler");
        let out = s.run(&c.output).expect("scales");
        assert_eq!((out.width(), out.height()), (64, 32));
        let stride = out.stride(0);
        let luma = out.data(0);
        assert!(
            luma[10 * stride + 5].abs_diff(81) <= 2,
            "red: {}",
            luma[10 * stride + 5]
        );
        assert!(
            luma[10 * stride + 60] >= 233,
            "white: {}",
            luma[10 * stride + 60]
        );
        assert!(
            luma[10 * stride + 30].abs_diff(81) <= 2,
            "the edge moved left"
        );
        assert!(luma[10 * stride + 33] >= 233, "the edge moved right");
        assert!(s
            .run(&Converter::new(64, 32, 64, 32).expect("c").output)
            .is_err());
    }

    #[test]
    fn a_frame_of_the_wrong_size_is_an_error() {
        let mut c = Converter::new(64, 32, 64, 32).expect("converter");
        assert!(c.run(&solid(32, 32, [0; 4])).is_err());
    }

    #[test]
    fn an_odd_source_fills_an_even_frame_with_its_edge() {
        let (w, h) = (65u32, 33u32);
        let mut f = solid(w, h, [0, 0, 0, 255]);
        // A white last column and last row: their luma must be repeated into the padding.
        for y in 0..h as usize {
            for x in 0..w as usize {
                if x == w as usize - 1 || y == h as usize - 1 {
                    f.data[(y * w as usize + x) * 4..][..3].copy_from_slice(&[255, 255, 255]);
                }
            }
        }
        let mut c = Converter::new(w, h, 66, 34).expect("converter");
        c.run(&f).expect("converts");
        let stride = c.output.stride(0);
        let luma = c.output.data(0);
        assert!(luma[10 * stride + 65] >= 234, "padding column");
        assert!(luma[33 * stride + 10] >= 234, "padding row");
        assert!(luma[33 * stride + 65] >= 234, "padding corner");
        assert!(luma[10 * stride + 10] <= 17, "inside stays black");
        assert!(
            Converter::new(64, 32, 66, 32).is_err(),
            "at most one pixel larger"
        );
    }
}
