// End-to-end latency bench: glint + headless Chromium on this machine, loopback.
//
// For each source (the test pattern, and X11 capture of a real app: an xterm that flips the
// whole window between black and white on every key, through reverse video) at 1280x720 and
// 1920x1080, 60 fps, the same xterm at 1280x720 beside another that floods the X server
// (x11-xterm-flood), and for the project's NES test ROM in nestopia (256x240 at the core's
// rate; key X holds the A button, which lights the ROM's background), it reports:
// - click-to-photon p50/p95/p99: a key pressed in the page (KeyboardEvent.timeStamp) → the
//   expected display time of the first presented frame whose pixels show the flip;
// - capture-to-display p50/p95 (requestVideoFrameCallback captureTime → expectedDisplayTime);
// - host processing p50/p95 (capture start → last packet sent, from /api/stats);
// - frames presented per second, host CPU % (glint's process, of one core), and the time from
//   navigation start to the first presented frame (median of several page loads), and the
//   page's timeline of that first connection (glint.timeline: scripts run, signaling open,
//   welcome, offer sent, answer, ICE checking, ICE connected, DTLS connected, first frame;
//   medians over the page loads).
//
// Usage: node benches/e2e.mjs [--short] [--runs N] [--presses N] [--loads N] [--warmup S]
//                             [--json FILE]
//   --warmup S: seconds of key presses before measuring (default 6; 0 with --short), so the
//   host has settled its capture phase to the page's compositor, as in a game being played.
//   [--only SOURCE-SIZE] (one row, e.g. x11-xterm-1280x720)
//   --short: the test pattern at 1280x720 only, a few presses (scripts/test runs this to check
//   that the bench works and prints well-formed JSON; its figures are not kept).
import { readFileSync, writeFileSync } from 'node:fs';
import { startGlint, startChromium, waitFor } from '../web-client/test/e2e/harness.mjs';

const flag = (name) => process.argv.includes(`--${name}`);
const opt = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const short = flag('short');
const presses = Number(opt('presses', short ? 6 : 40));
const loads = Number(opt('loads', short ? 1 : 3));
const warmupMs = 1000 * Number(opt('warmup', short ? 0 : 6));
// Every run starts glint and Chromium afresh: the phase between the host's frame clock and the
// page's 60 Hz compositor is random per run and moves capture-to-display by up to a frame, so
// figures are pooled over several runs.
const runs = Number(opt('runs', short ? 1 : 3));
const jsonOut = opt('json', null);
const only = opt('only', null); // e.g. x11-xterm-1280x720
const FPS = 60;
const TICKS = 100; // USER_HZ

// An xterm covering the screen that toggles reverse video on every key it reads.
const FLIPPER = "xterm -geometry 400x120+0+0 -e sh -c 'stty raw -echo; s=0; " +
  'while dd bs=1 count=1 of=/dev/null 2>/dev/null; do ' +
  'if [ $s = 0 ]; then printf "\\033[?5h"; s=1; else printf "\\033[?5l"; s=0; fi; done\'';

// Beside it, for the x11-xterm-flood source: an xterm printing random text as fast as it can
// (the link bench's `text` content) in the top-left corner, mapped after the flipper so it is
// on top, clear of the flip region (the bottom-right quarter) and of the pointer (the
// centre). It floods the X server with drawing requests and the encoder with changes.
const FLOOD = "xterm -geometry 100x30+0+0 -e sh -c 'while :; do head -c 30000 /dev/urandom | base64; done'";

const NES_ROM = new URL('../emulators/testrom/joypad.nes', import.meta.url).pathname;

const configs = short
  ? [{ source: 'testpattern', size: '1280x720' }]
  : [
    { source: 'testpattern', size: '1280x720' },
    { source: 'testpattern', size: '1920x1080' },
    { source: 'x11-xterm', size: '1280x720' },
    { source: 'x11-xterm', size: '1920x1080' },
    { source: 'x11-xterm-flood', size: '1280x720' },
    { source: 'nes', size: '256x240' },
  ];

if (only) configs.splice(0, configs.length, ...configs.filter((c) => `${c.source}-${c.size}` === only));

function ownCpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** glint's CPU time, with its core process for games (not the display, sound server or app). */
function cpuSeconds(pid) {
  let total = ownCpuSeconds(pid);
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  for (const c of children) {
    try {
      if (readFileSync(`/proc/${c}/cmdline`, 'utf8').includes('--core-worker')) total += ownCpuSeconds(c);
    } catch { /* gone */ }
  }
  return total;
}

