//! One Opus packet on the `audio` data channel (host → page), for the page's own playout.
//! Each packet repeats the previous one, so a page that lost one packet (the channel never
//! resends) plays it from the next; on a narrow link every other packet is left out and the
//! next carries its frame (`session::rate::AUDIO_PAIRED_UNDER_KBPS`). Layout (little-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | version: 1 |
//! | 1 | 4 | 48 kHz timestamp of the first sample (the Opus track's RTP clock) |
//! | 5 | 8 | capture wall-clock time of that sample, Unix µs |
//! | 13 | 2 | length P of the previous packet (timestamp − 480), 0 when there is none |
//! | 15 | P | the previous packet |
//! | 15+P | rest | this packet (10 ms of Opus, RFC 6716) |

/// Version byte of an [`AudioPacket`].
pub const VERSION: u8 = 1;
/// One Opus packet's length in 48 kHz ticks (10 ms).
pub const FRAME_TICKS: u32 = 480;
/// Bytes before the previous packet.
const HEADER: usize = 15;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioPacket<'a> {
    pub timestamp: u32,
    pub capture_unix_us: u64,
    pub previous: Option<&'a [u8]>,
    pub opus: &'a [u8],
}

impl<'a> AudioPacket<'a> {
    /// The packet's bytes; a previous packet too long for the length field is left out.
    pub fn encode(&self) -> Vec<u8> {
        let previous = self
            .previous
            .filter(|p| p.len() <= usize::from(u16::MAX))
            .unwrap_or_default();
        let mut m = Vec::with_capacity(HEADER + previous.len() + self.opus.len());
        m.push(VERSION);
        m.extend_from_slice(&self.timestamp.to_le_bytes());
        m.extend_from_slice(&self.capture_unix_us.to_le_bytes());
        m.extend_from_slice(&(previous.len() as u16).to_le_bytes());
        m.extend_from_slice(previous);
        m.extend_from_slice(self.opus);
        m
    }

    /// The packet in `b`, or `None` (another version, too short, no Opus of its own).
    pub fn decode(b: &'a [u8]) -> Option<Self> {
        if b.len() < HEADER || b[0] != VERSION {
            return None;
        }
        let timestamp = u32::from_le_bytes(b[1..5].try_into().ok()?);
        let capture_unix_us = u64::from_le_bytes(b[5..13].try_into().ok()?);
        let plen = usize::from(u16::from_le_bytes([b[13], b[14]]));
        let rest = b.get(HEADER..)?;
        if rest.len() <= plen {
            return None;
        }
        let (previous, opus) = rest.split_at(plen);
        Some(Self {
            timestamp,
            capture_unix_us,
            previous: (plen > 0).then_some(previous),
            opus,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{from_hex, golden};

    fn bytes(v: &serde_json::Value) -> Vec<u8> {
        v.as_array()
            .expect("byte array")
            .iter()
            .map(|b| b.as_u64().expect("byte") as u8)
            .collect()
    }

    #[test]
    fn golden_packets_encode_and_decode_exactly() {
        let g = golden("audio-v1.json");
        for v in g["vectors"].as_array().expect("vectors") {
            let p = &v["packet"];
            let previous = (!p["previous"].is_null()).then(|| bytes(&p["previous"]));
            let opus = bytes(&p["opus"]);
            let packet = AudioPacket {
                timestamp: p["timestamp"].as_u64().expect("ts") as u32,
                capture_unix_us: p["captureUnixUs"]
                    .as_str()
                    .expect("µs as a string")
                    .parse()
                    .expect("µs"),
                previous: previous.as_deref(),
                opus: &opus,
            };
            let hex = from_hex(v["hex"].as_str().expect("hex"));
            assert_eq!(packet.encode(), hex, "{}", v["name"]);
            assert_eq!(AudioPacket::decode(&hex), Some(packet), "{}", v["name"]);
        }
        for m in g["malformed"].as_array().expect("malformed") {
            let hex = from_hex(m["hex"].as_str().expect("hex"));
            assert_eq!(AudioPacket::decode(&hex), None, "{}", m["name"]);
        }
    }
}
