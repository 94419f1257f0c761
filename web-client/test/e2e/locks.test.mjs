// Caps Lock and Num Lock follow the browser's (issue 14, rows 3 and 4), through the real
// parts: glint starts Xvfb with xev logging every key event of a window covering the screen;
// the host's lock state is set with xdotool as a user at the host would leave it, and the page
// types with explicit lock states (`getModifierState`). xev's keysyms are what an application
// would read: `a` or `A`, `KP_1` or `KP_End`.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGlint, startChromium, waitFor, xevEvents } from './harness.mjs';

const dir = mkdtempSync(join(tmpdir(), 'glint-locks-'));
const keys = join(dir, 'keys.log');

let glint;
let browser;
let page;

before(async () => {
  glint = await startGlint(['--fps', '30', '--app', `exec stdbuf -oL xev -geometry 1280x720+0+0 -event keyboard > ${keys}`]);
  browser = await startChromium();
  page = browser.page;
  await page.goto(glint.url);
  await waitFor('the stream to play', () => page.evaluate(() => window.glint.state === 'playing'), 20000);
  const box = await page.locator('#video').boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await page.keyboard.press('KeyX');
  await waitFor('xev to see keys', () => pressed().includes('x'), 10000);
});

after(async () => {
  await browser?.stop();
  await glint?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The keysym names xev logged for presses, in order. */
const pressed = () => xevEvents(keys).filter((e) => e.kind === 'KeyPress' && e.keysym).map((e) => e.keysym);

/** The host's lock states, from xset's LED mask. */
const hostLocks = () => {
  const q = execFileSync('xset', ['q'], { env: glint.xenv() }).toString();
  const caps = /Caps Lock:\s+(on|off)/.exec(q)?.[1] === 'on';
  const num = /Num Lock:\s+(on|off)/.exec(q)?.[1] === 'on';
  return { caps, num };
};

/** A key press and release on the page's stage with explicit lock states, as a browser fires them. */
const type = (code, key, { caps = false, num = false } = {}) => page.evaluate(([c, k, capsOn, numOn]) => {
  const stage = document.getElementById('stage');
  for (const type of ['keydown', 'keyup']) {
    stage.dispatchEvent(new KeyboardEvent(type, {
      code: c, key: k, modifierCapsLock: capsOn, modifierNumLock: numOn, bubbles: true, cancelable: true,
    }));
  }
}, [code, key, caps, num]);

test('row 3: host Caps Lock on, browser\'s off: `ab` types ab', async () => {
  execFileSync('xdotool', ['key', 'Caps_Lock'], { env: glint.xenv() });
  await waitFor('Caps Lock on on the host', () => hostLocks().caps);
  const from = pressed().length;
  await type('KeyA', 'a');
  await type('KeyB', 'b');
  const got = await waitFor('a and b on the host', () => {
    const p = pressed().slice(from);
    return p.filter((k) => /^[abAB]$/.test(k)).length === 2 && p;
  }, 10000);
  assert.deepEqual(got.filter((k) => /^[abAB]$/.test(k)), ['a', 'b'], JSON.stringify(got));
  assert.equal(hostLocks().caps, false);
  // The page's Caps Lock on: the host's follows, and the letters are capitals.
  await type('KeyA', 'A', { caps: true });
  await waitFor('A on the host', () => pressed().at(-1) === 'A', 10000);
  assert.equal(hostLocks().caps, true);
});

test('row 4: fresh display (Num Lock off), browser\'s on: the keypad types 1 2 3', async () => {
  assert.equal(hostLocks().num, false, 'Xvfb starts with Num Lock off');
  const from = pressed().length;
  for (const [code, key] of [['Numpad1', '1'], ['Numpad2', '2'], ['Numpad3', '3']]) {
    await type(code, key, { caps: true, num: true });
  }
  const got = await waitFor('three keypad keys on the host', () => {
    const p = pressed().slice(from).filter((k) => k.startsWith('KP_'));
    return p.length === 3 && p;
  }, 10000);
  assert.deepEqual(got, ['KP_1', 'KP_2', 'KP_3']);
  assert.equal(hostLocks().num, true);
  const metrics = await (await fetch(`http://127.0.0.1:${glint.port}/metrics`)).text();
  assert.match(metrics, /^glint_input_lock_syncs_total 3$/m);
});
