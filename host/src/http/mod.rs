//! The only module that knows the web framework (warp) and the wire (hyper, TLS): the page,
//! signaling over WebSocket, the read-only API, health. Every request passes the front door
//! first ([`front`]: TLS, `Host`/`Origin` checks ([`guard`]), security headers).
//!
//! | route | what |
//! |---|---|
//! | `GET /`, `GET /v/<version>/src/*`, `GET /src/*` | the web client ([`assets`]; versioned names are cached for good) |
//! | `GET /ws` (upgrade) | signaling ([`ws`], state machine in `crate::signal`) |
//! | `GET /api/stats`, `GET /metrics` | figures ([`api`]) |
//! | `/api/members`, `/api/control`, `/api/game/*`, `/api/events` | the room, for other programs ([`control`]) |
//! | `/api/files`, `/api/files/*` | uploads and downloads ([`files`]) |
//! | `GET /healthz` | the process serves: `ok` |
//! | `GET /readyz` | it can take a viewer now: `ready`, or 503 with why not |

pub mod api;
pub mod assets;
mod body;
pub mod control;
pub mod files;
pub mod front;
pub mod guard;
pub mod tls;
pub mod ws;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use warp::http::StatusCode;
use warp::Filter;

use crate::health::Health;
use crate::metrics::Metrics;
use crate::stats::Stats;

/// Everything the routes serve from.
pub struct Served {
    pub hub: Arc<ws::Hub>,
    pub stats: Arc<Stats>,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    pub password: Option<String>,
    /// Also taken as the bearer token of the API (`--api-token`).
    pub api_token: Option<String>,
    /// Serve the page from this `web-client/` directory instead of the embedded copy.
    pub web_dir: Option<std::path::PathBuf>,
    /// The room's API answers programs (`--no-api`: 404 `api-off`).
    pub programs: bool,
}

/// Every route.
pub fn routes(
    s: Served,
) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone + Send + Sync + 'static
{
    let hub = s.hub;
    let secrets: Vec<String> = [s.password, s.api_token].into_iter().flatten().collect();
    // The viewers' password reads the API's figures and opens nothing that acts.
    let viewer = hub.config.viewer_password.clone();
    let auth = api::auth(secrets.clone(), viewer.clone(), hub.throttle.clone());
    let room = control::routes(hub.clone(), auth.clone(), s.programs);
    let files = files::routes(hub.clone(), secrets, viewer, s.programs);
    let signaling = warp::path("ws")
        .and(warp::path::end())
        .and(warp::ws())
        .and(warp::ext::optional::<front::ClientAddr>())
        .map(move |ws: warp::ws::Ws, client: Option<front::ClientAddr>| {
            let hub = hub.clone();
            let ip = client.map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
            ws.max_message_size(ws::MAX_MESSAGE)
                .max_frame_size(ws::MAX_MESSAGE)
                .on_upgrade(move |socket| ws::connection(socket, hub, ip))
        });
    // What reaches /ws without a WebSocket upgrade (a browser tab opened on it, a proxy that
    // drops the Upgrade header): 426, saying what the route is, not warp's rejection text.
    let not_upgraded = warp::path("ws").and(warp::path::end()).map(|| {
        control::error(
            StatusCode::UPGRADE_REQUIRED,
            "not-websocket",
            "/ws is glint's signaling WebSocket: open it as a WebSocket (Connection: Upgrade, \
             Upgrade: websocket, Sec-WebSocket-Version: 13); a proxy in front of glint must pass \
             the upgrade on",
        )
    });
    let health = warp::path("healthz").and(warp::path::end()).map(|| "ok");
    let h = s.health;
    let ready = warp::path("readyz")
        .and(warp::path::end())
        .map(move || match h.ready() {
            Ok(()) => warp::reply::with_status("ready".to_owned(), StatusCode::OK),
            Err(why) => warp::reply::with_status(
                format!("not ready: {why}"),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
        });
    // Health answers reads only: a POST to it is not a probe.
    let probes = warp::get().or(warp::head()).unify().and(health.or(ready));
    signaling
        .or(not_upgraded)
        .or(probes)
        .or(api::routes(s.stats, s.metrics, auth))
        .or(room)
        .or(files)
        .or(assets::routes(s.web_dir))
        .recover(|r: warp::Rejection| async move { Ok::<_, warp::Rejection>(rejected(&r)) })
}

/// A request no route took, answered as every API error is: `{"error": CODE, "message"}`.
fn rejected(r: &warp::Rejection) -> warp::reply::Response {
    use warp::reject as why;
    let (status, code, message) = if r.is_not_found() {
        (
            StatusCode::NOT_FOUND,
            "not-found",
            "no such route".to_owned(),
        )
    } else if let Some(e) = r.find::<body::Refused>() {
        match e {
            body::Refused::TooBig(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too-big", e.to_string()),
            body::Refused::Broken => (StatusCode::BAD_REQUEST, "bad-request", e.to_string()),
            body::Refused::Stalled => (StatusCode::REQUEST_TIMEOUT, "timeout", e.to_string()),
        }
    } else if let Some(e) = r.find::<why::MethodNotAllowed>() {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            e.to_string(),
        )
    } else if let Some(e) = r.find::<why::InvalidQuery>() {
        (StatusCode::BAD_REQUEST, "bad-request", e.to_string())
    } else if let Some(e) = r.find::<why::InvalidHeader>() {
        (StatusCode::BAD_REQUEST, "bad-request", e.to_string())
    } else if let Some(e) = r.find::<why::MissingHeader>() {
        (StatusCode::BAD_REQUEST, "bad-request", e.to_string())
    } else if let Some(e) = r.find::<why::UnsupportedMediaType>() {
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad-request",
            e.to_string(),
        )
    } else {
        tracing::debug!(rejection = ?r, "request refused");
        (StatusCode::BAD_REQUEST, "bad-request", format!("{r:?}"))
    };
    control::error(status, code, &message)
}

