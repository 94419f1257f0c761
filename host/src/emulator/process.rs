//! glint's side of the core process: starts `glint --core-worker`, forwards pads and save/load
//! requests to it, and turns its pictures and sound into the same frames and raw audio as any
//! other source. When the core process dies (a crashing core), the frame thread ends with
//! [`CaptureError::CoreDied`] saying how, and the session ends with that message.

use std::collections::VecDeque;
use std::io::{BufReader, BufWriter};
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};
use glint_emulators::Timing;
use thiserror::Error;

use super::wire::{read_from_core, write_to_core, FromCore, ToCore, WireError};
use super::worker::{PARENT_ENV, WORKER_FLAG};
use super::{GameCommand, Pads, Resampler};
use crate::audio::RawAudio;
use crate::capture::{CaptureError, Frame};
use crate::input::InputEcho;
use crate::lock;
use crate::peer::PeerId;
use crate::phase::FramePhase;
use crate::pipeline::{post_frame, CaptureEnd, CaptureThread, PipelineCounters, FRAME_MAILBOX};

/// How many pad updates are remembered to match frames to the input they show.
const ECHO_HISTORY: usize = 64;
/// Pipe buffer asked for the core's output: a few pictures, so the core never waits mid-frame.
const PIPE_BYTES: libc::c_int = 1 << 20;
/// A core process silent this long (no picture, no sound) is hung: it is killed and the
/// session ends, as for a crash.
pub const HANG_AFTER: Duration = Duration::from_secs(5);
/// How often a move of the frame clock is looked for.
const PHASE_EVERY: Duration = Duration::from_millis(100);
/// How often the watchdog looks.
const WATCH_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug, Error)]
pub enum CoreProcessError {
    #[error("cannot start the core process: {0}")]
    Spawn(std::io::Error),
    /// The core or the game did not load; the worker's own message.
    #[error("{0}")]
    Load(String),
    #[error("{0} while loading the game")]
    Died(String),
}

/// What the core process is wired to.
pub struct CoreLinks {
    /// Each port's buttons, written by the input thread.
    pub pads: Arc<Pads>,
    /// A token per batch of pad changes (see [`super::PadInjector::with_wake`]).
    pub pad_changes: Receiver<()>,
    pub audio: Option<Sender<RawAudio>>,
    pub running: Arc<AtomicBool>,
    pub counters: Arc<PipelineCounters>,
    pub echo: Arc<InputEcho>,
    pub commands: Receiver<GameCommand>,
    /// Moves of the frame clock asked by the playing page.
    pub phase: Arc<FramePhase>,
}

type Echo = Arc<Vec<(PeerId, u32)>>;
type Reply = tokio::sync::oneshot::Sender<Result<String, String>>;

/// How a process ended, in words for a player.
pub fn describe(status: std::io::Result<ExitStatus>) -> String {
    let name = crate::display::signal_name;
    match status {
        Ok(s) => match (s.signal(), s.code()) {
            (Some(sig), _) => format!("the game's core crashed (signal {sig}: {})", name(sig)),
            (None, Some(code)) => format!("the game's core process exited with code {code}"),
            _ => "the game's core process ended".to_owned(),
        },
        Err(e) => format!("the game's core process ended ({e})"),
    }
}

