// Touch gestures as the state machine sees them: fingers in, actions out, on fake timers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TouchGestures, View, LONG_PRESS_MS, WHEEL_STEP_PX, TAP_DRAG_MS } from '../src/touch.js';
import { tapsAsClicks } from '../src/phone.js';

function setup(mode = 'direct', zoomed = false) {
  const out = [];
  const pending = [];
  const timers = {
    setTimeout: (f, ms) => { pending.push({ f, ms }); return pending.length; },
    clearTimeout: (id) => { if (pending[id - 1]) pending[id - 1].f = null; },
  };
  const g = new TouchGestures({ emit: (a) => out.push(a), timers, mode, zoomed: () => zoomed });
  const fire = () => { for (const p of pending.splice(0)) p.f?.(); };
  return { g, out, fire };
}
const kinds = (out) => out.map((a) => (a.kind === 'button' ? `${a.down ? '+' : '-'}${a.button}` : a.kind));

test('direct: a tap clicks where the finger is', () => {
  const { g, out } = setup();
  g.down(1, 100, 50, 0);
  g.move(1, 103, 52);
  g.up(1, 103, 52, 120);
  assert.deepEqual(kinds(out), ['point', '+0', '-0']);
  assert.deepEqual(out[0], { kind: 'point', x: 103, y: 52 });
});

test('direct: a long press is a right click, and its release adds nothing', () => {
  const { g, out, fire } = setup();
  g.down(1, 10, 10, 0);
  fire(); // LONG_PRESS_MS passed
  g.up(1, 10, 10, LONG_PRESS_MS + 100);
  assert.deepEqual(kinds(out), ['point', '+2', '-2']);
});

test('direct: a finger that moves drags with the left button', () => {
  const { g, out } = setup();
  g.down(1, 10, 10, 0);
  g.move(1, 40, 10);
  g.move(1, 80, 20);
  g.up(1, 80, 20, 300);
  assert.deepEqual(kinds(out), ['point', '+0', 'point', 'point', 'point', '-0']);
  assert.deepEqual(out.at(-2), { kind: 'point', x: 80, y: 20 });
});

test('two fingers moving up scroll down, a notch per step; zoomed, they pan', () => {
  const { g, out } = setup();
  g.down(1, 100, 400, 0);
  g.down(2, 200, 400, 10);
  for (let y = 400; y >= 400 - 3 * WHEEL_STEP_PX; y -= 10) { g.move(1, 100, y); g.move(2, 200, y); }
  g.up(1, 100, 300, 500);
  g.up(2, 200, 300, 510);
  const wheel = out.filter((a) => a.kind === 'wheel');
  assert.equal(wheel.reduce((n, a) => n + a.dy, 0), 3);
  assert.ok(!out.some((a) => a.kind === 'button'), kinds(out).join(' '));

  const z = setup('direct', true);
  z.g.down(1, 100, 400, 0);
  z.g.down(2, 200, 400, 10);
  z.g.move(1, 100, 380);
  z.g.move(2, 200, 380);
  assert.ok(z.out.some((a) => a.kind === 'pan') && !z.out.some((a) => a.kind === 'wheel'));
});

test('a pinch zooms the view about the fingers, never the remote', () => {
  const { g, out } = setup();
  g.down(1, 100, 100, 0);
  g.down(2, 200, 100, 5);
  g.move(1, 50, 100);
  g.move(2, 250, 100);
  const zoom = out.filter((a) => a.kind === 'zoom');
  assert.ok(zoom.length > 0);
  assert.ok(zoom.reduce((f, a) => f * a.factor, 1) > 1.5);
  assert.ok(!out.some((a) => a.kind === 'wheel' || a.kind === 'button'));
});

test('trackpad: moves are relative, a tap clicks at the pointer, a two-finger tap right-clicks, tap then drag drags', () => {
  const { g, out, fire } = setup('trackpad');
  g.down(1, 100, 100, 0);
  g.move(1, 130, 110);
  g.move(1, 150, 120);
  g.up(1, 150, 120, 400);
  assert.deepEqual(out.filter((a) => a.kind === 'nudge').map((a) => [a.dx, a.dy]), [[30, 10], [20, 10]]);
  assert.ok(!out.some((a) => a.kind === 'button' || a.kind === 'point'));

  out.length = 0;
  g.down(1, 150, 120, 1000);
  g.up(1, 150, 120, 1080);
  assert.deepEqual(kinds(out), [], 'the click waits to see whether a drag follows');
  fire();
  assert.deepEqual(kinds(out), ['+0', '-0']);

  // Tap, then touch and move: one drag, not a click and then a drag (a double click to X).
  out.length = 0;
  g.down(1, 150, 120, 2000);
  g.up(1, 150, 120, 2080);
  g.down(1, 150, 120, 2080 + TAP_DRAG_MS - 50);
  g.move(1, 200, 120);
  g.up(1, 200, 120, 2600);
  fire();
  assert.deepEqual(kinds(out), ['+0', 'nudge', '-0']);

  // Two taps: a double click.
  out.length = 0;
  g.down(1, 150, 120, 2800);
  g.up(1, 150, 120, 2850);
  g.down(1, 150, 120, 2900);
  g.up(1, 150, 120, 2950);
  fire();
  assert.deepEqual(kinds(out), ['+0', '-0', '+0', '-0']);

  out.length = 0;
  g.down(1, 100, 100, 3000);
  g.down(2, 140, 100, 3010);
  g.up(2, 140, 100, 3100);
  g.up(1, 100, 100, 3110);
  assert.deepEqual(kinds(out), ['+2', '-2']);
});

test('a cancelled touch lets go of a held button', () => {
  const { g, out } = setup();
  g.down(1, 10, 10, 0);
  g.move(1, 60, 10);
  g.cancelAll();
  assert.deepEqual(kinds(out).slice(-1), ['-0']);
});

