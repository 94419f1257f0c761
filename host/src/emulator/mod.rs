//! A libretro core as the frame source (`--core`, `--rom`): the core runs in its own process
//! ([`worker`], started by [`process::spawn`]) at its own frame rate (drift-free, sleep then
//! spin), so a crashing core ends the session with a message instead of taking glint down.
//! Its pictures go into the same latest-wins mailbox as captured frames, its sound is resampled
//! to 48 kHz into the Opus path, and each browser's keys and gamepads drive its player's pad.

pub mod process;
pub mod state;
pub mod wire;
pub mod worker;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use crossbeam_channel::Sender;
use glint_emulators::{button, PORTS};

use crate::audio::SAMPLE_RATE;
use crate::input::inject::InjectError;
use crate::input::reconcile::{Action, Control};
use crate::input::Injector;
use crate::peer::{Notice, PeerId};

/// A request from a page to the game thread; the reply is a message for that page.
#[derive(Debug)]
pub enum GameCommand {
    Save {
        reply: tokio::sync::oneshot::Sender<Result<String, String>>,
    },
    Load {
        reply: tokio::sync::oneshot::Sender<Result<String, String>>,
    },
}

/// Capacity of the page → game command queue; a full queue answers "busy".
pub const GAME_COMMANDS: usize = 8;

/// Writes `bytes` to `path` so that a crash at any moment leaves either the old file or the
/// new one: a temporary file in the same directory, flushed to disk, renamed over the target,
/// then the directory flushed.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("no directory"))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Each port's buttons, written by the input thread, sent to the core process on change.
/// A button pressed and released before the core process was sent the state in between (a
/// quick tap) is kept in `taps` until it is sent, so the core sees it for one frame.
#[derive(Debug, Default)]
pub struct Pads {
    held: [AtomicU16; PORTS],
    taps: [AtomicU16; PORTS],
}