/// Starts the core process and waits until the game is loaded. A core or ROM that does not
/// load is an error here, before anything is served.
pub fn spawn(
    core: &Path,
    rom: &Path,
    save_dir: &Path,
    links: CoreLinks,
) -> Result<(CaptureThread, Timing), CoreProcessError> {
    let exe = std::env::current_exe().map_err(CoreProcessError::Spawn)?;
    let mut child = Command::new(exe)
        .arg(WORKER_FLAG)
        .args([core, rom, save_dir])
        .env(PARENT_ENV, std::process::id().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(CoreProcessError::Spawn)?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        return Err(CoreProcessError::Spawn(std::io::Error::other("no pipes")));
    };
    // SAFETY: fcntl on a pipe this process owns; a refusal only leaves the default size.
    unsafe { libc::fcntl(stdout.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_BYTES) };
    let mut from_core = BufReader::with_capacity(1 << 20, stdout);
    let mut pixels = Vec::new();
    let timing = match read_from_core(&mut from_core, &mut pixels) {
        Ok(Some(FromCore::Ready {
            fps,
            sample_rate,
            core,
        })) => {
            tracing::info!(%core, pid = child.id(), "core process ready");
            Timing { fps, sample_rate }
        }
        Ok(Some(FromCore::Failed { message })) => {
            let _ = child.wait();
            return Err(CoreProcessError::Load(message));
        }
        other => {
            if let Ok(Some(_)) | Err(WireError::Malformed(_)) = other {
                let _ = child.kill();
            }
            return Err(CoreProcessError::Died(describe(child.wait())));
        }
    };

    let echoes = Arc::new(Mutex::new(VecDeque::<(u64, Echo)>::new()));
    let pending = Arc::new(Mutex::new(VecDeque::<Reply>::new()));
    let CoreLinks {
        pads,
        pad_changes,
        audio,
        running,
        counters,
        echo,
        commands,
        phase,
    } = links;
    {
        let (echoes, pending) = (echoes.clone(), pending.clone());
        thread::Builder::new()
            .name("glint-core-tx".into())
            .spawn(move || {
                let from = ForwardFrom {
                    pads,
                    pad_changes,
                    commands,
                    phase,
                    echo,
                };
                forward(stdin, &from, &echoes, &pending)
            })
            .map_err(CoreProcessError::Spawn)?;
    }

    let watch = Arc::new(Watch {
        started: Instant::now(),
        heard_ms: AtomicU64::new(0),
        finished: AtomicBool::new(false),
        hung: AtomicBool::new(false),
    });
    {
        let (watch, running, pid) = (watch.clone(), running.clone(), child.id());
        thread::Builder::new()
            .name("glint-core-watch".into())
            .spawn(move || watch.run(pid, &running))
            .map_err(CoreProcessError::Spawn)?;
    }

    let (tx, rx) = bounded::<Frame>(FRAME_MAILBOX);
    let stale = rx.clone();
    let (pool_tx, pool_rx) = bounded::<Vec<u8>>(3);
    let handle = thread::Builder::new()
        .name("glint-core-rx".into())
        .spawn(move || {
            let mut resampler = Resampler::new(timing.sample_rate);
            let mut seq = 0u64;
            let ended = loop {
                let mut data = pool_rx.try_recv().unwrap_or_default();
                let read = read_from_core(&mut from_core, &mut data);
                watch.heard();
                match read {
                    Ok(Some(FromCore::Frame {
                        gen,
                        age_us,
                        width,
                        height,
                    })) => {
                        let now = Instant::now();
                        let input_echo = lock(&echoes)
                            .iter()
                            .rev()
                            .find(|(g, _)| *g <= gen)
                            .map(|(_, e)| e.clone())
                            .unwrap_or_default();
                        let frame = Frame {
                            stride: width as usize * 4,
                            data,
                            width,
                            height,
                            captured_at: before(now, age_us),
                            grabbed_at: now,
                            seq,
                            input_echo,
                        };
                        seq += 1;
                        post_frame(&tx, &stale, frame, &counters);
                    }
                    Ok(Some(FromCore::Audio { age_us, samples })) => {
                        if let Some(a) = &audio {
                            let resampled = resampler.push(&samples);
                            if !resampled.is_empty() {
                                let first = before(Instant::now(), age_us);
                                let _ = a.try_send(RawAudio {
                                    samples: resampled,
                                    first_sample_at: first,
                                });
                            }
                        }
                    }
                    Ok(Some(FromCore::Reply { ok, message })) => {
                        if let Some(reply) = lock(&pending).pop_front() {
                            let _ = reply.send(if ok { Ok(message) } else { Err(message) });
                        }
                    }
                    Ok(Some(other)) => {
                        tracing::warn!(?other, "unexpected message from the core process");
                    }
                    Ok(None) => break None,
                    Err(WireError::Io(e)) => break Some(e.to_string()),
                    Err(e @ WireError::Malformed(_)) => {
                        let _ = child.kill();
                        break Some(e.to_string());
                    }
                }
            };
            watch.finished.store(true, Ordering::SeqCst);
            end(child, ended, &running, watch.hung.load(Ordering::SeqCst))
        })
        .map_err(CoreProcessError::Spawn)?;
    Ok((
        CaptureThread {
            frames: rx,
            pool: pool_tx,
            handle,
        },
        timing,
    ))
}

/// When the core process was last heard from, and whether the watchdog stopped it.
struct Watch {
    started: Instant,
    heard_ms: AtomicU64,
    /// The reader is done (about to reap the process): its PID must not be signalled.
    finished: AtomicBool,
    hung: AtomicBool,
}

impl Watch {
    fn heard(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.heard_ms.store(ms, Ordering::Relaxed);
    }

