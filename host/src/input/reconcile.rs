//! Host side of the input protocol, sans-IO: packets and time in, injection actions out.
//!
//! Every press has an event id, and the held state names, for each held key or button, the
//! id of the press that started the hold. The host remembers which presses it has shown, so
//! (see `host/docs/input-protocol.md`):
//! - each event id is applied at most once; repeats and duplicates are ignored;
//! - after a packet's events, the host converges to the newest held state it has seen (by
//!   sequence number): an older packet never overrides newer state;
//! - a press that arrives late, after a newer press of the same control, is a tap that
//!   happened before the current hold: it is shown as release + press, so a tap is lost only
//!   if every packet carrying it (its event, or a held state naming it) was lost;
//! - a peer silent for [`LEASE`] has everything it held released.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::wire::{ButtonId, EventKind, Packet};

/// How long a peer may stay silent before everything it holds is released.
pub const LEASE: Duration = Duration::from_millis(1000);
/// How many event ids below the newest the host remembers; older ids count as already applied.
const ID_WINDOW: u32 = 4096;

/// Something that can be held down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Control {
    /// A keyboard key as a USB HID usage (keyboard page).
    Key(u16),
    /// A mouse button, numbered as `MouseEvent.button`.
    Button(ButtonId),
}

/// What the injector must do, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Press(Control),
    Release(Control),
    MoveTo {
        x: u16,
        y: u16,
    },
    MoveBy {
        dx: i16,
        dy: i16,
    },
    Wheel {
        dx: i16,
        dy: i16,
    },
    /// A gamepad's whole state (standard-mapping button bits, axes); all zero when released.
    Pad {
        index: u8,
        buttons: u32,
        axes: [i16; 4],
    },
}

/// A window of recent event ids.
#[derive(Debug, Default)]
struct IdWindow {
    ids: BTreeSet<u32>,
    max: Option<u32>,
}

impl IdWindow {
    fn too_old(&self, id: u32) -> bool {
        self.max.is_some_and(|m| id.saturating_add(ID_WINDOW) < m)
    }

    /// True if `id` was seen already (or is too old to be new).
    fn contains(&self, id: u32) -> bool {
        self.too_old(id) || self.ids.contains(&id)
    }

    /// True if `id` was new.
    fn insert(&mut self, id: u32) -> bool {
        if self.too_old(id) || !self.ids.insert(id) {
            return false;
        }
        if self.max.is_none_or(|m| id > m) {
            self.max = Some(id);
            let floor = id.saturating_sub(ID_WINDOW);
            while self.ids.first().is_some_and(|&f| f < floor) {
                self.ids.pop_first();
            }
        }
        true
    }
}

/// The reconciled input of one peer.
#[derive(Debug, Default)]
pub struct Reconciler {
    newest_seq: Option<u32>,
    /// The newest held state: control → id of the press that started the hold.
    newest_held: BTreeMap<Control, u32>,
    newest_pointer: Option<(u16, u16)>,
    /// What the host holds: control → id of the press it is holding for.
    host_held: BTreeMap<Control, u32>,
    host_pointer: Option<(u16, u16)>,
    /// Event ids applied.
    seen: IdWindow,
    /// Press ids the host has shown (by event or by convergence).
    shown: IdWindow,
    last_heard: Option<Instant>,
    /// Gamepads in the newest packet: index → (buttons, axes).
    newest_pads: BTreeMap<u8, (u32, [i16; 4])>,
    /// Gamepad states the host has applied.
    host_pads: BTreeMap<u8, (u32, [i16; 4])>,
}

/// `a` is newer than `b` in serial-number arithmetic (wraps at 2^32).
fn seq_newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

impl Reconciler {
    pub fn new() -> Self {
        Self::default()
    }

    /// What the host holds for this peer now.
    pub fn held(&self) -> BTreeSet<Control> {
        self.host_held.keys().copied().collect()
    }

    /// Applies one decoded packet received at `now`, appending the actions to inject.
    /// The newest packet sequence number seen (applied) from this peer.
    pub fn newest_seq(&self) -> Option<u32> {
        self.newest_seq
    }

