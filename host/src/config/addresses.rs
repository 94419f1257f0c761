//! The command line's addresses: `--listen` and `--public-ip`, each checked for a form a
//! browser elsewhere can use, with the form to give instead when it cannot; whether they fit
//! together, and what to warn about at start.

use std::net::{IpAddr, SocketAddr};

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2) as the IPv4 address
/// it is; any other address as it is.
fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// fe80::/10 or 169.254.0.0/16 (RFC 4291 §2.5.6, RFC 3927).
fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_unicast_link_local(),
    }
}

/// `--listen`: `IP:PORT` (IPv6 in brackets; `localhost:PORT` is 127.0.0.1), an IPv4-mapped
/// address as IPv4. Refused, each with the form to use: no port, a name, a zone or IPv6
/// link-local address (a page's URL cannot carry the zone), multicast.
pub(super) fn parse_listen(given: &str) -> Result<SocketAddr, String> {
    const FORMS: &str = "127.0.0.1:8080, 0.0.0.0:8443 or [::]:8443";
    let s = match given.split_once(':') {
        Some((host, port)) if host.eq_ignore_ascii_case("localhost") => {
            &format!("127.0.0.1:{port}")
        }
        _ => given,
    };
    if s.contains('%') {
        return Err(format!(
            "`{given}`: a zone (%…) marks a link-local address, which a page's URL cannot carry: \
             listen on [::]:PORT or a global address"
        ));
    }
    let addr: SocketAddr = match s.parse() {
        Ok(addr) => addr,
        Err(_) => {
            let bare = s.trim_start_matches('[').trim_end_matches(']');
            // An address and a number too large for a port (a u16).
            let port_over = s.rsplit_once(':').is_some_and(|(host, port)| {
                let host = host.trim_start_matches('[').trim_end_matches(']');
                host.parse::<IpAddr>().is_ok()
                    && !port.is_empty()
                    && port.bytes().all(|b| b.is_ascii_digit())
            });
            return Err(if !s.starts_with('[') && s.matches(':').count() > 1 {
                format!(
                    "`{given}`: an IPv6 address goes in brackets before its port, [ADDRESS]:PORT, \
                     like [::]:8443"
                )
            } else if port_over {
                format!("`{given}`: a port is a number from 0 to 65535")
            } else if bare.parse::<IpAddr>().is_ok() || given.eq_ignore_ascii_case("localhost") {
                format!("`{given}` has no port: IP:PORT, like {FORMS}")
            } else {
                format!("`{given}` is not IP:PORT (IPv6 in brackets), like {FORMS}")
            });
        }
    };
    let ip = unmapped(addr.ip());
    if is_link_local(ip) && ip.is_ipv6() {
        return Err(format!(
            "{ip} is link-local: a page's URL cannot carry the zone it needs; listen on \
             [::]:PORT or a global address"
        ));
    }
    if ip.is_multicast() {
        return Err(format!("{ip} is multicast: give an address of this host"));
    }
    Ok(SocketAddr::new(ip, addr.port()))
}

/// `--public-ip`: an address a browser elsewhere can send to (not unspecified, loopback,
/// link-local, multicast or broadcast, which no NAT forwards); an IPv4-mapped one as IPv4.
pub(super) fn parse_public_ip(s: &str) -> Result<IpAddr, String> {
    if s.contains('%') {
        return Err(format!(
            "{s}: a zone (%…) marks a link-local address, which no NAT forwards to; give the \
             address the NAT's outside has"
        ));
    }
    // An address, not a URL's host: brackets are let go.
    let bare = s
        .strip_prefix('[')
        .and_then(|b| b.strip_suffix(']'))
        .unwrap_or(s);
    let ip: IpAddr = bare
        .parse()
        .map_err(|_| format!("{s:?} is not an IPv4 or IPv6 address"))?;
    let ip = unmapped(ip);
    let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() || broadcast {
        return Err(format!(
            "{ip} cannot be reached from elsewhere: give the address the NAT's outside has"
        ));
    }
    if is_link_local(ip) {
        return Err(format!(
            "{ip} is link-local: no NAT forwards to it; give the address the NAT's outside has"
        ));
    }
    Ok(ip)
}

