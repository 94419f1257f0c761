//! Instruments: per-stage latency of every frame, per-peer figures and rates, served as JSON at
//! `GET /api/stats` (with every counter of [`Metrics`]) and in the Prometheus text format at
//! `GET /metrics` (registered into [`Metrics`] by [`Stats::register`]).
//!
//! Every frame carries its instants (capture start, grabbed, encode start, converted, encoded)
//! to the rtc thread, which adds "received" and "last packet sent" and records the stages here.
//! Each stage keeps a window of its recent samples for percentiles (JSON, logs, overlay) and a
//! Prometheus histogram for scrapers.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use serde::Serialize;

use crate::encode::EncodedFrame;
use crate::lock;
use crate::metrics::{Counter, Gauge, Metrics};
use crate::peer::PeerId;
use crate::pipeline::PipelineCounters;

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
    /// Size of the last keyframe sent, bytes (0 before the first).
    pub keyframe_bytes: u64,
    /// Opus frames (10 ms each) sent.
    /// On a narrow link every other one is sent inside the next packet
    /// (`session::rate::AUDIO_PAIRED_UNDER_KBPS`) and counted when it is held for it.
    pub audio_frames_sent: u64,
    /// Where this peer's sound goes: "track" (its Opus RTP track), "channel" (the `audio` data
    /// channel, played by the page itself) or "none" (also when the host sends no sound).
    pub audio_path: &'static str,
    /// Frames sent per second over the last stats interval.
    pub fps: f64,
    /// Bytes sent to this peer, media and control.
    pub bytes_sent: u64,
    /// Everything sent to this peer over the last stats interval (media, padding, RTCP, data
    /// channels), kbit/s.
    pub bitrate_kbps: f64,
    /// Encoded video written to this peer (frame payloads, before RTP), bytes.
    pub video_bytes_sent: u64,
    /// The encoded video's rate over the last stats interval, kbit/s: what the picture
    /// itself costs, without padding, retransmissions or headers. Well under the target
    /// means an idle screen (`session/rate/`).
    pub video_kbps: f64,
    /// The send-side bandwidth estimate (transport-wide congestion control feedback), kbit/s.
    pub bwe_kbps: Option<f64>,
    /// The encoder rate this peer's link carries, from the estimate (`session/rate/`).
    pub target_kbps: Option<f64>,
    /// The highest rate it takes, kbit/s: `--bitrate`, or the viewer's own cap if lower (the
    /// page's Quality choice, signaling's `max-bitrate`).
    pub max_kbps: Option<f64>,
    /// The Opus rate the encode's target leaves for sound, kbit/s (`session/rate/`).
    pub audio_kbps: Option<u32>,
    /// The quality tier whose encode it receives (0 the highest; `session/tiers.rs`).
    pub tier: Option<usize>,
    /// Its tier's coded picture size, [width, height] (the screen's, or smaller on a lower
    /// rung of the resolution ladder: `session/ladder.rs`).
    pub picture: Option<(u32, u32)>,
    /// The ladder's rung: 0 the screen's own size, then 3/4, 1/2, 1/3 of each side.
    pub rung: Option<usize>,
    /// Why the ladder is on that rung: "full size", "rate too low for the pixels", "--bitrate
    /// too low for the pixels" (the configured rate is the cap), "encoder over its target".
    pub rung_reason: Option<&'static str>,
    /// The peer's own receive-side estimate (REMB), when it sends one.
    pub remb_kbps: Option<f64>,
    pub rtt_ms: Option<f64>,
    /// Fraction of video packets lost, from the peer's receiver reports.
    pub loss: Option<f64>,
    pub nacks: u64,
    pub plis: u64,
    pub firs: u64,
    pub packets_sent: u64,
    /// ICE restarts the page made on this peer (RFC 8445 §9), each answered on the same
    /// connection.
    pub ice_restarts: u64,
    /// Times its link fell under the picture's rate and the target was cut before the
    /// bandwidth estimate fell (`session/rate/`).
    pub collapses: u64,
}

/// The counters the per-second rates are computed from, and the screen's size.
#[derive(Debug, Clone, Default)]
pub struct RateSources {
    pub captured: Counter,
    pub encoded: Counter,
    pub sent: Counter,
    /// The screen's [width, height] as the capture thread last saw it, pixels (0: not yet).
    pub screen: [Gauge; 2],
}

