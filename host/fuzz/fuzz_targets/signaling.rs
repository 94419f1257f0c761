//! Signaling: a sequence of messages from a page through one [`Connection`], carried out as
//! the WebSocket transport (`glint::http::ws`) carries them out: offers and game requests get
//! a result back, frame leads go to a [`FramePhase`].
//!
//! Input: one byte of configuration (bit 0: a password is set, then the first line is the
//! password; bit 1: a game; bit 2: sound; bit 3: pixelated; bit 4: the host shuts down at the
//! end instead of the page closing; bit 5, with bit 0: a viewers' password is set too, on the
//! next line; bit 6: the room makes the page an owner once it joined), then one message per line; a line that is not UTF-8 is a binary message.
//!
//! Checked beyond "no panic": a `welcome` answers every `hello` with the right password and
//! nothing else, after the page joined the room with the role its password gives (and its
//! name); room requests only after that; nothing reaches the session (offer, candidate, leave, game, frame lead) before a `welcome`,
//! and nothing at all after the socket was closed; a candidate or a leave only follows an
//! offer; game requests only on a game host; a frame lead is the one the page sent; every
//! message to the page is JSON that reads back as itself; a message that parses writes back
//! as the same message.

#![no_main]

use glint::input::roles::{Admission, MemberView, Role};
use glint::peer::PeerId;
use glint::phase::FramePhase;
use glint::proto::signaling::{ClientMsg, ServerMsg};
use glint::session::SessionError;
use glint::signal::throttle::{Throttle, ThrottleCounters, Verdict};
use glint::signal::{
    Action, Connection, GameError, OfferError, Shutdown, SignalConfig, SignalCounters,
    CLOSE_TOO_MANY_ATTEMPTS, CLOSE_UNAUTHORIZED,
};
use std::net::IpAddr;
use std::time::{Duration, Instant};
use libfuzzer_sys::fuzz_target;

const PEER: PeerId = PeerId(7);

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut lines = rest.split(|&b| b == b'\n');
    let password = if flags & 1 != 0 {
        let Some(p) = lines.next() else { return };
        Some(String::from_utf8_lossy(p).into_owned())
    } else {
        None
    };
    let viewer_password = if flags & 1 != 0 && flags & 32 != 0 {
        let Some(p) = lines.next() else { return };
        Some(String::from_utf8_lossy(p).into_owned())
    } else {
        None
    };
    let config = SignalConfig {
        password,
        viewer_password,
        game: flags & 2 != 0,
        audio: flags & 4 != 0,
        pixelated: flags & 8 != 0,
        ice: Default::default(),
        max_kbps: 8000,
    };
    let counters = SignalCounters::default();
    let phase = FramePhase::default();
    let mut conn = Connection::new(PEER);
    let mut model = Model {
        hello: false,
        throttle: Throttle::new(ThrottleCounters::default()),
        now: Instant::now(),
        welcomed: false,
        joined: false,
        owner: flags & 64 != 0,
        offered: false,
        closed: false,
    };
    let mut out = Vec::new();

    for (i, line) in lines.enumerate() {
        let was_closed = conn.is_closed();
        let sent = match std::str::from_utf8(line) {
            Ok(text) => {
                conn.handle_text(&config, &counters, text, &mut out);
                check_parse(text)
            }
            Err(_) => {
                conn.handle_binary(&counters, &mut out);
                None
            }
        };
        if was_closed {
            assert!(out.is_empty(), "a closed connection acted: {out:?}");
        } else if let Some(ClientMsg::Hello {
            password, rejoin, ..
        }) = &sent
        {
            // A first hello is a password check; a second one is refused, and so is one with a
            // malformed rejoin token (which does not count as the hello).
            let bad_rejoin = rejoin
                .as_ref()
                .is_some_and(|t| t.len() != 32 || !t.bytes().all(|b| b.is_ascii_hexdigit()));
            let checked = matches!(out.as_slice(), [Action::Authenticate(p)] if p == password);
            assert_eq!(checked, !model.hello && !bad_rejoin, "hello: {out:?}");
            model.hello |= !bad_rejoin;
        }
        // Time passes between messages: sometimes within the throttle's second, sometimes not.
        model.now += Duration::from_millis(150 + 50 * (i as u64 % 8));
        carry_out(
            &mut conn, &config, &counters, &phase, &mut model, sent, i, &mut out,
        );
    }
    if flags & 16 != 0 {
        let why = Shutdown::Draining("stopping".into());
        conn.handle_shutdown(&why, &mut out);
    } else {
        conn.handle_closed(&mut out);
    }
    carry_out(
        &mut conn, &config, &counters, &phase, &mut model, None, 0, &mut out,
    );
    assert!(conn.is_closed());
}

