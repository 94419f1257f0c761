// The input protocol, version 1 (host/docs/input-protocol.md): the same packet layout and
// sending rules as host/src/input/{wire,sender}.rs, checked against the same golden vectors.

export const VERSION = 1;
export const SENDS_PER_EVENT = 4;
export const MAX_KEYS = 32;
export const MAX_PADS = 4;
export const MAX_EVENTS = 64;
export const MAX_BUTTON = 4; // MouseEvent.button: 0 left, 1 middle, 2 right, 3 back, 4 forward
const FLAG_POINTER = 0x01;
const FLAG_LOCKS = 0x02; // the lock states below are known
const FLAG_CAPS = 0x04;
const FLAG_NUM = 0x08;

export const EventKind = Object.freeze({
  KeyDown: 1, KeyUp: 2, ButtonDown: 3, ButtonUp: 4, Wheel: 5, Move: 6,
});

/**
 * Packet: { seq, clientTimeMs, state: { pointer: [x, y] | null, buttons: [[button, pressId]],
 * keys: [[usage, pressId]], pads: [{ index, buttons, axes: [4] }], locks?: { caps, num } },
 * events: [{ id, kind, key | button | dx, dy }] }
 */
export function encodePacket(p) {
  const keys = p.state.keys.slice(0, MAX_KEYS);
  const buttons = p.state.buttons.slice(0, MAX_BUTTON + 1);
  const pads = p.state.pads.slice(0, MAX_PADS);
  const events = p.events.slice(0, MAX_EVENTS);
  let size = 14 + 1 + 5 * buttons.length + 1 + 6 * keys.length + 1 + 13 * pads.length + 1;
  for (const e of events) size += 5 + eventPayloadSize(e.kind);
  const buf = new ArrayBuffer(size);
  const v = new DataView(buf);
  let o = 0;
  v.setUint8(o++, VERSION);
  const locks = p.state.locks;
  v.setUint8(o++, (p.state.pointer ? FLAG_POINTER : 0)
    | (locks ? FLAG_LOCKS | (locks.caps ? FLAG_CAPS : 0) | (locks.num ? FLAG_NUM : 0) : 0));
  v.setUint32(o, p.seq >>> 0, true); o += 4;
  v.setUint32(o, p.clientTimeMs >>> 0, true); o += 4;
  const [x, y] = p.state.pointer || [0, 0];
  v.setUint16(o, x, true); o += 2;
  v.setUint16(o, y, true); o += 2;
  v.setUint8(o++, buttons.length);
  for (const [b, id] of buttons) { v.setUint8(o++, b); v.setUint32(o, id >>> 0, true); o += 4; }
  v.setUint8(o++, keys.length);
  for (const [k, id] of keys) {
    v.setUint16(o, k, true); o += 2;
    v.setUint32(o, id >>> 0, true); o += 4;
  }
  v.setUint8(o++, pads.length);
  for (const pad of pads) {
    v.setUint8(o++, pad.index);
    v.setUint32(o, pad.buttons >>> 0, true); o += 4;
    for (let i = 0; i < 4; i++) { v.setInt16(o, pad.axes[i] || 0, true); o += 2; }
  }
  v.setUint8(o++, events.length);
  for (const e of events) {
    v.setUint32(o, e.id >>> 0, true); o += 4;
    v.setUint8(o++, e.kind);
    switch (e.kind) {
      case EventKind.KeyDown: case EventKind.KeyUp:
        v.setUint16(o, e.key, true); o += 2; break;
      case EventKind.ButtonDown: case EventKind.ButtonUp:
        v.setUint8(o++, e.button); break;
      default:
        v.setInt16(o, e.dx, true); o += 2;
        v.setInt16(o, e.dy, true); o += 2;
    }
  }
  return new Uint8Array(buf);
}

function eventPayloadSize(kind) {
  if (kind === EventKind.KeyDown || kind === EventKind.KeyUp) return 2;
  if (kind === EventKind.ButtonDown || kind === EventKind.ButtonUp) return 1;
  return 4;
}

