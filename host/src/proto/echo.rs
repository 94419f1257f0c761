//! The frame echo: one message per frame on the frames that follow new input from the page
//! (`session::fanout::ECHO_FRAMES`; fewer and spaced on a narrow link), on the `control` data
//! channel (host → page).
//! It tells the page which of its input packets the frame's picture already shows, and which of
//! them an earlier frame showed first, for click-to-photon measured in the page. Layout
//! (little-endian, 22 bytes):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | type: 1 |
//! | 1 | 4 | RTP timestamp of the frame (90 kHz) |
//! | 5 | 1 | flags: bit 0 set when `input_seq` is meaningful, bit 1 when `since_seq` is |
//! | 6 | 4 | the newest input packet of this peer that changed the host, injected before the capture |
//! | 10 | 4 | host time from capture start to this write, µs (saturating) |
//! | 14 | 4 | capture wall-clock time, Unix ms, low 32 bits |
//! | 18 | 4 | `since_seq`: the input the frames before `input_seq` first showed had shown |
//!
//! Packets after `since_seq` up to `input_seq` first show in the frame where `input_seq` first
//! showed: this frame, or an earlier one of the same run of echoes (whose echo was lost). A
//! press at or before `since_seq` first showed in a frame that may have had no echo (runs are
//! spaced on a narrow link), and the page does not time it: a later frame is not its photon.
//!
//! The host also says it is alive on `control` every [`ALIVE_EVERY`], whether or not frames
//! go out (a still screen sends none): one byte, [`MSG_ALIVE`]. A page that hears nothing for
//! a few of these says so over its still picture, long before its browser's ICE calls the
//! connection `disconnected` (a host that stalled, a link gone).

use std::time::Duration;

/// Message type of the frame echo on the control channel.
pub const MSG_FRAME_ECHO: u8 = 1;
/// Message type of the host's word that it is alive (the whole message).
pub const MSG_ALIVE: u8 = 2;
/// How often the host says it is alive to each connected page.
pub const ALIVE_EVERY: Duration = Duration::from_millis(500);
/// Length of an encoded echo.
pub const LEN: usize = 22;

/// One frame echo; see the module's table for each field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameEcho {
    pub rtp_timestamp: u32,
    pub input_seq: Option<u32>,
    pub since_seq: Option<u32>,
    pub host: Duration,
    pub capture_unix_ms: u32,
}

impl FrameEcho {
    pub fn encode(&self) -> [u8; LEN] {
        let mut m = [0u8; LEN];
        m[0] = MSG_FRAME_ECHO;
        m[1..5].copy_from_slice(&self.rtp_timestamp.to_le_bytes());
        m[5] = u8::from(self.input_seq.is_some()) | u8::from(self.since_seq.is_some()) << 1;
        m[6..10].copy_from_slice(&self.input_seq.unwrap_or(0).to_le_bytes());
        let host_us = self.host.as_micros().min(u128::from(u32::MAX)) as u32;
        m[10..14].copy_from_slice(&host_us.to_le_bytes());
        m[14..18].copy_from_slice(&self.capture_unix_ms.to_le_bytes());
        m[18..22].copy_from_slice(&self.since_seq.unwrap_or(0).to_le_bytes());
        m
    }

    /// The echo in `b`, or `None` when it is not one (wrong length or type).
    pub fn decode(b: &[u8]) -> Option<Self> {
        let b: &[u8; LEN] = b.try_into().ok()?;
        if b[0] != MSG_FRAME_ECHO {
            return None;
        }
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Some(Self {
            rtp_timestamp: u32_at(1),
            input_seq: (b[5] & 1 == 1).then(|| u32_at(6)),
            host: Duration::from_micros(u64::from(u32_at(10))),
            capture_unix_ms: u32_at(14),
            since_seq: (b[5] & 2 == 2).then(|| u32_at(18)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{from_hex, golden};

    #[test]
    fn golden_echoes_encode_and_decode_exactly() {
        let g = golden("echo-v2.json");
        for v in g["vectors"].as_array().expect("vectors") {
            let e = &v["echo"];
            let echo = FrameEcho {
                rtp_timestamp: e["rtpTimestamp"].as_u64().expect("ts") as u32,
                input_seq: e["inputSeq"].as_u64().map(|s| s as u32),
                since_seq: e["sinceSeq"].as_u64().map(|s| s as u32),
                host: Duration::from_micros(e["hostUs"].as_u64().expect("host")),
                capture_unix_ms: e["captureUnixMs"].as_u64().expect("ms") as u32,
            };
            let bytes = from_hex(v["hex"].as_str().expect("hex"));
            assert_eq!(echo.encode().to_vec(), bytes, "{}", v["name"]);
            assert_eq!(FrameEcho::decode(&bytes), Some(echo), "{}", v["name"]);
        }
        for m in g["malformed"].as_array().expect("malformed") {
            let bytes = from_hex(m["hex"].as_str().expect("hex"));
            assert_eq!(FrameEcho::decode(&bytes), None, "{}", m["name"]);
        }
    }
}
