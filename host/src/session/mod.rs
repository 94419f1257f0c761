//! The session, sans-IO: every peer's `str0m::Rtc`, media fan-out, data-channel routing,
//! keyframe policy and negotiation, as one plain value with no socket, thread, lock or clock.
//!
//! Time and packets are arguments: `handle_*(now, …)` feeds the session one input (a datagram,
//! an encoded frame, an Opus packet, an offer, a timeout); [`Session::poll_output`] then yields
//! what it wants done until it returns [`Output::Timeout`] (when to call
//! [`Session::handle_timeout`] next). The driver (`crate::net`) owns the sockets and the clock
//! and does nothing else; tests drive the same value on virtual time (`tests/`), in the manner
//! of str0m and quinn-proto.
//!
//! - `peer.rs`: one peer: its `Rtc`, what it was negotiated, its figures; drains str0m's events.
//! - `negotiate.rs`: answering a page's offer, and offering (for WHIP), codec choice.
//! - `fanout.rs`: video and sound to every peer, and the keyframe gate.
//! - `channels.rs`: which data channel carries what, and what a page may send on it.
//! - `encoders.rs`: what the encode threads are told: each quality tier's codecs, rate and
//!   rung; `tiers.rs`: which peers share an encode; `rate/`: one peer's target from its
//!   bandwidth estimate; `ladder.rs`: the picture's size a tier's rate carries.

mod candidates;
mod channels;
mod encoders;
mod fanout;
mod ladder;
mod nacks;
mod negotiate;
pub(crate) mod offers;
mod peer;
mod rate;
#[cfg(test)]
mod tests;
mod tiers;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use str0m::net::{Protocol, Receive, Transmit};
use str0m::Input;
use thiserror::Error;

use crate::config::CodecChoice;
use crate::encode::Codec;
use crate::input::InputMsg;
use crate::metrics::{Counter, Gauge, Metrics};
use crate::peer::{Notice, PeerId};
use crate::stats::PeerSnapshot;

pub use candidates::Reflexive;
pub use channels::{
    AUDIO_CHANNEL, CLIPBOARD_CHANNEL, CONTROL_CHANNEL, INPUT_CHANNEL, TEXT_CHANNEL,
};
pub use ladder::RungReason;
pub use negotiate::start_kbps;
/// The lowest video rate, kbit/s, a target or a viewer's own cap goes to.
pub const MIN_VIDEO_KBPS: u32 = rate::MIN_KBPS;
use peer::Peer;

/// How often the session publishes every peer's figures: as often as str0m reports them, so
/// that `/api/stats` shows a change of target or rung within this (published once a second,
/// the link bench read the lift's full rate up to a second late).
pub const STATS_INTERVAL: Duration = RTC_STATS_INTERVAL;
/// The window of a peer's rates (kbit/s, frames a second) in its figures.
pub const RATE_WINDOW: Duration = Duration::from_secs(1);
/// How often str0m reports a peer's figures: its bandwidth estimator's current figure and
/// the share of packets lost are sampled this often (`rate/`: a collapse is seen from two
/// loss samples, so this is most of how long that takes).
pub const RTC_STATS_INTERVAL: Duration = Duration::from_millis(250);
/// How long the session sleeps when it has no peer (nothing is due, but the driver wakes).
const IDLE_TIMEOUT: Duration = Duration::from_secs(1);

/// Why an offer or an answer was not taken. The message goes to the page as is.
#[derive(Debug, Error, PartialEq)]
pub enum SessionError {
    #[error("the offer is not valid SDP: {0}")]
    BadOffer(String),
    #[error("the answer is not valid SDP: {0}")]
    BadAnswer(String),
    #[error("cannot accept the offer: {0}")]
    Rejected(String),
    #[error("the browser offers no video codec this host sends ({0})")]
    NoCodec(&'static str),
    #[error("no such peer")]
    UnknownPeer,
    #[error("the host is shutting down")]
    Draining,
    #[error("the session is full ({0} {unit}); try again later", unit = if *.0 == 1 { "page" } else { "pages" })]
    Full(usize),
    #[error("too many offers from this page (at most {0} in {1} s); try again later")]
    TooManyOffers(usize, u64),
}

/// What the session is set up with, once.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub codec: CodecChoice,
    /// The local addresses of the one UDP port, each announced as a host candidate.
    pub locals: Vec<SocketAddr>,
    /// Also announce this address (same port) as a server-reflexive candidate.
    pub public_ip: Option<IpAddr>,
    /// The public address learned by STUN, announced unless `public_ip` is given; set by
    /// [`Session::handle_reflexive`].
    pub reflexive: Option<Reflexive>,
    /// Put audio and video in one media stream so the browser lip-syncs them (track path).
    pub av_sync: bool,
    /// Most peers at once (`--max-peers`); an offer beyond gets [`SessionError::Full`].
    pub max_peers: usize,
    /// The highest video rate (`--bitrate`), kbit/s: where the bandwidth estimate starts and
    /// what it probes for.
    pub max_kbps: u32,
    /// The Opus rate (`--audio-bitrate`), kbit/s: the most sound gets.
    pub audio_kbps: u32,
    /// The configured frame rate (`--fps`): what the ladder's bits per pixel are counted at.
    pub fps: u32,
    /// The resolution ladder is off (`--no-ladder`): the picture keeps the screen's size.
    pub no_ladder: bool,
}

