//! The signaling state machine driven with messages alone: no server, no socket.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::throttle::{Throttle, ThrottleCounters};
use super::*;

fn config(password: Option<&str>) -> SignalConfig {
    SignalConfig {
        password: password.map(str::to_owned),
        viewer_password: None,
        audio: true,
        pixelated: false,
        game: false,
        ice: Default::default(),
        max_kbps: 8000,
    }
}

/// Feeds `text` to `conn`, and a password check's verdict back as the transport would, with a
/// fresh throttle (no wait) for one client.
fn run(conn: &mut Connection, cfg: &SignalConfig, c: &SignalCounters, text: &str) -> Vec<Action> {
    let mut throttle = Throttle::new(ThrottleCounters::default());
    run_at(conn, cfg, c, &mut throttle, Instant::now(), text)
}

fn run_at(
    conn: &mut Connection,
    cfg: &SignalConfig,
    c: &SignalCounters,
    throttle: &mut Throttle,
    now: Instant,
    text: &str,
) -> Vec<Action> {
    let mut out = Vec::new();
    conn.handle_text(cfg, c, text, &mut out);
    let mut done = Vec::new();
    for action in out {
        match action {
            Action::Authenticate(given) => {
                let client = IpAddr::from([10, 0, 0, 9]);
                let a = cfg.admit(throttle, now, client, conn.device(), given.as_deref());
                conn.handle_verdict(cfg, c, a.verdict, a.admission, &mut done);
            }
            other => done.push(other),
        }
    }
    done
}

fn error_code(a: &Action) -> Option<ErrorCode> {
    match a {
        Action::Send(ServerMsg::Error { code, .. }) => Some(*code),
        _ => None,
    }
}

