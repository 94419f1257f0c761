//! What a signaling connection is told went wrong beside it: an unreadable message, an offer
//! or a game request that got no answer.

use crate::session::SessionError;

/// A message the transport could not read.
#[derive(Debug, thiserror::Error)]
pub enum Unreadable {
    #[error("message too big: signaling messages are at most {max} bytes")]
    TooBig { max: usize },
    #[error("unreadable message: {0}")]
    Protocol(String),
}

/// Why an offer got no answer.
#[derive(Debug)]
pub enum OfferError {
    /// The rtc thread's queue stayed full.
    Busy,
    Session(SessionError),
}

/// Why a game request failed.
#[derive(Debug)]
pub enum GameError {
    Busy,
    Failed(String),
}
