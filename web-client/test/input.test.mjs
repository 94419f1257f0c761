// The web client's half of the input protocol, checked against the golden vectors that the
// host's tests check too (host/src/input/tests.rs), so the two sides cannot drift.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { encodePacket, decodePacket, InputSender, SENDS_PER_EVENT, EventKind } from '../src/input.js';
import { codeToUsage } from '../src/keymap.js';

const golden = JSON.parse(readFileSync(new URL('./golden/input-v1.json', import.meta.url)));
const hex = (b) => Buffer.from(b).toString('hex');
const bytes = (h) => new Uint8Array(Buffer.from(h, 'hex'));

test('every golden packet encodes to its bytes and decodes back', () => {
  assert.ok(golden.vectors.length >= 5);
  for (const v of golden.vectors) {
    assert.equal(hex(encodePacket(v.packet)), v.hex, v.name);
    assert.deepEqual(decodePacket(bytes(v.hex)), v.packet, v.name);
  }
});

test('every malformed golden packet is refused', () => {
  for (const m of golden.malformed) {
    assert.throws(() => decodePacket(bytes(m.hex)), undefined, m.name);
  }
});

test('an edge event rides in exactly SENDS_PER_EVENT packets, with the held state', () => {
  const s = new InputSender();
  s.key(codeToUsage('KeyA'), true);
  const carrying = [];
  for (let i = 0; i < SENDS_PER_EVENT + 2; i++) {
    const p = s.packet(i);
    assert.deepEqual(p.state.keys, [[0x04, 1]]);
    if (p.events.some((e) => e.kind === EventKind.KeyDown && e.key === 0x04)) carrying.push(p.seq);
  }
  assert.equal(carrying.length, SENDS_PER_EVENT);
  assert.deepEqual(carrying, [1, 2, 3, 4]);
});

test('auto-repeat keydowns add no events; release all clears the state', () => {
  const s = new InputSender();
  assert.equal(s.key(0x04, true), true);
  assert.equal(s.key(0x04, true), false);
  s.button(0, true);
  s.releaseAll();
  const p = s.packet(0);
  assert.deepEqual(p.state.keys, []);
  assert.deepEqual(p.state.buttons, []);
  assert.deepEqual(p.events.map((e) => e.kind),
    [EventKind.KeyDown, EventKind.ButtonDown, EventKind.KeyUp, EventKind.ButtonUp]);
});

test('physical key codes map to HID usages', () => {
  assert.equal(codeToUsage('KeyA'), 0x04);
  assert.equal(codeToUsage('KeyZ'), 0x1d);
  assert.equal(codeToUsage('Digit1'), 0x1e);
  assert.equal(codeToUsage('Digit0'), 0x27);
  assert.equal(codeToUsage('Enter'), 0x28);
  assert.equal(codeToUsage('F1'), 0x3a);
  assert.equal(codeToUsage('F12'), 0x45);
  assert.equal(codeToUsage('Numpad1'), 0x59);
  assert.equal(codeToUsage('ShiftLeft'), 0xe1);
  assert.equal(codeToUsage('NoSuchKey'), undefined);
});
