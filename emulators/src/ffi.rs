//! The libretro C API: the structs and constants this frontend uses, the core's entry points,
//! and the callbacks (which reach `CALLBACKS`, the one global libretro forces).

use std::ffi::{c_char, c_uint, c_void, CStr};

use super::{callbacks, EmuError, Picture, PORTS};

pub(crate) const DEVICE_JOYPAD: c_uint = 1;
pub(crate) const JOYPAD_MASK_ID: c_uint = 256;

pub(crate) const PIXEL_0RGB1555: u32 = 0;
pub(crate) const PIXEL_XRGB8888: u32 = 1;
pub(crate) const PIXEL_RGB565: u32 = 2;

const EXPERIMENTAL: c_uint = 0x10000;
const ENV_GET_CAN_DUPE: c_uint = 3;
const ENV_GET_SYSTEM_DIRECTORY: c_uint = 9;
const ENV_SET_PIXEL_FORMAT: c_uint = 10;
const ENV_GET_VARIABLE: c_uint = 15;
const ENV_GET_VARIABLE_UPDATE: c_uint = 17;
const ENV_GET_SAVE_DIRECTORY: c_uint = 31;
const ENV_SET_GEOMETRY: c_uint = 37;
const ENV_GET_INPUT_BITMASKS: c_uint = 51 | EXPERIMENTAL;

#[repr(C)]
pub(crate) struct GameInfo {
    pub path: *const c_char,
    pub data: *const c_void,
    pub size: usize,
    pub meta: *const c_char,
}

#[repr(C)]
pub(crate) struct SystemInfo {
    pub library_name: *const c_char,
    pub library_version: *const c_char,
    pub valid_extensions: *const c_char,
    pub need_fullpath: bool,
    pub block_extract: bool,
}

