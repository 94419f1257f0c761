//! Password checks, throttled per client address, sans-IO (every call takes `now`).
//!
//! - At most [`CHECKS_PER_SECOND`] checks in any one second from one address (a sliding
//!   window: the check before the last five must be a second old); more are answered "wait"
//!   without a check.
//! - After [`FREE_FAILURES`] wrong passwords from one address, each further failure makes it
//!   wait [`FIRST_BACKOFF`] doubled per failure, up to [`MAX_BACKOFF`]; the right password
//!   still gets in once the wait is over. A success with a full secret (the owner's password,
//!   the API token) forgets the address's failures; one with a lesser secret (the viewers')
//!   forgets nothing and is not counted, or a viewer could clear its own backoff between
//!   guesses at the owner's password ([`Throttle::check_ranked`]).
//! - An IPv6 client is counted by its /64 (one host usually holds a whole /64).
//! - A browser that got in with a full secret is given a device token
//!   ([`Throttle::remember_device`]); given back, its checks count against that token instead
//!   of its address ([`Client::Device`]), so guesses by others at the same address never make
//!   the owner wait (OWASP's "device cookies" against lockout attacks). Tokens live until glint
//!   stops.
//! - The comparison is constant-time (`subtle`), so the time of an answer says nothing about
//!   how much of a guess was right.
//!
//! Memory is bounded: at most [`MAX_TRACKED`] addresses; past that, the ones idle longest go.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;

pub use super::limits::{AddressSlot, Full, PerAddress, Seat, Seats, TICKET_KEPT};
use crate::metrics::{Counter, Metrics};
use crate::window::SlidingWindow;

pub const CHECKS_PER_SECOND: u32 = 5;
pub const FREE_FAILURES: u32 = 10;
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
pub const MAX_TRACKED: usize = 4096;

/// The answer to a password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Refused,
    /// Not checked: this address (or device token) must wait this long first.
    Wait(Duration),
}

/// Counters of password checks, registered in [`Metrics`].
#[derive(Debug, Clone, Default)]
pub struct ThrottleCounters {
    pub failures: Counter,
    pub throttled: Counter,
}

impl ThrottleCounters {
    pub fn register(m: &mut Metrics) -> Self {
        Self {
            failures: m.counter("password_failures", "Wrong passwords"),
            throttled: m.counter(
                "password_throttled",
                "Password checks not made because the client address must wait",
            ),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    /// The last wrong passwords' times ([`CHECKS_PER_SECOND`] in any second).
    recent: SlidingWindow,
    failures: u32,
    blocked_until: Option<Instant>,
    last: Instant,
}

/// Who a password check counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Client {
    /// A client address (an IPv6 one by its /64).
    Address(IpAddr),
    /// A browser that got in with a full secret before: its device token's value.
    Device(u128),
}

impl From<IpAddr> for Client {
    fn from(ip: IpAddr) -> Self {
        Client::Address(ip)
    }
}

/// Per-client state of password checks.
#[derive(Debug)]
pub struct Throttle {
    entries: HashMap<Client, Entry>,
    /// Device tokens given out, and when each was last given or used.
    devices: HashMap<u128, Instant>,
    counters: ThrottleCounters,
}

impl Throttle {
    pub fn new(counters: ThrottleCounters) -> Self {
        Self {
            entries: HashMap::new(),
            devices: HashMap::new(),
            counters,
        }
    }

