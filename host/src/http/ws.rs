//! The WebSocket transport of signaling: reads a page's messages into its [`Connection`] and
//! carries out the actions, talking to the rtc thread and the game.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{oneshot, watch};
use warp::ws::{Message, WebSocket};

use crate::display::{Followed, Keyboard};
use crate::emulator::GameCommand;
use crate::input::roles::{Admission, REJOIN_GRACE};
use crate::input::InputMsg;
use crate::net::RtcCommand;
use crate::peer::{PeerId, PeerNotifier};
use crate::phase::FramePhase;
use crate::proto::signaling::{ErrorCode, ServerMsg};
use crate::signal::throttle::{PerAddress, Seats, Throttle, Verdict};
use crate::signal::{
    Action, Admitted, Connection, GameError, GameRequest, OfferError, Shutdown, SignalConfig,
    SignalCounters, Unreadable, CLOSE_GOING_AWAY, CLOSE_POLICY, CLOSE_PROTOCOL, CLOSE_TOO_BIG,
    CONNECT_TIMEOUT, HELLO_TIMEOUT,
};

mod leave;

/// A full rtc command queue is tried again this often, this many times, before "busy".
const BUSY_RETRY_EVERY: Duration = Duration::from_millis(10);
const BUSY_RETRIES: u32 = 100;

/// Largest signaling message accepted (an SDP offer is a few KiB).
pub const MAX_MESSAGE: usize = 64 * 1024;

/// After an unreadable message the socket still holds its unread rest: closing at once makes
/// the kernel answer with a TCP reset, which throws away the error and the close frame before
/// the page reads them (the page then sees a bare 1006). The socket is kept this long first,
/// without reading: the rest of the message is never buffered.
const UNREAD_LINGER: Duration = Duration::from_secs(1);

/// How long the reply to a page's close frame may take to go out.
const CLOSE_FLUSH: Duration = Duration::from_millis(500);

/// A ping goes to the page this often; browsers answer pings by themselves.
const PING_EVERY: Duration = Duration::from_secs(5);
/// A page heard nothing from (no message, no pong) for this long is gone (a laptop that slept,
/// a network that vanished): its socket closes, so it leaves the room, frees control and its
/// seat. At 30 s (pings every 10 s) a phone that changed networks found its own old seat
/// taken for 30–40 s under `--max-peers`; three pings unanswered is still far beyond what a
/// congested link delays a pong by.
const SILENT_FOR: Duration = Duration::from_secs(15);

/// Most signaling sockets open at once from one client address.
pub const MAX_SOCKETS_PER_ADDRESS: usize = 16;

/// Shared by every connection's task; read-only but for the counters and the id source.
pub struct Hub {
    pub config: SignalConfig,
    pub counters: SignalCounters,
    pub commands: Sender<RtcCommand>,
    /// Save/load state requests to the game, when the source is a game.
    pub game: Option<Sender<GameCommand>>,
    pub next_peer: AtomicU64,
    /// Becomes `Some` when the session stops; every socket is told, then closed.
    pub shutdown: watch::Receiver<Option<Shutdown>>,
    /// Where pages' frame leads go, to move the capture tick.
    pub phase: Arc<FramePhase>,
    /// Password checks per client address (shared with the API).
    pub throttle: Arc<Mutex<Throttle>>,
    /// Open sockets per client address, at most [`MAX_SOCKETS_PER_ADDRESS`].
    pub sockets: PerAddress,
    /// The session's seats (`--max-peers`), held from an accepted `hello` on.
    pub seats: Seats,
    /// The input thread's lifecycle queue: members joining, leaving and asking the room.
    pub input: Sender<InputMsg>,
    /// The room as the input thread last published it (the API's event stream).
    pub room: watch::Receiver<crate::input::roles::RoomView>,
    /// File transfer, when an upload or download directory is set.
    pub files: Option<Arc<crate::files::Files>>,
    /// The keyboard layout of Glint's own display (none for a user's display, a test
    /// pattern or a game).
    pub keyboard: Option<Arc<Keyboard>>,
    /// How the `--app` ended by itself, once it has ([`crate::display::Guarded::ended`]):
    /// every page in the session is told, and every page that joins later.
    pub app_ended: Option<watch::Receiver<Option<String>>>,
}

