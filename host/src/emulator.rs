//! A libretro core as the frame source (`--core`, `--rom`): the core runs on its own named
//! thread at its own frame rate (drift-free, sleep then spin), its pictures go into the same
//! latest-wins mailbox as captured frames, its sound is resampled to 48 kHz into the Opus path,
//! and the page's keys drive player 1's joypad.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use crossbeam_channel::{bounded, Sender, TrySendError};
use glint_emulators::{button, Core, EmuError, Pacer, Timing, PORTS};

use crate::audio::{RawAudio, SAMPLE_RATE};
use crate::capture::Frame;
use crate::input::inject::InjectError;
use crate::input::reconcile::{Action, Control};
use crate::input::{Injector, InputEcho};
use crate::pipeline::{CaptureEnd, CaptureThread, PipelineCounters, FRAME_MAILBOX};

/// Each port's buttons, written by the input thread, read by the core thread every frame.
#[derive(Debug, Default)]
pub struct Pads(pub [AtomicU16; PORTS]);

impl Pads {
    pub fn snapshot(&self) -> [u16; PORTS] {
        std::array::from_fn(|i| self.0[i].load(Ordering::Relaxed))
    }
}

/// Keyboard → player 1's joypad (HID usages): arrows, Z = B, X = A, A = Y, S = X,
/// Enter = Start, either Shift = Select, Q = L, W = R.
pub fn key_to_button(usage: u16) -> Option<u16> {
    Some(match usage {
        0x52 => button::UP,
        0x51 => button::DOWN,
        0x50 => button::LEFT,
        0x4F => button::RIGHT,
        0x1D => button::B,
        0x1B => button::A,
        0x04 => button::Y,
        0x16 => button::X,
        0x28 | 0x58 => button::START,
        0xE1 | 0xE5 => button::SELECT,
        0x14 => button::L,
        0x1A => button::R,
        _ => return None,
    })
}

/// Input for the emulator: held keys become player 1's buttons.
pub struct PadInjector {
    pub pads: Arc<Pads>,
    held: Mutex<HashSet<u16>>,
}

impl PadInjector {
    pub fn new(pads: Arc<Pads>) -> Self {
        Self {
            pads,
            held: Mutex::new(HashSet::new()),
        }
    }
}

impl Injector for PadInjector {
    fn apply(&mut self, action: Action) -> Result<(), InjectError> {
        let (usage, down) = match action {
            Action::Press(Control::Key(k)) => (k, true),
            Action::Release(Control::Key(k)) => (k, false),
            _ => return Ok(()),
        };
        if key_to_button(usage).is_none() {
            return Ok(());
        }
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if down {
            held.insert(usage);
        } else {
            held.remove(&usage);
        }
        let mask = held
            .iter()
            .filter_map(|&k| key_to_button(k))
            .fold(0u16, |a, b| a | b);
        self.pads.0[0].store(mask, Ordering::Relaxed);
        Ok(())
    }

    fn text(&mut self, _text: &str) -> Result<(), InjectError> {
        Ok(())
    }
}

/// Linear resampling of interleaved stereo i16 to 48 kHz f32, keeping its phase across calls.
#[derive(Debug)]
pub struct Resampler {
    step: f64,
    pos: f64,
    last: [f32; 2],
}

impl Resampler {
    pub fn new(from_hz: f64) -> Self {
        Self {
            step: from_hz / f64::from(SAMPLE_RATE),
            pos: 0.0,
            last: [0.0; 2],
        }
    }

    pub fn push(&mut self, input: &[i16]) -> Vec<f32> {
        let frames = input.len() / 2;
        let last = self.last;
        // Index -1 is the previous call's last frame, so interpolation spans calls.
        let sample = |i: isize, c: usize| -> f32 {
            if i < 0 {
                last[c]
            } else {
                f32::from(input[i as usize * 2 + c]) / 32768.0
            }
        };
        let mut out = Vec::with_capacity((frames as f64 / self.step) as usize * 2 + 4);
        while self.pos < frames as f64 - 1.0 {
            let i = self.pos.floor() as isize;
            let frac = (self.pos - self.pos.floor()) as f32;
            for c in 0..2 {
                let (a, b) = (sample(i, c), sample(i + 1, c));
                out.push(a + (b - a) * frac);
            }
            self.pos += self.step;
        }
        self.pos -= frames as f64;
        if frames > 0 {
            let end = frames as isize - 1;
            self.last = [sample(end, 0), sample(end, 1)];
        }
        out
    }
}

