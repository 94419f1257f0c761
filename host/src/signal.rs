//! Control plane: serves the web client and the WebSocket signaling endpoint (`/ws`).
//!
//! The first message on a socket must be `hello` (with the password when one is set); nothing
//! else is processed before it. Malformed or unexpected messages get an `error` message back on
//! that socket and change nothing else.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_channel::Sender;
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use warp::ws::{Message, WebSocket};
use warp::Filter;

use crate::emulator::GameCommand;
use crate::peer::{Notice, PeerId, PeerNotifier};
use crate::phase::FramePhase;
use crate::rtc::RtcCommand;

/// A full rtc command queue is tried again this often, this many times, before "busy".
const BUSY_RETRY_EVERY: std::time::Duration = std::time::Duration::from_millis(10);
const BUSY_RETRIES: u32 = 100;

/// Largest signaling message accepted (an SDP offer is a few KiB).
const MAX_MESSAGE: usize = 64 * 1024;

/// Client → host.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ClientMsg {
    Hello {
        #[serde(default)]
        password: Option<String>,
    },
    Offer {
        sdp: String,
    },
    /// One of the page's ICE candidates, trickled after its offer (RFC 8838); `sdp_mid` is
    /// informational (one bundled transport).
    Candidate {
        candidate: String,
        #[serde(default)]
        sdp_mid: Option<String>,
    },
    /// Games only: write the core's state to the save directory.
    SaveState,
    /// Games only: restore the last saved state.
    LoadState,
    /// The page's frame lead (see [`crate::phase`]), sent by the page that plays.
    FramePhase {
        lead_ms: f64,
    },
}

/// Host → client.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ServerMsg<'a> {
    /// `audio`: whether the host has sound to send (the page offers sound controls only then).
    /// `pixelated`: scale the picture with nearest-neighbour (an emulator's few big pixels).
    /// `game`: the source is a game that can save and load its state.
    Welcome {
        peer: u64,
        audio: bool,
        pixelated: bool,
        game: bool,
    },
    Answer {
        sdp: String,
    },
    Error {
        code: &'a str,
        message: String,
    },
    Info {
        message: String,
    },
    /// A game's player number for this page, or null: all players are taken, the page watches.
    Player {
        player: Option<u8>,
    },
    /// The session is over (the display was lost, the game's core crashed); the page should
    /// say why and not reconnect.
    Ended {
        message: String,
    },
}

/// Counters of the signaling sockets, shared with the stats.
#[derive(Debug, Default)]
pub struct SignalCounters {
    /// Malformed or unexpected messages.
    pub bad_messages: AtomicU64,
    /// Sockets refused for a wrong or missing password.
    pub refused: AtomicU64,
}

/// Shared by every connection's task; read-only but for the counters.
pub struct Signal {
    pub commands: Sender<RtcCommand>,
    /// Whether a sound source is running.
    pub audio: bool,
    /// Whether the page should scale the picture with nearest-neighbour.
    pub pixelated: bool,
    /// Save/load state requests to the game thread, when the source is a game.
    pub game: Option<Sender<GameCommand>>,
    pub password: Option<String>,
    pub next_peer: AtomicU64,
    pub counters: Arc<SignalCounters>,
    /// Becomes `Some(why)` when the session ends; every socket is told, then closed.
    pub ended: tokio::sync::watch::Receiver<Option<String>>,
    /// Where pages' frame leads go, to move the capture tick.
    pub phase: Arc<FramePhase>,
}

/// The HTTP routes `/ws` and `/healthz`.
pub fn routes(
    signal: Arc<Signal>,
) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    let ws =
        warp::path("ws")
            .and(warp::path::end())
            .and(warp::ws())
            .map(move |ws: warp::ws::Ws| {
                let signal = signal.clone();
                ws.max_message_size(MAX_MESSAGE)
                    .on_upgrade(move |socket| connection(socket, signal))
            });
    let health = warp::path("healthz").and(warp::path::end()).map(|| "ok");
    ws.or(health)
}

