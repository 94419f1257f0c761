//! Limits on what is open at once: per client address (the front door's connections,
//! signaling's sockets) and the session's seats (`--max-peers`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use std::time::{Duration, Instant};

use super::throttle::bucket;

/// Things open at once per client address (an IPv6 client by its /64, as in
/// [`super::throttle::Throttle`]), up to a limit: the front door's connections, signaling's
/// sockets.
#[derive(Debug)]
pub struct PerAddress {
    limit: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One thing open, counted against its address until dropped.
#[derive(Debug)]
pub struct AddressSlot {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
    key: IpAddr,
}

impl PerAddress {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            open: Arc::default(),
        }
    }

    /// A slot for one more thing from `ip`, or `None` when that address has `limit` open.
    pub fn take(&self, ip: IpAddr) -> Option<AddressSlot> {
        let key = bucket(ip);
        let mut open = self.open.lock().ok()?;
        let n = open.entry(key).or_insert(0);
        if *n >= self.limit {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            open: self.open.clone(),
            key,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.open.lock() {
            if let Some(n) = open.get_mut(&self.key) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&self.key);
                }
            }
        }
    }
}

/// The session's seats (`--max-peers`): a page holds one from its accepted `hello` until its
/// socket closes, so a page refused as full never joins the room (the session refuses an
/// offer beyond the same number, `crate::session::SessionError::Full`, as a second check).
///
/// A page refused as full is given a ticket, its place in a line, which it gives back in its
/// next `hello` (Glint's page tries every few seconds): a free seat goes to a page only when
/// no page in line before it is still waiting (seen within [`TICKET_HOLDS`]), so it goes to the
/// page waiting longest, not to whoever asks first. Without the line a client that reconnected
/// the moment it was closed took every freed seat before the page waiting for it.
///
/// The seat of a member whose socket closed is kept for its page to come back
/// ([`Seats::keep`], for `crate::input::roles::REJOIN_GRACE`, as the room holds its role):
/// the page that gives its rejoin token back gets it ([`Seats::take_kept`]), no other does.
/// Without that a page waiting in line took the seat the moment an owner reloaded, and the
/// owner was left outside its own session. Only a page that never waited (no ticket) finding
/// nobody there and nobody in line lets go of every kept seat, as the room then drops its
/// holds (a new tab after the last one closed). A page that came back before its old socket
/// was seen closed (a reload is often that quick) took a seat of its own: the seat of the
/// old socket is then not kept for a token nobody will give again ([`BACK_SEEN_FOR`]).
///
/// A clone shares the seats (the input thread frees a seat kept for a member the room lets
/// go, [`Seats::let_go`]).
#[derive(Debug, Clone)]
pub struct Seats {
    max: usize,
    taken: Arc<AtomicUsize>,
    line: Arc<Mutex<Line>>,
}

/// The pages waiting for a seat: ticket → its place (lower came first) and when it was last
/// shown. A ticket is 53 random bits (a JavaScript number holds it exactly), so a newcomer
/// cannot name a place before its own.
#[derive(Debug, Default)]
struct Line {
    next: u64,
    waiting: HashMap<u64, (u64, Instant)>,
    /// Seats kept for members whose socket closed: rejoin token → its seat, kept until then,
    /// and the peer id the member had.
    kept: HashMap<String, (Seat, Instant, u64)>,
    /// Rejoin tokens given back while nothing was kept for them (the page came back before
    /// its old socket closed) → when; at most [`BACK_SEEN_MAX`], for [`BACK_SEEN_FOR`].
    back: HashMap<String, Instant>,
}

/// How long a rejoin token given back with no seat kept for it is remembered: a socket whose
/// page went without closing it (a lost network) is seen closed once its pings go unanswered.
pub(super) const BACK_SEEN_FOR: Duration = Duration::from_secs(120);
/// The most rejoin tokens remembered as given back (only admitted pages give one).
pub(super) const BACK_SEEN_MAX: usize = 256;

