//! Instruments: per-stage latency of every frame, session and per-peer figures, served as JSON
//! at `GET /api/stats` and in the Prometheus text format at `GET /metrics`.
//!
//! Every frame carries its instants (capture start, grabbed, encode start, converted, encoded)
//! to the rtc thread, which adds "received" and "last packet sent" and records the stages here.
//! Each stage keeps a window of its recent samples for percentiles (JSON, logs, overlay) and a
//! Prometheus histogram for scrapers.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use serde::Serialize;

use crate::audio::AudioCounters;
use crate::encode::EncodedFrame;
use crate::input::InputCounters;
use crate::lock;
use crate::peer::PeerId;
use crate::phase::FramePhase;
use crate::pipeline::PipelineCounters;
use crate::rtc::RtcCounters;
use crate::signal::SignalCounters;

/// The stages of a frame's way through the host, in [`Stage::ALL`] order (`stage as usize`
/// indexes per-stage tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Reading the pixels from the source.
    Capture,
    /// Colour conversion to the encoder's format.
    Convert,
    Encode,
    /// Waiting in the two hand-offs (capture → encode, encode → rtc).
    Queue,
    /// Packetizing, encrypting and sending to every peer, until the last datagram is out.
    Send,
    /// All of it: capture start → last packet sent.
    Host,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::Capture,
        Stage::Convert,
        Stage::Encode,
        Stage::Queue,
        Stage::Send,
        Stage::Host,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Capture => "capture",
            Stage::Convert => "convert",
            Stage::Encode => "encode",
            Stage::Queue => "queue",
            Stage::Send => "send",
            Stage::Host => "host",
        }
    }
}

/// Samples kept per stage for percentiles: several seconds at 60 fps.
const WINDOW: usize = 600;

/// Min, mean, max and percentiles of a window, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub min: f64,
    pub avg: f64,
    pub max: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

impl Summary {
    /// Summarises samples given in microseconds.
    pub fn of(samples: impl Iterator<Item = u32>) -> Summary {
        let mut v: Vec<u32> = samples.collect();
        if v.is_empty() {
            return Summary::default();
        }
        v.sort_unstable();
        let ms = |us: u32| f64::from(us) / 1000.0;
        let at = |q: f64| ms(v[((v.len() - 1) as f64 * q).round() as usize]);
        let sum: u64 = v.iter().map(|&x| u64::from(x)).sum();
        Summary {
            count: v.len(),
            min: ms(v[0]),
            avg: sum as f64 / v.len() as f64 / 1000.0,
            max: ms(v[v.len() - 1]),
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
        }
    }
}

/// What the rtc thread knows of one peer, published once a second.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PeerSnapshot {
    pub id: u64,
    pub codec: Option<&'static str>,
    pub connected: bool,
    pub frames_sent: u64,
    pub keyframes_sent: u64,
    /// Opus frames (10 ms each) sent.
    pub audio_frames_sent: u64,
    /// Where this peer's sound goes: "track" (its Opus RTP track), "channel" (the `audio` data
    /// channel, played by the page itself) or "none".
    pub audio_path: &'static str,
    /// Frames sent per second over the last stats interval.
    pub fps: f64,
    /// Bytes sent to this peer, media and control.
    pub bytes_sent: u64,
    pub bitrate_kbps: f64,
    /// The congestion controller's estimate, when the peer sends transport-wide feedback.
    pub bwe_kbps: Option<f64>,
    pub rtt_ms: Option<f64>,
    /// Fraction of video packets lost, from the peer's receiver reports.
    pub loss: Option<f64>,
    pub nacks: u64,
    pub plis: u64,
    pub firs: u64,
    pub packets_sent: u64,
}

/// Counters the stats read but other parts own.
pub struct Sources {
    pub pipeline: Arc<PipelineCounters>,
    pub rtc: Arc<RtcCounters>,
    pub input: Arc<InputCounters>,
    pub audio: Arc<AudioCounters>,
    pub signal: Arc<SignalCounters>,
    pub phase: Arc<FramePhase>,
}

