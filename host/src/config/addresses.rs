//! The command line's addresses: `--listen` and `--public-ip`, each checked for a form a
//! browser elsewhere can use, with the form to give instead when it cannot.

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
            return Err(if !s.starts_with('[') && s.matches(':').count() > 1 {
                format!(
                    "`{given}`: an IPv6 address goes in brackets before its port, [ADDRESS]:PORT, \
                     like [::]:8443"
                )
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
        assert!(parse_public_ip("fe80::1%eth0").is_err_and(|e| e.contains("zone")));
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
        for listen in ["[::]:8443", "0.0.0.0:8443", "[::1]:8080"] {
            assert_eq!(
                check(&[&v4[..], &["--listen", listen]].concat()),
                Ok(()),
                "{listen}"
            );
        }
    }
}