/// A new ticket: 53 bits from the OS's randomness (`fallback` if it fails).
fn new_ticket(fallback: u64) -> u64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes) & ((1 << 53) - 1),
        Err(_) => fallback,
    }
}

/// A ticket not shown again within this long is forgotten (its page gave up).
pub const TICKET_KEPT: Duration = Duration::from_secs(10);
/// A ticket keeps a free seat for its page only while shown within this long (Glint's page
/// shows it every 3 s); one shown less lately keeps its place in line until [`TICKET_KEPT`]
/// but holds no seat. Before, a page that had left (a closed tab, a client that took a ticket
/// and went) kept a freed seat empty for up to 10 s while a page behind it waited.
pub(super) const TICKET_HOLDS: Duration = Duration::from_secs(5);

/// No seat for a page: all `max` are taken or kept for pages waiting longer; `ticket` is its
/// place in line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full {
    pub max: usize,
    pub ticket: u64,
}

/// One page's seat, given back when dropped.
#[derive(Debug)]
pub struct Seat {
    taken: Arc<AtomicUsize>,
}

impl Seats {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            taken: Arc::default(),
            line: Arc::default(),
        }
    }

    /// Keeps `seat`, whose member's socket closed, for its page until `until`: the page
    /// that gives `token` (the rejoin token it was given) gets it back ([`Seats::take_kept`]).
    /// A token already given back by a page that took another seat keeps nothing: `seat`
    /// is freed. `peer` is the peer id the member had ([`Seats::let_go`]).
    pub fn keep(&self, token: String, peer: u64, seat: Seat, until: Instant) {
        let mut line = self.line.lock().unwrap_or_else(|e| e.into_inner());
        if line.back.remove(&token).is_none() {
            line.kept.insert(token, (seat, until, peer));
        }
    }

    /// Frees the seat kept for the member that had peer id `peer` (the room let it go: the
    /// API or an owner's page removed it while held); whether one was kept.
    pub fn let_go(&self, peer: u64) -> bool {
        let mut line = self.line.lock().unwrap_or_else(|e| e.into_inner());
        let before = line.kept.len();
        line.kept.retain(|_, (_, _, p)| *p != peer);
        line.kept.len() < before
    }

    /// What the room calls with each held member it lets go
    /// (`crate::input::PublishedRoom::on_let_go`): its kept seat is freed ([`Seats::let_go`]).
    pub fn freed_on_let_go(&self) -> Box<dyn FnMut(crate::peer::PeerId) + Send> {
        let seats = self.clone();
        Box::new(move |peer| {
            seats.let_go(peer.0);
        })
    }

    /// The seat kept at `now` for the page that gives `token` (its rejoin token), if any; a
    /// token with nothing kept is remembered as given back (see [`Seats::keep`]).
    pub fn take_kept(&self, now: Instant, token: Option<&str>) -> Option<Seat> {
        let mut line = self.line.lock().unwrap_or_else(|e| e.into_inner());
        line.kept.retain(|_, (_, until, _)| now < *until);
        let token = token?;
        if let Some((seat, ..)) = line.kept.remove(token) {
            return Some(seat);
        }
        line.back
            .retain(|_, seen| now.saturating_duration_since(*seen) < BACK_SEEN_FOR);
        if line.back.len() < BACK_SEEN_MAX {
            line.back.insert(token.to_owned(), now);
        }
        None
    }

    /// A seat at `now` for a page with `ticket` (from its last `full`, if any), or its place
    /// in line when every free seat is taken, kept for pages waiting longer or kept for a
    /// member's page to come back ([`Seats::keep`]).
    pub fn take(&self, now: Instant, ticket: Option<u64>) -> Result<Seat, Full> {
        let mut line = self.line.lock().unwrap_or_else(|e| e.into_inner());
        line.waiting
            .retain(|_, (_, seen)| now.saturating_duration_since(*seen) < TICKET_KEPT);
        line.kept.retain(|_, (_, until, _)| now < *until);
        let in_line = line
            .waiting
            .values()
            .any(|&(_, seen)| now.saturating_duration_since(seen) < TICKET_HOLDS);
        if ticket.is_none() && !in_line && line.kept.len() == self.taken.load(Ordering::Acquire) {
            // Nobody there but kept seats, nobody waiting, and a page that never waited: a
            // new start.
            line.kept.clear();
        }
        let mine = ticket.and_then(|t| line.waiting.get(&t).map(|&(place, _)| (t, place)));
        // The tickets before this one (every one, for a page with none) still holding a seat.
        let ahead = line
            .waiting
            .values()
            .filter(|&&(p, seen)| {
                mine.is_none_or(|(_, place)| p < place)
                    && now.saturating_duration_since(seen) < TICKET_HOLDS
            })
            .count();
        let seat = self
            .taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n + ahead < self.max).then_some(n + 1)
            });
        match seat {
            Ok(_) => {
                if let Some((t, _)) = mine {
                    line.waiting.remove(&t);
                }
                Ok(Seat {
                    taken: self.taken.clone(),
                })
            }
            Err(_) => {
                let (ticket, place) = mine.unwrap_or_else(|| {
                    line.next += 1;
                    (new_ticket(line.next), line.next)
                });
                if line.waiting.len() < super::throttle::MAX_TRACKED || mine.is_some() {
                    line.waiting.insert(ticket, (place, now));
                }
                Err(Full {
                    max: self.max,
                    ticket,
                })
            }
        }
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.taken.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 7));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 8));

    #[test]
    fn open_things_are_counted_per_address_until_dropped() {
        let per = PerAddress::new(2);
        let a = per.take(ME).expect("first");
        let _b = per.take(ME).expect("second");
        assert!(per.take(ME).is_none(), "a third one from the same address");
        assert!(per.take(OTHER).is_some(), "another address is not held up");
        drop(a);
        assert!(per.take(ME).is_some(), "a dropped slot is free again");
        let v6 = |last| IpAddr::from([0x2001, 0xdb8, 1, 2, 0, 0, 0, last]);
        let per = PerAddress::new(1);
        let _c = per.take(v6(1)).expect("first of the /64");
        assert!(per.take(v6(2)).is_none(), "another address of the same /64");
    }

    #[test]
    fn seats_run_out_at_max_and_come_back_when_dropped() {
        let seats = Seats::new(2);
        let now = Instant::now();
        let a = seats.take(now, None).expect("first");
        let b = seats.take(now, None).expect("second");
        let full = seats.take(now, None).map(|_| ()).expect_err("a third");
        assert_eq!(full.max, 2);
        drop(a);
        // The seat freed is kept for the page in line; with its ticket, it gets it.
        assert!(seats.take(now, None).is_err(), "one that did not wait");
        let c = seats
            .take(now, Some(full.ticket))
            .expect("the page in line");
        drop((b, c));
        assert!(seats.take(now, None).is_ok());
    }

    #[test]
    fn a_freed_seat_goes_to_the_page_waiting_longest() {
        let seats = Seats::new(1);
        let t0 = Instant::now();
        let squatter = seats.take(t0, None).expect("the only seat");
        // Two pages wait, trying every 3 s.
        let first = seats.take(t0, None).map(|_| ()).expect_err("full").ticket;
        let second = seats.take(t0, None).map(|_| ()).expect_err("full").ticket;
        let t1 = t0 + Duration::from_secs(3);
        assert_eq!(
            seats
                .take(t1, Some(first))
                .map(|_| ())
                .expect_err("full")
                .ticket,
            first
        );
        assert!(seats.take(t1, Some(second)).is_err());
        // The squatter is closed and comes straight back: the seat is kept for the line.
        drop(squatter);
        let again = seats
            .take(t1, None)
            .map(|_| ())
            .expect_err("behind the line");
        assert!(![first, second].contains(&again.ticket));
        assert!(
            seats.take(t1, Some(second)).is_err(),
            "the second page is behind the first"
        );
        // A ticket it made up puts it nowhere (a new place, at the back).
        assert!(seats.take(t1, Some(first ^ 1)).is_err());
        let seat = seats
            .take(t1, Some(first))
            .expect("the page waiting longest");
        drop(seat);
        // A page that stopped trying loses its place: the next in line is not held up for good.
        let t2 = t1 + TICKET_KEPT;
        assert!(
            seats.take(t2, Some(again.ticket)).is_ok(),
            "the line went quiet"
        );
    }

    #[test]
    fn a_page_that_left_the_line_holds_no_freed_seat() {
        let seats = Seats::new(1);
        let t0 = Instant::now();
        let held = seats.take(t0, None).expect("the only seat");
        let gone = seats.take(t0, None).map(|_| ()).expect_err("full").ticket;
        let page = seats.take(t0, None).map(|_| ()).expect_err("full").ticket;
        drop(held);
        // Shown 4 s ago, the first ticket's page may still come back: the seat is kept for it.
        let t4 = t0 + TICKET_HOLDS - Duration::from_secs(1);
        assert!(
            seats.take(t4, Some(page)).is_err(),
            "kept for the page before"
        );
        // Not shown for TICKET_HOLDS: the page behind it, showing its own, gets the seat.
        let seat = seats
            .take(t0 + TICKET_HOLDS, Some(page))
            .expect("the seat, not kept for a page that left");
        // Back within TICKET_KEPT, the first ticket has its place in line for the next seat.
        let t6 = t0 + TICKET_HOLDS + Duration::from_secs(1);
        let back = seats.take(t6, Some(gone)).map(|_| ()).expect_err("full");
        assert_eq!(back.ticket, gone, "its own place, not a new one");
        let newcomer = seats.take(t6, None).map(|_| ()).expect_err("full").ticket;
        drop(seat);
        assert!(
            seats.take(t6, Some(newcomer)).is_err(),
            "behind the kept place"
        );
        assert!(seats.take(t6, Some(gone)).is_ok(), "the next seat");
    }

    #[test]
    fn a_members_seat_is_kept_for_its_page_and_no_other() {
        let seats = Seats::new(2);
        let t0 = Instant::now();
        let owner = seats.take(t0, None).expect("the owner's seat");
        let viewer = seats.take(t0, None).expect("a viewer's seat");
        let waiting = seats.take(t0, None).map(|_| ()).expect_err("full").ticket;
        // The owner reloads: its seat is kept for its token, not given to the page in line.
        let until = t0 + Duration::from_secs(30);
        seats.keep("a".repeat(32), 1, owner, until);
        let t1 = t0 + Duration::from_secs(3);
        assert!(seats.take(t1, Some(waiting)).is_err(), "kept for the owner");
        assert!(seats.take_kept(t1, Some(&"b".repeat(32))).is_none());
        let owner = seats
            .take_kept(t1, Some(&"a".repeat(32)))
            .expect("the owner's page back");
        assert!(seats.take_kept(t1, Some(&"a".repeat(32))).is_none(), "once");
        // The owner leaves for good (its page was given a new token when it joined again):
        // the page in line gets the seat once the grace is over.
        seats.keep("e".repeat(32), 2, owner, t1 + Duration::from_secs(30));
        // The page in line tries every 3 s and keeps its place.
        for s in (3..30).step_by(3) {
            let t = t1 + Duration::from_secs(s);
            let full = seats.take(t, Some(waiting)).map(|_| ()).expect_err("kept");
            assert_eq!(full.ticket, waiting);
        }
        let t3 = t1 + Duration::from_secs(30);
        let _seat = seats.take(t3, Some(waiting)).expect("the grace is over");
        drop(viewer);
        // Nobody there but a kept seat: a page that never waited starts afresh, unless pages
        // wait in line (the seat is theirs after the grace).
        let one = Seats::new(1);
        let last = one.take(t0, None).expect("the only seat");
        one.keep("c".repeat(32), 3, last, until);
        let new_tab = one.take(t1, None).expect("a new tab into an empty session");
        assert!(one.take_kept(t1, Some(&"c".repeat(32))).is_none(), "let go");
        let line = one.take(t1, None).map(|_| ()).expect_err("full").ticket;
        one.keep("d".repeat(32), 4, new_tab, t1 + Duration::from_secs(30));
        assert!(one.take(t1, Some(line)).is_err(), "kept from the line");
        assert!(
            one.take(t1, None).is_err(),
            "nor given to a newcomer while one waits"
        );
        assert!(one.take_kept(t1, Some(&"d".repeat(32))).is_some());
    }

    #[test]
    fn a_kept_seat_frees_when_its_member_is_let_go() {
        let seats = Seats::new(1);
        let t0 = Instant::now();
        let owner = seats.take(t0, None).expect("the only seat");
        let waiting = seats.take(t0, None).map(|_| ()).expect_err("full").ticket;
        seats.keep("a".repeat(32), 7, owner, t0 + Duration::from_secs(30));
        assert!(seats.take(t0, Some(waiting)).is_err(), "kept");
        assert!(!seats.let_go(8), "another member's");
        // As the room tells it (from the input thread, through a clone of the seats).
        let mut told = seats.freed_on_let_go();
        told(crate::peer::PeerId(7));
        assert!(!seats.let_go(7), "still kept after the room let it go");
        assert!(
            seats.take(t0, Some(waiting)).is_ok(),
            "the page in line gets it at once"
        );
        assert!(seats.take_kept(t0, Some(&"a".repeat(32))).is_none());
    }

    #[test]
    fn a_page_back_before_its_old_socket_closed_leaves_no_seat_kept() {
        let seats = Seats::new(2);
        let t0 = Instant::now();
        let old = seats.take(t0, None).expect("the owner's seat");
        // The reloaded page's hello comes before its old socket is seen closed: nothing is
        // kept for its token yet, so it takes the free seat.
        assert!(seats.take_kept(t0, Some(&"a".repeat(32))).is_none());
        let _new = seats.take(t0, None).expect("the free seat");
        // The old socket closes: its seat is not kept for a token already given back.
        seats.keep("a".repeat(32), 5, old, t0 + Duration::from_secs(30));
        assert!(seats.take(t0, None).is_ok(), "the old seat is free");
        // A token given back long ago is forgotten: the seat of a later close is kept.
        assert!(seats.take_kept(t0, Some(&"c".repeat(32))).is_none());
        let t1 = t0 + BACK_SEEN_FOR;
        assert!(seats.take_kept(t1, Some(&"b".repeat(32))).is_none());
        let seat = seats.take(t1, None).expect("a seat");
        seats.keep("c".repeat(32), 6, seat, t1 + Duration::from_secs(30));
        assert!(seats.take(t1, None).is_err(), "kept");
        assert!(seats.take_kept(t1, Some(&"c".repeat(32))).is_some());
    }

    #[test]
    fn a_page_behind_many_tickets_of_one_client_keeps_its_place() {
        // A client collects tickets (one per refused hello) before a page comes, and asks for
        // new ones as it uses them: the page is served once those ahead of it are used, never
        // after the ones asked for later. (A cap on places per address, tried, kept a page at
        // the same address out of the line for good while the client's places came back.)
        let seats = Seats::new(1);
        let now = Instant::now();
        let held = seats.take(now, None).expect("the only seat");
        let ticket = |t| seats.take(now, t).map(|_| ()).expect_err("full").ticket;
        let ahead: Vec<u64> = (0..20).map(|_| ticket(None)).collect();
        let page = ticket(None);
        drop(held);
        for t in ahead {
            let later = ticket(None);
            assert_eq!(ticket(Some(page)), page, "the page lost its place");
            drop(seats.take(now, Some(t)).expect("next in line"));
            assert!(
                seats.take(now, Some(later)).is_err(),
                "a later ticket went first"
            );
        }
        assert!(seats.take(now, Some(page)).is_ok());
    }
}
