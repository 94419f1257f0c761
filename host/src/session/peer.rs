//! One peer: its `Rtc`, what was negotiated with it, and its figures. `drain` turns str0m's
//! outputs and events into the session's outputs.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use str0m::bwe::{Bitrate, BweKind};

/// A peer whose ICE lost every candidate pair (`Disconnected`) is kept this long for its page
/// to restart ICE on the same connection (RFC 8445 §9); then it goes. A page restarts about 2 s
/// after its browser says `disconnected` (`web-client/src/peer.js`), and its signaling socket
/// closing makes the peer go at once.
pub(super) const RESTART_GRACE: Duration = Duration::from_secs(20);
use str0m::change::SdpAnswer;
use str0m::media::{Mid, Pt};
use str0m::rtp::rtcp::Rtcp;
use str0m::rtp::RawPacket;
use str0m::{Event, IceConnectionState, Output as RtcOutput, Rtc};

use super::channels::{ChannelKind, Channels};
use super::fanout::KeyframeGate;
use super::nacks::{self, NackedPackets};
use super::negotiate::{self, Media, Pending, Shape};
use super::rate::{LossRun, RateControl};
use super::{
    EncoderCommand, Output, SessionCounters, SessionError, RATE_WINDOW, RTC_STATS_INTERVAL,
};
use crate::encode::Codec;
use crate::peer::PeerId;
use crate::stats::PeerSnapshot;

pub(super) struct Peer {
    pub(super) id: PeerId,
    pub(super) rtc: Rtc,
    /// The video m-line, its payload type and codec; `None` until an answer says (offers).
    pub(super) video: Option<(Mid, Pt, Codec)>,
    /// The audio m-line and Opus payload type, when the peer takes sound on a track.
    pub(super) audio: Option<(Mid, Pt)>,
    /// An offer of ours waiting for its answer.
    pending: Option<Pending>,
    pub(super) channels: Channels,
    pub(super) connected: bool,
    pub(super) keyframes: KeyframeGate,
    /// The video packets the page has named in its NACKs lately.
    nacked: NackedPackets,
    /// When str0m wants its next timeout.
    pub(super) timeout: Instant,
    /// When the host next says it is alive on `control` (`proto::echo::MSG_ALIVE`).
    pub(super) next_alive: Instant,
    pub(super) snapshot: PeerSnapshot,
    /// When the per-second figures were last taken: (time, bytes sent, frames sent, video
    /// bytes sent).
    last_bytes: Option<(Instant, u64, u64, u64)>,
    /// The video rate this peer's link carries.
    pub(super) rate: RateControl,
    /// The first offer's fingerprint and m-lines: a later offer of the same shape renegotiates
    /// this connection (an ICE restart).
    pub(super) shape: Shape,
    /// The server-reflexive candidates announced to this page (`candidates.rs`).
    pub(super) reflexive: Vec<str0m::Candidate>,
    /// DTLS came up once: media keys exist, and a new ICE path only needs a keyframe.
    dtls_up: bool,
    /// ICE restarted or lost its path after DTLS came up: a keyframe follows the new path.
    recovering: bool,
    /// ICE lost every pair: the peer goes at this instant unless the page restarts it.
    pub(super) give_up_at: Option<Instant>,
    /// The screen's size as last told to the page.
    pub(super) screen_told: Option<(u32, u32)>,
    /// The quality tier whose frames it receives (`tiers.rs`).
    pub(super) tier: usize,
    /// When its offer was answered (or ours made): a new peer's rate starts low.
    pub(super) added_at: Instant,
    /// Its targets over the last while, by which its tier is chosen.
    pub(super) sustained: super::tiers::Sustained,
    /// Its page's newest cap (`max-bitrate`, kbit/s or none) not yet applied.
    pub(super) cap_wanted: Option<Option<u32>>,
    /// When its page's last cap was applied.
    pub(super) cap_set_at: Option<Instant>,
    /// The newest input packet of this page that the last frame sent showed, what the frames
    /// before it changed had shown, how many more frames get an echo, and when the last run of
    /// echoes began (see [`super::fanout::ECHO_FRAMES`]).
    pub(super) echo_seq: Option<u32>,
    pub(super) echo_since: Option<u32>,
    pub(super) echoes_left: u32,
    pub(super) echoes_began: Option<Instant>,
    /// The last Opus frame waits for the next packet on the `audio` channel (a narrow link:
    /// [`super::rate::AUDIO_PAIRED_UNDER_KBPS`]).
    pub(super) audio_held: bool,
    /// Whether str0m's estimator could probe at its last estimate event (`BweKind::Twcc`): it
    /// holds its estimate while it cannot, which is logged (a stuck estimate seen on the link
    /// bench).
    can_probe: Option<bool>,
    /// The resend share its video stream's RTX cache was last given (`negotiate.rs`).
    resend_share: f32,
}