/// Tries a full rtc command queue again for a while (a burst of viewers joining at once)
/// before giving up; never blocks the runtime thread.
async fn try_send_patiently(
    commands: &Sender<RtcCommand>,
    mut cmd: RtcCommand,
) -> Result<(), RtcCommand> {
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

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn send(ws: &mut futures_util::stream::SplitSink<WebSocket, Message>, msg: &ServerMsg<'_>) {
    match serde_json::to_string(msg) {
        Ok(text) => {
            let _ = ws.send(Message::text(text)).await;
        }
        Err(e) => tracing::error!(error = %e, "cannot serialise a signaling message"),
    }
}

/// Counts a message the host cannot take and tells its page why.
async fn bad_message(
    tx: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    signal: &Signal,
    message: String,
) {
    signal.counters.bad_messages.fetch_add(1, Ordering::Relaxed);
    let code = "bad-message";
    send(tx, &ServerMsg::Error { code, message }).await;
}

async fn connection(socket: WebSocket, signal: Arc<Signal>) {
    let (mut tx, mut rx) = socket.split();
    let mut peer: Option<PeerId> = None;
    let mut authed = false;
    let mut offered = false;
    let (notifier, mut notices) = PeerNotifier::channel();
    let mut ended = signal.ended.clone();
    loop {
        let msg = tokio::select! {
            m = rx.next() => match m {
                Some(Ok(m)) => m,
                _ => break,
            },
            Some(n) = notices.recv() => {
                let out = match n {
                    Notice::Error { code, message } => ServerMsg::Error { code, message },
                    Notice::Info { message } => ServerMsg::Info { message },
                    Notice::Player { player } => ServerMsg::Player { player },
                };
                send(&mut tx, &out).await;
                continue;
            }
            Ok(()) = ended.changed() => {
                let why = ended.borrow_and_update().clone();
                let Some(message) = why else { continue };
                send(&mut tx, &ServerMsg::Ended { message }).await;
                let _ = tx.send(Message::close_with(1001u16, "session ended")).await;
                break;
            }
        };
        if msg.is_close() {
            break;
        }
        if msg.is_ping() || msg.is_pong() {
            continue;
        }
        let parsed = msg
            .to_str()
            .map_err(|_| "binary messages are not part of signaling".to_owned())
            .and_then(|t| serde_json::from_str::<ClientMsg>(t).map_err(|e| e.to_string()));
        let parsed = match parsed {
            Ok(m) => m,
            Err(e) => {
                bad_message(&mut tx, &signal, format!("malformed message: {e}")).await;
                continue;
            }
        };
        match parsed {
            ClientMsg::Hello { password } => {
                let ok = match (&signal.password, &password) {
                    (None, _) => true,
                    (Some(want), Some(got)) => constant_time_eq(want.as_bytes(), got.as_bytes()),
                    (Some(_), None) => false,
                };
                if !ok {
                    signal.counters.refused.fetch_add(1, Ordering::Relaxed);
                    let message = "wrong or missing password".to_owned();
                    send(
                        &mut tx,
                        &ServerMsg::Error {
                            code: "unauthorized",
                            message,
                        },
                    )
                    .await;
                    let _ = tx.send(Message::close_with(4001u16, "unauthorized")).await;
                    return;
                }
                authed = true;
                let id = signal.next_peer.fetch_add(1, Ordering::Relaxed);
                let (audio, pixelated) = (signal.audio, signal.pixelated);
                let game = signal.game.is_some();
                send(
                    &mut tx,
                    &ServerMsg::Welcome {
                        peer: id,
                        audio,
                        pixelated,
                        game,
                    },
                )
                .await;
                peer = Some(PeerId(id));
            }
            ClientMsg::Offer { .. }
            | ClientMsg::Candidate { .. }
            | ClientMsg::SaveState
            | ClientMsg::LoadState
            | ClientMsg::FramePhase { .. }
                if !authed =>
            {
                signal.counters.bad_messages.fetch_add(1, Ordering::Relaxed);
                let message = "say hello first".to_owned();
                send(
                    &mut tx,
                    &ServerMsg::Error {
                        code: "unauthorized",
                        message,
                    },
                )
                .await;
            }
            ClientMsg::Candidate { candidate, .. } => {
                let Some(id) = peer.filter(|_| offered) else {
                    bad_message(&mut tx, &signal, "a candidate before the offer".into()).await;
                    continue;
                };
                let cmd = RtcCommand::Candidate {
                    peer: id,
                    candidate,
                };
                let _ = try_send_patiently(&signal.commands, cmd).await;
            }
            ClientMsg::FramePhase { lead_ms } => {
                if let Err(message) = signal.phase.report(lead_ms) {
                    bad_message(&mut tx, &signal, message).await;
                }
            }
            ClientMsg::SaveState | ClientMsg::LoadState => {
                let save = matches!(parsed, ClientMsg::SaveState);
                let out = match &signal.game {
                    None => ServerMsg::Error {
                        code: "not-a-game",
                        message: "this host is not running a game".into(),
                    },
                    Some(game) => {
                        let (reply, answer) = oneshot::channel();
                        let cmd = if save {
                            GameCommand::Save { reply }
                        } else {
                            GameCommand::Load { reply }
                        };
                        match game.try_send(cmd) {
                            Err(_) => ServerMsg::Error {
                                code: "busy",
                                message: "the game is busy, try again".into(),
                            },
                            Ok(()) => match answer.await {
                                Ok(Ok(message)) => ServerMsg::Info { message },
                                Ok(Err(message)) => ServerMsg::Error {
                                    code: "state",
                                    message,
                                },
                                Err(_) => ServerMsg::Error {
                                    code: "state",
                                    message: "the game stopped".into(),
                                },
                            },
                        }
                    }
                };
                send(&mut tx, &out).await;
            }
            ClientMsg::Offer { sdp } => {
                let Some(id) = peer else { continue };
                // A second offer on the same socket replaces the previous peer connection.
                if offered {
                    let _ =
                        try_send_patiently(&signal.commands, RtcCommand::Leave { peer: id }).await;
                }
                // The peer keeps the id its page was welcomed with: the rtc thread removes the
                // old connection on `Leave` before it takes the new offer.
                offered = true;
                let (reply_tx, reply_rx) = oneshot::channel();
                let cmd = RtcCommand::Offer {
                    peer: id,
                    sdp,
                    notify: notifier.clone(),
                    reply: reply_tx,
                };
                if try_send_patiently(&signal.commands, cmd).await.is_err() {
                    let message = "host busy, try again".to_owned();
                    send(
                        &mut tx,
                        &ServerMsg::Error {
                            code: "busy",
                            message,
                        },
                    )
                    .await;
                    continue;
                }
                match reply_rx.await {
                    Ok(Ok(sdp)) => send(&mut tx, &ServerMsg::Answer { sdp }).await,
                    Ok(Err(e)) => {
                        signal.counters.bad_messages.fetch_add(1, Ordering::Relaxed);
                        let message = e.to_string();
                        send(
                            &mut tx,
                            &ServerMsg::Error {
                                code: "offer-rejected",
                                message,
                            },
                        )
                        .await;
                    }
                    Err(_) => break,
                }
            }
        }
    }
    if let (Some(id), true) = (peer, offered) {
        // Without this the peer would linger until its ICE times out.
        let _ = try_send_patiently(&signal.commands, RtcCommand::Leave { peer: id }).await;
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
            std::thread::sleep(std::time::Duration::from_millis(30));
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

    #[test]
    fn client_messages_parse_strictly() {
        let hello: ClientMsg =
            serde_json::from_str(r#"{"type":"hello","password":"p"}"#).expect("valid hello");
        assert_eq!(
            hello,
            ClientMsg::Hello {
                password: Some("p".into())
            }
        );
        let phase: ClientMsg =
            serde_json::from_str(r#"{"type":"frame-phase","lead_ms":3.5}"#).expect("a lead");
        assert_eq!(phase, ClientMsg::FramePhase { lead_ms: 3.5 });
        for bad in [
            r#"{"type":"frame-phase","lead_ms":"soon"}"#,
            r#"{"type":"frame-phase"}"#,
            r#"{"type":"offer"}"#,
            r#"{"type":"launch-missiles"}"#,
            r#"{"type":"offer","sdp":"v=0","extra":1}"#,
            r#"not json"#,
            r#"[]"#,
        ] {
            assert!(
                serde_json::from_str::<ClientMsg>(bad).is_err(),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn password_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
