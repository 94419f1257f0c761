//! Signaling's counters, as `/metrics` and `/api/stats` show them.

use crate::metrics::{Counter, Metrics};

/// Counters of signaling, registered in [`Metrics`].
#[derive(Debug, Clone, Default)]
pub struct SignalCounters {
    /// Malformed or unexpected messages.
    pub bad_messages: Counter,
    /// Sockets refused for a wrong or missing password.
    pub refused: Counter,
    /// Sockets closed for saying no `hello` in time.
    pub hello_timeouts: Counter,
    /// Sockets let in and closed for having no picture in time ([`super::CONNECT_TIMEOUT`]).
    pub connect_timeouts: Counter,
    /// Sockets refused because their address had too many open.
    pub too_many_sockets: Counter,
    /// Sockets that went without a closing handshake (a lost network, a killed tab): no bad
    /// input, but worth watching.
    pub dropped: Counter,
    /// Pages refused at `hello` because every seat (`--max-peers`) was taken.
    pub full: Counter,
    /// Offers told `busy`: more from one page than the session takes in a while
    /// (`crate::session::SessionError::TooManyOffers`).
    pub offers_busy: Counter,
}

impl SignalCounters {
    pub fn register(m: &mut Metrics) -> Self {
        Self {
            bad_messages: m.counter("signaling_bad_messages", "Malformed signaling messages"),
            refused: m.counter(
                "signaling_refused",
                "Signaling sockets refused for a wrong password",
            ),
            hello_timeouts: m.counter(
                "signaling_hello_timeouts",
                "Signaling sockets closed for saying no hello in time",
            ),
            connect_timeouts: m.counter(
                "signaling_connect_timeouts",
                "Signaling sockets let in and closed for having no picture in time",
            ),
            too_many_sockets: m.counter(
                "signaling_too_many_sockets",
                "Signaling sockets refused because their address had too many open",
            ),
            dropped: m.counter(
                "signaling_dropped",
                "Signaling sockets that went without a closing handshake",
            ),
            full: m.counter(
                "signaling_full",
                "Pages refused at hello because the session had --max-peers pages",
            ),
            offers_busy: m.counter(
                "signaling_offers_busy",
                "Offers told busy: more from one page than the session takes in 10 s",
            ),
        }
    }
}
