// The resolution ladder with real parts: glint at a rate that cannot carry 720p60 codes a
// smaller picture of the same screen (`--bitrate 500`: 640x360, rung 2), the page scales it
// back up, says so in its overlay and in /api/stats, and a click still lands on the exact
// host pixel it was made on (xev on glint's own Xvfb).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGlint, startChromium, waitFor, videoPoint, xevEvents } from './harness.mjs';

const dir = mkdtempSync(join(tmpdir(), 'glint-ladder-'));
const clicks = join(dir, 'clicks.log');
let glint;
let browser;

before(async () => {
  glint = await startGlint(['--bitrate', '500', '--codec', 'h264', '--no-audio',
    '--app', `exec stdbuf -oL xev -root -event button > ${clicks}`]);
  browser = await startChromium();
});

after(async () => {
  await browser?.stop();
  await glint?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const evaluate = (fn, arg) => browser.page.evaluate(fn, arg);
const base = () => glint.url.replace(/\/(#.*)?$/, '');

test('at 500 kbit/s the picture is 640x360 of the 1280x720 screen, and clicks land on exact host pixels', async () => {
  const page = browser.page;
  await page.goto(glint.url);
  await waitFor('the stream to play', () => evaluate(() => window.glint.state === 'playing'), 20000);
  await waitFor('the smaller picture', () => evaluate(() => video.videoWidth === 640 && video.videoHeight === 360), 15000);
  assert.deepEqual(await evaluate(() => [video.dataset.screenWidth, video.dataset.screenHeight]), ['1280', '720'],
    'the host told the page its screen size');
  // Peers' figures are published every 250 ms. The first ones can come from a dip: a CI run
  // read rung 3 (426x240) half a second in, the estimate at 113 kbit/s on loopback under load
  // (no loss); it climbs back to the configured 500 within seconds.
  let last;
  // The reason names the configured rate: the cap is the user's own, not the link.
  const peer = await waitFor('the peer at rung 2 in /api/stats', async () => {
    last = (await (await fetch(`${base()}/api/stats`)).json()).peers.find((p) => p.connected && p.picture);
    return last?.rung === 2 && last.rung_reason === '--bitrate too low for the pixels' && last;
  }, 15000).catch(() => last);
  assert.equal(peer?.rung, 2, JSON.stringify(peer));
  assert.deepEqual(peer.picture, [640, 360]);
  assert.equal(peer.rung_reason, '--bitrate too low for the pixels');
  // --no-audio: no sound rate is told (it was 32 kbit/s for a host that sends none).
  assert.equal(peer.audio_kbps, null, JSON.stringify(peer));
  assert.equal(peer.audio_path, 'none', JSON.stringify(peer));
  // The page still fills its window with the picture (scaled up, not shown at 640x360).
  const shown = await evaluate(() => video.getBoundingClientRect().width);
  assert.ok(shown >= 1000, `the video is ${shown} px wide`);
  // Odd host pixels cannot be hit by a 640-wide picture's pixel centres: the mapping uses the
  // screen's size, not the video's.
  for (const target of [[1001, 333], [1279, 719], [0, 0], [3, 717]]) {
    const n = xevEvents(clicks).filter((e) => e.kind === 'ButtonRelease').length;
    const [x, y] = await videoPoint(page, ...target);
    await page.mouse.click(x, y);
    const got = await waitFor('xev to log the click', () => {
      const releases = xevEvents(clicks).filter((e) => e.kind === 'ButtonRelease');
      return releases.length > n && releases.at(-1);
    }, 10000);
    assert.deepEqual([got.x, got.y], target);
  }
  await page.keyboard.press('Control+Alt+Shift+KeyS');
  await waitFor('the rung in the overlay', async () => /640×360, 2 of 3 steps down: --bitrate too low for the pixels/.test(await page.textContent('#overlay')), 5000);
  // The info line under the picture says so too, without the overlay.
  await waitFor('the info line', async () => /640×360 H264 · scaled down to fit the rate/.test(await page.textContent('#info')), 5000);
  // A host without sound: no sound rows in the overlay.
  assert.doesNotMatch(await page.textContent('#overlay'), /sound/);
  // The Quality menu offers only caps under this host's 500 kbit/s: Auto alone.
  assert.deepEqual(await page.$$eval('#quality option', (o) => o.map((e) => e.value)), ['0']);
});