/// Rates computed once a second by [`Stats::tick`].
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Rates {
    pub captured_fps: f64,
    pub encoded_fps: f64,
    pub sent_fps: f64,
}

#[derive(Default)]
struct RateState {
    last: Option<(Instant, u64, u64, u64)>,
    rates: Rates,
}

pub struct Stats {
    started: Instant,
    pub source: String,
    pub fps_target: u32,
    /// Per stage, in [`Stage::ALL`] order: recent samples, and its histogram (a handle into
    /// `histograms`, made once so recording needs no label lookup).
    windows: Vec<Mutex<VecDeque<u32>>>,
    stage_histograms: Vec<Histogram>,
    histograms: Family<Vec<(&'static str, &'static str)>, Histogram>,
    peers: Mutex<Vec<PeerSnapshot>>,
    rates: Mutex<RateState>,
    size: Mutex<(u32, u32)>,
    sources: Sources,
}

fn stage_histogram() -> Histogram {
    // 0.25 ms .. ~0.5 s
    Histogram::new(exponential_buckets(0.000_25, 2.0, 12))
}

impl Stats {
    pub fn new(source: String, fps_target: u32, sources: Sources) -> Arc<Self> {
        let histograms = Family::new_with_constructor(stage_histogram as fn() -> Histogram);
        let stage_histograms = Stage::ALL
            .iter()
            .map(|s| histograms.get_or_create(&vec![("stage", s.name())]).clone())
            .collect();
        Arc::new(Self {
            started: Instant::now(),
            source,
            fps_target,
            windows: Stage::ALL
                .iter()
                .map(|_| Mutex::new(VecDeque::with_capacity(WINDOW)))
                .collect(),
            stage_histograms,
            histograms,
            peers: Mutex::new(Vec::new()),
            rates: Mutex::new(RateState::default()),
            size: Mutex::new((0, 0)),
            sources,
        })
    }

    pub fn record(&self, stage: Stage, d: Duration) {
        let us = d.as_micros().min(u128::from(u32::MAX)) as u32;
        let i = stage as usize;
        {
            let mut w = lock(&self.windows[i]);
            if w.len() == WINDOW {
                w.pop_front();
            }
            w.push_back(us);
        }
        self.stage_histograms[i].observe(d.as_secs_f64());
    }

    /// Records every stage of a frame whose last packet left at `sent`.
    pub fn record_frame(&self, f: &EncodedFrame, received: Instant, sent: Instant) {
        let d = |a: Instant, b: Instant| b.saturating_duration_since(a);
        self.record(Stage::Capture, d(f.captured_at, f.grabbed_at));
        self.record(Stage::Convert, d(f.started_at, f.converted_at));
        self.record(Stage::Encode, d(f.converted_at, f.encoded_at));
        self.record(
            Stage::Queue,
            d(f.grabbed_at, f.started_at) + d(f.encoded_at, received),
        );
        self.record(Stage::Send, d(received, sent));
        self.record(Stage::Host, d(f.captured_at, sent));
        *lock(&self.size) = (f.width, f.height);
    }

    pub fn summary(&self, stage: Stage) -> Summary {
        let w = lock(&self.windows[stage as usize]);
        Summary::of(w.iter().copied())
    }

    pub fn publish_peers(&self, peers: Vec<PeerSnapshot>) {
        *lock(&self.peers) = peers;
    }

    /// Updates the per-second rates; call about once a second.
    pub fn tick(&self) {
        let now = Instant::now();
        let p = &self.sources.pipeline;
        let captured = p.captured.load(Ordering::Relaxed);
        let encoded = p.encoded.load(Ordering::Relaxed);
        let sent = self.sources.rtc.frames_sent.load(Ordering::Relaxed);
        let mut r = lock(&self.rates);
        if let Some((t, c, e, s)) = r.last {
            let secs = now.duration_since(t).as_secs_f64().max(1e-3);
            r.rates = Rates {
                captured_fps: (captured - c) as f64 / secs,
                encoded_fps: (encoded - e) as f64 / secs,
                sent_fps: (sent - s) as f64 / secs,
            };
        }
        r.last = Some((now, captured, encoded, sent));
    }

