//! The driver of the [`Session`]: the UDP sockets (one port, one socket per local address so
//! each packet's destination is known), their reader threads, the clock, and the rtc thread
//! that feeds the session and carries out its outputs. Nothing else happens here: every
//! decision is the session's, or, for the host's public address, the [`reflexive::Discovery`]'s
//! (sans-IO too; `stun.rs` has its messages). Each datagram is offered to the discovery first:
//! a STUN server's answer to it never reaches the session. The STUN server's name is looked
//! up on a thread of its own (`glint-stun-dns`), which never holds up the start.

mod counters;
pub mod reflexive;
pub mod stun;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{bounded, never, select_biased, Receiver, Sender, TrySendError};
use tokio::sync::oneshot;

use crate::audio::EncodedAudio;
use crate::encode::EncodedFrame;
use crate::input::InputMsg;
use crate::metrics::Counter;
use crate::peer::{PeerId, PeerNotifier};
use crate::pipeline::EncodeControl;
use crate::session::{EncoderCommand, Output, Session, SessionError};
use crate::stats::Stats;
pub use counters::NetCounters;
use reflexive::{Discovery, Server};
use std::sync::atomic::Ordering;

/// Signaling → rtc. When full, signaling waits a little, then answers "busy" to that client.
pub const COMMAND_QUEUE: usize = 64;
/// UDP reader threads → rtc. When full the datagram is dropped, as a congested link would.
pub const DATAGRAM_QUEUE: usize = 1024;
/// Largest datagram read.
const MAX_DATAGRAM: usize = 2048;

/// What signaling asks of the rtc thread.
#[derive(Debug)]
pub enum RtcCommand {
    /// A page's offer; the answer (or why not) goes back on `reply`.
    Offer {
        peer: PeerId,
        sdp: String,
        /// The page's measure of its link, kbit/s (signaling's `link_kbps`).
        link_kbps: Option<u32>,
        notify: PeerNotifier,
        reply: oneshot::Sender<Result<String, SessionError>>,
    },
    /// A remote ICE candidate trickled by the page.
    Candidate {
        peer: PeerId,
        candidate: String,
    },
    Leave {
        peer: PeerId,
    },
    /// The page's own cap on its video rate, kbit/s (`None`: the configured rate).
    MaxBitrate {
        peer: PeerId,
        kbps: Option<u32>,
    },
    /// The host's clipboard text for these peers (from the input thread, which decides who
    /// may have it).
    Clipboard {
        peers: Vec<PeerId>,
        text: std::sync::Arc<str>,
    },
    /// Shutting down: every peer leaves, no new one is taken; `done` when that is carried out.
    Drain {
        done: oneshot::Sender<()>,
    },
}

/// What the rtc thread needs from the rest of the process.
pub struct RtcParts {
    pub session: Session,
    pub commands: Receiver<RtcCommand>,
    pub frames: Receiver<EncodedFrame>,
    /// Opus frames; a receiver that never yields when there is no sound.
    pub audio: Receiver<EncodedAudio>,
    /// Input packets and text, dropped (and counted in `input_dropped`) when full.
    pub input: Sender<InputMsg>,
    /// Peers joining and leaving: never dropped.
    pub lifecycle: Sender<InputMsg>,
    pub input_dropped: Counter,
    pub control: Arc<EncodeControl>,
    /// The room (who is in control), as the input thread publishes it at each change.
    pub room: tokio::sync::watch::Receiver<crate::proto::signaling::RoomView>,
    pub counters: NetCounters,
    pub stats: Arc<Stats>,
    /// The pages' STUN and TURN servers (`--ice-server`): the host learns its public address
    /// from the one [`crate::proto::ice::binding_server`] picks, if any.
    pub ice_servers: Vec<crate::proto::ice::IceUrl>,
}

struct Datagram {
    local: SocketAddr,
    source: SocketAddr,
    data: Vec<u8>,
    at: Instant,
}

