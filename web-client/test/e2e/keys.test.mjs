// Keys as a browser on another OS reports them, through the real parts: glint starts Xvfb with
// xev logging every key event of a window that covers the screen; headless Chromium, told it
// runs on Windows (its user agent), gets key events with explicit code, key and timeStamp over
// the DevTools protocol, as Chromium on Windows produces them.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGlint, startChromium, waitFor, xevEvents } from './harness.mjs';

const WINDOWS_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
  'Chrome/120.0.0.0 Safari/537.36';
const dir = mkdtempSync(join(tmpdir(), 'glint-keys-'));
const keys = join(dir, 'keys.log');

let glint;
let browser;
let cdp;

before(async () => {
  glint = await startGlint(['--fps', '30', '--app', `exec stdbuf -oL xev -geometry 1280x720+0+0 -event keyboard > ${keys}`]);
  browser = await startChromium({ contextOptions: { userAgent: WINDOWS_UA } });
  cdp = await browser.context.newCDPSession(browser.page);
});

after(async () => {
  await browser?.stop();
  await glint?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The keysym names xev logged for presses, in order. */
const pressed = () => xevEvents(keys).filter((e) => e.kind === 'KeyPress' && e.keysym).map((e) => e.keysym);

/** One key event as Chromium on Windows sends it; `at` is its timeStamp, s. */
const send = (type, code, key, vk, at, modifiers = 0) => cdp.send('Input.dispatchKeyEvent',
  { type, code, key, windowsVirtualKeyCode: vk, modifiers, timestamp: at });

test('Windows AltGr: the host gets AltRight and the key, never the fake left Ctrl', async () => {
  await browser.page.goto(glint.url);
  await waitFor('the stream to play', () => browser.page.evaluate(() => window.glint.state === 'playing'), 20000);
  // Focus: the page's stage, and on the host the pointer over xev's window.
  const box = await browser.page.locator('#video').boundingBox();
  await browser.page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await browser.page.keyboard.press('KeyX');
  await waitFor('xev to see keys', () => pressed().includes('x'), 10000);

  // AltGr+Q on a German layout, as Chromium on Windows reports it: ControlLeft and AltRight
  // with one timeStamp, the key, then the releases (Ctrl's first, both at one timeStamp).
  const t = Date.now() / 1000;
  await send('rawKeyDown', 'ControlLeft', 'Control', 17, t, 2);
  await send('rawKeyDown', 'AltRight', 'AltGraph', 18, t, 3);
  await send('rawKeyDown', 'KeyQ', '@', 81, t + 0.1, 3);
  await send('keyUp', 'KeyQ', '@', 81, t + 0.15, 3);
  await send('keyUp', 'ControlLeft', 'Control', 17, t + 0.2, 1);
  await send('keyUp', 'AltRight', 'AltGraph', 18, t + 0.2, 0);
  // A real Ctrl press later still goes (alone, after the wait), then a marker.
  await send('rawKeyDown', 'ControlLeft', 'Control', 17, t + 0.5, 2);
  await send('keyUp', 'ControlLeft', 'Control', 17, t + 0.6, 0);
  await browser.page.keyboard.press('KeyZ');
  const got = await waitFor('the marker on the host', () => {
    const p = pressed();
    return p.includes('z') && p;
  }, 10000);
  const altGr = got.slice(got.indexOf('x') + 1, got.lastIndexOf('z'));
  assert.deepEqual(altGr, ['Alt_R', 'q', 'Control_L'], JSON.stringify(got));
});

/** Key events xev logged, in order: '+name' for a press, '-name' for a release. */
const events = () => xevEvents(keys).filter((e) => e.keysym && (e.kind === 'KeyPress' || e.kind === 'KeyRelease'))
  .map((e) => `${e.kind === 'KeyPress' ? '+' : '-'}${e.keysym}`);

test('a modifier released out of the page\'s sight is released on the host by the next key', async () => {
  const t = Date.now() / 1000;
  // Alt goes down; its release goes to another window (Alt+Tab), so the page never sees it.
  await send('rawKeyDown', 'AltLeft', 'Alt', 18, t, 1);
  await waitFor('Alt held on the host', () => events().at(-1) === '+Alt_L', 10000);
  // Back in the page, a key whose flags say Alt is up.
  await send('rawKeyDown', 'KeyX', 'x', 88, t + 1, 0);
  await send('keyUp', 'KeyX', 'x', 88, t + 1.05, 0);
  const got = await waitFor('x on the host', () => {
    const e = events();
    const from = e.lastIndexOf('+Alt_L');
    const tail = e.slice(from);
    return tail.includes('-x') && tail;
  }, 10000);
  assert.deepEqual(got, ['+Alt_L', '-Alt_L', '+x', '-x']);
});
