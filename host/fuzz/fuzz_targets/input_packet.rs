//! Input packets (data channel `input`, page → host), alone and as a sequence through one
//! peer's [`Reconciler`], as the input thread feeds them.
//!
//! Input, read two ways: the whole input as one packet; and as a sequence of packets, each a
//! byte of time since the previous one (×10 ms, so the 1 s lease can run out), a `u16`
//! little-endian length and the packet.
//!
//! Checked beyond "no panic": a packet that decodes encodes back to the same bytes; the
//! reconciler presses only what it does not hold and releases only what it holds, holds
//! what it says it holds ([`Reconciler::held`]) after every packet and timeout, applies each
//! event id at most once (no more moves and wheel turns than distinct ids), and holds
//! nothing after [`Reconciler::release_all`].

#![no_main]

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use glint::input::reconcile::{Action, Control, Reconciler};
use glint::proto::input::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = decode(data) {
        assert_eq!(encode(&packet), data, "{packet:?} encodes to other bytes");
    }
    reconcile(data);
});

fn reconcile(mut data: &[u8]) {
    let start = Instant::now();
    let mut now = start;
    let mut r = Reconciler::new();
    let mut injected = BTreeSet::new();
    let mut ids = HashSet::new();
    let mut relative = 0usize;
    let mut out = Vec::new();
    while let [gap, lo, hi, rest @ ..] = data {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(rest.len());
        let (bytes, tail) = rest.split_at(len);
        data = tail;
        now += Duration::from_millis(10 * u64::from(*gap));
        r.handle_timeout(now, &mut out);
        apply(&mut injected, &mut relative, &mut out);
        assert_eq!(injected, r.held(), "after a timeout");
        let Ok(packet) = decode(bytes) else { continue };
        ids.extend(packet.events.iter().map(|e| e.id));
        r.handle_packet(now, &packet, &mut out);
        apply(&mut injected, &mut relative, &mut out);
        assert_eq!(injected, r.held(), "after {packet:?}");
        assert!(relative <= ids.len(), "an event applied twice");
        if let Some(deadline) = r.lease_deadline() {
            assert!(deadline > now, "a lease that ran out before it was renewed");
        }
    }
    r.release_all(&mut out);
    apply(&mut injected, &mut relative, &mut out);
    assert!(
        injected.is_empty() && r.held().is_empty(),
        "held after release_all"
    );
    assert_eq!(r.lease_deadline(), None);
}

/// Plays `out` on a model of the injector: what is held, and how many relative actions.
fn apply(injected: &mut BTreeSet<Control>, relative: &mut usize, out: &mut Vec<Action>) {
    for action in out.drain(..) {
        match action {
            Action::Press(c) => assert!(injected.insert(c), "{c:?} pressed twice"),
            Action::Release(c) => assert!(injected.remove(&c), "{c:?} released, not held"),
            Action::MoveBy { .. } | Action::Wheel { .. } => *relative += 1,
            Action::MoveTo { .. } | Action::Pad { .. } => {}
        }
    }
}
