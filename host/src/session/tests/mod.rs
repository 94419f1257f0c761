//! The session on virtual time: a [`Session`] and plain str0m client peers (full ICE, like a
//! browser) joined by str0m's network emulator (`str0m-netem`) with seeded delay, loss and rate
//! limits. Time advances in 1 ms steps and nothing sleeps, so ten simulated seconds take a
//! fraction of a second. Each file is one behaviour.

mod channels;
mod client;
mod idle;
mod keyframes;
mod lifecycle;
mod loss;
mod rate;
mod recovery;
mod restart;
mod tiers;

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use str0m::change::{SdpAnswer, SdpOffer};
use str0m::channel::{ChannelConfig, Reliability};
use str0m::media::{Direction, MediaKind};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Input, Rtc};
use str0m_netem::{Input as NetInput, Netem, NetemConfig, Output as NetOutput};

use super::{EncoderCommand, Output, Session, SessionConfig, SessionCounters};
use crate::config::CodecChoice;
use crate::encode::{Codec, EncodedFrame, Scale, MAX_TIERS};
use crate::input::InputMsg;
use crate::peer::{Notice, PeerId};
use crate::stats::PeerSnapshot;

/// One step of virtual time.
const STEP: Duration = Duration::from_millis(1);
/// The host's frame interval (60 fps).
const FRAME_INTERVAL: Duration = Duration::from_micros(16_667);

pub(super) use client::Client;

/// A datagram in flight.
#[derive(Debug, Clone)]
pub(super) struct Packet {
    source: SocketAddr,
    destination: SocketAddr,
    contents: Vec<u8>,
}

impl AsRef<[u8]> for Packet {
    fn as_ref(&self) -> &[u8] {
        &self.contents
    }
}

/// A frame as the client's depacketizer delivered it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Received {
    pub at: Instant,
    pub keyframe: bool,
    pub contiguous: bool,
    /// Whether a decoder could show it: a keyframe, or a delta with nothing missing since one.
    pub decodable: bool,
}

/// The session, its clients, the links between them, and what the session asked for.
pub(super) struct Harness {
    pub now: Instant,
    pub session: Session,
    pub counters: SessionCounters,
    host_inbox: Netem<Packet>,
    session_timeout: Instant,
    pub clients: Vec<Client>,
    pub joined: Vec<PeerId>,
    pub left: Vec<PeerId>,
    pub inputs: Vec<InputMsg>,
    pub notices: Vec<(PeerId, Notice)>,
    /// The peers' figures, as last published.
    pub stats: Vec<PeerSnapshot>,
    /// Keyframes the session asked of the encoder.
    pub keyframe_commands: usize,
    /// Per tier: the next frame is a keyframe.
    keyframe_due: [bool; MAX_TIERS],
    /// Per tier: the codecs the session wants (the made-up encoder codes H.264 for a tier
    /// with any), its rate (kbit/s) and its rung, as last told.
    pub tier_wanted: [u8; MAX_TIERS],
    pub tier_kbps: [u32; MAX_TIERS],
    pub tier_rung: [usize; MAX_TIERS],
    /// The tier the session asked to be coded first.
    pub first_tier: usize,
    /// Whether the harness plays encoder: a frame every [`FRAME_INTERVAL`].
    pub media: bool,
    next_frame: Instant,
    pub frames_written: usize,
    frame_seq: u64,
    /// Tier 0's rate the session asked for last, kbit/s, and every change, in order.
    pub rate_kbps: u32,
    pub rate_log: Vec<(Instant, u32)>,
    /// Whether the made-up frames follow that rate (else about 6 KB each, ~2.9 Mbit/s).
    pub follow_rate: bool,
    /// The smallest frame the made-up encoder codes at full size, bytes (content such as
    /// scrolling text costs this much a frame at any quantizer); a lower rung's floor is
    /// smaller by its share of the pixels.
    pub min_frame_bytes: usize,
    /// The screen stands still: every delta frame is a few dozen bytes (an all-skip P frame).
    pub still: bool,
    /// The newest input packet of every client injected before each frame (the frame echo's).
    pub input_seq: Option<u32>,
    /// Whether the harness plays the sound encoder too: 60 bytes of Opus every 10 ms.
    pub sound: bool,
    next_audio: Instant,
    /// The sound's capture skips one 10 ms frame (a gap the host's framer leaves).
    pub skip_audio_once: bool,
    /// Tier 0's rung the session asked for last, and every change.
    pub rung: usize,
    pub rung_log: Vec<(Instant, usize)>,
    /// The Opus rate the session asked for last, kbit/s.
    pub audio_kbps: u32,
    /// The host behind a NAT: (its local address, the public address the NAT maps it to).
    /// Only datagrams to the public address reach it (rewritten to the local one), and its
    /// datagrams leave from the public one; its local address is unreachable.
    pub nat: Option<(SocketAddr, SocketAddr)>,
    /// The page's measure of its link that the next client's offer carries (`link_kbps`).
    pub link_kbps: Option<u32>,
}

