//! The sockets' counters.

use super::reflexive::StunCounters;
use crate::metrics::{Counter, Metrics};

/// Counters of the sockets, registered in [`Metrics`].
#[derive(Debug, Clone, Default)]
pub struct NetCounters {
    pub bytes_in: Counter,
    pub datagrams_dropped: Counter,
    /// The public-address discovery's.
    pub stun: StunCounters,
}

impl NetCounters {
    pub fn register(m: &mut Metrics) -> Self {
        Self {
            bytes_in: m.counter("udp_bytes_in", "UDP bytes received"),
            datagrams_dropped: m
                .counter("udp_datagrams_dropped", "Datagrams dropped on a full queue"),
            stun: StunCounters::register(m),
        }
    }
}
