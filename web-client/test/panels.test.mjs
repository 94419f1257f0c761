// The panels on stand-in elements: a notice clears itself unless a newer one replaced it, and
// a key chosen for a game action goes to the binding, not to the host.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  InfoLine, KeysPanel, StatsToggle, StatusLine, isStatsShortcut, pictureText, endedText, waitText, QUALITY_KBPS, qualityChoices, qualityLabel, savedQuality,
} from '../src/panels.js';
import { KeyBindings } from '../src/keybind.js';
import { PadBindings } from '../src/gamepads.js';

const element = () => Object.assign(new EventTarget(), {
  hidden: true, textContent: '', dataset: {}, children: [],
  append(...c) { this.children.push(...c); },
  replaceChildren(...c) { this.children = c; },
});
const doc = { createElement: () => element() };

test('the info line says when the host scaled the picture down to fit the rate', () => {
  assert.equal(pictureText(1280, 720, 'H264', [1280, 720]), '1280×720 H264');
  assert.equal(pictureText(1281, 721, 'H264', [1281, 721]), '1281×721 H264');
  assert.equal(pictureText(1282, 722, 'H264', [1281, 721]), '1282×722 H264', 'H.264 pads odd sizes');
  assert.equal(pictureText(640, 360, 'H264', [1280, 720]), '640×360 H264 · scaled down to fit the rate');
  assert.equal(pictureText(960, 540, null, [1280, 720]), '960×540 · scaled down to fit the rate');
  assert.equal(pictureText(640, 360, 'VP8', undefined), '640×360 VP8', 'no screen size known');
  assert.equal(pictureText(640, 360, 'H264', [1280, 720], 500),
    '640×360 H264 · scaled down to fit the rate (up to 500 kbit/s, your Quality choice)');
  assert.equal(pictureText(960, 540, 'H264', [1280, 720], 1000),
    '960×540 H264 · scaled down to fit the rate (up to 1 Mbit/s, your Quality choice)');
  assert.equal(pictureText(640, 360, 'H264', [1280, 720], 0), '640×360 H264 · scaled down to fit the rate', 'Auto');
  assert.equal(pictureText(1280, 720, 'H264', [1280, 720], 500), '1280×720 H264', 'a cap that did not scale it');
});

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

test('the stats shortcut toggles the overlay, is not passed on, and says so before its modifiers are timed', () => {
  const overlay = { visible: false, toggle() { this.visible = !this.visible; } };
  let told = 0;
  let since = null;
  let now = 1000;
  const button = Object.assign(element(), { setAttribute(k, v) { this[k] = v; } });
  const toggle = new StatsToggle({ button, overlay, now: () => now, onShortcut: (t) => { told += 1; since = t; } });
  const win = new EventTarget();
  toggle.start(win);
  let reachedStage = false;
  win.addEventListener('keydown', () => { reachedStage = true; });
  const shortcut = () => Object.assign(new Event('keydown', { cancelable: true }),
    { code: 'KeyS', ctrlKey: true, altKey: true, shiftKey: true });
  // Typed at human speed: the modifiers go down one after another, and go out to the host.
  for (const code of ['ControlLeft', 'AltLeft', 'ShiftLeft']) {
    win.dispatchEvent(Object.assign(new Event('keydown'), { code }));
    now += 100;
  }
  reachedStage = false;
  const e = shortcut();
  win.dispatchEvent(e);
  assert.ok(e.defaultPrevented && !reachedStage);
  assert.equal(overlay.visible, true);
  assert.equal(button['aria-pressed'], 'true');
  assert.equal(told, 1);
  assert.equal(since, 1000, 'told from when the first modifier went down');
  for (const code of ['ControlLeft', 'AltLeft', 'ShiftLeft']) win.dispatchEvent(Object.assign(new Event('keyup'), { code }));
  win.dispatchEvent(Object.assign(new Event('keydown'), { code: 'KeyS', ctrlKey: true }));
  assert.ok(reachedStage, 'a plain Ctrl+S goes on');
  assert.equal(told, 1);
});