    /// One log line of the stages, min/avg/max in ms.
    pub fn log_line(&self) -> Option<String> {
        let host = self.summary(Stage::Host);
        if host.count == 0 {
            return None;
        }
        let parts: Vec<String> = Stage::ALL
            .iter()
            .map(|s| {
                let m = self.summary(*s);
                format!("{} {:.2}/{:.2}/{:.2}", s.name(), m.min, m.avg, m.max)
            })
            .collect();
        Some(parts.join(" · "))
    }

    pub fn snapshot(&self) -> StatsJson {
        let p = &self.sources.pipeline;
        let r = &self.sources.rtc;
        let i = &self.sources.input;
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let peers = lock(&self.peers).clone();
        let (width, height) = *lock(&self.size);
        StatsJson {
            uptime_s: self.started.elapsed().as_secs_f64(),
            source: self.source.clone(),
            width,
            height,
            fps_target: self.fps_target,
            rates: lock(&self.rates).rates,
            bitrate_kbps: peers.iter().fold(0.0, |a, p| a + p.bitrate_kbps),
            counters: Counters {
                frames_captured: load(&p.captured),
                frames_capture_dropped: load(&p.capture_dropped),
                frames_captured_early: load(&p.early_captures),
                frames_encoded: load(&p.encoded),
                frames_encoded_dropped: load(&p.encoded_dropped),
                keyframes_encoded: load(&p.keyframes),
                encode_errors: load(&p.encode_errors),
                frames_sent: load(&r.frames_sent),
                keyframe_requests: load(&r.keyframe_requests),
                udp_bytes_in: load(&r.bytes_in),
                udp_datagrams_dropped: load(&r.datagrams_dropped),
                udp_unknown_datagrams: load(&r.unknown_datagrams),
                input_packets: load(&i.packets),
                input_malformed: load(&i.malformed),
                input_dropped: load(&i.dropped_full) + load(&r.input_dropped_full),
                input_inject_errors: load(&i.inject_errors),
                channel_bad_data: load(&r.channel_bad_data),
                frame_phase_reports: load(&self.sources.phase.reports),
                frame_phase_shifts: load(&self.sources.phase.shifts),
                signaling_bad_messages: load(&self.sources.signal.bad_messages),
                signaling_refused: load(&self.sources.signal.refused),
                audio_frames_encoded: load(&self.sources.audio.frames_encoded),
                audio_late_dropped: load(&self.sources.audio.late_dropped),
                audio_raw_dropped: load(&self.sources.audio.raw_dropped),
                audio_reanchors: load(&self.sources.audio.reanchors),
            },
            peers_connected: load(&r.peers),
            stages_ms: Stage::ALL
                .iter()
                .map(|s| (s.name(), self.summary(*s)))
                .collect(),
            peers,
        }
    }

    /// The Prometheus registry: stage histograms plus everything in [`Stats::snapshot`].
    pub fn registry(self: &Arc<Self>) -> Registry {
        let mut registry = Registry::with_prefix("glint");
        registry.register(
            "stage_seconds",
            "Time each frame spends in each host stage (capture, convert, encode, queue, send; host = all)",
            self.histograms.clone(),
        );
        registry.register_collector(Box::new(Snapshots(self.clone())));
        registry
    }
}

/// `GET /api/stats`.
#[derive(Debug, Serialize)]
pub struct StatsJson {
    pub uptime_s: f64,
    pub source: String,
    pub width: u32,
    pub height: u32,
    pub fps_target: u32,
    pub rates: Rates,
    pub bitrate_kbps: f64,
    pub counters: Counters,
    pub peers_connected: u64,
    pub stages_ms: HashMap<&'static str, Summary>,
    pub peers: Vec<PeerSnapshot>,
}

