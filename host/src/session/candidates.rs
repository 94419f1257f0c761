//! The host's own ICE candidates (RFC 8445 §5.1.1): a host candidate for each local address
//! of the media port and, beside it, a server-reflexive one where the host is known to be
//! behind a NAT (`--public-ip`, or the mapping a STUN server told, `net/reflexive.rs`).
//!
//! The mapping a STUN server tells can change while pages are connected (a NAT reboots, an
//! ISP hands out a new address). A connected page keeps the path it has while that works; when
//! it no longer does, the page restarts ICE, and the answer to that restart announces the
//! mapping as it is then ([`refresh`]): the candidate of the old mapping is withdrawn and the
//! new one added, so the page's checks find the host at its new address.

use std::net::SocketAddr;

use str0m::{Candidate, Rtc};

use super::SessionConfig;

/// The host's public address as a NAT maps it: the address and port a server-reflexive
/// candidate announces for the local address `base` (RFC 8445 §5.1.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reflexive {
    /// One of the media port's local addresses.
    pub base: SocketAddr,
    /// What the NAT maps it to, as a STUN server saw it (XOR-MAPPED-ADDRESS).
    pub mapped: SocketAddr,
}

/// The server-reflexive address announced beside the host candidate `local`: `--public-ip`
/// with the same port for every address of its family but loopback, else the one learned by
/// STUN for its base, unless it is the local address itself (no NAT: redundant, RFC 8445
/// §5.1.3).
fn public_address(config: &SessionConfig, local: SocketAddr) -> Option<SocketAddr> {
    match (config.public_ip, config.reflexive) {
        (Some(ip), _) => (!local.ip().is_loopback() && local.is_ipv4() == ip.is_ipv4())
            .then(|| SocketAddr::new(ip, local.port())),
        (None, Some(r)) => (r.base == local && r.mapped != local).then_some(r.mapped),
        (None, None) => None,
    }
}

/// The server-reflexive candidates `config` calls for, one per local address that has a
/// public address.
pub(super) fn reflexive(config: &SessionConfig) -> Vec<Candidate> {
    config
        .locals
        .iter()
        .filter_map(|&local| {
            let addr = public_address(config, local)?;
            Candidate::server_reflexive(addr, local, "udp").ok()
        })
        .collect()
}

/// Adds the host candidates and the server-reflexive ones of `config` to a new `rtc`.
/// Returns the server-reflexive ones: what the peer's [`refresh`] starts from.
pub(super) fn add(config: &SessionConfig, rtc: &mut Rtc) -> Vec<Candidate> {
    for local in &config.locals {
        if let Ok(c) = Candidate::host(*local, "udp") {
            rtc.add_local_candidate(c);
        }
    }
    let announced = reflexive(config);
    for c in &announced {
        rtc.add_local_candidate(c.clone());
    }
    announced
}

/// Before answering an ICE restart on `rtc`: the server-reflexive candidates announced
/// (`announced`, which this updates) become those `config` calls for now. One no longer
/// called for is invalidated (str0m drops its pairs and leaves it out of the answer), a new
/// one added. Returns whether anything changed.
pub(super) fn refresh(
    config: &SessionConfig,
    rtc: &mut Rtc,
    announced: &mut Vec<Candidate>,
) -> bool {
    let want = reflexive(config);
    let mut changed = false;
    for old in announced.iter().filter(|c| !want.contains(c)) {
        changed |= rtc.direct_api().invalidate_candidate(old);
    }
    for new in want.iter().filter(|c| !announced.contains(c)) {
        changed |= rtc.add_local_candidate(new.clone()).is_some();
    }
    *announced = want;
    changed
}