impl SessionConfig {
    /// The session `config` asks for, announcing the UDP port's addresses `locals`.
    pub fn from_config(config: &crate::config::Config, locals: Vec<SocketAddr>) -> Self {
        Self {
            codec: config.codec,
            locals,
            public_ip: config.public_ip,
            reflexive: None,
            av_sync: config.av_sync,
            max_peers: config.max_peers as usize,
            max_kbps: config.bitrate,
            audio_kbps: config.audio_bitrate,
            fps: config.fps,
            no_ladder: config.no_ladder,
        }
    }
}

/// The session's counters, registered in [`Metrics`].
#[derive(Debug, Clone, Default)]
pub struct SessionCounters {
    pub peers: Gauge,
    pub frames_sent: Counter,
    pub keyframe_requests: Counter,
    pub unknown_datagrams: Counter,
    /// Data a page sent where it may not: text that is not UTF-8, or anything on a channel
    /// that carries data to the page only (`control`, `audio`) or that glint does not know.
    pub channel_bad_data: Counter,
    /// Messages to a page dropped because its data channel's send buffer was full.
    pub channel_full: Counter,
    /// Trickled ICE candidates this host cannot use (mDNS names, TCP) or could not parse.
    pub candidates_ignored: Counter,
    /// ICE restarts answered on an existing peer (RFC 8445 §9).
    pub ice_restarts: Counter,
    /// Steps of the resolution ladder, down or up.
    pub rung_changes: Counter,
    /// Viewers moved from one quality tier to another (each costs a keyframe).
    pub tier_moves: Counter,
    /// Links seen to collapse under the picture before the estimator saw it (`rate/`).
    pub collapses: Counter,
    /// Probes' results that led the target over what the link carried (`rate/`).
    pub failed_probe_leads: Counter,
    /// Other runs of loss large enough to cost a keyframe (`rate/`).
    pub loss_bursts: Counter,
}

impl SessionCounters {
    pub fn register(m: &mut Metrics) -> Self {
        Self {
            peers: m.gauge("peers", "Connected peers"),
            frames_sent: m.counter("frames_sent", "Frames written to peers"),
            keyframe_requests: m.counter("keyframe_requests", "PLI, FIR or page asks honoured"),
            unknown_datagrams: m.counter(
                "udp_unknown_datagrams",
                "Datagrams that belong to no peer or are not WebRTC",
            ),
            channel_bad_data: m.counter(
                "channel_bad_data",
                "Data channel messages refused (not UTF-8 text, or sent on a host-to-page channel)",
            ),
            channel_full: m.counter(
                "channel_full",
                "Messages to a page dropped on a full data channel send buffer",
            ),
            candidates_ignored: m.counter(
                "ice_candidates_ignored",
                "Trickled ICE candidates the host cannot use",
            ),
            ice_restarts: m.counter(
                "ice_restarts",
                "ICE restarts answered on an existing peer (its picture resumes, its role stays)",
            ),
            rung_changes: m.counter("ladder_rung_changes", "Steps of the resolution ladder"),
            tier_moves: m.counter("tier_moves", "Viewers moved between quality tiers"),
            collapses: m.counter("link_collapses", "Links that fell under the picture's rate"),
            failed_probe_leads: m.counter("failed_probe_leads", "Probe leads the link refused"),
            loss_bursts: m.counter("loss_bursts", "Runs of loss that cost a keyframe"),
        }
    }
}