impl RateSources {
    /// The pipeline's counters and the session's count of frames sent.
    pub fn new(pipeline: &PipelineCounters, sent: Counter) -> Self {
        Self {
            captured: pipeline.captured.clone(),
            encoded: pipeline.encoded.clone(),
            sent,
            screen: [
                pipeline.screen_width.clone(),
                pipeline.screen_height.clone(),
            ],
        }
    }
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
    sources: RateSources,
    public_address: Mutex<Option<SocketAddr>>,
    /// Frames sent when the last log line was made ([`Stats::log_line`]).
    logged_sent: std::sync::atomic::AtomicU64,
}

fn stage_histogram() -> Histogram {
    // 0.25 ms .. ~0.5 s
    Histogram::new(exponential_buckets(0.000_25, 2.0, 12))
}

impl Stats {
    pub fn new(source: String, fps_target: u32, sources: RateSources) -> Arc<Self> {
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
            sources,
            public_address: Mutex::new(None),
            logged_sent: std::sync::atomic::AtomicU64::new(0),
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
    }

    pub fn summary(&self, stage: Stage) -> Summary {
        let w = lock(&self.windows[stage as usize]);
        Summary::of(w.iter().copied())
    }

    /// The host's public address as STUN last told it (`None`: not known, or forgotten).
    pub fn set_public_address(&self, addr: Option<SocketAddr>) {
        *lock(&self.public_address) = addr;
    }

    pub fn publish_peers(&self, peers: Vec<PeerSnapshot>) {
        *lock(&self.peers) = peers;
    }

