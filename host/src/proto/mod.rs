//! Every format shared with the page, in one place, each checked against a golden file that
//! the web client's tests read too (`web-client/test/golden/`):
//!
//! | format | carried on | golden file |
//! |---|---|---|
//! | [`input`] packets | data channel `input` (page → host) | `input-v1.json` |
//! | [`echo`] (frame echo) | data channel `control` (host → page) | `echo-v2.json` |
//! | [`audio`] packets | data channel `audio` (host → page) | `audio-v1.json` |
//! | [`signaling`] messages | WebSocket `/ws` (both ways, JSON) | `signaling-v1.json` |
//! | [`ice`] servers (`RTCIceServer`) | the `ice-servers` signaling message | `signaling-v1.json` |
//! | clipboard text | data channel `clipboard` (both ways): one UTF-8 text per message, at most [`MAX_CLIPBOARD`] bytes | |
//!
//! Parsing here never panics on what a page sends: bad input is an error value.

/// The largest clipboard text on the `clipboard` channel either way, bytes (UTF-8).
pub const MAX_CLIPBOARD: usize = 64 * 1024;

pub mod audio;
pub mod echo;
pub mod ice;
pub mod input;
pub mod signaling;

/// Decodes the hex strings of the golden files.
#[cfg(test)]
pub(crate) fn from_hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("golden hex"))
        .collect()
}

/// A golden file of `web-client/test/golden/`, parsed.
#[cfg(test)]
pub(crate) fn golden(name: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../web-client/test/golden")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("golden file");
    serde_json::from_str(&text).expect("golden file parses")
}
