//! Client side of the input protocol: the same rules the web client follows
//! (`web-client/src/input.js`), used by the Rust test client and the property tests.

use std::collections::VecDeque;

use super::wire::{ButtonId, Event, EventKind, HeldState, Packet};

/// How many packets carry each edge event (its first send plus repeats).
pub const SENDS_PER_EVENT: u8 = 4;

#[derive(Debug, Default)]
pub struct Sender {
    seq: u32,
    next_id: u32,
    state: HeldState,
    pending: VecDeque<(Event, u8)>,
}

impl Sender {
    pub fn new() -> Self {
        Self {
            next_id: 1,
            ..Self::default()
        }
    }

    pub fn state(&self) -> &HeldState {
        &self.state
    }

    pub fn key(&mut self, usage: u16, down: bool) {
        let held = self.state.keys.iter().any(|&(k, _)| k == usage);
        if down == held || (down && self.state.keys.len() >= super::wire::MAX_KEYS) {
            return; // auto-repeat, a release of something never pressed, or rollover
        }
        if down {
            let id = self.push(EventKind::KeyDown(usage));
            self.state.keys.push((usage, id));
        } else {
            self.state.keys.retain(|&(k, _)| k != usage);
            self.push(EventKind::KeyUp(usage));
        }
    }

    pub fn button(&mut self, b: ButtonId, down: bool) {
        let held = self.state.buttons.iter().any(|&(x, _)| x == b);
        if down == held || b > super::wire::MAX_BUTTON {
            return;
        }
        if down {
            let id = self.push(EventKind::ButtonDown(b));
            self.state.buttons.push((b, id));
        } else {
            self.state.buttons.retain(|&(x, _)| x != b);
            self.push(EventKind::ButtonUp(b));
        }
    }

    pub fn pointer(&mut self, x: u16, y: u16) {
        self.state.pointer = Some((x, y));
    }

    pub fn wheel(&mut self, dx: i16, dy: i16) {
        self.push(EventKind::Wheel { dx, dy });
    }

    /// Releases everything (the page lost focus).
    pub fn release_all(&mut self) {
        for (k, _) in self.state.keys.clone() {
            self.key(k, false);
        }
        for (b, _) in self.state.buttons.clone() {
            self.button(b, false);
        }
    }

    /// The next packet: the full held state plus every event that still has sends left.
    pub fn packet(&mut self, client_time_ms: u32) -> Packet {
        self.seq = self.seq.wrapping_add(1);
        let events = self.pending.iter().map(|(e, _)| *e).collect();
        for (_, left) in self.pending.iter_mut() {
            *left -= 1;
        }
        self.pending.retain(|(_, left)| *left > 0);
        Packet {
            seq: self.seq,
            client_time_ms,
            state: self.state.clone(),
            events,
        }
    }

    fn push(&mut self, kind: EventKind) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.pending
            .push_back((Event { id, kind }, SENDS_PER_EVENT));
        while self.pending.len() > super::wire::MAX_EVENTS {
            self.pending.pop_front();
        }
        id
    }
}
