//! Who may talk to Glint over HTTP at all, sans-IO: the `Host` a request names and the
//! `Origin` of the page that sent it. Checked on every request before any route.
//!
//! - **Host** (DNS rebinding, <https://en.wikipedia.org/wiki/DNS_rebinding>): on a loopback
//!   listen, a page on `evil.example` whose name was rebound to 127.0.0.1 reaches Glint as
//!   same-origin, so only the loopback names `localhost`, `127.0.0.1` and `[::1]` (any port),
//!   plus `--allowed-host` names, are taken. Beyond loopback the password guards the door and
//!   any `Host` is taken.
//! - **Origin** (RFC 6454 §7; browsers send it on every WebSocket handshake, RFC 6455 §4.1, and
//!   on cross-origin fetches): a request that carries one is taken only when it is Glint's own
//!   page, `<scheme>://<Host>`, or an `--allowed-origin` (a reverse proxy's public origin).
//!   A request without one (curl, a same-origin navigation) passes: it is not another site's
//!   page acting in the user's browser.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::metrics::{Counter, Metrics};

/// Refusals are logged at most this often (the counters count every one).
pub const LOG_EVERY: Duration = Duration::from_secs(60);

/// Why a request was refused; its text is the message of the 403 JSON answer (`bad-host`,
/// `bad-origin`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("host {0:?} is not one this server answers to on loopback (see --allowed-host)")]
    Host(String),
    #[error("a request without a Host header is not taken on loopback")]
    NoHost,
    /// A `Host` (or absolute request target) with user information: no browser sends one
    /// (RFC 9110 §7.2: `Host = uri-host [ ":" port ]`).
    #[error(
        "host {0:?} carries user information (user@), which a Host header never has \
         (RFC 9110 §7.2): not taken on loopback"
    )]
    HostUserinfo(String),
    #[error("origin {0:?} is not this server's page (see --allowed-origin)")]
    Origin(String),
}

/// Counters of refused requests, registered in [`Metrics`].
#[derive(Debug, Clone, Default)]
pub struct GuardCounters {
    pub refused_host: Counter,
    pub refused_origin: Counter,
    /// Connections refused because their address had too many open.
    pub refused_connections: Counter,
}

impl GuardCounters {
    pub fn register(m: &mut Metrics) -> Self {
        Self {
            refused_host: m.counter(
                "http_refused_host",
                "HTTP requests refused for a Host that is not allowed (DNS rebinding)",
            ),
            refused_origin: m.counter(
                "http_refused_origin",
                "HTTP requests refused for an Origin that is not Glint's own page",
            ),
            refused_connections: m.counter(
                "http_refused_connections",
                "TCP connections refused because their address had too many open",
            ),
        }
    }
}

/// The rules; fixed for the life of the process.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    /// The listen address is loopback: `Host` must be a loopback name or an allowed one.
    pub loopback: bool,
    /// Extra host names (no port), lower case.
    pub allowed_hosts: Vec<String>,
    /// Extra origins (`scheme://host[:port]`), lower case, no trailing slash.
    pub allowed_origins: Vec<String>,
}

impl Guard {
    /// Builds the rules, normalising the names given on the command line.
    pub fn new(loopback: bool, allowed_hosts: &[String], allowed_origins: &[String]) -> Self {
        Self {
            loopback,
            allowed_hosts: allowed_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            allowed_origins: allowed_origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
        }
    }