test('the view zooms about a point, stays over the picture, and snaps back at 1x', () => {
  const v = new View();
  v.zoom(2, 100, 100, 400, 300);
  assert.equal(v.scale, 2);
  assert.deepEqual([v.x, v.y], [-100, -100]); // the point under the fingers stays there
  v.pan(1000, 1000, 400, 300);
  assert.deepEqual([v.x, v.y], [0, 0]);
  v.pan(-5000, -5000, 400, 300);
  assert.deepEqual([v.x, v.y], [-400, -300]);
  v.zoom(0.1, 0, 0, 400, 300);
  assert.equal(v.css, '');
  assert.equal(v.zoomed, false);
});

test('with Ctrl held from the key row, a letter from the phone keyboard is Ctrl+letter, then Ctrl lets go', async () => {
  const { TouchInput, codeForChar } = await import('../src/phone.js');
  assert.equal(codeForChar('c'), 'KeyC');
  assert.equal(codeForChar('Z'), 'KeyZ');
  assert.equal(codeForChar('7'), 'Digit7');
  assert.equal(codeForChar('/'), 'Slash');
  assert.equal(codeForChar('é'), null);
  const log = [];
  const controls = { key: (code, down) => log.push(`${down ? '+' : '-'}${code}`), tap: (code) => log.push(`tap ${code}`) };
  const button = { setAttribute: (k, v) => log.push(`${k}=${v}`) };
  const keyRow = { querySelectorAll: () => [button] };
  const t = new TouchInput({ controls, keyRow, timers: {}, doc: {} });
  assert.equal(controls.onTypedText('c'), false, 'nothing held: plain text');
  t.rowKey('ControlLeft', button);
  log.length = 0;
  assert.equal(controls.onTypedText('c'), true);
  assert.deepEqual(log, ['tap KeyC', '-ControlLeft', 'aria-pressed=false']);
  t.rowKey('AltLeft', button);
  log.length = 0;
  assert.equal(controls.onTypedText('日'), false, 'no key for it: typed as text, and Alt lets go');
  assert.deepEqual(log, ['-AltLeft', 'aria-pressed=false']);
  t.rowKey('ControlLeft', button);
  log.length = 0;
  assert.equal(controls.onTypedText('C'), true);
  assert.deepEqual(log.filter((l) => !l.startsWith('aria')), ['+ShiftLeft', 'tap KeyC', '-ShiftLeft', '-ControlLeft'], 'Ctrl+Shift+C');
  // Another key (Backspace from the phone's keyboard) takes Ctrl too, then Ctrl lets go; a
  // held key-row modifier is never released as stale.
  t.rowKey('ControlLeft', button);
  assert.ok(controls.pinned.has('ControlLeft'));
  log.length = 0;
  controls.onKeyTyped('Backspace');
  assert.deepEqual(log, ['-ControlLeft', 'aria-pressed=false']);
  assert.equal(controls.pinned.size, 0);
});

test('a bar button acts on a finger\'s pointerup once, and on a click from a mouse or the keyboard', () => {
  // A container (the bar) with one button and a text node outside any button.
  const handlers = {};
  const bar = { addEventListener: (type, fn, capture) => { handlers[type + (capture ? '!' : '')] = fn; } };
  let acted = 0;
  const button = { disabled: false, click: () => { acted += 1; } };
  const onButton = { closest: (sel) => (sel === 'button' ? button : null) };
  const offButton = { closest: () => null };
  tapsAsClicks(bar);
  let prevented = false;
  handlers.pointerdown({ pointerType: 'touch', target: onButton, preventDefault: () => { prevented = true; } });
  assert.equal(prevented, true, 'a finger took the focus from the text field');
  handlers.pointerup({ pointerType: 'touch', target: onButton, timeStamp: 1000 });
  assert.equal(acted, 1, 'the tap did not act on its pointerup');
  // The tap's own click (when Chromium sends one) is stopped before the button's listeners...
  let stopped = 0;
  const click = (timeStamp, isTrusted = true, pointerType = 'touch') => ({
    isTrusted, timeStamp, target: onButton, pointerType,
    stopImmediatePropagation: () => { stopped += 1; }, preventDefault: () => {},
  });
  handlers['click!'](click(1040));
  assert.equal(stopped, 1, 'the tap acted twice');
  // ...the tap's own synthetic click is not (it is the action)...
  handlers['click!'](click(1001, false));
  assert.equal(stopped, 1);
  // ...nor a mouse's or the keyboard's click right after the tap (a touch screen on a laptop).
  handlers['click!'](click(1200, true, 'mouse'));
  handlers['click!'](click(1300, true, ''));
  assert.equal(stopped, 1, 'a mouse or keyboard click right after a tap was lost');
  // A click that does not name its pointer is taken as the tap's.
  handlers['click!'](click(1400, true, undefined));
  assert.equal(stopped, 2);
  // ...a mouse's click acts, and its pointerup does not click.
  handlers.pointerdown({ pointerType: 'mouse', target: onButton, preventDefault: () => assert.fail('a mouse press prevented') });
  handlers.pointerup({ pointerType: 'mouse', target: onButton, timeStamp: 5000 });
  assert.equal(acted, 1);
  handlers['click!'](click(5010, true, 'mouse'));
  assert.equal(stopped, 2, 'a mouse click was stopped');
  // A finger between the buttons, or on a disabled one, presses nothing.
  handlers.pointerup({ pointerType: 'touch', target: offButton, timeStamp: 6000 });
  button.disabled = true;
  handlers.pointerup({ pointerType: 'touch', target: onButton, timeStamp: 7000 });
  assert.equal(acted, 1);
});
