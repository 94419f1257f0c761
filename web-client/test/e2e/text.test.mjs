// Text typed on the host through the `text` data channel (what an IME composes or a paste
// brings): glint starts Xvfb with an xterm running `cat` into a file; headless Chromium opens
// the page. The file shows what a user would see in the terminal.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGlint, startChromium, waitFor, videoPoint } from './harness.mjs';

const dir = mkdtempSync(join(tmpdir(), 'glint-e2e-text-'));
const typed = join(dir, 'typed.txt');
// UTF-8 (-u8), so that text beyond the keyboard's keys reaches `cat` as the page sent it.
const app = `xterm -u8 -geometry 60x10+0+0 -e sh -c 'cat > ${typed}'`;

let glint;
let browser;

before(async () => {
  glint = await startGlint(['--fps', '30', '--app', app]);
  browser = await startChromium();
});

after(async () => {
  await browser?.stop();
  await glint?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const evaluate = (fn, arg) => browser.page.evaluate(fn, arg);
const lines = () => (existsSync(typed) ? readFileSync(typed, 'utf8') : '');

test('text sent on the text channel is typed in the terminal on the host', async () => {
  await browser.page.goto(glint.url);
  await waitFor('the stream to play', () => evaluate(() => window.glint.state === 'playing'), 20000);
  // Focus follows the pointer on a bare X server: put it over the terminal first.
  const [x, y] = await videoPoint(browser.page, 100, 60);
  await browser.page.mouse.click(x, y);
  // Text and pointer travel on different channels: wait for the pointer to be over the terminal.
  await waitFor('the host pointer over the terminal', () => {
    const out = execFileSync('xdotool', ['getmouselocation'], { env: glint.xenv() }).toString();
    const m = /x:(\d+) y:(\d+)/.exec(out);
    return m && Math.abs(Number(m[1]) - 100) <= 2 && Math.abs(Number(m[2]) - 60) <= 2;
  }, 10000);
  // The display takes no X client without glint's cookie (another local user, say).
  const env = { ...process.env, DISPLAY: glint.display };
  delete env.XAUTHORITY;
  assert.throws(() => execFileSync('xdotool', ['getmouselocation'], { env, stdio: 'pipe' }),
    'an X client without the cookie connected to the display');
  // The channel opens with the others; sendText says whether it went.
  await waitFor('the text channel to take text', () => evaluate(() => window.glint.sendText('glint types: cafe 42\n')), 10000);
  const got = await waitFor('the line in the terminal', () => lines().includes('\n') && lines(), 10000);
  assert.equal(got, 'glint types: cafe 42\n');
});

test('text beyond the keyboard (accents, other scripts) arrives as sent', async () => {
  const before = lines();
  assert.equal(await evaluate(() => window.glint.sendText('héllo ü → 日本\n')), true);
  const got = await waitFor('the second line', () => lines().length > before.length && lines().endsWith('\n') && lines(), 10000);
  assert.equal(got.slice(before.length), 'héllo ü → 日本\n');
});

test('a focused page takes an IME composition as text, not keys', async () => {
  const before = lines();
  const cdp = await browser.context.newCDPSession(browser.page);
  // What an IME does: a composition in progress, then its result committed.
  await cdp.send('Input.imeSetComposition', { text: 'に', selectionStart: 1, selectionEnd: 1 });
  await cdp.send('Input.insertText', { text: '日本語' });
  // The line's end on the same channel, so it cannot overtake the composed text.
  assert.equal(await evaluate(() => window.glint.sendText('\n')), true);
  const got = await waitFor('the composed line', () => lines().length > before.length && lines().endsWith('\n') && lines(), 10000);
  assert.equal(got.slice(before.length), '日本語\n');
});
