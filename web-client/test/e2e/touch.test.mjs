// A phone drives the host: Chromium emulating a 390x844 touch phone (hasTouch, isMobile), fingers
// sent over the DevTools protocol, and on the host glint's Xvfb with xev logging every button
// and key event of a window that covers the screen, as an application would see them.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGlint, startChromium, waitFor, xevEvents } from './harness.mjs';

const dir = mkdtempSync(join(tmpdir(), 'glint-touch-'));
const log = join(dir, 'xev.log');

let glint;
let browser;
let page;
let cdp;

before(async () => {
  glint = await startGlint(['--fps', '30', '--app', `exec stdbuf -oL xev -geometry 1280x720+0+0 -event button -event keyboard > ${log}`]);
  browser = await startChromium({
    contextOptions: { viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true, deviceScaleFactor: 2 },
  });
  page = browser.page;
  cdp = await browser.context.newCDPSession(page);
  await page.goto(glint.url);
  await waitFor('the stream to play', () => page.evaluate(() => window.glint.state === 'playing'), 20000);
  await waitFor('xev to run', () => existsSync(log));
});

after(async () => {
  await browser?.stop();
  await glint?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** xev's button presses: {button, x, y} (root coordinates), and its key presses' keysym names. */
const presses = () => {
  const events = xevEvents(log);
  return {
    buttons: events.filter((e) => e.kind === 'ButtonPress').map(({ button, x, y }) => ({ button, x, y })),
    keys: events.filter((e) => e.kind === 'KeyPress').map((e) => e.keysym ?? undefined),
  };
};

/** Every key press and release on the host, in order: [kind, keysym name]. */
const keyEvents = () => xevEvents(log).filter((e) => e.kind === 'KeyPress' || e.kind === 'KeyRelease').map((e) => [e.kind, e.keysym ?? undefined]);

/**
 * The host screen pixel under client point (cx, cy), from the video's box (object-fit: contain),
 * and the CSS px per screen px. The picture may be a smaller one of the screen (the host's
 * ladder steps down on a loaded machine too), so it maps through the `screen` notice's size.
 */
const hostPixel = (cx, cy) => page.evaluate(([x, y]) => {
  const v = document.getElementById('video');
  const r = v.getBoundingClientRect();
  const s = Math.min(r.width / v.videoWidth, r.height / v.videoHeight);
  const offX = (r.width - v.videoWidth * s) / 2;
  const offY = (r.height - v.videoHeight * s) / 2;
  const per = (video, screen) => (!screen || video === screen || video === screen + 1 ? 1 : screen / video);
  const kx = per(v.videoWidth, Number(v.dataset.screenWidth));
  const ky = per(v.videoHeight, Number(v.dataset.screenHeight));
  return [((x - r.left - offX) / s) * kx, ((y - r.top - offY) / s) * ky, s / kx];
}, [cx, cy]);

/** A point of the picture at fractions (fx, fy) of it, in client px. */
const onPicture = (fx, fy) => page.evaluate(([a, b]) => {
  const v = document.getElementById('video');
  const r = v.getBoundingClientRect();
  const s = Math.min(r.width / v.videoWidth, r.height / v.videoHeight);
  const w = v.videoWidth * s;
  const h = v.videoHeight * s;
  return [Math.round(r.left + (r.width - w) / 2 + a * w), Math.round(r.top + (r.height - h) / 2 + b * h)];
}, [fx, fy]);

const touch = (type, points) => cdp.send('Input.dispatchTouchEvent', {
  type, touchPoints: points.map(([x, y], i) => ({ x, y, id: i + 1 })),
});
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

test('a tap clicks where the finger is, within 2 px on the host', async () => {
  const [x, y] = await onPicture(0.4, 0.5);
  const before = presses().buttons.length;
  await touch('touchStart', [[x, y]]);
  await touch('touchEnd', []);
  const got = await waitFor('a click on the host', () => presses().buttons.slice(before).find((b) => b.button === 1));
  const [hx, hy] = await hostPixel(x, y);
  assert.ok(Math.abs(got.x - hx) <= 2 && Math.abs(got.y - hy) <= 2, `clicked ${got.x},${got.y}, finger over ${hx},${hy}`);
});

test('a long press is a right click; two fingers dragged up scroll down', async () => {
  const [x, y] = await onPicture(0.5, 0.5);
  let before = presses().buttons.length;
  await touch('touchStart', [[x, y]]);
  await sleep(800);
  await touch('touchEnd', []);
  const right = await waitFor('a right click', () => presses().buttons.slice(before).find((b) => b.button === 3));
  const [hx, hy] = await hostPixel(x, y);
  assert.ok(Math.abs(right.x - hx) <= 2 && Math.abs(right.y - hy) <= 2);
  assert.ok(!presses().buttons.slice(before).some((b) => b.button === 1), 'the long press also left-clicked');

  before = presses().buttons.length;
  const [ax, ay] = await onPicture(0.35, 0.8);
  const [bx] = await onPicture(0.65, 0.8);
  await touch('touchStart', [[ax, ay]]);
  await touch('touchStart', [[ax, ay], [bx, ay]]);
  for (let d = 10; d <= 150; d += 10) await touch('touchMove', [[ax, ay - d], [bx, ay - d]]);
  await touch('touchEnd', []);
  // 150 px at 30 px a notch: five notches, all of them (the next test counts every press).
  const downs = await waitFor('five wheel clicks', () => {
    const b = presses().buttons.slice(before);
    return b.filter((e) => e.button === 5).length >= 5 && b;
  });
  await sleep(200);
  assert.equal(presses().buttons.slice(before).filter((e) => e.button === 5).length, 5, 'not five notches');
  assert.ok(!downs.some((b) => b.button === 4 || b.button === 1 || b.button === 3), JSON.stringify(downs));
});

test('a pinch zooms the page\'s view, not the host and not the browser', async () => {
  const before = presses().buttons.length;
  const [ax, ay] = await onPicture(0.45, 0.5);
  const [bx] = await onPicture(0.55, 0.5);
  await touch('touchStart', [[ax, ay]]);
  await touch('touchStart', [[ax, ay], [bx, ay]]);
  for (let d = 5; d <= 60; d += 5) await touch('touchMove', [[ax - d, ay], [bx + d, ay]]);
  await touch('touchEnd', []);
  const view = await page.evaluate(() => ({ scale: window.glint.touch.view.scale, browser: window.visualViewport.scale }));
  assert.ok(view.scale > 1.5, `view scale ${view.scale}`);
  assert.equal(view.browser, 1, 'the browser zoomed the page');
  await sleep(200);
  assert.equal(presses().buttons.length, before, 'the pinch reached the host');
  // A tap on the zoomed view still lands under the finger.
  const [x, y] = [Math.round((ax + bx) / 2) + 7, ay + 5];
  await touch('touchStart', [[x, y]]);
  await touch('touchEnd', []);
  const got = await waitFor('a click on the host', () => presses().buttons.slice(before).find((b) => b.button === 1));
  const [hx, hy] = await hostPixel(x, y);
  assert.ok(Math.abs(got.x - hx) <= 2 && Math.abs(got.y - hy) <= 2, `clicked ${got.x},${got.y}, finger over ${hx},${hy}`);
  // Pinched back, the view is whole again.
  await touch('touchStart', [[ax - 60, ay]]);
  await touch('touchStart', [[ax - 60, ay], [bx + 60, ay]]);
  for (let d = 55; d >= -10; d -= 5) await touch('touchMove', [[ax - d, ay], [bx + d, ay]]);
  await touch('touchEnd', []);
  assert.equal(await page.evaluate(() => window.glint.touch.view.scale), 1);
});

test('trackpad mode moves the pointer relatively and clicks where it is', async (t) => {
  await page.tap('#trackpad');
  // Back to direct mode even when an assertion fails, so the tests after this one start as usual
  // (a tap at once after a drag can be eaten: Chromium takes it as the end of a fling).
  t.after(() => page.evaluate(() => { if (window.glint.touch.mode === 'trackpad') window.glint.touch.setMode('direct'); }));
  assert.equal(await page.getAttribute('#trackpad', 'aria-pressed'), 'true');
  const where = () => {
    const out = execFileSync('xdotool', ['getmouselocation'], { env: glint.xenv() }).toString();
    return [Number(/x:(\d+)/.exec(out)[1]), Number(/y:(\d+)/.exec(out)[1])];
  };
  // The trackpad's pointer starts where its ring is: the middle of the picture, on the host too.
  const [x0, y0] = await waitFor('the host pointer at the middle', () => {
    const p = where();
    return Math.abs(p[0] - 640) <= 1 && Math.abs(p[1] - 360) <= 1 && p;
  });
  assert.equal(await page.isVisible('#touch-cursor'), true, 'no ring drawn before the finger moved');
  const [sx, sy] = await onPicture(0.3, 0.3);
  const [, , scale] = await hostPixel(sx, sy);
  await touch('touchStart', [[sx, sy]]);
  for (let d = 10; d <= 60; d += 10) await touch('touchMove', [[sx + d, sy]]);
  await touch('touchEnd', []);
  const expected = (60 * 1.5) / scale;
  // The nudges arrive one by one: the pointer has moved once it is past most of the way and
  // stands still over three polls (150 ms), not at the first poll past a threshold.
  let seen = [];
  const [x1, y1] = await waitFor('the host pointer to move and settle', () => {
    const p = where();
    seen = [...seen.slice(-2), p];
    const still = seen.length === 3 && seen.every(([x, y]) => x === p[0] && y === p[1]);
    return p[0] - x0 > expected * 0.8 && still && p;
  });
  assert.ok(Math.abs(x1 - x0 - expected) <= expected * 0.1 + 2, `moved ${x1 - x0}, expected ${expected}`);
  assert.ok(Math.abs(y1 - y0) <= 2);
  // The finger was far from the pointer: the tap clicks at the pointer, not under the finger.
  const before = presses().buttons.length;
  await sleep(400); // not a tap-and-drag
  await touch('touchStart', [[sx, sy + 40]]);
  await touch('touchEnd', []);
  const got = await waitFor('a click', () => presses().buttons.slice(before).find((b) => b.button === 1));
  assert.ok(Math.abs(got.x - x1) <= 2 && Math.abs(got.y - y1) <= 2, `clicked ${got.x},${got.y}, pointer at ${x1},${y1}`);
  await page.tap('#trackpad');
  assert.equal(await page.getAttribute('#trackpad', 'aria-pressed'), 'false');
});

test('a bar button tapped right after a drag on the picture acts (Chromium eats that tap\'s click)', async () => {
  const [sx, sy] = await onPicture(0.2, 0.6);
  // A quick 240 px swipe: without acting on the pointerup, 2 in 5 taps after it did nothing.
  const drag = async () => {
    await touch('touchStart', [[sx, sy]]);
    for (let d = 30; d <= 240; d += 30) await touch('touchMove', [[sx + d, sy]]);
    await touch('touchEnd', []);
  };
  await drag();
  await page.tap('#keyboard');
  assert.equal(await page.isVisible('#key-row'), true, 'the tap after the drag did nothing');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'text-input');
  await page.tap('#keyboard');
  assert.equal(await page.isVisible('#key-row'), false, 'one tap toggled twice or not at all');
  // Any button of the bar, not only the phone's own: Stats, on and off, three times each.
  for (const on of ['true', 'false', 'true', 'false', 'true', 'false']) {
    await drag();
    await page.tap('#stats');
    assert.equal(await page.getAttribute('#stats', 'aria-pressed'), on, `Stats after a drag: not ${on}`);
  }
});

test('with People open on a phone, every button of the bar and the key row can still be tapped', async () => {
  await page.tap('#keyboard'); // the key row too
  await page.tap('#people-button');
  assert.equal(await page.isVisible('#people'), true);
  // What a finger at the middle of each visible button would touch: the button itself.
  const covered = await page.evaluate(() => [...document.querySelectorAll('#bar button, #key-row button')]
    .filter((b) => b.offsetParent !== null)
    .filter((b) => {
      const r = b.getBoundingClientRect();
      return document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) !== b;
    })
    .map((b) => b.id || b.textContent));
  assert.deepEqual(covered, [], 'the People panel covers them');
  await page.tap('#keyboard');
  assert.equal(await page.isVisible('#key-row'), false, 'the tap on Keyboard did not reach it');
  await page.tap('#people-button');
  assert.equal(await page.isVisible('#people'), false);
});

