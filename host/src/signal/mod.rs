//! Signaling, sans-IO: one page's signaling connection as a state machine. Messages from the
//! page go in (`handle_*`), [`Action`]s come out; the WebSocket transport (`crate::http::ws`)
//! carries them out and feeds the results back. No socket, task or clock here.
//!
//! The first message must be `hello` (with the password when one is set); nothing else is
//! taken before it. Malformed or unexpected messages get an `error` back, are counted, and
//! change nothing else. Formats: `crate::proto::signaling`.

use crate::config::KeyboardLayout;
use crate::input::roles::{self, Admission, Request};
use crate::peer::PeerId;
use crate::proto::signaling::{ClientMsg, EndedWhy, ErrorCode, ServerMsg};
use crate::session::{SessionError, MIN_VIDEO_KBPS};

mod admit;
mod config;
mod counters;
mod errors;
mod limits;
mod password;
pub mod throttle;

pub use admit::Admitted;
pub use config::SignalConfig;
pub use counters::SignalCounters;
pub use errors::{GameError, OfferError, Unreadable};
pub use password::{generate_password, owner_password, PasswordError};
use throttle::Verdict;

/// WebSocket close code for a refused password (4000-4999: private use, RFC 6455 §7.4.2).
pub const CLOSE_UNAUTHORIZED: u16 = 4001;
/// WebSocket close code when a client must wait before its next password check.
pub const CLOSE_TOO_MANY_ATTEMPTS: u16 = 4029;
/// WebSocket close code for a socket that said no `hello` in time (or got no picture after
/// it), or one too many.
pub const CLOSE_POLICY: u16 = 1008;
/// A socket that has not said `hello` within this time is closed.
pub const HELLO_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// A page let in must have its picture within this time (its first `screen` notice, which
/// goes out before its first frame), or its socket closes and its seat frees: a socket that
/// never offers, whose offer is refused, or whose connection never comes up holds no seat.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// A socket that sent this many malformed or unexpected messages is closed (1008): a page
/// never sends one, so these are a broken or hostile client's.
pub const MAX_BAD_MESSAGES: u32 = 32;
/// WebSocket close code for a message too big to take (RFC 6455 §7.4.1).
pub const CLOSE_TOO_BIG: u16 = 1009;
/// WebSocket close code for a frame that breaks the protocol (RFC 6455 §7.4.1).
pub const CLOSE_PROTOCOL: u16 = 1002;
/// WebSocket close code "try again later" (IANA's WebSocket close code registry): the session
/// is full.
pub const CLOSE_TRY_AGAIN_LATER: u16 = 1013;
/// WebSocket close code "going away" (RFC 6455 §7.4.1): the session ended or the host stops.
pub const CLOSE_GOING_AWAY: u16 = 1001;

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
    /// Check this password (from `hello`) with [`throttle::Throttle`]; feed the verdict to
    /// [`Connection::handle_verdict`].
    Authenticate(Option<String>),
    /// Close the socket with this code and reason; nothing more is read.
    Close(u16, &'static str),
    /// Offer `sdp` for this connection's peer, with the page's measure of its link (kbit/s,
    /// if it sent one); feed the result to [`Connection::handle_offer_result`].
    Offer(PeerId, String, Option<u32>),
    Candidate(PeerId, String),
    /// The peer goes (the socket closed, or the page was removed).
    Leave(PeerId),
    /// Feed the result to [`Connection::handle_game_result`].
    Game(GameRequest),
    /// Report a frame lead (ms); an `Err` goes to [`Connection::handle_bad`].
    FramePhase(f64),
    /// The page's own cap on its peer's video rate, kbit/s (`None`: the configured rate).
    MaxBitrate(PeerId, Option<u32>),
    /// The page's keyboard layout, for the host's display to follow.
    KeyboardLayout(KeyboardLayout),
    /// The page joins the room (who may drive), before its `welcome` goes out; `rejoin` is
    /// the rejoin token its `hello` gave back (32 hex digits).
    Join {
        admission: Admission,
        name: Option<String>,
        rejoin: Option<String>,
    },
    /// A request to the room.
    Room(Request),
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
    /// `hello` came (its password may still be being checked).
    hello: bool,
    authed: bool,
    offered: bool,
    closed: bool,
    /// The name from `hello`, until the page joins.
    name: Option<String>,
    /// The room's last member list made this page an owner or gave it control (a game's
    /// state is then its to save and load, and its place is held when its socket closes).
    manages: bool,
    /// The page's seat in the session, from its accepted `hello` on.
    seat: Option<throttle::Seat>,
    /// From `hello`: the device token ([`throttle::Throttle::client`]), the page's place in
    /// line for a seat, the rejoin token (until the page joins).
    device: Option<String>,
    ticket: Option<u64>,
    rejoin: Option<String>,
    /// The rejoin token the page was given when it joined (for its next socket).
    token: Option<String>,
    /// The page's picture started (a `screen` notice went out: [`CONNECT_TIMEOUT`]).
    pictured: bool,
    /// Malformed or unexpected messages so far ([`MAX_BAD_MESSAGES`]).
    bad: u32,
}

