// A warm browser's way to the first frame: glint (its own Xvfb, --fps 60) and one headless
// Chromium, which opens the page RUNS times (about:blank between), each load a new peer. Prints,
// per load and as medians, the page's own timeline (glint.timeline, ms from navigation start):
// offer sent → ICE and DTLS connected, connected → first presented frame, the total, and
// first frame → the picture at the screen's full size (a new peer's rate starts low, so its
// first picture may be a smaller one of the screen: the resolution ladder).
// The first load pays Chromium's cold start; the medians leave it out. With --watcher, a second
// Chromium plays throughout, so each load joins a session someone watches. (A second tab of the
// same headless browser is no stand-in: its compositor was throttled to about one frame a
// second now and then, and the loaded page's first frame came ~1 s after its video was
// decoding, as on no screen a person watches.)
// Usage: cd web-client && GLINT_BIN=../target/release/glint node ../benches/first-frame.mjs [--runs 12] [--watcher]
import { startGlint, startChromium, waitFor } from '../web-client/test/e2e/harness.mjs';

const at = process.argv.indexOf('--runs');
const runs = at > 0 ? Number(process.argv[at + 1]) : 12;
const watching = process.argv.includes('--watcher');
const median = (v) => { const s = v.filter((x) => x !== null).sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)] ?? null; };

const glint = await startGlint(['--fps', '60']);
const browser = await startChromium();
const loads = [];
let watcherBrowser = null;
try {
  if (watching) {
    watcherBrowser = await startChromium();
    const watcher = watcherBrowser.page;
    await watcher.goto(glint.url);
    await waitFor('the watcher playing', () => watcher.evaluate(() => window.glint.state === 'playing' && window.glint.timeline.firstFrameMs), 20000);
  }
  for (let i = 0; i < runs; i += 1) {
    await browser.page.goto('about:blank');
    await browser.page.goto(glint.url);
    const t = await waitFor('the first frame', () => browser.page.evaluate(
      () => window.glint.state === 'playing' && window.glint.timeline.firstFrameMs && window.glint.timeline), 20000);
    // When the video is first the screen's size (the `screen` notice's), page time.
    const fullMs = await browser.page.evaluate(() => new Promise((resolve) => {
      const v = document.getElementById('video');
      const give = setTimeout(() => resolve(null), 15000);
      const tick = () => {
        const sw = Number(v.dataset.screenWidth);
        if (sw && v.videoWidth >= sw) {
          clearTimeout(give);
          resolve(performance.now());
        } else setTimeout(tick, 20);
      };
      tick();
    }));
    loads.push({
      connect_ms: Math.round(t.connectedMs - t.offerSentMs),
      frame_after_connect_ms: Math.round(t.firstFrameMs - t.connectedMs),
      first_frame_ms: Math.round(t.firstFrameMs),
      full_size_after_first_ms: fullMs === null ? null : Math.max(0, Math.round(fullMs - t.firstFrameMs)),
    });
  }
} finally {
  if (process.env.GLINT_LOG_TO) (await import('node:fs')).writeFileSync(process.env.GLINT_LOG_TO, glint.logs());
  await browser.stop();
  await watcherBrowser?.stop();
  await glint.stop();
}
const warm = loads.slice(1);
const keys = ['connect_ms', 'frame_after_connect_ms', 'first_frame_ms', 'full_size_after_first_ms'];
const medians = Object.fromEntries(keys.map((k) => [k, median(warm.map((l) => l[k]))]));
console.log(JSON.stringify({ bench: 'first-frame', runs, watcher: watching, medians, loads }));
console.log(`\nmetric                   median (of ${warm.length} warm loads)   all loads`);
for (const k of keys) console.log(`${k.padEnd(24)} ${String(medians[k]).padEnd(28)} ${loads.map((l) => l[k]).join(' ')}`);