test('fullscreen on a phone keeps the bar: Keyboard and Trackpad are still there', async () => {
  await page.tap('#fullscreen');
  await waitFor('fullscreen', () => page.evaluate(() => document.fullscreenElement === document.documentElement), 5000);
  for (const id of ['#keyboard', '#trackpad']) assert.equal(await page.isVisible(id), true, `${id} hidden in fullscreen`);
  await waitFor('the button to say Exit fullscreen', async () => (await page.textContent('#fullscreen')) === 'Exit fullscreen');
  await page.tap('#keyboard');
  assert.equal(await page.isVisible('#key-row'), true, 'Keyboard did nothing in fullscreen');
  await page.tap('#keyboard');
  await page.tap('#fullscreen');
  await waitFor('fullscreen to end', () => page.evaluate(() => document.fullscreenElement === null), 5000);
  await waitFor('the button to say Fullscreen again', async () => (await page.textContent('#fullscreen')) === 'Fullscreen');
});

test('a phone shows no Lock mouse, and the sound prompt does not cover the stats overlay', async () => {
  assert.equal(await page.isVisible('#lock'), false, 'Lock mouse shown without a mouse');
  await waitFor('the sound prompt', () => page.isVisible('#sound-prompt'), 10000);
  if (await page.getAttribute('#stats', 'aria-pressed') !== 'true') await page.tap('#stats');
  await waitFor('the stats overlay', () => page.isVisible('#overlay'));
  const [a, b] = [await page.locator('#sound-prompt').boundingBox(), await page.locator('#overlay').boundingBox()];
  const apart = a.x >= b.x + b.width || b.x >= a.x + a.width || a.y >= b.y + b.height || b.y >= a.y + a.height;
  assert.ok(apart, `the prompt ${JSON.stringify(a)} covers the overlay ${JSON.stringify(b)}`);
  await page.tap('#stats');
});