impl Connection {
    /// A connection whose page will be peer `peer` (one id for the life of the socket: the
    /// `welcome`, every offer on it, and `/api/stats` use it).
    pub fn new(peer: PeerId) -> Self {
        Self {
            peer,
            hello: false,
            authed: false,
            offered: false,
            closed: false,
            name: None,
            manages: false,
            seat: None,
            device: None,
            ticket: None,
            rejoin: None,
            token: None,
            pictured: false,
            bad: 0,
        }
    }

    /// The device token the page gave in `hello`, if any.
    pub fn device(&self) -> Option<&str> {
        self.device.as_deref()
    }

    /// The page's place in line for a seat, from its `hello` (see [`throttle::Seats`]).
    pub fn ticket(&self) -> Option<u64> {
        self.ticket
    }

    /// The rejoin token the page's `hello` gave back, until it joins.
    pub fn rejoin(&self) -> Option<&str> {
        self.rejoin.as_deref()
    }
    /// The page joined and was given `token` (32 hex digits) for its next socket.
    pub fn given_token(&mut self, token: String) {
        self.token = Some(token);
    }
    /// The seat and rejoin token of an owner's or a member in control's page, to keep the
    /// seat for it when its socket closes ([`throttle::Seats::keep`]), as the room holds its
    /// place, once its picture had started; `None` for any other (its seat frees at once:
    /// nothing would show it kept, and sockets that only said `hello` filled every seat).
    pub fn into_seat(self) -> Option<(throttle::Seat, String)> {
        let held = self.manages && self.pictured;
        self.seat.zip(self.token).filter(|_| held)
    }

    /// A message for the page from another part of the host, on its way out: the member list
    /// tells this connection the page's role and whether it has control; the screen's size,
    /// that its picture started.
    pub fn handle_notice(&mut self, notice: &ServerMsg) {
        self.pictured |= matches!(notice, ServerMsg::Screen { .. });
        if let ServerMsg::Members { members, .. } = notice {
            self.manages = members
                .iter()
                .find(|m| m.peer == self.peer.0)
                .is_some_and(|m| m.control || m.role == crate::input::roles::Role::Owner);
        }
    }