#[derive(Debug, Serialize)]
pub struct Counters {
    pub frames_captured: u64,
    pub frames_capture_dropped: u64,
    pub frames_captured_early: u64,
    pub frames_encoded: u64,
    pub frames_encoded_dropped: u64,
    pub keyframes_encoded: u64,
    pub encode_errors: u64,
    pub frames_sent: u64,
    pub keyframe_requests: u64,
    pub udp_bytes_in: u64,
    pub udp_datagrams_dropped: u64,
    pub udp_unknown_datagrams: u64,
    pub input_packets: u64,
    pub input_malformed: u64,
    pub input_dropped: u64,
    pub input_inject_errors: u64,
    pub channel_bad_data: u64,
    pub frame_phase_reports: u64,
    pub frame_phase_shifts: u64,
    pub signaling_bad_messages: u64,
    pub signaling_refused: u64,
    pub audio_frames_encoded: u64,
    pub audio_late_dropped: u64,
    pub audio_raw_dropped: u64,
    pub audio_reanchors: u64,
}

/// Reads the counters and peer figures at scrape time.
struct Snapshots(Arc<Stats>);

impl std::fmt::Debug for Snapshots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Snapshots")
    }
}

fn counter(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    v: u64,
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(v);
    c.encode(e.encode_descriptor(name, help, None, c.metric_type())?)
}

fn gauge(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    v: f64,
) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(v);
    g.encode(e.encode_descriptor(name, help, None, g.metric_type())?)
}

/// One gauge per peer, labelled `peer`.
fn per_peer(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    peers: &[PeerSnapshot],
    value: impl Fn(&PeerSnapshot) -> Option<f64>,
) -> Result<(), std::fmt::Error> {
    let mut family = e.encode_descriptor(
        name,
        help,
        None,
        prometheus_client::metrics::MetricType::Gauge,
    )?;
    for p in peers {
        if let Some(v) = value(p) {
            let id = PeerId(p.id).to_string();
            ConstGauge::new(v).encode(family.encode_family(&[("peer", id.as_str())])?)?;
        }
    }
    Ok(())
}

