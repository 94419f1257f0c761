//! The pipe between glint and its core process ([`glint::emulator::wire`]): what glint reads
//! from the core process's stdout (a core that crashed half-way through a message, or one
//! that a ROM took over), and what the core process reads from glint.
//!
//! Input: a byte whose bit 0 picks the direction (0: the core's messages, as glint reads
//! them; 1: glint's, as the core process reads them), then the stream, read message by
//! message until its end or the first error.
//!
//! Checked beyond "no panic": a picture's pixels are exactly `width × height × 4` bytes; a
//! message written back reads back as the same bytes (and, for pictures, sound, pads and
//! clock moves, as the very bytes it was read from).

#![no_main]

use glint::emulator::wire::{
    read_from_core, read_to_core, write_from_core, write_to_core, FromCore, ToCore,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&direction, mut stream)) = data.split_first() else {
        return;
    };
    let mut pixels = Vec::new();
    loop {
        let before = stream;
        if direction & 1 == 0 {
            let Ok(Some(msg)) = read_from_core(&mut stream, &mut pixels) else {
                return;
            };
            let read = &before[..before.len() - stream.len()];
            if let FromCore::Frame { width, height, .. } = msg {
                let want = u128::from(width) * u128::from(height) * 4;
                assert_eq!(pixels.len() as u128, want, "a {width}x{height} picture");
            }
            let written = from_core_bytes(&msg, &pixels);
            if matches!(msg, FromCore::Frame { .. } | FromCore::Audio { .. }) {
                assert_eq!(written, read, "{msg:?} written back");
            }
            let mut again = Vec::new();
            let back = read_from_core(&mut written.as_slice(), &mut again)
                .expect("a message glint wrote reads")
                .expect("a message");
            assert_eq!(from_core_bytes(&back, &again), written, "{msg:?} read back");
        } else {
            let Ok(Some(msg)) = read_to_core(&mut stream) else {
                return;
            };
            let read = &before[..before.len() - stream.len()];
            let mut written = Vec::new();
            write_to_core(&mut written, &msg).expect("writes to a Vec");
            assert_eq!(written, read, "{msg:?} written back");
            let back: Option<ToCore> = read_to_core(&mut written.as_slice()).expect("reads");
            assert_eq!(back, Some(msg));
        }
    }
});

fn from_core_bytes(msg: &FromCore, pixels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_from_core(&mut out, msg, pixels).expect("writes to a Vec");
    out
}