impl Harness {
    /// A session on a link to the host shaped by `to_host`.
    pub(crate) fn new(to_host: NetemConfig) -> Self {
        Self::with_max_peers(to_host, 32)
    }

    /// [`Harness::new`], taking at most `max_peers` peers.
    pub(crate) fn with_max_peers(to_host: NetemConfig, max_peers: usize) -> Self {
        let now = Instant::now();
        let host: SocketAddr = "10.0.0.1:5000".parse().expect("address");
        let counters = SessionCounters::default();
        let config = SessionConfig {
            codec: CodecChoice::H264,
            locals: vec![host],
            public_ip: None,
            reflexive: None,
            av_sync: false,
            max_peers,
            max_kbps: 8000,
            audio_kbps: 96,
            fps: 60,
            no_ladder: false,
        };
        Self {
            now,
            session: Session::new(config, counters.clone(), now, SystemTime::now()),
            counters,
            host_inbox: Netem::new(to_host),
            session_timeout: now,
            clients: Vec::new(),
            joined: Vec::new(),
            left: Vec::new(),
            inputs: Vec::new(),
            notices: Vec::new(),
            stats: Vec::new(),
            keyframe_commands: 0,
            keyframe_due: [false; MAX_TIERS],
            tier_wanted: [0; MAX_TIERS],
            tier_kbps: [8000; MAX_TIERS],
            tier_rung: [0; MAX_TIERS],
            first_tier: 0,
            media: true,
            next_frame: now,
            frames_written: 0,
            frame_seq: 0,
            rate_kbps: 8000,
            rate_log: Vec::new(),
            follow_rate: false,
            min_frame_bytes: 0,
            still: false,
            input_seq: None,
            sound: false,
            next_audio: now,
            skip_audio_once: false,
            rung: 0,
            rung_log: Vec::new(),
            audio_kbps: 96,
            nat: None,
            link_kbps: None,
        }
    }

    /// A client that offers video and sound and opens `channels` (label, reliable), on a link
    /// from the host shaped by `to_client`; returns its index.
    pub(crate) fn add_client(
        &mut self,
        to_client: NetemConfig,
        channels: &[(&str, bool)],
    ) -> usize {
        let n = self.clients.len();
        let id = PeerId(n as u64 + 1);
        let addr: SocketAddr = format!("10.0.1.{}:6000", n + 1).parse().expect("address");
        let mut rtc = Rtc::builder().build(self.now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
        let mut api = rtc.sdp_api();
        let video_mid = api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
        api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
        for (label, reliable) in channels {
            api.add_channel_with_config(ChannelConfig {
                label: (*label).to_owned(),
                ordered: *reliable,
                reliability: if *reliable {
                    Reliability::Reliable
                } else {
                    Reliability::MaxRetransmits { retransmits: 0 }
                },
                ..ChannelConfig::default()
            });
        }
        let (offer, pending) = api.apply().expect("an offer");
        let answer = self
            .session
            .handle_offer(self.now, id, &offer.to_sdp_string(), self.link_kbps)
            .expect("the session answers");
        let answer = SdpAnswer::from_sdp_string(&answer).expect("a valid answer");
        rtc.sdp_api()
            .accept_answer(pending, answer)
            .expect("the client takes the answer");
        self.clients.push(Client::new(
            id,
            rtc,
            addr,
            to_client,
            Some(video_mid),
            self.now,
        ));
        self.drain_session();
        n
    }

    /// Client `n` restarts ICE (new credentials, same connection) and offers again on its
    /// signaling; the host's answer is taken and returned. The host's refusal is returned as
    /// is.
    pub(crate) fn restart_ice(&mut self, n: usize) -> Result<String, crate::session::SessionError> {
        let c = &mut self.clients[n];
        let mut api = c.rtc.sdp_api();
        api.ice_restart(true);
        let (offer, pending) = api.apply().expect("an ICE restart offer");
        let answer = self
            .session
            .handle_offer(self.now, c.id, &offer.to_sdp_string(), None)?;
        let sdp = answer.clone();
        let answer = SdpAnswer::from_sdp_string(&answer).expect("a valid answer");
        c.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .expect("the client takes the answer");
        c.timeout = self.now;
        self.drain_session();
        Ok(sdp)
    }

    /// A party the host offers to (as to a WHIP endpoint), which answers; returns its index.
    pub(crate) fn add_answering_client(&mut self, to_client: NetemConfig) -> usize {
        let n = self.clients.len();
        let id = PeerId(n as u64 + 1);
        let addr: SocketAddr = format!("10.0.1.{}:6000", n + 1).parse().expect("address");
        let offer = self
            .session
            .handle_create_offer(self.now, id)
            .expect("the session offers");
        let mut rtc = Rtc::builder().build(self.now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").expect("candidate"));
        let answer = rtc
            .sdp_api()
            .accept_offer(SdpOffer::from_sdp_string(&offer).expect("a valid offer"))
            .expect("the client takes the offer");
        self.session
            .handle_answer(self.now, id, &answer.to_sdp_string())
            .expect("the session takes the answer");
        self.clients
            .push(Client::new(id, rtc, addr, to_client, None, self.now));
        self.drain_session();
        n
    }

    /// Runs for `d` of virtual time.
    pub(crate) fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.step();
            self.now += STEP;
        }
    }

