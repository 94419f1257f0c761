// Input capture without a browser: positions mapped through the letterboxed video, wheel
// deltas summed into notches, pads read from the Gamepad API, and the sending rules (at once on
// a change, repeats after an edge, a heartbeat while something is held) on a virtual clock.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  remotePoint, WheelAccumulator, AltGrFilter, staleModifiers, onWindows, onMac, lockStates, ALTGR_WAIT_MS, readPads, InputControls, clipText, MAX_TEXT_CHARS, HEARTBEAT_MS, AFTER_CHANGE_MS, REPEAT_DELAYS_MS,
} from '../src/controls.js';
import { decodePacket, EventKind } from '../src/input.js';
import { codeToUsage } from '../src/keymap.js';

test('a client position maps to the remote pixel under it, through the letterbox', () => {
  // 1280x720 in a 1000x1000 box at (10, 20): scale 0.78125, bars of 218.75 px above and below.
  const rect = { left: 10, top: 20, width: 1000, height: 1000 };
  assert.deepEqual(remotePoint(rect, 1280, 720, 10 + 500, 20 + 218.75 + 281.25), [640, 360]);
  assert.deepEqual(remotePoint(rect, 1280, 720, 10, 20 + 218.75), [0, 0]);
  assert.deepEqual(remotePoint(rect, 1280, 720, 10 + 999.9, 20 + 218.75 + 562.4), [1279, 719]);
  // On the bars or outside the element: the nearest edge pixel.
  assert.deepEqual(remotePoint(rect, 1280, 720, 0, 0), [0, 0]);
  assert.deepEqual(remotePoint(rect, 1280, 720, 5000, 5000), [1279, 719]);
  // Pillarboxed: 256x240 in 1280x720 (scale 3, bars of 256 px left and right).
  assert.deepEqual(remotePoint({ left: 0, top: 0, width: 1280, height: 720 }, 256, 240, 256 + 3 * 100 + 1, 3 * 50 + 1), [100, 50]);
  assert.equal(remotePoint(rect, 0, 0, 100, 100), null, 'no picture yet');
  // A point past a pixel's middle is still on that pixel (at 1:1, pixel 640 spans 640..641).
  const one = { left: 0, top: 0, width: 1282, height: 722 };
  assert.deepEqual(remotePoint(one, 1282, 722, 640.5, 360.9), [640, 360]);
  assert.deepEqual(remotePoint(one, 1282, 722, 1280.99, 720.5), [1280, 720]);
  // H.264's padding pixel of an odd screen (1281×721 coded 1282×722) keeps video pixel i
  // screen pixel i.
  assert.deepEqual(remotePoint(one, 1282, 722, 640.5, 360.9, 1281, 721), [640, 360]);
});

test('on a lower rung the picture is smaller than the screen, and the pointer maps to the screen', () => {
  // A 640×360 picture of a 1280×720 screen shown 1280×720: each video pixel is two host pixels.
  const rect = { left: 0, top: 0, width: 1280, height: 720 };
  assert.deepEqual(remotePoint(rect, 640, 360, 1001.5, 333.5, 1280, 720), [1001, 333]);
  assert.deepEqual(remotePoint(rect, 640, 360, 1279.9, 719.9, 1280, 720), [1279, 719]);
  assert.deepEqual(remotePoint(rect, 640, 360, 5000, 5000, 1280, 720), [1279, 719], 'clamped to the screen');
  // 426×240 of 1280×720 in a 1000×1000 element (letterboxed): the middle is the middle.
  const box = { left: 10, top: 20, width: 1000, height: 1000 };
  const [x, y] = remotePoint(box, 426, 240, 10 + 500, 20 + 500, 1280, 720);
  assert.ok(Math.abs(x - 640) <= 2 && Math.abs(y - 360) <= 2, `${x}, ${y}`);
});