/// What the encoder should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderCommand {
    /// The next frame of this codec and tier must be a keyframe (a peer joined, asked, lost
    /// one, or moved to this tier).
    Keyframe { tier: usize, codec: Codec },
    /// The codecs at least one peer of this tier receives ([`Codec::bit`] mask); encode only
    /// these (none: the tier's encodes stop).
    Wanted { tier: usize, mask: u8 },
    /// Encode this tier at this rate, kbit/s: the lowest target of its peers' links.
    Bitrate { tier: usize, kbps: u32 },
    /// Encode the sound (Opus) at this rate, kbit/s (`rate::audio_kbps_for` the slowest
    /// peer's target).
    AudioBitrate(u32),
    /// Code this tier's picture at this rung of the resolution ladder: an index into
    /// [`crate::encode::Scale::RUNGS`] (`ladder.rs`).
    Rung { tier: usize, rung: usize },
    /// Code this tier before the others (the first member in control receives it).
    FirstTier(usize),
}

/// What the session asks of its driver.
#[derive(Debug)]
pub enum Output {
    /// Send a datagram from `source` (one of the local addresses) to `destination`.
    Transmit(Transmit),
    /// A peer was added (before any of its input). Never to be dropped.
    Joined(PeerId),
    /// A peer is gone: release everything it held. Never to be dropped.
    Left(PeerId),
    /// Input or text from a page for the input thread (`InputMsg::Data` or `InputMsg::Text`);
    /// may be dropped when that thread is behind (the input protocol repeats itself).
    Input(InputMsg),
    /// A message for a page's signaling socket.
    Notice(PeerId, Notice),
    Encoder(EncoderCommand),
    /// Every peer's figures, about once a [`STATS_INTERVAL`].
    PeerStats(Vec<PeerSnapshot>),
    /// Nothing more to do until this instant (or the next `handle_*`).
    Timeout(Instant),
}

/// Maps instants to wall-clock time from one anchor taken by the driver, so the session never
/// reads a clock itself.
#[derive(Debug, Clone, Copy)]
struct Clock {
    epoch: Instant,
    epoch_wall: SystemTime,
}

impl Clock {
    fn wallclock(&self, at: Instant) -> SystemTime {
        match at.checked_duration_since(self.epoch) {
            Some(d) => self.epoch_wall + d,
            None => self
                .epoch_wall
                .checked_sub(self.epoch.duration_since(at))
                .unwrap_or(self.epoch_wall),
        }
    }
}

/// One source's session: any number of peers sharing one encode.
pub struct Session {
    config: SessionConfig,
    counters: SessionCounters,
    peers: Vec<Peer>,
    /// Remote address → peer, so most datagrams skip `Rtc::accepts` on every peer.
    by_source: HashMap<SocketAddr, PeerId>,
    clock: Clock,
    /// The previous Opus frame, its timestamp and capture time (Unix µs): every `audio`
    /// channel packet repeats it (a page that lost one packet plays it from the next), or, on
    /// a narrow link, carries it for the first time.
    last_audio: Option<(u32, Arc<[u8]>, u64)>,
    outputs: VecDeque<Output>,
    next_stats: Instant,
    /// The quality tiers' encodes, as last told (`tiers.rs`).
    tiers: [tiers::Tier; tiers::MAX_TIERS],
    /// When peers last changed tiers, and how many were grouped then (connected, with video).
    regrouped_at: Instant,
    grouped_peers: usize,
    /// The members in control (`handle_controllers`), and the tier coded first.
    controllers: Vec<PeerId>,
    first_tier: usize,
    /// The Opus rate last told, kbit/s; the one called for, and since when.
    audio_kbps: u32,
    audio_wanted: (u32, Instant),
    /// The screen's size, from the last encoded frame.
    screen: Option<(u32, u32)>,
    /// Each peer's recent offers (`offers.rs`).
    offers: offers::OfferLimit,
    draining: bool,
}

impl Session {
    /// A session with no peer. `now` and `wall` are the same instant on the monotonic and the
    /// wall clock: capture instants map to wall-clock time (abs-capture-time) from them.
    pub fn new(
        config: SessionConfig,
        counters: SessionCounters,
        now: Instant,
        wall: SystemTime,
    ) -> Self {
        Self {
            tiers: std::array::from_fn(|_| tiers::Tier::new(now, config.max_kbps, config.fps)),
            regrouped_at: now,
            grouped_peers: 0,
            controllers: Vec::new(),
            first_tier: 0,
            audio_kbps: config.audio_kbps,
            audio_wanted: (config.audio_kbps, now),
            screen: None,
            config,
            counters,
            peers: Vec::new(),
            by_source: HashMap::new(),
            clock: Clock {
                epoch: now,
                epoch_wall: wall,
            },
            last_audio: None,
            outputs: VecDeque::new(),
            next_stats: now + STATS_INTERVAL,
            offers: offers::OfferLimit::default(),
            draining: false,
        }
    }