/// `--allowed-origin`: an origin as a browser sends it (RFC 6454 §6.1): `http` or `https`,
/// `://`, a host name or an IP address (IPv6 in brackets), and a port only when it is not the
/// scheme's default, in lower case. A trailing `/` is let go and a default port dropped
/// (`https://Desk.example.com:443/` is `https://desk.example.com`); a path, a missing scheme
/// or a bad name is refused: such an origin would never match a page's.
pub(super) fn parse_origin(given: &str) -> Result<String, String> {
    const FORM: &str = "an origin is http(s)://HOST[:PORT], like https://desk.example.com";
    let lower = given.trim_end_matches('/').to_ascii_lowercase();
    let (scheme, rest) = lower
        .split_once("://")
        .ok_or_else(|| format!("`{given}`: no scheme; {FORM}"))?;
    let default_port = match scheme {
        "https" => 443,
        "http" => 80,
        _ => return Err(format!("`{given}`: pages come over http or https; {FORM}")),
    };
    if rest.contains(['/', '?', '#', '@']) {
        return Err(format!(
            "`{given}`: an origin has no path, query or user; {FORM}"
        ));
    }
    let (host, port) = match rest.rsplit_once(':').filter(|(h, _)| !h.ends_with(':')) {
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => (h, Some(p)),
        _ => (rest, None),
    };
    let port = match port.map(str::parse::<u16>) {
        None => None,
        Some(Ok(p)) if p > 0 => Some(p),
        Some(_) => return Err(format!("`{given}`: a port is a number from 1 to 65535")),
    };
    if let Some(why) = crate::proto::ice::host_problem(host) {
        return Err(format!("`{given}`: `{host}` {why}"));
    }
    Ok(match port.filter(|&p| p != default_port) {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    })
}