    /// Updates the per-second rates; call about once a second.
    pub fn tick(&self) {
        let now = Instant::now();
        let captured = self.sources.captured.get();
        let encoded = self.sources.encoded.get();
        let sent = self.sources.sent.get();
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

    /// One log line of the stages, min/avg/max in ms; `None` when no frame was sent since the
    /// last line (nobody watches: the window would only repeat the last figures).
    pub fn log_line(&self) -> Option<String> {
        let host = self.summary(Stage::Host);
        let sent = self.sources.sent.get();
        let before = self
            .logged_sent
            .swap(sent, std::sync::atomic::Ordering::Relaxed);
        if host.count == 0 || sent == before {
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

    /// `GET /api/stats`: these figures and every counter of `metrics`.
    pub fn snapshot(&self, metrics: &Metrics) -> StatsJson {
        let peers = lock(&self.peers).clone();
        let [w, h] = self
            .sources
            .screen
            .each_ref()
            .map(|g| u32::try_from(g.get()));
        let (width, height) = match (w, h) {
            (Ok(w @ 1..), Ok(h @ 1..)) => (Some(w), Some(h)),
            _ => (None, None),
        };
        let counters = metrics.values();
        StatsJson {
            uptime_s: self.started.elapsed().as_secs_f64(),
            source: self.source.clone(),
            width,
            height,
            fps_target: self.fps_target,
            rates: lock(&self.rates).rates,
            bitrate_kbps: peers.iter().fold(0.0, |a, p| a + p.bitrate_kbps),
            peers_connected: peers.iter().filter(|p| p.connected).count() as u64,
            public_address: *lock(&self.public_address),
            counters,
            stages_ms: Stage::ALL
                .iter()
                .map(|s| (s.name(), self.summary(*s)))
                .collect(),
            peers,
        }
    }

    /// Registers the stage histograms, the rates and the per-peer figures for `/metrics`.
    pub fn register(self: &Arc<Self>, metrics: &mut Metrics) {
        metrics.register(
            "stage_seconds",
            "Time each frame spends in each host stage (capture, convert, encode, queue, send; host = all)",
            self.histograms.clone(),
        );
        metrics.register_collector(Box::new(Snapshots(self.clone())));
    }
}

/// `GET /api/stats`.
#[derive(Debug, Serialize)]
pub struct StatsJson {
    pub uptime_s: f64,
    pub source: String,
    /// The screen's size, pixels (each peer's coded `picture` may be smaller), as the capture
    /// thread last saw it: known from the first capture, with or without a page.
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fps_target: u32,
    pub rates: Rates,
    pub bitrate_kbps: f64,
    /// Every counter and gauge of [`Metrics`], by name.
    pub counters: BTreeMap<&'static str, i64>,
    /// The peers of `peers` that are connected (the same instant's figures; the `peers` gauge
    /// of `counters` moves at once and may be ahead of them by up to a stats interval).
    pub peers_connected: u64,
    /// The host's public address and port as a STUN server saw the media port
    /// (`"203.0.113.9:10777"`), announced as a server-reflexive candidate; `null` without
    /// `--ice-server`, before the first answer, or once forgotten.
    pub public_address: Option<SocketAddr>,
    pub stages_ms: HashMap<&'static str, Summary>,
    pub peers: Vec<PeerSnapshot>,
}

/// Reads the rates and peer figures at scrape time.
struct Snapshots(Arc<Stats>);

impl std::fmt::Debug for Snapshots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Snapshots")
    }
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
        let rates = lock(&self.0.rates).rates;
        gauge(
            &mut e,
            "captured_fps",
            "Frames captured per second",
            rates.captured_fps,
        )?;
        gauge(
            &mut e,
            "encoded_fps",
            "Frames encoded per second",
            rates.encoded_fps,
        )?;
        gauge(
            &mut e,
            "sent_fps",
            "Frames sent per second (to all peers)",
            rates.sent_fps,
        )?;
        let peers = lock(&self.0.peers).clone();
        per_peer(&mut e, "peer_bitrate_kbps", "Send bitrate", &peers, |p| {
            Some(p.bitrate_kbps)
        })?;
        per_peer(&mut e, "peer_fps", "Frames sent per second", &peers, |p| {
            Some(p.fps)
        })?;
        per_peer(&mut e, "peer_rtt_seconds", "Round-trip time", &peers, |p| {
            p.rtt_ms.map(|v| v / 1000.0)
        })?;
        per_peer(&mut e, "peer_loss_ratio", "Packet loss", &peers, |p| p.loss)?;
        per_peer(&mut e, "peer_bwe_kbps", "Bandwidth estimate", &peers, |p| {
            p.bwe_kbps
        })?;
        per_peer(&mut e, "peer_nacks", "NACKs received", &peers, |p| {
            Some(p.nacks as f64)
        })?;
        per_peer(&mut e, "peer_plis", "PLIs received", &peers, |p| {
            Some(p.plis as f64)
        })?;
        per_peer(
            &mut e,
            "peer_keyframes_sent",
            "Keyframes sent",
            &peers,
            |p| Some(p.keyframes_sent as f64),
        )?;
        per_peer(
            &mut e,
            "peer_keyframe_bytes",
            "Size of the last keyframe sent, bytes",
            &peers,
            |p| Some(p.keyframe_bytes as f64),
        )?;
        per_peer(&mut e, "peer_firs", "FIRs received", &peers, |p| {
            Some(p.firs as f64)
        })?;
        per_peer(&mut e, "peer_frames_sent", "Frames sent", &peers, |p| {
            Some(p.frames_sent as f64)
        })?;
        per_peer(&mut e, "peer_bytes_sent", "Bytes sent", &peers, |p| {
            Some(p.bytes_sent as f64)
        })?;
        per_peer(
            &mut e,
            "peer_target_kbps",
            "Encoder rate the peer's link carries (from the estimate)",
            &peers,
            |p| p.target_kbps,
        )?;
        per_peer(
            &mut e,
            "peer_remb_kbps",
            "The peer's own receive-side estimate (REMB)",
            &peers,
            |p| p.remb_kbps,
        )?;
        Ok(())
    }
}

/// Updates the rates every second and logs the stage timings every `log_every` seconds.
pub async fn ticker(stats: std::sync::Arc<Stats>, log_every: u64) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut n = 0u64;
    loop {
        every.tick().await;
        stats.tick();
        n += 1;
        if n.is_multiple_of(log_every) {
            if let Some(line) = stats.log_line() {
                tracing::info!("stages ms min/avg/max: {line}");
            }
        }
    }
}

#[cfg(test)]
mod tests;
