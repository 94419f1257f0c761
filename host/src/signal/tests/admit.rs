//! The password in `hello`: throttled guesses, the viewers' password, the device token.

use super::*;

#[test]
fn a_burst_of_guesses_waits_and_the_right_password_gets_in_after_the_wait() {
    let (cfg, c) = (config(Some("s3cret")), SignalCounters::default());
    let mut throttle = Throttle::new(ThrottleCounters::default());
    let t0 = Instant::now();
    let guess = r#"{"type":"hello","password":"guess"}"#;
    let right = r#"{"type":"hello","password":"s3cret"}"#;
    let mut waits = Vec::new();
    // 50 guesses as fast as they come, each on a new socket.
    for i in 0..50 {
        let mut conn = Connection::new(PeerId(i));
        let out = run_at(&mut conn, &cfg, &c, &mut throttle, t0, guess);
        if let Action::Send(ServerMsg::Error {
            code: ErrorCode::TooManyAttempts,
            retry_after_s,
            ..
        }) = &out[0]
        {
            waits.push(retry_after_s.expect("the wait is told"));
            assert_eq!(
                out[1],
                Action::Close(CLOSE_TOO_MANY_ATTEMPTS, "too many attempts")
            );
        }
    }
    assert_eq!(waits.len(), 45, "more than 5 checks in a second were made");
    assert_eq!(waits[0], 1);
    // Even the right password waits out the second.
    let mut conn = Connection::new(PeerId(99));
    let out = run_at(&mut conn, &cfg, &c, &mut throttle, t0, right);
    assert_eq!(error_code(&out[0]), Some(ErrorCode::TooManyAttempts));
    let mut conn = Connection::new(PeerId(100));
    let later = t0 + Duration::from_secs(1);
    let out = run_at(&mut conn, &cfg, &c, &mut throttle, later, right);
    assert!(
        matches!(out[1], Action::Send(ServerMsg::Welcome { .. })),
        "{out:?}"
    );
}

#[test]
fn the_viewer_password_admits_viewers_and_the_owner_password_owners() {
    let c = SignalCounters::default();
    let cfg = SignalConfig {
        viewer_password: Some("look".into()),
        ..config(Some("drive"))
    };
    let mut throttle = Throttle::new(ThrottleCounters::default());
    let now = Instant::now();
    let admitted = |throttle: &mut Throttle, password: &str| {
        let mut conn = Connection::new(PeerId(1));
        let hello = format!(r#"{{"type":"hello","password":"{password}"}}"#);
        let out = run_at(&mut conn, &cfg, &c, throttle, now, &hello);
        match &out[0] {
            Action::Join { admission, .. } => Some(*admission),
            _ => None,
        }
    };
    assert_eq!(admitted(&mut throttle, "drive"), Some(Admission::Owner));
    assert_eq!(admitted(&mut throttle, "look"), Some(Admission::Viewer));
    assert_eq!(admitted(&mut throttle, "lookx"), None);
    assert_eq!(admitted(&mut throttle, ""), None);
}

#[test]
fn only_the_owners_password_earns_a_device_token() {
    let me = IpAddr::from([10, 0, 0, 9]);
    let both = SignalConfig {
        viewer_password: Some("look".into()),
        ..config(Some("drive"))
    };
    let mut throttle = Throttle::new(ThrottleCounters::default());
    let now = Instant::now();
    let owner = both.admit(&mut throttle, now, me, None, Some("drive"));
    assert_eq!(
        (owner.verdict, owner.admission),
        (Verdict::Accepted, Admission::Owner)
    );
    let token = owner.device.expect("the owner's browser gets a token");
    assert_eq!(token.len(), 32);
    // Given back, it is known: no second token.
    let again = both.admit(&mut throttle, now, me, Some(&token), Some("drive"));
    assert_eq!((again.verdict, again.device), (Verdict::Accepted, None));
    // A viewer gets none, even with a token it made up, nor does a wrong password.
    for device in [None, Some("0123456789abcdef0123456789abcdef")] {
        let viewer = both.admit(&mut throttle, now, me, device, Some("look"));
        assert_eq!(
            (viewer.verdict, viewer.admission, viewer.device),
            (Verdict::Accepted, Admission::Viewer, None)
        );
        let wrong = both.admit(&mut throttle, now, me, device, Some("guess"));
        assert_eq!((wrong.verdict, wrong.device), (Verdict::Refused, None));
    }
    // Without an owner's password there is nothing to guess and no token: the viewers'
    // password alone, or none at all.
    let viewers_only = SignalConfig {
        viewer_password: Some("look".into()),
        ..config(None)
    };
    let v = viewers_only.admit(&mut throttle, now, me, None, Some("look"));
    assert_eq!((v.admission, v.device), (Admission::Viewer, None));
    let open = config(None).admit(&mut throttle, now, me, None, None);
    assert_eq!(
        (open.verdict, open.admission, open.device),
        (Verdict::Accepted, Admission::Open, None)
    );
}