/// Tries a full rtc command queue again for a while (a burst of viewers joining at once)
/// before giving up; never blocks the runtime thread.
pub(super) async fn try_send_patiently<T>(commands: &Sender<T>, mut cmd: T) -> Result<(), T> {
    for _ in 0..BUSY_RETRIES {
        match commands.try_send(cmd) {
            Ok(()) => return Ok(()),
            Err(crossbeam_channel::TrySendError::Full(c)) => {
                cmd = c;
                tokio::time::sleep(BUSY_RETRY_EVERY).await;
            }
            Err(crossbeam_channel::TrySendError::Disconnected(c)) => return Err(c),
        }
    }
    Err(cmd)
}

async fn send(tx: &mut SplitSink<WebSocket, Message>, msg: &ServerMsg) {
    let _ = tx.send(Message::text(msg.to_json())).await;
}

/// Bad input from one page is logged at most this often per socket.
const LOG_BAD_EVERY: Duration = Duration::from_secs(1);

/// Logs an error told to a page about its own bad input, at most once per [`LOG_BAD_EVERY`]
/// per socket (`last` is the socket's last such line); how many is in the counters.
fn log_bad(client: IpAddr, peer: PeerId, msg: &ServerMsg, last: &mut Option<Instant>) {
    let ServerMsg::Error { code, message, .. } = msg else {
        return;
    };
    let bad = matches!(
        code,
        ErrorCode::BadMessage | ErrorCode::BadInput | ErrorCode::BadChannel | ErrorCode::BadText
    );
    let now = Instant::now();
    if bad && last.is_none_or(|t| now.duration_since(t) >= LOG_BAD_EVERY) {
        *last = Some(now);
        // `?`: the message can quote the page's own text, whose line breaks must not forge
        // log lines (fail2ban reads them).
        tracing::info!(%client, %peer, ?code, ?message, "bad input from a page");
    }
}

