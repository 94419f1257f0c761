// Glint on a narrow link: glint in one network namespace, headless Chromium in another, joined
// by a veth pair whose host side is shaped by a tbf rate limit (a 50 ms queue), as a home or
// hotel uplink would be. The moving test pattern at 1280x720, 60 fps, Glint's defaults
// (HTTPS, since the host is beyond loopback).
//
// For each rate it reports: the time from navigation to the first frame; frames decoded per
// second after the first 3 s (median and minimum of the per-second counts); the browser's
// freezes (freezeCount, totalFreezesDuration of the inbound video); and the host's estimate,
// encoder target and send rate (/api/stats), as medians of the per-second samples.
//
// Usage: node benches/link.mjs [--rates 2mbit,400kbit] [--seconds N] [--json FILE]
// Needs root (ip netns, tc). Prints one JSON line per rate, then a table.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGlint, startChromium, startLan, waitFor } from '../web-client/test/e2e/harness.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const rates = arg('--rates', '2mbit,400kbit').split(',');
const seconds = Number(arg('--seconds', '20'));
const jsonFile = arg('--json', null);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : null;
};

async function run(rate) {
  const lan = await startLan();
  const home = mkdtempSync(join(tmpdir(), 'glint-home-'));
  let glint;
  let browser;
  try {
    const dev = /(gh\d+)@/.exec(execFileSync('ip', ['-n', lan.host, '-o', 'link', 'show']).toString())[1];
    execFileSync('ip', ['netns', 'exec', lan.host, 'tc', 'qdisc', 'add', 'dev', dev, 'root',
      'tbf', 'rate', rate, 'burst', '32kbit', 'latency', '50ms']);
    glint = await startGlint(['--source', 'testpattern', '--no-audio', '--listen', `${lan.hostIp}:8443`],
      { netns: lan.host, env: { HOME: home } });
    browser = await startChromium({ executablePath: lan.chromium, contextOptions: { ignoreHTTPSErrors: true } });
    const page = browser.page;
    const started = Date.now();
    await page.goto(glint.url);
    await waitFor('the first frame', () => page.evaluate(() => window.glint.state === 'playing'), 60000);
    const firstFrameMs = Date.now() - started;
    const timeline = await page.evaluate(() => Object.fromEntries(Object.entries(window.glint.timeline)
      .map(([k, v]) => [k, typeof v === 'number' ? Math.round(v) : v])));
    const password = new URL(glint.url).hash.slice('#password='.length);
    const samples = [];
    let last = await page.evaluate(() => window.glint.inboundVideo());
    for (let s = 1; s <= seconds; s += 1) {
      await new Promise((r) => setTimeout(r, 1000));
      const v = await page.evaluate(() => window.glint.inboundVideo());
      const peer = await page.evaluate(async (pw) => (await (await fetch('/api/stats', {
        headers: { Authorization: `Bearer ${pw}` } })).json()).peers[0], password);
      samples.push({ s, fps: v.framesDecoded - last.framesDecoded, target: peer?.target_kbps ?? 0,
        bwe: peer?.bwe_kbps ?? 0, sent: peer?.bitrate_kbps ?? 0 });
      last = v;
    }
    const steady = samples.filter((x) => x.s > 3);
    return {
      rate,
      first_frame_ms: firstFrameMs,
      timeline,
      fps_median: median(steady.map((x) => x.fps)),
      fps_min: Math.min(...steady.map((x) => x.fps)),
      freezes: last.freezeCount ?? 0,
      freeze_total_ms: Math.round((last.totalFreezesDuration ?? 0) * 1000),
      target_kbps: median(steady.map((x) => x.target)),
      bwe_kbps: Math.round(median(steady.map((x) => x.bwe))),
      sent_kbps: Math.round(median(steady.map((x) => x.sent))),
    };
  } finally {
    await browser?.stop();
    await glint?.stop();
    lan.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

const results = [];
for (const rate of rates) {
  const r = await run(rate);
  console.log(JSON.stringify(r));
  results.push(r);
}
console.log('\n| link | first frame | fps p50 / min (after 3 s) | freezes (total) | target | estimate | sent |');
console.log('|---|---|---|---|---|---|---|');
for (const r of results) {
  console.log(`| ${r.rate} | ${r.first_frame_ms} ms | ${r.fps_median} / ${r.fps_min} | ${r.freezes} (${r.freeze_total_ms} ms) | ${r.target_kbps} kbit/s | ${r.bwe_kbps} kbit/s | ${r.sent_kbps} kbit/s |`);
}
if (jsonFile) writeFileSync(jsonFile, JSON.stringify(results, null, 1));