test('wheel deltas add up to whole notches and keep the remainder', () => {
  const w = new WheelAccumulator(100);
  // A touchpad: many small pixel deltas.
  assert.equal(w.add(0, 30), null);
  assert.equal(w.add(0, 30), null);
  assert.equal(w.add(0, 30), null);
  assert.deepEqual(w.add(0, 30), [0, 1]);
  assert.deepEqual(w.sum, [0, 20]);
  // Five real notches are five clicks on every engine, by the legacy wheelDelta (120 a notch):
  // Chromium on Linux (120 px), on Windows (100 px; 125 at 125 % scale), Firefox (3 lines).
  for (const [dy, mode] of [[120, 0], [100, 0], [125, 0], [3, 1]]) {
    const w5 = new WheelAccumulator(100);
    let notches = 0;
    for (let i = 0; i < 5; i += 1) notches += w5.add(0, dy, mode, [0, -120])?.[1] ?? 0;
    assert.equal(notches, 5, `deltaY ${dy} mode ${mode}`);
    assert.deepEqual(w5.sum.map(Math.abs), [0, 0]);
  }
  // A high-resolution wheel: 8 steps of 15 units make one notch, without drift over many.
  const fine = new WheelAccumulator(100);
  let clicks = 0;
  for (let i = 0; i < 80; i += 1) clicks += fine.add(0, 12.5, 0, [0, -15])?.[1] ?? 0;
  assert.equal(clicks, 10);
  // Without the legacy deltas (a synthetic event): pixels, 100 a notch.
  const plain = new WheelAccumulator(100);
  assert.deepEqual(plain.add(0, 120, 0, [0, 0]), [0, 1]);
  assert.deepEqual(plain.sum, [0, 20]);
  // Lines (a third of a notch each) and pages (ten notches).
  assert.deepEqual(new WheelAccumulator(100).add(0, 3, 1), [0, 1]);
  assert.deepEqual(new WheelAccumulator(100).add(1, 0, 2), [10, 0]);
  // Backwards truncates towards zero too, on both axes.
  const back = new WheelAccumulator(100);
  assert.deepEqual(back.add(-150, -250), [-1, -2]);
  assert.deepEqual(back.sum, [-50, -50]);
  assert.deepEqual(back.add(-50, 0), [-1, 0]);
});

test('pads: connected ones only, at most four, buttons as bits and axes scaled', () => {
  const pad = (index, pressed, axes = [0, 0, 0, 0], connected = true) => ({
    index, connected, axes, mapping: 'standard', buttons: pressed.map((p) => (typeof p === 'number' ? { pressed: false, value: p } : { pressed: p, value: p ? 1 : 0 })),
  });
  const list = [
    null,
    pad(0, [true, false, 0.7, 0.2], [-1, 1, 0.5, -2]),
    pad(1, [true], [0, 0, 0, 0], false),
    pad(2, []), pad(3, []), pad(4, []), pad(5, []),
  ];
  const pads = readPads(list);
  assert.equal(pads.length, 4);
  assert.deepEqual(pads[0], { index: 0, buttons: 0b101, axes: [-32767, 32767, 16384, -32767] });
  assert.deepEqual(pads.map((p) => p.index), [0, 2, 3, 4]);
  assert.deepEqual(readPads(undefined), []);
  // Button 31 sets the top bit and stays an unsigned number.
  const high = new Array(32).fill(false);
  high[31] = true;
  assert.equal(readPads([pad(0, high)])[0].buttons, 0x80000000);
});

/** Input controls on stand-in elements, a virtual clock and a recording channel. */
function rig({ open = true, textInput = null, sendText = undefined, onPen = undefined } = {}) {
  let now = 1000;
  const timeouts = [];
  const intervals = [];
  const timers = {
    setTimeout: (fn, ms) => timeouts.push({ at: now + ms, fn }),
    setInterval: (fn, ms) => intervals.push({ every: ms, next: now + ms, fn }),
  };
  const sent = [];
  const presses = [];
  const stage = Object.assign(new EventTarget(), { focus() { stage.focused = true; } });
  const video = Object.assign(new EventTarget(), {
    videoWidth: 1280, videoHeight: 720, getBoundingClientRect: () => ({ left: 0, top: 0, width: 1280, height: 720 }),
  });
  const doc = Object.assign(new EventTarget(), { hidden: false, pointerLockElement: null });
  const win = new EventTarget();
  const state = { open };
  const c = new InputControls({
    stage, video, win, doc, textInput, sendText, nav: { getGamepads: () => [] }, timers, now: () => now,
    send: (bytes) => { if (!state.open) return false; sent.push({ at: now, p: decodePacket(bytes) }); return true; },
    onPress: (seq, at) => presses.push({ seq, at }),
    onPen,
  });
  c.start();
  return {
    c, sent, presses, stage, video, win, doc, state,
    /** Moves the clock, running timers and intervals in order. */
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = [...timeouts.map((t) => t.at), ...intervals.map((i) => i.next)].filter((t) => t <= end);
        if (!due.length) break;
        now = Math.min(...due);
        for (const t of timeouts.filter((x) => x.at === now)) { timeouts.splice(timeouts.indexOf(t), 1); t.fn(); }
        for (const i of intervals.filter((x) => x.next === now)) { i.next += i.every; i.fn(); }
      }
      now = end;
    },
  };
}