    /// Peers, connected or not.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Whether the session refuses new peers because it is shutting down.
    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// A page's SDP offer: adds peer `id` and returns the answer; `Output::Joined(id)`
    /// follows. When peer `id` exists and the offer comes from the same connection (its DTLS
    /// fingerprint and m-lines), it is a renegotiation of that peer, an ICE restart as a rule
    /// (RFC 8445 §9): answered on the same `Rtc`, with no `Left` or `Joined`; the picture goes
    /// on and resumes on a keyframe once ICE has a path again. A re-offer that cannot be taken
    /// is an error and leaves the peer as it was. An offer from another connection replaces
    /// the peer. A new peer's rate starts by the page's measure of its link, `link_kbps`
    /// ([`start_kbps`]).
    pub fn handle_offer(
        &mut self,
        now: Instant,
        id: PeerId,
        sdp: &str,
        link_kbps: Option<u32>,
    ) -> Result<String, SessionError> {
        if self.draining {
            return Err(SessionError::Draining);
        }
        self.offers.admit(now, id)?;
        let existing = self.index(id);
        if let Some(i) = existing {
            let offered = negotiate::Shape::of(sdp);
            if self.peers[i].shape.same_connection(&offered) {
                return self.handle_reoffer(now, i, &offered, sdp);
            }
        } else if self.peers.len() >= self.config.max_peers {
            return Err(SessionError::Full(self.config.max_peers));
        }
        // An offer that cannot be answered leaves the peer it would replace as it was.
        let start = negotiate::start_kbps(self.config.max_kbps, link_kbps);
        let answered = negotiate::answer(&self.config, now, sdp, start)?;
        self.remove_peer(now, id);
        let (peer, answer) = Peer::answered(id, answered, now, self.config.max_kbps, start);
        tracing::info!(
            peer = %id,
            codec = peer.video_codec().map_or("none", Codec::name),
            start_kbps = start,
            link_kbps,
            "peer joined"
        );
        self.add_peer(now, peer);
        Ok(answer)
    }

    /// Offers to a remote party that answers (a WHIP endpoint): adds peer `id` and returns the
    /// offer; [`Session::handle_answer`] completes it.
    pub fn handle_create_offer(
        &mut self,
        now: Instant,
        id: PeerId,
    ) -> Result<String, SessionError> {
        if self.draining {
            return Err(SessionError::Draining);
        }
        self.remove_peer(now, id);
        if self.peers.len() >= self.config.max_peers {
            return Err(SessionError::Full(self.config.max_peers));
        }
        let max = self.config.max_kbps;
        let start = negotiate::start_kbps(max, None);
        let (rtc, offer) = negotiate::offer(&self.config, now, start)?;
        let rate = rate::RateControl::new(now, start, max);
        let mut peer = Peer::pending(id, rtc, Some(offer.pending), Default::default(), now, rate);
        peer.reflexive = offer.reflexive;
        self.add_peer(now, peer);
        Ok(offer.sdp)
    }

    /// The remote party's answer to [`Session::handle_create_offer`].
    pub fn handle_answer(
        &mut self,
        now: Instant,
        id: PeerId,
        sdp: &str,
    ) -> Result<(), SessionError> {
        let i = self.index(id).ok_or(SessionError::UnknownPeer)?;
        let result = self.peers[i].accept_answer(sdp);
        if result.is_err() {
            self.remove_peer(now, id);
        } else {
            self.drive(i, now, Input::Timeout(now));
            self.update_wanted(now);
        }
        result
    }

    /// A trickled remote ICE candidate (the value of an SDP `candidate:` attribute).
    pub fn handle_candidate(&mut self, now: Instant, id: PeerId, candidate: &str) {
        let Some(i) = self.index(id) else {
            return;
        };
        let line = candidate.trim().trim_start_matches("a=");
        match str0m::Candidate::from_sdp_string(line) {
            Ok(c) => {
                self.peers[i].rtc.add_remote_candidate(c);
                self.drive(i, now, Input::Timeout(now));
            }
            // mDNS names and TCP candidates are of no use to this host: not the page's fault.
            Err(e) => {
                self.counters.candidates_ignored.inc();
                tracing::debug!(peer = %id, error = %e, "remote candidate ignored");
            }
        }
    }

    /// The public address learned by STUN changed (`None`: forgotten): answers from now on
    /// announce it, a connected page's next ICE restart too (`candidates.rs`).
    pub fn handle_reflexive(&mut self, _now: Instant, reflexive: Option<Reflexive>) {
        self.config.reflexive = reflexive;
    }