impl Peer {
    /// A peer whose offer was answered, and the answer for its page.
    pub(super) fn answered(
        id: PeerId,
        answered: negotiate::Answered,
        now: Instant,
        max_kbps: u32,
        start_kbps: u32,
    ) -> (Self, String) {
        let rate = RateControl::new(now, start_kbps, max_kbps);
        let mut peer = Self::pending(id, answered.rtc, None, answered.media, now, rate);
        peer.shape = answered.shape;
        peer.reflexive = answered.reflexive;
        (peer, answered.sdp)
    }

    /// Whether the peer has not been connected yet (its DTLS never came up).
    pub(super) fn first_connecting(&self) -> bool {
        !self.dtls_up
    }

    /// Answers a new offer on this peer's connection ([`negotiate::reanswer`]).
    pub(super) fn reanswer(
        &mut self,
        config: &super::SessionConfig,
        offered: &Shape,
        sdp: &str,
    ) -> Result<String, super::SessionError> {
        let Self {
            rtc,
            reflexive,
            shape,
            ..
        } = self;
        negotiate::reanswer(config, rtc, reflexive, shape, offered, sdp)
    }

    /// A peer we offered to, waiting for its answer (or answered, when `pending` is `None`),
    /// its video rate starting with `rate`.
    pub(super) fn pending(
        id: PeerId,
        rtc: Rtc,
        pending: Option<Pending>,
        media: Media,
        now: Instant,
        rate: RateControl,
    ) -> Self {
        Self {
            id,
            rtc,
            video: media.video,
            audio: media.audio,
            pending,
            channels: Channels::default(),
            connected: false,
            keyframes: KeyframeGate::default(),
            nacked: NackedPackets::default(),
            timeout: now,
            next_alive: now,
            snapshot: PeerSnapshot {
                id: id.0,
                ..PeerSnapshot::default()
            },
            last_bytes: None,
            rate,
            shape: Shape::default(),
            reflexive: Vec::new(),
            dtls_up: false,
            recovering: false,
            give_up_at: None,
            screen_told: None,
            tier: 0,
            added_at: now,
            sustained: Default::default(),
            cap_wanted: None,
            cap_set_at: None,
            echo_seq: None,
            echo_since: None,
            echoes_left: 0,
            echoes_began: None,
            audio_held: false,
            can_probe: None,
            resend_share: super::rate::RESEND_SHARE,
        }
    }

    /// The page restarted ICE on this connection (its new offer was answered): the picture
    /// goes on over the old path until the new one is found, then a keyframe follows.
    pub(super) fn restarted(&mut self) {
        self.snapshot.ice_restarts += 1;
        self.recovering = self.dtls_up;
        self.give_up_at = None;
    }