impl super::Config {
    /// Flags that work together but likely not as meant, one sentence each (logged at start).
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if let (Some(ip), 0) = (self.public_ip, self.udp_port) {
            warnings.push(format!(
                "--public-ip {ip} with no fixed --udp-port: the media port is a random one each \
                 start, which only a NAT forwarding every port passes on; give --udp-port PORT \
                 and forward that UDP port"
            ));
        }
        warnings
    }

    /// `--public-ip` is of a family media is served on (see [`crate::net::bind_sockets`]):
    /// IPv4 unless `--listen` is one IPv6 address, IPv6 with an IPv6 or loopback listen.
    pub fn check_addresses(&self) -> Result<(), String> {
        let Some(public) = self.public_ip else {
            return Ok(());
        };
        let listen = self.listen.ip();
        let served = match public {
            IpAddr::V4(_) => listen.is_ipv4() || listen.is_unspecified() || listen.is_loopback(),
            IpAddr::V6(_) => listen.is_ipv6() || listen.is_loopback(),
        };
        if served {
            return Ok(());
        }
        let family = if public.is_ipv6() { "IPv6" } else { "IPv4" };
        Err(format!(
            "--public-ip {public} is {family}, but --listen {} serves media on {} only: listen \
             on [::]:{} for both",
            self.listen,
            if listen.is_ipv6() { "IPv6" } else { "IPv4" },
            self.listen.port()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use clap::Parser;

    #[test]
    fn listen_and_public_addresses_are_told_what_form_to_take() {
        let listen = |s: &str| parse_listen(s).map(|a| a.to_string());
        assert_eq!(
            listen("[::ffff:192.0.2.2]:8443"),
            Ok("192.0.2.2:8443".into())
        );
        assert_eq!(listen("localhost:8080"), Ok("127.0.0.1:8080".into()));
        assert_eq!(listen("LocalHost:8080"), Ok("127.0.0.1:8080".into()));
        assert!(listen("localhost:abc").is_err_and(|e| e.contains("`localhost:abc`")));
        assert_eq!(listen("[::]:8443"), Ok("[::]:8443".into()));
        let err = |s: &str| parse_listen(s).expect_err(s);
        assert!(err("[::1]").contains("has no port"), "{}", err("[::1]"));
        assert!(err("fe80::1:8443").contains("brackets"));
        assert!(err("192.0.2.2").contains("has no port"));
        assert!(err("desk.example.org:8443").contains("is not IP:PORT"));
        assert!(err("[fe80::1]:8443").contains("link-local"));
        assert!(err("[fe80::1%eth0]:8443").contains("zone"));
        assert!(err("::1:8080").contains("brackets"), "{}", err("::1:8080"));
        for over in ["0.0.0.0:99999", "[::]:70000", "localhost:65536"] {
            assert!(err(over).contains("0 to 65535"), "{over}: {}", err(over));
        }
        assert!(parse_public_ip("fe80::1%eth0").is_err_and(|e| e.contains("zone")));
        // Origins as browsers send them; ones no page could have are refused.
        for (given, taken) in [
            ("https://Desk.example.com:443/", "https://desk.example.com"),
            ("http://desk.example.com:80", "http://desk.example.com"),
            (
                "https://desk.example.com:8443",
                "https://desk.example.com:8443",
            ),
            ("https://[2001:db8::5]:8443", "https://[2001:db8::5]:8443"),
            ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
        ] {
            assert_eq!(parse_origin(given), Ok(taken.into()), "{given}");
        }
        for bad in [
            "desk.example.com",
            "ftp://desk.example.com",
            "https://desk.example.com/app",
            "https://desk..example.com",
            "https://desk.example.com:99999",
            "https://u@desk.example.com",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad} accepted");
        }
        assert!(parse_origin("desk.example.com").is_err_and(|e| e.contains("no scheme")));
        assert_eq!(
            parse_public_ip("[2001:db8::7]"),
            Ok("2001:db8::7".parse().expect("address"))
        );
        assert_eq!(
            parse_public_ip("::ffff:203.0.113.5"),
            Ok("203.0.113.5".parse().expect("address"))
        );
        let check = |args: &[&str]| {
            let mut all = vec!["glint"];
            all.extend(args);
            Config::try_parse_from(all)
                .expect("parses")
                .check_addresses()
        };
        let v6 = ["--public-ip", "2001:db8::7"];
        let v4 = ["--public-ip", "203.0.113.5"];
        let wrong = check(&[&v6[..], &["--listen", "0.0.0.0:8443"]].concat()).expect_err("v6");
        assert!(wrong.contains("[::]:8443"), "{wrong}");
        assert!(check(&[&v4[..], &["--listen", "[2001:db8::5]:8443"]].concat()).is_err());
        for listen in ["[::]:8443", "127.0.0.1:8080", "[2001:db8::5]:8443"] {
            assert_eq!(
                check(&[&v6[..], &["--listen", listen]].concat()),
                Ok(()),
                "{listen}"
            );
        }
        // A random media port behind --public-ip is warned about, not refused (a 1:1 NAT
        // forwards every port).
        let warnings = |args: &[&str]| {
            let mut all = vec!["glint"];
            all.extend(args);
            Config::try_parse_from(all).expect("parses").warnings()
        };
        assert!(
            warnings(&v4)[0].contains("--udp-port"),
            "{:?}",
            warnings(&v4)
        );
        assert!(warnings(&[&v4[..], &["--udp-port", "10777"]].concat()).is_empty());
        assert!(warnings(&[]).is_empty());
        // An allowed origin is a proxy's while Glint serves plain HTTP; with TLS of its own,
        // a page that embeds Glint.
        let proxies = |args: &[&str]| {
            let mut all = vec!["glint", "--allowed-origin", "https://desk.example.com"];
            all.extend(args);
            Config::try_parse_from(all)
                .expect("parses")
                .proxy_origins()
                .len()
        };
        assert_eq!(proxies(&[]), 1, "auto on loopback: plain HTTP");
        assert_eq!(proxies(&["--tls", "off", "--listen", "0.0.0.0:8080"]), 1);
        assert_eq!(proxies(&["--tls", "on"]), 0);
        for listen in ["[::]:8443", "0.0.0.0:8443", "[::1]:8080"] {
            assert_eq!(
                check(&[&v4[..], &["--listen", listen]].concat()),
                Ok(()),
                "{listen}"
            );
        }
    }
}