impl Collector for Snapshots {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.0.snapshot();
        let c = &s.counters;
        for (name, help, v) in [
            ("frames_captured", "Frames captured", c.frames_captured),
            (
                "frames_capture_dropped",
                "Captured frames replaced by a newer one before encode",
                c.frames_capture_dropped,
            ),
            (
                "frames_captured_early",
                "Frames captured before their tick because the screen changed (X DAMAGE)",
                c.frames_captured_early,
            ),
            ("frames_encoded", "Access units encoded", c.frames_encoded),
            (
                "frames_encoded_dropped",
                "Encoded frames dropped on a full queue",
                c.frames_encoded_dropped,
            ),
            (
                "keyframes_encoded",
                "Keyframes encoded",
                c.keyframes_encoded,
            ),
            ("encode_errors", "Encoder failures", c.encode_errors),
            ("frames_sent", "Frames written to peers", c.frames_sent),
            ("keyframe_requests", "PLI/FIR honoured", c.keyframe_requests),
            ("udp_bytes_in", "UDP bytes received", c.udp_bytes_in),
            (
                "udp_datagrams_dropped",
                "Datagrams dropped on a full queue",
                c.udp_datagrams_dropped,
            ),
            ("input_packets", "Input packets applied", c.input_packets),
            (
                "input_malformed",
                "Malformed input packets dropped",
                c.input_malformed,
            ),
            (
                "input_dropped",
                "Input packets dropped on a full queue",
                c.input_dropped,
            ),
            (
                "channel_bad_data",
                "Data channel messages refused (not UTF-8 text, or sent on a host-to-page channel)",
                c.channel_bad_data,
            ),
            (
                "frame_phase_reports",
                "Frame leads reported by the playing page",
                c.frame_phase_reports,
            ),
            (
                "frame_phase_shifts",
                "Moves of the capture tick to the playing page's compositor phase",
                c.frame_phase_shifts,
            ),
            (
                "signaling_bad_messages",
                "Malformed signaling messages",
                c.signaling_bad_messages,
            ),
            (
                "signaling_refused",
                "Signaling sockets refused for a wrong password",
                c.signaling_refused,
            ),
            (
                "audio_frames_encoded",
                "Opus frames (10 ms) encoded",
                c.audio_frames_encoded,
            ),
            (
                "audio_late_dropped",
                "Opus frames dropped because newer ones came before the rtc thread took them",
                c.audio_late_dropped,
            ),
        ] {
            counter(&mut e, name, help, v)?;
        }
        gauge(&mut e, "peers", "Connected peers", s.peers_connected as f64)?;
        gauge(
            &mut e,
            "captured_fps",
            "Frames captured per second",
            s.rates.captured_fps,
        )?;
        gauge(
            &mut e,
            "encoded_fps",
            "Frames encoded per second",
            s.rates.encoded_fps,
        )?;
        let peers = &s.peers;
        per_peer(&mut e, "peer_bitrate_kbps", "Send bitrate", peers, |p| {
            Some(p.bitrate_kbps)
        })?;
        per_peer(&mut e, "peer_fps", "Frames sent per second", peers, |p| {
            Some(p.fps)
        })?;
        per_peer(&mut e, "peer_rtt_seconds", "Round-trip time", peers, |p| {
            p.rtt_ms.map(|v| v / 1000.0)
        })?;
        per_peer(&mut e, "peer_loss_ratio", "Packet loss", peers, |p| p.loss)?;
        per_peer(&mut e, "peer_bwe_kbps", "Bandwidth estimate", peers, |p| {
            p.bwe_kbps
        })?;
        per_peer(&mut e, "peer_nacks", "NACKs received", peers, |p| {
            Some(p.nacks as f64)
        })?;
        per_peer(&mut e, "peer_plis", "PLIs received", peers, |p| {
            Some(p.plis as f64)
        })?;
        per_peer(
            &mut e,
            "peer_keyframes_sent",
            "Keyframes sent",
            peers,
            |p| Some(p.keyframes_sent as f64),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_percentiles() {
        let s = Summary::of((1..=100).map(|ms| ms * 1000));
        assert_eq!(s.count, 100);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 100.0);
        assert!((s.avg - 50.5).abs() < 1e-9);
        assert_eq!(s.p50, 51.0);
        assert_eq!(s.p95, 95.0);
        assert_eq!(s.p99, 99.0);
        assert_eq!(Summary::of(std::iter::empty()), Summary::default());
    }

    fn stats() -> Arc<Stats> {
        Stats::new(
            "test".into(),
            60,
            Sources {
                pipeline: Arc::default(),
                rtc: Arc::default(),
                input: Arc::default(),
                audio: Arc::default(),
                signal: Arc::default(),
                phase: Arc::default(),
            },
        )
    }

    #[test]
    fn the_window_keeps_the_newest_samples() {
        let s = stats();
        for ms in 0..(WINDOW as u64 + 100) {
            s.record(Stage::Encode, Duration::from_millis(ms));
        }
        let m = s.summary(Stage::Encode);
        assert_eq!(m.count, WINDOW);
        assert_eq!(m.min, 100.0);
    }

    #[test]
    fn prometheus_text_has_stage_histograms_and_counters() {
        let s = stats();
        s.record(Stage::Host, Duration::from_millis(3));
        s.sources.pipeline.captured.fetch_add(7, Ordering::Relaxed);
        s.publish_peers(vec![PeerSnapshot {
            id: 4,
            rtt_ms: Some(2.0),
            ..PeerSnapshot::default()
        }]);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &s.registry()).expect("encodes");
        assert!(
            text.contains("glint_stage_seconds_count{stage=\"host\"} 1"),
            "{text}"
        );
        assert!(text.contains("glint_frames_captured_total 7"), "{text}");
        assert!(
            text.contains("glint_peer_rtt_seconds{peer=\"peer4\"} 0.002"),
            "{text}"
        );
    }
}