#[test]
fn hello_then_offer_gets_a_welcome_and_an_offer_for_the_same_peer() {
    let (cfg, c) = (config(None), SignalCounters::default());
    let mut conn = Connection::new(PeerId(7));
    let out = run(&mut conn, &cfg, &c, r#"{"type":"hello","name":"Ann"}"#);
    assert_eq!(
        out,
        vec![
            // It joins the room (no password: the room decides its role), then is welcomed.
            Action::Join {
                admission: Admission::Open,
                name: Some("Ann".into()),
                rejoin: None,
            },
            Action::Send(ServerMsg::Welcome {
                peer: 7,
                audio: true,
                pixelated: false,
                game: false,
                ice_servers: false,
                max_kbps: 8000,
            })
        ]
    );
    let out = run(&mut conn, &cfg, &c, r#"{"type":"offer","sdp":"v=0"}"#);
    assert_eq!(out, vec![Action::Offer(PeerId(7), "v=0".into(), None)]);
    // A second offer goes to the session for the same peer, which is not made to leave: the
    // session renegotiates it (an ICE restart) or replaces it (another connection).
    // With the page's measure of its link, which goes along.
    let out = run(
        &mut conn,
        &cfg,
        &c,
        r#"{"type":"offer","sdp":"v=1","link_kbps":380}"#,
    );
    assert_eq!(out, vec![Action::Offer(PeerId(7), "v=1".into(), Some(380))]);
    // A measure that is no rate is refused, and counted; nothing goes to the session.
    for bad in ["0", "-5", "380.5", "\"380\"", "4294967296"] {
        let msg = format!(r#"{{"type":"offer","sdp":"v=2","link_kbps":{bad}}}"#);
        let out = run(&mut conn, &cfg, &c, &msg);
        assert_eq!(
            error_code(&out[0]),
            Some(ErrorCode::BadMessage),
            "{bad}: {out:?}"
        );
        assert_eq!(out.len(), 1, "{bad}: {out:?}");
    }
    assert_eq!(c.bad_messages.get(), 5);
    let mut out = Vec::new();
    conn.handle_offer_result(&c, Ok("answer".into()), &mut out);
    assert_eq!(
        out,
        vec![Action::Send(ServerMsg::Answer {
            sdp: "answer".into()
        })]
    );
    let mut out = Vec::new();
    conn.handle_closed(&mut out);
    assert_eq!(out, vec![Action::Leave(PeerId(7))]);
    assert_eq!(c.bad_messages.get(), 5);
}

#[test]
fn nothing_is_taken_before_hello() {
    let (cfg, c) = (config(None), SignalCounters::default());
    let mut conn = Connection::new(PeerId(1));
    for msg in [
        r#"{"type":"offer","sdp":"v=0"}"#,
        r#"{"type":"candidate","candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host"}"#,
        r#"{"type":"save-state"}"#,
        r#"{"type":"frame-phase","lead_ms":3}"#,
    ] {
        let out = run(&mut conn, &cfg, &c, msg);
        assert_eq!(out.len(), 1, "{msg}: {out:?}");
        assert_eq!(error_code(&out[0]), Some(ErrorCode::BadMessage), "{msg}");
        assert!(
            format!("{:?}", out[0]).contains("say hello first"),
            "{out:?}"
        );
    }
    assert_eq!(c.bad_messages.get(), 4);
    assert!(!conn.is_closed(), "the page may still say hello");
    // Closing a socket that never offered removes no peer.
    let mut out = Vec::new();
    conn.handle_closed(&mut out);
    assert!(out.is_empty());
}

#[test]
fn a_frame_phase_counts_only_from_a_page_that_offered() {
    let (cfg, c) = (config(None), SignalCounters::default());
    let mut conn = Connection::new(PeerId(1));
    run(&mut conn, &cfg, &c, r#"{"type":"hello"}"#);
    let mut out = Vec::new();
    conn.handle_verdict(&cfg, &c, Verdict::Accepted, Admission::Open, &mut out);
    let phase = r#"{"type":"frame-phase","lead_ms":3}"#;
    let out = run(&mut conn, &cfg, &c, phase);
    assert_eq!(error_code(&out[0]), Some(ErrorCode::BadMessage), "{out:?}");
    run(&mut conn, &cfg, &c, r#"{"type":"offer","sdp":"v=0"}"#);
    assert_eq!(
        run(&mut conn, &cfg, &c, phase),
        vec![Action::FramePhase(3.0)]
    );
}

#[test]
fn a_page_caps_its_own_rate_after_its_offer_and_a_cap_under_the_floor_is_refused() {
    let (cfg, c) = (config(None), SignalCounters::default());
    let mut conn = Connection::new(PeerId(1));
    run(&mut conn, &cfg, &c, r#"{"type":"hello"}"#);
    let mut out = Vec::new();
    conn.handle_verdict(&cfg, &c, Verdict::Accepted, Admission::Open, &mut out);
    let cap = r#"{"type":"max-bitrate","kbps":1000}"#;
    let out = run(&mut conn, &cfg, &c, cap);
    assert_eq!(error_code(&out[0]), Some(ErrorCode::BadMessage), "{out:?}");
    run(&mut conn, &cfg, &c, r#"{"type":"offer","sdp":"v=0"}"#);
    assert_eq!(
        run(&mut conn, &cfg, &c, cap),
        vec![Action::MaxBitrate(PeerId(1), Some(1000))]
    );
    assert_eq!(
        run(&mut conn, &cfg, &c, r#"{"type":"max-bitrate","kbps":null}"#),
        vec![Action::MaxBitrate(PeerId(1), None)]
    );
    let before = c.bad_messages.get();
    for bad in [
        r#"{"type":"max-bitrate","kbps":10}"#,
        r#"{"type":"max-bitrate","kbps":-1}"#,
        r#"{"type":"max-bitrate","kbps":"fast"}"#,
    ] {
        let out = run(&mut conn, &cfg, &c, bad);
        assert_eq!(
            error_code(&out[0]),
            Some(ErrorCode::BadMessage),
            "{bad}: {out:?}"
        );
    }
    assert_eq!(c.bad_messages.get(), before + 3);
    assert!(!conn.is_closed());
}

#[test]
fn a_keyboard_layout_goes_to_the_display_and_a_bad_one_is_refused() {
    let (cfg, c) = (config(None), SignalCounters::default());
    let mut conn = Connection::new(PeerId(1));
    run(&mut conn, &cfg, &c, r#"{"type":"hello"}"#);
    let mut out = Vec::new();
    conn.handle_verdict(&cfg, &c, Verdict::Accepted, Admission::Open, &mut out);
    let out = run(
        &mut conn,
        &cfg,
        &c,
        r#"{"type":"keyboard-layout","layout":"de:nodeadkeys"}"#,
    );
    assert_eq!(
        out,
        vec![Action::KeyboardLayout(KeyboardLayout {
            layout: "de".into(),
            variant: Some("nodeadkeys".into())
        })]
    );
    for bad in ["-display :0", "FR", "fr;reboot", ""] {
        let msg = format!(r#"{{"type":"keyboard-layout","layout":"{bad}"}}"#);
        let out = run(&mut conn, &cfg, &c, &msg);
        assert_eq!(error_code(&out[0]), Some(ErrorCode::BadMessage), "{bad}");
    }
}

#[test]
fn an_unreadable_message_is_told_counted_and_closes_with_its_code() {
    let c = SignalCounters::default();
    for (unreadable, code) in [
        (Unreadable::TooBig { max: 65536 }, CLOSE_TOO_BIG),
        (Unreadable::Protocol("bad opcode".into()), CLOSE_PROTOCOL),
    ] {
        let mut conn = Connection::new(PeerId(1));
        let mut out = Vec::new();
        conn.handle_unreadable(&c, unreadable, &mut out);
        assert_eq!(error_code(&out[0]), Some(ErrorCode::BadMessage));
        assert!(
            matches!(out[1], Action::Close(c, _) if c == code),
            "{out:?}"
        );
        assert!(conn.is_closed());
        // Told once: a second read error on the same socket says nothing more.
        let mut again = Vec::new();
        conn.handle_unreadable(&c, Unreadable::Protocol("more".into()), &mut again);
        assert!(again.is_empty());
    }
    assert_eq!(c.bad_messages.get(), 2);
}

#[test]
fn a_wrong_password_is_refused_counted_and_closes_the_socket() {
    let (cfg, c) = (config(Some("s3cret")), SignalCounters::default());
    for hello in [
        r#"{"type":"hello"}"#,
        r#"{"type":"hello","password":"guess"}"#,
    ] {
        let mut conn = Connection::new(PeerId(1));
        let out = run(&mut conn, &cfg, &c, hello);
        assert_eq!(error_code(&out[0]), Some(ErrorCode::Unauthorized));
        assert_eq!(out[1], Action::Close(CLOSE_UNAUTHORIZED, "unauthorized"));
        assert!(conn.is_closed());
        // Nothing after that is taken, text or binary (the fuzzer found a binary message
        // still answered on a closed connection).
        assert!(run(&mut conn, &cfg, &c, r#"{"type":"offer","sdp":"v=0"}"#).is_empty());
        let mut out = Vec::new();
        conn.handle_binary(&c, &mut out);
        assert!(out.is_empty(), "{out:?}");
    }
    assert_eq!(c.refused.get(), 2);
    let mut conn = Connection::new(PeerId(2));
    let out = run(
        &mut conn,
        &cfg,
        &c,
        r#"{"type":"hello","password":"s3cret"}"#,
    );
    assert!(matches!(
        out[0],
        Action::Join {
            admission: Admission::Owner,
            ..
        }
    ));
    assert!(matches!(out[1], Action::Send(ServerMsg::Welcome { .. })));
}

#[test]
fn garbage_is_answered_counted_and_changes_nothing() {
    let (cfg, c) = (config(None), SignalCounters::default());
    let mut conn = Connection::new(PeerId(1));
    run(&mut conn, &cfg, &c, r#"{"type":"hello"}"#);
    for bad in [
        "not json",
        "[]",
        r#"{"type":"launch-missiles"}"#,
        r#"{"type":"offer","sdp":"v=0","extra":1}"#,
        r#"{"type":"candidate","candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host"}"#,
    ] {
        let out = run(&mut conn, &cfg, &c, bad);
        assert_eq!(out.len(), 1, "{bad}: {out:?}");
        assert_eq!(error_code(&out[0]), Some(ErrorCode::BadMessage), "{bad}");
    }
    let mut out = Vec::new();
    conn.handle_binary(&c, &mut out);
    assert_eq!(error_code(&out[0]), Some(ErrorCode::BadMessage));
    assert_eq!(c.bad_messages.get(), 6);
    assert!(!conn.is_closed());
    // Still usable.
    let out = run(&mut conn, &cfg, &c, r#"{"type":"offer","sdp":"v=0"}"#);
    assert_eq!(out, vec![Action::Offer(PeerId(1), "v=0".into(), None)]);
    let out = run(
        &mut conn,
        &cfg,
        &c,
        r#"{"type":"candidate","candidate":"candidate:1","sdp_mid":"0"}"#,
    );
    assert_eq!(
        out,
        vec![Action::Candidate(PeerId(1), "candidate:1".into())]
    );
    // A client that keeps at it is closed: told why, its peer gone, nothing taken after.
    for _ in 6..MAX_BAD_MESSAGES - 1 {
        assert_eq!(run(&mut conn, &cfg, &c, "[]").len(), 1);
    }
    let out = run(&mut conn, &cfg, &c, "[]");
    assert!(
        out.contains(&Action::Close(CLOSE_POLICY, "too many bad messages")),
        "{out:?}"
    );
    assert!(out.contains(&Action::Leave(PeerId(1))), "{out:?}");
    assert!(conn.is_closed());
    assert!(run(&mut conn, &cfg, &c, "[]").is_empty());
    assert_eq!(c.bad_messages.get(), u64::from(MAX_BAD_MESSAGES));
}

#[test]
fn game_commands_need_a_game() {
    let c = SignalCounters::default();
    let mut conn = Connection::new(PeerId(1));
    let cfg = config(None);
    run(&mut conn, &cfg, &c, r#"{"type":"hello"}"#);
    let out = run(&mut conn, &cfg, &c, r#"{"type":"save-state"}"#);
    assert_eq!(error_code(&out[0]), Some(ErrorCode::NotAGame));
    let game = SignalConfig {
        game: true,
        ..config(None)
    };
    // A page that is neither an owner nor a player may not.
    let out = run(&mut conn, &game, &c, r#"{"type":"load-state"}"#);
    assert_eq!(error_code(&out[0]), Some(ErrorCode::Forbidden));
    let members = |role, control| ServerMsg::Members {
        members: vec![crate::input::roles::MemberView {
            peer: 1,
            name: "Ann".into(),
            role,
            control,
            asked: false,
        }],
        seats: 4,
        implicit: true,
        held: Vec::new(),
    };
    use crate::input::roles::Role;
    conn.handle_notice(&members(Role::Viewer, true));
    let out = run(&mut conn, &game, &c, r#"{"type":"load-state"}"#);
    assert_eq!(out, vec![Action::Game(GameRequest::Load)], "a player may");
    conn.handle_notice(&members(Role::Viewer, false));
    let out = run(&mut conn, &game, &c, r#"{"type":"save-state"}"#);
    assert_eq!(error_code(&out[0]), Some(ErrorCode::Forbidden));
    conn.handle_notice(&members(Role::Owner, false));
    let out = run(&mut conn, &game, &c, r#"{"type":"load-state"}"#);
    assert_eq!(out, vec![Action::Game(GameRequest::Load)], "an owner may");
    let mut out = Vec::new();
    conn.handle_game_result(Err(GameError::Failed("no state".into())), &mut out);
    assert_eq!(error_code(&out[0]), Some(ErrorCode::State));
}

#[test]
fn a_refused_offer_and_a_draining_host_are_told() {
    let c = SignalCounters::default();
    let mut conn = Connection::new(PeerId(1));
    let mut out = Vec::new();
    conn.handle_offer_result(
        &c,
        Err(OfferError::Session(SessionError::NoCodec("VP8"))),
        &mut out,
    );
    assert_eq!(error_code(&out[0]), Some(ErrorCode::OfferRejected));
    out.clear();
    conn.handle_offer_result(&c, Err(OfferError::Busy), &mut out);
    assert_eq!(error_code(&out[0]), Some(ErrorCode::Busy));
    out.clear();
    conn.handle_shutdown(
        &Shutdown::Draining("the host is shutting down".into()),
        &mut out,
    );
    assert_eq!(
        out,
        vec![
            Action::Send(ServerMsg::Draining {
                message: "the host is shutting down".into()
            }),
            Action::Close(CLOSE_GOING_AWAY, "session ended")
        ]
    );
    assert!(conn.is_closed());
}

#[test]
fn room_requests_go_to_the_room_only_after_welcome() {
    let (cfg, c) = (config(None), SignalCounters::default());
    let mut conn = Connection::new(PeerId(1));
    let out = run(&mut conn, &cfg, &c, r#"{"type":"request-control"}"#);
    assert_eq!(error_code(&out[0]), Some(ErrorCode::BadMessage));
    run(&mut conn, &cfg, &c, r#"{"type":"hello"}"#);
    for (text, want) in [
        (r#"{"type":"request-control"}"#, Request::Ask),
        (
            r#"{"type":"give-control","peer":3}"#,
            Request::Give(PeerId(3)),
        ),
        (r#"{"type":"take-control"}"#, Request::Take),
        (r#"{"type":"release-control"}"#, Request::Release),
        (r#"{"type":"kick","peer":4}"#, Request::Kick(PeerId(4))),
        (
            r#"{"type":"set-role","peer":4,"role":"owner"}"#,
            Request::SetRole(PeerId(4), crate::input::roles::Role::Owner),
        ),
        (
            r#"{"type":"set-name","name":"Bo"}"#,
            Request::Rename("Bo".into()),
        ),
    ] {
        assert_eq!(
            run(&mut conn, &cfg, &c, text),
            vec![Action::Room(want)],
            "{text}"
        );
    }
    let out = run(
        &mut conn,
        &cfg,
        &c,
        r#"{"type":"set-role","peer":4,"role":"king"}"#,
    );
    assert_eq!(error_code(&out[0]), Some(ErrorCode::BadMessage));
}

#[test]
fn a_second_hello_is_a_bad_message_and_a_silent_socket_is_closed() {
    let (cfg, c) = (config(None), SignalCounters::default());
    let mut conn = Connection::new(PeerId(1));
    run(&mut conn, &cfg, &c, r#"{"type":"hello"}"#);
    let out = run(&mut conn, &cfg, &c, r#"{"type":"hello"}"#);
    assert_eq!(error_code(&out[0]), Some(ErrorCode::BadMessage));
    let mut silent = Connection::new(PeerId(2));
    let mut out = Vec::new();
    silent.handle_deadline(&c, &mut out);
    assert_eq!(error_code(&out[0]), Some(ErrorCode::HelloTimeout));
    assert_eq!(out[1], Action::Close(CLOSE_POLICY, "no hello"));
    assert!(silent.is_closed());
    assert_eq!((c.hello_timeouts.get(), c.connect_timeouts.get()), (1, 0));
}

#[test]
fn a_page_let_in_whose_picture_never_starts_is_closed_at_its_deadline() {
    let (cfg, c) = (config(None), SignalCounters::default());
    // Let in with no offer; with an offer refused; with one answered that never connects:
    // each is told, closed (its seat goes with the connection) and counted.
    let offer = r#"{"type":"offer","sdp":"v=0"}"#;
    let refused = Err(OfferError::Session(SessionError::BadOffer("v=0".into())));
    let answered = Ok("v=0".to_owned());
    for (n, result) in [None, Some(refused), Some(answered)]
        .into_iter()
        .enumerate()
    {
        let mut page = Connection::new(PeerId(n as u64));
        run(&mut page, &cfg, &c, r#"{"type":"hello"}"#);
        assert!(page.is_authed());
        if let Some(result) = result {
            run(&mut page, &cfg, &c, offer);
            page.handle_offer_result(&c, result, &mut Vec::new());
        }
        let mut out = Vec::new();
        page.handle_deadline(&c, &mut out);
        assert_eq!(error_code(&out[0]), Some(ErrorCode::ConnectTimeout), "{n}");
        assert_eq!(out[1], Action::Close(CLOSE_POLICY, "no picture"));
        assert!(page.is_closed());
        // A page that offered: its peer leaves the session with the socket (a fresh-user pass
        // filled every place of `--max-peers` with answered offers that never connected).
        let left = out.contains(&Action::Leave(PeerId(n as u64)));
        assert_eq!(left, n > 0, "{n}: {out:?}");
    }
    assert_eq!((c.hello_timeouts.get(), c.connect_timeouts.get()), (0, 3));
    // One whose picture started (the screen's size went out before its first frame): the
    // deadline changes nothing.
    let mut page = Connection::new(PeerId(9));
    run(&mut page, &cfg, &c, r#"{"type":"hello"}"#);
    run(&mut page, &cfg, &c, offer);
    page.handle_notice(&ServerMsg::Screen {
        width: 1280,
        height: 720,
    });
    let mut out = Vec::new();
    page.handle_deadline(&c, &mut out);
    assert!(out.is_empty() && !page.is_closed());
    assert_eq!(c.connect_timeouts.get(), 3);
}

#[test]
fn a_full_session_is_told_as_full() {
    let c = SignalCounters::default();
    let mut conn = Connection::new(PeerId(1));
    let mut out = Vec::new();
    conn.handle_offer_result(
        &c,
        Err(OfferError::Session(SessionError::Full(32))),
        &mut out,
    );
    assert_eq!(error_code(&out[0]), Some(ErrorCode::Full));
}

#[test]
fn a_page_beyond_the_seats_is_told_full_and_never_joins() {
    let (cfg, c) = (config(None), SignalCounters::default());
    let seats = throttle::Seats::new(1);
    let mut first = Connection::new(PeerId(1));
    let mut out = Vec::new();
    assert!(first.handle_seat(&c, seats.take(Instant::now(), None), &mut out));
    first.handle_verdict(&cfg, &c, Verdict::Accepted, Admission::Open, &mut out);
    assert!(matches!(out[0], Action::Join { .. }), "{out:?}");

    let mut second = Connection::new(PeerId(2));
    let mut out = Vec::new();
    assert!(!second.handle_seat(&c, seats.take(Instant::now(), None), &mut out));
    assert_eq!(error_code(&out[0]), Some(ErrorCode::Full), "{out:?}");
    assert_eq!(out[1], Action::Close(CLOSE_TRY_AGAIN_LATER, "full"));
    assert_eq!(out.len(), 2, "no join, no welcome: {out:?}");
    assert!(second.is_closed());
    assert_eq!(c.full.get(), 1);
    let ticket = match &out[0] {
        Action::Send(ServerMsg::Error {
            ticket: Some(t), ..
        }) => *t,
        other => panic!("no ticket: {other:?}"),
    };
    // Told its place in line, it gives it back in its next hello.
    let mut again = Connection::new(PeerId(3));
    let hello = format!(r#"{{"type":"hello","ticket":{ticket}}}"#);
    again.handle_text(&cfg, &c, &hello, &mut Vec::new());
    assert_eq!(again.ticket(), Some(ticket));
    // The first page's socket closes: its seat goes to the page in line, not to a newcomer.
    drop(first);
    let mut newcomer = Connection::new(PeerId(4));
    assert!(!newcomer.handle_seat(&c, seats.take(Instant::now(), None), &mut Vec::new()));
    assert!(again.handle_seat(
        &c,
        seats.take(Instant::now(), again.ticket()),
        &mut Vec::new()
    ));
}

mod admit;
mod rejoin;
