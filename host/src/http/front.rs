//! The front door, in front of every route: accepts TCP connections, speaks TLS when Glint
//! has a certificate, answers plain HTTP on a TLS port with a redirect to `https://` (never
//! the page), checks every request's `Host` and `Origin` ([`guard`](super::guard)), and puts
//! the security headers on every answer. warp's routes run as a hyper service behind it
//! (`warp::service`, served by hyper's HTTP/1.1 connection over the plain or the tokio-rustls
//! stream).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use warp::Reply;

use crate::config::Config;
use crate::signal::throttle::PerAddress;

use super::guard::{Guard, GuardCounters, Refusal, RefusalLog};
use super::tls::Tls;

/// A request's client address, for the routes (`warp::ext::get::<ClientAddr>()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

/// A connection must send its first byte, finish its TLS handshake, and send each request
/// head within this time.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Most connections open at once from one client address (an IPv6 client by its /64).
pub const MAX_CONNECTIONS_PER_ADDRESS: usize = 64;

/// The Content-Security-Policy of every answer: Glint's own scripts, workers and worklets
/// only, no inline script or style, no plugins, never framed (clickjacking). `connect-src
/// 'self'` covers `ws:`/`wss:` to the same host (CSP Level 3, §6.7.2.8).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     worker-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
     media-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// HSTS over TLS (RFC 6797): a year.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// What the door checks and speaks.
pub struct Door {
    pub guard: Guard,
    pub counters: GuardCounters,
    /// `Some`: HTTPS and WSS only on this port.
    pub tls: Option<Arc<Tls>>,
}

impl Door {
    /// The door `config` asks for: its `--allowed-host`/`--allowed-origin`, and `tls`. Warns
    /// (logs) of a proxy's origin whose `Host` it would refuse ([`Guard::refused_proxy_hosts`]).
    pub fn new(config: &Config, counters: GuardCounters, tls: Option<Arc<Tls>>) -> Self {
        let guard = Guard::new(
            config.loopback_only(),
            &config.allowed_host,
            &config.allowed_origin,
        );
        for warning in guard.refused_proxy_hosts(config.proxy_origins(), config.listen) {
            tracing::warn!("{warning}");
        }
        Self {
            guard,
            counters,
            tls,
        }
    }
}

struct Shared {
    guard: Guard,
    log: Mutex<RefusalLog>,
    counters: GuardCounters,
}

/// Puts the headers every answer carries into `headers`.
pub fn security_headers(headers: &mut HeaderMap, tls: bool) {
    let mut set = |name: header::HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::X_FRAME_OPTIONS, "DENY");
    if tls {
        set(header::STRICT_TRANSPORT_SECURITY, STRICT_TRANSPORT_SECURITY);
    }
}

/// How a connection reached the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Http,
    Https,
    /// Plain HTTP on the TLS port: every request is redirected.
    HttpOnTlsPort,
}

/// One connection's service: the checks, then warp's routes.
#[derive(Clone)]
struct Service<S> {
    routes: S,
    shared: Arc<Shared>,
    client: SocketAddr,
    via: Via,
}

type Answer = warp::reply::Response;

impl<S> hyper::service::Service<Request<Incoming>> for Service<S>
where
    S: tower_service::Service<Request<Incoming>, Response = Answer, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Answer;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Answer, Infallible>> + Send>>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        // One value each, as text; two Host or Origin headers are an attack, not a request.
        let text = |name| {
            let mut all = req.headers().get_all(name).iter();
            let first = all.next()?;
            if all.next().is_some() {
                return Some("<duplicate>".to_owned());
            }
            Some(first.to_str().unwrap_or("<not text>").to_owned())
        };
        let (host, origin) = (text(header::HOST), text(header::ORIGIN));
        // A target in absolute form (`GET http://name/ HTTP/1.1`) names the host itself, and
        // its authority takes the place of `Host` (RFC 9112 §3.2.2).
        let host = match req.uri().authority() {
            Some(authority) => Some(authority.as_str().to_owned()),
            None => host,
        };
        let scheme = if self.via == Via::Http {
            "http"
        } else {
            "https"
        };
        let tls = self.via == Via::Https;
        if let Err(refusal) = self
            .shared
            .guard
            .check(scheme, host.as_deref(), origin.as_deref())
        {
            self.log_refusal(&refusal);
            let code = match refusal {
                super::guard::Refusal::Origin(_) => "bad-origin",
                _ => "bad-host",
            };
            let mut answer =
                super::control::error(StatusCode::FORBIDDEN, code, &refusal.to_string());
            security_headers(answer.headers_mut(), tls);
            return Box::pin(std::future::ready(Ok(answer)));
        }
        if self.via == Via::HttpOnTlsPort {
            let path = req
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            let location = format!("https://{}{path}", host.unwrap_or_default());
            let mut answer = warp::reply::with_status(
                "this port speaks HTTPS only\n",
                StatusCode::PERMANENT_REDIRECT,
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                answer.headers_mut().insert(header::LOCATION, v);
            }
            security_headers(answer.headers_mut(), false);
            return Box::pin(std::future::ready(Ok(answer)));
        }
        req.extensions_mut().insert(ClientAddr(self.client));
        let mut routes = self.routes.clone();
        let answer = tower_service::Service::call(&mut routes, req);
        Box::pin(async move {
            let mut answer = answer.await?;
            security_headers(answer.headers_mut(), tls);
            Ok(answer)
        })
    }
}