    /// Runs until every client is connected (ICE and DTLS), within `limit` of virtual time;
    /// whether they all were.
    pub(crate) fn connect_all(&mut self, limit: Duration) -> bool {
        self.run_until(limit, |h| h.clients.iter().all(|c| c.connected))
    }

    /// Runs until `done` holds or `limit` passes; whether it held.
    pub(crate) fn run_until(&mut self, limit: Duration, done: impl Fn(&Self) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if done(self) {
                return true;
            }
            self.step();
            self.now += STEP;
        }
        done(self)
    }

    fn step(&mut self) {
        let now = self.now;
        // Datagrams that reach the host.
        self.host_inbox.handle_input(NetInput::Timeout(now));
        while let Some(NetOutput::Packet(mut p)) = self.host_inbox.poll_output() {
            if let Some((local, public)) = self.nat {
                if p.destination != public {
                    continue;
                }
                p.destination = local;
            }
            self.session
                .handle_datagram(now, p.source, p.destination, &p.contents);
            self.drain_session();
        }
        // Datagrams that reach each client, and their timers.
        for c in &mut self.clients {
            c.inbox.handle_input(NetInput::Timeout(now));
            while let Some(NetOutput::Packet(p)) = c.inbox.poll_output() {
                let Ok(contents) = p.contents.as_slice().try_into() else {
                    continue;
                };
                if c.cut {
                    continue;
                }
                let input = Input::Receive(
                    now,
                    Receive {
                        proto: Protocol::Udp,
                        source: p.source,
                        destination: p.destination,
                        contents,
                    },
                );
                if c.rtc.handle_input(input).is_ok() {
                    c.drain(now, &mut self.host_inbox);
                }
            }
            let ask_again = c.broken
                && c.asked_at.is_some_and(|t| {
                    now.saturating_duration_since(t) >= client::KEYFRAME_ASK_EVERY
                });
            if std::mem::take(&mut c.wants_keyframe) || ask_again {
                c.request_keyframe();
                c.asked_at = Some(now);
                c.timeout = now;
            }
            if now >= c.timeout && c.rtc.handle_input(Input::Timeout(now)).is_ok() {
                c.drain(now, &mut self.host_inbox);
            }
        }
        if now >= self.session_timeout {
            self.session.handle_timeout(now);
            self.drain_session();
        }
        if self.sound && now >= self.next_audio {
            let audio = crate::audio::EncodedAudio {
                data: vec![0xfc; 60].into(),
                captured_at: self.next_audio,
            };
            self.next_audio += Duration::from_millis(10);
            if std::mem::take(&mut self.skip_audio_once) {
                self.next_audio += Duration::from_millis(10);
            }
            self.session.handle_audio(now, &audio);
            self.drain_session();
        }
        if self.media && now >= self.next_frame {
            self.next_frame += FRAME_INTERVAL;
            // Every tier a peer receives; tier 0 always (as when no peer has said yet).
            for tier in 0..MAX_TIERS {
                if tier > 0 && self.tier_wanted[tier] == 0 {
                    continue;
                }
                let keyframe = std::mem::take(&mut self.keyframe_due[tier]);
                let frame = self.frame(tier, keyframe);
                if self.session.handle_frame(now, &frame) {
                    self.frames_written += 1;
                }
                self.drain_session();
            }
        }
    }

    /// A made-up H.264 access unit of tier `tier` of about 6 KB (several packets): an IDR or a
    /// P slice.
    fn frame(&mut self, tier: usize, keyframe: bool) -> EncodedFrame {
        self.frame_seq += 1;
        let mut data = vec![0, 0, 0, 1, if keyframe { 0x65 } else { 0x41 }];
        let size = if self.still && !keyframe {
            40
        } else if self.follow_rate {
            // One frame's share of the rate (60 fps), never under the content's floor at this
            // rung; a keyframe twice that (the VBV of one frame: the buffer plus its own share;
            // real 720p keyframes measured 3–4 KiB at 1–2 Mbit/s, benches/RESULTS.md).
            let floor = self.min_frame_bytes as f64 * Scale::RUNGS[self.tier_rung[tier]].area();
            let share = (self.tier_kbps[tier] as usize * 1000 / 8 / 60).max(floor as usize);
            if keyframe {
                share * 2
            } else {
                share
            }
        } else {
            6000
        };
        data.extend((0..size as u32).map(|i| (i as u8) | 1));
        let now = self.now;
        let (width, height) = Scale::RUNGS[self.tier_rung[tier]].picture(1280, 720);
        EncodedFrame {
            codec: Codec::H264,
            data: data.into(),
            keyframe,
            captured_at: now,
            grabbed_at: now,
            started_at: now,
            converted_at: now,
            encoded_at: now,
            width,
            height,
            screen: (1280, 720),
            tier,
            rung: self.tier_rung[tier],
            frame_seq: self.frame_seq,
            input_echo: std::sync::Arc::new(
                self.input_seq
                    .map(|s| self.clients.iter().map(|c| (c.id, s)).collect())
                    .unwrap_or_default(),
            ),
        }
    }

    /// Carries out the session's outputs: datagrams onto the links, the rest recorded.
    pub(crate) fn drain_session(&mut self) {
        loop {
            match self.session.poll_output() {
                Output::Timeout(t) => {
                    self.session_timeout = t;
                    return;
                }
                Output::Transmit(t) => {
                    let source = match self.nat {
                        Some((local, public)) if t.source == local => public,
                        _ => t.source,
                    };
                    if let Some(c) = self.clients.iter_mut().find(|c| c.addr == t.destination) {
                        c.inbox.handle_input(NetInput::Packet(
                            self.now,
                            Packet {
                                source,
                                destination: t.destination,
                                contents: t.contents.to_vec(),
                            },
                        ));
                    }
                }
                Output::Joined(p) => self.joined.push(p),
                Output::Left(p) => self.left.push(p),
                Output::Input(m) => self.inputs.push(m),
                Output::Notice(p, n) => self.notices.push((p, n)),
                Output::Encoder(EncoderCommand::Keyframe { tier, .. }) => {
                    self.keyframe_commands += 1;
                    self.keyframe_due[tier] = true;
                }
                Output::PeerStats(s) => self.stats = s,
                Output::Encoder(EncoderCommand::FirstTier(tier)) => self.first_tier = tier,
                Output::Encoder(EncoderCommand::Wanted { tier, mask }) => {
                    self.tier_wanted[tier] = mask;
                }
                Output::Encoder(EncoderCommand::Rung { tier, rung }) => {
                    self.tier_rung[tier] = rung;
                    // A new rung reopens the encoder: its next frame is a keyframe.
                    self.keyframe_due[tier] = true;
                    if tier == 0 {
                        self.rung = rung;
                        self.rung_log.push((self.now, rung));
                    }
                }
                Output::Encoder(EncoderCommand::Bitrate { tier, kbps }) => {
                    self.tier_kbps[tier] = kbps;
                    if tier == 0 {
                        self.rate_kbps = kbps;
                        self.rate_log.push((self.now, kbps));
                    }
                }
                Output::Encoder(EncoderCommand::AudioBitrate(kbps)) => self.audio_kbps = kbps,
            }
        }
    }
}

/// A link with `ms` of one-way delay and nothing else, seeded.
pub(super) fn delay(ms: u64, seed: u64) -> NetemConfig {
    delay_of(Duration::from_millis(ms), seed)
}

/// [`delay`] of any `latency`, not only whole milliseconds.
pub(super) fn delay_of(latency: Duration, seed: u64) -> NetemConfig {
    NetemConfig::new().latency(latency).seed(seed)
}
