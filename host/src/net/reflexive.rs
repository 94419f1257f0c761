//! Learning the host's public address from a STUN server, sans-IO: its server-reflexive
//! address (RFC 8445 §5.1.1.1), the address and port a NAT maps the media port to, which the
//! session then announces as a candidate in every answer.
//!
//! The driver tells [`Discovery`] the server (resolved) and the local socket to ask from
//! ([`Discovery::handle_server`]), offers it every datagram of the port first
//! ([`Discovery::handle_datagram`]: `true` when it was a response to us, anything else goes to
//! the session as before), calls [`Discovery::handle_timeout`] when due, and carries out
//! [`Discovery::poll_output`]: datagrams to send, a mapping learned, changed or forgotten, and
//! when to wake. Time is an argument: the tests run minutes in microseconds.
//!
//! - A query is one Binding Request transaction (RFC 8489 §6.2.1): sent at once, then again
//!   after [`INITIAL_RTO`], doubling each time, [`TRANSMISSIONS`] times in all (same
//!   transaction id), and given up [`LAST_WAIT_RTOS`] × `INITIAL_RTO` after the last (0, 0.5,
//!   1.5, 3.5 s; failed at 7.5 s). The RFC's defaults (7 sends, 39.5 s) suit a one-off
//!   client; a host that asks again every minute is better served by knowing sooner.
//! - Queries repeat every [`REFRESH`] after an answer (UDP mappings of NATs last 30 s to a
//!   few minutes without traffic, RFC 4787 REQ-5), [`RETRY`] after a failure. A mapping
//!   outlives a failed query (media keeps it open while pages play); it is forgotten after
//!   [`FORGET_AFTER`] failed queries in a row.
//! - Ours is a Binding response from the server's address with the transaction id of the
//!   query open now. A response with that id from elsewhere (forged, RFC 8489 §16.1), any
//!   other response from the server (a late answer to an older query, a forgery) and one from
//!   the server that cannot be used (malformed, no address) are dropped and counted
//!   (`stun_ignored`); the query goes on. An error response fails the query.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::metrics::{Counter, Metrics};
use crate::session::Reflexive;

use super::stun::{self, ResponseError, TransactionId};

/// The first retransmission timeout (RFC 8489 §6.2.1: at least 500 ms).
pub const INITIAL_RTO: Duration = Duration::from_millis(500);
/// Sends of one request (the RFC's `Rc`).
pub const TRANSMISSIONS: u32 = 4;
/// After the last send, how many initial RTOs to wait for the answer (the RFC's `Rm`).
pub const LAST_WAIT_RTOS: u32 = 8;
/// From an answer to the next query.
pub const REFRESH: Duration = Duration::from_secs(60);
/// From a failed query to the next.
pub const RETRY: Duration = Duration::from_secs(20);
/// Failed queries in a row after which the mapping is forgotten.
pub const FORGET_AFTER: u32 = 3;

/// Where to ask: the STUN server's address and the local address (one of the media port's
/// sockets) the request goes from, whose mapping it learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Server {
    pub addr: SocketAddr,
    pub base: SocketAddr,
}

/// A datagram to send from `source` (a local address of the media port) to `destination`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
}

/// What [`Discovery`] wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Transmit(Transmit),
    /// The public address learned, changed (`Some`), or forgotten (`None`).
    Mapping(Option<Reflexive>),
    /// Nothing more until this instant (`None`: until a server is given).
    Timeout(Option<Instant>),
}

/// The discovery's counters, registered in [`Metrics`].
#[derive(Debug, Clone, Default)]
pub struct StunCounters {
    /// Binding Requests sent, retransmissions included.
    pub requests: Counter,
    /// Queries answered with an address.
    pub answers: Counter,
    /// Queries with no usable answer in time, or an error response; and failed look-ups of
    /// the server's name.
    pub failures: Counter,
    /// Responses dropped: another transaction, another source, malformed.
    pub ignored: Counter,
    /// Times the learned address changed (the first one not counted).
    pub changes: Counter,
}

