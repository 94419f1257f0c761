//! The core process: `glint --core-worker CORE ROM SAVE_DIR`, started by glint itself.
//!
//! A libretro core is foreign C code; when it crashes it takes its process with it. Running it
//! here, in a child, lets glint outlive the crash and tell every page why the game ended. The
//! worker loads the game, paces `retro_run` to the core's rate (drift-free, late frames
//! skipped), reads pads and save/load requests from stdin, and writes pictures, sound and
//! replies to stdout ([`super::wire`]). It dies with glint (`PR_SET_PDEATHSIG`) and ends when
//! glint closes its stdin.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crossbeam_channel::bounded;
use glint_emulators::{Core, Pacer, PORTS};

use super::state;
use super::wire::{read_to_core, write_from_core, FromCore, ToCore};
use super::write_atomically;
use crate::lock;

/// The first argument that makes glint a core process.
pub const WORKER_FLAG: &str = "--core-worker";
/// glint's PID, given to the core process so it can tell whether glint is still its parent.
pub const PARENT_ENV: &str = "GLINT_PARENT_PID";

/// Exit code when the game does not load (glint reports the message it was sent).
const EXIT_LOAD: u8 = 2;

/// Where a ROM's state is saved: one file per ROM and core, in the save directory.
pub fn state_file(save_dir: &Path, rom: &Path, core: &str) -> PathBuf {
    let stem = rom
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "game".into());
    let core: String = core
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    save_dir.join(format!("{stem}.{}.state", core.to_lowercase()))
}

fn save(core: &mut Core, file: &Path) -> Result<String, String> {
    let bytes = core
        .save_state()
        .ok_or_else(|| "this core cannot save its state".to_owned())?;
    let stamped = state::stamp(core.name(), core.version(), &bytes);
    write_atomically(file, &stamped)
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    Ok(format!("state saved ({} KiB)", bytes.len().div_ceil(1024)))
}

fn load(core: &mut Core, file: &Path) -> Result<String, String> {
    let bytes = match std::fs::read(file) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("no saved state yet".to_owned())
        }
        Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
        Ok(b) => b,
    };
    let inner = state::check(&bytes, core.name(), core.version()).map_err(|e| e.to_string())?;
    if core.load_state(inner) {
        Ok("state loaded".to_owned())
    } else {
        Err("the core refused the saved state".to_owned())
    }
}

/// The pads the next frame runs with: what is held, plus every button tapped since the last
/// frame (pressed and released between two frames, it still shows for one).
#[derive(Debug, Default)]
struct PadLatch {
    gen: u64,
    held: [u16; PORTS],
    taps: [u16; PORTS],
}

impl PadLatch {
    fn update(&mut self, gen: u64, held: [u16; PORTS], taps: [u16; PORTS]) {
        self.gen = gen;
        self.held = held;
        for (t, new) in self.taps.iter_mut().zip(taps) {
            *t |= new;
        }
    }

    fn for_frame(&mut self) -> (u64, [u16; PORTS]) {
        let taps = std::mem::take(&mut self.taps);
        (self.gen, std::array::from_fn(|i| self.held[i] | taps[i]))
    }
}