/** Decodes a packet (used by tests; the host does the real decoding). Throws on bad input. */
export function decodePacket(bytes) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  const u8 = () => v.getUint8(o++);
  const u16 = () => { const r = v.getUint16(o, true); o += 2; return r; };
  const i16 = () => { const r = v.getInt16(o, true); o += 2; return r; };
  const u32 = () => { const r = v.getUint32(o, true); o += 4; return r; };
  if (u8() !== VERSION) throw new Error('unsupported version');
  const flags = u8();
  if (flags & ~(FLAG_POINTER | FLAG_LOCKS | FLAG_CAPS | FLAG_NUM)) throw new Error('unknown flags');
  if (!(flags & FLAG_LOCKS) && (flags & (FLAG_CAPS | FLAG_NUM))) throw new Error('lock states without their flag');
  const seq = u32();
  const clientTimeMs = u32();
  const x = u16(); const y = u16();
  if (!(flags & FLAG_POINTER) && (x || y)) throw new Error('pointer without its flag');
  const count = (max) => { const n = u8(); if (n > max) throw new Error('count over limit'); return n; };
  const button = () => { const b = u8(); if (b > MAX_BUTTON) throw new Error('button out of range'); return b; };
  const buttons = [];
  for (let n = count(MAX_BUTTON + 1), i = 0; i < n; i++) buttons.push([button(), u32()]);
  const keys = [];
  for (let n = count(MAX_KEYS), i = 0; i < n; i++) keys.push([u16(), u32()]);
  const pads = [];
  for (let n = count(MAX_PADS), i = 0; i < n; i++) {
    pads.push({ index: u8(), buttons: u32(), axes: [i16(), i16(), i16(), i16()] });
  }
  const events = [];
  for (let n = count(MAX_EVENTS), i = 0; i < n; i++) {
    const id = u32();
    const kind = u8();
    if (kind === EventKind.KeyDown || kind === EventKind.KeyUp) events.push({ id, kind, key: u16() });
    else if (kind === EventKind.ButtonDown || kind === EventKind.ButtonUp) events.push({ id, kind, button: button() });
    else if (kind === EventKind.Wheel || kind === EventKind.Move) events.push({ id, kind, dx: i16(), dy: i16() });
    else throw new Error(`unknown event kind ${kind}`);
  }
  if (o !== bytes.byteLength) throw new Error('trailing bytes');
  const pointer = flags & FLAG_POINTER ? [x, y] : null;
  const state = { pointer, buttons, keys, pads };
  if (flags & FLAG_LOCKS) state.locks = { caps: !!(flags & FLAG_CAPS), num: !!(flags & FLAG_NUM) };
  return { seq, clientTimeMs, state, events };
}

/** Holds the client's input state and builds packets, repeating each edge event. */
export class InputSender {
  constructor() {
    this.seq = 0;
    this.nextId = 1;
    this.state = { pointer: null, buttons: [], keys: [], pads: [] };
    this.pending = []; // [{ event, left }]
  }

  anythingHeld() {
    // A stick held off-centre counts: its state must keep flowing (heartbeats, lease).
    return this.state.keys.length > 0 || this.state.buttons.length > 0 ||
      this.state.pads.some((p) => p.buttons !== 0 || p.axes.some((a) => Math.abs(a) > 8000));
  }

  hasPending() { return this.pending.length > 0; }

  /** Caps Lock and Num Lock as the keyboard has them; the host's follow at the next press. */
  setLocks(caps, num) { this.state.locks = { caps: !!caps, num: !!num }; }

  /** Whether key `usage` is held now. */
  isHeld(usage) {
    return this.state.keys.some(([k]) => k === usage);
  }

  key(usage, down) {
    const held = this.state.keys.some(([k]) => k === usage);
    if (down === held || (down && this.state.keys.length >= MAX_KEYS)) return false;
    if (down) {
      const id = this.push({ kind: EventKind.KeyDown, key: usage });
      this.state.keys.push([usage, id]);
    } else {
      this.state.keys = this.state.keys.filter(([k]) => k !== usage);
      this.push({ kind: EventKind.KeyUp, key: usage });
    }
    return true;
  }

  button(b, down) {
    const held = this.state.buttons.some(([x]) => x === b);
    if (down === held || b < 0 || b > MAX_BUTTON) return false;
    if (down) {
      const id = this.push({ kind: EventKind.ButtonDown, button: b });
      this.state.buttons.push([b, id]);
    } else {
      this.state.buttons = this.state.buttons.filter(([x]) => x !== b);
      this.push({ kind: EventKind.ButtonUp, button: b });
    }
    return true;
  }

  pointer(x, y) { this.state.pointer = [x, y]; }
  clearPointer() { this.state.pointer = null; }
  wheel(dx, dy) { this.push({ kind: EventKind.Wheel, dx, dy }); }
  moveBy(dx, dy) { this.push({ kind: EventKind.Move, dx, dy }); }
  setPads(pads) { this.state.pads = pads.slice(0, MAX_PADS); }

  releaseAll() {
    for (const [k] of [...this.state.keys]) this.key(k, false);
    for (const [b] of [...this.state.buttons]) this.button(b, false);
  }

  packet(clientTimeMs) {
    this.seq = (this.seq + 1) >>> 0;
    const events = this.pending.map((p) => p.event);
    for (const p of this.pending) p.left -= 1;
    this.pending = this.pending.filter((p) => p.left > 0);
    return {
      seq: this.seq,
      clientTimeMs: clientTimeMs >>> 0,
      state: {
        pointer: this.state.pointer ? [...this.state.pointer] : null,
        buttons: this.state.buttons.map(([b, id]) => [b, id]),
        keys: this.state.keys.map(([k, id]) => [k, id]),
        pads: this.state.pads.map((p) => ({ ...p, axes: [...p.axes] })),
        ...(this.state.locks ? { locks: { ...this.state.locks } } : {}),
      },
      events,
    };
  }

  push(e) {
    const event = { id: this.nextId, ...e };
    this.nextId = (this.nextId + 1) >>> 0;
    this.pending.push({ event, left: SENDS_PER_EVENT });
    while (this.pending.length > MAX_EVENTS) this.pending.shift();
    return event.id;
  }
}
