// The test-pattern source end to end: no X server, the page reads the block code back from
// the presented frames (increasing frame numbers, a capture time close to now) and a key
// press in the page flips the pattern's large region.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGlint, startChromium, waitFor } from './harness.mjs';

let glint;
let browser;

before(async () => {
  glint = await startGlint(['--source', 'testpattern', '--size', '1280x720', '--fps', '30']);
  browser = await startChromium();
});

after(async () => {
  await browser?.stop();
  await glint?.stop();
});

const evaluate = (fn, arg) => browser.page.evaluate(fn, arg);

test('the block code decodes to increasing frame numbers in the browser', async () => {
  await browser.page.goto(glint.url);
  await waitFor('the stream to play', () => evaluate(() => window.glint.state === 'playing'), 20000);
  const seen = await evaluate(async () => {
    const { videoReader } = await import('/src/blockcode.js');
    const reader = videoReader(video);
    const out = [];
    await new Promise((done) => {
      const onFrame = () => {
        // drawImage can catch the same picture in two callbacks: keep each frame once.
        const r = reader.read();
        if (r && r.frame !== out.at(-1)?.frame) out.push({ ...r, at: performance.timeOrigin + performance.now() });
        if (out.length >= 40) done(); else video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    });
    return out;
  });
  assert.equal(seen.length, 40);
  for (let i = 1; i < seen.length; i += 1) {
    assert.ok(seen[i].frame > seen[i - 1].frame, `frame ${seen[i].frame} after ${seen[i - 1].frame}`);
  }
  // At 30 fps nearly every frame is presented: few numbers are skipped.
  const span = seen.at(-1).frame - seen[0].frame;
  assert.ok(span < 40 * 1.5, `frames ${seen[0].frame}..${seen.at(-1).frame} for 40 presented`);
  // The capture time is the host's clock (same machine): shortly before presentation.
  for (const s of seen) {
    const age = ((Math.floor(s.at) >>> 0) - s.captureMs) >>> 0;
    assert.ok(age < 2000, `a frame presented ${age} ms after its capture time`);
  }
  assert.equal(seen[0].flip, false, 'the flip region starts black');
});

test('a key press in the page flips the large region', async () => {
  await browser.page.click('#video');
  const read = () => evaluate(async () => {
    const { videoReader } = await import('/src/blockcode.js');
    window.__reader ??= videoReader(video);
    return window.__reader.read()?.flip;
  });
  await browser.page.keyboard.press('KeyA');
  // The click was one press (white), the key another (black again): count both edges.
  await waitFor('the region to be black after click + key', async () => (await read()) === false, 5000);
  await browser.page.keyboard.press('KeyB');
  await waitFor('the region to turn white', async () => (await read()) === true, 5000);
  await browser.page.mouse.down();
  await browser.page.mouse.up();
  await waitFor('the region to turn black again', async () => (await read()) === false, 5000);
});
