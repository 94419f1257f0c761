//! The ICE server URLs and credentials, as browsers and coturn take them.

use super::*;

fn url(s: &str) -> IceUrl {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn stun_and_turn_urls_are_taken_as_browsers_take_them() {
    let u = url("turn:turn.example.org:3478?transport=udp");
    assert_eq!(u.scheme, Scheme::Turn);
    assert_eq!(u.host, "turn.example.org");
    assert_eq!(u.port, Some(3478));
    assert_eq!(u.transport.as_deref(), Some("udp"));
    assert_eq!(u.to_string(), "turn:turn.example.org:3478?transport=udp");
    // Any case, passed on in lower case.
    let upper = url("TURN:turn.example.org:3478?Transport=UDP");
    assert_eq!(upper.transport.as_deref(), Some("udp"));
    assert_eq!(
        upper.to_string(),
        "TURN:turn.example.org:3478?transport=udp"
    );
    assert_eq!(url("stun:192.0.2.7").port, None);
    assert_eq!(url("turns:[2001:db8::1]:5349").host, "[2001:db8::1]");
    assert_eq!(url("stuns:stun.example.org:443").scheme, Scheme::Stuns);
}

#[test]
fn the_host_asks_the_first_stun_server_else_a_turn_server_over_udp() {
    let urls = |list: &[&str]| list.iter().map(|s| url(s)).collect::<Vec<_>>();
    let of = |list: &[&str]| binding_server(&urls(list));
    assert_eq!(
        of(&["turn:t.example.org", "stun:s.example.org:3479"]),
        Some(("s.example.org".into(), 3479))
    );
    assert_eq!(
        of(&[
            "stun:[2001:db8::2]",
            "turn:t.example.org?transport=tcp",
            "turn:192.0.2.9?transport=udp"
        ]),
        Some(("192.0.2.9".into(), 3478)),
        "over IPv4 and UDP only"
    );
    assert_eq!(of(&["stun:[2001:db8::2]"]), None);
    assert_eq!(of(&["stuns:s.example.org", "turns:t.example.org"]), None);
    assert_eq!(of(&[]), None);
    assert_eq!(url("turns:t.example.org").port_or_default(), 5349);
}

#[test]
fn bad_urls_say_what_is_wrong() {
    let err = |s: &str| s.parse::<IceUrl>().expect_err(s);
    assert!(matches!(err("http://x"), IceUrlError::Scheme(_)));
    assert!(matches!(err("turn.example.org"), IceUrlError::Scheme(_)));
    assert!(matches!(err("turn:u:p@host"), IceUrlError::Credentials(_)));
    assert!(matches!(err("turn:host:0"), IceUrlError::Port(_)));
    assert!(matches!(err("turn:host:70000"), IceUrlError::Port(_)));
    assert!(matches!(err("turn:host:x"), IceUrlError::Port(_)));
    assert!(matches!(
        err("stun:host:3478/path"),
        IceUrlError::AfterPort(_)
    ));
    assert!(matches!(
        err("stun:10.0.0.1:3478 extra"),
        IceUrlError::AfterPort(_)
    ));
    assert!(matches!(err("turn:host:70000x"), IceUrlError::Port(_)));
    assert!(matches!(
        err("stun:host?transport=udp"),
        IceUrlError::Query(_)
    ));
    assert!(matches!(
        err("turn:host?transport=sctp"),
        IceUrlError::Query(_)
    ));
    assert!(matches!(err("stun:"), IceUrlError::NoHost(_)));
    assert!(matches!(err("stun:ho st"), IceUrlError::BadHost { .. }));
    assert_eq!(
        err("stun:exa_mple.org").to_string(),
        "\"stun:exa_mple.org\": \"exa_mple.org\" is not a host name (labels of letters, \
         digits and inner '-', split by single '.') nor an address"
    );
    assert!(matches!(err("stun://example.org"), IceUrlError::Slashes(_)));
    let why = |s: &str| match err(s) {
        IceUrlError::BadHost { why, .. } => why,
        other => panic!("{s}: {other}"),
    };
    assert!(why("stun:[nope]:3478").contains("not an IPv6"));
    assert!(why("stun:[2001:db8::1").contains("no closing ]"));
    assert!(why("stun:[fe80::1%eth0]").contains("link-local"));
    assert!(why("stun:[fe80::1]:3478").contains("link-local"));
    assert!(why("stun:169.254.1.1").contains("link-local"));
    assert!(why("stun:2001:db8::1").contains("brackets"));
    assert!(why("stun:example..org").contains("not a host name"));
    assert!(why("stun:-example.org").contains("not a host name"));
    assert!(why("stun:1.2.3.4.5").contains("not an IPv4"));
    assert!(why("stun:1.2.3.256").contains("not an IPv4"));
    assert!(why("stun:0.0.0.0").contains("unicast"));
    assert!(why("stun:[ff02::1]").contains("unicast"));
    assert_eq!(url("stun:stun.example.org.:3478").port, Some(3478));
    assert_eq!(url("stun:4chan.example").host, "4chan.example");
    assert!(matches!(err("stun:[::1]x"), IceUrlError::Port(_)));
}

#[test]
fn turn_needs_credentials_and_credentials_need_turn() {
    let ttl = DEFAULT_TURN_TTL;
    let turn = || vec![url("turn:t.example.org")];
    let stun = || vec![url("stun:s.example.org")];
    let some = |s: &str| Some(s.to_owned());
    assert!(matches!(
        IceServers::new(turn(), None, None, None, ttl),
        Err(IceConfigError::TurnWithoutCredentials(_))
    ));
    assert_eq!(
        IceServers::new(stun(), None, None, some("s"), ttl),
        Err(IceConfigError::CredentialsWithoutTurn("--turn-secret"))
    );
    let static_without_turn = IceServers::new(stun(), some("u"), some("p"), None, ttl);
    assert_eq!(
        static_without_turn.as_ref().map_err(ToString::to_string),
        Err("--ice-username and --ice-credential are for turn: or turns: servers, and no --ice-server is one".to_owned())
    );
    assert_eq!(
        IceServers::new(Vec::new(), None, None, some("s"), ttl).map_err(|e| e.to_string()),
        Err("--turn-secret is for turn: or turns: servers, and no --ice-server is one".to_owned())
    );
    assert_eq!(
        IceServers::new(turn(), some("u"), None, None, ttl),
        Err(IceConfigError::HalfCredentials)
    );
    assert_eq!(
        IceServers::new(turn(), None, None, some(""), ttl),
        Err(IceConfigError::Empty)
    );
    assert!(IceServers::new(stun(), None, None, None, ttl).is_ok());
    assert!(IceServers::new(turn(), some("u"), some("p"), None, ttl).is_ok());
}

#[test]
fn a_page_gets_stun_bare_and_turn_with_fixed_credentials() {
    let servers = IceServers::new(
        vec![
            url("stun:s.example.org"),
            url("turn:t.example.org?transport=udp"),
        ],
        Some("u".into()),
        Some("p".into()),
        None,
        DEFAULT_TURN_TTL,
    )
    .expect("valid");
    let page = servers.for_page("peer1", SystemTime::now());
    let json = serde_json::to_value(&page).expect("json");
    assert_eq!(
        json,
        serde_json::json!([
            { "urls": ["stun:s.example.org"] },
            { "urls": ["turn:t.example.org?transport=udp"], "username": "u", "credential": "p" }
        ])
    );
}

/// A TURN server whose credentials are minted from the secret "north", good for `ttl`.
fn minted(ttl: Duration) -> IceServers {
    let turn = vec![url("turn:t.example.org")];
    IceServers::new(turn, None, None, Some("north".into()), ttl).expect("valid")
}

/// Minted credentials are renewed at half their life while the page stays, so that an ICE
/// restart after a lost path still gets a relay; fixed ones never are.
#[test]
fn minted_credentials_are_renewed_at_half_their_life() {
    let servers = minted(Duration::from_secs(600));
    let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let at = |s: u64| t0 + Duration::from_secs(s);
    let mut given = None;
    assert_eq!(
        servers.renewed("peer3", &mut given, at(400)),
        None,
        "none given yet"
    );
    given = Some(t0);
    assert_eq!(servers.renewed("peer3", &mut given, at(299)), None);
    let renewed = servers
        .renewed("peer3", &mut given, at(300))
        .expect("renewed");
    assert_eq!(renewed[0].username.as_deref(), Some("1700000900:peer3"));
    assert_eq!(given, Some(at(300)));
    assert_eq!(servers.renewed("peer3", &mut given, at(599)), None);
    assert!(servers.renewed("peer3", &mut given, at(600)).is_some());
    // A clock set back renews nothing (and never panics).
    assert_eq!(servers.renewed("peer3", &mut given, t0), None);
    let fixed = IceServers::new(
        vec![url("turn:t.example.org")],
        Some("u".into()),
        Some("p".into()),
        None,
        DEFAULT_TURN_TTL,
    )
    .expect("valid");
    let mut given = Some(t0);
    assert_eq!(fixed.renewed("peer3", &mut given, at(1_000_000)), None);
}

#[test]
fn minted_credentials_follow_coturns_rest_scheme() {
    // What coturn computes for user "1700000000:peer3" with static-auth-secret "north":
    // printf '1700000000:peer3' | openssl dgst -sha1 -hmac north -binary | base64
    assert_eq!(
        rest_credential(b"north", "1700000000:peer3"),
        "N0/OmPqseVw9jQrWtefTDUy8mx8="
    );
    let servers = minted(Duration::from_secs(600));
    let now = UNIX_EPOCH + Duration::from_secs(1_699_999_400);
    let page = servers.for_page("peer3", now);
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].username.as_deref(), Some("1700000000:peer3"));
    assert_eq!(
        page[0].credential.as_deref(),
        Some("N0/OmPqseVw9jQrWtefTDUy8mx8=")
    );
    // The secret never reaches a page, nor a log line.
    assert!(!format!("{servers:?}").contains("north"));
    // A lifetime past what --turn-ttl takes (made in code) is held to MAX_TURN_TTL, never an
    // overflow: a panic there closed every page's socket after its welcome.
    let long = minted(Duration::MAX);
    let page = long.for_page("peer4", now);
    let expiry = 1_699_999_400 + MAX_TURN_TTL.as_secs();
    assert_eq!(
        page[0].username.as_deref(),
        Some(format!("{expiry}:peer4").as_str())
    );
}
