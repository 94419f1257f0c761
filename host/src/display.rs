//! The virtual display (Xvfb) Glint starts when no `--display` is given, and the app it
//! launches inside. Both are stopped when Glint exits: on drop, and by the kernel
//! (`PR_SET_PDEATHSIG`) if Glint dies without running destructors.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use thiserror::Error;

/// How long Xvfb may take to say which display it took.
const XVFB_READY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Error)]
pub enum DisplayError {
    #[error("cannot start Xvfb (is the `xvfb` package installed?): {0}")]
    Spawn(std::io::Error),
    #[error("Xvfb did not become ready: {0}")]
    NotReady(String),
    #[error("cannot start the app `{cmd}`: {source}")]
    App { cmd: String, source: std::io::Error },
}

/// A child process killed (with its process group) when this is dropped.
#[derive(Debug)]
pub struct Guarded {
    child: Child,
    what: &'static str,
}

impl Guarded {
    pub(crate) fn new(child: Child, what: &'static str) -> Self {
        Self { child, what }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn try_exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling our own child's process group; harmless if it is already gone.
        unsafe {
            libc::kill(-pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                tracing::debug!(what = self.what, "stopped");
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: as above.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// Puts the child in its own process group and has the kernel kill it if Glint dies.
pub(crate) fn detach_and_tie(cmd: &mut Command) {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setpgid(0, 0);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
}

/// An Xvfb server on a display number it chose itself (`-displayfd`), so parallel runs never
/// clash.
#[derive(Debug)]
pub struct VirtualDisplay {
    pub name: String,
    server: Guarded,
}

impl VirtualDisplay {
    pub fn start(width: u16, height: u16) -> Result<Self, DisplayError> {
        let (mut reader, writer) = std::io::pipe().map_err(DisplayError::Spawn)?;
        let wfd = writer.as_raw_fd();
        let mut cmd = Command::new("Xvfb");
        cmd.args(["-displayfd", &wfd.to_string()])
            .args(["-screen", "0", &format!("{width}x{height}x24")])
            .args(["-noreset", "-nolisten", "tcp", "+extension", "XTEST"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        detach_and_tie(&mut cmd);
        // SAFETY: clears close-on-exec on the pipe's write end so Xvfb inherits it.
        unsafe {
            cmd.pre_exec(move || {
                libc::fcntl(wfd, libc::F_SETFD, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(DisplayError::Spawn)?;
        drop(writer);
        let mut server = Guarded {
            child,
            what: "Xvfb",
        };
        // Xvfb writes "N\n" when it accepts connections; EOF means it died.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = reader.read_to_string(&mut s);
            let _ = tx.send(s);
        });
        let number = match rx.recv_timeout(XVFB_READY_TIMEOUT) {
            Ok(s) => s.trim().to_owned(),
            Err(_) => return Err(DisplayError::NotReady("timed out".into())),
        };
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            let status = server.try_exited();
            return Err(DisplayError::NotReady(format!(
                "Xvfb exited ({status:?}) without a display number"
            )));
        }
        Ok(Self {
            name: format!(":{number}"),
            server,
        })
    }

    pub fn pid(&self) -> u32 {
        self.server.pid()
    }
}

/// Launches `cmd` with `sh -c` inside `display`, playing its sound into `pulse_server` when
/// given (Glint's private PulseAudio).
pub fn launch_app(
    cmd: &str,
    display: &str,
    pulse_server: Option<&str>,
) -> Result<Guarded, DisplayError> {
    let mut c = Command::new("sh");
    c.args(["-c", cmd])
        .env("DISPLAY", display)
        .stdin(Stdio::null());
    if let Some(p) = pulse_server {
        c.env("PULSE_SERVER", p);
    }
    detach_and_tie(&mut c);
    let child = c.spawn().map_err(|source| DisplayError::App {
        cmd: cmd.to_owned(),
        source,
    })?;
    Ok(Guarded { child, what: "app" })
}
