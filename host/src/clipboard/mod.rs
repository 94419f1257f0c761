//! The host's clipboard, shared with pages: text copied on the host goes to the pages that may
//! have it, and text a page's controller copies becomes the host's clipboard.
//!
//! The X11 selections (CLIPBOARD, and PRIMARY when a page sets it, so a middle click pastes it
//! too) are served by `arboard` in a child process, `glint --clipboard-worker`
//! ([`worker`]), started with the display's `DISPLAY` and `XAUTHORITY` in its own environment
//! (glint's own is not changed once threads run). The worker polls CLIPBOARD every
//! [`worker::POLL`] and reports each new text; it sets both selections on request. Both ways
//! the text travels as frames: a little-endian u32 length, then that many bytes of UTF-8.
//!
//! Pages get the host's text on the `clipboard` data channel (reliable, ordered), and send
//! theirs on it; the input thread decides who may (see `crate::input`).

pub mod worker;

use std::io::{self, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};

use crossbeam_channel::{bounded, Receiver, Sender};
use thiserror::Error;

use crate::input::{ClipboardLinks, InputMsg};
use crate::net::RtcCommand;

/// The largest clipboard text synced either way, bytes (UTF-8). Larger text is not sent, and
/// the page or the log says so.
pub use crate::proto::MAX_CLIPBOARD;
/// Capacity of the queue of texts for the host's clipboard. When full the newest is dropped
/// (a page that pastes faster than X can take it: the earlier text wins until it is set).
pub const TO_HOST_QUEUE: usize = 4;

#[derive(Debug, Error)]
pub enum ClipboardError {
    #[error("cannot start the clipboard worker: {0}")]
    Spawn(io::Error),
    #[error("cannot start a clipboard thread: {0}")]
    Thread(io::Error),
    #[error("clipboard text of {0} bytes is over the limit of {MAX_CLIPBOARD}")]
    TooBig(usize),
    #[error("the clipboard pipe broke: {0}")]
    Pipe(io::Error),
    #[error("clipboard text is not UTF-8")]
    NotUtf8,
}

/// Writes one frame: the text's length (u32, little-endian), then its bytes.
pub fn write_frame(w: &mut impl Write, text: &str) -> Result<(), ClipboardError> {
    if text.len() > MAX_CLIPBOARD {
        return Err(ClipboardError::TooBig(text.len()));
    }
    let len = u32::try_from(text.len()).map_err(|_| ClipboardError::TooBig(text.len()))?;
    w.write_all(&len.to_le_bytes())
        .and_then(|()| w.write_all(text.as_bytes()))
        .and_then(|()| w.flush())
        .map_err(ClipboardError::Pipe)
}

/// Reads one frame; `Ok(None)` at the end of the stream.
pub fn read_frame(r: &mut impl Read) -> Result<Option<String>, ClipboardError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(ClipboardError::Pipe(e)),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_CLIPBOARD {
        return Err(ClipboardError::TooBig(len));
    }
    let mut bytes = vec![0u8; len];
    r.read_exact(&mut bytes).map_err(ClipboardError::Pipe)?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| ClipboardError::NotUtf8)
}

/// Starts the worker on `display` and links it to the rest of glint: texts copied on the host
/// go to the input thread (`input`, its data queue: it picks the pages), and the input thread
/// sends the pages' texts to the host and the host's to the rtc thread (`rtc`).
pub fn link(
    display: &str,
    input: Sender<InputMsg>,
    rtc: Sender<RtcCommand>,
) -> Result<(HostClipboard, ClipboardLinks), ClipboardError> {
    let host = HostClipboard::start(display, move |text| {
        // A full input queue drops it, as it drops input: the host's next copy comes through.
        if input.try_send(InputMsg::HostClipboard { text }).is_err() {
            tracing::debug!("host clipboard text dropped: the input thread is busy");
        }
    })?;
    let links = ClipboardLinks {
        to_host: host.setter(),
        to_pages: Box::new(move |peers, text| {
            if rtc.try_send(RtcCommand::Clipboard { peers, text }).is_err() {
                tracing::debug!("host clipboard text dropped: the rtc thread is busy");
            }
        }),
    };
    Ok((host, links))
}

/// The clipboard worker and its two threads; the worker is killed when this is dropped.
pub struct HostClipboard {
    child: Child,
    to_host: Sender<String>,
}

impl HostClipboard {
    /// Starts the worker on `display` (its cookie: glint's own `XAUTHORITY`, inherited); every
    /// text copied on the host from now on goes to `changed`.
    pub fn start(
        display: &str,
        changed: impl Fn(String) + Send + 'static,
    ) -> Result<Self, ClipboardError> {
        let exe = std::env::current_exe().map_err(ClipboardError::Spawn)?;
        let mut child = Command::new(exe)
            .arg(worker::WORKER_FLAG)
            .env("DISPLAY", display)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(ClipboardError::Spawn)?;
        let (Some(stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(ClipboardError::Spawn(io::Error::other("no pipes")));
        };
        let (to_host, rx) = bounded(TO_HOST_QUEUE);
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .map_err(ClipboardError::Thread)
        };
        let started =
            spawn("glint-clip-set", Box::new(move || write_loop(stdin, rx))).and_then(|_| {
                spawn(
                    "glint-clip-get",
                    Box::new(move || loop {
                        match read_frame(&mut stdout) {
                            Ok(Some(text)) => changed(text),
                            Ok(None) => break,
                            Err(e) => {
                                tracing::warn!(error = %e, "clipboard worker: reading stops");
                                break;
                            }
                        }
                    }),
                )
            });
        if let Err(e) = started {
            let _ = child.kill();
            return Err(e);
        }
        tracing::info!(pid = child.id(), "clipboard worker started");
        Ok(Self { child, to_host })
    }

    /// A sender of texts for the host's clipboard (CLIPBOARD and PRIMARY).
    pub fn setter(&self) -> Sender<String> {
        self.to_host.clone()
    }
}

fn write_loop(mut stdin: ChildStdin, rx: Receiver<String>) {
    for text in rx {
        if let Err(e) = write_frame(&mut stdin, &text) {
            tracing::warn!(error = %e, "clipboard text not set on the host");
            if matches!(e, ClipboardError::Pipe(_)) {
                break;
            }
        }
    }
}

impl Drop for HostClipboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_read_back_and_bad_ones_are_refused() {
        let mut buf = Vec::new();
        for t in ["", "héllo → 日本", "line\nbreak"] {
            write_frame(&mut buf, t).expect("written");
        }
        let mut r = buf.as_slice();
        for t in ["", "héllo → 日本", "line\nbreak"] {
            assert_eq!(read_frame(&mut r).expect("read").as_deref(), Some(t));
        }
        assert_eq!(read_frame(&mut r).expect("end"), None);
        let big = "x".repeat(MAX_CLIPBOARD + 1);
        assert!(matches!(
            write_frame(&mut Vec::new(), &big),
            Err(ClipboardError::TooBig(_))
        ));
        let mut huge: &[u8] = &[0xff, 0xff, 0xff, 0x7f];
        assert!(matches!(
            read_frame(&mut huge),
            Err(ClipboardError::TooBig(_))
        ));
        let mut not_utf8: &[u8] = &[2, 0, 0, 0, 0xc3, 0x28];
        assert!(matches!(
            read_frame(&mut not_utf8),
            Err(ClipboardError::NotUtf8)
        ));
        let mut cut: &[u8] = &[5, 0, 0, 0, b'a'];
        assert!(matches!(read_frame(&mut cut), Err(ClipboardError::Pipe(_))));
    }
}
