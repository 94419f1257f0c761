//! The input wire format, version 1: one binary packet per datagram on the unordered,
//! zero-retransmit data channel `input`. See `host/docs/input-protocol.md` for the layout and
//! the rules both sides follow. Parsing never panics: anything that does not fit is an error.

use thiserror::Error;

/// The only version this host speaks.
pub const VERSION: u8 = 1;
/// Most keys one packet may report as held (a keyboard has ~110; rollover beyond this is absurd).
pub const MAX_KEYS: usize = 32;
/// Most gamepads in one packet (player slots).
pub const MAX_PADS: usize = 4;
/// Most edge events one packet may carry (new ones plus repeats).
pub const MAX_EVENTS: usize = 64;

const FLAG_POINTER: u8 = 0x01;
/// The lock states below are known (read from the page's last key event).
const FLAG_LOCKS: u8 = 0x02;
const FLAG_CAPS: u8 = 0x04;
const FLAG_NUM: u8 = 0x08;
const FLAGS_ALL: u8 = FLAG_POINTER | FLAG_LOCKS | FLAG_CAPS | FLAG_NUM;

/// A mouse button, numbered as `MouseEvent.button` numbers them.
pub type ButtonId = u8;
/// Highest button number accepted (0 left, 1 middle, 2 right, 3 back, 4 forward).
pub const MAX_BUTTON: ButtonId = 4;

/// One decoded packet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Packet {
    pub seq: u32,
    /// The client's clock in milliseconds (wrapping); for latency figures only.
    pub client_time_ms: u32,
    pub state: HeldState,
    pub events: Vec<Event>,
}

impl Packet {
    /// Whether the user did something in this packet: a press, a wheel or relative move, or
    /// something held (a key, a button, a pad button). A bare pointer position or an idle pad
    /// is not (a page sends those as it watches); implicit control is taken only by acting.
    pub fn acts(&self) -> bool {
        let event = self
            .events
            .iter()
            .any(|e| !matches!(e.kind, EventKind::KeyUp(_) | EventKind::ButtonUp(_)));
        let held = !self.state.keys.is_empty() || !self.state.buttons.is_empty();
        event || held || self.state.pads.iter().any(|p| p.buttons != 0)
    }
}

/// Everything the client holds right now. The host converges to the newest one it has seen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeldState {
    /// Absolute pointer in remote pixels, if the client has one (not in pointer lock).
    pub pointer: Option<(u16, u16)>,
    /// Held mouse buttons, each with the id of the press event that started the hold.
    pub buttons: Vec<(ButtonId, u32)>,
    /// Held keys as USB HID usages (keyboard page 0x07, physical positions), each with the id
    /// of its press event.
    pub keys: Vec<(u16, u32)>,
    pub pads: Vec<Pad>,
    /// Caps Lock and Num Lock as the client's keyboard has them (`getModifierState`), when
    /// it knows: the host's follow them when a key is pressed.
    pub locks: Option<Locks>,
}

/// The lock keys' states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Locks {
    pub caps: bool,
    pub num: bool,
}

/// A standard-mapping gamepad's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pad {
    pub index: u8,
    /// Bit `i` set: `buttons[i]` of the standard mapping pressed.
    pub buttons: u32,
    /// Left x, left y, right x, right y, scaled to i16.
    pub axes: [i16; 4],
}

/// An edge event with its id. Ids grow by one per event on a connection; the host applies each
/// id at most once, however many packets repeat it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub id: u32,
    pub kind: EventKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    KeyDown(u16),
    KeyUp(u16),
    ButtonDown(ButtonId),
    ButtonUp(ButtonId),
    Wheel { dx: i16, dy: i16 },
    Move { dx: i16, dy: i16 },
}

