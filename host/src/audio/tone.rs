//! The test pattern's sound: silence, and a 1 kHz beep during the first 100 ms of every
//! 2 s of wall-clock time, the same window in which the pattern flashes its bottom-left
//! quarter white (`capture/testpattern.rs`). Flash and beep share a capture instant, so a
//! browser can measure audio/video skew and each path's latency from the wall clock alone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::Sender;

use super::{AudioCounters, RawAudio, CHANNELS, FRAME_SAMPLES, SAMPLE_RATE};

/// Beeps (and flashes) start at every multiple of this, in Unix milliseconds.
pub const BEEP_EVERY_MS: u64 = 2000;
pub const BEEP_MS: u64 = 100;
pub const BEEP_HZ: f64 = 1000.0;

/// True while the beep (and the flash) is on at Unix time `unix_ms`.
pub fn beep_on(unix_ms: u64) -> bool {
    unix_ms % BEEP_EVERY_MS < BEEP_MS
}

/// 480 stereo samples starting at Unix time `start_ns`.
pub fn samples_at(start_ns: u128) -> Vec<f32> {
    (0..FRAME_SAMPLES)
        .flat_map(|i| {
            let t_ns = start_ns + i as u128 * 1_000_000_000 / u128::from(SAMPLE_RATE);
            let on = beep_on((t_ns / 1_000_000) as u64);
            let phase = (t_ns % 1_000_000_000) as f64 / 1e9 * BEEP_HZ * std::f64::consts::TAU;
            let v = if on { (phase.sin() * 0.5) as f32 } else { 0.0 };
            [v; CHANNELS]
        })
        .collect()
}

/// Generates 10 ms buffers paced on the monotonic clock until `running` is false.
pub fn start(
    tx: Sender<RawAudio>,
    running: Arc<AtomicBool>,
    counters: Arc<AudioCounters>,
) -> std::io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("glint-audio".into())
        .spawn(move || {
            let period = Duration::from_millis(10);
            let start = Instant::now();
            let start_unix = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let mut n: u32 = 0;
            while running.load(Ordering::Relaxed) {
                let at = start + period * n;
                // Deliver a buffer once it is complete, like a capture device does.
                let due = at + period;
                let now = Instant::now();
                if due > now {
                    thread::sleep(due - now);
                }
                let unix_ns = start_unix + (at - start).as_nanos();
                counters.raw_buffers.inc();
                let raw = RawAudio {
                    samples: samples_at(unix_ns),
                    first_sample_at: at,
                };
                if tx.try_send(raw).is_err() {
                    counters.raw_dropped.inc();
                }
                n = n.wrapping_add(1);
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_beep_is_on_for_100ms_every_2s() {
        assert!(beep_on(4000));
        assert!(beep_on(4099));
        assert!(!beep_on(4100));
        assert!(!beep_on(5999));
        let on = samples_at(6_000_000_000);
        assert!(on.iter().any(|v| v.abs() > 0.4));
        let off = samples_at(6_500_000_000);
        assert!(off.iter().all(|v| *v == 0.0));
    }
}