/// Why a socket could not be bound, in words for the user: `what` names the socket ("listen
/// on 0.0.0.0:8443"), `flag` the option that chooses it. Returns the message and whether the
/// address given is itself wrong (a usage error, exit code 2) rather than taken or refused by
/// the system at run time (1): a port in use, a port under 1024 without the right.
pub fn bind_failure(what: &str, flag: &str, e: &std::io::Error) -> (String, bool) {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::AddrInUse => (
            format!("cannot {what}: the port is in use (another glint or server?); choose another with {flag}"),
            false,
        ),
        ErrorKind::PermissionDenied => (
            format!(
                "cannot {what}: not allowed; ports under 1024 need root or \
                 CAP_NET_BIND_SERVICE, so choose one from 1024 with {flag}"
            ),
            false,
        ),
        ErrorKind::AddrNotAvailable => (
            format!(
                "cannot {what}: that address is not one of this machine's; {flag} takes one \
                 of them, or 0.0.0.0 / [::] for all"
            ),
            true,
        ),
        _ => (format!("cannot {what}: {e}"), false),
    }
}

/// Binds one UDP socket per local address, all on the same port: every IPv4 address, and the
/// IPv6 ones a browser can reach (not loopback, which Chromium never gathers on, nor
/// link-local, which needs an interface's scope) unless the listen address is an IPv4 one
/// beyond loopback (`0.0.0.0` or one address: IPv4 was asked for). IPv4 first, loopback last.
pub fn bind_sockets(port: u16, listen_ip: IpAddr) -> std::io::Result<Vec<UdpSocket>> {
    let ipv6 = listen_ip.is_ipv6() || listen_ip.is_loopback();
    let mut ips: Vec<IpAddr> = if_addrs::get_if_addrs()?
        .into_iter()
        .map(|i| i.ip())
        .filter(|ip| match ip {
            IpAddr::V4(_) => true,
            IpAddr::V6(v6) => ipv6 && reachable_ipv6(v6),
        })
        .collect();
    // Loopback-only listening still needs the LAN addresses: Chromium never gathers on 127.0.0.1.
    if !listen_ip.is_unspecified() && !listen_ip.is_loopback() {
        ips.retain(|ip| *ip == listen_ip || ip.is_loopback());
    }
    ips.sort_by_key(|ip| (ip.is_loopback(), ip.is_ipv6()));
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

/// An IPv6 address a browser elsewhere can send to: global or unique-local (RFC 4193), not
/// loopback, unspecified, multicast or link-local (fe80::/10).
fn reachable_ipv6(ip: &std::net::Ipv6Addr) -> bool {
    !(ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() || ip.is_unicast_link_local())
}

/// The local addresses of `sockets`, for the session's host candidates.
pub fn local_addrs(sockets: &[UdpSocket]) -> std::io::Result<Vec<SocketAddr>> {
    sockets.iter().map(UdpSocket::local_addr).collect()
}

/// Starts the UDP readers and the rtc thread; the handle is the rtc thread's.
pub fn spawn(sockets: Vec<UdpSocket>, parts: RtcParts) -> std::io::Result<JoinHandle<()>> {
    let (dg_tx, dg_rx) = bounded::<Datagram>(DATAGRAM_QUEUE);
    let binding = crate::proto::ice::binding_server(&parts.ice_servers);
    if binding.is_none() && !parts.ice_servers.is_empty() {
        tracing::info!(
            "no --ice-server is one the host can ask for its public address (stun:, or turn: \
             over UDP, by name or IPv4 address): pages use them, the host learns no public \
             address (give --public-ip behind a NAT)"
        );
    }
    let servers = match binding {
        Some((host, port)) => {
            let locals = local_addrs(&sockets)?;
            let (tx, rx) = bounded(1);
            let failures = parts.counters.stun.failures.clone();
            thread::Builder::new()
                .name("glint-stun-dns".into())
                .spawn(move || look_up(&host, port, &locals, &tx, &failures))?;
            rx
        }
        None => never(),
    };
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
        .spawn(move || Driver::new(senders, parts, servers).run(dg_rx))
}

/// Looks the STUN server's name up (blocking: on its own thread) until it has an address of
/// the sockets' family (IPv4), every [`reflexive::RETRY`], and sends it with the local address
/// to ask from: the one the kernel routes to the server from, else the first not on loopback.
fn look_up(host: &str, port: u16, locals: &[SocketAddr], tx: &Sender<Server>, failures: &Counter) {
    use std::net::ToSocketAddrs;
    loop {
        let found = (host, port)
            .to_socket_addrs()
            .map(|mut a| a.find(SocketAddr::is_ipv4));
        match found {
            Ok(Some(addr)) => {
                let Some(base) = base_for(addr, locals) else {
                    tracing::warn!(%addr, "no local address to ask the STUN server from");
                    return;
                };
                tracing::debug!(%addr, %base, "asking the STUN server for the public address");
                let _ = tx.send(Server { addr, base });
                return;
            }
            Ok(None) => tracing::warn!(host, "the STUN server has no IPv4 address"),
            Err(e) => {
                tracing::warn!(host, error = %e, "cannot look the STUN or TURN server up (the host asks it for its public address)")
            }
        }
        failures.inc();
        thread::sleep(reflexive::RETRY);
    }
}

/// Which of `locals` a datagram to `server` leaves from (what a connected socket's local
/// address says, with nothing sent).
fn base_for(server: SocketAddr, locals: &[SocketAddr]) -> Option<SocketAddr> {
    let routed = UdpSocket::bind((std::net::Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|s| s.connect(server).and_then(|()| s.local_addr()))
        .ok()
        .map(|a| a.ip());
    let by_route = locals.iter().find(|l| Some(l.ip()) == routed);
    by_route
        .or_else(|| locals.iter().find(|l| !l.ip().is_loopback()))
        .copied()
}

fn read_loop(socket: UdpSocket, local: SocketAddr, tx: Sender<Datagram>, c: NetCounters) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        match socket.recv_from(&mut buf) {
            Ok((n, source)) => {
                c.bytes_in.inc_by(n as u64);
                let dg = Datagram {
                    local,
                    source,
                    data: buf[..n].to_vec(),
                    at: Instant::now(),
                };
                match tx.try_send(dg) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        c.datagrams_dropped.inc();
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

struct Driver {
    sockets: HashMap<SocketAddr, UdpSocket>,
    parts: RtcParts,
    notifiers: HashMap<PeerId, PeerNotifier>,
    /// The notifier of an offer being answered, taken when the session says `Joined` (after
    /// any `Left` of a connection it replaces).
    offering: Option<(PeerId, PeerNotifier)>,
    /// When the session wants `handle_timeout`.
    timeout: Instant,
    /// The host's public address, learned by STUN; its server from `servers`, once.
    discovery: Discovery,
    servers: Receiver<Server>,
    /// When the discovery wants `handle_timeout` (`None`: not before it has a server).
    stun_due: Option<Instant>,
}

impl Driver {
    fn new(
        sockets: HashMap<SocketAddr, UdpSocket>,
        parts: RtcParts,
        servers: Receiver<Server>,
    ) -> Self {
        str0m::crypto::from_feature_flags().install_process_default();
        Self {
            sockets,
            discovery: Discovery::new(parts.counters.stun.clone()),
            servers,
            stun_due: None,
            parts,
            notifiers: HashMap::new(),
            offering: None,
            timeout: Instant::now(),
        }
    }

    fn run(mut self, datagrams: Receiver<Datagram>) {
        let commands = self.parts.commands.clone();
        let frames = self.parts.frames.clone();
        let audio = self.parts.audio.clone();
        loop {
            let due = self.stun_due.map_or(self.timeout, |t| t.min(self.timeout));
            let wait = due.saturating_duration_since(Instant::now());
            let servers = self.servers.clone();
            select_biased! {
                recv(datagrams) -> dg => match dg {
                    Ok(dg) => self.handle_datagram(&dg),
                    Err(_) => return,
                },
                recv(audio) -> a => if let Ok(a) = a {
                    self.parts.session.handle_audio(Instant::now(), &a);
                },
                recv(frames) -> f => match f {
                    Ok(f) => self.handle_frame(&f),
                    Err(_) => return,
                },
                recv(commands) -> c => match c {
                    Ok(c) => self.handle_command(c),
                    Err(_) => return,
                },
                recv(servers) -> s => match s {
                    Ok(server) => self.discovery.handle_server(Instant::now(), server),
                    Err(_) => self.servers = never(),
                },
                default(wait) => {},
            }
            let now = Instant::now();
            if self.parts.room.has_changed().unwrap_or(false) {
                let controllers = self
                    .parts
                    .room
                    .borrow_and_update()
                    .members
                    .iter()
                    .filter(|m| m.control)
                    .map(|m| PeerId(m.peer))
                    .collect();
                self.parts.session.handle_controllers(now, controllers);
            }
            if now >= self.timeout {
                self.parts.session.handle_timeout(now);
            }
            if self.stun_due.is_some_and(|t| now >= t) {
                self.discovery.handle_timeout(now);
            }
            self.carry_out();
        }
    }

    /// A STUN server's answer goes to the discovery, anything else to the session.
    fn handle_datagram(&mut self, dg: &Datagram) {
        if !self.discovery.handle_datagram(dg.at, dg.source, &dg.data) {
            let session = &mut self.parts.session;
            session.handle_datagram(dg.at, dg.source, dg.local, &dg.data);
        }
    }

    fn handle_frame(&mut self, frame: &EncodedFrame) {
        let received = Instant::now();
        if self.parts.session.handle_frame(received, frame) {
            self.carry_out();
            self.parts
                .stats
                .record_frame(frame, received, Instant::now());
        }
    }

    fn handle_command(&mut self, cmd: RtcCommand) {
        let now = Instant::now();
        match cmd {
            RtcCommand::Offer {
                peer,
                sdp,
                link_kbps,
                notify,
                reply,
            } => {
                self.offering = Some((peer, notify));
                let result = self.parts.session.handle_offer(now, peer, &sdp, link_kbps);
                self.carry_out();
                self.offering = None;
                let _ = reply.send(result);
            }
            RtcCommand::Candidate { peer, candidate } => {
                self.parts.session.handle_candidate(now, peer, &candidate)
            }
            RtcCommand::Leave { peer } => self.parts.session.handle_leave(now, peer),
            RtcCommand::MaxBitrate { peer, kbps } => {
                self.parts.session.handle_max_bitrate(now, peer, kbps)
            }
            RtcCommand::Clipboard { peers, text } => {
                for peer in peers {
                    self.parts.session.handle_clipboard(now, peer, &text);
                }
            }
            RtcCommand::Drain { done } => {
                self.parts.session.handle_drain(now);
                self.carry_out();
                let _ = done.send(());
            }
        }
    }

    /// Carries out everything the discovery and the session ask, until they say when to wake.
    fn carry_out(&mut self) {
        self.carry_out_discovery();
        loop {
            match self.parts.session.poll_output() {
                Output::Timeout(t) => {
                    self.timeout = t;
                    return;
                }
                Output::Transmit(t) => {
                    if let Some(s) = self.sockets.get(&t.source) {
                        if let Err(e) = s.send_to(&t.contents, t.destination) {
                            tracing::debug!(error = %e, "UDP send failed");
                        }
                    }
                }
                Output::Joined(peer) => {
                    let notify = match self.offering.take_if(|(p, _)| *p == peer) {
                        Some((_, n)) => n,
                        // The host's own offer (WHIP): no page to tell.
                        None => PeerNotifier::channel().0,
                    };
                    self.notifiers.insert(peer, notify.clone());
                    self.lifecycle(InputMsg::Joined { peer, notify });
                }
                Output::Left(peer) => {
                    self.notifiers.remove(&peer);
                    self.lifecycle(InputMsg::Left { peer });
                }
                Output::Input(m) => {
                    if self.parts.input.try_send(m).is_err() {
                        self.parts.input_dropped.inc();
                    }
                }
                Output::Notice(peer, n) => {
                    if let Some(notify) = self.notifiers.get(&peer) {
                        notify.notify(n);
                    }
                }
                Output::Encoder(EncoderCommand::Keyframe { tier, codec }) => {
                    self.parts.control.request_keyframe(tier, codec)
                }
                Output::Encoder(EncoderCommand::Wanted { tier, mask }) => self
                    .parts
                    .control
                    .tier(tier)
                    .wanted
                    .store(mask, Ordering::Relaxed),
                Output::Encoder(EncoderCommand::Bitrate { tier, kbps }) => self
                    .parts
                    .control
                    .tier(tier)
                    .bitrate_kbps
                    .store(u64::from(kbps), Ordering::Relaxed),
                Output::Encoder(EncoderCommand::AudioBitrate(kbps)) => {
                    self.parts.control.audio_kbps.store(kbps, Ordering::Relaxed)
                }
                Output::Encoder(EncoderCommand::FirstTier(tier)) => self
                    .parts
                    .control
                    .first_tier
                    .store(u8::try_from(tier).unwrap_or(0), Ordering::Relaxed),
                Output::Encoder(EncoderCommand::Rung { tier, rung }) => self
                    .parts
                    .control
                    .tier(tier)
                    .rung
                    .store(u8::try_from(rung).unwrap_or(u8::MAX), Ordering::Relaxed),
                Output::PeerStats(peers) => self.parts.stats.publish_peers(peers),
            }
        }
    }

    fn carry_out_discovery(&mut self) {
        loop {
            match self.discovery.poll_output() {
                reflexive::Output::Timeout(t) => {
                    self.stun_due = t;
                    return;
                }
                reflexive::Output::Transmit(t) => match self.sockets.get(&t.source) {
                    Some(s) => {
                        if let Err(e) = s.send_to(&t.contents, t.destination) {
                            tracing::debug!(error = %e, "STUN send failed");
                        }
                    }
                    None => tracing::debug!(source = %t.source, "no socket for the STUN request"),
                },
                reflexive::Output::Mapping(m) => {
                    self.parts.session.handle_reflexive(Instant::now(), m);
                    self.parts.stats.set_public_address(m.map(|r| r.mapped));
                }
            }
        }
    }

    /// A lifecycle edge: blocks rather than drop it (the input thread reads these first).
    fn lifecycle(&self, m: InputMsg) {
        if self.parts.lifecycle.send(m).is_err() {
            tracing::debug!("the input thread is gone");
        }
    }
}

/// The wall-clock time now and the matching instant, for [`Session::new`].
pub fn clock_anchor() -> (Instant, SystemTime) {
    (Instant::now(), SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::{bind_failure, reachable_ipv6};

    #[test]
    fn a_port_in_use_is_said_plainly_and_is_not_a_usage_error() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let addr = taken.local_addr().expect("its address");
        let e = std::net::TcpListener::bind(addr).expect_err("the same port twice");
        let (message, usage) = bind_failure(&format!("listen on {addr}"), "--listen", &e);
        assert!(!usage);
        assert!(message.contains("the port is in use"), "{message}");
        assert!(message.contains("--listen"), "{message}");
        let e = std::io::Error::from(std::io::ErrorKind::AddrNotAvailable);
        let (message, usage) = bind_failure("listen on 10.9.9.9:8443", "--listen", &e);
        assert!(usage, "{message}");
        assert!(message.contains("not one of this machine's"), "{message}");
        let e = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let (message, usage) = bind_failure("bind UDP port 443", "--udp-port", &e);
        assert!(!usage);
        assert!(message.contains("from 1024 with --udp-port"), "{message}");
    }

    #[test]
    fn only_ipv6_addresses_a_browser_elsewhere_can_reach_are_bound() {
        let reach = |s: &str| reachable_ipv6(&s.parse().expect("an IPv6 address"));
        assert!(reach("2001:db8::7"));
        assert!(reach("fd00::2"), "unique-local");
        assert!(!reach("::1"), "loopback");
        assert!(!reach("::"));
        assert!(!reach("fe80::fc:ff:fe00:1"), "link-local");
        assert!(!reach("febf::1"), "link-local (fe80::/10)");
        assert!(!reach("ff02::1"), "multicast");
    }
}
