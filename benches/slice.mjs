// Measures the vertical slice end to end: glint on its own Xvfb with an xterm, headless
// Chromium playing it. Prints JSON and a table: frames decoded per second, host CPU (% of one
// core, from /proc), and time from navigation start to the first presented frame.
// Usage: node benches/slice.mjs [--fps 60] [--seconds 10] [--runs 3]
import { readFileSync } from 'node:fs';
import { startGlint, startChromium, waitFor } from '../web-client/test/e2e/harness.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const fps = arg('fps', 60);
const seconds = arg('seconds', 10);
const runs = arg('runs', 3);
const ticks = 100; // USER_HZ on Linux

function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticks; // utime + stime
}

const results = [];
for (let run = 0; run < runs; run++) {
  const glint = await startGlint(['--fps', String(fps), '--app', 'xterm -geometry 100x30+40+40']);
  const browser = await startChromium();
  try {
    await browser.page.goto(glint.url);
    await waitFor('playing', () => browser.page.evaluate(() => window.glint.state === 'playing'), 20000);
    const firstFrameMs = await browser.page.evaluate(() => window.glint.firstFrameMs);
    await new Promise((r) => setTimeout(r, 1000));
    const a = await browser.page.evaluate(() => window.glint.inboundVideo());
    const c0 = cpuSeconds(glint.child.pid);
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const b = await browser.page.evaluate(() => window.glint.inboundVideo());
    const c1 = cpuSeconds(glint.child.pid);
    const wall = (Date.now() - t0) / 1000;
    results.push({
      run,
      fps_decoded: (b.framesDecoded - a.framesDecoded) / ((b.timestamp - a.timestamp) / 1000),
      frames_dropped: b.framesDropped - a.framesDropped,
      host_cpu_pct: (100 * (c1 - c0)) / wall,
      first_frame_ms: firstFrameMs,
      kbit_s: (8 * (b.bytesReceived - a.bytesReceived)) / ((b.timestamp - a.timestamp)),
    });
  } finally {
    await browser.stop();
    await glint.stop();
  }
}
const median = (k) => {
  const v = results.map((r) => r[k]).sort((x, y) => x - y);
  return v[Math.floor(v.length / 2)];
};
const summary = Object.fromEntries(
  ['fps_decoded', 'host_cpu_pct', 'first_frame_ms', 'kbit_s', 'frames_dropped'].map((k) => [k, median(k)]));
console.log(JSON.stringify({ bench: 'slice', fps, seconds, runs, median: summary, results }));
console.log(`\n${'metric'.padEnd(16)} median   (of ${runs} runs, 1280x720 @ ${fps} fps, xterm idle)`);
for (const [k, v] of Object.entries(summary)) console.log(`${k.padEnd(16)} ${v.toFixed(1)}`);
