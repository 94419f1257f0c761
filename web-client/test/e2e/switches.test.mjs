// Each co-browsing capability has an off switch: glint with --no-pointers and --no-api, an
// owner's and a viewer's Chromium page. The viewer sees no pointer of the owner's, its
// "look here" is refused with words, and the room's API answers 404 `api-off` to programs.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGlint, startChromium, waitFor, videoPoint } from './harness.mjs';

let glint;
let browser;
let owner;
let viewer;

before(async () => {
  glint = await startGlint(['--fps', '30', '--no-pointers', '--no-api']);
  browser = await startChromium();
  owner = browser.page;
  viewer = await browser.context.newPage();
  for (const p of [owner, viewer]) {
    await p.goto(glint.url);
    await waitFor('the stream to play', () => p.evaluate(() => window.glint.state === 'playing'), 20000);
  }
  await waitFor('the owner to drive', () => owner.evaluate(() => window.glint.room.inControl));
});

after(async () => {
  await browser?.stop();
  await glint?.stop();
});

test('--no-pointers: no pointer is drawn for the others, and a look-here is refused with words', async () => {
  await owner.bringToFront();
  for (const [hx, hy] of [[200, 150], [220, 160], [240, 170]]) {
    const [x, y] = await videoPoint(owner, hx, hy);
    await owner.mouse.move(x, y);
  }
  // The moves reached the host before the viewer's click: its answer comes after any pointer.
  await viewer.bringToFront();
  const [lx, ly] = await videoPoint(viewer, 400, 300);
  await viewer.mouse.click(lx, ly);
  const refused = await waitFor('the look-here refused', () => viewer.evaluate(
    () => window.glint.hostErrors.find((e) => e.code === 'forbidden'),
  ));
  assert.match(refused.message, /pointers are off/);
  assert.equal(await viewer.locator('#pointers .pointer').count(), 0, 'a pointer was drawn');
  assert.equal(await owner.locator('#pointers .pointer').count(), 0, 'a look-here was drawn');
});

test('--no-api: the room API answers programs 404 api-off', async () => {
  const base = `http://127.0.0.1:${glint.port}`;
  for (const [method, path] of [['GET', '/api/members'], ['DELETE', '/api/control'], ['GET', '/api/events']]) {
    const r = await fetch(`${base}${path}`, { method });
    assert.equal(r.status, 404, `${method} ${path}`);
    assert.equal((await r.json()).error, 'api-off');
  }
  // Pages still work: the owner's page saw the viewer join, through signaling.
  assert.equal(await owner.evaluate(() => window.glint.room.members.length), 2);
});
