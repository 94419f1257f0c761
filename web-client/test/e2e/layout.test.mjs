// A French AZERTY keyboard on Glint's own display: keys travel as physical positions, so the
// virtual display must have the player's layout (`--keyboard-layout fr`, set with XKB). glint
// starts Xvfb with an xterm running `cat` into a file; Chromium presses the keys by their
// physical codes, as a French keyboard sends them.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGlint, startChromium, waitFor, glintBin } from './harness.mjs';

const dir = mkdtempSync(join(tmpdir(), 'glint-e2e-layout-'));
const typed = join(dir, 'typed.txt');
const app = `xterm -u8 -geometry 60x10+0+0 -e sh -c 'cat > ${typed}'`;

let glint;
let browser;

before(async () => {
  glint = await startGlint(['--fps', '30', '--keyboard-layout', 'fr', '--app', app]);
  browser = await startChromium();
});

after(async () => {
  await browser?.stop();
  await glint?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const evaluate = (fn, arg) => browser.page.evaluate(fn, arg);

test('with --keyboard-layout fr the keys for a z é type azé', async () => {
  await browser.page.goto(glint.url);
  await waitFor('the stream to play', () => evaluate(() => window.glint.state === 'playing'), 20000);
  // Focus follows the pointer on a bare X server: put it over the terminal first.
  const box = await browser.page.locator('#video').boundingBox();
  await browser.page.mouse.click(box.x + 40, box.y + 20);
  // On AZERTY the key at QWERTY's Q types a, at W z, and the 2 key (unshifted) é.
  for (const code of ['KeyQ', 'KeyW', 'Digit2', 'Enter']) await browser.page.keyboard.press(code);
  const got = await waitFor('the line in the terminal',
    () => existsSync(typed) && readFileSync(typed, 'utf8').includes('\n') && readFileSync(typed, 'utf8'), 10000);
  assert.equal(got, 'azé\n');
});

test('a layout XKB does not know is a usage error at start: exit 2, one line naming it', () => {
  const r = spawnSync(glintBin, ['--keyboard-layout', 'zz-nope', '--listen', '127.0.0.1:0'],
    { encoding: 'utf8', timeout: 30000, env: { ...process.env, HOME: dir } });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^glint: --keyboard-layout zz-nope: XKB has no such layout or variant/m);
  const both = spawnSync(glintBin, ['--keyboard-layout', 'fr', '--display', ':0'], { encoding: 'utf8', timeout: 30000 });
  assert.equal(both.status, 2);
  assert.match(both.stderr, /cannot be used with '--display/);
});

test('without --keyboard-layout the display takes the first page\'s layout', async () => {
  const file = join(dir, 'auto.txt');
  const auto = await startGlint(['--fps', '30', '--app', `xterm -u8 -geometry 60x10+0+0 -e sh -c 'cat > ${file}'`]);
  const page = await browser.context.newPage();
  try {
    // A browser with a French keyboard, as the Keyboard API describes it.
    await page.addInitScript(() => {
      const azerty = new Map([['KeyQ', 'a'], ['KeyW', 'z'], ['Digit2', 'é'], ['KeyY', 'y'], ['Semicolon', 'm']]);
      Object.defineProperty(navigator, 'keyboard', { value: { getLayoutMap: async () => azerty } });
    });
    await page.goto(auto.url);
    await waitFor('the stream to play', () => page.evaluate(() => window.glint.state === 'playing'), 20000);
    const info = await waitFor('the host to say it took the layout',
      () => page.evaluate(() => window.glint.hostInfos.find((m) => /keyboard layout is now fr/.test(m))), 10000);
    assert.ok(info);
    const box = await page.locator('#video').boundingBox();
    await page.mouse.click(box.x + 40, box.y + 20);
    for (const code of ['KeyQ', 'KeyW', 'Digit2', 'Enter']) await page.keyboard.press(code);
    const got = await waitFor('the line in the terminal',
      () => existsSync(file) && readFileSync(file, 'utf8').includes('\n') && readFileSync(file, 'utf8'), 10000);
    assert.equal(got, 'azé\n');
    // A second page with another layout is told which one the host has; nothing changes.
    const other = await browser.context.newPage();
    await other.addInitScript(() => {
      const qwertz = new Map([['KeyY', 'z'], ['Semicolon', 'ö'], ['Quote', 'ä'], ['Minus', 'ß']]);
      Object.defineProperty(navigator, 'keyboard', { value: { getLayoutMap: async () => qwertz } });
    });
    await other.goto(auto.url);
    const told = await waitFor('the second page to be told',
      () => other.evaluate(() => window.glint.hostInfos.find((m) => /layout is fr; yours looks like de/.test(m))), 20000);
    assert.ok(told);
    await other.close();
  } finally {
    await page.close();
    await auto.stop();
  }
});
