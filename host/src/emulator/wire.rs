//! The pipe protocol between glint and its core process (`glint --core-worker`).
//!
//! Every message is a tag byte, a little-endian `u32` payload length, then the payload. glint
//! writes [`ToCore`] on the worker's stdin; the worker writes [`FromCore`] on its stdout. A
//! length beyond [`MAX_PAYLOAD`] or a payload that does not parse is an error, never a panic:
//! the reader stops and the session ends with that message.

use std::io::{self, Read, Write};

use glint_emulators::PORTS;
use thiserror::Error;

/// Largest payload accepted: a 4K BGRX picture is 33 MB.
pub const MAX_PAYLOAD: usize = 64 << 20;

#[derive(Debug, Error)]
pub enum WireError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("malformed message from the other process: {0}")]
    Malformed(String),
}

/// glint → core process.
#[derive(Debug, Clone, PartialEq)]
pub enum ToCore {
    /// Each port's buttons from now on, and the buttons pressed since the previous message
    /// even if released again (`taps`: the core shows each for one frame). `gen` comes back
    /// with every frame run with them.
    Pads {
        gen: u64,
        pads: [u16; PORTS],
        taps: [u16; PORTS],
    },
    Save,
    Load,
    /// Move the frame clock by this many microseconds (later when positive): the phase of
    /// the playing page's compositor (`crate::phase`).
    Shift {
        us: i64,
    },
}

/// Core process → glint. A picture's pixels travel next to the message, in the caller's
/// buffer (see [`read_from_core`]), so the frame pool keeps working across the pipe.
#[derive(Debug, Clone, PartialEq)]
pub enum FromCore {
    /// The game is loaded.
    Ready {
        fps: f64,
        sample_rate: f64,
        core: String,
    },
    /// The core or the game did not load; the process exits after this.
    Failed { message: String },
    /// A picture of `width × height` BGRX pixels, run with the pads of `gen`, whose frame
    /// started `age_us` before it was written.
    Frame {
        gen: u64,
        age_us: u32,
        width: u32,
        height: u32,
    },
    /// Interleaved stereo at the core's rate; the first sample was due `age_us` ago.
    Audio { age_us: u32, samples: Vec<i16> },
    /// The answer to a Save or Load, in order.
    Reply { ok: bool, message: String },
}

const PADS: u8 = 1;
const PADS_LEN: usize = 8 + 4 * PORTS;
const SAVE: u8 = 2;
const LOAD: u8 = 3;
const SHIFT: u8 = 4;

const READY: u8 = 10;
const FAILED: u8 = 11;
const FRAME: u8 = 12;
const AUDIO: u8 = 13;
const REPLY: u8 = 14;

fn header(w: &mut impl Write, tag: u8, len: usize) -> io::Result<()> {
    let len = u32::try_from(len).map_err(|_| io::Error::other("message too large"))?;
    let mut h = [0u8; 5];
    h[0] = tag;
    h[1..].copy_from_slice(&len.to_le_bytes());
    w.write_all(&h)
}

pub fn write_to_core(w: &mut impl Write, msg: &ToCore) -> io::Result<()> {
    match msg {
        ToCore::Pads { gen, pads, taps } => {
            let mut p = gen.to_le_bytes().to_vec();
            for b in pads.iter().chain(taps) {
                p.extend_from_slice(&b.to_le_bytes());
            }
            header(w, PADS, p.len())?;
            w.write_all(&p)?;
        }
        ToCore::Save => header(w, SAVE, 0)?,
        ToCore::Load => header(w, LOAD, 0)?,
        ToCore::Shift { us } => {
            header(w, SHIFT, 8)?;
            w.write_all(&us.to_le_bytes())?;
        }
    }
    w.flush()
}

/// Writes one message; for [`FromCore::Frame`], `pixels` are its BGRX bytes.
pub fn write_from_core(w: &mut impl Write, msg: &FromCore, pixels: &[u8]) -> io::Result<()> {
    match msg {
        FromCore::Ready {
            fps,
            sample_rate,
            core,
        } => {
            let mut p = fps.to_le_bytes().to_vec();
            p.extend_from_slice(&sample_rate.to_le_bytes());
            p.extend_from_slice(core.as_bytes());
            header(w, READY, p.len())?;
            w.write_all(&p)?;
        }
        FromCore::Failed { message } => {
            header(w, FAILED, message.len())?;
            w.write_all(message.as_bytes())?;
        }
        FromCore::Frame {
            gen,
            age_us,
            width,
            height,
        } => {
            header(w, FRAME, 20 + pixels.len())?;
            w.write_all(&gen.to_le_bytes())?;
            w.write_all(&age_us.to_le_bytes())?;
            w.write_all(&width.to_le_bytes())?;
            w.write_all(&height.to_le_bytes())?;
            w.write_all(pixels)?;
        }
        FromCore::Audio { age_us, samples } => {
            header(w, AUDIO, 4 + samples.len() * 2)?;
            w.write_all(&age_us.to_le_bytes())?;
            let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
            w.write_all(&bytes)?;
        }
        FromCore::Reply { ok, message } => {
            header(w, REPLY, 1 + message.len())?;
            w.write_all(&[u8::from(*ok)])?;
            w.write_all(message.as_bytes())?;
        }
    }
    w.flush()
}

