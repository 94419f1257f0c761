//! The STUN and TURN servers a page's `RTCPeerConnection` may use (its `iceServers`), as the
//! host is told them (`--ice-server URL`, repeatable, with `--ice-username`/`--ice-credential`
//! or `--turn-secret`) and as each page gets them (the `ice-servers` signaling message).
//!
//! - URLs are STUN URIs (RFC 7064: `stun:host[:port]`, `stuns:…`) and TURN URIs (RFC 7065:
//!   `turn:host[:port][?transport=udp|tcp]`, `turns:…`), exactly as `RTCIceServer.urls` takes
//!   them; they carry no credentials (those URIs have no user part).
//! - A STUN server (RFC 8489) tells the browser its public address (a server-reflexive
//!   candidate); it needs no credentials. A TURN server (RFC 8656) relays for a browser that
//!   cannot reach the host directly; it needs the long-term credentials of RFC 8489 §9.2: a
//!   fixed `--ice-username`/`--ice-credential` pair, or ones minted per page from a secret
//!   shared with the TURN server (`--turn-secret`), as coturn's REST scheme does
//!   (draft-uberti-behave-turn-rest-00): username `<unix expiry>:<name>`, credential
//!   `base64(HMAC-SHA1(secret, username))`, good until the expiry.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha1::Sha1;

/// How long minted TURN credentials stay good by default (`--turn-ttl`): one day, the REST
/// draft's example. A page gets fresh ones each time its signaling socket connects.
pub const DEFAULT_TURN_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest `--turn-ttl`: 30 days. Time-limited credentials that outlive that are standing
/// ones, which `--ice-username`/`--ice-credential` give plainly.
pub const MAX_TURN_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// The scheme of an ICE server URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// STUN over UDP or TCP (RFC 7064), default port 3478.
    Stun,
    /// STUN over TLS (RFC 7064), default port 5349.
    Stuns,
    /// TURN (RFC 7065), default port 3478.
    Turn,
    /// TURN over TLS (RFC 7065), default port 5349.
    Turns,
}

impl Scheme {
    /// Whether servers of this scheme relay (and so need credentials).
    pub fn is_turn(self) -> bool {
        matches!(self, Self::Turn | Self::Turns)
    }
}

/// One ICE server URL, checked: a STUN or TURN URI as `RTCIceServer.urls` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceUrl {
    pub scheme: Scheme,
    /// A host name, an IPv4 address, or an IPv6 address in brackets.
    pub host: String,
    /// When absent, the scheme's default (3478, or 5349 over TLS).
    pub port: Option<u16>,
    /// TURN only: `udp` or `tcp` between the browser and the TURN server.
    pub transport: Option<String>,
    text: String,
}

/// Why an `--ice-server` URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IceUrlError {
    #[error("{0:?}: the scheme must be stun:, stuns:, turn: or turns:")]
    Scheme(String),
    #[error("{0:?}: these URLs have no // after the scheme: stun:HOST[:PORT] (RFC 7064), turn:HOST[:PORT] (RFC 7065)")]
    Slashes(String),
    #[error("{0:?}: credentials do not go in the URL; use --ice-username and --ice-credential, or --turn-secret")]
    Credentials(String),
    #[error("{0:?}: no host")]
    NoHost(String),
    /// The host is not one a browser elsewhere can reach; `why` says how.
    #[error("{url:?}: {host:?} {why}")]
    BadHost {
        url: String,
        host: String,
        why: &'static str,
    },
    #[error("{0:?}: the port must be a number from 1 to 65535")]
    Port(String),
    /// Something after a port (`stun:host:3478/path`, `stun:host:3478 x`).
    #[error(
        "{0:?}: nothing may follow the port (stun:HOST[:PORT], turn:HOST[:PORT][?transport=udp|tcp])"
    )]
    AfterPort(String),
    #[error(
        "{0:?}: only turn: and turns: take a query, and only ?transport=udp or ?transport=tcp"
    )]
    Query(String),
}