impl Default for SystemInfo {
    fn default() -> Self {
        Self {
            library_name: std::ptr::null(),
            library_version: std::ptr::null(),
            valid_extensions: std::ptr::null(),
            need_fullpath: false,
            block_extract: false,
        }
    }
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
pub(crate) struct GameGeometry {
    pub base_width: c_uint,
    pub base_height: c_uint,
    pub max_width: c_uint,
    pub max_height: c_uint,
    pub aspect_ratio: f32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
pub(crate) struct SystemTiming {
    pub fps: f64,
    pub sample_rate: f64,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
pub(crate) struct SystemAvInfo {
    pub geometry: GameGeometry,
    pub timing: SystemTiming,
}

#[repr(C)]
struct Variable {
    key: *const c_char,
    value: *const c_char,
}

/// A C string from the core, or "" when null.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string that lives for this call.
pub(crate) unsafe fn c_string(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        // SAFETY: as the caller promises.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

type EnvironmentFn = unsafe extern "C" fn(c_uint, *mut c_void) -> bool;
type VideoRefreshFn = unsafe extern "C" fn(*const c_void, c_uint, c_uint, usize);
type AudioSampleFn = unsafe extern "C" fn(i16, i16);
type AudioSampleBatchFn = unsafe extern "C" fn(*const i16, usize) -> usize;
type InputPollFn = unsafe extern "C" fn();
type InputStateFn = unsafe extern "C" fn(c_uint, c_uint, c_uint, c_uint) -> i16;

/// The core's entry points, resolved once.
pub(crate) struct CoreFns {
    pub api_version: unsafe extern "C" fn() -> c_uint,
    pub set_environment: unsafe extern "C" fn(EnvironmentFn),
    pub set_video_refresh: unsafe extern "C" fn(VideoRefreshFn),
    pub set_audio_sample: unsafe extern "C" fn(AudioSampleFn),
    pub set_audio_sample_batch: unsafe extern "C" fn(AudioSampleBatchFn),
    pub set_input_poll: unsafe extern "C" fn(InputPollFn),
    pub set_input_state: unsafe extern "C" fn(InputStateFn),
    pub init: unsafe extern "C" fn(),
    pub deinit: unsafe extern "C" fn(),
    pub get_system_info: unsafe extern "C" fn(*mut SystemInfo),
    pub get_system_av_info: unsafe extern "C" fn(*mut SystemAvInfo),
    pub set_controller_port_device: unsafe extern "C" fn(c_uint, c_uint),
    pub load_game: unsafe extern "C" fn(*const GameInfo) -> bool,
    pub unload_game: unsafe extern "C" fn(),
    pub run: unsafe extern "C" fn(),
    pub serialize_size: unsafe extern "C" fn() -> usize,
    pub serialize: unsafe extern "C" fn(*mut c_void, usize) -> bool,
    pub unserialize: unsafe extern "C" fn(*const c_void, usize) -> bool,
}

impl CoreFns {
    pub(crate) fn resolve(lib: &libloading::Library, path: &str) -> Result<Self, EmuError> {
        macro_rules! sym {
            ($name:literal) => {{
                // SAFETY: the symbol's type is the one the libretro API declares for it.
                let s = unsafe { lib.get($name) }.map_err(|_| EmuError::Symbol {
                    path: path.to_owned(),
                    symbol: String::from_utf8_lossy(&$name[..$name.len() - 1]).into_owned(),
                })?;
                *s
            }};
        }
        Ok(Self {
            api_version: sym!(b"retro_api_version\0"),
            set_environment: sym!(b"retro_set_environment\0"),
            set_video_refresh: sym!(b"retro_set_video_refresh\0"),
            set_audio_sample: sym!(b"retro_set_audio_sample\0"),
            set_audio_sample_batch: sym!(b"retro_set_audio_sample_batch\0"),
            set_input_poll: sym!(b"retro_set_input_poll\0"),
            set_input_state: sym!(b"retro_set_input_state\0"),
            init: sym!(b"retro_init\0"),
            deinit: sym!(b"retro_deinit\0"),
            get_system_info: sym!(b"retro_get_system_info\0"),
            get_system_av_info: sym!(b"retro_get_system_av_info\0"),
            set_controller_port_device: sym!(b"retro_set_controller_port_device\0"),
            load_game: sym!(b"retro_load_game\0"),
            unload_game: sym!(b"retro_unload_game\0"),
            run: sym!(b"retro_run\0"),
            serialize_size: sym!(b"retro_serialize_size\0"),
            serialize: sym!(b"retro_serialize\0"),
            unserialize: sym!(b"retro_unserialize\0"),
        })
    }
}

pub(crate) unsafe extern "C" fn environment(cmd: c_uint, data: *mut c_void) -> bool {
    let mut guard = callbacks();
    let Some(s) = guard.as_mut() else {
        return false;
    };
    // SAFETY (all arms): `data` points to the type libretro documents for `cmd`.
    unsafe {
        match cmd {
            ENV_GET_CAN_DUPE => {
                if !data.is_null() {
                    *data.cast::<bool>() = true;
                }
                true
            }
            ENV_SET_PIXEL_FORMAT => {
                if data.is_null() {
                    return false;
                }
                let f = *data.cast::<u32>();
                if matches!(f, PIXEL_0RGB1555 | PIXEL_XRGB8888 | PIXEL_RGB565) {
                    s.pixel_format = f;
                    true
                } else {
                    false
                }
            }
            ENV_GET_SYSTEM_DIRECTORY | ENV_GET_SAVE_DIRECTORY => {
                if data.is_null() {
                    return false;
                }
                let dir = if cmd == ENV_GET_SYSTEM_DIRECTORY {
                    &s.system_dir
                } else {
                    &s.save_dir
                };
                *data.cast::<*const c_char>() = dir.as_ptr();
                true
            }
            ENV_GET_VARIABLE => {
                // Core options keep their defaults.
                if !data.is_null() {
                    (*data.cast::<Variable>()).value = std::ptr::null();
                }
                false
            }
            ENV_GET_VARIABLE_UPDATE => {
                if !data.is_null() {
                    *data.cast::<bool>() = false;
                }
                true
            }
            ENV_SET_GEOMETRY => {
                if !data.is_null() {
                    let g = *data.cast::<GameGeometry>();
                    s.geometry = Some((g.base_width, g.base_height));
                }
                true
            }
            ENV_GET_INPUT_BITMASKS => true,
            _ => false,
        }
    }
}

pub(crate) unsafe extern "C" fn video_refresh(
    data: *const c_void,
    width: c_uint,
    height: c_uint,
    pitch: usize,
) {
    if data.is_null() || width == 0 || height == 0 || width > 4096 || height > 4096 {
        return; // a duplicated frame: keep the last picture
    }
    let mut guard = callbacks();
    let Some(s) = guard.as_mut() else {
        return;
    };
    let (w, h) = (width as usize, height as usize);
    let bpp = if s.pixel_format == PIXEL_XRGB8888 {
        4
    } else {
        2
    };
    if pitch < w * bpp {
        return;
    }
    // SAFETY: the core hands `height` rows of `pitch` bytes.
    let src = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), pitch * (h - 1) + w * bpp) };
    let pic: &mut Picture = &mut s.picture;
    pic.width = width;
    pic.height = height;
    pic.bgrx.resize(w * h * 4, 0);
    for y in 0..h {
        let row = &src[y * pitch..y * pitch + w * bpp];
        let out = &mut pic.bgrx[y * w * 4..(y + 1) * w * 4];
        match s.pixel_format {
            PIXEL_XRGB8888 => out.copy_from_slice(row),
            PIXEL_RGB565 => {
                for (px, o) in row.chunks_exact(2).zip(out.chunks_exact_mut(4)) {
                    let v = u16::from_le_bytes([px[0], px[1]]);
                    let (r, g, b) = ((v >> 11) & 0x1f, (v >> 5) & 0x3f, v & 0x1f);
                    o.copy_from_slice(&[
                        ((b << 3) | (b >> 2)) as u8,
                        ((g << 2) | (g >> 4)) as u8,
                        ((r << 3) | (r >> 2)) as u8,
                        0xff,
                    ]);
                }
            }
            _ => {
                for (px, o) in row.chunks_exact(2).zip(out.chunks_exact_mut(4)) {
                    let v = u16::from_le_bytes([px[0], px[1]]);
                    let (r, g, b) = ((v >> 10) & 0x1f, (v >> 5) & 0x1f, v & 0x1f);
                    let x = |c: u16| ((c << 3) | (c >> 2)) as u8;
                    o.copy_from_slice(&[x(b), x(g), x(r), 0xff]);
                }
            }
        }
    }
    s.fresh_picture = true;
}

pub(crate) unsafe extern "C" fn audio_sample(left: i16, right: i16) {
    if let Some(s) = callbacks().as_mut() {
        s.audio.extend_from_slice(&[left, right]);
    }
}

pub(crate) unsafe extern "C" fn audio_sample_batch(data: *const i16, frames: usize) -> usize {
    if data.is_null() || frames > 1 << 20 {
        return 0;
    }
    if let Some(s) = callbacks().as_mut() {
        // SAFETY: the core hands `frames` stereo frames.
        let samples = unsafe { std::slice::from_raw_parts(data, frames * 2) };
        s.audio.extend_from_slice(samples);
    }
    frames
}

pub(crate) unsafe extern "C" fn input_poll() {}

pub(crate) unsafe extern "C" fn input_state(
    port: c_uint,
    device: c_uint,
    _index: c_uint,
    id: c_uint,
) -> i16 {
    if device & 0xff != DEVICE_JOYPAD || port as usize >= PORTS {
        return 0;
    }
    let guard = callbacks();
    let Some(s) = guard.as_ref() else {
        return 0;
    };
    let pad = s.pads[port as usize];
    if id == JOYPAD_MASK_ID {
        pad as i16
    } else if id < 16 {
        i16::from(pad >> id & 1 == 1)
    } else {
        0
    }
}