/// The worker's `main`. `args` are CORE ROM SAVE_DIR.
pub fn main(args: &[OsString]) -> ExitCode {
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number and nothing else.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    // Glint gone before the prctl took effect (this process was re-parented): stop now.
    // Glint names itself rather than this checking for PID 1, which glint may be in a container.
    let parent = std::env::var(PARENT_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok());
    // SAFETY: getppid has no preconditions.
    if parent != Some(unsafe { libc::getppid() }) {
        tracing::error!("the core process runs only under glint (it sets {PARENT_ENV})");
        return ExitCode::FAILURE;
    }
    // The protocol gets its own copy of stdout; fd 1 then points at stderr, so whatever the
    // core prints cannot corrupt the pipe.
    let proto = match std::io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => File::from(fd),
        Err(e) => {
            tracing::error!(error = %e, "cannot duplicate stdout");
            return ExitCode::FAILURE;
        }
    };
    // SAFETY: dup2 on two descriptors this process owns; nothing holds a view of fd 1.
    unsafe { libc::dup2(2, 1) };
    let mut out = BufWriter::with_capacity(1 << 20, proto);

    let [core_path, rom, save_dir] = args else {
        tracing::error!("usage: glint {WORKER_FLAG} CORE ROM SAVE_DIR");
        return ExitCode::from(EXIT_LOAD);
    };
    let (rom, save_dir) = (Path::new(rom), Path::new(save_dir));
    let mut core = match Core::load(Path::new(core_path), rom, save_dir) {
        Ok(c) => c,
        Err(e) => {
            let _ = write_from_core(
                &mut out,
                &FromCore::Failed {
                    message: e.to_string(),
                },
                &[],
            );
            return ExitCode::from(EXIT_LOAD);
        }
    };
    let timing = core.timing();
    let file = state_file(save_dir, rom, core.name());
    let ready = FromCore::Ready {
        fps: timing.fps,
        sample_rate: timing.sample_rate,
        core: format!("{} {}", core.name(), core.version()),
    };
    if write_from_core(&mut out, &ready, &[]).is_err() {
        return ExitCode::FAILURE;
    }

    // Pads and requests from glint, read on their own thread so a frame never waits for them.
    let pads = Arc::new(Mutex::new(PadLatch::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let (cmd_tx, cmd_rx) = bounded::<ToCore>(super::GAME_COMMANDS);
    {
        let (pads, stop) = (pads.clone(), stop.clone());
        let reader = std::thread::Builder::new()
            .name("glint-core-in".into())
            .spawn(move || {
                let mut stdin = std::io::stdin().lock();
                loop {
                    match read_to_core(&mut stdin) {
                        Ok(Some(ToCore::Pads {
                            gen,
                            pads: held,
                            taps,
                        })) => {
                            lock(&pads).update(gen, held, taps);
                        }
                        Ok(Some(cmd)) => {
                            if cmd_tx.send(cmd).is_err() {
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            tracing::error!(error = %e, "core process: bad message from glint");
                            break;
                        }
                    }
                }
                stop.store(true, Ordering::Relaxed);
            });
        if reader.is_err() {
            return ExitCode::FAILURE;
        }
    }

    let mut pacer = Pacer::new(timing.fps, Instant::now());
    let age = |since: Instant| since.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
    while !stop.load(Ordering::Relaxed) {
        let deadline = pacer.wait();
        while let Ok(cmd) = cmd_rx.try_recv() {
            let result = match cmd {
                ToCore::Shift { us } => {
                    pacer.shift(us);
                    continue;
                }
                ToCore::Save => save(&mut core, &file),
                _ => load(&mut core, &file),
            };
            match &result {
                Ok(m) => tracing::info!(file = %file.display(), "{m}"),
                Err(e) => tracing::warn!("{e}"),
            }
            let (ok, message) = match result {
                Ok(m) => (true, m),
                Err(m) => (false, m),
            };
            if write_from_core(&mut out, &FromCore::Reply { ok, message }, &[]).is_err() {
                return ExitCode::SUCCESS;
            }
        }
        let (gen, now_pads) = lock(&pads).for_frame();
        let started = Instant::now();
        let (picture, samples) = core.run_frame(now_pads);
        let sent = (|| -> std::io::Result<()> {
            if !samples.is_empty() {
                let audio = FromCore::Audio {
                    age_us: age(deadline),
                    samples,
                };
                write_from_core(&mut out, &audio, &[])?;
            }
            if picture.width > 0 {
                let frame = FromCore::Frame {
                    gen,
                    age_us: age(started),
                    width: picture.width,
                    height: picture.height,
                };
                write_from_core(&mut out, &frame, &picture.bgrx)?;
            }
            out.flush()
        })();
        if sent.is_err() {
            break; // glint is gone
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tap_shows_for_exactly_one_frame() {
        let mut latch = PadLatch::default();
        latch.update(1, [0x10, 0, 0, 0], [0x10, 0, 0, 0]); // Up held
        latch.update(2, [0x10, 0, 0, 0], [0x08, 0, 0, 0]); // Start tapped
        assert_eq!(latch.for_frame(), (2, [0x18, 0, 0, 0]));
        assert_eq!(latch.for_frame(), (2, [0x10, 0, 0, 0]));
    }

    #[test]
    fn each_rom_and_core_has_its_own_state_file() {
        let dir = Path::new("/saves");
        assert_eq!(
            state_file(dir, Path::new("/roms/Super Game.nes"), "Nestopia"),
            Path::new("/saves/Super Game.nestopia.state")
        );
        assert_eq!(
            state_file(dir, Path::new("x.gb"), "Gambatte/SameBoy"),
            Path::new("/saves/x.gambatte-sameboy.state")
        );
    }
}