impl FromStr for IceUrl {
    type Err = IceUrlError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (scheme, rest) = text
            .split_once(':')
            .ok_or_else(|| IceUrlError::Scheme(text.into()))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "stun" => Scheme::Stun,
            "stuns" => Scheme::Stuns,
            "turn" => Scheme::Turn,
            "turns" => Scheme::Turns,
            _ => return Err(IceUrlError::Scheme(text.into())),
        };
        if rest.starts_with("//") {
            return Err(IceUrlError::Slashes(text.into()));
        }
        if rest.contains('@') {
            return Err(IceUrlError::Credentials(text.into()));
        }
        let (authority, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        // The query in any case (`?transport=UDP`), passed on in lower case as RFC 7065 writes it.
        let transport = match query.map(str::to_ascii_lowercase) {
            None => None,
            Some(q) if scheme.is_turn() => match q.strip_prefix("transport=") {
                Some(t @ ("udp" | "tcp")) => Some(t.to_owned()),
                _ => return Err(IceUrlError::Query(text.into())),
            },
            Some(_) => return Err(IceUrlError::Query(text.into())),
        };
        let text = match (&transport, text.split_once('?')) {
            (Some(t), Some((before, _))) => format!("{before}?transport={t}"),
            _ => text.to_owned(),
        };
        let (host, port) = split_host_port(authority);
        if host.is_empty() {
            return Err(IceUrlError::NoHost(text));
        }
        if let Some(why) = host_problem(host) {
            return Err(IceUrlError::BadHost {
                url: text,
                host: host.into(),
                why,
            });
        }
        let port = match port.map(|p| (p, p.parse::<u16>())) {
            None => None,
            Some((_, Ok(n))) if n > 0 => Some(n),
            Some((p, _)) => {
                // A port followed by something else says so, not that the port is bad.
                let rest = p.trim_start_matches(|c: char| c.is_ascii_digit());
                let digits = &p[..p.len() - rest.len()];
                return Err(match digits.parse::<u16>() {
                    Ok(n) if n > 0 && !rest.is_empty() => IceUrlError::AfterPort(text),
                    _ => IceUrlError::Port(text),
                });
            }
        };
        Ok(Self {
            scheme,
            host: host.to_owned(),
            port,
            transport,
            text,
        })
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` into the host (brackets kept) and the port's text.
/// An unclosed `[` is all host ([`host_problem`] says so); so is a bare IPv6 address (two
/// colons or more), which needs brackets.
fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => {
                let (host, rest) = authority.split_at(end + 1);
                (
                    host,
                    rest.strip_prefix(':')
                        .or(Some(rest).filter(|r| !r.is_empty())),
                )
            }
            None => (authority, None),
        };
    }
    if authority.matches(':').count() > 1 {
        return (authority, None);
    }
    match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    }
}

/// Why a browser elsewhere could not reach `host` (as [`split_host_port`] gives it), or
/// `None` when it is a DNS name (RFC 1035 §2.3.1 labels: letters, digits and inner `-`, at
/// most 63 characters each, 253 in all), an IPv4 address or an IPv6 address in brackets, not
/// unspecified, multicast or link-local. A name whose last label is all digits must be an
/// IPv4 address, as the URL Standard's host parser takes it (`1.2.3.4.5` is neither).
pub(crate) fn host_problem(host: &str) -> Option<&'static str> {
    const LINK_LOCAL: &str = "is link-local: it means nothing to a browser on another link; \
                              give another address, or a name";
    const NOT_UNICAST: &str = "is not a unicast address a server can have";
    if let Some(inner) = host.strip_prefix('[') {
        let Some(inner) = inner.strip_suffix(']') else {
            return Some("has no closing ]");
        };
        if inner.contains('%') {
            return Some(LINK_LOCAL);
        }
        return match inner.parse::<std::net::Ipv6Addr>() {
            Err(_) => Some("is not an IPv6 address"),
            Ok(ip) if ip.is_unicast_link_local() => Some(LINK_LOCAL),
            Ok(ip) if ip.is_unspecified() || ip.is_multicast() => Some(NOT_UNICAST),
            Ok(_) => None,
        };
    }
    if host.contains(':') {
        return Some("is an IPv6 address without brackets: write [ADDRESS]");
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    let labels_ok = name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !labels_ok {
        return Some(
            "is not a host name (labels of letters, digits and inner '-', split by single '.') \
             nor an address",
        );
    }
    let last = name.rsplit('.').next().unwrap_or(name);
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return match name.parse::<std::net::Ipv4Addr>() {
            Err(_) => Some("is not an IPv4 address (four numbers 0-255), nor a name"),
            Ok(ip) if ip.is_link_local() => Some(LINK_LOCAL),
            Ok(ip) if ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast() => {
                Some(NOT_UNICAST)
            }
            Ok(_) => None,
        };
    }
    None
}

impl fmt::Display for IceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl IceUrl {
    /// The port, or the scheme's default (RFC 7064, RFC 7065): 3478, or 5349 over TLS.
    pub fn port_or_default(&self) -> u16 {
        match (self.port, self.scheme) {
            (Some(p), _) => p,
            (None, Scheme::Stun | Scheme::Turn) => 3478,
            (None, Scheme::Stuns | Scheme::Turns) => 5349,
        }
    }
}

/// The server the host asks for its own public address (a STUN Binding over UDP from its
/// media port, RFC 8489 §6): the first `stun:` URL, else the first `turn:` one over UDP
/// (coturn answers Binding on its TURN port). `(host, port)`: a name or an IPv4 address. Not
/// `stuns:`/`turns:` (TLS over TCP) nor TURN over TCP, which cannot see the media port's
/// mapping, nor an IPv6 address: the host learns its IPv4 mapping only (its IPv6 host
/// candidates are global addresses already, and IPv6 is seldom translated).
pub fn binding_server(urls: &[IceUrl]) -> Option<(String, u16)> {
    let usable = |u: &&IceUrl| {
        !u.host.starts_with('[')
            && match u.scheme {
                Scheme::Stun => true,
                Scheme::Turn => u.transport.as_deref() != Some("tcp"),
                Scheme::Stuns | Scheme::Turns => false,
            }
    };
    let url = (urls
        .iter()
        .filter(usable)
        .find(|u| u.scheme == Scheme::Stun))
    .or_else(|| urls.iter().find(usable))?;
    Some((url.host.clone(), url.port_or_default()))
}

/// How a page authenticates to the TURN servers.
#[derive(Clone, PartialEq, Eq)]
pub enum TurnAuth {
    /// No TURN server: STUN needs no credentials.
    None,
    /// One fixed username and password for every TURN server (coturn `--user=NAME:PASS`).
    Static {
        username: String,
        credential: String,
    },
    /// Time-limited credentials minted per page from a secret shared with the TURN servers
    /// (coturn `--use-auth-secret --static-auth-secret=SECRET`), good for `ttl`.
    Rest { secret: String, ttl: Duration },
}

impl fmt::Debug for TurnAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Static { username, .. } => write!(f, "Static({username}, …)"),
            Self::Rest { ttl, .. } => write!(f, "Rest(…, {ttl:?})"),
        }
    }
}

/// Why the ICE server flags do not fit together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IceConfigError {
    #[error("{0} is a TURN server: give --ice-username and --ice-credential, or --turn-secret")]
    TurnWithoutCredentials(String),
    /// The options given (`--turn-secret`, or `--ice-username and --ice-credential`).
    #[error("{0} {verb} for turn: or turns: servers, and no --ice-server is one", verb = if .0.contains(" and ") { "are" } else { "is" })]
    CredentialsWithoutTurn(&'static str),
    #[error("--ice-username and --ice-credential go together")]
    HalfCredentials,
    #[error("--ice-username, --ice-credential and --turn-secret must not be empty")]
    Empty,
}

/// The ICE servers every page is given, checked once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceServers {
    pub urls: Vec<IceUrl>,
    pub auth: TurnAuth,
}

impl Default for IceServers {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            auth: TurnAuth::None,
        }
    }
}

impl IceServers {
    /// From the flags: `urls`, a fixed username and credential, or a shared secret (good for
    /// `ttl`). A TURN URL needs credentials and credentials need a TURN URL.
    pub fn new(
        urls: Vec<IceUrl>,
        username: Option<String>,
        credential: Option<String>,
        secret: Option<String>,
        ttl: Duration,
    ) -> Result<Self, IceConfigError> {
        let given = [&username, &credential, &secret];
        if given.iter().any(|v| v.as_deref() == Some("")) {
            return Err(IceConfigError::Empty);
        }
        let auth = match (username, credential, secret) {
            (None, None, None) => TurnAuth::None,
            (Some(username), Some(credential), None) => TurnAuth::Static {
                username,
                credential,
            },
            (None, None, Some(secret)) => TurnAuth::Rest { secret, ttl },
            // clap refuses the secret with either of the others; one of the pair is missing.
            _ => return Err(IceConfigError::HalfCredentials),
        };
        let turn = urls.iter().find(|u| u.scheme.is_turn());
        match (turn, &auth) {
            (Some(u), TurnAuth::None) => Err(IceConfigError::TurnWithoutCredentials(u.to_string())),
            (None, TurnAuth::Static { .. }) => Err(IceConfigError::CredentialsWithoutTurn(
                "--ice-username and --ice-credential",
            )),
            (None, TurnAuth::Rest { .. }) => {
                Err(IceConfigError::CredentialsWithoutTurn("--turn-secret"))
            }
            _ => Ok(Self { urls, auth }),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// How often a page's credentials are renewed while it stays: half their life when they
    /// are minted from `--turn-secret` (an ICE restart after a lost path needs good ones to
    /// get a relay again), `None` when they do not expire.
    pub fn renew_every(&self) -> Option<Duration> {
        match &self.auth {
            TurnAuth::Rest { ttl, .. } => Some((*ttl).min(MAX_TURN_TTL) / 2),
            TurnAuth::None | TurnAuth::Static { .. } => None,
        }
    }

    /// [`Self::for_page`] again, when the page's last servers, given at wall time `given`,
    /// are [`Self::renew_every`] old at `now`; `given` then becomes `now`. `None` before the
    /// first were given, or when its credentials do not expire.
    pub fn renewed(
        &self,
        name: &str,
        given: &mut Option<SystemTime>,
        now: SystemTime,
    ) -> Option<Vec<IceServer>> {
        let (at, every) = ((*given)?, self.renew_every()?);
        let due = now.duration_since(at).is_ok_and(|d| d >= every);
        due.then(|| {
            *given = Some(now);
            self.for_page(name, now)
        })
    }

    /// The servers for one page called `name` (in minted usernames: coturn logs it), at wall
    /// time `now`: the STUN servers, and the TURN servers with their credentials.
    pub fn for_page(&self, name: &str, now: SystemTime) -> Vec<IceServer> {
        let of = |turn: bool| -> Vec<String> {
            self.urls
                .iter()
                .filter(|u| u.scheme.is_turn() == turn)
                .map(ToString::to_string)
                .collect()
        };
        let mut out = Vec::new();
        let stun = of(false);
        if !stun.is_empty() {
            out.push(IceServer {
                urls: stun,
                username: None,
                credential: None,
            });
        }
        let turn = of(true);
        let (username, credential) = match &self.auth {
            TurnAuth::None => return out,
            TurnAuth::Static {
                username,
                credential,
            } => (username.clone(), credential.clone()),
            TurnAuth::Rest { secret, ttl } => {
                let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
                let expiry = since + (*ttl).min(MAX_TURN_TTL);
                let username = rest_username(expiry.as_secs(), name);
                let credential = rest_credential(secret.as_bytes(), &username);
                (username, credential)
            }
        };
        if !turn.is_empty() {
            out.push(IceServer {
                urls: turn,
                username: Some(username),
                credential: Some(credential),
            });
        }
        out
    }
}

/// A TURN REST username: `<expiry, unix seconds>:<name>` (draft-uberti-behave-turn-rest-00
/// §2.2; coturn takes the part before the first `:` as the expiry).
pub fn rest_username(expiry_unix: u64, name: &str) -> String {
    format!("{expiry_unix}:{name}")
}

/// A TURN REST password: base64 (standard alphabet, padded) of HMAC-SHA1 over `username`
/// keyed with the shared secret, as coturn computes it with `--use-auth-secret`.
pub fn rest_credential(secret: &[u8], username: &str) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// One entry of a page's `iceServers` (the `RTCIceServer` dictionary of WebRTC 1.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

#[cfg(test)]
mod tests;