    /// Kills the core process when it has been silent for [`HANG_AFTER`].
    fn run(&self, pid: u32, running: &AtomicBool) {
        loop {
            thread::sleep(WATCH_EVERY);
            if self.finished.load(Ordering::SeqCst) || !running.load(Ordering::Relaxed) {
                return;
            }
            let silent = (self.started.elapsed().as_millis() as u64)
                .saturating_sub(self.heard_ms.load(Ordering::Relaxed));
            if silent >= HANG_AFTER.as_millis() as u64 {
                self.hung.store(true, Ordering::SeqCst);
                tracing::error!(
                    pid,
                    silent_ms = silent,
                    "the core process hangs; stopping it"
                );
                // SAFETY: kill takes a PID and a signal. The PID is the core process's: the
                // reader has not reaped it yet (`finished` is set before it does).
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                return;
            }
        }
    }
}

/// The core process closed its output: find out why.
fn end(
    mut child: Child,
    read_error: Option<String>,
    running: &AtomicBool,
    hung: bool,
) -> CaptureEnd {
    let status = child.wait();
    if !running.load(Ordering::Relaxed) {
        return CaptureEnd::Stopped;
    }
    let why = if hung {
        format!(
            "the game's core stopped responding for {} s and was stopped",
            HANG_AFTER.as_secs()
        )
    } else {
        describe(status)
    };
    match read_error {
        Some(e) => tracing::error!(error = %e, "{why}"),
        None => tracing::error!("{why}"),
    }
    CaptureEnd::Failed(CaptureError::CoreDied(why))
}

/// Sends the core every pad change (with a generation number that comes back on the frames
/// run with it), every save/load request and every move of its frame clock, until either side
/// goes away.
/// What the forwarder reads from the rest of glint.
struct ForwardFrom {
    pads: Arc<Pads>,
    pad_changes: Receiver<()>,
    commands: Receiver<GameCommand>,
    phase: Arc<FramePhase>,
    echo: Arc<InputEcho>,
}

fn forward(
    stdin: ChildStdin,
    from: &ForwardFrom,
    echoes: &Mutex<VecDeque<(u64, Echo)>>,
    pending: &Mutex<VecDeque<Reply>>,
) {
    let ForwardFrom {
        pads,
        pad_changes,
        commands,
        phase,
        echo,
    } = from;
    let mut to_core = BufWriter::new(stdin);
    let mut gen = 0u64;
    loop {
        let sent = crossbeam_channel::select! {
            recv(pad_changes) -> m => {
                if m.is_err() {
                    break;
                }
                gen += 1;
                // The input thread publishes its echo before it wakes us: this snapshot
                // covers every packet whose effect these pads carry.
                let snapshot = echo.snapshot();
                {
                    let mut e = lock(echoes);
                    if e.len() == ECHO_HISTORY {
                        e.pop_front();
                    }
                    e.push_back((gen, snapshot));
                }
                let msg = ToCore::Pads { gen, pads: pads.snapshot(), taps: pads.take_taps() };
                write_to_core(&mut to_core, &msg)
            }
            recv(commands) -> m => {
                let (msg, reply) = match m {
                    Ok(GameCommand::Save { reply }) => (ToCore::Save, reply),
                    Ok(GameCommand::Load { reply }) => (ToCore::Load, reply),
                    Err(_) => break,
                };
                lock(pending).push_back(reply);
                write_to_core(&mut to_core, &msg)
            }
            default(PHASE_EVERY) => match phase.take_us() {
                0 => Ok(()),
                us => write_to_core(&mut to_core, &ToCore::Shift { us }),
            },
        };
        if sent.is_err() {
            break; // the core process is gone; its reader reports why
        }
    }
}

/// `now` less an age the core process reported, or `now` itself when the age reaches back
/// before the monotonic clock's origin (the pipe is trusted for layout, not for values).
fn before(now: Instant, age_us: u32) -> Instant {
    now.checked_sub(Duration::from_micros(u64::from(age_us)))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn a_crash_is_told_by_its_signal_and_an_exit_by_its_code() {
        let crashed = Command::new("sh").args(["-c", "kill -SEGV $$"]).status();
        assert_eq!(
            describe(crashed),
            "the game's core crashed (signal 11: SIGSEGV, a bad memory access)"
        );
        let exited = Command::new("sh").args(["-c", "exit 3"]).status();
        assert_eq!(
            describe(exited),
            "the game's core process exited with code 3"
        );
    }
}