impl Pads {
    /// Port `port` now holds `mask`; newly pressed buttons are also latched as taps.
    pub fn set(&self, port: usize, mask: u16) {
        let old = self.held[port].swap(mask, Ordering::Relaxed);
        self.taps[port].fetch_or(mask & !old, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> [u16; PORTS] {
        std::array::from_fn(|i| self.held[i].load(Ordering::Relaxed))
    }

    /// The buttons pressed since the last call (held or not now), and clears them.
    pub fn take_taps(&self) -> [u16; PORTS] {
        std::array::from_fn(|i| self.taps[i].swap(0, Ordering::Relaxed))
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

/// A standard-mapping gamepad (W3C Gamepad API) as libretro joypad bits: the bottom face
/// button is B and the right one A (the SNES layout libretro uses), left Y, top X; shoulders
/// L/R, triggers L2/R2, Back = Select, Start, stick clicks L3/R3, the d-pad; the left stick
/// past half-way counts as the d-pad too.
pub fn standard_to_buttons(buttons: u32, axes: [i16; 4]) -> u16 {
    const MAP: [u16; 16] = [
        button::B,
        button::A,
        button::Y,
        button::X,
        button::L,
        button::R,
        button::L2,
        button::R2,
        button::SELECT,
        button::START,
        button::L3,
        button::R3,
        button::UP,
        button::DOWN,
        button::LEFT,
        button::RIGHT,
    ];
    let mut out = MAP
        .iter()
        .enumerate()
        .filter(|(i, _)| buttons >> i & 1 == 1)
        .fold(0u16, |a, (_, b)| a | b);
    let half = i16::MAX / 2;
    if axes[0] < -half {
        out |= button::LEFT;
    }
    if axes[0] > half {
        out |= button::RIGHT;
    }
    if axes[1] < -half {
        out |= button::UP;
    }
    if axes[1] > half {
        out |= button::DOWN;
    }
    out
}

/// Input for the emulator. Each browser that sends input gets a player (port 1–4, first come,
/// first served, freed when it leaves); its keyboard and its gamepads drive that player.
/// Browsers beyond four watch. Each browser is told its player number when it gets one, and
/// that it watches when all four are taken.
pub struct PadInjector {
    pub pads: Arc<Pads>,
    slots: [Option<PeerId>; PORTS],
    keys: HashMap<PeerId, HashSet<u16>>,
    gamepads: HashMap<(PeerId, u8), u16>,
    /// Woken once per batch of input that changed a pad (the core process's forwarder).
    wake: Option<Sender<()>>,
    dirty: bool,
    /// Peers already told that all players are taken.
    told_watching: HashSet<PeerId>,
    notices: Vec<(PeerId, Notice)>,
}

impl PadInjector {
    pub fn new(pads: Arc<Pads>) -> Self {
        Self {
            pads,
            slots: [None; PORTS],
            keys: HashMap::new(),
            gamepads: HashMap::new(),
            wake: None,
            dirty: false,
            told_watching: HashSet::new(),
            notices: Vec::new(),
        }
    }

    /// Also sends a token on `wake` after each batch of input that changed a pad.
    pub fn with_wake(mut self, wake: Sender<()>) -> Self {
        self.wake = Some(wake);
        self
    }

    fn port_of(&mut self, peer: PeerId) -> Option<usize> {
        if let Some(i) = self.slots.iter().position(|s| *s == Some(peer)) {
            return Some(i);
        }
        let Some(free) = self.slots.iter().position(Option::is_none) else {
            if self.told_watching.insert(peer) {
                self.notices.push((peer, Notice::Player { player: None }));
            }
            return None;
        };
        self.slots[free] = Some(peer);
        self.told_watching.remove(&peer);
        tracing::info!(%peer, player = free + 1, "player joined");
        self.notices.push((
            peer,
            Notice::Player {
                player: Some(free as u8 + 1),
            },
        ));
        Some(free)
    }

    fn publish(&mut self, port: usize, peer: PeerId) {
        let keys = self
            .keys
            .get(&peer)
            .map(|held| {
                held.iter()
                    .filter_map(|&k| key_to_button(k))
                    .fold(0, |a, b| a | b)
            })
            .unwrap_or(0);
        let pads = self
            .gamepads
            .iter()
            .filter(|((p, _), _)| *p == peer)
            .fold(0, |a, (_, b)| a | b);
        self.pads.set(port, keys | pads);
        self.dirty = true;
    }
}

impl Injector for PadInjector {
    fn apply(&mut self, peer: PeerId, action: Action) -> Result<(), InjectError> {
        match action {
            Action::Press(Control::Key(k)) | Action::Release(Control::Key(k)) => {
                if key_to_button(k).is_none() {
                    return Ok(());
                }
                let Some(port) = self.port_of(peer) else {
                    return Ok(());
                };
                let held = self.keys.entry(peer).or_default();
                if matches!(action, Action::Press(_)) {
                    held.insert(k);
                } else {
                    held.remove(&k);
                }
                self.publish(port, peer);
            }
            Action::Pad {
                index,
                buttons,
                axes,
            } => {
                let mask = standard_to_buttons(buttons, axes);
                if mask == 0 && !self.slots.contains(&Some(peer)) {
                    return Ok(()); // an idle pad does not take a player
                }
                let Some(port) = self.port_of(peer) else {
                    return Ok(());
                };
                self.gamepads.insert((peer, index), mask);
                self.publish(port, peer);
            }
            _ => {}
        }
        Ok(())
    }

    fn text(&mut self, _text: &str) -> Result<(), InjectError> {
        Ok(())
    }

    fn peer_left(&mut self, peer: PeerId) {
        self.keys.remove(&peer);
        self.gamepads.retain(|(p, _), _| *p != peer);
        self.told_watching.remove(&peer);
        if let Some(port) = self.slots.iter().position(|s| *s == Some(peer)) {
            self.slots[port] = None;
            self.pads.set(port, 0);
            self.dirty = true;
            tracing::info!(%peer, player = port + 1, "player left");
        }
    }

    fn settle(&mut self, notices: &mut Vec<(PeerId, Notice)>) {
        if std::mem::take(&mut self.dirty) {
            if let Some(w) = &self.wake {
                let _ = w.try_send(()); // full: a wake is already pending
            }
        }
        notices.append(&mut self.notices);
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

/// Where games' states are saved by default: `$XDG_DATA_HOME/glint/saves`, else
/// `~/.local/share/glint/saves`.
pub fn default_save_dir() -> std::path::PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("glint").join("saves")
}

#[cfg(test)]
mod tests {
    use super::*;

    const P1: PeerId = PeerId(7);
    const P2: PeerId = PeerId(9);

    fn key(inj: &mut PadInjector, peer: PeerId, usage: u16, down: bool) {
        let a = if down {
            Action::Press(Control::Key(usage))
        } else {
            Action::Release(Control::Key(usage))
        };
        inj.apply(peer, a).expect("never fails");
    }

    fn pad(inj: &mut PadInjector, peer: PeerId, buttons: u32, axes: [i16; 4]) {
        let a = Action::Pad {
            index: 0,
            buttons,
            axes,
        };
        inj.apply(peer, a).expect("never fails");
    }

    #[test]
    fn keys_map_to_the_peers_player_and_overlaps_hold() {
        let pads = Arc::new(Pads::default());
        let mut inj = PadInjector::new(pads.clone());
        key(&mut inj, P1, 0x1B, true); // X → A
        key(&mut inj, P1, 0x4F, true); // Right
        assert_eq!(pads.snapshot()[0], button::A | button::RIGHT);
        // Both shifts are Select: releasing one keeps it held.
        key(&mut inj, P1, 0xE1, true);
        key(&mut inj, P1, 0xE5, true);
        key(&mut inj, P1, 0xE1, false);
        assert_ne!(pads.snapshot()[0] & button::SELECT, 0);
        key(&mut inj, P1, 0xE5, false);
        key(&mut inj, P1, 0x1B, false);
        assert_eq!(pads.snapshot()[0], button::RIGHT);
        // Keys with no button and mouse buttons change nothing.
        key(&mut inj, P1, 0x2C, true);
        inj.apply(P1, Action::Press(Control::Button(0)))
            .expect("click");
        assert_eq!(pads.snapshot(), [button::RIGHT, 0, 0, 0]);
        // A second browser is player 2; when the first leaves, its player is free again.
        key(&mut inj, P2, 0x52, true);
        assert_eq!(pads.snapshot(), [button::RIGHT, button::UP, 0, 0]);
        inj.peer_left(P1);
        assert_eq!(pads.snapshot(), [0, button::UP, 0, 0]);
        key(&mut inj, PeerId(11), 0x51, true);
        assert_eq!(pads.snapshot(), [button::DOWN, button::UP, 0, 0]);
    }

    #[test]
    fn a_tap_between_two_sends_is_kept_for_the_core() {
        let pads = Arc::new(Pads::default());
        let mut inj = PadInjector::new(pads.clone());
        key(&mut inj, P1, 0x52, true); // Up, held
        assert_eq!(pads.take_taps(), [button::UP, 0, 0, 0]);
        key(&mut inj, P1, 0x28, true); // Enter → Start, pressed and released at once
        key(&mut inj, P1, 0x28, false);
        assert_eq!(pads.snapshot(), [button::UP, 0, 0, 0]);
        assert_eq!(pads.take_taps(), [button::START, 0, 0, 0]);
        assert_eq!(pads.take_taps(), [0; 4], "a tap is handed over once");
    }

    #[test]
    fn gamepads_use_the_standard_mapping_and_the_left_stick() {
        let pads = Arc::new(Pads::default());
        let mut inj = PadInjector::new(pads.clone());
        // An idle pad takes no player.
        pad(&mut inj, P1, 0, [0; 4]);
        assert_eq!(pads.snapshot(), [0; 4]);
        // Bottom face button (0) = B, right (1) = A, Start (9), stick pushed left.
        pad(&mut inj, P1, 1 | 1 << 1 | 1 << 9, [-30000, 0, 0, 0]);
        assert_eq!(
            pads.snapshot()[0],
            button::B | button::A | button::START | button::LEFT
        );
        // Keyboard and pad of one browser add up; releasing the pad leaves the key.
        key(&mut inj, P1, 0x52, true);
        pad(&mut inj, P1, 0, [0; 4]);
        assert_eq!(pads.snapshot()[0], button::UP);
        assert_eq!(
            standard_to_buttons(1 << 12 | 1 << 15, [0; 4]),
            button::UP | button::RIGHT
        );
        assert_eq!(standard_to_buttons(0, [0, 20000, 0, 0]), button::DOWN);
        assert_eq!(standard_to_buttons(0, [0, 10000, 0, 0]), 0);
    }

    #[test]
    fn states_are_written_atomically() {
        let dir = std::env::temp_dir().join(format!("glint-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("game.state");
        write_atomically(&file, b"first").expect("write");
        write_atomically(&file, b"second, longer").expect("rewrite");
        assert_eq!(std::fs::read(&file).expect("read"), b"second, longer");
        let left: Vec<_> = std::fs::read_dir(&dir).expect("list").collect();
        assert_eq!(left.len(), 1, "a temporary file was left behind");
        let _ = std::fs::remove_dir_all(&dir);
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