test('the Keys panel binds a pad it does not know, step by step, and pauses it meanwhile', () => {
  const parts = Object.fromEntries(['panel', 'list', 'openButton', 'closeButton', 'resetButton', 'padList']
    .map((k) => [k, element()]));
  const store = new Map();
  const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v) };
  const padBindings = new PadBindings(storage);
  let intervals = [];
  const timers = { setInterval: (fn) => intervals.push(fn), clearInterval: () => { intervals = []; } };
  const pressed = new Set();
  const pad = (index, id, mapping) => ({
    index, id, mapping, connected: true, axes: [0, 0],
    buttons: Array.from({ length: 10 }, (_, i) => ({ pressed: pressed.has(i), value: pressed.has(i) ? 1 : 0 })),
  });
  const nav = { getGamepads: () => [pad(0, 'standard pad', 'standard'), pad(1, '1234-5678-Odd Pad', '')] };
  const panel = new KeysPanel({ ...parts, bindings: new KeyBindings(storage), padBindings, doc, nav, timers });
  panel.start(new EventTarget());
  parts.openButton.dispatchEvent(new Event('click'));
  assert.equal(intervals.length, 1, 'pads are polled while the panel is open');
  const text = () => parts.padList.children.map((r) => r.children[0].textContent);
  const buttonOf = (key, index) => parts.padList.children.flatMap((r) => r.children)
    .find((b) => b.dataset?.[key] === String(index));
  assert.deepEqual(text(), ['Pad 1: standard mapping', 'Pad 2: unknown layout: bind it']);
  assert.equal(buttonOf('padBind', 0), undefined, 'a standard pad needs no binding');
  buttonOf('padBind', 1).dispatchEvent(new Event('click'));
  assert.equal(panel.bindingPad, true);
  assert.deepEqual(text()[1], 'Pad 2: press A / Cross (bottom face)…');
  const poll = () => intervals[0]();
  pressed.add(5);
  poll();
  assert.equal(text()[1], 'Pad 2: press B / Circle (right face)…');
  pressed.delete(5);
  poll();
  for (let i = 1; i < 21; i += 1) buttonOf('padSkip', 1).dispatchEvent(new Event('click'));
  assert.equal(panel.bindingPad, false);
  assert.deepEqual(text(), ['Pad 1: standard mapping', 'Pad 2: your binding']);
  assert.deepEqual(padBindings.get('1234-5678-Odd Pad').buttons[0], { button: 5 });
  assert.ok(store.get('glint.pads'), 'kept for the next visit');
  buttonOf('padForget', 1).dispatchEvent(new Event('click'));
  assert.equal(padBindings.get('1234-5678-Odd Pad'), null);
  parts.closeButton.dispatchEvent(new Event('click'));
  assert.equal(intervals.length, 0, 'no polling once closed');
});

test('an end says whether the session is over or goes on without this page', () => {
  assert.equal(endedText({ message: "the game's core crashed" }), "The session has ended: the game's core crashed");
  assert.equal(endedText({ message: 'you were removed from the session', why: 'removed' }),
    'You were removed from the session. Reload the page to join again.');
  const replaced = endedText({ message: 'this page joined again on a new connection', why: 'replaced' });
  assert.match(replaced, /another tab or window: the session goes on there/);
  assert.doesNotMatch(replaced, /has ended/);
});

test('the Quality menu offers Auto and caps from 10 Mbit/s down, and a stored choice not in it is Auto', () => {
  assert.equal(QUALITY_KBPS[0], 0);
  assert.deepEqual(QUALITY_KBPS.map(qualityLabel),
    ['Quality: auto', 'Up to 10 Mbit/s', 'Up to 5 Mbit/s', 'Up to 2.5 Mbit/s', 'Up to 1 Mbit/s', 'Up to 500 kbit/s']);
  assert.equal(savedQuality('1000'), 1000);
  for (const stored of [null, '', 'abc', '7', '-500', '1e9']) assert.equal(savedQuality(stored), 0, String(stored));
  // A host at --bitrate 2000 offers Auto, 1 Mbit/s and 500 kbit/s; at 8000, the caps under it.
  assert.deepEqual(qualityChoices(2000), [0, 1000, 500]);
  assert.deepEqual(qualityChoices(8000), [0, 5000, 2500, 1000, 500]);
  assert.deepEqual(qualityChoices(400), [0]);
  for (const max of [undefined, null, 'x', -1, NaN]) assert.deepEqual(qualityChoices(max), [...QUALITY_KBPS], String(max));
});

test('a wait counts down in seconds, then minutes and seconds', () => {
  assert.equal(waitText(1), '1 s');
  assert.equal(waitText(0.2), '1 s');
  assert.equal(waitText(59), '59 s');
  assert.equal(waitText(60), '1 min 00 s');
  assert.equal(waitText(125), '2 min 05 s');
  assert.equal(waitText(900), '15 min 00 s');
  assert.equal(waitText(-3), '0 s');
});