impl EventKind {
    fn tag(&self) -> u8 {
        match self {
            EventKind::KeyDown(_) => 1,
            EventKind::KeyUp(_) => 2,
            EventKind::ButtonDown(_) => 3,
            EventKind::ButtonUp(_) => 4,
            EventKind::Wheel { .. } => 5,
            EventKind::Move { .. } => 6,
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum WireError {
    #[error("empty packet")]
    Empty,
    #[error("unsupported input protocol version {0} (this host speaks {VERSION})")]
    Version(u8),
    #[error("packet truncated at byte {0}")]
    Truncated(usize),
    #[error("{0} trailing bytes after the packet")]
    Trailing(usize),
    #[error("too many {what}: {count} (at most {max})")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("unknown event kind {0}")]
    UnknownEvent(u8),
    #[error("mouse button {0} out of range")]
    Button(u8),
    #[error("unknown flags {0:#04x}")]
    Flags(u8),
    #[error("pointer {0},{1} without the pointer flag (absent is 0,0)")]
    AbsentPointer(u16, u16),
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let end = self.pos + N;
        let bytes = self
            .buf
            .get(self.pos..end)
            .ok_or(WireError::Truncated(self.buf.len()))?;
        self.pos = end;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.take()?))
    }
    fn i16(&mut self) -> Result<i16, WireError> {
        Ok(i16::from_le_bytes(self.take()?))
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn count(&mut self, what: &'static str, max: usize) -> Result<usize, WireError> {
        let count = usize::from(self.u8()?);
        if count > max {
            return Err(WireError::TooMany { what, count, max });
        }
        Ok(count)
    }
}

fn button(b: u8) -> Result<ButtonId, WireError> {
    if b > MAX_BUTTON {
        return Err(WireError::Button(b));
    }
    Ok(b)
}

/// Parses one packet. Every length is checked; nothing here panics on any input.
pub fn decode(buf: &[u8]) -> Result<Packet, WireError> {
    let mut r = Reader { buf, pos: 0 };
    let version = r.u8().map_err(|_| WireError::Empty)?;
    if version != VERSION {
        return Err(WireError::Version(version));
    }
    let flags = r.u8()?;
    // Lock states without the flag that says they are known would be a second encoding.
    if flags & !FLAGS_ALL != 0 || (flags & FLAG_LOCKS == 0 && flags & (FLAG_CAPS | FLAG_NUM) != 0) {
        return Err(WireError::Flags(flags));
    }
    let locks = (flags & FLAG_LOCKS != 0).then_some(Locks {
        caps: flags & FLAG_CAPS != 0,
        num: flags & FLAG_NUM != 0,
    });
    let seq = r.u32()?;
    let client_time_ms = r.u32()?;
    let (x, y) = (r.u16()?, r.u16()?);
    // One encoding per packet: an absent pointer is 0,0, so that nothing sent is ignored.
    if flags & FLAG_POINTER == 0 && (x, y) != (0, 0) {
        return Err(WireError::AbsentPointer(x, y));
    }
    let pointer = (flags & FLAG_POINTER != 0).then_some((x, y));
    let nbuttons = r.count("held buttons", usize::from(MAX_BUTTON) + 1)?;
    let mut buttons = Vec::with_capacity(nbuttons);
    for _ in 0..nbuttons {
        buttons.push((button(r.u8()?)?, r.u32()?));
    }
    let nkeys = r.count("held keys", MAX_KEYS)?;
    let mut keys = Vec::with_capacity(nkeys);
    for _ in 0..nkeys {
        keys.push((r.u16()?, r.u32()?));
    }
    let npads = r.count("gamepads", MAX_PADS)?;
    let mut pads = Vec::with_capacity(npads);
    for _ in 0..npads {
        let index = r.u8()?;
        let buttons = r.u32()?;
        let axes = [r.i16()?, r.i16()?, r.i16()?, r.i16()?];
        pads.push(Pad {
            index,
            buttons,
            axes,
        });
    }
    let nevents = r.count("events", MAX_EVENTS)?;
    let mut events = Vec::with_capacity(nevents);
    for _ in 0..nevents {
        let id = r.u32()?;
        let kind = match r.u8()? {
            1 => EventKind::KeyDown(r.u16()?),
            2 => EventKind::KeyUp(r.u16()?),
            3 => EventKind::ButtonDown(button(r.u8()?)?),
            4 => EventKind::ButtonUp(button(r.u8()?)?),
            5 => EventKind::Wheel {
                dx: r.i16()?,
                dy: r.i16()?,
            },
            6 => EventKind::Move {
                dx: r.i16()?,
                dy: r.i16()?,
            },
            other => return Err(WireError::UnknownEvent(other)),
        };
        events.push(Event { id, kind });
    }
    if r.pos != buf.len() {
        return Err(WireError::Trailing(buf.len() - r.pos));
    }
    Ok(Packet {
        seq,
        client_time_ms,
        state: HeldState {
            pointer,
            buttons,
            keys,
            pads,
            locks,
        },
        events,
    })
}

/// Writes one packet. Counts beyond the limits are cut (the client never sends more).
pub fn encode(p: &Packet) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + 6 * p.state.keys.len() + 9 * p.events.len());
    out.push(VERSION);
    let mut flags = if p.state.pointer.is_some() {
        FLAG_POINTER
    } else {
        0
    };
    if let Some(l) = p.state.locks {
        flags |= FLAG_LOCKS;
        flags |= if l.caps { FLAG_CAPS } else { 0 } | if l.num { FLAG_NUM } else { 0 };
    }
    out.push(flags);
    out.extend_from_slice(&p.seq.to_le_bytes());
    out.extend_from_slice(&p.client_time_ms.to_le_bytes());
    let (x, y) = p.state.pointer.unwrap_or((0, 0));
    out.extend_from_slice(&x.to_le_bytes());
    out.extend_from_slice(&y.to_le_bytes());
    let buttons = &p.state.buttons[..p.state.buttons.len().min(usize::from(MAX_BUTTON) + 1)];
    out.push(buttons.len() as u8);
    for (b, id) in buttons {
        out.push(*b);
        out.extend_from_slice(&id.to_le_bytes());
    }
    let keys = &p.state.keys[..p.state.keys.len().min(MAX_KEYS)];
    out.push(keys.len() as u8);
    for (k, id) in keys {
        out.extend_from_slice(&k.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    let pads = &p.state.pads[..p.state.pads.len().min(MAX_PADS)];
    out.push(pads.len() as u8);
    for pad in pads {
        out.push(pad.index);
        out.extend_from_slice(&pad.buttons.to_le_bytes());
        for a in pad.axes {
            out.extend_from_slice(&a.to_le_bytes());
        }
    }
    let events = &p.events[..p.events.len().min(MAX_EVENTS)];
    out.push(events.len() as u8);
    for e in events {
        out.extend_from_slice(&e.id.to_le_bytes());
        out.push(e.kind.tag());
        match e.kind {
            EventKind::KeyDown(k) | EventKind::KeyUp(k) => out.extend_from_slice(&k.to_le_bytes()),
            EventKind::ButtonDown(b) | EventKind::ButtonUp(b) => out.push(b),
            EventKind::Wheel { dx, dy } | EventKind::Move { dx, dy } => {
                out.extend_from_slice(&dx.to_le_bytes());
                out.extend_from_slice(&dy.to_le_bytes());
            }
        }
    }
    out
}