impl StunCounters {
    pub fn register(m: &mut Metrics) -> Self {
        Self {
            requests: m.counter(
                "stun_requests",
                "STUN Binding Requests sent to learn the public address (retransmissions too)",
            ),
            answers: m.counter(
                "stun_answers",
                "Public-address queries answered by the STUN server",
            ),
            failures: m.counter(
                "stun_failures",
                "Public-address queries unanswered in time or refused, and failed look-ups of the STUN server",
            ),
            ignored: m.counter(
                "stun_ignored",
                "STUN responses dropped: another transaction, another source, or malformed",
            ),
            changes: m.counter(
                "stun_address_changes",
                "Times the public address learned by STUN changed",
            ),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// No server yet.
    Waiting,
    /// The next query at this instant.
    Idle { next: Instant },
    /// A query is open: `sent` sends so far, the next step (resend or give up) at `next`.
    Asking {
        id: TransactionId,
        sent: u32,
        rto: Duration,
        next: Instant,
    },
}

/// The public-address discovery of one media port.
#[derive(Debug)]
pub struct Discovery {
    server: Option<Server>,
    state: State,
    mapping: Option<Reflexive>,
    /// Failed queries since the last answer.
    failures: u32,
    counters: StunCounters,
    outputs: VecDeque<Output>,
}

impl Discovery {
    pub fn new(counters: StunCounters) -> Self {
        Self {
            server: None,
            state: State::Waiting,
            mapping: None,
            failures: 0,
            counters,
            outputs: VecDeque::new(),
        }
    }

    /// The mapping known now.
    pub fn mapping(&self) -> Option<Reflexive> {
        self.mapping
    }

    /// Ask `server` from now on; a query starts at once (an open one to another server is
    /// dropped).
    pub fn handle_server(&mut self, now: Instant, server: Server) {
        if self.server == Some(server) {
            return;
        }
        self.server = Some(server);
        self.start(now);
    }

    /// Time has passed: resends, gives up, or starts the next query when due.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Waiting => {}
            State::Idle { next } if now >= next => self.start(now),
            State::Idle { .. } => {}
            State::Asking { next, .. } if now < next => {}
            State::Asking { id, sent, rto, .. } if sent < TRANSMISSIONS => {
                let rto = rto * 2;
                let wait = if sent + 1 == TRANSMISSIONS {
                    INITIAL_RTO * LAST_WAIT_RTOS
                } else {
                    rto
                };
                self.state = State::Asking {
                    id,
                    sent: sent + 1,
                    rto,
                    next: now + wait,
                };
                self.send(id);
            }
            State::Asking { .. } => self.fail(now, "no answer"),
        }
    }

