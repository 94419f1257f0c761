//! A synthetic source that needs no X server: scrolling colour bars (so the encoder has real
//! motion to code), a block code in the top-left corner that carries the frame number and the
//! capture time, a large region (the bottom-right quarter) that flips between black and
//! white on every key press or click the host receives, and a bottom-left quarter that flashes
//! white for the first 100 ms of every 2 s of wall-clock time, exactly when the test pattern's
//! sound beeps (`audio/tone.rs`), for measuring audio/video sync.
//!
//! The block code is the contract with whoever reads the picture back (the browser tests and
//! benches, `web-client/src/blockcode.js`): [`CODE_ROWS`] rows of [`CODE_COLS`] square blocks
//! of [`BLOCK`] pixels at (0, 0), white = 1, most significant bit first. Row 0 holds the frame
//! number (u32) then a check byte; row 1 holds the capture time (Unix milliseconds, low 32
//! bits) then a check byte. The check byte of a word is the XOR of its four bytes and 0xA5, so
//! a half-updated or smeared picture does not decode as a wrong number.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Capture, CaptureError};
use crate::audio::tone;

/// Side of one code block, in pixels.
pub const BLOCK: usize = 16;
/// Blocks per code row: 32 data bits and 8 check bits.
pub const CODE_COLS: usize = 40;
pub const CODE_ROWS: usize = 2;
/// The smallest picture the pattern draws into: the code strip must fit with room to spare.
pub const MIN_SIZE: (u32, u32) = (640, 360);

/// Horizontal scroll of the bars per frame, in pixels.
const SCROLL: usize = 4;
/// Width of one colour bar.
const BAR: usize = 80;
/// BGRX colours of the bars.
const COLOURS: [[u8; 4]; 8] = [
    [0xc0, 0xc0, 0xc0, 0xff],
    [0x00, 0xc0, 0xc0, 0xff],
    [0xc0, 0xc0, 0x00, 0xff],
    [0x00, 0xc0, 0x00, 0xff],
    [0xc0, 0x00, 0xc0, 0xff],
    [0x00, 0x00, 0xc0, 0xff],
    [0xc0, 0x00, 0x00, 0xff],
    [0x20, 0x20, 0x20, 0xff],
];
/// Rows per horizontal band of bars; each band is offset by one bar from the one above.
const BAND: usize = 90;

const WHITE: [u8; 4] = [0xff, 0xff, 0xff, 0xff];
const BLACK: [u8; 4] = [0x00, 0x00, 0x00, 0xff];

/// Presses counted by the input side; the pattern shows their parity.
#[derive(Debug, Default, Clone)]
pub struct Presses(Arc<AtomicU64>);

