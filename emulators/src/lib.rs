//! A libretro frontend: loads a core (`.so`), loads a game, and runs it one frame at a time,
//! yielding the picture (as BGRX, whatever the core's pixel format), the audio samples, and
//! taking each port's joypad state.
//!
//! libretro's callbacks carry no context pointer, so the state they reach is one global,
//! [`CALLBACKS`]. A process can therefore hold one core at a time: [`Core::load`] refuses a
//! second one ([`EmuError::AlreadyLoaded`]) instead of letting two cores share that state.
//! Every failure is an error value (unknown core, a file the core refuses, a core without the
//! libretro symbols); nothing here panics on input from outside.

mod ffi;
pub mod pacing;

use std::ffi::{c_void, CString};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use thiserror::Error;

pub use pacing::Pacer;

/// Where Debian's `libretro-*` packages put their cores.
pub const CORE_DIR: &str = "/usr/lib/x86_64-linux-gnu/libretro";

/// Joypad buttons, as bits of a port's state (libretro's `RETRO_DEVICE_ID_JOYPAD_*` order).
pub mod button {
    pub const B: u16 = 1 << 0;
    pub const Y: u16 = 1 << 1;
    pub const SELECT: u16 = 1 << 2;
    pub const START: u16 = 1 << 3;
    pub const UP: u16 = 1 << 4;
    pub const DOWN: u16 = 1 << 5;
    pub const LEFT: u16 = 1 << 6;
    pub const RIGHT: u16 = 1 << 7;
    pub const A: u16 = 1 << 8;
    pub const X: u16 = 1 << 9;
    pub const L: u16 = 1 << 10;
    pub const R: u16 = 1 << 11;
    pub const L2: u16 = 1 << 12;
    pub const R2: u16 = 1 << 13;
    pub const L3: u16 = 1 << 14;
    pub const R3: u16 = 1 << 15;
}

/// Ports a core may read (players 1–4).
pub const PORTS: usize = 4;

#[derive(Debug, Error)]
pub enum EmuError {
    #[error("no libretro core named {name:?} (looked for {path})")]
    UnknownCore { name: String, path: String },
    #[error("cannot load the core {path}: {reason}")]
    Load { path: String, reason: String },
    #[error("the core {path} lacks {symbol}: not a libretro core")]
    Symbol { path: String, symbol: String },
    #[error("the core implements libretro API {0}, not 1")]
    Api(u32),
    #[error("cannot read the ROM {path}: {reason}")]
    Rom { path: String, reason: String },
    #[error("the core refused {path}: not a game it can run")]
    Refused { path: String },
    #[error("a core is already loaded in this process (libretro allows one)")]
    AlreadyLoaded,
    #[error("the core reported an unusable timing (fps {fps}, sample rate {rate})")]
    Timing { fps: f64, rate: f64 },
}

/// Resolves `--core`: a path to a `.so`, or a name such as `nestopia` for
/// `CORE_DIR/nestopia_libretro.so`.
pub fn resolve_core(name_or_path: &str) -> Result<PathBuf, EmuError> {
    let p = Path::new(name_or_path);
    if name_or_path.contains('/') || name_or_path.ends_with(".so") {
        return if p.is_file() {
            Ok(p.to_owned())
        } else {
            Err(EmuError::UnknownCore {
                name: name_or_path.to_owned(),
                path: p.display().to_string(),
            })
        };
    }
    let path = Path::new(CORE_DIR).join(format!("{name_or_path}_libretro.so"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(EmuError::UnknownCore {
            name: name_or_path.to_owned(),
            path: path.display().to_string(),
        })
    }
}

/// One picture from the core, converted to BGRX.
#[derive(Debug, Clone, Default)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    /// `width * height * 4` bytes, rows packed.
    pub bgrx: Vec<u8>,
}

/// What the core's callbacks write and read during `retro_run`.
pub(crate) struct CallbackState {
    pub pixel_format: u32,
    pub picture: Picture,
    /// Interleaved stereo i16 at the core's sample rate, since the last frame.
    pub audio: Vec<i16>,
    pub pads: [u16; PORTS],
    pub geometry: Option<(u32, u32)>,
    pub system_dir: CString,
    pub save_dir: CString,
    pub fresh_picture: bool,
}

/// The one global libretro forces on a frontend.
pub(crate) static CALLBACKS: Mutex<Option<CallbackState>> = Mutex::new(None);
/// Set while a [`Core`] exists.
static LOADED: AtomicBool = AtomicBool::new(false);

pub(crate) fn callbacks() -> MutexGuard<'static, Option<CallbackState>> {
    CALLBACKS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Frame rate and audio sample rate of the loaded game.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    pub fps: f64,
    pub sample_rate: f64,
}

pub struct Core {
    fns: ffi::CoreFns,
    // Keeps the library mapped while `fns` are used; dropped last.
    _lib: libloading::Library,
    timing: Timing,
    /// The ROM bytes, kept alive for cores that read them lazily.
    _rom: Vec<u8>,
    name: String,
    version: String,
}

impl Core {
    /// Loads the core at `core_path` and the game at `rom`. `dir` is given to the core as its
    /// system and save directory.
    pub fn load(core_path: &Path, rom: &Path, dir: &Path) -> Result<Core, EmuError> {
        if LOADED.swap(true, Ordering::SeqCst) {
            return Err(EmuError::AlreadyLoaded);
        }
        match Self::load_inner(core_path, rom, dir) {
            Ok(c) => Ok(c),
            Err(e) => {
                *callbacks() = None;
                LOADED.store(false, Ordering::SeqCst);
                Err(e)
            }
        }
    }