    /// A datagram from `source` on the media port: `true` when it was for this discovery
    /// (used or dropped), `false` when it belongs to the session.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, data: &[u8]) -> bool {
        let (Some(id), Some(server)) = (stun::response_id(data), self.server) else {
            return false;
        };
        let from_server = source == server.addr;
        let open = match self.state {
            State::Asking { id: open, .. } => Some(open),
            _ => None,
        };
        if open != Some(id) {
            // A peer's ICE response (str0m's transaction) unless it comes from the server.
            if from_server {
                self.ignore(source, "a response to no open query");
            }
            return from_server;
        }
        if !from_server {
            self.ignore(source, "our transaction id from another address");
            return true;
        }
        match stun::parse_binding_response(data, id) {
            Ok(mapped) if mapped.is_ipv4() == server.base.is_ipv4() => self.learn(
                now,
                Reflexive {
                    base: server.base,
                    mapped,
                },
            ),
            Ok(_) => self.ignore(source, "an address of the other family"),
            Err(ResponseError::ErrorResponse { code }) => {
                self.fail(now, &format!("the server answered error {code}"))
            }
            Err(e) => self.ignore(source, &e.to_string()),
        }
        true
    }

    /// The next thing to do; [`Output::Timeout`] when there is nothing until then.
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.outputs.pop_front() {
            return o;
        }
        Output::Timeout(match self.state {
            State::Waiting => None,
            State::Idle { next } | State::Asking { next, .. } => Some(next),
        })
    }

    fn start(&mut self, now: Instant) {
        let id = match TransactionId::random() {
            Ok(id) => id,
            Err(e) => return self.fail(now, &format!("no random transaction id: {e}")),
        };
        self.state = State::Asking {
            id,
            sent: 1,
            rto: INITIAL_RTO,
            next: now + INITIAL_RTO,
        };
        self.send(id);
    }

    fn send(&mut self, id: TransactionId) {
        let Some(server) = self.server else { return };
        self.counters.requests.inc();
        self.outputs.push_back(Output::Transmit(Transmit {
            source: server.base,
            destination: server.addr,
            contents: stun::binding_request(id),
        }));
    }

    fn learn(&mut self, now: Instant, learned: Reflexive) {
        self.counters.answers.inc();
        self.failures = 0;
        self.state = State::Idle {
            next: now + REFRESH,
        };
        if self.mapping == Some(learned) {
            return;
        }
        match self.mapping {
            Some(old) => {
                self.counters.changes.inc();
                tracing::info!(from = %old.mapped, to = %learned.mapped, "the public address changed (STUN)");
            }
            None => tracing::info!(
                public = %learned.mapped,
                local = %learned.base,
                "public address learned by STUN"
            ),
        }
        self.mapping = Some(learned);
        self.outputs.push_back(Output::Mapping(Some(learned)));
    }

    fn fail(&mut self, now: Instant, why: &str) {
        self.counters.failures.inc();
        self.failures += 1;
        self.state = State::Idle { next: now + RETRY };
        let server = self.server.map(|s| s.addr);
        if self.failures == 1 {
            tracing::warn!(
                ?server,
                why,
                "the STUN server did not tell the public address; asking again later"
            );
        } else {
            tracing::debug!(?server, why, failures = self.failures, "STUN query failed");
        }
        if self.failures >= FORGET_AFTER && self.mapping.take().is_some() {
            tracing::warn!(failures = self.failures, "the public address is forgotten");
            self.outputs.push_back(Output::Mapping(None));
        }
    }

    fn ignore(&mut self, source: SocketAddr, why: &str) {
        self.counters.ignored.inc();
        tracing::debug!(%source, why, "STUN response ignored");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::stun::testing::{error, success};

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("address")
    }

    const BASE: &str = "10.0.0.2:5000";
    const STUN: &str = "198.51.100.1:3478";

    /// Everything `d` wants done now: what it sends, the mappings it tells, when it wakes.
    struct Step {
        sent: Vec<Transmit>,
        mappings: Vec<Option<Reflexive>>,
        wake: Option<Instant>,
    }

    fn drain(d: &mut Discovery) -> Step {
        let mut step = Step {
            sent: Vec::new(),
            mappings: Vec::new(),
            wake: None,
        };
        loop {
            match d.poll_output() {
                Output::Transmit(t) => step.sent.push(t),
                Output::Mapping(m) => step.mappings.push(m),
                Output::Timeout(t) => {
                    step.wake = t;
                    return step;
                }
            }
        }
    }

    fn id_of(t: &Transmit) -> TransactionId {
        let mut id = [0u8; 12];
        id.copy_from_slice(&t.contents[8..20]);
        TransactionId(id)
    }

    fn started() -> (Discovery, StunCounters, Instant, Transmit) {
        let counters = StunCounters::default();
        let mut d = Discovery::new(counters.clone());
        let t0 = Instant::now();
        d.handle_server(
            t0,
            Server {
                addr: addr(STUN),
                base: addr(BASE),
            },
        );
        let mut step = drain(&mut d);
        assert_eq!(step.sent.len(), 1);
        (d, counters, t0, step.sent.remove(0))
    }

    /// Runs `d` on virtual time until `until`, answering nothing: every send's instant.
    fn run_silent(d: &mut Discovery, mut now: Instant, until: Instant) -> Vec<(Instant, Transmit)> {
        let mut sends = Vec::new();
        loop {
            let step = drain(d);
            sends.extend(step.sent.into_iter().map(|t| (now, t)));
            match step.wake {
                Some(t) if t <= until => now = t,
                _ => return sends,
            }
            d.handle_timeout(now);
        }
    }

    #[test]
    fn a_query_learns_the_mapped_address_and_its_port() {
        let (mut d, counters, t0, req) = started();
        assert_eq!(req.source, addr(BASE), "asked from the media socket");
        assert_eq!(req.destination, addr(STUN));
        assert_eq!(&req.contents[..2], &[0, 1], "a Binding Request");
        let mapped = addr("203.0.113.9:10777");
        let at = t0 + Duration::from_millis(30);
        assert!(d.handle_datagram(at, addr(STUN), &success(id_of(&req), mapped)));
        let step = drain(&mut d);
        let learned = Reflexive {
            base: addr(BASE),
            mapped,
        };
        assert_eq!(step.mappings, vec![Some(learned)]);
        assert_eq!(d.mapping(), Some(learned));
        assert_eq!(step.wake, Some(at + REFRESH), "asked again in a minute");
        assert_eq!((counters.requests.get(), counters.answers.get()), (1, 1));
        assert_eq!(counters.failures.get() + counters.ignored.get(), 0);
    }

    #[test]
    fn an_unanswered_request_is_resent_with_a_doubling_timeout_then_the_query_fails() {
        let (mut d, counters, t0, first) = started();
        let sends = run_silent(&mut d, t0, t0 + Duration::from_millis(7499));
        let at: Vec<u128> = sends.iter().map(|(t, _)| (*t - t0).as_millis()).collect();
        assert_eq!(at, [500, 1500, 3500], "resent after 0.5, 1 and 2 s");
        assert!(
            sends.iter().all(|(_, t)| *t == first),
            "the same transaction"
        );
        assert_eq!(counters.failures.get(), 0);
        // Given up 4 s after the last send; the next query 20 s later, with a new id.
        let sends = run_silent(
            &mut d,
            t0 + Duration::from_millis(3500),
            t0 + Duration::from_millis(27_600),
        );
        assert_eq!(counters.failures.get(), 1);
        assert_eq!(sends.len(), 1);
        assert_eq!((sends[0].0 - t0).as_millis(), 7500 + 20_000);
        assert_ne!(id_of(&sends[0].1), id_of(&first));
        assert_eq!(counters.requests.get(), 5);
        assert_eq!(d.mapping(), None);
    }

    #[test]
    fn every_minute_the_mapping_is_asked_again_and_a_change_is_told_once() {
        let (mut d, counters, t0, req) = started();
        let first = addr("203.0.113.9:10777");
        assert!(d.handle_datagram(t0, addr(STUN), &success(id_of(&req), first)));
        drain(&mut d);
        let t1 = t0 + REFRESH;
        d.handle_timeout(t1);
        let step = drain(&mut d);
        assert_eq!(step.sent.len(), 1, "a new query after a minute");
        let again = id_of(&step.sent[0]);
        assert_ne!(again, id_of(&req));
        // The same answer: nothing to tell.
        assert!(d.handle_datagram(t1, addr(STUN), &success(again, first)));
        assert!(drain(&mut d).mappings.is_empty());
        // The NAT mapped the port anew: told once, counted.
        let t2 = t1 + REFRESH;
        d.handle_timeout(t2);
        let step = drain(&mut d);
        let moved = addr("203.0.113.9:10901");
        assert!(d.handle_datagram(t2, addr(STUN), &success(id_of(&step.sent[0]), moved)));
        let step = drain(&mut d);
        assert_eq!(step.mappings.len(), 1);
        assert_eq!(step.mappings[0].map(|m| m.mapped), Some(moved));
        assert_eq!((counters.answers.get(), counters.changes.get()), (3, 1));
    }

    #[test]
    fn bad_and_forged_responses_are_dropped_and_counted_and_the_query_goes_on() {
        let (mut d, counters, t0, req) = started();
        let id = id_of(&req);
        let mapped = addr("203.0.113.9:10777");
        let stranger = addr("192.0.2.66:3478");
        // Another transaction, from the server: stale or forged, ours to drop.
        assert!(d.handle_datagram(t0, addr(STUN), &success(TransactionId([1; 12]), mapped)));
        // Our id from another address: forged.
        assert!(d.handle_datagram(t0, stranger, &success(id, addr("192.0.2.66:1"))));
        // From the server with our id, but broken (the fingerprint does not match).
        let mut broken = success(id, mapped);
        let last = broken.len() - 1;
        broken[last] ^= 0xff;
        assert!(d.handle_datagram(t0, addr(STUN), &broken));
        // A mapped address of the other family than the socket asked from.
        assert!(d.handle_datagram(t0, addr(STUN), &success(id, addr("[2001:db8::1]:7"))));
        assert_eq!(counters.ignored.get(), 4);
        // A peer's ICE response (another id, another address) and media are the session's.
        assert!(!d.handle_datagram(t0, stranger, &success(TransactionId([2; 12]), mapped)));
        assert!(!d.handle_datagram(t0, addr(STUN), &[0x80, 0x60, 0, 1, 0, 0, 0, 0]));
        assert!(!d.handle_datagram(t0, addr(STUN), &[]));
        assert_eq!(counters.ignored.get(), 4);
        assert!(drain(&mut d).mappings.is_empty());
        // The real answer still counts.
        assert!(d.handle_datagram(t0, addr(STUN), &success(id, mapped)));
        assert_eq!(drain(&mut d).mappings.len(), 1);
        assert_eq!(counters.failures.get(), 0);
    }

    #[test]
    fn a_late_answer_to_a_query_given_up_is_not_taken() {
        let (mut d, counters, t0, req) = started();
        run_silent(&mut d, t0, t0 + Duration::from_millis(7500));
        assert_eq!(counters.failures.get(), 1);
        let late = t0 + Duration::from_secs(8);
        assert!(d.handle_datagram(
            late,
            addr(STUN),
            &success(id_of(&req), addr("203.0.113.9:1"))
        ));
        assert_eq!(counters.ignored.get(), 1);
        assert_eq!(d.mapping(), None);
    }

    #[test]
    fn an_error_response_fails_the_query_at_once() {
        let (mut d, counters, t0, req) = started();
        assert!(d.handle_datagram(t0, addr(STUN), &error(id_of(&req), 400)));
        let step = drain(&mut d);
        assert_eq!(counters.failures.get(), 1);
        assert_eq!(step.wake, Some(t0 + RETRY));
        assert!(step.sent.is_empty());
    }

    #[test]
    fn a_mapping_outlives_failed_queries_until_the_third() {
        let (mut d, counters, t0, req) = started();
        let mapped = addr("203.0.113.9:10777");
        assert!(d.handle_datagram(t0, addr(STUN), &success(id_of(&req), mapped)));
        drain(&mut d);
        let mut now = t0 + REFRESH;
        let mut told = Vec::new();
        for failed in 1..=FORGET_AFTER {
            d.handle_timeout(now);
            let step = drain(&mut d);
            let q = id_of(&step.sent[0]);
            assert!(d.handle_datagram(now, addr(STUN), &error(q, 500)));
            told.extend(drain(&mut d).mappings);
            assert_eq!(counters.failures.get(), u64::from(failed));
            now += RETRY;
            if failed < FORGET_AFTER {
                assert!(d.mapping().is_some(), "kept after {failed} failures");
            }
        }
        assert_eq!(told, vec![None], "forgotten once, after {FORGET_AFTER}");
        assert_eq!(d.mapping(), None);
    }

    #[test]
    fn without_a_server_nothing_is_sent_and_nothing_is_taken() {
        let counters = StunCounters::default();
        let mut d = Discovery::new(counters.clone());
        let now = Instant::now();
        d.handle_timeout(now + Duration::from_secs(3600));
        let step = drain(&mut d);
        assert!(step.sent.is_empty());
        assert_eq!(step.wake, None);
        let resp = success(TransactionId([3; 12]), addr("203.0.113.9:1"));
        assert!(!d.handle_datagram(now, addr(STUN), &resp));
        assert_eq!(counters.requests.get() + counters.ignored.get(), 0);
    }
}