    /// The page closed its signaling socket (or was removed): the peer goes at once.
    pub fn handle_leave(&mut self, now: Instant, id: PeerId) {
        self.remove_peer(now, id);
    }

    /// The host's clipboard text for peer `id`, on its `clipboard` channel, kept until that
    /// opens (only the newest; a full buffer is counted in `channel_full`).
    pub fn handle_clipboard(&mut self, _now: Instant, id: PeerId, text: &str) {
        if let Some(p) = self.peers.iter_mut().find(|p| p.id == id) {
            let rtc = &mut p.rtc;
            p.channels
                .send_clipboard(rtc, text.as_bytes(), &self.counters);
        }
    }

    /// Shutting down: every peer leaves (`Output::Left` each), new offers are refused.
    pub fn handle_drain(&mut self, now: Instant) {
        self.draining = true;
        let ids: Vec<PeerId> = self.peers.iter().map(|p| p.id).collect();
        for id in ids {
            self.remove_peer(now, id);
        }
    }

    /// A datagram received on local address `destination` from `source`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        data: &[u8],
    ) {
        let Ok(contents) = data.try_into() else {
            self.counters.unknown_datagrams.inc();
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination,
                contents,
            },
        );
        let cached = self
            .by_source
            .get(&source)
            .and_then(|id| self.index(*id))
            .filter(|&i| self.peers[i].rtc.accepts(&input));
        let index = cached.or_else(|| self.peers.iter().position(|p| p.rtc.accepts(&input)));
        let Some(i) = index else {
            self.counters.unknown_datagrams.inc();
            return;
        };
        self.by_source.insert(source, self.peers[i].id);
        self.drive(i, now, input);
        self.reap(now);
    }

    /// Time has passed: drives every peer that is due, publishes figures when due.
    pub fn handle_timeout(&mut self, now: Instant) {
        for i in 0..self.peers.len() {
            let p = &mut self.peers[i];
            if p.give_up_at.is_some_and(|t| t <= now) {
                tracing::info!(peer = %p.id, "no ICE restart came; the peer goes");
                p.rtc.disconnect();
            }
            if self.peers[i].say_alive(now, &self.counters) || self.peers[i].timeout <= now {
                self.drive(i, now, Input::Timeout(now));
            }
        }
        self.reap(now);
        self.update_rate(now);
        if now >= self.next_stats {
            self.next_stats = now + STATS_INTERVAL;
            self.publish_stats();
        }
    }

    /// The next thing to do; [`Output::Timeout`] when there is nothing until then.
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.outputs.pop_front() {
            return o;
        }
        let next = self
            .peers
            .iter()
            .map(|p| p.timeout.min(p.next_alive))
            .min()
            .unwrap_or(self.next_stats + IDLE_TIMEOUT)
            .min(self.next_stats);
        Output::Timeout(next)
    }

    fn index(&self, id: PeerId) -> Option<usize> {
        self.peers.iter().position(|p| p.id == id)
    }

    fn add_peer(&mut self, now: Instant, peer: Peer) {
        let id = peer.id;
        self.peers.push(peer);
        self.outputs.push_back(Output::Joined(id));
        self.counters.peers.set(self.peers.len() as i64);
        let i = self.peers.len() - 1;
        self.drive(i, now, Input::Timeout(now));
        self.update_wanted(now);
    }

    /// Feeds one input to peer `i` and drains its output into the session's.
    fn drive(&mut self, i: usize, now: Instant, input: Input) {
        let p = &mut self.peers[i];
        if let Err(e) = p.rtc.handle_input(input) {
            tracing::info!(peer = %p.id, error = %e, "peer failed");
            p.rtc.disconnect();
        }
        p.drain(now, &self.counters, &mut self.outputs);
    }

    /// Removes peer `id` at once, if present.
    fn remove_peer(&mut self, now: Instant, id: PeerId) {
        if let Some(i) = self.index(id) {
            self.peers[i].rtc.disconnect();
            self.reap(now);
        }
    }

    /// Removes dead peers (`Output::Left` each) and updates the codecs to encode.
    fn reap(&mut self, now: Instant) {
        let before = self.peers.len();
        let outputs = &mut self.outputs;
        self.peers.retain(|p| {
            let alive = p.rtc.is_alive();
            if !alive {
                tracing::info!(peer = %p.id, "peer left");
                outputs.push_back(Output::Left(p.id));
            }
            alive
        });
        if self.peers.len() != before {
            let peers = &self.peers;
            self.by_source
                .retain(|_, id| peers.iter().any(|p| p.id == *id));
            self.counters.peers.set(self.peers.len() as i64);
            self.update_wanted(now);
        }
    }
}