/// The address a user opens: `scheme://host:port/`, with `#password=` when there is one (a
/// fragment, which the browser never sends to the server). On an unspecified listen address
/// the host is `public_ip`, else the first address in `locals` that is not loopback, else
/// 127.0.0.1.
pub fn page_url(
    tls: bool,
    listen: SocketAddr,
    public_ip: Option<IpAddr>,
    locals: &[SocketAddr],
    password: &Option<String>,
) -> String {
    let ip = if listen.ip().is_unspecified() {
        public_ip
            .or_else(|| locals.iter().map(|a| a.ip()).find(|ip| !ip.is_loopback()))
            .unwrap_or(IpAddr::from([127, 0, 0, 1]))
    } else {
        listen.ip()
    };
    let scheme = if tls { "https" } else { "http" };
    let host = SocketAddr::new(ip, listen.port());
    format!("{scheme}://{host}/{}", fragment(password))
}

/// `#password=P`, or nothing without a password: encoded as the page reads it
/// (URLSearchParams: `+` is a space, `&` separates).
fn fragment(password: &Option<String>) -> String {
    match password {
        Some(p) => {
            let p: String = form_urlencoded::byte_serialize(p.as_bytes()).collect();
            format!("#password={p}")
        }
        None => String::new(),
    }
}

/// The addresses a user opens, [`page_url`]'s first; each other one comes with what it is for
/// ("on this network, URL", "over IPv6, URL"). On an unspecified listen address: with
/// `public_ip`, also the host's own address in `locals`, which a browser on the host's network
/// reaches without the NAT; on `[::]`, also the host's first IPv6 address in `locals` (loopback
/// aside), for a browser on an IPv6-only network. No address is given twice.
pub fn page_urls(
    tls: bool,
    listen: SocketAddr,
    public_ip: Option<IpAddr>,
    locals: &[SocketAddr],
    password: &Option<String>,
) -> Vec<String> {
    let mut urls = vec![page_url(tls, listen, public_ip, locals, password)];
    if !listen.ip().is_unspecified() {
        return urls;
    }
    let mut add = |what: &str, url: String| {
        if !urls.iter().any(|u| u.ends_with(&url)) {
            urls.push(format!("{what}, {url}"));
        }
    };
    if public_ip.is_some() {
        add(
            "on this network",
            page_url(tls, listen, None, locals, password),
        );
    }
    let ipv6 = locals
        .iter()
        .map(|a| a.ip())
        .find(|ip| ip.is_ipv6() && !ip.is_loopback());
    if let (true, Some(ip)) = (listen.is_ipv6(), ipv6) {
        add(
            "over IPv6",
            page_url(tls, listen, Some(ip), locals, password),
        );
    }
    urls
}

