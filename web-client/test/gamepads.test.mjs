// Binding a pad the page does not know (issue 14 row 10): the Keys panel's step-by-step
// capture, the binding applied to the pad's raw state, and its storage.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BIND_STEPS, PadBinder, PadBindings, applyBinding, standardize } from '../src/gamepads.js';
import { readPads } from '../src/controls.js';

/** A raw pad: `pressed` button indices, axes as given. */
const raw = (pressed = [], axes = [0, 0, 0, 0, 0, 0], id = '0f0d-00c1-Some Pad') => ({
  id, index: 0, connected: true, mapping: '',
  buttons: Array.from({ length: 12 }, (_, i) => ({ pressed: pressed.includes(i), value: pressed.includes(i) ? 1 : 0 })),
  axes,
});
const step = (label) => BIND_STEPS.findIndex(([l]) => l === label);

test('each control takes the raw button or axis the user moves, after the last one is let go', () => {
  // Rest: the left trigger (axis 2) says 0 until first moved, then rests at -1.
  const b = new PadBinder(raw([], [0, 0, 0, 0, 0, 0]));
  assert.equal(b.prompt, 'A / Cross (bottom face)');
  assert.equal(b.feed(raw([7])), true, 'raw button 7 is A');
  assert.equal(b.feed(raw([7, 3])), false, 'nothing is taken while the last one is held');
  assert.equal(b.feed(raw([])), false);
  assert.equal(b.feed(raw([3])), true, 'raw button 3 is B');
  b.feed(raw([]));
  b.skip(); // X
  b.skip(); // Y
  assert.equal(b.prompt, 'D-pad up');
  assert.equal(b.feed(raw([], [0, 0, 0, 0, 0, -1])), true, 'the hat axis 5 going -1 is up');
  b.feed(raw([], [0, 0, 0, 0, 0, 0]));
  while (b.step < step('Left trigger (L2)')) b.skip();
  assert.equal(b.feed(raw([], [0, 0, 1, 0, 0, 0])), true, 'the trigger on axis 2 is L2');
  assert.equal(b.feed(raw([], [0, 0, -1, 0, 0, 0])), false, 'let go: it rests at -1 from now on');
  while (b.step < step('Left stick: push right')) b.skip();
  assert.equal(b.feed(raw([4])), false, 'a button does not bind a stick direction');
  b.feed(raw([], [0, 0, -1, 0, 0, 0]));
  assert.equal(b.feed(raw([], [0, 0, -1, -0.9, 0, 0])), true, 'axis 3 pushed negative is "right"');
  while (!b.done) b.skip();
  assert.equal(b.prompt, null);

  const m = b.binding;
  const std = (pressed, axes) => applyBinding(raw(pressed, axes), m);
  assert.equal(std([7], [0, 0, -1, 0, 0, 0]).buttons[0].pressed, true, 'A from raw 7');
  assert.equal(std([3], [0, 0, -1, 0, 0, 0]).buttons[1].pressed, true, 'B from raw 3');
  assert.equal(std([], [0, 0, -1, 0, 0, -1]).buttons[12].pressed, true, 'up from the hat');
  assert.equal(std([], [0, 0, -1, 0, 0, 1]).buttons[12].pressed, false, 'down is not up');
  const rest = std([], [0, 0, -1, 0, 0, 0]);
  assert.deepEqual(rest.buttons.map((x) => x.pressed), new Array(17).fill(false), 'everything at rest');
  assert.equal(rest.buttons[6].value, 0, 'the trigger at -1 is at rest');
  assert.equal(std([], [0, 0, 0, 0, 0, 0]).buttons[6].value, 0.5, 'half way');
  assert.deepEqual(std([], [0, 0, -1, -0.5, 0, 0]).axes, [0.5, 0, 0, 0], 'the stick, its sign as bound');
});

test('a binding is used for its pad only, is kept across pages, and a standard pad ignores it', () => {
  const store = new Map();
  const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v) };
  const b = new PadBinder(raw());
  b.feed(raw([9]));
  const pads = new PadBindings(storage);
  pads.set('0f0d-00c1-Some Pad', b.binding);
  const again = new PadBindings(storage);
  assert.deepEqual(again.get('0f0d-00c1-Some Pad'), b.binding);
  assert.equal(again.get('other'), null);
  const [p] = readPads([raw([9])], (id) => again.get(id));
  assert.equal(p.buttons, 1, 'raw 9 is standard 0 (A) through the binding');
  const [unbound] = readPads([raw([9])]);
  assert.equal(unbound.buttons, 1 << 9, 'without it, raw 9 stays 9');
  const standard = { ...raw([9]), mapping: 'standard' };
  assert.equal(standardize(standard, b.binding).buttons, standard.buttons);
  again.forget('0f0d-00c1-Some Pad');
  assert.equal(new PadBindings(storage).get('0f0d-00c1-Some Pad'), null);
  // A damaged entry is no binding, not an error.
  store.set('glint.pads', '{not json');
  assert.equal(new PadBindings(storage).get('x'), null);
});

test('a button held when binding starts is not taken until it is let go and pressed again', () => {
  const b = new PadBinder(raw([2]));
  assert.equal(b.feed(raw([2])), false);
  b.feed(raw([]));
  assert.equal(b.feed(raw([2])), true);
  assert.deepEqual(b.binding.buttons[0], { button: 2 });
});
