//! A private PulseAudio server for the virtual display: a null sink whose monitor Glint
//! captures, in a private directory, stopped with Glint. The app launched with `--app` plays
//! into it (`PULSE_SERVER`), so the virtual desktop has its own sound, as it has its own
//! display, and nothing reaches or leaks from the user's real audio.

use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::AudioError;
use crate::display::{detach_and_tie, Guarded};

const READY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct PrivatePulse {
    /// `unix:/…/native`, for `PULSE_SERVER`.
    pub server: String,
    dir: PathBuf,
    _process: Guarded,
}

impl PrivatePulse {
    pub fn start() -> Result<Self, AudioError> {
        let err = |e: std::io::Error| AudioError::Pulse(e.to_string());
        let mut nonce = [0u8; 6];
        getrandom::fill(&mut nonce).map_err(|e| AudioError::Pulse(e.to_string()))?;
        let tag: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let dir = std::env::temp_dir().join(format!("glint-pulse-{}-{tag}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(err)?;
        let socket = dir.join("native");
        let mut cmd = Command::new("pulseaudio");
        cmd.args([
            "-n",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--disallow-exit",
        ])
        .arg("--use-pid-file=no")
        .arg(format!(
            "--load=module-native-protocol-unix auth-anonymous=1 socket={}",
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
            dir,
            _process: process,
        })
    }

    pub fn pid(&self) -> u32 {
        self._process.pid()
    }
}

impl Drop for PrivatePulse {
    fn drop(&mut self) {
        // The process is stopped by its guard after this; the directory can go first.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
