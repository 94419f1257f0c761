//! A `hello` that gives back a rejoin token (`crate::input::roles::Joining`).

use super::*;
use crate::peer::{is_token, random_token};

#[test]
fn a_rejoin_token_goes_to_the_room_and_a_malformed_one_is_refused_without_spending_hello() {
    let (cfg, c) = (config(None), SignalCounters::default());
    let token = "fedcba9876543210fedcba9876543210";
    for bad in [
        "",
        "xyz",
        &token[1..],
        "g".repeat(32).as_str(),
        "é".repeat(16).as_str(),
    ] {
        let mut conn = Connection::new(PeerId(7));
        let hello = format!(r#"{{"type":"hello","rejoin":{}}}"#, serde_json::json!(bad));
        let out = run(&mut conn, &cfg, &c, &hello);
        assert_eq!(
            error_code(&out[0]),
            Some(ErrorCode::BadMessage),
            "{bad:?}: {out:?}"
        );
        assert!(!conn.is_authed() && !conn.is_closed());
        // A good hello after it is taken: the bad one did not count as the hello.
        let out = run(
            &mut conn,
            &cfg,
            &c,
            &format!(r#"{{"type":"hello","rejoin":"{token}"}}"#),
        );
        assert_eq!(
            out[0],
            Action::Join {
                admission: Admission::Open,
                name: None,
                rejoin: Some(token.into())
            },
            "{out:?}"
        );
    }
    assert_eq!(c.bad_messages.get(), 5);
}

#[test]
fn a_token_is_32_hex_digits_and_each_is_new() {
    let (a, b) = (
        random_token().expect("randomness"),
        random_token().expect("randomness"),
    );
    assert!(is_token(&a) && is_token(&b), "{a} {b}");
    assert_ne!(a, b);
    assert!(!is_token(&a[1..]) && !is_token(&format!("{}g", &a[1..])));
}

#[test]
fn a_hello_with_a_name_the_room_cannot_take_is_told_and_joins_as_a_guest() {
    let (cfg, c) = (config(None), SignalCounters::default());
    for bad in ["x".repeat(60), "\u{202e}nimda".into(), "  ".into()] {
        let mut conn = Connection::new(PeerId(7));
        let hello = serde_json::json!({ "type": "hello", "name": bad }).to_string();
        let out = run(&mut conn, &cfg, &c, &hello);
        assert_eq!(error_code(&out[0]), Some(ErrorCode::Forbidden), "{out:?}");
        assert!(
            matches!(&out[1], Action::Join { .. }),
            "it still joins: {out:?}"
        );
        assert!(conn.is_authed() && !conn.is_closed());
    }
    assert_eq!(c.bad_messages.get(), 3);
    // A good name is not an error.
    let mut conn = Connection::new(PeerId(8));
    let out = run(&mut conn, &cfg, &c, r#"{"type":"hello","name":"Ann"}"#);
    assert!(matches!(&out[0], Action::Join { .. }), "{out:?}");
}

#[test]
fn only_an_owners_or_a_drivers_seat_is_kept_when_its_socket_closes() {
    use crate::input::roles::{MemberView, Role};
    let (cfg, c) = (config(None), SignalCounters::default());
    let seats = throttle::Seats::new(1);
    let members = |role, control| ServerMsg::Members {
        members: vec![MemberView {
            peer: 1,
            name: "Ann".into(),
            role,
            control,
            asked: false,
        }],
        seats: 1,
        implicit: false,
        held: Vec::new(),
    };
    let pictured = || ServerMsg::Screen {
        width: 1280,
        height: 720,
    };
    let joined = |notices: &[ServerMsg]| {
        let mut conn = Connection::new(PeerId(1));
        let mut out = Vec::new();
        assert!(conn.handle_seat(&c, seats.take(Instant::now(), None), &mut out));
        conn.handle_verdict(&cfg, &c, Verdict::Accepted, Admission::Open, &mut out);
        conn.given_token("a".repeat(32));
        for n in notices {
            conn.handle_notice(n);
        }
        conn
    };
    // A viewer's page goes: the room holds nothing for it, so its seat frees at once.
    let viewer = joined(&[members(Role::Viewer, false), pictured()]);
    assert!(viewer.into_seat().is_none());
    assert!(
        joined(&[pictured()]).into_seat().is_none(),
        "before any member list"
    );
    // An owner's, or the page in control: the room holds its place, and the seat with it...
    let (seat, token) = joined(&[members(Role::Owner, false), pictured()])
        .into_seat()
        .expect("an owner's seat");
    assert_eq!(token, "a".repeat(32));
    drop(seat);
    let driver = joined(&[members(Role::Viewer, true), pictured()]);
    assert!(driver.into_seat().is_some());
    // ...once its picture had started: an owner's socket that only said hello (31 of them
    // filled every seat for 30 s) keeps none.
    let hello_only = joined(&[members(Role::Owner, false)]);
    assert!(!hello_only.pictured());
    assert!(hello_only.into_seat().is_none());
}