const key = (type, code) => Object.assign(new Event(type, { cancelable: true }), { code });
const pointer = (type, props) => Object.assign(new Event(type, { cancelable: true }), { button: 0, clientX: 0, clientY: 0, ...props });

test('a key press goes out at once, rides in the repeats, and is timed once', () => {
  const r = rig();
  r.advance(AFTER_CHANGE_MS); // the page's first second counts as a change: let it pass
  r.sent.length = 0;
  const down = key('keydown', 'KeyA');
  r.stage.dispatchEvent(down);
  assert.ok(down.defaultPrevented, 'a mapped key is not handled by the page too');
  assert.equal(r.sent.length, 1);
  const usage = codeToUsage('KeyA');
  assert.deepEqual(r.sent[0].p.state.keys.map(([k]) => k), [usage]);
  assert.equal(r.sent[0].p.events[0].kind, EventKind.KeyDown);
  r.advance(REPEAT_DELAYS_MS.at(-1));
  const carrying = r.sent.filter((s) => s.p.events.some((e) => e.kind === EventKind.KeyDown));
  assert.deepEqual(carrying.map((s) => s.at - r.sent[0].at), [0, ...REPEAT_DELAYS_MS]);
  assert.equal(r.presses.length, 1, 'timed once, not per repeat');
  assert.equal(r.presses[0].seq, r.sent[0].p.seq);
  assert.equal(r.c.packetsSent, r.sent.length);
  // An unmapped key is left to the page.
  const other = key('keydown', 'NoSuchKey');
  r.stage.dispatchEvent(other);
  assert.equal(other.defaultPrevented, false);
});

test('while a key is held the full state goes out as a heartbeat, and stops a second after release', () => {
  const r = rig();
  r.stage.dispatchEvent(key('keydown', 'KeyA'));
  r.advance(2000);
  const held = r.sent.filter((s) => s.at > 1100);
  const gaps = held.slice(1).map((s, i) => s.at - held[i].at);
  assert.ok(gaps.length >= 15 && gaps.every((g) => g >= HEARTBEAT_MS && g <= HEARTBEAT_MS * 1.5), `gaps ${gaps}`);
  r.stage.dispatchEvent(key('keyup', 'KeyA'));
  const released = r.sent.length;
  r.advance(AFTER_CHANGE_MS + HEARTBEAT_MS);
  const after = r.sent.length - released;
  assert.ok(after > 0 && after <= 3 + AFTER_CHANGE_MS / HEARTBEAT_MS, `${after} packets after the release`);
  const quiet = r.sent.length;
  r.advance(5000);
  assert.equal(r.sent.length, quiet, 'nothing held, nothing changed: no packets');
});

test('losing focus releases everything held', () => {
  const r = rig();
  r.stage.dispatchEvent(key('keydown', 'KeyA'));
  r.video.dispatchEvent(pointer('pointerdown', { button: 2 }));
  assert.ok(r.stage.focused, 'a click gives the stage the keyboard');
  r.win.dispatchEvent(new Event('blur'));
  const last = r.sent.at(-1).p;
  assert.deepEqual([last.state.keys, last.state.buttons], [[], []]);
  assert.deepEqual(last.events.filter((e) => e.kind === EventKind.KeyUp || e.kind === EventKind.ButtonUp).length, 2);
});