    /// Checks one request. `scheme` is how it reached Glint (`http` or `https`); `host` and
    /// `origin` are its headers as sent.
    pub fn check(
        &self,
        scheme: &str,
        host: Option<&str>,
        origin: Option<&str>,
    ) -> Result<(), Refusal> {
        if self.loopback {
            let Some(host) = host else {
                return Err(Refusal::NoHost);
            };
            if host.contains('@') {
                return Err(Refusal::HostUserinfo(host.to_owned()));
            }
            let name = host_name(host).to_ascii_lowercase();
            let known = matches!(name.as_str(), "localhost" | "127.0.0.1" | "[::1]")
                || self.allowed_hosts.contains(&name);
            if !known {
                return Err(Refusal::Host(host.to_owned()));
            }
        }
        let Some(origin) = origin else {
            return Ok(());
        };
        let given = origin.trim_end_matches('/').to_ascii_lowercase();
        let own = host.map(|h| format!("{scheme}://{}", h.to_ascii_lowercase()));
        if own.as_deref() == Some(given.as_str()) || self.allowed_origins.contains(&given) {
            Ok(())
        } else {
            Err(Refusal::Origin(origin.to_owned()))
        }
    }
}

impl Guard {
    /// A warning for each of `proxies` (the origins users open through a reverse proxy,
    /// `Config::proxy_origins`) whose proxy, passing the browser's `Host` on (`Host:
    /// desk.example.com`), would be refused here for want of `--allowed-host`; `listen` is the
    /// address a proxy may send as `Host` instead.
    pub fn refused_proxy_hosts(&self, proxies: &[String], listen: SocketAddr) -> Vec<String> {
        let host = |origin: &str| {
            origin
                .split_once("://")
                .map_or(origin, |(_, h)| h)
                .to_owned()
        };
        proxies
            .iter()
            .filter_map(|origin| {
                let host = host(origin);
                self.check("http", Some(&host), Some(origin)).err()?;
                Some(format!(
                    "--allowed-origin {origin} with no --allowed-host {}: a proxy that passes the \
                     browser's Host header on (`Host: {host}`) is refused (bad-host); one that \
                     sends Host: {listen} works",
                    host_name(&host)
                ))
            })
            .collect()
    }
}

/// The name in a `Host` header (RFC 9110 §7.2: `host [":" port]`), without its port:
/// `[::1]:8080` → `[::1]`, `a.b:80` → `a.b`. Anything after the name but a port of digits
/// (`[::1]evil`, `localhost:evil`) leaves the whole header as the name, which no list holds.
fn host_name(host: &str) -> &str {
    let port = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(end) = host.strip_prefix('[').and_then(|_| host.find(']')) {
        let (name, rest) = host.split_at(end + 1);
        return match rest.strip_prefix(':') {
            Some(p) if port(p) => name,
            None if rest.is_empty() => name,
            _ => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, p)) if port(p) => name,
        _ => host,
    }
}

/// Counts refusals and says when one may be logged (at most once per [`LOG_EVERY`]).
#[derive(Debug)]
pub struct RefusalLog {
    counters: GuardCounters,
    last: Option<Instant>,
}

impl RefusalLog {
    pub fn new(counters: GuardCounters) -> Self {
        Self {
            counters,
            last: None,
        }
    }

