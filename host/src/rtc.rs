//! The rtc thread: the one owner of every peer's `str0m::Rtc` and of the UDP sockets (one
//! port, one socket per local address so each packet's destination is known). It feeds each
//! `Rtc` one input at a time and drains `poll_output` until `Timeout` after every mutation.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{bounded, select_biased, Receiver, Sender, TrySendError};
use str0m::bwe::BweKind;
use str0m::change::SdpOffer;
use str0m::channel::ChannelId;
use str0m::format::Codec as RtcCodec;
use str0m::media::{Frequency, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{AbsCaptureTime, Extension};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};
use thiserror::Error;
use tokio::sync::oneshot;

use crate::audio::EncodedAudio;
use crate::config::CodecChoice;
use crate::encode::{Codec, EncodedFrame};
use crate::input::InputMsg;
use crate::peer::{Notice, PeerId, PeerNotifier};
use crate::pipeline::EncodeControl;
use crate::stats::{PeerSnapshot, Stats};

/// Signaling → rtc. When full, signaling answers "busy" to that client.
pub const COMMAND_QUEUE: usize = 64;
/// UDP reader threads → rtc. When full the datagram is dropped, as a congested link would.
pub const DATAGRAM_QUEUE: usize = 1024;
/// Largest datagram read.
const MAX_DATAGRAM: usize = 2048;
/// A peer asks for keyframes (PLI/FIR) at most this often.
const KEYFRAME_MIN_INTERVAL: Duration = Duration::from_millis(300);
/// The data channel labels the web client opens.
pub const INPUT_CHANNEL: &str = "input";
pub const TEXT_CHANNEL: &str = "text";
/// Host → browser, one message per frame sent: see `host/docs/input-protocol.md`.
pub const CONTROL_CHANNEL: &str = "control";
/// Data channel label on which a page asks for its sound as Opus packets it plays itself
/// (WebCodecs + an AudioWorklet, without the browser's jitter buffer); see [`audio_packet`].
pub const AUDIO_CHANNEL: &str = "audio";
/// Version byte of an [`audio_packet`].
const AUDIO_PACKET_VERSION: u8 = 1;
/// One Opus packet's length in 48 kHz ticks (10 ms).
const AUDIO_FRAME_TICKS: u32 = 480;
/// Control message type: the frame echo.
const MSG_FRAME_ECHO: u8 = 1;

