//! System audio through cpal's PulseAudio host: by default the monitor of the default sink
//! (what the host is playing), 48 kHz stereo f32, 10 ms buffers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use crossbeam_channel::Sender;

use super::{Audience, AudioCounters, AudioError, RawAudio, CHANNELS, FRAME_SAMPLES, SAMPLE_RATE};

/// Finds the device: `name` is a PulseAudio source name (`pactl list short sources`) or a
/// description; `None` is the monitor of the default sink.
fn find_device(host: &cpal::Host, name: Option<&str>) -> Result<cpal::Device, AudioError> {
    let inputs: Vec<cpal::Device> = host
        .input_devices()
        .map_err(|e| AudioError::NoServer(e.to_string()))?
        .collect();
    let id_of = |d: &cpal::Device| d.id().map(|i| i.id().to_owned()).unwrap_or_default();
    let wanted = match name {
        Some(n) => n.to_owned(),
        None => {
            let sink = host
                .default_output_device()
                .map(|d| id_of(&d))
                .ok_or_else(|| AudioError::NoDevice("the default sink".into()))?;
            format!("{sink}.monitor")
        }
    };
    inputs
        .into_iter()
        .find(|d| {
            id_of(d) == wanted || d.description().map(|x| x.name() == wanted).unwrap_or(false)
        })
        .ok_or(AudioError::NoDevice(wanted))
}

/// The stream is paused (corked) or resumed within this time of the last page going or the
/// first coming (a page is watched from its offer on, before it connects).
const WATCH_LOOK_EVERY: Duration = Duration::from_millis(20);
/// A stream the sound server dropped is reopened after this wait, doubling up to
/// [`REOPEN_AFTER_MAX`] while it cannot be. PulseAudio drops a client that did not read for
/// some seconds: a host stopped for 12 s (`kill -STOP`, a suspended terminal job) lost its
/// stream, and with it the Opus thread's input, which ended glint.
const REOPEN_AFTER: Duration = Duration::from_millis(200);
/// See [`REOPEN_AFTER`].
const REOPEN_AFTER_MAX: Duration = Duration::from_secs(5);

/// Opens the device and starts a named thread that owns the stream until `running` is false.
/// Buffers go to `tx`; a full queue drops the new buffer. While `audience` has nobody the
/// stream is paused: PulseAudio then records nothing and
/// nothing is encoded (with no page, sound capture and Opus cost ~10 % of a core here). A
/// stream that fails (its server dropped it) is reopened ([`REOPEN_AFTER`]); the thread
/// keeps `tx` meanwhile, so the encoder waits instead of ending.
pub fn start(
    device: Option<String>,
    tx: Sender<RawAudio>,
    running: Arc<AtomicBool>,
    counters: Arc<AudioCounters>,
    audience: Arc<dyn Audience>,
) -> Result<JoinHandle<()>, AudioError> {
    let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
    let handle = thread::Builder::new()
        .name("glint-audio".into())
        .spawn(move || {
            // Each stream has its own flag: the old one's error at its end sets none.
            let reopen = |failed: &Arc<AtomicBool>| {
                open(
                    device.as_deref(),
                    tx.clone(),
                    counters.clone(),
                    running.clone(),
                    failed.clone(),
                )
            };
            let mut failed = Arc::new(AtomicBool::new(false));
            let mut stream = match reopen(&failed) {
                Ok((stream, name)) => {
                    let _ = ready_tx.send(Ok(name));
                    stream
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let mut paused = false;
            let mut wait = REOPEN_AFTER;
            // When the next reopen is due; the wait is slept in WATCH_LOOK_EVERY steps, so
            // glint ends within that time of `running` going false, not after up to 5 s.
            let mut retry_at: Option<Instant> = None;
            while running.load(Ordering::Relaxed) {
                if failed.load(Ordering::Relaxed) {
                    let due = *retry_at.get_or_insert_with(|| Instant::now() + wait);
                    if Instant::now() < due {
                        thread::sleep(WATCH_LOOK_EVERY);
                        continue;
                    }
                    retry_at = None;
                    let fresh = Arc::new(AtomicBool::new(false));
                    match reopen(&fresh) {
                        Ok((s, name)) => {
                            failed = fresh;
                            stream = s;
                            paused = false;
                            wait = REOPEN_AFTER;
                            counters.stream_reopens.inc();
                            tracing::info!(device = %name, "sound capture reopened its stream");
                        }
                        Err(e) => {
                            wait = (wait * 2).min(REOPEN_AFTER_MAX);
                            tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "sound capture could not reopen its stream");
                        }
                    }
                    continue;
                }
                let pause = !audience.any();
                if pause != paused {
                    paused = pause;
                    let done = if pause { stream.pause() } else { stream.play() };
                    match done {
                        Ok(()) => tracing::debug!(paused, "sound capture follows the viewers"),
                        Err(e) => tracing::warn!(error = %e, paused, "sound capture not switched"),
                    }
                }
                thread::sleep(WATCH_LOOK_EVERY);
            }
            drop(stream);
        })
        .map_err(|e| AudioError::Open(e.to_string()))?;
    match ready_rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(name)) => {
            tracing::info!(device = %name, "audio capture started");
            Ok(handle)
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(AudioError::Open(
            "the audio device did not open in 10 s".into(),
        )),
    }
}

/// Opens the stream: buffers to `tx`; an error while `running` sets `failed`.
fn open(
    device: Option<&str>,
    tx: Sender<RawAudio>,
    counters: Arc<AudioCounters>,
    running: Arc<AtomicBool>,
    failed: Arc<AtomicBool>,
) -> Result<(cpal::Stream, String), AudioError> {
    let host = cpal::host_from_id(cpal::HostId::PulseAudio)
        .map_err(|e| AudioError::NoServer(e.to_string()))?;
    let dev = find_device(&host, device)?;
    let name = dev
        .id()
        .map(|i| i.id().to_owned())
        .unwrap_or_else(|_| "?".into());
    let config = cpal::StreamConfig {
        channels: CHANNELS as u16,
        sample_rate: SAMPLE_RATE,
        // The PulseAudio host's default buffer is seconds long (PITFALLS.md): ask for 10 ms.
        buffer_size: cpal::BufferSize::Fixed(FRAME_SAMPLES as u32),
    };
    let stream = dev
        .build_input_stream::<f32, _, _>(
            config,
            move |data: &[f32], _info| {
                let now = Instant::now();
                let frames = data.len() / CHANNELS;
                let span = Duration::from_nanos(frames as u64 * 1_000_000_000 / 48_000);
                counters.raw_buffers.inc();
                let raw = RawAudio {
                    samples: data.to_vec(),
                    // The callback runs when the buffer is full: its first sample is older.
                    first_sample_at: now.checked_sub(span).unwrap_or(now),
                };
                if tx.try_send(raw).is_err() {
                    counters.raw_dropped.inc();
                }
            },
            move |e| {
                // At shutdown glint's own PulseAudio may go before this stream: not a fault.
                if running.load(Ordering::Relaxed) {
                    // Logged once per stream: the capture thread reopens it.
                    if !failed.swap(true, Ordering::Relaxed) {
                        tracing::warn!(error = %e, "audio stream error: reopening it");
                    }
                } else {
                    tracing::debug!(error = %e, "audio stream ended at shutdown");
                }
            },
            None,
        )
        .map_err(|e| AudioError::Open(e.to_string()))?;
    stream.play().map_err(|e| AudioError::Open(e.to_string()))?;
    Ok((stream, name))
}