    /// Counts `refusal`; true when it should be logged now.
    pub fn record(&mut self, now: Instant, refusal: &Refusal) -> bool {
        match refusal {
            Refusal::Host(_) | Refusal::NoHost | Refusal::HostUserinfo(_) => {
                self.counters.refused_host.inc()
            }
            Refusal::Origin(_) => self.counters.refused_origin.inc(),
        };
        let due = self
            .last
            .is_none_or(|t| now.saturating_duration_since(t) >= LOG_EVERY);
        if due {
            self.last = Some(now);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback() -> Guard {
        Guard::new(true, &[], &[])
    }

    #[test]
    fn on_loopback_only_loopback_names_are_taken_as_host() {
        let g = loopback();
        for host in [
            "localhost:8080",
            "127.0.0.1:8080",
            "[::1]:8080",
            "LOCALHOST",
            "127.0.0.1",
        ] {
            assert_eq!(g.check("http", Some(host), None), Ok(()), "{host}");
        }
        for host in [
            "evil.example:8080",
            "127.0.0.1.evil.example",
            "localhost.evil:8080",
            "",
        ] {
            assert_eq!(
                g.check("http", Some(host), None),
                Err(Refusal::Host(host.into())),
                "{host}"
            );
        }
        assert_eq!(g.check("http", None, None), Err(Refusal::NoHost));
        // User information is named as the reason, not the name after it.
        for host in [
            "user@localhost",
            "a:b@127.0.0.1:8080",
            "evil.example@localhost",
        ] {
            let refused = g.check("http", Some(host), None);
            assert_eq!(refused, Err(Refusal::HostUserinfo(host.into())), "{host}");
            let message = refused.err().map(|r| r.to_string()).unwrap_or_default();
            assert!(message.contains("user information"), "{message}");
        }
    }

    #[test]
    fn a_rebinding_name_is_refused_even_with_a_matching_origin() {
        let g = loopback();
        assert_eq!(
            g.check(
                "http",
                Some("evil.example:8080"),
                Some("http://evil.example:8080")
            ),
            Err(Refusal::Host("evil.example:8080".into()))
        );
        let named = Guard::new(true, &["Glint.Lan".into()], &[]);
        assert_eq!(
            named.check(
                "http",
                Some("glint.lan:8080"),
                Some("http://glint.lan:8080")
            ),
            Ok(())
        );
    }

    #[test]
    fn beyond_loopback_any_host_but_only_the_own_origin() {
        let g = Guard::new(false, &[], &[]);
        assert_eq!(g.check("https", Some("10.0.0.5:8080"), None), Ok(()));
        assert_eq!(
            g.check(
                "https",
                Some("10.0.0.5:8080"),
                Some("https://10.0.0.5:8080")
            ),
            Ok(())
        );
        // Another port, another scheme, another name, an opaque origin: all other pages.
        for origin in [
            "https://10.0.0.5:8081",
            "http://10.0.0.5:8080",
            "https://evil.example",
            "null",
        ] {
            assert_eq!(
                g.check("https", Some("10.0.0.5:8080"), Some(origin)),
                Err(Refusal::Origin(origin.into())),
                "{origin}"
            );
        }
    }

    #[test]
    fn a_reverse_proxys_origin_can_be_allowed() {
        let g = Guard::new(false, &[], &["https://Desk.Example.com/".into()]);
        assert_eq!(
            g.check(
                "http",
                Some("127.0.0.1:8080"),
                Some("https://desk.example.com")
            ),
            Ok(())
        );
        assert!(g
            .check(
                "http",
                Some("127.0.0.1:8080"),
                Some("https://other.example.com")
            )
            .is_err());
    }

    #[test]
    fn a_proxy_passing_host_on_is_warned_of_when_its_name_is_not_allowed() {
        let listen: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        let proxies = ["https://desk.example.com:8443".to_owned()];
        let w = Guard::new(true, &[], &proxies).refused_proxy_hosts(&proxies, listen);
        assert!(
            w.len() == 1 && w[0].contains("--allowed-host desk.example.com:"),
            "{w:?}"
        );
        let named = ["Desk.example.com".to_owned()];
        let g = Guard::new(true, &named, &proxies);
        assert!(g.refused_proxy_hosts(&proxies, listen).is_empty());
        // Beyond loopback any Host is taken.
        let g = Guard::new(false, &[], &proxies);
        assert!(g.refused_proxy_hosts(&proxies, listen).is_empty());
    }

    #[test]
    fn refusals_are_all_counted_but_logged_once_a_minute() {
        let counters = GuardCounters::default();
        let mut log = RefusalLog::new(counters.clone());
        let t0 = Instant::now();
        let r = Refusal::Origin("http://x".into());
        assert!(log.record(t0, &r));
        assert!(!log.record(t0 + Duration::from_secs(59), &r));
        assert!(log.record(t0 + Duration::from_secs(60), &Refusal::NoHost));
        assert_eq!(counters.refused_origin.get(), 2);
        assert_eq!(counters.refused_host.get(), 1);
    }
}
