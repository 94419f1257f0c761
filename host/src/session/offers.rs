//! Offers from a page, sans-IO: each one replaces its peer or restarts its ICE, and a peer
//! that joins or changes costs its tier a keyframe, which every viewer of that tier gets. A
//! page flooding offers (thousands a second, a fresh-user pass found) made the others' picture
//! stutter; at most [`OFFERS_PER_WINDOW`] in [`OFFER_WINDOW`] are taken from one peer, more
//! than a page ever makes (its first offer, one restart when the host's ICE servers come, one
//! for each loss of its path, a new connection when a restart fails).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{negotiate, Session, SessionError};
use crate::peer::PeerId;
use crate::window::SlidingWindow;
use str0m::Input;

/// The most offers taken from one peer in any [`OFFER_WINDOW`].
pub(crate) const OFFERS_PER_WINDOW: usize = 8;
/// See [`OFFERS_PER_WINDOW`].
pub(crate) const OFFER_WINDOW: Duration = Duration::from_secs(10);

/// Each peer's offers of the last [`OFFER_WINDOW`] (peers that made none are forgotten).
#[derive(Debug, Default)]
pub(super) struct OfferLimit {
    recent: HashMap<PeerId, SlidingWindow>,
}

impl OfferLimit {
    /// Counts an offer from peer `id` at `now`, or refuses it (uncounted) when that peer made
    /// [`OFFERS_PER_WINDOW`] in the last [`OFFER_WINDOW`].
    pub(super) fn admit(&mut self, now: Instant, id: PeerId) -> Result<(), SessionError> {
        self.recent.retain(|_, w| !w.is_idle(now));
        let w = self
            .recent
            .entry(id)
            .or_insert_with(|| SlidingWindow::new(OFFERS_PER_WINDOW, OFFER_WINDOW));
        if w.wait(now).is_some() {
            return Err(SessionError::TooManyOffers(
                OFFERS_PER_WINDOW,
                OFFER_WINDOW.as_secs(),
            ));
        }
        w.record(now);
        Ok(())
    }
}

impl Session {
    /// A new offer on peer `i`'s connection (see [`Session::handle_offer`]).
    pub(super) fn handle_reoffer(
        &mut self,
        now: Instant,
        i: usize,
        offered: &negotiate::Shape,
        sdp: &str,
    ) -> Result<String, SessionError> {
        let p = &mut self.peers[i];
        let answer = p.reanswer(&self.config, offered, sdp);
        match &answer {
            Ok(_) => {
                p.restarted();
                self.counters.ice_restarts.inc();
                tracing::info!(peer = %p.id, "ICE restarted by the page");
            }
            Err(e) => tracing::info!(peer = %p.id, error = %e, "re-offer refused"),
        }
        self.drive(i, now, Input::Timeout(now));
        answer
    }
}