impl Presses {
    pub fn press(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The check byte of a code word.
pub fn check_byte(word: u32) -> u8 {
    word.to_be_bytes().iter().fold(0xa5, |acc, b| acc ^ b)
}

/// The 40 bits of one code row: the word, then its check byte, most significant bit first.
fn row_bits(word: u32) -> u64 {
    (u64::from(word) << 8) | u64::from(check_byte(word))
}

/// Reads the block code back from a BGRX picture: (frame number, capture time in Unix ms).
/// `None` when the strip does not decode or a check byte does not match.
pub fn read_code(data: &[u8], stride: usize) -> Option<(u32, u32)> {
    let mut words = [0u32; CODE_ROWS];
    for (row, word) in words.iter_mut().enumerate() {
        let mut bits = 0u64;
        for col in 0..CODE_COLS {
            let (x, y) = (col * BLOCK + BLOCK / 2, row * BLOCK + BLOCK / 2);
            let green = *data.get(y * stride + x * 4 + 1)?;
            bits = (bits << 1) | u64::from(green >= 128);
        }
        let value = (bits >> 8) as u32;
        if check_byte(value) != (bits & 0xff) as u8 {
            return None;
        }
        *word = value;
    }
    Some((words[0], words[1]))
}

/// Whether the flip region of a BGRX picture is white (true) or black (false); `None` when it
/// is neither (mid-transition or not this pattern).
pub fn read_flip(data: &[u8], stride: usize, width: u32, height: u32) -> Option<bool> {
    let (x, y) = (width as usize * 3 / 4, height as usize * 3 / 4);
    let green = *data.get(y * stride + x * 4 + 1)?;
    match green {
        0..=63 => Some(false),
        192..=255 => Some(true),
        _ => None,
    }
}

pub struct TestPattern {
    width: usize,
    height: usize,
    frame: u32,
    presses: Presses,
    /// One row per band, `width + period` pixels wide, so a scrolled row is a plain copy.
    bands: Vec<Vec<u8>>,
}

impl TestPattern {
    pub fn new(width: u32, height: u32, presses: Presses) -> Result<Self, CaptureError> {
        if width < MIN_SIZE.0 || height < MIN_SIZE.1 {
            return Err(CaptureError::TooSmall {
                width,
                height,
                min_w: MIN_SIZE.0,
                min_h: MIN_SIZE.1,
            });
        }
        let (w, h) = (width as usize, height as usize);
        let period = BAR * COLOURS.len();
        let bands = (0..h.div_ceil(BAND))
            .map(|band| {
                (0..w + period)
                    .flat_map(|x| COLOURS[(x / BAR + band) % COLOURS.len()])
                    .collect()
            })
            .collect();
        Ok(Self {
            width: w,
            height: h,
            frame: 0,
            presses,
            bands,
        })
    }

    fn draw_code(&self, data: &mut [u8], stride: usize, row: usize, word: u32) {
        let bits = row_bits(word);
        for col in 0..CODE_COLS {
            let on = bits >> (CODE_COLS - 1 - col) & 1 == 1;
            let px = if on { WHITE } else { BLACK };
            for y in row * BLOCK..(row + 1) * BLOCK {
                let start = y * stride + col * BLOCK * 4;
                for chunk in data[start..start + BLOCK * 4].chunks_exact_mut(4) {
                    chunk.copy_from_slice(&px);
                }
            }
        }
    }
}

impl Capture for TestPattern {
    fn size(&self) -> (u32, u32) {
        (self.width as u32, self.height as u32)
    }

    fn grab(&mut self, into: &mut Vec<u8>) -> Result<(), CaptureError> {
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let now_ms = unix_ms as u32;
        let (w, h) = (self.width, self.height);
        let stride = w * 4;
        into.resize(stride * h, 0);
        let period = BAR * COLOURS.len();
        let offset = (self.frame as usize * SCROLL) % period;
        for (y, row) in into.chunks_exact_mut(stride).enumerate() {
            let band = &self.bands[y / BAND];
            row.copy_from_slice(&band[offset * 4..offset * 4 + stride]);
        }
        let flip = if self.presses.count() % 2 == 1 {
            WHITE
        } else {
            BLACK
        };
        let flash = if tone::beep_on(unix_ms) { WHITE } else { BLACK };
        for row in into.chunks_exact_mut(stride).skip(h / 2) {
            let (left, right) = row.split_at_mut(w / 2 * 4);
            for px in left.chunks_exact_mut(4) {
                px.copy_from_slice(&flash);
            }
            for px in right.chunks_exact_mut(4) {
                px.copy_from_slice(&flip);
            }
        }
        self.draw_code(into, stride, 0, self.frame);
        self.draw_code(into, stride, 1, now_ms);
        self.frame = self.frame.wrapping_add(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grab(p: &mut TestPattern) -> Vec<u8> {
        let mut v = Vec::new();
        p.grab(&mut v).expect("a pattern always draws");
        v
    }

    #[test]
    fn the_code_reads_back_frame_numbers_and_the_capture_time() {
        let mut p = TestPattern::new(1280, 720, Presses::default()).expect("size ok");
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis() as u32;
        for want in 0..5u32 {
            let frame = grab(&mut p);
            let (n, ms) = read_code(&frame, 1280 * 4).expect("code decodes");
            assert_eq!(n, want);
            assert!(ms.wrapping_sub(before) < 5_000, "time {ms} vs {before}");
        }
    }

    #[test]
    fn a_damaged_code_is_refused_not_misread() {
        let mut p = TestPattern::new(640, 360, Presses::default()).expect("size ok");
        let mut frame = grab(&mut p);
        // Flip one data block of row 0 to white.
        let stride = 640 * 4;
        for y in 0..BLOCK {
            for x in 3 * BLOCK..4 * BLOCK {
                frame[y * stride + x * 4..y * stride + x * 4 + 4].copy_from_slice(&WHITE);
            }
        }
        assert_eq!(read_code(&frame, stride), None);
    }

    #[test]
    fn the_flip_region_follows_presses_and_the_scene_moves() {
        let presses = Presses::default();
        let mut p = TestPattern::new(1280, 720, presses.clone()).expect("size ok");
        let a = grab(&mut p);
        assert_eq!(read_flip(&a, 1280 * 4, 1280, 720), Some(false));
        presses.press();
        let b = grab(&mut p);
        assert_eq!(read_flip(&b, 1280 * 4, 1280, 720), Some(true));
        presses.press();
        let c = grab(&mut p);
        assert_eq!(read_flip(&c, 1280 * 4, 1280, 720), Some(false));
        // The bars scroll: the middle of the top-left quarter changes between frames.
        let at = (200 * 1280 + 600) * 4;
        let differs = [&a, &b, &c]
            .windows(2)
            .any(|w| w[0][at..at + 4 * 64] != w[1][at..at + 4 * 64]);
        assert!(differs, "the scene does not move");
    }

    #[test]
    fn the_bottom_left_flashes_with_the_beep() {
        let mut p = TestPattern::new(640, 360, Presses::default()).expect("size ok");
        let at = (270 * 640 + 160) * 4 + 1; // green of a pixel in the bottom-left quarter
                                            // Sample until both states were seen, checking each against the wall clock.
        let (mut white, mut black) = (false, false);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !(white && black) && std::time::Instant::now() < deadline {
            let before = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
            let frame = grab(&mut p);
            let after = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
            let (b, a) = (before.as_millis() as u64, after.as_millis() as u64);
            if tone::beep_on(b) == tone::beep_on(a) {
                assert_eq!(
                    frame[at] == 0xff,
                    tone::beep_on(b),
                    "flash out of step with the beep"
                );
            }
            white |= frame[at] == 0xff;
            black |= frame[at] == 0;
            std::thread::sleep(std::time::Duration::from_millis(7));
        }
        assert!(white && black, "the flash never showed both states");
    }

    #[test]
    fn the_check_byte_matches_the_web_client() {
        // Same figures as web-client/test/blockcode.test.mjs.
        assert_eq!(check_byte(0x1234_5678), 0xad);
        assert_eq!(check_byte(0), 0xa5);
    }

    #[test]
    fn too_small_is_an_error() {
        assert!(TestPattern::new(320, 240, Presses::default()).is_err());
    }
}