#[derive(Debug, Error)]
pub enum RtcError {
    #[error("the offer is not valid SDP: {0}")]
    BadOffer(String),
    #[error("cannot accept the offer: {0}")]
    Rejected(String),
    #[error("the browser offers no video codec this host sends ({0})")]
    NoCodec(&'static str),
    #[error("the host is shutting down")]
    Gone,
}

/// What signaling asks of the rtc thread.
#[derive(Debug)]
pub enum RtcCommand {
    Offer {
        peer: PeerId,
        sdp: String,
        notify: PeerNotifier,
        reply: oneshot::Sender<Result<String, RtcError>>,
    },
    Leave {
        peer: PeerId,
    },
    /// A remote ICE candidate trickled by the page (SDP `candidate:` attribute value).
    Candidate {
        peer: PeerId,
        candidate: String,
    },
}

/// Counters of the rtc thread.
#[derive(Debug, Default)]
pub struct RtcCounters {
    pub peers: AtomicU64,
    pub frames_sent: AtomicU64,
    pub bytes_in: AtomicU64,
    pub datagrams_dropped: AtomicU64,
    pub unknown_datagrams: AtomicU64,
    pub keyframe_requests: AtomicU64,
    pub input_dropped_full: AtomicU64,
    /// Data a page sent where it may not: text that is not UTF-8, or anything on a channel
    /// that carries data to the page only (`control`, `audio`) or that glint does not know.
    pub channel_bad_data: AtomicU64,
}

/// What the rtc thread needs from the rest of the process.
pub struct RtcParts {
    pub codec: CodecChoice,
    pub public_ip: Option<IpAddr>,
    pub commands: Receiver<RtcCommand>,
    pub frames: Receiver<EncodedFrame>,
    /// Opus frames; a receiver that never yields when there is no sound.
    pub audio: Receiver<EncodedAudio>,
    pub input: Sender<InputMsg>,
    pub control: Arc<EncodeControl>,
    pub counters: Arc<RtcCounters>,
    pub stats: Arc<Stats>,
    /// Put audio and video in one media stream so the browser lip-syncs them.
    pub av_sync: bool,
}

/// Header extension ids (str0m takes the browser's ids where its offer has them).
const EXT_ABS_SEND_TIME: u8 = 2;
const EXT_MID: u8 = 4;
const EXT_PLAYOUT_DELAY: u8 = 6;
const EXT_ABS_CAPTURE_TIME: u8 = 7;

/// How often str0m reports per-peer figures, and the rtc thread publishes them.
const STATS_INTERVAL: Duration = Duration::from_secs(1);

struct Datagram {
    local: SocketAddr,
    source: SocketAddr,
    data: Vec<u8>,
    at: Instant,
}

struct Peer {
    id: PeerId,
    rtc: Rtc,
    notify: PeerNotifier,
    video: Option<(Mid, Pt, Codec)>,
    audio: Option<(Mid, Pt)>,
    input_channel: Option<ChannelId>,
    text_channel: Option<ChannelId>,
    control_channel: Option<ChannelId>,
    /// When open, this peer's sound goes here instead of its Opus track.
    audio_channel: Option<ChannelId>,
    /// Whether this peer was told it sent data where none is taken.
    told_bad_channel: bool,
    connected: bool,
    /// Delta frames are held back until this peer has had a keyframe.
    has_keyframe: bool,
    last_keyframe_request: Option<Instant>,
    timeout: Instant,
    snapshot: PeerSnapshot,
    /// Bytes sent and when, at the previous stats event (for the bitrate).
    last_bytes: Option<(Instant, u64, u64)>,
}

/// Binds one UDP socket per local address, all on the same port.
pub fn bind_sockets(port: u16, listen_ip: IpAddr) -> std::io::Result<Vec<UdpSocket>> {
    let mut ips: Vec<IpAddr> = if_addrs::get_if_addrs()?
        .into_iter()
        .map(|i| i.ip())
        .filter(|ip| ip.is_ipv4())
        .collect();
    // Loopback-only listening still needs the LAN addresses: Chromium never gathers on 127.0.0.1.
    if !listen_ip.is_unspecified() && !listen_ip.is_loopback() {
        ips.retain(|ip| *ip == listen_ip || ip.is_loopback());
    }
    ips.sort_by_key(|ip| ip.is_loopback());
    ips.dedup();
    for _attempt in 0..16 {
        let mut sockets = Vec::new();
        let mut chosen = port;
        let mut ok = true;
        for ip in &ips {
            match UdpSocket::bind((*ip, chosen)) {
                Ok(s) => {
                    chosen = s.local_addr()?.port();
                    sockets.push(s);
                }
                Err(e) if port == 0 && e.kind() == std::io::ErrorKind::AddrInUse => {
                    ok = false;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        if ok && !sockets.is_empty() {
            return Ok(sockets);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrNotAvailable,
        "no UDP port free on every local address",
    ))
}

/// Starts the UDP readers and the rtc thread.
pub fn spawn(sockets: Vec<UdpSocket>, parts: RtcParts) -> std::io::Result<JoinHandle<()>> {
    let (dg_tx, dg_rx) = bounded::<Datagram>(DATAGRAM_QUEUE);
    let mut senders = HashMap::new();
    for socket in sockets {
        let local = socket.local_addr()?;
        let reader = socket.try_clone()?;
        let tx = dg_tx.clone();
        let counters = parts.counters.clone();
        thread::Builder::new()
            .name(format!("glint-udp-{}", local.ip()))
            .spawn(move || read_loop(reader, local, tx, counters))?;
        senders.insert(local, socket);
    }
    thread::Builder::new()
        .name("glint-rtc".into())
        .spawn(move || RtcLoop::new(senders, parts).run(dg_rx))
}

fn read_loop(socket: UdpSocket, local: SocketAddr, tx: Sender<Datagram>, c: Arc<RtcCounters>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        match socket.recv_from(&mut buf) {
            Ok((n, source)) => {
                c.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
                let dg = Datagram {
                    local,
                    source,
                    data: buf[..n].to_vec(),
                    at: Instant::now(),
                };
                match tx.try_send(dg) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        c.datagrams_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(TrySendError::Disconnected(_)) => return, // the rtc thread is gone
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, %local, "UDP receive failed");
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

struct RtcLoop {
    sockets: HashMap<SocketAddr, UdpSocket>,
    parts: RtcParts,
    peers: Vec<Peer>,
    by_source: HashMap<SocketAddr, PeerId>,
    epoch: Instant,
    last_publish: Instant,
    /// The previous Opus packet and its timestamp: every `audio` channel packet repeats it,
    /// so a page that lost one packet plays it from the next.
    last_audio: Option<(u32, Arc<[u8]>)>,
}

impl RtcLoop {
    fn new(sockets: HashMap<SocketAddr, UdpSocket>, parts: RtcParts) -> Self {
        str0m::crypto::from_feature_flags().install_process_default();
        Self {
            sockets,
            parts,
            peers: Vec::new(),
            by_source: HashMap::new(),
            epoch: Instant::now(),
            last_audio: None,
            last_publish: Instant::now(),
        }
    }

    fn run(mut self, datagrams: Receiver<Datagram>) {
        let commands = self.parts.commands.clone();
        let frames = self.parts.frames.clone();
        let audio = self.parts.audio.clone();
        loop {
            let next = self
                .peers
                .iter()
                .map(|p| p.timeout)
                .min()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
            let wait = next.saturating_duration_since(Instant::now());
            select_biased! {
                recv(datagrams) -> dg => match dg {
                    Ok(dg) => self.handle_datagram(dg),
                    Err(_) => return,
                },
                recv(audio) -> a => if let Ok(a) = a { self.handle_audio(a) },
                recv(frames) -> f => match f {
                    Ok(f) => self.handle_frame(f),
                    Err(_) => return,
                },
                recv(commands) -> c => match c {
                    Ok(c) => self.handle_command(c),
                    Err(_) => return,
                },
                default(wait) => {},
            }
            let now = Instant::now();
            for i in 0..self.peers.len() {
                if self.peers[i].timeout <= now {
                    self.drive(i, Input::Timeout(now));
                }
            }
            self.reap();
            if now.duration_since(self.last_publish) >= STATS_INTERVAL {
                self.last_publish = now;
                self.publish_stats();
            }
        }
    }

    fn publish_stats(&self) {
        let peers = self
            .peers
            .iter()
            .map(|p| {
                let mut s = p.snapshot.clone();
                s.connected = p.connected;
                s
            })
            .collect();
        self.parts.stats.publish_peers(peers);
    }

    fn handle_command(&mut self, cmd: RtcCommand) {
        match cmd {
            RtcCommand::Offer {
                peer,
                sdp,
                notify,
                reply,
            } => {
                let result = self.add_peer(peer, &sdp, notify);
                let _ = reply.send(result);
            }
            RtcCommand::Candidate { peer, candidate } => {
                let Some(i) = self.peers.iter().position(|p| p.id == peer) else {
                    return;
                };
                let line = candidate.trim().trim_start_matches("a=");
                match Candidate::from_sdp_string(line) {
                    Ok(c) => {
                        self.peers[i].rtc.add_remote_candidate(c);
                        self.drive(i, Input::Timeout(Instant::now()));
                    }
                    // mDNS names and TCP candidates are of no use to this host: not an error.
                    Err(e) => tracing::debug!(%peer, error = %e, "remote candidate ignored"),
                }
            }
            RtcCommand::Leave { peer } => {
                if let Some(p) = self.peers.iter_mut().find(|p| p.id == peer) {
                    p.rtc.disconnect();
                }
                self.reap();
            }
        }
    }

    fn add_peer(
        &mut self,
        id: PeerId,
        sdp: &str,
        notify: PeerNotifier,
    ) -> Result<String, RtcError> {
        let offer =
            SdpOffer::from_sdp_string(sdp).map_err(|e| RtcError::BadOffer(e.to_string()))?;
        let (h264, vp8) = match self.parts.codec {
            CodecChoice::Auto => (true, true),
            CodecChoice::H264 => (true, false),
            CodecChoice::Vp8 => (false, true),
        };
        let now = Instant::now();
        let mut rtc = RtcConfig::new()
            .set_ice_lite(true)
            .set_stats_interval(Some(STATS_INTERVAL))
            // No transport-wide sequence numbers: without them the browser estimates the
            // bandwidth itself and reports it (REMB), and str0m's send-side estimator, whose
            // pacer would spread every frame over ~1.1x the estimate, stays off. abs-send-time
            // feeds the browser's estimator.
            .clear_extension_map()
            .set_extension(EXT_ABS_SEND_TIME, Extension::AbsoluteSendTime)
            .set_extension(EXT_MID, Extension::RtpMid)
            // Render at once (min = max = 0), and let the browser know each frame's capture
            // instant (requestVideoFrameCallback's captureTime).
            .set_extension(EXT_PLAYOUT_DELAY, Extension::PlayoutDelay)
            .set_extension(EXT_ABS_CAPTURE_TIME, Extension::AbsoluteCaptureTime)
            .clear_codecs()
            .enable_h264(h264)
            .enable_vp8(vp8)
            .enable_opus(true, false)
            .build(now);
        for local in self.sockets.keys() {
            if let Ok(c) = Candidate::host(*local, "udp") {
                rtc.add_local_candidate(c);
            }
            if let (Some(public), false) = (self.parts.public_ip, local.ip().is_loopback()) {
                let addr = SocketAddr::new(public, local.port());
                if let Ok(c) = Candidate::server_reflexive(addr, *local, "udp") {
                    rtc.add_local_candidate(c);
                }
            }
        }
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| RtcError::Rejected(e.to_string()))?;
        // str0m announces media only once SRTP is up; the codec must be known now, for the
        // answer's sake and to start the right encoder, so look the video m-line up directly.
        let video = video_mid(sdp).and_then(|mid| {
            let writer = rtc.writer(mid)?;
            pick_codec(writer.payload_params()).map(|(pt, c)| (mid, pt, c))
        });
        let Some(video) = video else {
            return Err(RtcError::NoCodec(match self.parts.codec {
                CodecChoice::H264 => "--codec h264 needs H.264 constrained baseline",
                CodecChoice::Vp8 => "--codec vp8 needs VP8",
                CodecChoice::Auto => "H.264 constrained baseline or VP8",
            }));
        };
        // Sound is optional: a peer without an audio m-line (or without Opus) gets video only.
        let audio = media_mid(sdp, "audio ").and_then(|mid| {
            let writer = rtc.writer(mid)?;
            let pt = writer
                .payload_params()
                .find(|p| p.spec().codec == RtcCodec::Opus)
                .map(|p| p.pt())?;
            Some((mid, pt))
        });
        self.peers.push(Peer {
            id,
            rtc,
            notify: notify.clone(),
            video: Some(video),
            audio,
            input_channel: None,
            text_channel: None,
            control_channel: None,
            audio_channel: None,
            told_bad_channel: false,
            connected: false,
            has_keyframe: false,
            last_keyframe_request: None,
            timeout: now,
            snapshot: PeerSnapshot {
                id: id.0,
                codec: Some(video.2.name()),
                audio_path: if audio.is_some() { "track" } else { "none" },
                ..PeerSnapshot::default()
            },
            last_bytes: None,
        });
        let _ = self
            .parts
            .input
            .try_send(InputMsg::Joined { peer: id, notify });
        self.parts.counters.peers.fetch_add(1, Ordering::Relaxed);
        let i = self.peers.len() - 1;
        self.drive(i, Input::Timeout(now));
        tracing::info!(peer = %id, codec = video.2.name(), "peer joined");
        self.update_wanted();
        let sdp = answer.to_sdp_string();
        Ok(if self.parts.av_sync {
            one_stream(&sdp)
        } else {
            sdp
        })
    }

    fn handle_datagram(&mut self, dg: Datagram) {
        let Ok(contents) = dg.data.as_slice().try_into() else {
            self.parts
                .counters
                .unknown_datagrams
                .fetch_add(1, Ordering::Relaxed);
            return;
        };
        let input = Input::Receive(
            dg.at,
            Receive {
                proto: Protocol::Udp,
                source: dg.source,
                destination: dg.local,
                contents,
            },
        );
        let cached = self
            .by_source
            .get(&dg.source)
            .and_then(|id| self.peers.iter().position(|p| p.id == *id))
            .filter(|&i| self.peers[i].rtc.accepts(&input));
        let index = cached.or_else(|| self.peers.iter().position(|p| p.rtc.accepts(&input)));
        let Some(i) = index else {
            self.parts
                .counters
                .unknown_datagrams
                .fetch_add(1, Ordering::Relaxed);
            return;
        };
        self.by_source.insert(dg.source, self.peers[i].id);
        self.drive(i, input);
    }

    fn handle_frame(&mut self, frame: EncodedFrame) {
        let received = Instant::now();
        let mut written = false;
        let elapsed = frame.captured_at.saturating_duration_since(self.epoch);
        let capture_wallclock = wallclock_at(frame.captured_at, received);
        let rtp_ticks = (elapsed.as_micros() * 9 / 100) as u64;
        let rtp_time = MediaTime::from_90khz(rtp_ticks);
        let capture_unix_ms = capture_wallclock
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u32);
        for i in 0..self.peers.len() {
            let p = &mut self.peers[i];
            let Some((mid, pt, codec)) = p.video else {
                continue;
            };
            if codec != frame.codec || !p.connected {
                continue;
            }
            if !p.has_keyframe && !frame.keyframe {
                continue;
            }
            let Some(writer) = p.rtc.writer(mid) else {
                continue;
            };
            // With lip sync the browser must be free to delay the picture.
            let writer = if self.parts.av_sync {
                writer
            } else {
                writer.playout_delay(MediaTime::from_90khz(0), MediaTime::from_90khz(0))
            };
            let writer = writer.abs_capture_time(AbsCaptureTime {
                capture_time: capture_wallclock,
                clock_offset: None,
            });
            match writer.write(pt, frame.captured_at, rtp_time, frame.data.clone()) {
                Ok(()) => {
                    written = true;
                    p.has_keyframe = true;
                    p.snapshot.frames_sent += 1;
                    if frame.keyframe {
                        p.snapshot.keyframes_sent += 1;
                    }
                    self.parts
                        .counters
                        .frames_sent
                        .fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => tracing::debug!(peer = %p.id, error = %e, "write failed"),
            }
            if let Some(id) = p.control_channel {
                let seq = frame
                    .input_echo
                    .iter()
                    .find(|(peer, _)| *peer == p.id)
                    .map(|&(_, s)| s);
                let msg = frame_echo(
                    rtp_ticks as u32,
                    seq,
                    Instant::now().saturating_duration_since(frame.captured_at),
                    capture_unix_ms,
                );
                if let Some(mut ch) = p.rtc.channel(id) {
                    let _ = ch.write(true, &msg);
                }
            }
            // Send now rather than at the next internal timeout (~8 ms later).
            self.drive(i, Input::Timeout(Instant::now()));
        }
        if written {
            self.parts
                .stats
                .record_frame(&frame, received, Instant::now());
        }
    }

    fn handle_audio(&mut self, frame: EncodedAudio) {
        let elapsed = frame.captured_at.saturating_duration_since(self.epoch);
        // 48 kHz ticks on the video's epoch: the sender reports of both tracks map to one
        // clock, which is what lets the browser line them up.
        let ticks = (elapsed.as_nanos() * 48_000 / 1_000_000_000) as u64;
        let rtp_time = MediaTime::new(ticks, Frequency::FORTY_EIGHT_KHZ);
        let capture_unix_us = wallclock_at(frame.captured_at, Instant::now())
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        let timestamp = ticks as u32;
        let previous = self
            .last_audio
            .take()
            .filter(|(t, _)| timestamp.wrapping_sub(*t) == AUDIO_FRAME_TICKS)
            .map(|(_, data)| data);
        self.last_audio = Some((timestamp, frame.data.clone()));
        let mut packet: Option<Vec<u8>> = None;
        for i in 0..self.peers.len() {
            let p = &mut self.peers[i];
            if !p.connected {
                continue;
            }
            if let Some(id) = p.audio_channel {
                let bytes = packet.get_or_insert_with(|| {
                    audio_packet(timestamp, capture_unix_us, previous.as_deref(), &frame.data)
                });
                match p.rtc.channel(id) {
                    Some(mut ch) => {
                        if let Err(e) = ch.write(true, bytes) {
                            tracing::debug!(peer = %p.id, error = %e, "audio packet not sent");
                            continue;
                        }
                    }
                    None => continue,
                }
            } else {
                let Some((mid, pt)) = p.audio else {
                    continue;
                };
                let Some(writer) = p.rtc.writer(mid) else {
                    continue;
                };
                if let Err(e) = writer.write(pt, frame.captured_at, rtp_time, frame.data.clone()) {
                    tracing::debug!(peer = %p.id, error = %e, "audio write failed");
                    continue;
                }
            }
            p.snapshot.audio_frames_sent += 1;
            self.drive(i, Input::Timeout(Instant::now()));
        }
    }

    /// Feeds one input to peer `i` and drains its output.
    fn drive(&mut self, i: usize, input: Input) {
        let p = &mut self.peers[i];
        if let Err(e) = p.rtc.handle_input(input) {
            tracing::info!(peer = %p.id, error = %e, "peer failed");
            p.rtc.disconnect();
        }
        self.drain(i);
    }

    fn drain(&mut self, i: usize) {
        loop {
            let p = &mut self.peers[i];
            if !p.rtc.is_alive() {
                p.timeout = Instant::now();
                return;
            }
            let out = match p.rtc.poll_output() {
                Ok(o) => o,
                Err(e) => {
                    tracing::info!(peer = %p.id, error = %e, "peer failed");
                    p.rtc.disconnect();
                    return;
                }
            };
            match out {
                Output::Timeout(t) => {
                    p.timeout = t;
                    return;
                }
                Output::Transmit(t) => {
                    if let Some(s) = self.sockets.get(&t.source) {
                        if let Err(e) = s.send_to(&t.contents, t.destination) {
                            tracing::debug!(error = %e, "UDP send failed");
                        }
                    }
                }
                Output::Event(e) => self.handle_event(i, e),
            }
        }
    }

    fn handle_event(&mut self, i: usize, event: Event) {
        let input = &self.parts.input;
        let control = &self.parts.control;
        let p = &mut self.peers[i];
        match event {
            Event::Connected => {
                p.connected = true;
                if let Some((_, _, codec)) = p.video {
                    control.request_keyframe(codec);
                }
                tracing::info!(peer = %p.id, "connected");
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                p.rtc.disconnect();
            }
            Event::KeyframeRequest(_) => {
                let now = Instant::now();
                let due = p
                    .last_keyframe_request
                    .is_none_or(|t| now.duration_since(t) >= KEYFRAME_MIN_INTERVAL);
                if let (true, Some((_, _, codec))) = (due, p.video) {
                    p.last_keyframe_request = Some(now);
                    self.parts
                        .counters
                        .keyframe_requests
                        .fetch_add(1, Ordering::Relaxed);
                    control.request_keyframe(codec);
                }
            }
            Event::PeerStats(s) => {
                let sn = &mut p.snapshot;
                if let Some((t, bytes, frames)) = p.last_bytes {
                    let secs = s.timestamp.saturating_duration_since(t).as_secs_f64();
                    if secs > 0.0 {
                        sn.bitrate_kbps =
                            s.peer_bytes_tx.saturating_sub(bytes) as f64 * 8.0 / 1000.0 / secs;
                        sn.fps = sn.frames_sent.saturating_sub(frames) as f64 / secs;
                    }
                }
                p.last_bytes = Some((s.timestamp, s.peer_bytes_tx, sn.frames_sent));
                sn.bytes_sent = s.peer_bytes_tx;
                sn.rtt_ms = s.rtt.map(|d| d.as_secs_f64() * 1000.0);
                if let Some(b) = s.bwe_tx {
                    sn.bwe_kbps = Some(b.as_f64() / 1000.0);
                }
                if let Some(loss) = s.egress_loss_fraction {
                    sn.loss = Some(f64::from(loss));
                }
            }
            Event::EgressBitrateEstimate(BweKind::Remb { estimate, .. }) => {
                p.snapshot.bwe_kbps = Some(estimate.as_f64() / 1000.0);
            }
            Event::MediaEgressStats(s) => {
                let sn = &mut p.snapshot;
                sn.nacks = s.nacks;
                sn.plis = s.plis;
                sn.firs = s.firs;
                sn.packets_sent = s.packets;
                if let Some(rtt) = s.rtt {
                    sn.rtt_ms = Some(rtt.as_secs_f64() * 1000.0);
                }
                if let Some(loss) = s.loss {
                    sn.loss = Some(f64::from(loss));
                }
            }
            Event::ChannelOpen(id, label) => match label.as_str() {
                INPUT_CHANNEL => p.input_channel = Some(id),
                TEXT_CHANNEL => p.text_channel = Some(id),
                CONTROL_CHANNEL => p.control_channel = Some(id),
                AUDIO_CHANNEL => {
                    tracing::info!(peer = %p.id, "sound goes over the audio data channel");
                    p.audio_channel = Some(id);
                    p.snapshot.audio_path = "channel";
                }
                other => tracing::debug!(peer = %p.id, label = other, "ignoring data channel"),
            },
            Event::ChannelData(d) => {
                let msg = if Some(d.id) == p.input_channel {
                    InputMsg::Data {
                        peer: p.id,
                        at: Instant::now(),
                        bytes: d.data,
                    }
                } else if Some(d.id) == p.text_channel {
                    match String::from_utf8(d.data) {
                        Ok(text) => InputMsg::Text { peer: p.id, text },
                        Err(_) => {
                            self.parts
                                .counters
                                .channel_bad_data
                                .fetch_add(1, Ordering::Relaxed);
                            p.notify.notify(Notice::Error {
                                code: "bad-text",
                                message: "text channel data is not UTF-8".into(),
                            });
                            return;
                        }
                    }
                } else {
                    // Counted every time; the page is told once, so a flood cannot fill its
                    // notice queue.
                    self.parts
                        .counters
                        .channel_bad_data
                        .fetch_add(1, Ordering::Relaxed);
                    if !std::mem::replace(&mut p.told_bad_channel, true) {
                        tracing::warn!(peer = %p.id, "data on a channel that carries none from the page");
                        p.notify.notify(Notice::Error {
                            code: "bad-channel",
                            message: "data sent on a channel that only carries data to the page \
                                      (control, audio) or that the host does not know; ignored"
                                .into(),
                        });
                    }
                    return;
                };
                if input.try_send(msg).is_err() {
                    self.parts
                        .counters
                        .input_dropped_full
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
            _ => {}
        }
    }

    /// Removes dead peers, tells the input thread, and updates the codecs to encode.
    fn reap(&mut self) {
        let before = self.peers.len();
        let input = &self.parts.input;
        self.peers.retain(|p| {
            let alive = p.rtc.is_alive();
            if !alive {
                tracing::info!(peer = %p.id, "peer left");
                let _ = input.try_send(InputMsg::Left { peer: p.id });
            }
            alive
        });
        if self.peers.len() != before {
            let ids: Vec<PeerId> = self.peers.iter().map(|p| p.id).collect();
            self.by_source.retain(|_, id| ids.contains(id));
            self.parts
                .counters
                .peers
                .fetch_sub((before - self.peers.len()) as u64, Ordering::Relaxed);
            self.update_wanted();
        }
    }

    fn update_wanted(&self) {
        let mask = self
            .peers
            .iter()
            .filter_map(|p| p.video.map(|v| v.2.bit()))
            .fold(0, |a, b| a | b);
        self.parts.control.wanted.store(mask, Ordering::Relaxed);
    }
}

/// The frame echo on the control channel (little-endian): type, RTP timestamp of the frame,
/// flags (bit 0: an input sequence number follows with meaning), the newest input packet of
/// this peer injected before the capture, host time from capture start to this write (µs),
/// capture wall-clock time (Unix ms, low 32 bits).
pub fn frame_echo(
    rtp_timestamp: u32,
    input_seq: Option<u32>,
    host: Duration,
    capture_unix_ms: u32,
) -> [u8; 18] {
    let mut m = [0u8; 18];
    m[0] = MSG_FRAME_ECHO;
    m[1..5].copy_from_slice(&rtp_timestamp.to_le_bytes());
    m[5] = u8::from(input_seq.is_some());
    m[6..10].copy_from_slice(&input_seq.unwrap_or(0).to_le_bytes());
    let host_us = host.as_micros().min(u128::from(u32::MAX)) as u32;
    m[10..14].copy_from_slice(&host_us.to_le_bytes());
    m[14..18].copy_from_slice(&capture_unix_ms.to_le_bytes());
    m
}

/// The wall-clock time of `at`, given that `now` is the present instant.
fn wallclock_at(at: Instant, now: Instant) -> SystemTime {
    SystemTime::now()
        .checked_sub(now.saturating_duration_since(at))
        .unwrap_or_else(SystemTime::now)
}

/// One Opus packet for the `audio` data channel (little-endian): version, the 48 kHz timestamp
/// of its first sample (the same clock as the Opus track's RTP timestamps), the capture
/// wall-clock time of that sample (Unix µs), the length of the previous packet (the one
/// `timestamp − 480`, 0 when there is none) and that packet, then this packet (10 ms each).
pub fn audio_packet(
    timestamp: u32,
    capture_unix_us: u64,
    previous: Option<&[u8]>,
    opus: &[u8],
) -> Vec<u8> {
    let previous = previous
        .filter(|p| p.len() <= usize::from(u16::MAX))
        .unwrap_or_default();
    let mut m = Vec::with_capacity(15 + previous.len() + opus.len());
    m.push(AUDIO_PACKET_VERSION);
    m.extend_from_slice(&timestamp.to_le_bytes());
    m.extend_from_slice(&capture_unix_us.to_le_bytes());
    m.extend_from_slice(&(previous.len() as u16).to_le_bytes());
    m.extend_from_slice(previous);
    m.extend_from_slice(opus);
    m
}

/// Puts the audio track in the video's media stream (msid): browsers synchronise the tracks
/// of one stream (lip sync) by delaying the earlier one, and treat tracks of different streams
/// as unrelated. str0m gives every answered m-line its own stream id.
fn one_stream(sdp: &str) -> String {
    let mut video_stream: Option<String> = None;
    let mut kind = "";
    for line in sdp.lines() {
        if let Some(rest) = line.strip_prefix("m=") {
            kind = rest.split(' ').next().unwrap_or("");
        } else if let (true, Some(msid)) = (kind == "video", line.strip_prefix("a=msid:")) {
            video_stream = msid.split(' ').next().map(str::to_owned);
            break;
        }
    }
    let Some(stream) = video_stream else {
        return sdp.to_owned();
    };
    let mut out = String::with_capacity(sdp.len());
    kind = "";
    for line in sdp.split_inclusive("\r\n") {
        if let Some(rest) = line.strip_prefix("m=") {
            kind = rest.split(' ').next().unwrap_or("");
        }
        if kind == "audio" {
            if let Some(msid) = line.strip_prefix("a=msid:") {
                let track = msid.split_once(' ').map_or("", |(_, t)| t);
                out.push_str(&format!("a=msid:{stream} {track}"));
                continue;
            }
            if let (true, Some((ssrc, msid))) =
                (line.starts_with("a=ssrc:"), line.split_once(" msid:"))
            {
                let track = msid.split_once(' ').map_or("", |(_, t)| t);
                out.push_str(&format!("{ssrc} msid:{stream} {track}"));
                continue;
            }
        }
        out.push_str(line);
    }
    out
}

/// The mid of the first video m-line of an SDP offer.
fn video_mid(sdp: &str) -> Option<Mid> {
    media_mid(sdp, "video ")
}

/// The mid of the first m-line of `kind` ("video " or "audio ") in an SDP offer.
fn media_mid(sdp: &str, kind: &str) -> Option<Mid> {
    let mut in_kind = false;
    for line in sdp.lines() {
        if let Some(rest) = line.strip_prefix("m=") {
            in_kind = rest.starts_with(kind);
        } else if let (true, Some(mid)) = (in_kind, line.strip_prefix("a=mid:")) {
            return Some(Mid::from(mid.trim()));
        }
    }
    None
}

/// H.264 constrained baseline / baseline with packetization mode 1 first, then VP8.
fn pick_codec<'a>(
    params: impl Iterator<Item = &'a str0m::format::PayloadParams>,
) -> Option<(Pt, Codec)> {
    let mut vp8 = None;
    for p in params {
        let spec = p.spec();
        match spec.codec {
            RtcCodec::H264 => {
                let profile = spec.format.profile_level_id.unwrap_or(0) >> 8;
                let baseline = profile == 0x42e0 || profile == 0x4200;
                if baseline && spec.format.packetization_mode == Some(1) {
                    return Some((p.pt(), Codec::H264));
                }
            }
            RtcCodec::Vp8 if vp8.is_none() => vp8 = Some((p.pt(), Codec::Vp8)),
            _ => {}
        }
    }
    vp8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_stream_moves_the_audio_track_into_the_video_stream() {
        let sdp = "v=0\r\nm=video 9 UDP 96\r\na=msid:VS vt\r\na=ssrc:1 msid:VS vt\r\n\
                   m=audio 9 UDP 111\r\na=msid:AS at\r\na=ssrc:2 cname:x\r\n\
                   a=ssrc:2 msid:AS at\r\nm=application 9 UDP\r\n";
        let out = one_stream(sdp);
        assert!(
            out.contains("m=audio 9 UDP 111\r\na=msid:VS at\r\n"),
            "{out}"
        );
        assert!(out.contains("a=ssrc:2 msid:VS at\r\n"), "{out}");
        assert!(out.contains("a=ssrc:2 cname:x\r\n"), "{out}");
        assert!(out.contains("a=msid:VS vt\r\n"), "{out}");
        assert!(!out.contains("AS"), "{out}");
        assert_eq!(out.len(), sdp.len());
    }

    #[test]
    fn the_audio_packet_layout_matches_the_web_client() {
        // The same packet is parsed in web-client/test/audio.test.mjs.
        let p = audio_packet(
            0x0102_0304,
            1_700_000_000_123_456,
            Some(&[0xf8, 0x01]),
            &[0xfc, 0xff, 0xfe],
        );
        let mut want = vec![1, 4, 3, 2, 1];
        want.extend_from_slice(&1_700_000_000_123_456u64.to_le_bytes());
        want.extend_from_slice(&[2, 0, 0xf8, 0x01, 0xfc, 0xff, 0xfe]);
        assert_eq!(p, want);
        // The first packet, or one after a gap, repeats nothing.
        let first = audio_packet(7, 0, None, &[0xfc]);
        assert_eq!(&first[13..], &[0, 0, 0xfc]);
    }

    #[test]
    fn the_frame_echo_layout_matches_the_web_client() {
        // The same bytes are parsed in web-client/test/echo.test.mjs.
        let m = frame_echo(
            0x0102_0304,
            Some(0x0a0b_0c0d),
            Duration::from_micros(4321),
            0xdead_beef,
        );
        assert_eq!(
            m,
            [1, 4, 3, 2, 1, 1, 0x0d, 0x0c, 0x0b, 0x0a, 0xe1, 0x10, 0, 0, 0xef, 0xbe, 0xad, 0xde]
        );
        let none = frame_echo(7, None, Duration::ZERO, 0);
        assert_eq!(none[5], 0);
    }
}
