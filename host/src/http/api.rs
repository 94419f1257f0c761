//! Read-only HTTP API: `GET /api/stats` (JSON) and `GET /metrics` (Prometheus text format).
//!
//! When Glint has a password these need it too, as `Authorization: Bearer <password>` (never
//! in the URL, which proxies and logs keep), since they name peers and their figures. The
//! checks go through the same per-address [`Throttle`] as signaling's.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use warp::http::header::{CONTENT_TYPE, RETRY_AFTER};
use warp::http::StatusCode;
use warp::Filter;

use super::front::ClientAddr;
use crate::metrics::Metrics;
use crate::signal::throttle::{Throttle, Verdict};
use crate::stats::Stats;

const METRICS_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The answer to a request whose token was refused: 401, or 429 with `Retry-After`.
pub fn refused(verdict: Verdict) -> warp::http::Response<String> {
    let (status, body, wait) = match verdict {
        Verdict::Wait(w) => {
            let secs = crate::signal::throttle::wait_secs(w);
            (
                StatusCode::TOO_MANY_REQUESTS,
                format!(r#"{{"error":"too-many-attempts","message":"too many password attempts from this address","retry_after_s":{secs}}}"#),
                Some(secs),
            )
        }
        _ => (
            StatusCode::UNAUTHORIZED,
            r#"{"error":"unauthorized","message":"wrong or missing password or token: give it as an Authorization: Bearer header"}"#.to_owned(),
            None,
        ),
    };
    let mut answer = warp::http::Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json");
    if let Some(secs) = wait {
        answer = answer.header(RETRY_AFTER, secs);
    }
    answer.body(body).unwrap_or_default()
}

/// The token of an `Authorization` header's value, when its scheme is `Bearer` (RFC 9110
/// §11.1: the scheme is case-insensitive; RFC 6750 §2.1: `Bearer <token>`).
pub(super) fn bearer(header: Option<&str>) -> Option<&str> {
    header
        .and_then(|h| h.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

/// A number as written in a route (a block, a member): `0`, `1`, `2`, ... (decimal digits, no
/// sign, no leading zero); `None` for anything else (`+2` and `02` are not member 2).
pub(super) fn path_number(text: &str) -> Option<u64> {
    let canonical = text == "0"
        || (!text.starts_with('0') && !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()));
    text.parse().ok().filter(|_| canonical)
}

/// Who a request's `Authorization: Bearer` token says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The owner's password or the API token (or no password on an open host): every route.
    Full,
    /// The viewers' password (`--viewer-password`): the read-only figures (`/api/stats`,
    /// `/metrics`, which a viewer's stats overlay shows), nothing that acts. A right password,
    /// so never counted as a failed guess (a viewer's overlay asks every second).
    Viewer,
    /// Refused: 401, or 429 while the address must wait ([`refused`]).
    Refused(Verdict),
}

/// Who a request is by its `Authorization: Bearer` token: one of `secrets` (the owner's
/// password, the API token) or `viewer` (the viewers' password, a lesser secret: it clears no
/// failures); with no secrets, every request is taken.
pub(super) fn verdict(
    throttle: &Mutex<Throttle>,
    secrets: &[String],
    viewer: Option<&str>,
    client: Option<ClientAddr>,
    header: Option<&str>,
) -> Access {
    let given = bearer(header);
    let ip = client.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    // An open host (no secrets) takes requests without a token; one with a token it cannot
    // know is refused rather than taken as if it had none.
    if secrets.is_empty() && given.is_some() {
        return Access::Refused(Verdict::Refused);
    }
    let mut wants: Vec<&str> = secrets.iter().map(String::as_str).collect();
    wants.extend(viewer);
    let checked = match throttle.lock() {
        Ok(mut t) => t.check_ranked(Instant::now(), ip, &wants, secrets.len(), given),
        Err(_) => (Verdict::Refused, None),
    };
    match checked {
        (Verdict::Accepted, Some(i)) if i >= secrets.len() => Access::Viewer,
        (Verdict::Accepted, _) => Access::Full,
        (v, _) => Access::Refused(v),
    }
}

/// Who each request is by its bearer token (see `verdict`).
pub fn auth(
    secrets: Vec<String>,
    viewer: Option<String>,
    throttle: Arc<Mutex<Throttle>>,
) -> impl Filter<Extract = (Access,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    let secrets = Arc::new(secrets);
    warp::ext::optional::<ClientAddr>()
        .and(warp::header::optional::<String>("authorization"))
        .map(move |client: Option<ClientAddr>, h: Option<String>| {
            verdict(&throttle, &secrets, viewer.as_deref(), client, h.as_deref())
        })
}

/// The answer to the viewers' password on a route that acts (the control API, files): 403,
/// not a failed guess.
pub fn viewers_may_not(what: &str) -> warp::reply::Response {
    super::control::error(
        StatusCode::FORBIDDEN,
        "forbidden",
        &format!(
            "the viewers' password does not open {what}: use the owner's password or the API token"
        ),
    )
}

pub fn routes(
    stats: Arc<Stats>,
    metrics: Arc<Metrics>,
    auth: impl Filter<Extract = (Access,), Error = warp::Rejection> + Clone + Send + Sync + 'static,
) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    let for_json = metrics.clone();
    let json = warp::path!("api" / "stats")
        .and(auth.clone())
        .map(move |a: Access| {
            if let Access::Refused(v) = a {
                return refused(v);
            }
            let body = serde_json::to_string(&stats.snapshot(&for_json))
                .unwrap_or_else(|e| format!(r#"{{"error":"internal","message":"{e}"}}"#));
            warp::http::Response::builder()
                .header(CONTENT_TYPE, "application/json")
                .body(body)
                .unwrap_or_default()
        });
    let metrics = warp::path!("metrics").and(auth).map(move |a: Access| {
        if let Access::Refused(v) = a {
            return refused(v);
        }
        match metrics.encode() {
            Ok(text) => warp::http::Response::builder()
                .header(CONTENT_TYPE, METRICS_TYPE)
                .body(text)
                .unwrap_or_default(),
            Err(_) => warp::http::Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .body("cannot encode metrics".to_owned())
                .unwrap_or_default(),
        }
    });
    warp::get().and(json.or(metrics))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::throttle::ThrottleCounters;

    #[test]
    fn route_numbers_are_plain_decimal() {
        for (text, n) in [("0", 0), ("1", 1), ("42", 42)] {
            assert_eq!(path_number(text), Some(n), "{text}");
        }
        let bad = [
            "",
            "01",
            "00",
            "+0",
            "-1",
            "abc",
            "0x0",
            "1e3",
            "18446744073709551616",
        ];
        for text in bad {
            assert_eq!(path_number(text), None, "{text}");
        }
    }

    #[test]
    fn the_password_is_a_bearer_token_and_checks_are_throttled() {
        let t = Mutex::new(Throttle::new(ThrottleCounters::default()));
        let me = Some(ClientAddr(([10, 0, 0, 1], 5000).into()));
        let pw: &[String] = &["s3cret".to_owned()];
        assert_eq!(verdict(&t, &[], None, me, None), Access::Full);
        assert_eq!(
            verdict(&t, &[], None, me, Some("Bearer x")),
            Access::Refused(Verdict::Refused)
        );
        assert_eq!(
            verdict(&t, pw, None, me, None),
            Access::Refused(Verdict::Refused)
        );
        assert_eq!(
            verdict(&t, pw, None, me, Some("Bearer s3cret")),
            Access::Full
        );
        assert_eq!(
            verdict(&t, pw, None, me, Some("bearer  s3cret")),
            Access::Full
        );
        assert_eq!(
            verdict(&t, pw, None, me, Some("s3cret")),
            Access::Refused(Verdict::Refused)
        );
        for _ in 0..5 {
            verdict(&t, pw, None, me, Some("Bearer nope"));
        }
        assert!(matches!(
            verdict(&t, pw, None, me, Some("Bearer s3cret")),
            Access::Refused(Verdict::Wait(_))
        ));
        let answer = refused(Verdict::Wait(std::time::Duration::from_millis(1500)));
        assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(answer.headers()[RETRY_AFTER], "2");
    }

    #[test]
    fn the_viewers_password_reads_figures_and_is_never_a_failed_guess() {
        let t = Mutex::new(Throttle::new(ThrottleCounters::default()));
        let me = Some(ClientAddr(([10, 0, 0, 2], 5000).into()));
        let owner: &[String] = &["s3cret".to_owned()];
        let viewer = Some("look");
        // A viewer's overlay asks every second, far past the free failures: never made to
        // wait, and the owner from the same address is not either.
        for _ in 0..100 {
            assert_eq!(
                verdict(&t, owner, viewer, me, Some("Bearer look")),
                Access::Viewer
            );
        }
        assert_eq!(
            verdict(&t, owner, viewer, me, Some("Bearer s3cret")),
            Access::Full
        );
        assert_eq!(
            verdict(&t, owner, viewer, me, Some("Bearer nope")),
            Access::Refused(Verdict::Refused)
        );
        assert_eq!(
            verdict(&t, owner, None, me, Some("Bearer look")),
            Access::Refused(Verdict::Refused)
        );
        let answer = viewers_may_not("the control API");
        assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    }
}