#[allow(clippy::too_many_arguments)]
/// Loads the core on its own thread and runs it; returns the frame mailbox like a capture
/// thread, and the game's timing. A core or ROM that does not load is an error here, before
/// anything is served.
pub fn spawn(
    core: PathBuf,
    rom: PathBuf,
    save_dir: PathBuf,
    pads: Arc<Pads>,
    audio: Option<Sender<RawAudio>>,
    running: Arc<AtomicBool>,
    counters: Arc<PipelineCounters>,
    echo: Arc<InputEcho>,
    skipped: Arc<AtomicU64>,
) -> Result<(CaptureThread, Timing), EmuError> {
    let (tx, rx) = bounded::<Frame>(FRAME_MAILBOX);
    let stale = rx.clone();
    let (pool_tx, pool_rx) = bounded::<Vec<u8>>(3);
    let (ready_tx, ready_rx) = bounded::<Result<Timing, EmuError>>(1);
    let handle = thread::Builder::new()
        .name("glint-core".into())
        .spawn(move || {
            let mut core = match Core::load(&core, &rom, &save_dir) {
                Ok(c) => c,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return CaptureEnd::Stopped;
                }
            };
            let timing = core.timing();
            let _ = ready_tx.send(Ok(timing));
            let mut pacer = Pacer::new(timing.fps, Instant::now());
            let mut resampler = Resampler::new(timing.sample_rate);
            let mut seq = 0u64;
            while running.load(Ordering::Relaxed) {
                let deadline = pacer.wait();
                let input_echo = echo.snapshot();
                let started = Instant::now();
                let (picture, samples) = core.run_frame(pads.snapshot());
                skipped.store(pacer.skipped, Ordering::Relaxed);
                if let Some(a) = &audio {
                    let resampled = resampler.push(&samples);
                    if !resampled.is_empty() {
                        let _ = a.try_send(RawAudio {
                            samples: resampled,
                            first_sample_at: deadline,
                        });
                    }
                }
                if picture.width == 0 {
                    continue;
                }
                let mut data = pool_rx.try_recv().unwrap_or_default();
                data.clear();
                data.extend_from_slice(&picture.bgrx);
                let frame = Frame {
                    stride: picture.width as usize * 4,
                    data,
                    width: picture.width,
                    height: picture.height,
                    captured_at: started,
                    grabbed_at: Instant::now(),
                    seq,
                    input_echo,
                };
                seq += 1;
                counters.captured.fetch_add(1, Ordering::Relaxed);
                if let Err(TrySendError::Full(frame)) = tx.try_send(frame) {
                    if stale.try_recv().is_ok() {
                        counters.capture_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = tx.try_send(frame);
                }
            }
            CaptureEnd::Stopped
        })
        .map_err(|e| EmuError::Load {
            path: "(thread)".into(),
            reason: e.to_string(),
        })?;
    let timing = ready_rx.recv().map_err(|_| EmuError::Load {
        path: "(core thread)".into(),
        reason: "the core thread ended while loading".into(),
    })??;
    Ok((
        CaptureThread {
            frames: rx,
            pool: pool_tx,
            handle,
        },
        timing,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_player_one_and_overlaps_hold() {
        let pads = Arc::new(Pads::default());
        let mut inj = PadInjector::new(pads.clone());
        inj.apply(Action::Press(Control::Key(0x1B))).expect("x"); // X → A
        inj.apply(Action::Press(Control::Key(0x4F))).expect("right");
        assert_eq!(pads.snapshot()[0], button::A | button::RIGHT);
        // Both shifts are Select: releasing one keeps it held.
        inj.apply(Action::Press(Control::Key(0xE1)))
            .expect("lshift");
        inj.apply(Action::Press(Control::Key(0xE5)))
            .expect("rshift");
        inj.apply(Action::Release(Control::Key(0xE1)))
            .expect("lshift up");
        assert_ne!(pads.snapshot()[0] & button::SELECT, 0);
        inj.apply(Action::Release(Control::Key(0xE5)))
            .expect("rshift up");
        inj.apply(Action::Release(Control::Key(0x1B)))
            .expect("x up");
        assert_eq!(pads.snapshot()[0], button::RIGHT);
        // Keys with no button and mouse buttons change nothing.
        inj.apply(Action::Press(Control::Key(0x2C))).expect("space");
        inj.apply(Action::Press(Control::Button(0))).expect("click");
        assert_eq!(pads.snapshot()[0], button::RIGHT);
        assert_eq!(pads.snapshot()[1], 0);
    }

    #[test]
    fn resampling_keeps_the_rate_and_the_tone() {
        // 44.1 kHz → 48 kHz, a 1 kHz sine in 10 chunks of 735 frames (1/60 s each).
        let mut r = Resampler::new(44_100.0);
        let mut out = Vec::new();
        let mut n = 0usize;
        for _ in 0..60 {
            let chunk: Vec<i16> = (0..735)
                .flat_map(|_| {
                    let v = ((n as f64 / 44_100.0 * 1000.0 * std::f64::consts::TAU).sin()
                        * 16_000.0) as i16;
                    n += 1;
                    [v, v]
                })
                .collect();
            out.extend(r.push(&chunk));
        }
        let frames = out.len() / 2;
        assert!(
            (frames as i64 - 48_000).abs() <= 2,
            "{frames} frames for 1 s"
        );
        // Zero crossings of a 1 kHz tone: about 2000 a second.
        let crossings = out
            .chunks_exact(2)
            .map(|f| f[0])
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count();
        assert!((1990..=2010).contains(&crossings), "{crossings} crossings");
    }
}