/// What the actions so far say about the connection, and the password throttle it meets.
struct Model {
    hello: bool,
    throttle: Throttle,
    now: Instant,
    welcomed: bool,
    /// The page joined the room.
    joined: bool,
    /// The room makes it an owner once it joined.
    owner: bool,
    /// An offer is live (not yet replaced or left).
    offered: bool,
    closed: bool,
}

/// Carries out `out` (and what it leads to) as the transport does, checking each action.
/// `sent` is the page's message that led to them, when it parsed.
#[allow(clippy::too_many_arguments)]
fn carry_out(
    conn: &mut Connection,
    config: &SignalConfig,
    counters: &SignalCounters,
    phase: &FramePhase,
    model: &mut Model,
    sent: Option<ClientMsg>,
    nth: usize,
    out: &mut Vec<Action>,
) {
    while !out.is_empty() {
        for action in std::mem::take(out) {
            assert!(
                !model.closed || matches!(action, Action::Leave(_)),
                "{action:?} after the socket closed"
            );
            match action {
                Action::Authenticate(given) => {
                    let want = config.password.as_deref();
                    let viewer = config.viewer_password.as_deref();
                    let client = IpAddr::from([10, 0, 0, 9]);
                    let admitted = config.admit(
                        &mut model.throttle,
                        model.now,
                        client,
                        conn.device(),
                        given.as_deref(),
                    );
                    let (v, admission) = (admitted.verdict, admitted.admission);
                    assert!(
                        admitted.device.is_none() || admission == Admission::Owner,
                        "a device token for {admission:?}"
                    );
                    let owner = want.is_none() || given.as_deref() == want;
                    let right = owner || (viewer.is_some() && given.as_deref() == viewer);
                    if !right {
                        assert_ne!(v, Verdict::Accepted, "a wrong password {given:?} accepted");
                    } else if v == Verdict::Accepted {
                        let expect = match want {
                            None => Admission::Open,
                            Some(_) if owner => Admission::Owner,
                            Some(_) => Admission::Viewer,
                        };
                        assert_eq!(admission, expect, "{given:?}");
                    }
                    let mut more = Vec::new();
                    conn.handle_verdict(config, counters, v, admission, &mut more);
                    let welcome = more
                        .iter()
                        .any(|a| matches!(a, Action::Send(ServerMsg::Welcome { .. })));
                    assert_eq!(welcome, v == Verdict::Accepted, "{v:?}: {more:?}");
                    out.extend(more);
                }
                Action::Send(msg) => {
                    if let ServerMsg::Welcome {
                        peer,
                        audio,
                        pixelated,
                        game,
                        ice_servers,
                        max_kbps,
                    } = &msg
                    {
                        let Some(ClientMsg::Hello { password, .. }) = &sent else {
                            panic!("a welcome for {sent:?}");
                        };
                        if let Some(want) = &config.password {
                            let viewer = config.viewer_password.as_ref();
                            assert!(
                                password.as_ref() == Some(want)
                                    || (viewer.is_some() && password.as_ref() == viewer),
                                "welcome, wrong password"
                            );
                        }
                        assert!(model.joined, "a welcome before the page joined the room");
                        assert_eq!(*peer, PEER.0);
                        assert_eq!(
                            (*audio, *pixelated, *game, *ice_servers, *max_kbps),
                            (
                                config.audio,
                                config.pixelated,
                                config.game,
                                !config.ice.is_empty(),
                                config.max_kbps
                            )
                        );
                        model.welcomed = true;
                    }
                    let json = msg.to_json();
                    let back: ServerMsg = serde_json::from_str(&json)
                        .unwrap_or_else(|e| panic!("host wrote {json:?}: {e}"));
                    assert_eq!(back, msg);
                }
                Action::Close(code, _) => {
                    assert!(conn.is_closed(), "a close while the connection stays open");
                    if code == CLOSE_UNAUTHORIZED || code == CLOSE_TOO_MANY_ATTEMPTS {
                        assert!(
                            matches!(sent, Some(ClientMsg::Hello { .. })),
                            "refused without a hello"
                        );
                    }
                    model.closed = true;
                }
                Action::Offer(peer, sdp, link_kbps) => {
                    assert!(model.welcomed, "an offer before the welcome");
                    assert_eq!(peer, PEER);
                    assert!(matches!(&sent, Some(ClientMsg::Offer { sdp: s, link_kbps: k })
                        if *s == sdp && k.map(|k| k.get()) == link_kbps));
                    model.offered = true;
                    let result = match nth % 5 {
                        0 => Ok("v=0\r\n".to_owned()),
                        1 => Err(OfferError::Busy),
                        2 => Err(OfferError::Session(SessionError::Draining)),
                        3 => Err(OfferError::Session(SessionError::NoCodec("VP8"))),
                        _ => Err(OfferError::Session(SessionError::BadOffer(sdp))),
                    };
                    conn.handle_offer_result(counters, result, out);
                }
                Action::Candidate(peer, c) => {
                    assert!(
                        model.welcomed && model.offered,
                        "a candidate before an offer"
                    );
                    assert_eq!(peer, PEER);
                    assert!(
                        matches!(&sent, Some(ClientMsg::Candidate { candidate, .. }) if *candidate == c)
                    );
                }
                Action::Leave(peer) => {
                    assert!(model.offered, "a leave without an offer");
                    assert_eq!(peer, PEER);
                    model.offered = false;
                }
                Action::Game(_) => {
                    assert!(model.welcomed && config.game, "a game request to no game");
                    assert!(model.owner, "a game request from a page that is no owner");
                    let result = match nth % 3 {
                        0 => Ok("saved".to_owned()),
                        1 => Err(GameError::Busy),
                        _ => Err(GameError::Failed("no state".into())),
                    };
                    conn.handle_game_result(result, out);
                }
                Action::FramePhase(lead_ms) => {
                    assert!(model.welcomed, "a frame lead before the welcome");
                    assert!(
                        matches!(sent, Some(ClientMsg::FramePhase { lead_ms: l }) if l.to_bits() == lead_ms.to_bits())
                    );
                    if let Err(message) = phase.report(lead_ms) {
                        conn.handle_bad(counters, message, out);
                    }
                }
                Action::MaxBitrate(peer, kbps) => {
                    assert!(model.offered, "a rate cap without an offer");
                    assert_eq!(peer, PEER);
                    assert!(kbps.is_none_or(|k| k >= glint::session::MIN_VIDEO_KBPS), "{kbps:?}");
                    assert!(matches!(sent, Some(ClientMsg::MaxBitrate { kbps: k }) if k == kbps));
                }
                Action::Join { name, .. } => {
                    assert!(!model.joined && !model.welcomed, "joined twice");
                    let Some(ClientMsg::Hello { name: said, .. }) = &sent else {
                        panic!("a join for {sent:?}");
                    };
                    assert_eq!(&name, said, "the name from hello");
                    model.joined = true;
                    if model.owner {
                        conn.handle_notice(&ServerMsg::Members {
                            members: vec![MemberView {
                                peer: PEER.0,
                                name: "Ann".into(),
                                role: Role::Owner,
                                control: false,
                                asked: false,
                            }],
                            seats: 1,
                            implicit: false,
                            held: Vec::new(),
                        });
                    }
                }
                Action::Room(_) => {
                    assert!(model.welcomed, "a room request before the welcome");
                    assert!(matches!(
                        sent,
                        Some(
                            ClientMsg::RequestControl
                                | ClientMsg::GiveControl { .. }
                                | ClientMsg::TakeControl
                                | ClientMsg::ReleaseControl
                                | ClientMsg::Kick { .. }
                                | ClientMsg::SetRole { .. }
                                | ClientMsg::SetName { .. }
                                | ClientMsg::Point { .. }
                        )
                    ));
                }
                Action::KeyboardLayout(k) => {
                    assert!(model.welcomed, "a keyboard layout before the welcome");
                    assert!(
                        matches!(&sent, Some(ClientMsg::KeyboardLayout { layout }) if *layout == k.to_string())
                    );
                    // Names only: they go to setxkbmap as arguments.
                    let name = k.to_string();
                    assert!(
                        name.starts_with(|c: char| c.is_ascii_lowercase())
                            && name.bytes().all(|b| b.is_ascii_lowercase()
                                || b.is_ascii_digit()
                                || b"_-:".contains(&b)),
                        "{name:?}"
                    );
                }
            }
        }
    }
}

/// The page's message as the connection reads it, checked to write back as itself.
fn check_parse(text: &str) -> Option<ClientMsg> {
    let msg = ClientMsg::parse(text).ok()?;
    let json = serde_json::to_string(&msg).expect("a parsed message serialises");
    let back =
        ClientMsg::parse(&json).unwrap_or_else(|e| panic!("{json:?} does not read back: {e}"));
    match (&msg, &back) {
        // Decimal to binary may round differently by an ulp; the value is what matters.
        (ClientMsg::FramePhase { lead_ms: a }, ClientMsg::FramePhase { lead_ms: b }) => {
            assert!((a - b).abs() <= a.abs() * 1e-15, "{a} became {b}");
        }
        _ => assert_eq!(back, msg),
    }
    Some(msg)
}
