//! Screen capture: one backend per file behind [`Capture`].

pub mod testpattern;
pub mod x11;

use std::sync::Arc;
use std::time::Instant;

use crate::peer::PeerId;

use thiserror::Error;

/// One captured picture, BGRX (4 bytes per pixel, X11 ZPixmap at depth 24/32).
#[derive(Debug, Clone)]
pub struct Frame {
    pub data: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// Bytes per row.
    pub stride: usize,
    /// When the pixels were read from the source: the start of this frame's latency.
    pub captured_at: Instant,
    /// When the pixels were all read: capture took `grabbed_at - captured_at`.
    pub grabbed_at: Instant,
    /// Counts captured frames from 0.
    pub seq: u64,
    /// Per peer, the newest input packet injected before this frame was captured.
    pub input_echo: Arc<Vec<(PeerId, u32)>>,
}

#[derive(Debug, Error)]
pub enum CaptureError {
    #[error("cannot connect to X display {display}: {reason}")]
    Connect { display: String, reason: String },
    #[error("the X server lacks {0}")]
    Unsupported(&'static str),
    #[error("unsupported pixel format: depth {depth}, {bpp} bits per pixel")]
    Format { depth: u8, bpp: u8 },
    #[error("{width}x{height} is too small: the test pattern needs at least {min_w}x{min_h}")]
    TooSmall {
        width: u32,
        height: u32,
        min_w: u32,
        min_h: u32,
    },
    #[error("shared memory: {0}")]
    Shm(std::io::Error),
    /// The source changed (size, display): rebuild the capture and the encoder.
    #[error("display geometry changed to {width}x{height}")]
    Reinit { width: u32, height: u32 },
    /// The display is gone; the session cannot continue.
    #[error("lost the X display: {0}")]
    Lost(String),
    /// The game's core process ended (a crash, said how).
    #[error("{0}")]
    CoreDied(String),
}

/// A source of frames. `grab` fills `frame.data` (reusing its allocation).
pub trait Capture {
    fn size(&self) -> (u32, u32);
    fn grab(&mut self, into: &mut Vec<u8>) -> Result<(), CaptureError>;

    /// Waits until `deadline`, or less when the source knows its picture changed; returns
    /// whether it did. Sources that cannot tell just sleep (every frame is "maybe changed").
    fn wait_for_change(&mut self, deadline: Instant) -> Result<bool, CaptureError> {
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        Ok(false)
    }
}