test('a pen clicks as a mouse, and the page is told once that pressure is not sent', () => {
  let told = 0;
  const r = rig({ onPen: () => { told += 1; } });
  r.video.dispatchEvent(pointer('pointerdown', { pointerType: 'pen', clientX: 100, clientY: 50, pressure: 0.4 }));
  const p = r.sent.at(-1).p;
  assert.deepEqual(p.state.buttons.map(([b]) => b), [0], 'the pen tip is the left button');
  assert.deepEqual(p.state.pointer, [100, 50]);
  r.video.dispatchEvent(pointer('pointerup', { pointerType: 'pen', clientX: 100, clientY: 50 }));
  r.video.dispatchEvent(pointer('pointerdown', { pointerType: 'pen', clientX: 120, clientY: 50 }));
  r.video.dispatchEvent(pointer('pointerdown', { pointerType: 'mouse', clientX: 120, clientY: 50 }));
  assert.equal(told, 1);
});

test('pointer positions are remote pixels; locked, the pointer moves by deltas', () => {
  const r = rig();
  r.video.getBoundingClientRect = () => ({ left: 0, top: 0, width: 640, height: 360 });
  r.video.dispatchEvent(pointer('pointermove', { clientX: 320, clientY: 180 }));
  assert.deepEqual(r.sent.at(-1).p.state.pointer, [640, 360]);
  r.doc.pointerLockElement = r.video;
  r.doc.dispatchEvent(new Event('pointerlockchange'));
  r.video.dispatchEvent(pointer('pointermove', { movementX: 3.4, movementY: -2.6 }));
  const p = r.sent.at(-1).p;
  assert.equal(p.state.pointer, null);
  assert.deepEqual(p.events.filter((e) => e.kind === EventKind.Move).map((e) => [e.dx, e.dy]), [[3, -3]]);
});

test('the wheel sends whole notches only', () => {
  const r = rig();
  const wheel = (deltaY) => Object.assign(new Event('wheel', { cancelable: true }), { deltaX: 0, deltaY, deltaMode: 0 });
  r.video.dispatchEvent(wheel(60));
  const before = r.sent.length;
  r.video.dispatchEvent(wheel(60));
  const w = r.sent.at(-1).p.events.filter((e) => e.kind === EventKind.Wheel);
  assert.equal(r.sent.length, before + 1);
  assert.deepEqual(w.map((e) => [e.dx, e.dy]), [[0, 1]]);
});

test('a pad change goes out; the same state again does not', () => {
  const r = rig();
  let pads = [];
  r.c.nav = { getGamepads: () => pads };
  r.advance(AFTER_CHANGE_MS * 2);
  const quiet = r.sent.length;
  pads = [{ index: 0, connected: true, axes: [0, 0, 0, 0], buttons: [{ pressed: true, value: 1 }] }];
  r.advance(10);
  assert.equal(r.c.gamepads, 1);
  assert.equal(r.sent.at(-1).p.state.pads[0].buttons, 1);
  assert.ok(r.sent.length > quiet);
});

test('nothing counts as sent while the channel is closed', () => {
  const r = rig({ open: false });
  r.stage.dispatchEvent(key('keydown', 'KeyA'));
  r.advance(500);
  assert.equal(r.c.packetsSent, 0);
  assert.equal(r.presses.length, 0, 'a press that never went out is not timed');
  r.state.open = true;
  r.advance(HEARTBEAT_MS);
  assert.ok(r.c.packetsSent > 0, 'the held key goes out once the channel opens');
  assert.equal(r.sent[0].p.state.keys.length, 1);
});

test('text: clipped to 4096 characters without splitting a pair, CRLF as LF', () => {
  assert.equal(clipText('a\r\nb\rc\n'), 'a\nb\nc\n');
  assert.equal(clipText('x'.repeat(5000)).length, MAX_TEXT_CHARS);
  const emoji = '😀'.repeat(5000); // two UTF-16 units each
  const cut = clipText(emoji);
  assert.equal([...cut].length, MAX_TEXT_CHARS);
  assert.equal(cut, '😀'.repeat(MAX_TEXT_CHARS));
  assert.equal(clipText('short'), 'short');
});

/** A stand-in for the hidden text field. */
const textField = () => Object.assign(new EventTarget(), { value: '', focused: 0, focus() { this.focused += 1; } });

