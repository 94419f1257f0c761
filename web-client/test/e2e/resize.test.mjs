// A user's own X display (Xvnc here, since Xvfb cannot change size) is captured with
// `--display`. When the display changes size the stream follows it without a reconnect; when
// the display goes away glint ends with a clear message (to the page too) instead of hanging or
// panicking.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startGlint, startChromium, startXvnc, waitFor } from './harness.mjs';

let xvnc;
let glint;
let browser;

before(async () => {
  xvnc = await startXvnc('1280x720');
  glint = await startGlint(['--display', xvnc.display, '--fps', '30']);
  browser = await startChromium();
});

after(async () => {
  await browser?.stop();
  await glint?.stop();
  await xvnc?.stop();
});

const evaluate = (fn, arg) => browser.page.evaluate(fn, arg);
const xrandr = (...args) => execFileSync('xrandr', args, { env: { ...process.env, DISPLAY: xvnc.display } });

test('the stream follows the display when it changes size, without reconnecting', async () => {
  await browser.page.goto(glint.url);
  await waitFor('the stream to play', () => evaluate(() => window.glint.state === 'playing'), 20000);
  assert.deepEqual(await evaluate(() => [video.videoWidth, video.videoHeight]), [1280, 720]);

  xrandr('-s', '800x600');
  await waitFor('the video to become 800x600',
    () => evaluate(() => video.videoWidth === 800 && video.videoHeight === 600), 10000);
  const before = await evaluate(() => window.glint.framesPresented);
  await waitFor('frames at the new size', async () => (await evaluate(() => window.glint.framesPresented)) > before + 15);

  xrandr('-s', '1920x1080');
  await waitFor('the video to become 1920x1080',
    () => evaluate(() => video.videoWidth === 1920 && video.videoHeight === 1080), 10000);
  assert.equal(await evaluate(() => window.glint.connects), 1, 'the peer reconnected instead of following');
  assert.match(glint.logs(), /display changed size/);
});

test('a display that goes away ends glint with a clear message', async () => {
  const exited = new Promise((r) => glint.child.once('exit', (code) => r(code)));
  await xvnc.stop();
  const code = await exited;
  assert.notEqual(code, 0);
  assert.match(glint.logs(), /lost the X display|capture stopped/);
  assert.doesNotMatch(glint.logs(), /panicked/);
  // The page was told why, and does not try to reconnect.
  await waitFor('the page to say the session ended', () => evaluate(() => window.glint.state === 'ended'));
  assert.match(await browser.page.textContent('#status'), /The session has ended: capture stopped: lost the X display/);
});
