// The panels on stand-in elements: a notice clears itself unless a newer one replaced it, and
// a key chosen for a game action goes to the binding, not to the host.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InfoLine, KeysPanel, StatusLine, isStatsShortcut } from '../src/panels.js';
import { KeyBindings } from '../src/keybind.js';

const element = () => Object.assign(new EventTarget(), {
  hidden: true, textContent: '', dataset: {}, children: [],
  append(...c) { this.children.push(...c); },
  replaceChildren(...c) { this.children = c; },
});
const doc = { createElement: () => element() };

test('a notice shows its full time, even while the size and codec keep coming, then they show', () => {
  const timeouts = [];
  const timers = { setTimeout: (fn) => timeouts.push(fn), clearTimeout: (i) => { if (i) timeouts[i - 1] = () => {}; } };
  timers.setTimeout = (fn) => timeouts.push(fn); // the id is the index + 1
  const info = new InfoLine(element(), timers);
  info.toast('state saved');
  assert.equal(info.el.textContent, 'state saved');
  info.show('1280×720 H264'); // every 30 frames: must not cut the notice short
  assert.equal(info.el.textContent, 'state saved');
  timeouts.shift()();
  assert.equal(info.el.textContent, '1280×720 H264');
  info.show('1280×720 VP8');
  assert.equal(info.el.textContent, '1280×720 VP8');
  info.toast('Bo asks for control');
  info.toast('You have control'); // a newer notice restarts the time
  timeouts.pop()();
  assert.equal(info.el.textContent, '1280×720 VP8');
});

test('the status line carries the state for tests and styles', () => {
  const s = new StatusLine(element());
  s.set('failed', 'Wrong or missing password.');
  assert.equal(s.state, 'failed');
  assert.equal(s.el.dataset.state, 'failed');
  assert.equal(s.el.textContent, 'Wrong or missing password.');
});

test('while an action waits for its key, the next key binds it and goes no further', () => {
  const bindings = new KeyBindings(null);
  const parts = { panel: element(), list: element(), openButton: element(), closeButton: element(), resetButton: element() };
  const panel = new KeysPanel({ ...parts, bindings, doc });
  const win = new EventTarget();
  panel.start(win);
  const key = (code) => Object.assign(new Event('keydown', { cancelable: true }), { code });
  const plain = key('KeyJ');
  win.dispatchEvent(plain);
  assert.equal(plain.defaultPrevented, false, 'not choosing: keys pass');
  parts.openButton.dispatchEvent(new Event('click'));
  assert.equal(parts.panel.hidden, false);
  const rowFor = (name) => parts.list.children.find((row) => row.children[1].dataset.action === name);
  rowFor('A').children[1].dispatchEvent(new Event('click'));
  assert.match(rowFor('A').children[0].textContent, /press a key/);
  const chosen = key('KeyJ');
  let reachedStage = false;
  win.addEventListener('keydown', () => { reachedStage = true; });
  win.dispatchEvent(chosen);
  assert.ok(chosen.defaultPrevented);
  assert.equal(reachedStage, false);
  assert.equal(bindings.translate('KeyJ'), 'KeyX');
  assert.equal(rowFor('A').children[0].textContent, 'A: KeyJ');
  parts.resetButton.dispatchEvent(new Event('click'));
  assert.equal(bindings.translate('KeyJ'), 'KeyJ');
});

test('the stats shortcut is Ctrl+Alt+Shift+S only', () => {
  assert.ok(isStatsShortcut({ code: 'KeyS', ctrlKey: true, altKey: true, shiftKey: true }));
  assert.ok(!isStatsShortcut({ code: 'KeyS', ctrlKey: true, altKey: true, shiftKey: false }));
  assert.ok(!isStatsShortcut({ code: 'KeyD', ctrlKey: true, altKey: true, shiftKey: true }));
});