test('an IME composition and a paste go out as text; the keys the IME takes do not', () => {
  const texts = [];
  const field = textField();
  const r = rig({ textInput: field, sendText: (t) => { texts.push(t); return true; } });
  // Keys during a composition belong to the IME.
  const imeKey = Object.assign(key('keydown', 'KeyN'), { isComposing: true, keyCode: 229 });
  r.stage.dispatchEvent(imeKey);
  assert.equal(imeKey.defaultPrevented, false);
  assert.equal(r.sent.length, 0);
  const process = Object.assign(key('keydown', 'KeyI'), { keyCode: 229 }); // Chromium's first IME key
  r.stage.dispatchEvent(process);
  assert.equal(r.sent.length, 0);
  // Its result is text.
  field.value = 'にほん';
  r.stage.dispatchEvent(Object.assign(new Event('compositionend'), { data: '日本' }));
  assert.deepEqual(texts, ['日本']);
  assert.equal(field.value, '', 'the field is emptied');
  // A release always goes: it cannot leave a key held on the host.
  r.stage.dispatchEvent(key('keydown', 'KeyA'));
  r.stage.dispatchEvent(Object.assign(key('keyup', 'KeyA'), { isComposing: true }));
  assert.deepEqual(r.sent.at(-1).p.state.keys, []);
  // A paste: its plain text, cut to the limit; nothing lands in the field.
  const paste = Object.assign(new Event('paste', { cancelable: true }), {
    clipboardData: { getData: (type) => (type === 'text/plain' ? `line 1\r\n${'y'.repeat(5000)}` : '') },
  });
  r.stage.dispatchEvent(paste);
  assert.ok(paste.defaultPrevented);
  assert.equal(texts.length, 2);
  assert.equal(texts[1].length, MAX_TEXT_CHARS);
  assert.ok(texts[1].startsWith('line 1\nyyy'));
  const image = Object.assign(new Event('paste', { cancelable: true }), { clipboardData: { getData: () => '' } });
  r.stage.dispatchEvent(image);
  assert.equal(texts.length, 2, 'no text, nothing sent');
  // Stray input outside a composition does not pile up in the field.
  field.value = '§';
  field.dispatchEvent(Object.assign(new Event('input'), { isComposing: false }));
  assert.equal(field.value, '');
  // Focus given to the stage goes on into the field, where an IME can run.
  r.stage.dispatchEvent(new Event('focus'));
  assert.equal(field.focused, 1);
});

/** setTimeout/clearTimeout on a clock that moves only by `advance`. */
function fakeTimers() {
  let now = 0;
  let next = 1;
  const pending = new Map();
  return {
    setTimeout: (fn, ms) => { pending.set(next, { at: now + ms, fn }); return next++; },
    clearTimeout: (id) => pending.delete(id),
    advance(ms) {
      now += ms;
      for (const [id, t] of [...pending].sort((a, b) => a[1].at - b[1].at)) {
        if (t.at <= now && pending.delete(id)) t.fn();
      }
    },
  };
}