    fn load_inner(core_path: &Path, rom: &Path, dir: &Path) -> Result<Core, EmuError> {
        let shown = core_path.display().to_string();
        let data = std::fs::read(rom).map_err(|e| EmuError::Rom {
            path: rom.display().to_string(),
            reason: e.to_string(),
        })?;
        let cstr = |p: &Path| CString::new(p.display().to_string()).unwrap_or_default();
        *callbacks() = Some(CallbackState {
            pixel_format: ffi::PIXEL_0RGB1555,
            picture: Picture::default(),
            audio: Vec::new(),
            pads: [0; PORTS],
            geometry: None,
            system_dir: cstr(dir),
            save_dir: cstr(dir),
            fresh_picture: false,
        });
        // SAFETY: loading a shared library runs its initialisers; a libretro core is such a
        // library by contract, and the path came from the operator (--core), not a browser.
        let lib = unsafe { libloading::Library::new(core_path) }.map_err(|e| EmuError::Load {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        let fns = ffi::CoreFns::resolve(&lib, &shown)?;
        // SAFETY: calling the core's entry points in the order libretro prescribes, with
        // callbacks that only touch CALLBACKS; all pointers passed live across the calls.
        unsafe {
            let api = (fns.api_version)();
            if api != 1 {
                return Err(EmuError::Api(api));
            }
            (fns.set_environment)(ffi::environment);
            (fns.init)();
            (fns.set_video_refresh)(ffi::video_refresh);
            (fns.set_audio_sample)(ffi::audio_sample);
            (fns.set_audio_sample_batch)(ffi::audio_sample_batch);
            (fns.set_input_poll)(ffi::input_poll);
            (fns.set_input_state)(ffi::input_state);
            let mut sys = ffi::SystemInfo::default();
            (fns.get_system_info)(&mut sys);
            let name = ffi::c_string(sys.library_name);
            let version = ffi::c_string(sys.library_version);
            let path = cstr(rom);
            let info = ffi::GameInfo {
                path: path.as_ptr(),
                data: data.as_ptr().cast::<c_void>(),
                size: data.len(),
                meta: std::ptr::null(),
            };
            if !(fns.load_game)(&info) {
                (fns.deinit)();
                return Err(EmuError::Refused {
                    path: rom.display().to_string(),
                });
            }
            // Without this some cores (nestopia) never read the pads (PITFALLS.md).
            for port in 0..PORTS as u32 {
                (fns.set_controller_port_device)(port, ffi::DEVICE_JOYPAD);
            }
            let mut av = ffi::SystemAvInfo::default();
            (fns.get_system_av_info)(&mut av);
            let timing = Timing {
                fps: av.timing.fps,
                sample_rate: av.timing.sample_rate,
            };
            if !(timing.fps > 1.0 && timing.fps < 500.0 && timing.sample_rate > 1000.0) {
                (fns.unload_game)();
                (fns.deinit)();
                return Err(EmuError::Timing {
                    fps: timing.fps,
                    rate: timing.sample_rate,
                });
            }
            tracing::info!(core = %name, fps = timing.fps, rate = timing.sample_rate,
                width = av.geometry.base_width, height = av.geometry.base_height, "game loaded");
            Ok(Core {
                fns,
                _lib: lib,
                timing,
                _rom: data,
                name,
                version,
            })
        }
    }

    pub fn timing(&self) -> Timing {
        self.timing
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The core's own version string (`retro_system_info::library_version`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Runs one frame with these joypads; returns the picture (the previous one again when the
    /// core duplicated it) and the audio it produced.
    pub fn run_frame(&mut self, pads: [u16; PORTS]) -> (Picture, Vec<i16>) {
        if let Some(s) = callbacks().as_mut() {
            s.pads = pads;
            s.fresh_picture = false;
        }
        // SAFETY: the game is loaded; the callbacks touch only CALLBACKS, not held here.
        unsafe { (self.fns.run)() };
        let mut guard = callbacks();
        match guard.as_mut() {
            Some(s) => (s.picture.clone(), std::mem::take(&mut s.audio)),
            None => (Picture::default(), Vec::new()),
        }
    }

    /// The core's serialised state (save state).
    pub fn save_state(&mut self) -> Option<Vec<u8>> {
        // SAFETY: plain calls into the loaded core with a buffer of the size it asked for.
        unsafe {
            let n = (self.fns.serialize_size)();
            if n == 0 {
                return None;
            }
            let mut buf = vec![0u8; n];
            (self.fns.serialize)(buf.as_mut_ptr().cast(), n).then_some(buf)
        }
    }

    /// Restores a state from [`Core::save_state`]; false if the core refused it.
    pub fn load_state(&mut self, state: &[u8]) -> bool {
        // SAFETY: the core reads `len` bytes from a live buffer.
        unsafe { (self.fns.unserialize)(state.as_ptr().cast(), state.len()) }
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        // SAFETY: the reverse of load, once.
        unsafe {
            (self.fns.unload_game)();
            (self.fns.deinit)();
        }
        *callbacks() = None;
        LOADED.store(false, Ordering::SeqCst);
    }
}