    /// Says the host is alive on `control` when it is time (every `proto::echo::ALIVE_EVERY`,
    /// connected pages only); whether it wrote.
    pub(super) fn say_alive(&mut self, now: Instant, counters: &SessionCounters) -> bool {
        use crate::proto::echo::{ALIVE_EVERY, MSG_ALIVE};
        if now < self.next_alive {
            return false;
        }
        self.next_alive = now + ALIVE_EVERY;
        let Some(id) = self
            .channels
            .id(ChannelKind::Control)
            .filter(|_| self.connected)
        else {
            return false;
        };
        matches!(
            super::channels::write(&mut self.rtc, id, &[MSG_ALIVE], counters),
            super::channels::Written::Sent
        )
    }

    pub(super) fn video_codec(&self) -> Option<Codec> {
        self.video.map(|v| v.2)
    }

    /// This peer's figures, with what follows from its state: connected, codec, where its
    /// sound goes.
    pub(super) fn snapshot(&self) -> PeerSnapshot {
        let mut s = self.snapshot.clone();
        s.connected = self.connected;
        s.codec = self.video_codec().map(Codec::name);
        s.audio_path = if self.channels.id(ChannelKind::Audio).is_some() {
            "channel"
        } else if self.audio.is_some() {
            "track"
        } else {
            "none"
        };
        s
    }

    /// Completes an offer of ours with the remote party's answer.
    pub(super) fn accept_answer(&mut self, sdp: &str) -> Result<(), SessionError> {
        let Some(pending) = self.pending.take() else {
            return Err(SessionError::BadAnswer("no offer is waiting for it".into()));
        };
        let answer =
            SdpAnswer::from_sdp_string(sdp).map_err(|e| SessionError::BadAnswer(e.to_string()))?;
        self.rtc
            .sdp_api()
            .accept_answer(pending.change, answer)
            .map_err(|e| SessionError::Rejected(e.to_string()))?;
        let resolved = negotiate::resolve(
            &mut self.rtc,
            pending.video,
            pending.audio,
            self.rate.max_kbps() as u32,
        )?;
        self.video = resolved.video;
        self.audio = resolved.audio;
        Ok(())
    }

    /// Tells str0m's pacer the padding rate ([`RateControl::padding_kbps`]) and the rate to
    /// discover ([`RateControl::desired_kbps`]: the configured rate, lowered for a moment when
    /// a probe is to be asked for), once the peer has had a picture: the configured rate is what starts
    /// str0m's initial probes (3x and 6x the start), and probes sent before any video, right
    /// after DTLS, raised nothing with Chromium (on an open link the estimate stayed at 1–2
    /// Mbit/s until a periodic probe 4.5 s in).
    pub(super) fn pad_to_target(&mut self, now: Instant) {
        self.snapshot.target_kbps = Some(f64::from(self.rate.target_kbps()));
        if self.snapshot.frames_sent == 0 {
            return;
        }
        let floor = self.rate.padding_kbps();
        let desired = Bitrate::kbps(self.rate.desired_kbps(now) as u64);
        if let Some(kbps) = self.rate.take_restart() {
            self.rtc.bwe().reset(Bitrate::kbps(kbps as u64));
        }
        self.rtc
            .bwe()
            .set_bitrate(Bitrate::kbps(floor as u64), desired);
    }

    /// What a run of loss calls for ([`LossRun`]), counted.
    fn loss_run(
        &mut self,
        now: Instant,
        run: Option<LossRun>,
        counters: &SessionCounters,
        out: &mut VecDeque<Output>,
    ) {
        match run {
            Some(LossRun::Collapse) => {
                counters.collapses.inc();
                self.snapshot.collapses += 1;
                self.resync(now, out, true);
                self.pad_to_target(now); // no padding into the fallen link
            }
            Some(LossRun::FailedLead) => {
                counters.failed_probe_leads.inc();
                self.resync(now, out, true);
            }
            Some(LossRun::Burst) => {
                counters.loss_bursts.inc();
                self.resync(now, out, false);
            }
            None => {}
        }
    }