/// The addresses to open behind a reverse proxy (`--allowed-origin` while Glint serves plain
/// HTTP: `Config::proxy_origins`): each proxy origin's page (`ORIGIN/`, with `#password=` as
/// [`page_url`]) first, as "through another proxy, URL" after the first; then `here`, Glint's
/// own ([`page_urls`]), its first as "on this host, URL". Without proxies, `here` unchanged.
pub fn through_proxies(
    proxies: &[String],
    here: Vec<String>,
    password: &Option<String>,
) -> Vec<String> {
    let fragment = fragment(password);
    let mut urls: Vec<String> = proxies
        .iter()
        .enumerate()
        .map(|(i, origin)| {
            let url = format!("{}/{fragment}", origin.trim_end_matches('/'));
            if i == 0 {
                url
            } else {
                format!("through another proxy, {url}")
            }
        })
        .collect();
    for (i, url) in here.into_iter().enumerate() {
        let first_here = i == 0 && !urls.is_empty();
        urls.push(if first_here {
            format!("on this host, {url}")
        } else {
            url
        });
    }
    urls
}

/// Serves every route on `listener` through `door` until `stop` resolves; requests under way
/// finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    served: Served,
    door: front::Door,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    front::serve(listener, warp::service(routes(served)), door, stop).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_names_a_reachable_address_and_keeps_the_password_in_the_fragment() {
        let at = |s: &str| s.parse::<SocketAddr>().expect("addr");
        let locals = [at("127.0.0.1:5000"), at("10.1.2.3:5000")];
        let pw = Some("abc".to_owned());
        assert_eq!(
            page_url(false, at("127.0.0.1:8080"), None, &locals, &None),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(
            page_url(true, at("0.0.0.0:8080"), None, &locals, &pw),
            "https://10.1.2.3:8080/#password=abc"
        );
        let public = Some(IpAddr::from([203, 0, 113, 9]));
        assert_eq!(
            page_url(true, at("0.0.0.0:8080"), public, &locals, &None),
            "https://203.0.113.9:8080/"
        );
        assert_eq!(
            page_url(true, at("[::1]:8080"), None, &[], &None),
            "https://[::1]:8080/"
        );
        // On [::] an IPv6 address too, for an IPv6-only network.
        let both = [at("10.1.2.3:5000"), at("[fd00::2]:5000"), at("[::1]:5000")];
        assert_eq!(
            page_urls(true, at("[::]:8443"), None, &both, &pw),
            [
                "https://10.1.2.3:8443/#password=abc",
                "over IPv6, https://[fd00::2]:8443/#password=abc"
            ]
        );
        // With --public-ip, the host's own address for its own network.
        assert_eq!(
            page_urls(true, at("0.0.0.0:8443"), public, &both, &None),
            [
                "https://203.0.113.9:8443/",
                "on this network, https://10.1.2.3:8443/"
            ]
        );
        let public6 = Some("2001:db8::7".parse().expect("ip"));
        assert_eq!(
            page_urls(true, at("[::]:8443"), public6, &both, &None),
            [
                "https://[2001:db8::7]:8443/",
                "on this network, https://10.1.2.3:8443/",
                "over IPv6, https://[fd00::2]:8443/"
            ]
        );
        // A public address the host has itself is not given twice.
        let own = [at("[2001:db8::7]:5000")];
        assert_eq!(
            page_urls(true, at("[::]:8443"), public6, &own, &None).len(),
            1
        );
        assert_eq!(
            page_urls(true, at("0.0.0.0:8443"), None, &both, &pw).len(),
            1
        );
        let odd = Some("p+q w&x%41/é".to_owned());
        assert_eq!(
            page_url(false, at("127.0.0.1:8080"), None, &[], &odd),
            "http://127.0.0.1:8080/#password=p%2Bq+w%26x%2541%2F%C3%A9"
        );
    }

    #[test]
    fn behind_a_proxy_its_address_comes_first() {
        let listen = "127.0.0.1:8080".parse().expect("addr");
        let here = |pw: &Option<String>| page_urls(false, listen, None, &[], pw);
        assert_eq!(through_proxies(&[], here(&None), &None), here(&None));
        let pw = Some("a&b".to_owned());
        let here = here(&pw);
        let proxies = [
            "https://desk.example.com".to_owned(),
            "https://b.example:8443".to_owned(),
        ];
        assert_eq!(
            through_proxies(&proxies, here, &pw),
            [
                "https://desk.example.com/#password=a%26b",
                "through another proxy, https://b.example:8443/#password=a%26b",
                "on this host, http://127.0.0.1:8080/#password=a%26b"
            ]
        );
    }
}
