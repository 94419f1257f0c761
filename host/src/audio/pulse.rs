//! A private PulseAudio server for the virtual display: a null sink whose monitor Glint
//! captures, in a private directory, stopped with Glint. The app launched with `--app` plays
//! into it (`PULSE_SERVER`), so the virtual desktop has its own sound, as it has its own
//! display, and nothing reaches or leaks from the user's real audio.
//!
//! Nothing here depends on the user's own PulseAudio state: the private server gets a cookie
//! made for it, and a client of a server Glint did not start gets an anonymous cookie when the
//! account has none (cpal's PulseAudio client sends whatever `~/.config/pulse/cookie` holds,
//! and a server refuses the handshake of a client that sends no 256-byte cookie at all).

use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::AudioError;
use crate::display::{detach_and_tie, sweep_leftovers, Guarded};

const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Length of a PulseAudio native-protocol cookie (`PA_NATIVE_COOKIE_LENGTH`).
const COOKIE_LENGTH: usize = 256;

pub struct PrivatePulse {
    /// `unix:/…/native`, for `PULSE_SERVER`.
    pub server: String,
    /// The server's cookie file, for `PULSE_COOKIE`.
    pub cookie: PathBuf,
    dir: PathBuf,
    _process: Guarded,
}

impl PrivatePulse {
    pub fn start() -> Result<Self, AudioError> {
        let err = |e: std::io::Error| AudioError::Pulse(e.to_string());
        let mut nonce = [0u8; 6];
        getrandom::fill(&mut nonce).map_err(|e| AudioError::Pulse(e.to_string()))?;
        let tag: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let tmp = std::env::temp_dir();
        sweep_leftovers(&tmp, "glint-pulse-");
        let dir = tmp.join(format!("glint-pulse-{}-{tag}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(err)?;
        let socket = dir.join("native");
        let cookie = dir.join("cookie");
        let mut secret = [0u8; COOKIE_LENGTH];
        getrandom::fill(&mut secret).map_err(|e| AudioError::Pulse(e.to_string()))?;
        write_private(&cookie, &secret).map_err(err)?;
        let mut cmd = Command::new("pulseaudio");
        cmd.args([
            "-n",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--disallow-exit",
        ])
        .arg("--use-pid-file=no")
        .arg(format!(
            "--load=module-native-protocol-unix auth-anonymous=1 auth-cookie={} socket={}",
            cookie.display(),
            socket.display()
        ))
        .arg("--load=module-null-sink sink_name=glint rate=48000 channels=2")
        .arg("--load=module-always-sink")
        .env("XDG_RUNTIME_DIR", &dir)
        .env("HOME", &dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        detach_and_tie(&mut cmd);
        let child = cmd.spawn().map_err(|e| {
            AudioError::Pulse(format!("{e} (is the `pulseaudio` package installed?)"))
        })?;
        let mut process = Guarded::new(child, "PulseAudio");
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if UnixStream::connect(&socket).is_ok() {
                break;
            }
            if let Some(status) = process.try_exited() {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(AudioError::Pulse(format!("pulseaudio exited: {status}")));
            }
            if Instant::now() > deadline {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(AudioError::Pulse("not ready after 10 s".into()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Self {
            server: format!("unix:{}", socket.display()),
            cookie,
            dir,
            _process: process,
        })
    }

    pub fn pid(&self) -> u32 {
        self._process.pid()
    }
}

/// Writes `bytes` to a new file only its owner can read.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?
        .write_all(bytes)
}

/// Where a PulseAudio client looks for its cookie: `$PULSE_COOKIE`, then
/// `$HOME/.config/pulse/cookie`, then `$HOME/.pulse-cookie` (libpulse's and cpal's order).
fn cookie_candidates() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::env::var_os("PULSE_COOKIE")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
        paths.push(home.join(".config/pulse/cookie"));
        paths.push(home.join(".pulse-cookie"));
    }
    paths
}

/// An anonymous cookie for a client of a PulseAudio server Glint did not start, made only when
/// the account has none of its own. Set `PULSE_COOKIE` to its path before any thread starts;
/// keep the value for as long as sound is captured (the file goes with it).
pub struct AnonymousCookie {
    dir: tempfile::TempDir,
}

impl AnonymousCookie {
    /// `None` when the account already has a readable cookie of the right length.
    pub fn if_missing() -> Result<Option<Self>, AudioError> {
        let has_one = cookie_candidates().iter().any(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() as usize >= COOKIE_LENGTH)
        });
        if has_one {
            return Ok(None);
        }
        let err = |e: std::io::Error| AudioError::Pulse(format!("cannot write a cookie: {e}"));
        sweep_leftovers(&std::env::temp_dir(), "glint-pulse-cookie-");
        let dir = tempfile::Builder::new()
            .prefix(&format!("glint-pulse-cookie-{}-", std::process::id()))
            .tempdir()
            .map_err(err)?;
        write_private(&dir.path().join("cookie"), &[0u8; COOKIE_LENGTH]).map_err(err)?;
        Ok(Some(Self { dir }))
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("cookie")
    }
}

impl Drop for PrivatePulse {
    fn drop(&mut self) {
        // The process is stopped by its guard after this; the directory can go first.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