/// One socket from `client`, from upgrade to close.
pub async fn connection(socket: WebSocket, hub: Arc<Hub>, client: IpAddr) {
    let (mut tx, mut rx) = socket.split();
    let Some(_slot) = hub.sockets.take(client) else {
        hub.counters.too_many_sockets.inc();
        let msg = ServerMsg::error(
            ErrorCode::TooManySockets,
            format!("more than {MAX_SOCKETS_PER_ADDRESS} signaling sockets from this address"),
        );
        send(&mut tx, &msg).await;
        let _ = tx
            .send(Message::close_with(CLOSE_POLICY, "too many sockets"))
            .await;
        return;
    };
    let peer = PeerId(hub.next_peer.fetch_add(1, Ordering::Relaxed));
    let _leave = leave::LeaveOnPanic {
        commands: hub.commands.clone(),
        input: hub.input.clone(),
        peer,
    };
    let mut conn = Connection::new(peer);
    // `hello` within HELLO_TIMEOUT of the socket opening, then the picture within
    // CONNECT_TIMEOUT of the page being let in (a socket that says hello and offers nothing
    // that connects would hold a seat for good).
    let deadline = tokio::time::sleep(HELLO_TIMEOUT);
    tokio::pin!(deadline);
    // Whether the deadline is still to be told to the connection. Not
    // `!deadline.is_elapsed()`: the timer marks it elapsed when it fires, and when
    // another branch (the first ping, due at the same 10 s) won that wake-up, the guard
    // turned the branch off before it ever ran: a silent socket stayed open for good.
    let mut deadline_due = true;
    let mut picture_deadline_set = false;
    // The code the host closed the socket with, if it closed first.
    let mut host_closed = None;
    let (notifier, mut notices) = PeerNotifier::channel();
    let mut shutdown = hub.shutdown.clone();
    let mut actions = Vec::new();
    let mut logged = None;
    let mut heard = Instant::now();
    let mut app_ended = hub.app_ended.clone();
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    // When the page was last given its ICE servers (`ice-servers`, after `welcome`).
    let mut ice_given = None;
    // A socket opened while the host stops is told at once.
    if let Some(why) = shutdown.borrow_and_update().clone() {
        conn.handle_shutdown(&why, &mut actions);
    }
    while !conn.is_closed() || !actions.is_empty() {
        // Carrying out an action can lead to more (an answer to send): all of them first.
        while !actions.is_empty() {
            for action in std::mem::take(&mut actions) {
                if let Action::Send(msg) = &action {
                    log_bad(client, peer, msg, &mut logged);
                }
                if let Action::Close(code, _) = &action {
                    host_closed = Some(*code);
                }
                let welcome = matches!(&action, Action::Send(ServerMsg::Welcome { .. }));
                ice_given = ice_given.or(welcome.then(std::time::SystemTime::now));
                carry_out(
                    &hub,
                    client,
                    &mut conn,
                    &notifier,
                    &mut tx,
                    action,
                    &mut actions,
                )
                .await;
                // Marked seen here, so the branch below does not say it twice.
                let ended = app_ended.as_mut().filter(|_| welcome);
                if let Some(how) = ended.and_then(|r| r.borrow_and_update().clone()) {
                    send(&mut tx, &app_ended_info(&how)).await;
                }
            }
        }
        if conn.is_closed() {
            continue;
        }
        if conn.is_authed() && !picture_deadline_set {
            picture_deadline_set = true;
            deadline_due = true;
            deadline
                .as_mut()
                .reset(tokio::time::Instant::now() + CONNECT_TIMEOUT);
        }
        tokio::select! {
            m = rx.next() => match m {
                Some(Ok(m)) if m.is_close() => conn.handle_closed(&mut actions),
                Some(Ok(m)) if m.is_ping() || m.is_pong() => heard = Instant::now(),
                Some(Ok(m)) => {
                    heard = Instant::now();
                    match m.to_str() {
                        Ok(text) => conn.handle_text(&hub.config, &hub.counters, text, &mut actions),
                        Err(()) => conn.handle_binary(&hub.counters, &mut actions),
                    }
                }
                Some(Err(e)) => match unreadable(&e) {
                    Some(u) => conn.handle_unreadable(&hub.counters, u, &mut actions),
                    None => {
                        tracing::debug!(%client, %peer, error = %e, "signaling socket dropped");
                        hub.counters.dropped.inc();
                        conn.handle_closed(&mut actions);
                    }
                },
                None => conn.handle_closed(&mut actions),
            },
            Some(n) = notices.recv() => match n {
                // Removed from the session by an owner, or replaced by the page's new socket.
                ServerMsg::Ended { message, why } => conn.handle_removed(message, why, &mut actions),
                n => {
                    conn.handle_notice(&n);
                    log_bad(client, peer, &n, &mut logged);
                    send(&mut tx, &n).await;
                }
            },
            due = pings.tick() => {
                // A tick this late means glint itself stood still (a stall, a suspended
                // process): the silence was its own, not the page's.
                if due.elapsed() > PING_EVERY {
                    heard = Instant::now();
                }
                if heard.elapsed() >= SILENT_FOR {
                    tracing::info!(%client, %peer, "page silent: its socket closes");
                    conn.handle_closed(&mut actions);
                } else {
                    let _ = tx.send(Message::ping(Vec::new())).await;
                }
                let (name, now) = (peer.to_string(), std::time::SystemTime::now());
                if let Some(servers) = hub.config.ice.renewed(&name, &mut ice_given, now) {
                    send(&mut tx, &ServerMsg::IceServers { servers }).await;
                }
            }
            () = &mut deadline, if deadline_due => {
                deadline_due = false;
                conn.handle_deadline(&hub.counters, &mut actions);
            }
            how = app_end(&mut app_ended) => {
                if conn.is_authed() {
                    send(&mut tx, &app_ended_info(&how)).await;
                }
            }
            Ok(()) = shutdown.changed() => {
                if let Some(why) = shutdown.borrow_and_update().clone() {
                    conn.handle_shutdown(&why, &mut actions);
                }
            }
        }
    }
    if conn.is_authed() {
        let pictured = conn.pictured();
        let _ = try_send_patiently(&hub.input, InputMsg::Gone { peer, pictured }).await;
    }
    // Its seat frees for a page trying again; a member's page that went by itself (a reload,
    // a lost network) has it kept for the grace the room holds its role, not one the host
    // closed (removed, replaced, timed out).
    match conn.into_seat() {
        Some((seat, token)) if host_closed.is_none() => {
            hub.seats
                .keep(token, peer.0, seat, Instant::now() + REJOIN_GRACE);
        }
        _ => {}
    }
    if let Some(files) = &hub.files {
        files.forget(peer);
    }
    // Sends what is still queued: the reply to a page's close frame (without it the page
    // sees 1006, "closed abnormally").
    let _ = tokio::time::timeout(CLOSE_FLUSH, tx.close()).await;
    // When the host closed first, the page's answering close frame is waited for before the
    // connection goes (RFC 6455 §7.1.1): dropped at once, it reset the connection under the
    // page's reply, and the page saw 1006 instead of the host's code in two runs of three.
    // Not after a message too big or broken: its unread rest is still coming, and reading on
    // cost the page its 1009 in a CI run (those closes linger instead, in `carry_out`).
    if !matches!(host_closed, Some(CLOSE_TOO_BIG | CLOSE_PROTOCOL)) {
        let answered = async {
            while let Some(Ok(m)) = rx.next().await {
                if m.is_close() {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(CLOSE_FLUSH, answered).await;
    }
}

/// What a read error from the socket says of the message: too big for [`MAX_MESSAGE`] (the
/// frame's header is refused before its payload is read), or broken. `None`: no message at
/// all, the connection went (reset, or ended without a close frame: RFC 6455 §7.1.5's 1006),
/// which is a lost network or a killed tab, not bad input.
fn unreadable(e: &warp::Error) -> Option<Unreadable> {
    use tungstenite::error::{Error, ProtocolError};
    let cause = std::error::Error::source(e).and_then(|s| s.downcast_ref::<Error>());
    match cause {
        Some(Error::Capacity(_)) => Some(Unreadable::TooBig { max: MAX_MESSAGE }),
        Some(
            Error::Protocol(ProtocolError::ResetWithoutClosingHandshake)
            | Error::ConnectionClosed
            | Error::AlreadyClosed
            | Error::Io(_),
        ) => None,
        _ => Some(Unreadable::Protocol(e.to_string())),
    }
}

async fn carry_out(
    hub: &Hub,
    client: IpAddr,
    conn: &mut Connection,
    notifier: &PeerNotifier,
    tx: &mut SplitSink<WebSocket, Message>,
    action: Action,
    more: &mut Vec<Action>,
) {
    match action {
        Action::Send(msg) => {
            send(tx, &msg).await;
            if matches!(msg, ServerMsg::Welcome { .. }) && !hub.config.ice.is_empty() {
                let name = conn.peer().to_string();
                let servers = hub.config.ice.for_page(&name, std::time::SystemTime::now());
                send(tx, &ServerMsg::IceServers { servers }).await;
            }
            if let (ServerMsg::Welcome { .. }, Some(files)) = (&msg, &hub.files) {
                match files.admit(conn.peer()) {
                    Ok(token) => send(tx, &files_message(files, token)).await,
                    Err(e) => tracing::warn!(error = %e, "no file transfer token"),
                }
            }
        }
        Action::Authenticate(given) => {
            let now = Instant::now();
            let Admitted {
                verdict,
                admission,
                device,
            } = match hub.throttle.lock() {
                Ok(mut t) => hub
                    .config
                    .admit(&mut t, now, client, conn.device(), given.as_deref()),
                Err(_) => Admitted {
                    verdict: Verdict::Refused,
                    admission: Admission::Viewer,
                    device: None,
                },
            };
            // A member's page back within the grace gets its kept seat (`Seats::keep`).
            let seat = || match hub.seats.take_kept(now, conn.rejoin()) {
                Some(seat) => Ok(seat),
                None => hub.seats.take(now, conn.ticket()),
            };
            if verdict == Verdict::Accepted && !conn.handle_seat(&hub.counters, seat(), more) {
                return;
            }
            conn.handle_verdict(&hub.config, &hub.counters, verdict, admission, more);
            if let Some(token) = device.filter(|_| conn.is_authed()) {
                more.push(Action::Send(ServerMsg::Device { token }));
            }
        }
        Action::Join {
            admission,
            name,
            rejoin,
        } => {
            let token = crate::peer::random_token()
                .inspect_err(|e| tracing::warn!(error = %e, "no rejoin token"))
                .ok();
            let msg = InputMsg::Member {
                peer: conn.peer(),
                admission,
                name,
                rejoin,
                token: token.clone(),
                notify: notifier.clone(),
            };
            if try_send_patiently(&hub.input, msg).await.is_err() {
                send(
                    tx,
                    &ServerMsg::error(ErrorCode::Busy, "host busy, try again"),
                )
                .await;
                more.push(Action::Close(CLOSE_GOING_AWAY, "busy"));
            } else if let Some(token) = token {
                conn.given_token(token.clone());
                more.push(Action::Send(ServerMsg::Rejoin { token }));
            }
        }
        Action::Room(request) => {
            let msg = InputMsg::Request {
                peer: conn.peer(),
                request,
            };
            if try_send_patiently(&hub.input, msg).await.is_err() {
                send(
                    tx,
                    &ServerMsg::error(ErrorCode::Busy, "host busy, try again"),
                )
                .await;
            }
        }
        Action::Close(code, reason) => {
            let _ = tx.send(Message::close_with(code, reason)).await;
            if matches!(code, CLOSE_TOO_BIG | CLOSE_PROTOCOL) {
                tokio::time::sleep(UNREAD_LINGER).await;
            }
        }
        Action::Offer(peer, sdp, link_kbps) => {
            let (reply, answer) = oneshot::channel();
            let cmd = RtcCommand::Offer {
                peer,
                sdp,
                link_kbps,
                notify: notifier.clone(),
                reply,
            };
            let result = if try_send_patiently(&hub.commands, cmd).await.is_err() {
                Err(OfferError::Busy)
            } else {
                match answer.await {
                    Ok(r) => r.map_err(OfferError::Session),
                    // The rtc thread is gone: glint is stopping.
                    Err(_) => return conn.handle_closed(more),
                }
            };
            conn.handle_offer_result(&hub.counters, result, more);
        }
        Action::Candidate(peer, candidate) => {
            let _ =
                try_send_patiently(&hub.commands, RtcCommand::Candidate { peer, candidate }).await;
        }
        Action::Leave(peer) => {
            let _ = try_send_patiently(&hub.commands, RtcCommand::Leave { peer }).await;
        }
        Action::MaxBitrate(peer, kbps) => {
            let cmd = RtcCommand::MaxBitrate { peer, kbps };
            let _ = try_send_patiently(&hub.commands, cmd).await;
        }
        Action::Game(request) => {
            let result = game_request(hub.game.as_ref(), request).await;
            conn.handle_game_result(result, more);
        }
        Action::FramePhase(lead_ms) => {
            if let Err(message) = hub.phase.report(lead_ms) {
                conn.handle_bad(&hub.counters, message, more);
            }
        }
        Action::KeyboardLayout(page) => {
            let Some(keyboard) = hub.keyboard.clone() else {
                return; // not Glint's display: its layout is its owner's
            };
            let shown = page.to_string();
            let followed = tokio::task::spawn_blocking(move || keyboard.follow(&page)).await;
            let told = match followed {
                Ok(Ok(Followed::Set)) => {
                    tracing::info!(layout = %shown, "keyboard layout of the display set from a page");
                    Some(format!("the host's keyboard layout is now {shown}, as yours"))
                }
                Ok(Ok(Followed::Same)) => None,
                Ok(Ok(Followed::Kept(k))) => Some(format!(
                    "the host's keyboard layout is {k}; yours looks like {shown}, so some keys may type other characters"
                )),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot follow a page's keyboard layout");
                    Some(format!("the host cannot take your keyboard layout ({shown})"))
                }
                Err(_) => None,
            };
            if let Some(message) = told {
                send(tx, &ServerMsg::Info { message }).await;
            }
        }
    }
}

/// Waits for the `--app` to end by itself (once), or forever.
async fn app_end(ended: &mut Option<watch::Receiver<Option<String>>>) -> String {
    if let Some(rx) = ended {
        while rx.changed().await.is_ok() {
            if let Some(how) = rx.borrow_and_update().clone() {
                return how;
            }
        }
    }
    std::future::pending().await
}

/// What a page is told of an `--app` that ended by itself (`how`: [`crate::display::Guarded::ended`]).
fn app_ended_info(how: &str) -> ServerMsg {
    ServerMsg::Info {
        message: format!("{how}; the display stays up without it"),
    }
}

/// The page's `files` message: its token and what the host takes.
fn files_message(files: &crate::files::Files, token: String) -> ServerMsg {
    let c = &files.config;
    ServerMsg::Files {
        token,
        upload: c.upload_dir.is_some(),
        download: c.download_dir.is_some(),
        max_bytes: c.max_upload,
        block: crate::files::BLOCK,
        who: c.who.as_str().to_owned(),
    }
}

pub(super) async fn game_request(
    game: Option<&Sender<GameCommand>>,
    request: GameRequest,
) -> Result<String, GameError> {
    let Some(game) = game else {
        return Err(GameError::Failed("this host is not running a game".into()));
    };
    let (reply, answer) = oneshot::channel();
    let cmd = match request {
        GameRequest::Save => GameCommand::Save { reply },
        GameRequest::Load => GameCommand::Load { reply },
    };
    game.try_send(cmd).map_err(|_| GameError::Busy)?;
    match answer.await {
        Ok(Ok(message)) => Ok(message),
        Ok(Err(message)) => Err(GameError::Failed(message)),
        Err(_) => Err(GameError::Failed("the game stopped".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_full_command_queue_is_waited_out_then_refused() {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let leave = |n| RtcCommand::Leave { peer: PeerId(n) };
        tx.try_send(leave(1)).expect("room for one");
        // The rtc thread drains the queue a little later: the send goes through.
        let drain = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            let first = rx.recv().ok();
            (rx, first)
        });
        assert!(
            try_send_patiently(&tx, leave(2)).await.is_ok(),
            "not sent although the queue drained within the retries"
        );
        let (rx, _) = drain.join().expect("drain thread");
        // Nobody drains now: after the retries it is refused, with the command handed back.
        match try_send_patiently(&tx, leave(3)).await {
            Err(RtcCommand::Leave { peer }) => assert_eq!(peer, PeerId(3)),
            other => panic!("expected a refusal, got {:?}", other.is_ok()),
        }
        drop(rx);
    }
}