impl<S> Service<S> {
    fn log_refusal(&self, refusal: &Refusal) {
        let due = self
            .shared
            .log
            .lock()
            .map(|mut log| log.record(Instant::now(), refusal))
            .unwrap_or(false);
        if due {
            tracing::warn!(client = %self.client, "request refused (logged once a minute): {refusal}");
        }
    }
}

/// Serves `routes` on `listener` through `door` until `stop` resolves; requests under way
/// finish first.
pub async fn serve<S>(
    listener: TcpListener,
    routes: S,
    door: Door,
    stop: impl Future<Output = ()> + Send + 'static,
) where
    S: tower_service::Service<Request<Incoming>, Response = Answer, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let shared = Arc::new(Shared {
        guard: door.guard,
        log: Mutex::new(RefusalLog::new(door.counters.clone())),
        counters: door.counters,
    });
    let acceptor = match door.tls.as_ref().map(|t| t.server_config()) {
        None => None,
        Some(Ok(config)) => Some(tokio_rustls::TlsAcceptor::from(config)),
        Some(Err(e)) => {
            tracing::error!("TLS cannot start: {e}");
            return;
        }
    };
    let (stopping, stop_rx) = watch::channel(false);
    let open = PerAddress::new(MAX_CONNECTIONS_PER_ADDRESS);
    tokio::pin!(stop);
    loop {
        let (tcp, client) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::debug!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(slot) = open.take(client.ip()) else {
            shared.counters.refused_connections.inc();
            continue;
        };
        // Signaling is small messages whose latency matters (trickled candidates).
        let _ = tcp.set_nodelay(true);
        let service = Service {
            routes: routes.clone(),
            shared: shared.clone(),
            client,
            via: Via::Http,
        };
        let acceptor = acceptor.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            let _slot = slot;
            // A connection that says nothing is closed, not kept.
            let mut first = [0u8; 1];
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, tcp.peek(&mut first)).await {
                Ok(Ok(1)) => {}
                _ => return,
            }
            match acceptor {
                None => connection(TokioIo::new(tcp), service, stop).await,
                Some(acceptor) => tls_connection(tcp, first[0], acceptor, service, stop).await,
            }
        });
    }
    drop(listener);
    // Requests under way finish; idle connections close.
    let _ = stopping.send(true);
}

/// A connection on the TLS port, whose first byte is `first`: a TLS handshake, or plain HTTP
/// that gets redirected.
async fn tls_connection<S>(
    tcp: TcpStream,
    first: u8,
    acceptor: tokio_rustls::TlsAcceptor,
    mut service: Service<S>,
    stop: watch::Receiver<bool>,
) where
    Service<S>: hyper::service::Service<Request<Incoming>, Response = Answer, Error = Infallible>
        + Clone
        + Send
        + 'static,
    <Service<S> as hyper::service::Service<Request<Incoming>>>::Future: Send + 'static,
{
    // A TLS record starts with its content type, 22 (handshake) for a ClientHello
    // (RFC 8446 §5.1); an HTTP request starts with a method's letters.
    if first != 22 {
        service.via = Via::HttpOnTlsPort;
        return connection(TokioIo::new(tcp), service, stop).await;
    }
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => {
            service.via = Via::Https;
            connection(TokioIo::new(stream), service, stop).await;
        }
        Ok(Err(e)) => tracing::debug!(client = %service.client, "TLS handshake failed: {e}"),
        Err(_) => tracing::debug!(client = %service.client, "TLS handshake timed out"),
    }
}

/// HTTP/1.1 on one connection, with WebSocket upgrades (no HTTP/2: nothing here needs it,
/// and one protocol is one parser to keep safe). Each request head must come within
/// [`HANDSHAKE_TIMEOUT`]; when `stop` turns true, the request under way finishes and the
/// connection closes.
async fn connection<I, Svc>(io: TokioIo<I>, service: Svc, mut stop: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    Svc: hyper::service::Service<Request<Incoming>, Response = Answer, Error = Infallible>
        + Send
        + 'static,
    Svc::Future: Send + 'static,
{
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HANDSHAKE_TIMEOUT)
        .serve_connection(io, service)
        .with_upgrades();
    tokio::pin!(conn);
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = stopped => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!("connection ended: {e}");
    }
}