// What the keyboard types goes as text, like an IME's (text.test.mjs covers characters the
// keymap lacks; xev reads those too late to name them).
test('the on-screen keyboard types on the host, and the key row has Esc', async () => {
  await page.tap('#keyboard');
  assert.equal(await page.isVisible('#key-row'), true);
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'text-input');
  const before = presses().keys.length;
  await page.keyboard.insertText('hi');
  await page.tap('#key-row [data-code="Escape"]');
  // Text (the reliable `text` channel) and keys (the `input` channel) are not ordered
  // between them: each arrives whole.
  const keys = await waitFor('the keys on the host', () => {
    const k = presses().keys.slice(before);
    return k.includes('Escape') && k.includes('i') && k;
  }).catch((e) => { throw new Error(`${e.message}; keys: ${presses().keys.slice(before).join(' ')}`); });
  assert.deepEqual(keys.filter((k) => ['h', 'i'].includes(k)), ['h', 'i']);
});

test('Ctrl from the key row and a letter from the phone keyboard are Ctrl+letter, and Ctrl lets go', async () => {
  const start = keyEvents().length;
  await page.tap('#key-row [data-code="ControlLeft"]');
  assert.equal(await page.getAttribute('#key-row [data-code="ControlLeft"]', 'aria-pressed'), 'true', 'Ctrl does not show held');
  await page.keyboard.insertText('c');
  const seq = await waitFor('Ctrl+C and Ctrl released on the host', () => {
    const e = keyEvents().slice(start);
    const ctrl = e.filter(([, k]) => k === 'Control_L');
    return e.some(([kind, k]) => kind === 'KeyPress' && k === 'c') && ctrl.at(-1)?.[0] === 'KeyRelease' && e;
  }).catch((err) => { throw new Error(`${err.message}; events: ${JSON.stringify(keyEvents().slice(start))}`); });
  const c = seq.findIndex(([kind, k]) => kind === 'KeyPress' && k === 'c');
  const held = seq.slice(0, c).filter(([, k]) => k === 'Control_L').at(-1);
  assert.deepEqual(held, ['KeyPress', 'Control_L'], `c was not typed with Ctrl held: ${JSON.stringify(seq)}`);
  assert.equal(await page.getAttribute('#key-row [data-code="ControlLeft"]', 'aria-pressed'), 'false');
});
