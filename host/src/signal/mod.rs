//! Signaling, sans-IO: one page's signaling connection as a state machine. Messages from the
//! page go in (`handle_*`), [`Action`]s come out; the WebSocket transport (`crate::http::ws`)
//! carries them out and feeds the results back. No socket, task or clock here.
//!
//! The first message must be `hello` (with the password when one is set); nothing else is
//! taken before it. Malformed or unexpected messages get an `error` back, are counted, and
//! change nothing else. Formats: `crate::proto::signaling`.

use crate::metrics::{Counter, Metrics};
use crate::peer::PeerId;
use crate::proto::signaling::{ClientMsg, ErrorCode, ServerMsg};
use crate::session::SessionError;

/// WebSocket close code for a refused password (4000-4999: private use, RFC 6455 §7.4.2).
pub const CLOSE_UNAUTHORIZED: u16 = 4001;
/// WebSocket close code "going away" (RFC 6455 §7.4.1): the session ended or the host stops.
pub const CLOSE_GOING_AWAY: u16 = 1001;

/// What every connection is checked against; fixed for the life of the process.
#[derive(Debug, Clone, Default)]
pub struct SignalConfig {
    pub password: Option<String>,
    /// Whether a sound source is running.
    pub audio: bool,
    /// Whether the page should scale the picture with nearest-neighbour.
    pub pixelated: bool,
    /// Whether the source is a game that can save and load its state.
    pub game: bool,
}

/// Counters of signaling, registered in [`Metrics`].
#[derive(Debug, Clone, Default)]
pub struct SignalCounters {
    /// Malformed or unexpected messages.
    pub bad_messages: Counter,
    /// Sockets refused for a wrong or missing password.
    pub refused: Counter,
}

impl SignalCounters {
    pub fn register(m: &mut Metrics) -> Self {
        Self {
            bad_messages: m.counter("signaling_bad_messages", "Malformed signaling messages"),
            refused: m.counter(
                "signaling_refused",
                "Signaling sockets refused for a wrong password",
            ),
        }
    }
}

/// A game's state request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GameRequest {
    Save,
    Load,
}