test('Windows AltGr: the left Ctrl that comes with AltRight is dropped, a real one is kept', () => {
  const timers = fakeTimers();
  const out = [];
  const f = new AltGrFilter({ windows: true, emit: (c, d) => out.push(`${c}${d ? '+' : '-'}`), timers });
  // AltGr+Q as Chromium on Windows reports it.
  f.key('ControlLeft', true, 1000);
  f.key('AltRight', true, 1000);
  f.key('KeyQ', true, 1100);
  f.key('KeyQ', false, 1150);
  // Held long enough to repeat: Windows repeats the pair.
  f.key('ControlLeft', true, 1160);
  f.key('AltRight', true, 1160);
  f.key('ControlLeft', false, 1200);
  f.key('AltRight', false, 1200);
  assert.deepEqual(out, ['AltRight+', 'KeyQ+', 'KeyQ-', 'AltRight+', 'AltRight-']);
  // A real Ctrl+C: the Ctrl goes out before the C.
  out.length = 0;
  f.key('ControlLeft', true, 2000);
  f.key('KeyC', true, 2010);
  f.key('KeyC', false, 2050);
  f.key('ControlLeft', false, 2100);
  assert.deepEqual(out, ['ControlLeft+', 'KeyC+', 'KeyC-', 'ControlLeft-']);
  // Ctrl alone: out after the wait.
  out.length = 0;
  f.key('ControlLeft', true, 3000);
  assert.deepEqual(out, []);
  timers.advance(ALTGR_WAIT_MS);
  assert.deepEqual(out, ['ControlLeft+']);
  // Ctrl, then AltRight later (Ctrl+Alt, not AltGr): both kept.
  out.length = 0;
  f.key('ControlLeft', false, 3100);
  f.key('ControlLeft', true, 4000);
  f.key('AltRight', true, 4020);
  assert.deepEqual(out, ['ControlLeft-', 'ControlLeft+', 'AltRight+']);
  // Not on Windows: everything at once.
  const linux = [];
  const g = new AltGrFilter({ windows: false, emit: (c, d) => linux.push(`${c}${d ? '+' : '-'}`), timers });
  g.key('ControlLeft', true, 1);
  g.key('AltRight', true, 1);
  assert.deepEqual(linux, ['ControlLeft+', 'AltRight+']);
  assert.equal(onWindows({ userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)' }), true);
  assert.equal(onWindows({ userAgentData: { platform: 'Linux' }, userAgent: 'X11; Linux' }), false);
});

test('modifiers an event says are up are released; AltGr keeps the right Alt', () => {
  const event = (...down) => ({ getModifierState: (f) => down.includes(f) });
  const holding = (...codes) => (c) => codes.includes(c);
  // Alt+Tab away: the page never saw Alt's release; the next key says Alt is up.
  assert.deepEqual(staleModifiers(event(), holding('AltLeft', 'KeyX')), ['AltLeft']);
  assert.deepEqual(staleModifiers(event('Alt'), holding('AltLeft')), []);
  // Both sides go when the flag is down for both.
  assert.deepEqual(staleModifiers(event('Alt'), holding('ShiftLeft', 'ShiftRight', 'AltLeft')), ['ShiftLeft', 'ShiftRight']);
  // A right Alt that types AltGr reports AltGraph, not Alt: still held.
  assert.deepEqual(staleModifiers(event('AltGraph'), holding('AltRight')), []);
  assert.deepEqual(staleModifiers(event(), holding('AltRight', 'ControlRight', 'MetaLeft')),
    ['ControlRight', 'AltRight', 'MetaLeft']);
  // An event without flags (a synthetic one) says nothing.
  assert.deepEqual(staleModifiers({}, holding('AltLeft')), []);
});

test('a Keyboard API layout map is named by the common layout it matches', async () => {
  const { guessLayout } = await import('../src/keymap.js');
  const us = new Map([['KeyQ', 'q'], ['KeyW', 'w'], ['KeyY', 'y'], ['Semicolon', ';'], ['Quote', "'"], ['Digit2', '2']]);
  assert.equal(guessLayout(us), 'us');
  assert.equal(guessLayout(new Map([...us, ['KeyQ', 'a'], ['KeyW', 'z'], ['Digit2', 'é']])), 'fr');
  assert.equal(guessLayout(new Map([...us, ['KeyQ', 'a'], ['KeyW', 'z'], ['Digit2', 'é'], ['Digit6', '§']])), 'be');
  assert.equal(guessLayout(new Map([...us, ['KeyY', 'z'], ['Semicolon', 'ö'], ['Quote', 'ä'], ['Minus', 'ß']])), 'de');
  assert.equal(guessLayout(new Map([...us, ['Semicolon', 'ñ']])), 'es');
  assert.equal(guessLayout(new Map([['KeyQ', 'й']])), 'ru');
  assert.equal(guessLayout(new Map([['KeyQ', 'x']])), null);
  assert.equal(guessLayout(undefined), null);
});

test('the paste shortcuts are left to the browser, other Ctrl combinations are not', async () => {
  const { isPasteKey } = await import('../src/controls.js');
  const k = (code, mods = {}) => ({ code, ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, ...mods });
  assert.equal(isPasteKey(k('KeyV', { ctrlKey: true })), true);
  assert.equal(isPasteKey(k('KeyV', { metaKey: true })), true);
  assert.equal(isPasteKey(k('Insert', { shiftKey: true })), true);
  assert.equal(isPasteKey(k('KeyV')), false);
  assert.equal(isPasteKey(k('KeyV', { ctrlKey: true, shiftKey: true })), false, 'Ctrl+Shift+V goes to the host (a terminal paste)');
  assert.equal(isPasteKey(k('KeyV', { ctrlKey: true, altKey: true })), false, 'AltGr+V on Windows');
  assert.equal(isPasteKey(k('KeyC', { ctrlKey: true })), false);
});

test('lock states come from the key event, and a Mac keypad always types digits', () => {
  const ev = (caps, num) => ({ getModifierState: (k) => ({ CapsLock: caps, NumLock: num })[k] ?? false });
  assert.deepEqual(lockStates(ev(true, false), false), { caps: true, num: false });
  assert.deepEqual(lockStates(ev(false, false), true), { caps: false, num: true });
  assert.equal(lockStates({}, false), null);
  assert.equal(onMac({ platform: 'MacIntel', userAgent: '' }), true);
  assert.equal(onMac({ userAgentData: { platform: 'macOS' } }), true);
  assert.equal(onMac({ platform: 'Linux x86_64', userAgent: 'Mozilla/5.0 (X11; Linux x86_64)' }), false);
});

test('a key event\'s lock states ride in the packets that follow', () => {
  const sent = [];
  const stage = new EventTarget();
  const controls = new InputControls({
    stage, video: new EventTarget(), win: new EventTarget(), doc: new EventTarget(),
    nav: { platform: 'Linux x86_64', userAgent: '' }, send: (b) => { sent.push(decodePacket(b)); return true; },
    timers: { setTimeout: () => 0, clearTimeout: () => {}, setInterval: () => 0 },
  });
  controls.start();
  const key = new Event('keydown');
  Object.assign(key, { code: 'Numpad1', key: '1', getModifierState: (k) => k === 'NumLock', preventDefault() {} });
  stage.dispatchEvent(key);
  assert.deepEqual(sent.at(-1).state.locks, { caps: false, num: true });
  assert.equal(sent.at(-1).events.at(-1).kind, EventKind.KeyDown);
});

test('pads without the standard mapping (Firefox on Linux): known layouts remapped, idle triggers at rest', () => {
  const raw = (id, pressed, axes) => ({
    index: 0, id, connected: true, mapping: '', axes,
    buttons: pressed.map((p) => ({ pressed: p, value: p ? 1 : 0 })),
  });
  const bits = (...on) => on.reduce((b, i) => b | (1 << i), 0) >>> 0;
  const xbox = '045e-028e-Microsoft X-Box 360 pad';
  // Start (raw 7) is standard 9, not RT; the triggers at rest (-1) press nothing and do not
  // deflect the right stick (raw axes 3, 4); the d-pad hat (raw axes 6, 7) is standard 12-15.
  const start = new Array(11).fill(false);
  start[7] = true;
  let [p] = readPads([raw(xbox, start, [0, 0, -1, 0.5, -0.5, -1, -1, 1])]);
  assert.equal(p.buttons, bits(9, 14, 13));
  assert.deepEqual(p.axes, [0, 0, 16384, -16383]); // ±0.5 × 32767, rounded
  // A driver that says 0 for a trigger until it moves: still at rest. Full trigger: RT.
  [p] = readPads([raw(xbox, new Array(11).fill(false), [0, 0, 0, 0, 0, 1, 0, 0])]);
  assert.equal(p.buttons, bits(7));
  // A DualShock 4: Square (raw 3) is the left face button, PS (raw 10) the guide button.
  const ds4 = new Array(13).fill(false);
  ds4[3] = true;
  ds4[10] = true;
  [p] = readPads([raw('054c-09cc-Sony Interactive Entertainment Wireless Controller', ds4, [0, 0, -1, 0, 0, -1, 0, -1])]);
  assert.equal(p.buttons, bits(2, 16, 12));
  // An unknown pad: its buttons as they are, its left stick only.
  [p] = readPads([raw('1234-5678-Some Pad', [true, false, true], [1, -1, -1, -1])]);
  assert.equal(p.buttons, bits(0, 2));
  assert.deepEqual(p.axes, [32767, -32767, 0, 0]);
});