    /// Whether the page's picture started (the host sent it the screen's size).
    pub fn pictured(&self) -> bool {
        self.pictured
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The peer id of this connection's page.
    pub fn peer(&self) -> PeerId {
        self.peer
    }

    /// Whether the page got in (and so joined the room).
    pub fn is_authed(&self) -> bool {
        self.authed
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
        if let ClientMsg::Hello {
            password,
            name,
            device,
            ticket,
            rejoin,
        } = msg
        {
            if std::mem::replace(&mut self.hello, true) {
                return self.handle_bad(counters, "hello was already said".into(), out);
            }
            if rejoin.as_deref().is_some_and(|t| !crate::peer::is_token(t)) {
                self.hello = false;
                return self.handle_bad(counters, "a rejoin token is 32 hex digits".into(), out);
            }
            if name
                .as_deref()
                .is_some_and(|n| roles::clean_name(n).is_none())
            {
                // Not a reason to refuse the page: it joins as a guest, and is told why.
                counters.bad_messages.inc();
                let why = format!("{}: you join as a guest", roles::Refusal::BadName);
                out.push(Action::Send(ServerMsg::error(ErrorCode::Forbidden, why)));
            }
            (self.name, self.device, self.ticket, self.rejoin) = (name, device, ticket, rejoin);
            return out.push(Action::Authenticate(password));
        }
        if !self.authed {
            let why = if self.hello {
                "wait for welcome: the password is still being checked"
            } else {
                "say hello first"
            };
            return self.handle_bad(counters, why.into(), out);
        }
        match msg {
            ClientMsg::Hello { .. } => {}
            ClientMsg::Offer { sdp, link_kbps } => {
                // A second offer on the same socket renegotiates the page's connection (an ICE
                // restart) or, from a new connection, replaces it: the session tells which.
                self.offered = true;
                let link_kbps = link_kbps.map(std::num::NonZeroU32::get);
                out.push(Action::Offer(self.peer, sdp, link_kbps));
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
                    return out.push(Action::Send(ServerMsg::error(
                        ErrorCode::NotAGame,
                        "this host is not running a game",
                    )));
                }
                if !self.manages {
                    return out.push(Action::Send(ServerMsg::error(
                        ErrorCode::Forbidden,
                        "only an owner or a player may save or load the game's state",
                    )));
                }
                let save = matches!(msg, ClientMsg::SaveState);
                out.push(Action::Game(if save {
                    GameRequest::Save
                } else {
                    GameRequest::Load
                }));
            }
            // Only a page with a peer connection has frames to measure.
            ClientMsg::FramePhase { lead_ms } if self.offered => {
                out.push(Action::FramePhase(lead_ms))
            }
            ClientMsg::FramePhase { .. } => {
                self.handle_bad(counters, "a frame phase before the offer".into(), out)
            }
            ClientMsg::MaxBitrate { kbps } => match kbps {
                Some(k) if k < MIN_VIDEO_KBPS => self.handle_bad(
                    counters,
                    format!("max-bitrate: at least {MIN_VIDEO_KBPS} kbit/s (or null)"),
                    out,
                ),
                _ if !self.offered => {
                    self.handle_bad(counters, "a max-bitrate before the offer".into(), out)
                }
                _ => out.push(Action::MaxBitrate(self.peer, kbps)),
            },
            ClientMsg::KeyboardLayout { layout } => match crate::config::parse_layout(&layout) {
                Ok(k) => out.push(Action::KeyboardLayout(k)),
                Err(e) => self.handle_bad(counters, e, out),
            },
            ClientMsg::RequestControl => out.push(Action::Room(Request::Ask)),
            ClientMsg::GiveControl { peer } => out.push(Action::Room(Request::Give(PeerId(peer)))),
            ClientMsg::TakeControl => out.push(Action::Room(Request::Take)),
            ClientMsg::ReleaseControl => out.push(Action::Room(Request::Release)),
            ClientMsg::Kick { peer } => out.push(Action::Room(Request::Kick(PeerId(peer)))),
            ClientMsg::SetRole { peer, role } => {
                out.push(Action::Room(Request::SetRole(PeerId(peer), role)))
            }
            ClientMsg::SetName { name } => out.push(Action::Room(Request::Rename(name))),
            ClientMsg::Point { x, y } => out.push(Action::Room(Request::Point(x, y))),
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

    /// The throttle's verdict on the `hello` password (`admission`: which one it was): the
    /// page joins the room and is welcomed, or gets an error and the close.
    pub fn handle_verdict(
        &mut self,
        config: &SignalConfig,
        counters: &SignalCounters,
        verdict: Verdict,
        admission: Admission,
        out: &mut Vec<Action>,
    ) {
        if self.closed {
            return;
        }
        match verdict {
            Verdict::Accepted => {
                self.authed = true;
                out.push(Action::Join {
                    admission,
                    name: self.name.take(),
                    rejoin: self.rejoin.take(),
                });
                out.push(Action::Send(ServerMsg::Welcome {
                    peer: self.peer.0,
                    audio: config.audio,
                    pixelated: config.pixelated,
                    game: config.game,
                    ice_servers: !config.ice.is_empty(),
                    max_kbps: config.max_kbps,
                }));
            }
            Verdict::Refused => {
                counters.refused.inc();
                out.push(Action::Send(ServerMsg::error(
                    ErrorCode::Unauthorized,
                    "wrong or missing password",
                )));
                out.push(Action::Close(CLOSE_UNAUTHORIZED, "unauthorized"));
                self.closed = true;
            }
            Verdict::Wait(wait) => {
                counters.refused.inc();
                let secs = throttle::wait_secs(wait);
                out.push(Action::Send(ServerMsg::Error {
                    code: ErrorCode::TooManyAttempts,
                    // Per address, or per device token: the message names neither.
                    message: format!("too many password attempts; try again in {secs} s"),
                    retry_after_s: Some(secs),
                    ticket: None,
                }));
                out.push(Action::Close(CLOSE_TOO_MANY_ATTEMPTS, "too many attempts"));
                self.closed = true;
            }
        }
    }

    /// A seat for a page whose password was accepted, taken before its verdict goes to
    /// [`Connection::handle_verdict`]: with it the page goes on to join; with `Err(Full)`, no
    /// seat for it, it is told `full` with its place in line (it tries again later), counted,
    /// and the socket closes: it never joins the room. Returns whether the page goes on.
    pub fn handle_seat(
        &mut self,
        counters: &SignalCounters,
        seat: Result<throttle::Seat, throttle::Full>,
        out: &mut Vec<Action>,
    ) -> bool {
        if self.closed {
            return false;
        }
        match seat {
            Ok(seat) => {
                self.seat = Some(seat);
                true
            }
            Err(full) => {
                counters.full.inc();
                out.push(Action::Send(ServerMsg::Error {
                    code: ErrorCode::Full,
                    message: SessionError::Full(full.max).to_string(),
                    retry_after_s: None,
                    ticket: Some(full.ticket),
                }));
                out.push(Action::Close(CLOSE_TRY_AGAIN_LATER, "full"));
                self.closed = true;
                false
            }
        }
    }

    /// The socket's deadline passed: [`HELLO_TIMEOUT`] since it opened, or [`CONNECT_TIMEOUT`]
    /// since the page was let in. Closes it unless `hello` came, or the picture after it.
    pub fn handle_deadline(&mut self, counters: &SignalCounters, out: &mut Vec<Action>) {
        let (counter, code, reason, within) = if !self.hello {
            let c = &counters.hello_timeouts;
            (c, ErrorCode::HelloTimeout, "no hello", HELLO_TIMEOUT)
        } else if self.authed && !self.pictured {
            let c = &counters.connect_timeouts;
            (c, ErrorCode::ConnectTimeout, "no picture", CONNECT_TIMEOUT)
        } else {
            return;
        };
        if self.closed {
            return;
        }
        counter.inc();
        let message = format!("{reason} within {} s", within.as_secs());
        out.push(Action::Send(ServerMsg::error(code, message)));
        out.push(Action::Close(CLOSE_POLICY, reason));
        // Its peer goes too: an answered offer that never connects would hold a place in the
        // session (its `--max-peers`) until glint stops.
        self.handle_closed(out);
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
            Err(OfferError::Busy) => ServerMsg::error(ErrorCode::Busy, "host busy, try again"),
            Err(OfferError::Session(e @ SessionError::Full(_))) => {
                ServerMsg::error(ErrorCode::Full, e.to_string())
            }
            // Told as busy: the page tries again later, on a new socket.
            Err(OfferError::Session(e @ SessionError::TooManyOffers(..))) => {
                counters.offers_busy.inc();
                ServerMsg::error(ErrorCode::Busy, e.to_string())
            }
            Err(OfferError::Session(SessionError::Draining)) => ServerMsg::Draining {
                message: SessionError::Draining.to_string(),
            },
            Err(OfferError::Session(e)) => {
                counters.bad_messages.inc();
                ServerMsg::error(ErrorCode::OfferRejected, e.to_string())
            }
        };
        out.push(Action::Send(msg));
    }

    /// A game's answer to a save or load request: a message for the page either way.
    pub fn handle_game_result(&mut self, result: Result<String, GameError>, out: &mut Vec<Action>) {
        out.push(Action::Send(match result {
            Ok(message) => ServerMsg::Info { message },
            Err(GameError::Busy) => {
                ServerMsg::error(ErrorCode::Busy, "the game is busy, try again")
            }
            Err(GameError::Failed(message)) => ServerMsg::error(ErrorCode::State, message),
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
        out.push(Action::Send(ServerMsg::error(
            ErrorCode::BadMessage,
            message,
        )));
        self.bad += 1;
        if self.bad >= MAX_BAD_MESSAGES && !self.closed {
            out.push(Action::Send(ServerMsg::error(
                ErrorCode::BadMessage,
                format!("{MAX_BAD_MESSAGES} bad messages: closing"),
            )));
            out.push(Action::Close(CLOSE_POLICY, "too many bad messages"));
            self.handle_closed(out);
        }
    }

    /// The transport could not read a message: one larger than `max` bytes (`too_big`), or a
    /// frame that breaks RFC 6455. The page is told why, the message is counted, and the
    /// socket closes (1009 or 1002) instead of vanishing with a bare 1006.
    pub fn handle_unreadable(
        &mut self,
        counters: &SignalCounters,
        unreadable: Unreadable,
        out: &mut Vec<Action>,
    ) {
        if self.closed {
            return;
        }
        let (code, reason) = match &unreadable {
            Unreadable::TooBig { .. } => (CLOSE_TOO_BIG, "message too big"),
            Unreadable::Protocol(_) => (CLOSE_PROTOCOL, "protocol error"),
        };
        self.handle_bad(counters, unreadable.to_string(), out);
        out.push(Action::Close(code, reason));
        self.handle_closed(out);
    }

    /// The session stops: the page is told why, and the socket closes.
    pub fn handle_shutdown(&mut self, why: &Shutdown, out: &mut Vec<Action>) {
        self.end(
            match why {
                Shutdown::Ended(message) => ServerMsg::Ended {
                    message: message.clone(),
                    why: EndedWhy::Ended,
                },
                Shutdown::Draining(message) => ServerMsg::Draining {
                    message: message.clone(),
                },
            },
            out,
        );
    }

    /// An owner removed this page from the session, or it joined again on a new connection:
    /// it is told why (as an end, so it does not come back by itself), its peer goes, and the
    /// socket closes.
    pub fn handle_removed(&mut self, message: String, why: EndedWhy, out: &mut Vec<Action>) {
        if self.end(ServerMsg::Ended { message, why }, out) && std::mem::take(&mut self.offered) {
            out.push(Action::Leave(self.peer));
        }
    }

    /// Tells the page `msg` and closes the socket, unless it is closed already; whether it did.
    fn end(&mut self, msg: ServerMsg, out: &mut Vec<Action>) -> bool {
        if std::mem::replace(&mut self.closed, true) {
            return false;
        }
        out.push(Action::Send(msg));
        out.push(Action::Close(CLOSE_GOING_AWAY, "session ended"));
        true
    }

    /// The socket closed: the peer goes at once rather than when its ICE times out.
    pub fn handle_closed(&mut self, out: &mut Vec<Action>) {
        self.closed = true;
        if std::mem::take(&mut self.offered) {
            out.push(Action::Leave(self.peer));
        }
    }
}

#[cfg(test)]
mod tests;