    /// The link lost a run of packets under the picture (`RateControl::on_loss`: it
    /// collapsed, or a probe's result led the target over it): what was lost is not resent
    /// (the RTX cache is emptied: those frames are past, and their resends would fill the
    /// narrow link ahead of the new picture), and a keyframe at the new rate follows. Without
    /// it, after a failed lead on the link bench the page showed nothing for 3 s, until its
    /// own keyframe request. After any other run of loss ([`LossRun::Burst`]: the target is
    /// not over the link) only the keyframe: NACK and RTX still repair what they can (a
    /// client dropping every seventh packet on purpose got a picture with a gap when the
    /// cache was emptied under its NACKs).
    fn resync(&mut self, now: Instant, out: &mut VecDeque<Output>, drop_resends: bool) {
        let Some((mid, ..)) = self.video else {
            return;
        };
        if drop_resends {
            // str0m counts the last second's resent bytes across a new cache, so after the
            // resends of a fall (up to its share of the second, sent into the full link) it
            // could drop every resend after the cut for up to a second. A cache without a cap
            // starts that count over.
            if let Some(tx) = self.rtc.direct_api().stream_tx_by_mid(mid, None) {
                tx.set_rtx_cache(1, Duration::ZERO, None);
            }
            self.reset_rtx_cache(mid, self.rate.resend_share(now));
        }
        // The gate throttles the page's requests; the link's own run of loss is not one.
        let sent = self.keyframes.request(now) || drop_resends && self.keyframes.force(now);
        if sent {
            out.extend(self.keyframe());
        }
        tracing::debug!(peer = %self.id, drop_resends, sent, "resync after a run of loss");
    }

    /// Before a keyframe is written (its first packet starts what the page's NACKs may name
    /// for [`NackedPackets`]): the RTX cache takes the resend share the link calls for now
    /// ([`RateControl::resend_share`]) if it has another. str0m changes the share only
    /// with a new, empty cache, and the packets before a keyframe are the only ones whose
    /// resends the page can do without: a share changed at any other time cost the
    /// still-screen test its picture.
    pub(super) fn before_keyframe(&mut self, now: Instant) {
        self.nacked.keyframe_written();
        let share = self.rate.resend_share(now);
        if let Some((mid, ..)) = self.video.filter(|_| share != self.resend_share) {
            self.reset_rtx_cache(mid, share);
        }
    }

    /// Gives the video stream a new, empty RTX cache with resends capped at `share` of the bytes
    /// (the share the link calls for, [`RateControl::resend_share`]).
    fn reset_rtx_cache(&mut self, mid: Mid, share: f32) {
        let max_kbps = self.rate.max_kbps() as u32;
        if let Some(tx) = self.rtc.direct_api().stream_tx_by_mid(mid, None) {
            negotiate::reset_rtx_cache(tx, max_kbps, share);
            if share != self.resend_share {
                tracing::debug!(peer = %self.id, share, "resend share");
            }
            self.resend_share = share;
        }
    }

    /// The page asked for a keyframe (a PLI or FIR, or its `control` channel's request):
    /// honoured and counted when the peer's gate lets it through.
    fn keyframe_requested(
        &mut self,
        now: Instant,
        counters: &SessionCounters,
        out: &mut VecDeque<Output>,
    ) {
        let due = self.keyframes.request(now);
        tracing::debug!(peer = %self.id, due, "the page asked for a keyframe");
        if let (true, Some(keyframe)) = (due, self.keyframe()) {
            counters.keyframe_requests.inc();
            out.push_back(keyframe);
        }
    }

    /// The video stream's SSRC (none before an answer).
    fn video_ssrc(&mut self) -> Option<str0m::rtp::Ssrc> {
        let (mid, ..) = self.video?;
        Some(self.rtc.direct_api().stream_tx_by_mid(mid, None)?.ssrc())
    }

    /// A keyframe of this peer's tier in its codec, for the encoder (none before an answer
    /// named the codec).
    fn keyframe(&self) -> Option<Output> {
        let codec = self.video_codec()?;
        Some(Output::Encoder(EncoderCommand::Keyframe {
            tier: self.tier,
            codec,
        }))
    }

