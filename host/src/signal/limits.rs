//! Limits on what is open at once: per client address (the front door's connections,
//! signaling's sockets) and the session's seats (`--max-peers`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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
#[derive(Debug)]
pub struct Seats {
    max: usize,
    taken: Arc<AtomicUsize>,
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
        }
    }

    /// A seat, or `Err(max)` when all `max` are taken.
    pub fn take(&self) -> Result<Seat, usize> {
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .map(|_| Seat {
                taken: self.taken.clone(),
            })
            .map_err(|_| self.max)
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
        let a = seats.take().expect("first");
        let b = seats.take().expect("second");
        assert_eq!(seats.take().map(|_| ()), Err(2));
        drop(a);
        let c = seats.take().expect("a freed seat");
        assert_eq!(seats.take().map(|_| ()), Err(2));
        drop((b, c));
        assert!(seats.take().is_ok());
    }
}