/// Reads a header; `Ok(None)` at a clean end of the stream.
fn read_header(r: &mut impl Read) -> Result<Option<(u8, usize)>, WireError> {
    let mut h = [0u8; 5];
    match r.read_exact(&mut h[..1]) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    r.read_exact(&mut h[1..])?;
    let len = u32::from_le_bytes([h[1], h[2], h[3], h[4]]) as usize;
    if len > MAX_PAYLOAD {
        return Err(WireError::Malformed(format!(
            "a {len}-byte message (at most {MAX_PAYLOAD})"
        )));
    }
    Ok(Some((h[0], len)))
}

fn payload(r: &mut impl Read, len: usize) -> Result<Vec<u8>, WireError> {
    let mut p = vec![0u8; len];
    r.read_exact(&mut p)?;
    Ok(p)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn bad(what: &str, tag: u8, len: usize) -> WireError {
    WireError::Malformed(format!("{what}: tag {tag}, {len} bytes"))
}

/// The next message for the core; `Ok(None)` when glint closed the pipe.
pub fn read_to_core(r: &mut impl Read) -> Result<Option<ToCore>, WireError> {
    let Some((tag, len)) = read_header(r)? else {
        return Ok(None);
    };
    let p = payload(r, len)?;
    Ok(Some(match (tag, len) {
        (PADS, PADS_LEN) => {
            let mut gen = [0u8; 8];
            gen.copy_from_slice(&p[..8]);
            let at = |i: usize| u16::from_le_bytes([p[8 + 2 * i], p[9 + 2 * i]]);
            ToCore::Pads {
                gen: u64::from_le_bytes(gen),
                pads: std::array::from_fn(at),
                taps: std::array::from_fn(|i| at(PORTS + i)),
            }
        }
        (SAVE, 0) => ToCore::Save,
        (LOAD, 0) => ToCore::Load,
        (SHIFT, 8) => {
            let mut us = [0u8; 8];
            us.copy_from_slice(&p);
            ToCore::Shift {
                us: i64::from_le_bytes(us),
            }
        }
        _ => return Err(bad("unknown message to the core", tag, len)),
    }))
}

/// The next message from the core; a picture's pixels are read into `pixels` (resized).
/// `Ok(None)` when the core process closed its end.
pub fn read_from_core(
    r: &mut impl Read,
    pixels: &mut Vec<u8>,
) -> Result<Option<FromCore>, WireError> {
    let Some((tag, len)) = read_header(r)? else {
        return Ok(None);
    };
    let u32_at = |p: &[u8], i: usize| u32::from_le_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]);
    Ok(Some(match tag {
        FRAME if len >= 20 => {
            let mut h = [0u8; 20];
            r.read_exact(&mut h)?;
            let (width, height) = (u32_at(&h, 12), u32_at(&h, 16));
            // Checked: 2^31 x 2^31 x 4 wraps to 0 and would pass for a picture of no bytes.
            let want = (width as usize)
                .checked_mul(height as usize)
                .and_then(|n| n.checked_mul(4));
            let Some(want) = want.filter(|&n| n == len - 20) else {
                return Err(WireError::Malformed(format!(
                    "a {width}x{height} picture in {} bytes",
                    len - 20
                )));
            };
            pixels.resize(want, 0);
            r.read_exact(pixels)?;
            let mut gen = [0u8; 8];
            gen.copy_from_slice(&h[..8]);
            FromCore::Frame {
                gen: u64::from_le_bytes(gen),
                age_us: u32_at(&h, 8),
                width,
                height,
            }
        }
        AUDIO if len >= 4 && len % 2 == 0 => {
            let p = payload(r, len)?;
            FromCore::Audio {
                age_us: u32_at(&p, 0),
                samples: p[4..]
                    .chunks_exact(2)
                    .map(|c| i16::from_le_bytes([c[0], c[1]]))
                    .collect(),
            }
        }
        READY if len >= 16 => {
            let p = payload(r, len)?;
            let f = |i: usize| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&p[i..i + 8]);
                f64::from_le_bytes(b)
            };
            FromCore::Ready {
                fps: f(0),
                sample_rate: f(8),
                core: text(&p[16..]),
            }
        }
        FAILED => FromCore::Failed {
            message: text(&payload(r, len)?),
        },
        REPLY if len >= 1 => {
            let p = payload(r, len)?;
            FromCore::Reply {
                ok: p[0] == 1,
                message: text(&p[1..]),
            }
        }
        _ => return Err(bad("unknown message from the core", tag, len)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(msg: FromCore, pixels: &[u8]) -> (FromCore, Vec<u8>) {
        let mut buf = Vec::new();
        write_from_core(&mut buf, &msg, pixels).expect("write");
        let mut got = Vec::new();
        let back = read_from_core(&mut buf.as_slice(), &mut got)
            .expect("read")
            .expect("a message");
        (back, got)
    }

    #[test]
    fn every_message_survives_the_pipe() {
        let frame = FromCore::Frame {
            gen: 7,
            age_us: 1234,
            width: 2,
            height: 3,
        };
        let px: Vec<u8> = (0..24).collect();
        assert_eq!(round_trip(frame.clone(), &px), (frame, px));
        for msg in [
            FromCore::Ready {
                fps: 60.0988,
                sample_rate: 44100.0,
                core: "Nestopia 1.52".into(),
            },
            FromCore::Failed {
                message: "the core refused x.nes".into(),
            },
            FromCore::Audio {
                age_us: 9,
                samples: vec![-32768, 0, 32767, 5],
            },
            FromCore::Reply {
                ok: false,
                message: "no saved state yet".into(),
            },
        ] {
            assert_eq!(round_trip(msg.clone(), &[]).0, msg);
        }
        for msg in [
            ToCore::Pads {
                gen: u64::MAX,
                pads: [1, 2, 0x8000, 0],
                taps: [0, 8, 0, 0xffff],
            },
            ToCore::Save,
            ToCore::Load,
            ToCore::Shift { us: -4321 },
        ] {
            let mut buf = Vec::new();
            write_to_core(&mut buf, &msg).expect("write");
            let back = read_to_core(&mut buf.as_slice()).expect("read");
            assert_eq!(back, Some(msg));
        }
    }

    #[test]
    fn a_closed_pipe_is_the_end_and_garbage_is_an_error() {
        assert!(matches!(read_to_core(&mut &[][..]), Ok(None)));
        assert!(matches!(
            read_from_core(&mut &[][..], &mut Vec::new()),
            Ok(None)
        ));
        // A cut-off header or payload.
        assert!(matches!(
            read_to_core(&mut &[PADS, 16, 0][..]),
            Err(WireError::Io(_))
        ));
        // An absurd length is refused before anything is allocated.
        assert!(matches!(
            read_from_core(&mut &[FRAME, 0xff, 0xff, 0xff, 0xff][..], &mut Vec::new()),
            Err(WireError::Malformed(_))
        ));
        // A picture whose size disagrees with its byte count.
        let mut buf = Vec::new();
        let frame = FromCore::Frame {
            gen: 0,
            age_us: 0,
            width: 100,
            height: 100,
        };
        write_from_core(&mut buf, &frame, &[0; 16]).expect("write");
        assert!(matches!(
            read_from_core(&mut buf.as_slice(), &mut Vec::new()),
            Err(WireError::Malformed(_))
        ));
        // A size whose byte count overflows (2^31 x 2^31 x 4 is 2^64): found by fuzzing; it
        // wrapped to 0 in release builds and passed for an empty picture.
        for (width, height) in [(1 << 31, 1 << 31), (u32::MAX, u32::MAX)] {
            let mut buf = vec![FRAME, 20, 0, 0, 0];
            buf.extend_from_slice(&[0; 12]);
            buf.extend_from_slice(&u32::to_le_bytes(width));
            buf.extend_from_slice(&u32::to_le_bytes(height));
            assert!(
                matches!(
                    read_from_core(&mut buf.as_slice(), &mut Vec::new()),
                    Err(WireError::Malformed(_))
                ),
                "{width}x{height}"
            );
        }
        // Unknown tags, and known tags with the wrong size.
        assert!(read_to_core(&mut &[99, 0, 0, 0, 0][..]).is_err());
        assert!(read_to_core(&mut &[SAVE, 1, 0, 0, 0, 0][..]).is_err());
        assert!(read_from_core(&mut &[AUDIO, 1, 0, 0, 0, 0][..], &mut Vec::new()).is_err());
    }
}
