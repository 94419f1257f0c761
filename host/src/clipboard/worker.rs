//! The clipboard process: `glint --clipboard-worker`, started by glint itself with `DISPLAY`
//! (and `XAUTHORITY`) set to the streamed display. It owns the X11 selections it is asked to
//! set (through `arboard`, which answers other clients' requests from its own thread), polls
//! CLIPBOARD for text copied by the host's applications, and writes each new text to stdout;
//! texts to set come on stdin. Frames: [`super::write_frame`]. It dies with glint
//! (`PR_SET_PDEATHSIG`) and ends when glint closes its stdin.

use std::process::ExitCode;
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::time::Duration;

use arboard::{Clipboard, GetExtLinux, LinuxClipboardKind, SetExtLinux};

use super::{read_frame, write_frame};

/// The first argument that makes glint a clipboard process.
pub const WORKER_FLAG: &str = "--clipboard-worker";
/// How often CLIPBOARD is read for a new text.
pub const POLL: Duration = Duration::from_millis(250);

/// The clipboard process's main; exit code 1 when the display cannot be reached.
pub fn main() -> ExitCode {
    // SAFETY: prctl with constant arguments; no memory is passed.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
    }
    let mut clipboard = match Clipboard::new() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "clipboard worker: no X11 clipboard");
            return ExitCode::from(1);
        }
    };
    let (tx, rx) = sync_channel::<String>(super::TO_HOST_QUEUE);
    let reader = std::thread::Builder::new()
        .name("glint-clip-stdin".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            while let Ok(Some(text)) = read_frame(&mut stdin) {
                if tx.send(text).is_err() {
                    break;
                }
            }
        });
    if reader.is_err() {
        return ExitCode::from(1);
    }
    let read = |c: &mut Clipboard| c.get().clipboard(LinuxClipboardKind::Clipboard).text().ok();
    // What is there when glint starts is no news.
    let mut last = read(&mut clipboard);
    let mut stdout = std::io::stdout().lock();
    loop {
        match rx.recv_timeout(POLL) {
            Ok(text) => {
                for kind in [LinuxClipboardKind::Clipboard, LinuxClipboardKind::Primary] {
                    if let Err(e) = clipboard.set().clipboard(kind).text(text.clone()) {
                        tracing::warn!(error = %e, ?kind, "clipboard worker: cannot set");
                    }
                }
                last = Some(text);
            }
            Err(RecvTimeoutError::Timeout) => {
                let now = read(&mut clipboard);
                if now.is_some() && now != last {
                    let text = now.clone().unwrap_or_default();
                    match write_frame(&mut stdout, &text) {
                        Ok(()) => {}
                        Err(super::ClipboardError::TooBig(n)) => {
                            tracing::info!(bytes = n, "host clipboard too big to share");
                        }
                        Err(_) => return ExitCode::SUCCESS, // glint is gone
                    }
                    last = now;
                }
            }
            Err(RecvTimeoutError::Disconnected) => return ExitCode::SUCCESS,
        }
    }
}