/// What the transport must do.
#[derive(Debug, PartialEq)]
pub enum Action {
    Send(ServerMsg),
    /// Close the socket with this code and reason; nothing more is read.
    Close(u16, &'static str),
    /// Offer `sdp` for this connection's peer; feed the result to
    /// [`Connection::handle_offer_result`].
    Offer(PeerId, String),
    Candidate(PeerId, String),
    /// The peer goes (a second offer replaces it, or the socket closed).
    Leave(PeerId),
    /// Feed the result to [`Connection::handle_game_result`].
    Game(GameRequest),
    /// Report a frame lead (ms); an `Err` goes to [`Connection::handle_bad`].
    FramePhase(f64),
}

/// Why the session stops, as pages are told.
#[derive(Debug, Clone, PartialEq)]
pub enum Shutdown {
    /// For good: the page must not reconnect.
    Ended(String),
    /// The host is stopping on purpose; a page may come back later.
    Draining(String),
}

/// One page's signaling connection.
#[derive(Debug)]
pub struct Connection {
    peer: PeerId,
    authed: bool,
    offered: bool,
    closed: bool,
}

impl Connection {
    /// A connection whose page will be peer `peer` (one id for the life of the socket: the
    /// `welcome`, every offer on it, and `/api/stats` use it).
    pub fn new(peer: PeerId) -> Self {
        Self {
            peer,
            authed: false,
            offered: false,
            closed: false,
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// A text message from the page.
    pub fn handle_text(
        &mut self,
        config: &SignalConfig,
        counters: &SignalCounters,
        text: &str,
        out: &mut Vec<Action>,
    ) {
        if self.closed {
            return;
        }
        let msg = match ClientMsg::parse(text) {
            Ok(m) => m,
            Err(e) => return self.handle_bad(counters, format!("malformed message: {e}"), out),
        };
        if !self.authed && !matches!(msg, ClientMsg::Hello { .. }) {
            counters.bad_messages.inc();
            return out.push(Action::Send(ServerMsg::Error {
                code: ErrorCode::Unauthorized,
                message: "say hello first".into(),
            }));
        }
        match msg {
            ClientMsg::Hello { password } => self.handle_hello(config, counters, password, out),
            ClientMsg::Offer { sdp } => {
                // A second offer on the same socket replaces the previous peer connection.
                if std::mem::replace(&mut self.offered, true) {
                    out.push(Action::Leave(self.peer));
                }
                out.push(Action::Offer(self.peer, sdp));
            }
            ClientMsg::Candidate { candidate, .. } => {
                if self.offered {
                    out.push(Action::Candidate(self.peer, candidate));
                } else {
                    self.handle_bad(counters, "a candidate before the offer".into(), out);
                }
            }
            ClientMsg::SaveState | ClientMsg::LoadState => {
                if !config.game {
                    return out.push(Action::Send(ServerMsg::Error {
                        code: ErrorCode::NotAGame,
                        message: "this host is not running a game".into(),
                    }));
                }
                let save = matches!(msg, ClientMsg::SaveState);
                out.push(Action::Game(if save {
                    GameRequest::Save
                } else {
                    GameRequest::Load
                }));
            }
            ClientMsg::FramePhase { lead_ms } => out.push(Action::FramePhase(lead_ms)),
        }
    }

    /// A binary message: not part of signaling.
    pub fn handle_binary(&mut self, counters: &SignalCounters, out: &mut Vec<Action>) {
        if self.closed {
            return;
        }
        self.handle_bad(
            counters,
            "binary messages are not part of signaling".into(),
            out,
        );
    }

    fn handle_hello(
        &mut self,
        config: &SignalConfig,
        counters: &SignalCounters,
        password: Option<String>,
        out: &mut Vec<Action>,
    ) {
        let ok = match (&config.password, &password) {
            (None, _) => true,
            (Some(want), Some(got)) => constant_time_eq(want.as_bytes(), got.as_bytes()),
            (Some(_), None) => false,
        };
        if !ok {
            counters.refused.inc();
            out.push(Action::Send(ServerMsg::Error {
                code: ErrorCode::Unauthorized,
                message: "wrong or missing password".into(),
            }));
            out.push(Action::Close(CLOSE_UNAUTHORIZED, "unauthorized"));
            self.closed = true;
            return;
        }
        self.authed = true;
        out.push(Action::Send(ServerMsg::Welcome {
            peer: self.peer.0,
            audio: config.audio,
            pixelated: config.pixelated,
            game: config.game,
        }));
    }

    /// The session's answer to an offer, or why not.
    pub fn handle_offer_result(
        &mut self,
        counters: &SignalCounters,
        result: Result<String, OfferError>,
        out: &mut Vec<Action>,
    ) {
        let msg = match result {
            Ok(sdp) => ServerMsg::Answer { sdp },
            Err(OfferError::Busy) => ServerMsg::Error {
                code: ErrorCode::Busy,
                message: "host busy, try again".into(),
            },
            Err(OfferError::Session(SessionError::Draining)) => ServerMsg::Draining {
                message: SessionError::Draining.to_string(),
            },
            Err(OfferError::Session(e)) => {
                counters.bad_messages.inc();
                ServerMsg::Error {
                    code: ErrorCode::OfferRejected,
                    message: e.to_string(),
                }
            }
        };
        out.push(Action::Send(msg));
    }

    /// A game's answer to a save or load request: a message for the page either way.
    pub fn handle_game_result(&mut self, result: Result<String, GameError>, out: &mut Vec<Action>) {
        out.push(Action::Send(match result {
            Ok(message) => ServerMsg::Info { message },
            Err(GameError::Busy) => ServerMsg::Error {
                code: ErrorCode::Busy,
                message: "the game is busy, try again".into(),
            },
            Err(GameError::Failed(message)) => ServerMsg::Error {
                code: ErrorCode::State,
                message,
            },
        }));
    }

    /// Counts a message the host cannot take and tells the page why.
    pub fn handle_bad(
        &mut self,
        counters: &SignalCounters,
        message: String,
        out: &mut Vec<Action>,
    ) {
        counters.bad_messages.inc();
        out.push(Action::Send(ServerMsg::Error {
            code: ErrorCode::BadMessage,
            message,
        }));
    }

    /// The session stops: the page is told why, and the socket closes.
    pub fn handle_shutdown(&mut self, why: &Shutdown, out: &mut Vec<Action>) {
        if self.closed {
            return;
        }
        out.push(Action::Send(match why {
            Shutdown::Ended(message) => ServerMsg::Ended {
                message: message.clone(),
            },
            Shutdown::Draining(message) => ServerMsg::Draining {
                message: message.clone(),
            },
        }));
        out.push(Action::Close(CLOSE_GOING_AWAY, "session ended"));
        self.closed = true;
    }

    /// The socket closed: the peer goes at once rather than when its ICE times out.
    pub fn handle_closed(&mut self, out: &mut Vec<Action>) {
        self.closed = true;
        if std::mem::take(&mut self.offered) {
            out.push(Action::Leave(self.peer));
        }
    }
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

/// Compares two secrets in time that depends on their length only.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