function pct(values, q) {
  if (!values.length) return null;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.round((v.length - 1) * q))];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function runConfig({ source, size }) {
  const args = source === 'testpattern'
    ? ['--source', 'testpattern', '--size', size, '--fps', String(FPS)]
    : source === 'nes'
      ? ['--core', 'nestopia', '--rom', NES_ROM]
      : ['--size', size, '--fps', String(FPS), '--app',
        source === 'x11-xterm-flood' ? `${FLIPPER} & sleep 1; exec ${FLOOD}` : FLIPPER];
  // The NES test ROM lights its background while A (key X) is held: hold the key a while.
  const key = source === 'nes' ? 'KeyX' : 'KeyZ';
  const glint = await startGlint(args);
  const browser = await startChromium();
  const page = browser.page;
  try {
    const firstFrames = [];
    const timelines = [];
    for (let i = 0; i < loads; i += 1) {
      await page.goto(glint.url);
      await waitFor('playing', () => page.evaluate(() => window.glint.state === 'playing'), 20000);
      const [first, timeline] = await page.evaluate(() => [window.glint.firstFrameMs, window.glint.timeline]);
      firstFrames.push(first);
      if (timeline) timelines.push(timeline);
    }
    // Focus: the pointer over the remote window (focus follows the pointer on a bare X server).
    const box = await page.locator('#video').boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.evaluate(() => document.getElementById('stage').focus());
    await sleep(500);
    // Play a little first, as a user would before the figures matter: the page that sends
    // input reports its frame lead and the host settles its capture phase (a few seconds).
    for (let t = Date.now(); Date.now() - t < warmupMs;) {
      await page.keyboard.press(key);
      await sleep(250);
    }
    await page.evaluate(async (key) => {
      const { videoReader } = await import('/src/blockcode.js');
      const reader = videoReader(video);
      window.__bench = { keydowns: [], frames: [] };
      document.addEventListener('keydown', (e) => {
        if (e.code === key && !e.repeat) window.__bench.keydowns.push(e.timeStamp);
      }, true);
      const onFrame = (now, meta) => {
        const code = reader.read();
        window.__bench.frames.push({
          t: meta.expectedDisplayTime,
          flip: reader.readFlip(),
          captureTime: meta.captureTime,
          // The block code's capture time (host wall clock) against this page's wall clock.
          codeAgeMs: code ? (((Math.floor(performance.timeOrigin + meta.expectedDisplayTime) >>> 0) - code.captureMs) >>> 0) : undefined,
        });
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    }, key);
    const c0 = cpuSeconds(glint.child.pid);
    const t0 = Date.now();
    for (let i = 0; i < presses; i += 1) {
      await sleep(150 + Math.random() * 100);
      if (source === 'nes') {
        await page.keyboard.down(key);
        await sleep(120);
        await page.keyboard.up(key);
      } else {
        await page.keyboard.press(key);
      }
    }
    await sleep(500);
    const wall = (Date.now() - t0) / 1000;
    const c1 = cpuSeconds(glint.child.pid);
    const bench = await page.evaluate(() => window.__bench);
    const base = glint.url.replace(/\/(#.*)?$/, '');
    const stats = await (await fetch(`${base}/api/stats`)).json();

    const frames = bench.frames;
    const clickToPhoton = [];
    for (const k of bench.keydowns) {
      const before = frames.filter((f) => f.t < k && f.flip !== null).at(-1);
      if (!before) continue;
      const after = frames.find((f) => f.t >= k && f.flip === !before.flip);
      if (after) clickToPhoton.push(after.t - k);
    }
    const captureToDisplay = frames.filter((f) => f.captureTime !== undefined).map((f) => f.t - f.captureTime);
    const byCode = frames.filter((f) => f.codeAgeMs !== undefined && f.codeAgeMs < 10000).map((f) => f.codeAgeMs);
    const span = (frames.at(-1).t - frames[0].t) / 1000;
    return {
      presses: bench.keydowns.length,
      clickToPhoton,
      captureToDisplay,
      byCode,
      firstFrames,
      timelines,
      host: stats.stages_ms.host,
      stages: Object.fromEntries(Object.entries(stats.stages_ms).map(([k, v]) => [k, v.p50])),
      fps: (frames.length - 1) / span,
      cpu: (100 * (c1 - c0)) / wall,
      kbit_s: stats.bitrate_kbps,
    };
  } finally {
    await browser.stop();
    await glint.stop();
  }
}

const median = (v) => pct(v, 0.5);
const TIMELINE_STEPS = ['scriptsMs', 'wsOpenMs', 'welcomeMs', 'offerSentMs', 'answerMs', 'iceCheckingMs',
  'iceConnectedMs', 'connectedMs', 'firstFrameMs'];
/** Each step's median over the page loads (steps a load did not reach are left out). */
function timelineMedians(timelines) {
  return Object.fromEntries(TIMELINE_STEPS.map((k) => [k,
    median(timelines.map((t) => t[k]).filter((v) => typeof v === 'number'))]));
}
const results = [];
for (const c of configs) {
  const rs = [];
  for (let i = 0; i < runs; i += 1) rs.push(await runConfig(c));
  const all = (k) => rs.flatMap((r) => r[k]);
  const c2p = all('clickToPhoton');
  const c2d = all('captureToDisplay');
  const code = all('byCode');
  results.push({
    source: c.source,
    size: c.size,
    fps: FPS,
    runs,
    presses: rs.reduce((a, r) => a + r.presses, 0),
    seen: c2p.length,
    click_to_photon_ms: { p50: pct(c2p, 0.5), p95: pct(c2p, 0.95), p99: pct(c2p, 0.99) },
    click_to_photon_p50_per_run_ms: rs.map((r) => pct(r.clickToPhoton, 0.5)),
    capture_to_display_ms: { p50: pct(c2d, 0.5), p95: pct(c2d, 0.95) },
    capture_to_display_p50_per_run_ms: rs.map((r) => pct(r.captureToDisplay, 0.5)),
    // Test pattern only: the same figure read from the pixels (ms resolution).
    capture_to_display_by_code_ms: { p50: pct(code, 0.5), p95: pct(code, 0.95) },
    // Median over runs of each run's window of host timings.
    host_processing_ms: { p50: median(rs.map((r) => r.host.p50)), p95: median(rs.map((r) => r.host.p95)) },
    host_stages_p50_ms: rs[0].stages,
    presented_fps: median(rs.map((r) => r.fps)),
    host_cpu_pct: median(rs.map((r) => r.cpu)),
    first_frame_ms: median(all('firstFrames')),
    // Median ms since navigation start of each step of the page's first connection.
    timeline_ms: timelineMedians(all('timelines')),
    kbit_s: median(rs.map((r) => r.kbit_s)),
  });
}
const report = {
  bench: 'e2e',
  date: new Date().toISOString(),
  machine: `${(await import('node:os')).cpus().length} cores, ${(await import('node:os')).cpus()[0]?.model || 'unknown cpu'}`,
  short,
  presses,
  loads,
  runs,
  results,
};
const json = JSON.stringify(report);
console.log(json);
if (jsonOut) writeFileSync(jsonOut, `${json}\n`);

const f = (v) => (v === null || v === undefined ? '—' : v.toFixed(1));
const rows = [['source', 'size', 'c2p p50', 'p95', 'p99', 'cap→disp p50', 'p95', 'host p50', 'p95', 'fps', 'cpu %', '1st frame']];
for (const r of results) {
  rows.push([r.source, r.size, f(r.click_to_photon_ms.p50), f(r.click_to_photon_ms.p95), f(r.click_to_photon_ms.p99),
    f(r.capture_to_display_ms.p50), f(r.capture_to_display_ms.p95), f(r.host_processing_ms.p50), f(r.host_processing_ms.p95),
    f(r.presented_fps), f(r.host_cpu_pct), f(r.first_frame_ms)]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
console.log(`\nclick-to-photon (c2p), capture-to-display and host processing in ms; ${runs} runs × (${presses} presses, ${loads} page loads) per row`);
for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i])).join('  '));

const heads = ['scripts', 'ws open', 'welcome', 'offer', 'answer', 'ice chk', 'ice conn', 'dtls', '1st frame'];
const trows = [['source', 'size', ...heads]];
for (const r of results) trows.push([r.source, r.size, ...TIMELINE_STEPS.map((k) => f(r.timeline_ms[k]))]);
const twidths = trows[0].map((_, i) => Math.max(...trows.map((r) => r[i].length)));
console.log(`\npage-load timeline, median ms since navigation start over ${runs} runs × ${loads} page loads`);
for (const r of trows) console.log(r.map((c, i) => c.padStart(twidths[i])).join('  '));