    pub fn handle_packet(&mut self, now: Instant, packet: &Packet, out: &mut Vec<Action>) {
        self.last_heard = Some(now);
        if self.newest_seq.is_none_or(|s| seq_newer(packet.seq, s)) {
            self.newest_seq = Some(packet.seq);
            let keys = packet
                .state
                .keys
                .iter()
                .map(|&(k, id)| (Control::Key(k), id));
            let buttons = packet
                .state
                .buttons
                .iter()
                .map(|&(b, id)| (Control::Button(b), id));
            self.newest_held = keys.chain(buttons).collect();
            self.newest_pointer = packet.state.pointer;
            self.newest_pads = packet
                .state
                .pads
                .iter()
                .map(|p| (p.index, (p.buttons, p.axes)))
                .collect();
        }
        // A press or release lands where the page says the pointer is now: the packet that
        // carries it has the position in its state, and a pen or a tap that did not move first
        // must not press at the old spot (and drag to the new one).
        let buttons_new = packet.events.iter().any(|e| {
            matches!(e.kind, EventKind::ButtonDown(_) | EventKind::ButtonUp(_))
                && !self.seen.contains(e.id)
        });
        if buttons_new {
            self.move_pointer(out);
        }
        for event in &packet.events {
            if !self.seen.insert(event.id) {
                continue;
            }
            match event.kind {
                EventKind::KeyDown(k) => self.down(Control::Key(k), event.id, out),
                EventKind::KeyUp(k) => self.up(Control::Key(k), event.id, out),
                EventKind::ButtonDown(b) => self.down(Control::Button(b), event.id, out),
                EventKind::ButtonUp(b) => self.up(Control::Button(b), event.id, out),
                EventKind::Wheel { dx, dy } => out.push(Action::Wheel { dx, dy }),
                EventKind::Move { dx, dy } => out.push(Action::MoveBy { dx, dy }),
            }
        }
        self.converge(out);
    }

    /// Moves the host's pointer to the newest position the page gave, if it is not there.
    fn move_pointer(&mut self, out: &mut Vec<Action>) {
        if let Some((x, y)) = self.newest_pointer {
            if self.host_pointer != Some((x, y)) {
                self.host_pointer = Some((x, y));
                out.push(Action::MoveTo { x, y });
            }
        }
    }

    /// Releases everything if the peer has been silent longer than the lease.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Action>) {
        let expired = self
            .last_heard
            .is_some_and(|t| now.saturating_duration_since(t) >= LEASE);
        if expired {
            self.release_all(out);
        }
    }

    /// When the lease runs out, if it has not been renewed.
    pub fn lease_deadline(&self) -> Option<Instant> {
        if self.host_held.is_empty() && self.host_pads.is_empty() {
            return None;
        }
        self.last_heard.map(|t| t + LEASE)
    }

    /// Releases everything the peer holds (it left, or went silent). Later packets resume.
    pub fn release_all(&mut self, out: &mut Vec<Action>) {
        for c in std::mem::take(&mut self.host_held).into_keys() {
            out.push(Action::Release(c));
        }
        for index in std::mem::take(&mut self.host_pads).into_keys() {
            out.push(Action::Pad {
                index,
                buttons: 0,
                axes: [0; 4],
            });
        }
        self.newest_held.clear();
        self.newest_pads.clear();
    }

    fn down(&mut self, c: Control, id: u32, out: &mut Vec<Action>) {
        if !self.shown.insert(id) {
            return; // already shown through a held state
        }
        match self.host_held.get(&c).copied() {
            None => {
                out.push(Action::Press(c));
                self.host_held.insert(c, id);
            }
            Some(current) if current < id => {
                // The release of the current hold was lost: end it, start this one.
                out.push(Action::Release(c));
                out.push(Action::Press(c));
                self.host_held.insert(c, id);
            }
            Some(_) => {
                // A tap from before the current hold, arriving late.
                out.push(Action::Release(c));
                out.push(Action::Press(c));
            }
        }
    }

    fn up(&mut self, c: Control, id: u32, out: &mut Vec<Action>) {
        if let Some(current) = self.host_held.get(&c).copied() {
            if current < id {
                self.host_held.remove(&c);
                out.push(Action::Release(c));
            }
        }
    }

    fn converge(&mut self, out: &mut Vec<Action>) {
        // Gamepads are state only (no edges): the newest state wins; a pad gone is released.
        let gone: Vec<u8> = self
            .host_pads
            .keys()
            .filter(|i| !self.newest_pads.contains_key(i))
            .copied()
            .collect();
        for index in gone {
            self.host_pads.remove(&index);
            out.push(Action::Pad {
                index,
                buttons: 0,
                axes: [0; 4],
            });
        }
        for (&index, &(buttons, axes)) in &self.newest_pads {
            if self.host_pads.get(&index) != Some(&(buttons, axes)) {
                self.host_pads.insert(index, (buttons, axes));
                out.push(Action::Pad {
                    index,
                    buttons,
                    axes,
                });
            }
        }
        self.move_pointer(out);
        let stale: Vec<Control> = self
            .host_held
            .iter()
            .filter(|(c, id)| self.newest_held.get(c) != Some(id))
            .map(|(c, _)| *c)
            .collect();
        for c in stale {
            // Held for another press than the newest state names: that hold is over.
            self.host_held.remove(&c);
            out.push(Action::Release(c));
        }
        let fresh: Vec<(Control, u32)> = self
            .newest_held
            .iter()
            .filter(|(c, _)| !self.host_held.contains_key(c))
            .map(|(c, id)| (*c, *id))
            .collect();
        for (c, id) in fresh {
            self.shown.insert(id);
            self.host_held.insert(c, id);
            out.push(Action::Press(c));
        }
    }
}