    /// Drains str0m's output until its next timeout, into `out`.
    pub(super) fn drain(
        &mut self,
        now: Instant,
        counters: &SessionCounters,
        out: &mut VecDeque<Output>,
    ) {
        loop {
            if !self.rtc.is_alive() {
                self.timeout = now;
                return;
            }
            match self.rtc.poll_output() {
                Ok(RtcOutput::Timeout(t)) => {
                    self.timeout = self.give_up_at.map_or(t, |g| g.min(t));
                    return;
                }
                Ok(RtcOutput::Transmit(t)) => out.push_back(Output::Transmit(t)),
                Ok(RtcOutput::Event(e)) => self.handle_event(now, e, counters, out),
                Err(e) => {
                    tracing::info!(peer = %self.id, error = %e, "peer failed");
                    self.rtc.disconnect();
                }
            }
        }
    }

    fn handle_event(
        &mut self,
        now: Instant,
        event: Event,
        counters: &SessionCounters,
        out: &mut VecDeque<Output>,
    ) {
        match event {
            Event::Connected => {
                self.connected = true;
                self.dtls_up = true;
                // The first picture goes out as soon as the encoder makes it.
                out.extend(self.keyframe());
                tracing::info!(peer = %self.id, "connected");
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                // Not gone yet: the page may restart ICE (a new network, a NAT rebinding).
                self.connected = false;
                self.recovering = self.dtls_up;
                self.give_up_at.get_or_insert(now + RESTART_GRACE);
                tracing::info!(peer = %self.id, "ICE lost its path; waiting for a restart");
            }
            Event::IceConnectionStateChange(
                IceConnectionState::Connected | IceConnectionState::Completed,
            ) => {
                self.give_up_at = None;
                if std::mem::take(&mut self.recovering) {
                    // A new path after a restart or a loss: what the page missed meanwhile
                    // cannot be decoded, so the picture resumes on a keyframe.
                    self.connected = true;
                    self.rate.forget_hold();
                    out.extend(self.keyframe());
                    tracing::info!(peer = %self.id, "ICE found a path again");
                }
            }
            Event::KeyframeRequest(_) => self.keyframe_requested(now, counters, out),
            Event::PeerStats(s) => {
                let sn = &mut self.snapshot;
                // Rates over about a second, though str0m reports every RTC_STATS_INTERVAL.
                let due = self.last_bytes.is_none_or(|(t, ..)| {
                    s.timestamp.saturating_duration_since(t) + RTC_STATS_INTERVAL / 2 >= RATE_WINDOW
                });
                if due {
                    if let Some((t, bytes, frames, video)) = self.last_bytes {
                        let secs = s.timestamp.saturating_duration_since(t).as_secs_f64();
                        if secs > 0.0 {
                            let kbps = |b: u64| b as f64 * 8.0 / 1000.0 / secs;
                            sn.bitrate_kbps = kbps(s.peer_bytes_tx.saturating_sub(bytes));
                            sn.video_kbps = kbps(sn.video_bytes_sent.saturating_sub(video));
                            sn.fps = sn.frames_sent.saturating_sub(frames) as f64 / secs;
                        }
                    }
                    self.last_bytes = Some((
                        s.timestamp,
                        s.peer_bytes_tx,
                        sn.frames_sent,
                        sn.video_bytes_sent,
                    ));
                    // The picture's own rate, not the padding that feeds the estimator: with
                    // it, a still screen looked busy and lost its rate to padding's probes.
                    if self.connected {
                        self.rate.on_sent(now, sn.video_kbps);
                    }
                }
                sn.bytes_sent = s.peer_bytes_tx;
                sn.rtt_ms = s.rtt.map(|d| d.as_secs_f64() * 1000.0);
                tracing::trace!(
                    peer = %self.id,
                    bwe_kbps = s.bwe_tx.map(|b| b.as_f64() / 1000.0),
                    loss = s.egress_loss_fraction,
                    bytes_sent = s.peer_bytes_tx,
                    video_bytes = sn.video_bytes_sent,
                    target_kbps = self.rate.target_kbps(),
                    "rate sample"
                );
                if let Some(b) = s.bwe_tx {
                    sn.bwe_kbps = Some(b.as_f64() / 1000.0);
                    if self.connected {
                        self.rate.on_raw_estimate(now, b.as_f64() / 1000.0);
                    }
                }
                if let Some(loss) = s.egress_loss_fraction {
                    sn.loss = Some(f64::from(loss));
                    let run = self
                        .connected
                        .then(|| self.rate.on_loss(now, f64::from(loss), s.peer_bytes_tx))
                        .flatten();
                    self.loss_run(now, run, counters, out);
                }
                if self.connected {
                    self.rate.on_rtt(now, self.snapshot.rtt_ms);
                }
                if self.connected && s.bwe_tx.is_some() {
                    self.pad_to_target(now);
                }
            }
            Event::EgressBitrateEstimate(BweKind::Twcc {
                estimate,
                can_probe,
            }) => {
                let kbps = estimate.as_f64() / 1000.0;
                if self.can_probe.replace(can_probe) != Some(can_probe) {
                    tracing::info!(
                        peer = %self.id,
                        can_probe,
                        estimate_kbps = kbps,
                        "the estimator's probing changed (it holds its estimate while it cannot)"
                    );
                }
                self.snapshot.bwe_kbps.get_or_insert(kbps);
                self.rate.on_estimate(now, kbps);
                self.pad_to_target(now);
            }
            Event::RawPacket(p) if self.connected => match *p {
                RawPacket::RtcpRx(Rtcp::Twcc(t)) => {
                    let received = u16::try_from(t.delta.len()).unwrap_or(u16::MAX);
                    let run = self.rate.on_feedback(now, t.status_count, received);
                    self.loss_run(now, run, counters, out);
                }
                RawPacket::RtpTx(h, _)
                    if self.nacked.awaits_keyframe() && Some(h.ssrc) == self.video_ssrc() =>
                {
                    self.nacked.on_sent(h.sequence_number);
                }
                RawPacket::RtcpRx(Rtcp::Nack(n)) if Some(n.ssrc) == self.video_ssrc() => {
                    let seqs = n.reports.iter().flat_map(|e| nacks::named(e.pid, e.blp));
                    let rtt = self.snapshot.rtt_ms.unwrap_or(0.0) / 1e3;
                    let rtt = Duration::try_from_secs_f64(rtt).unwrap_or_default();
                    // Not while the link is falling: the collapse's keyframe is on its way.
                    if self.nacked.on_nack(now, rtt, seqs) && !self.rate.losing_most() {
                        tracing::debug!(peer = %self.id, "the page names a lost packet again");
                        self.keyframe_requested(now, counters, out);
                    }
                }
                _ => {}
            },
            Event::EgressBitrateEstimate(BweKind::Remb { estimate, .. }) => {
                self.snapshot.remb_kbps = Some(estimate.as_f64() / 1000.0);
            }
            Event::MediaEgressStats(s) => {
                let sn = &mut self.snapshot;
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
            Event::ChannelOpen(id, label) => {
                let kind = self.channels.open(id, &label);
                match kind {
                    Some(ChannelKind::Audio) => {
                        tracing::debug!(peer = %self.id, "sound goes over the audio data channel");
                    }
                    Some(ChannelKind::Clipboard) => {
                        self.channels.flush_clipboard(&mut self.rtc, counters);
                    }
                    _ => {}
                }
            }
            Event::ChannelData(d) => {
                let routed = self.channels.route(self.id, now, d.id, d.data);
                if matches!(routed, super::channels::Routed::Keyframe) {
                    // As a PLI: the same gate, the same counter.
                    self.keyframe_requested(now, counters, out);
                }
                super::channels::deliver(self.id, routed, counters, out);
            }
            _ => {}
        }
    }
}