    /// A new device token for a browser that just got in with a full secret: 32 hex digits
    /// (128 bits from the OS's randomness). At most [`MAX_TRACKED`] are kept; past that, the
    /// one unused longest is forgotten.
    pub fn remember_device(&mut self, now: Instant) -> Result<String, getrandom::Error> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)?;
        let id = u128::from_le_bytes(bytes);
        if self.devices.len() >= MAX_TRACKED {
            remove_least(&mut self.devices, |used| *used);
        }
        self.devices.insert(id, now);
        Ok(format!("{id:032x}"))
    }

    /// Whom a check from `ip` counts against: the device of `token` when it is one this
    /// throttle gave out, else the address.
    pub fn client(&mut self, now: Instant, ip: IpAddr, token: Option<&str>) -> Client {
        let id = token
            .filter(|t| t.len() == 32)
            .and_then(|t| u128::from_str_radix(t, 16).ok());
        match id.and_then(|id| self.devices.get_mut(&id).map(|t| (id, t))) {
            Some((id, used)) => {
                *used = now;
                Client::Device(id)
            }
            None => Client::Address(ip),
        }
    }

    /// Checks `given` against `want` for a client at `client`. With no password set every
    /// client is accepted, unthrottled.
    pub fn check(
        &mut self,
        now: Instant,
        client: impl Into<Client>,
        want: Option<&str>,
        given: Option<&str>,
    ) -> Verdict {
        match want {
            Some(w) => self.check_any(now, client, &[w], given).0,
            None => Verdict::Accepted,
        }
    }

    /// Checks `given` against each of `wants` (the owner's password, the viewers' one) as one
    /// throttled check; with `Accepted`, the index of the one that matched. Every secret is
    /// compared, each in constant time. No secrets: accepted, unthrottled, index `None`.
    pub fn check_any(
        &mut self,
        now: Instant,
        client: impl Into<Client>,
        wants: &[&str],
        given: Option<&str>,
    ) -> (Verdict, Option<usize>) {
        self.check_ranked(now, client, wants, wants.len(), given)
    }

    /// [`Throttle::check_any`] where only the first `full` of `wants` are full secrets: a
    /// match with one of them forgets the address's failures; a match with a later (lesser)
    /// one forgets nothing and takes no place in the rate window.
    pub fn check_ranked(
        &mut self,
        now: Instant,
        client: impl Into<Client>,
        wants: &[&str],
        full: usize,
        given: Option<&str>,
    ) -> (Verdict, Option<usize>) {
        if wants.is_empty() {
            return (Verdict::Accepted, None);
        }
        self.check_one(now, client.into(), wants, full, given)
    }

    fn check_one(
        &mut self,
        now: Instant,
        client: Client,
        wants: &[&str],
        full: usize,
        given: Option<&str>,
    ) -> (Verdict, Option<usize>) {
        // No password at all is no guess: refused, and nothing counted (a page opened without
        // its `#password`, a scraper without its token).
        let Some(given) = given else {
            return (Verdict::Refused, None);
        };
        let key = match client {
            Client::Address(ip) => Client::Address(bucket(ip)),
            device => device,
        };
        if !self.entries.contains_key(&key) && self.entries.len() >= MAX_TRACKED {
            remove_least(&mut self.entries, |e| e.last);
        }
        let e = self.entries.entry(key).or_insert_with(|| Entry {
            recent: SlidingWindow::new(CHECKS_PER_SECOND as usize, Duration::from_secs(1)),
            failures: 0,
            blocked_until: None,
            last: now,
        });
        e.last = now;
        if let Some(until) = e.blocked_until {
            if now < until {
                self.counters.throttled.inc();
                return (Verdict::Wait(until - now), None);
            }
        }
        if let Some(wait) = e.recent.wait(now) {
            self.counters.throttled.inc();
            return (Verdict::Wait(wait), None);
        }
        // Every secret is compared (each in constant time) before the first match is taken.
        let matches: Vec<bool> = wants
            .iter()
            .map(|w| bool::from(w.as_bytes().ct_eq(given.as_bytes())))
            .collect();
        if let Some(i) = matches.iter().position(|&m| m) {
            if i < full {
                self.entries.remove(&key);
            }
            return (Verdict::Accepted, Some(i));
        }
        e.recent.record(now);
        self.counters.failures.inc();
        e.failures += 1;
        // One line per address when it starts guessing and at each wait (for fail2ban and the
        // like), never one per guess.
        if e.failures == 1 {
            tracing::info!(client = %shown(key), "wrong password");
        }
        if e.failures > FREE_FAILURES {
            let doublings = (e.failures - FREE_FAILURES - 1).min(20);
            let wait = FIRST_BACKOFF
                .saturating_mul(1u32 << doublings)
                .min(MAX_BACKOFF);
            e.blocked_until = Some(now + wait);
            tracing::warn!(
                client = %shown(key),
                failures = e.failures,
                wait_s = wait.as_secs(),
                "wrong passwords from one address: it waits before its next check"
            );
        }
        (Verdict::Refused, None)
    }

    /// How many addresses are tracked.
    pub fn tracked(&self) -> usize {
        self.entries.len()
    }
}

/// Removes the entry of `map` whose `key` is least (the one unused longest), if any.
fn remove_least<K, V, T>(map: &mut HashMap<K, V>, key: impl Fn(&V) -> T)
where
    K: Copy + Eq + std::hash::Hash,
    T: Ord,
{
    let least = map.iter().min_by_key(|(_, v)| key(v)).map(|(k, _)| *k);
    if let Some(k) = least {
        map.remove(&k);
    }
}

/// The address a client is counted under: itself for IPv4 and IPv6 loopback, its /64 for
/// other IPv6 (an IPv4-mapped IPv6 address counts as the IPv4 one).
pub(super) fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            // This machine: one host, not a /64 (and `::/64` read as unspecified in the log).
            None if v6.is_loopback() => ip,
            None => {
                let mut s = v6.segments();
                s[4..].fill(0);
                IpAddr::from(s)
            }
        },
    }
}

/// A throttled client as logged: an address [`bucket`], an IPv6 one with its prefix length
/// (`2001:db8:1:2::/64`); a device by the start of its token.
fn shown(client: Client) -> String {
    match client {
        Client::Address(IpAddr::V6(v6)) if !v6.is_loopback() => format!("{v6}/64"),
        Client::Address(ip) => ip.to_string(),
        Client::Device(id) => format!("device {:08x}…", id >> 96),
    }
}

/// Whole seconds to wait for `wait` (rounded up), as told to a client.
pub fn wait_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 7));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 8));
    const RIGHT: Option<&str> = Some("s3cret");

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_missing_password_is_refused_but_not_counted() {
        let c = ThrottleCounters::default();
        let mut t = Throttle::new(c.clone());
        let now = Instant::now();
        for _ in 0..50 {
            assert_eq!(t.check(now, ME, RIGHT, None), Verdict::Refused);
        }
        assert_eq!(c.failures.get(), 0);
        assert_eq!(t.check(now, ME, RIGHT, RIGHT), Verdict::Accepted);
    }

    #[test]
    fn a_browser_given_a_device_token_is_not_locked_out_by_guesses_from_its_address() {
        let mut t = Throttle::new(ThrottleCounters::default());
        let mut now = Instant::now();
        let token = t.remember_device(now).expect("randomness");
        assert_eq!(token.len(), 32);
        // Someone at the owner's address guesses until that address must wait.
        while t.check(now, ME, RIGHT, Some("guess")) == Verdict::Refused {
            now += ms(250);
        }
        assert!(matches!(t.check(now, ME, RIGHT, RIGHT), Verdict::Wait(_)));
        // The owner's browser, with its token, still gets in at once.
        let device = t.client(now, ME, Some(&token));
        assert!(matches!(device, Client::Device(_)));
        assert_eq!(t.check(now, device, RIGHT, RIGHT), Verdict::Accepted);
        // A token not given out, or malformed, counts as the address.
        for junk in ["0123456789abcdef0123456789abcdef", "nope", "", &token[..31]] {
            let who = t.client(now, ME, Some(junk));
            assert_eq!(who, Client::Address(ME), "{junk}");
            assert!(matches!(t.check(now, who, RIGHT, RIGHT), Verdict::Wait(_)));
        }
        // Wrong passwords with a token count against that token, not the address's.
        let other = t.remember_device(now).expect("randomness");
        let holder = t.client(now, OTHER, Some(&other));
        for _ in 0..FREE_FAILURES {
            now += ms(250);
            assert_eq!(t.check(now, holder, RIGHT, Some("typo")), Verdict::Refused);
        }
        now += ms(250);
        assert_eq!(t.check(now, holder, RIGHT, Some("typo")), Verdict::Refused);
        assert!(matches!(
            t.check(now, holder, RIGHT, RIGHT),
            Verdict::Wait(_)
        ));
        assert_eq!(t.check(now, OTHER, RIGHT, RIGHT), Verdict::Accepted);
    }

    #[test]
    fn no_password_accepts_everyone_unthrottled() {
        let mut t = Throttle::new(ThrottleCounters::default());
        let now = Instant::now();
        for _ in 0..100 {
            assert_eq!(t.check(now, ME, None, None), Verdict::Accepted);
        }
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn never_more_than_five_checks_in_any_second() {
        let mut t = Throttle::new(ThrottleCounters::default());
        let t0 = Instant::now();
        // One check now, four just before a fixed window would end, four just after: a fixed
        // window would take nine within 0.2 s.
        let mut checked = vec![];
        for at in [0, 900, 910, 920, 930, 1010, 1020, 1030, 1040] {
            if t.check(t0 + ms(at), ME, RIGHT, Some("x")) == Verdict::Refused {
                checked.push(at);
            }
        }
        assert_eq!(checked, [0, 900, 910, 920, 930, 1010]);
    }

    #[test]
    fn at_most_five_checks_a_second_per_address() {
        let c = ThrottleCounters::default();
        let mut t = Throttle::new(c.clone());
        let t0 = Instant::now();
        for i in 0..5 {
            assert_eq!(t.check(t0 + ms(i), ME, RIGHT, Some("x")), Verdict::Refused);
        }
        assert_eq!(
            t.check(t0 + ms(100), ME, RIGHT, Some("s3cret")),
            Verdict::Wait(ms(900)),
            "a sixth check within the second was made"
        );
        // Another address is not held up by this one.
        assert_eq!(
            t.check(t0 + ms(100), OTHER, RIGHT, RIGHT),
            Verdict::Accepted
        );
        // The next second, the right password gets in.
        assert_eq!(t.check(t0 + ms(1000), ME, RIGHT, RIGHT), Verdict::Accepted);
        assert_eq!(c.failures.get(), 5);
        assert_eq!(c.throttled.get(), 1);
    }

    #[test]
    fn after_ten_failures_the_wait_doubles_and_the_right_password_gets_in_after_it() {
        let mut t = Throttle::new(ThrottleCounters::default());
        let mut now = Instant::now();
        // Ten wrong guesses, paced within the rate limit: no wait yet.
        for _ in 0..FREE_FAILURES {
            assert_eq!(t.check(now, ME, RIGHT, Some("guess")), Verdict::Refused);
            now += ms(250);
        }
        // The 11th failure costs 1 s, the 12th 2 s, the 13th 4 s.
        for wait in [1, 2, 4] {
            assert_eq!(t.check(now, ME, RIGHT, Some("guess")), Verdict::Refused);
            assert_eq!(
                t.check(now + ms(10), ME, RIGHT, RIGHT),
                Verdict::Wait(Duration::from_secs(wait) - ms(10)),
                "the right password got in during the wait"
            );
            now += Duration::from_secs(wait);
        }
        // Once the wait is over, the right password gets in and the failures are forgotten.
        assert_eq!(t.check(now, ME, RIGHT, RIGHT), Verdict::Accepted);
        assert_eq!(t.check(now, ME, RIGHT, Some("typo")), Verdict::Refused);
        assert_eq!(t.check(now + ms(1), ME, RIGHT, RIGHT), Verdict::Accepted);
    }

    #[test]
    fn a_viewers_password_clears_no_backoff_for_guesses_at_the_owners() {
        let mut t = Throttle::new(ThrottleCounters::default());
        let wants = ["owner-secret", "viewer"];
        let check = |t: &mut Throttle, now, given| t.check_ranked(now, ME, &wants, 1, Some(given));
        let mut now = Instant::now();
        let mut waited = false;
        // Three guesses at the owner's password, then the viewers' (which gets in), over and
        // over, within the rate limit: the guesses still run into the backoff.
        for _ in 0..10 {
            for _ in 0..3 {
                waited |= matches!(check(&mut t, now, "guess").0, Verdict::Wait(_));
                now += ms(250);
            }
            let (v, matched) = check(&mut t, now, "viewer");
            assert!(v == Verdict::Accepted && matched == Some(1) || matches!(v, Verdict::Wait(_)));
            now += ms(250);
        }
        assert!(waited, "30 wrong guesses and never a wait");
        // The owner's password, once the wait is over, forgets the failures.
        now += MAX_BACKOFF;
        assert_eq!(check(&mut t, now, "owner-secret").0, Verdict::Accepted);
        assert_eq!(check(&mut t, now, "guess").0, Verdict::Refused);
        // Full secrets alike (the API's owner password and token), and successes take no
        // place in the rate window: many in a second all get in.
        now += MAX_BACKOFF;
        for n in 0..20 {
            let (v, _) = t.check_any(now + ms(n), ME, &wants, Some("viewer"));
            assert_eq!(v, Verdict::Accepted, "check {n}");
        }
    }

    #[test]
    fn the_wait_is_capped_and_memory_is_bounded() {
        let mut t = Throttle::new(ThrottleCounters::default());
        let mut now = Instant::now();
        for _ in 0..60 {
            t.check(now, ME, RIGHT, Some("x"));
            now += MAX_BACKOFF + Duration::from_secs(1);
        }
        t.check(now, ME, RIGHT, Some("x"));
        match t.check(now, ME, RIGHT, RIGHT) {
            Verdict::Wait(w) => assert!(w <= MAX_BACKOFF, "{w:?}"),
            v => panic!("expected a wait, got {v:?}"),
        }
        for i in 0..(MAX_TRACKED as u32 + 100) {
            t.check(now, IpAddr::V4(i.into()), RIGHT, Some("x"));
        }
        assert!(t.tracked() <= MAX_TRACKED);
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64() {
        let mut t = Throttle::new(ThrottleCounters::default());
        let now = Instant::now();
        for i in 0..5u16 {
            let ip = IpAddr::from([0x2001, 0xdb8, 1, 2, 0, 0, 0, i + 1]);
            assert_eq!(t.check(now, ip, RIGHT, Some("x")), Verdict::Refused);
        }
        let sixth = IpAddr::from([0x2001, 0xdb8, 1, 2, 0xffff, 1, 2, 3]);
        assert!(matches!(
            t.check(now, sixth, RIGHT, RIGHT),
            Verdict::Wait(_)
        ));
    }
}
