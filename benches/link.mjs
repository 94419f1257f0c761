// Glint on an impaired link: glint in one network namespace, headless Chromium in another,
// joined by a veth pair. The host's side is shaped by a tbf rate limit (a 50 ms queue), as a
// home or hotel uplink would be; random loss is dropped by nftables in both namespaces (`numgen
// random`, UDP only, both directions); a rate can change during the run (`tc qdisc change`).
// The moving test pattern at 1280x720, 60 fps, Glint's defaults (HTTPS, since the host is
// beyond loopback). The kernel here has no netem: a round trip is added in userspace, by a UDP
// relay in glint's namespace (`delay-relay.mjs`, half the round trip each way, with `--jitter`
// up to that much more at random) that glint announces as its public address (`--public-ip`,
// `--udp-port`), the direct path to glint's UDP port dropped (nftables): a scenario's `@RTTms`
// suffix (e.g. `loss:5@80ms`) or `--rtt MS` for every scenario. Only the media is delayed:
// the page and signaling go straight (TCP), so the first frame comes a round trip or two
// earlier than it would on such a path.
//
// Scenarios (each a fresh glint and browser):
//   rate:R            a fixed rate, e.g. rate:2mbit, rate:400kbit (`none`: unshaped, the
//                     baseline for input→photon)
//   loss:P            P % random loss each way on an unshaped link, e.g. loss:5
//   steps:R:S,R:S,... rates for S seconds each, e.g. steps:10mbit:10,1mbit:15,10mbit:10
//   idle:R:S          at rate R (`none`: unshaped), scrolling text (the phase's seconds), then
//                     the same xterm still for S seconds (an idle desktop), then scrolling
//                     again: how long until full quality is back (`full_s`: the first phase's
//                     picture or a larger one, and 0.9 of its target, polled every 100 ms),
//                     e.g. idle:none:60
//   pair:R            a viewer on an unshaped link, then a second one behind R (below)
//   any of these@RTTms   with that round trip added, e.g. loss:5@80ms
//
// For each it reports: the time from navigation to the first frame (`first_frame_ms`, on
// node's clock, the table's "first frame") and the page's timeline (`timeline`: glint.timeline,
// ms from the page's own start, whose `firstFrameMs` is the same moment without the
// navigation's request and load); then per phase (a fixed rate or loss is one phase, its first 3 s left out):
// frames decoded per second (median and minimum of the per-second counts), the browser's
// freezes in the phase (freezeCount, totalFreezesDuration of the inbound video) and the longest
// wait between two presented frames (requestVideoFrameCallback in the page), and the host's
// estimate, encoder target and send rate (/api/stats), as medians of the per-second samples;
// after a step up, how long until a second decodes 50 frames again (`recovered_s`), and
// until the target is 0.9 of --bitrate (`lift_full_rate_s`) and the picture is at its top rung
// (`lift_full_picture_s`; both polled every 100 ms, from the rate change on); the
// packets the link's queue dropped (tbf's count: what the host sent beyond the link); and
// input→photon p50/p95 (`photon_ms`): the page presses Shift four times a second and reports,
// from the host's frame echoes, the time from each press leaving the page to the first
// presented frame captured after the host injected it (glint.inputToPhotonMs, the overlay's
// live figure). It includes both ways across the link and its queue: on a shaped link it
// shows whether the queue stays short. Beside it (JSON only, `jitter_buffer_ms`, and each
// second's `jitterBufferMs` with LINK_TRACE): the browser's mean jitter buffer delay over the
// frames it emitted, to tell a queue on the way from a picture held back in the page. And
// (JSON only, `weak_s`, also the unshaped viewer's): how many of the phase's per-second
// samples found the page's "Weak connection" warning showing (glint.weakLink, stall.js).
//
// Content (--content): `pattern`, the test pattern (scrolling bars: cheap to code, ~0.5–1.2
// Mbit/s at 720p60), or `text`, Glint's own X display with an xterm that scrolls random text
// as fast as it can (costly to code: it fills whatever rate the encoder is given).
//
// The picture column is the coded size most seconds of the phase had (the resolution ladder's
// rung, from /api/stats). With --sound a tone plays on the host's PulseAudio and the sound
// column gives the Opus rate the host chose and the Opus frames it sent per second (100 is
// every 10 ms frame).
//
// Usage: node benches/link.mjs [--help] [--scenarios rate:2mbit,...] [--seconds N] [--content C]
//                              [--sound] [--glint-args "--no-ladder ..."] [--json FILE]
//                              [--burst 32kbit] (tbf's bucket, tc's syntax)
//                              [--rtt MS] [--jitter MS] (a round trip for every scenario)
//        node benches/link.mjs --short   (one 2 Mbit/s phase of 6 s, 2 % loss over a 40 ms
//                                         round trip, a pair behind 1 Mbit/s, 25 % loss: the
//                                         e2e suite runs this to check the bench and the
//                                         page's weak-link warning)
// Default: rate:2mbit rate:400kbit loss:5 steps:10mbit:10,1mbit:15,10mbit:10 pair:1mbit, 20 s
// phases. `pair:R`: a viewer on an unshaped link watches (until it has the full picture), then a
// second one behind R joins;
// the table gives the second one's row, then the first one's (fps, freezes, target, picture).
// Needs root (ip netns, tc, nft). Prints one JSON line per scenario, then a table; with
// LINK_TRACE=1 also each second's sample (stderr); with LINK_LOG=F glint's log goes to
// F.<scenario> (RUST_LOG as usual). The host's figures are asked from glint's
// own namespace, not through the shaped link.

import { execFile, execFileSync, spawn } from 'node:child_process';
import { parseArgs, promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGlint, startChromium, startLan, waitFor, playTone } from '../web-client/test/e2e/harness.mjs';
import { msPer } from '../web-client/src/overlay.js';

// The options (node's util.parseArgs, strict: an unknown or misspelt option is an error, not
// a default run of several minutes); --help prints the usage above.
const { values: opts } = (() => {
  try {
    return parseArgs({
      options: {
        scenarios: { type: 'string' },
        seconds: { type: 'string' },
        content: { type: 'string', default: 'pattern' },
        sound: { type: 'boolean', default: false },
        'glint-args': { type: 'string', default: '' },
        json: { type: 'string' },
        burst: { type: 'string', default: '32kbit' },
        rtt: { type: 'string', default: '0' },
        jitter: { type: 'string', default: '0' },
        short: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    console.error(`link.mjs: ${e.message} (--help for the usage)`);
    process.exit(2);
  }
})();
if (opts.help) {
  const text = readFileSync(new URL(import.meta.url), 'utf8');
  const usage = text.slice(text.indexOf('// Usage:'), text.indexOf('// Needs root'))
    + text.slice(text.indexOf('// Scenarios (each'), text.indexOf('// For each it reports'));
  console.log(usage.replace(/^\/\/ ?/gm, '').trimEnd());
  process.exit(0);
}
const short = opts.short;
const seconds = Number(opts.seconds ?? (short ? '6' : '20'));
const jsonFile = opts.json ?? null;
const content = opts.content;
const withSound = opts.sound;
const extraArgs = opts['glint-args'].split(' ').filter(Boolean);
// tbf's bucket: 32kbit (4 KiB) by default; a home router's can be far larger (32kb: 32 KiB),
// which lets a short burst through at the wire's speed and then drops a run of packets.
const burst = opts.burst;
const defaultRtt = Number(opts.rtt);
const jitterMs = Number(opts.jitter);
for (const [name, value] of [['--seconds', seconds], ['--rtt', defaultRtt], ['--jitter', jitterMs]]) {
  if (!(value >= 0)) {
    console.error(`link.mjs: ${name} takes a number, 0 or more (--help for the usage)`);
    process.exit(2);
  }
}
if (!['pattern', 'text'].includes(content)) {
  console.error(`link.mjs: --content is pattern or text, not ${content}`);
  process.exit(2);
}
const RELAY_PORT = 47000;
const BROWSER_OPTIONS = { ignoreHTTPSErrors: true, handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false };
const SCROLLER = "xterm -geometry 200x60+0+0 -e sh -c 'while :; do head -c 30000 /dev/urandom | base64; done'";
const WARMUP_S = 3; // left out of each phase's rates: the estimate settles
const RECOVERED_FPS = 50;

/**
 * A scenario from its name: phases of { rate (tc's syntax, or null: unshaped), seconds }, and
 * the round trip added (`@RTTms`, else --rtt).
 */
function parse(named) {
  const [spec, rttSpec] = named.split('@');
  const rtt = rttSpec === undefined ? defaultRtt : Number(/^(\d+)ms$/.exec(rttSpec)?.[1] ?? NaN);
  if (!(rtt >= 0)) throw new Error(`${named}: the round trip is written @80ms`);
  const scenario = { ...parseSpec(spec), spec: rtt > 0 ? `${spec}@${rtt}ms` : spec, rtt };
  if (!(Number.isInteger(scenario.loss) && scenario.loss >= 0 && scenario.loss <= 99)) {
    throw new Error(`${named}: the loss is a whole percentage, 0 to 99`);
  }
  for (const p of scenario.phases) {
    if (p.rate !== null && !TC_RATE.test(p.rate ?? '')) {
      throw new Error(`${named}: a rate is tc's, e.g. 400kbit or 2mbit${scenario.pair ? '' : ' (or none)'}, not ${p.rate}`);
    }
    // A phase's first WARMUP_S seconds are left out of its figures; a still spell is not measured.
    const least = p.still ? 1 : WARMUP_S + 1;
    if (!(p.seconds >= least)) throw new Error(`${named}: a phase takes ${least} s or more (--seconds, or a step's S)`);
  }
  return scenario;
}

/** A rate in tc's syntax (tc-tbf(8), "rate"). */
const TC_RATE = /^\d+(\.\d+)?(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)$/i;

function parseSpec(spec) {
  const [kind, ...rest] = spec.split(':');
  if (kind === 'rate') return { spec, loss: 0, phases: [{ rate: rest[0] === 'none' ? null : rest[0], seconds }] };
  if (kind === 'loss') return { spec, loss: Number(rest[0]), phases: [{ rate: null, seconds }] };
  // A viewer on an unshaped link (loopback in glint's own namespace) watches first; then one
  // behind `rate` joins.
  if (kind === 'pair') return { spec, loss: 0, pair: true, phases: [{ rate: rest[0] ?? '', seconds }] };
  // Text that scrolls while the file `go` exists, else stands still.
  if (kind === 'idle') {
    const rate = rest[0] === 'none' ? null : rest[0];
    return {
      spec, loss: 0, idle: true,
      phases: [{ rate, seconds }, { rate, seconds: Number(rest[1] ?? 60), still: true }, { rate, seconds, afterIdle: true }],
    };
  }
  if (kind === 'steps') {
    const phases = rest.join(':').split(',').map((p) => {
      const [rate, s] = p.split(':');
      return { rate, seconds: Number(s) };
    });
    return { spec, loss: 0, phases };
  }
  throw new Error(`unknown scenario ${spec}`);
}

// --scenarios wins over --short's set (--short then only shortens the phases).
const scenarios = (opts.scenarios ?? (short
  ? 'steps:2mbit:6,loss:2@40ms,pair:1mbit,loss:25'
  : 'rate:2mbit,rate:400kbit,loss:5,steps:10mbit:10,1mbit:15,10mbit:10,pair:1mbit'))
  .split(/,(?=rate:|loss:|steps:|pair:|idle:)/).map((named) => {
    try {
      return parse(named);
    } catch (e) {
      console.error(`link.mjs: ${e.message} (--help for the scenarios)`);
      return process.exit(2);
    }
  });

/**
 * Adds `rtt` ms of round trip to glint's media in `lan` (see the top): a second address on
 * glint's side of the link (`dev`) where the relay listens, the direct path to glint's UDP port
 * dropped. Returns glint's extra arguments and a stop function.
 */
async function startDelay(lan, dev, rtt) {
  const relayIp = lan.hostIp.replace(/\.1$/, '.3');
  execFileSync('ip', ['-n', lan.host, 'addr', 'add', `${relayIp}/24`, 'dev', dev]);
  const nft = (...a) => execFileSync('ip', ['netns', 'exec', lan.host, 'nft', ...a]);
  nft('add', 'table', 'inet', 'glintrelay');
  nft('add', 'chain', 'inet', 'glintrelay', 'in', '{ type filter hook input priority 0; }');
  nft('add', 'rule', 'inet', 'glintrelay', 'in', 'ip', 'saddr', lan.clientIp, 'ip', 'daddr', lan.hostIp,
    'udp', 'dport', String(RELAY_PORT), 'drop');
  const relay = spawn('ip', ['netns', 'exec', lan.host, process.execPath, join(import.meta.dirname, 'delay-relay.mjs'),
    `${relayIp}:${RELAY_PORT}`, `${lan.hostIp}:${RELAY_PORT}`, String(rtt / 2), String(jitterMs)],
  { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    relay.stdout.on('data', (d) => { if (String(d).includes('ready')) resolve(); });
    relay.on('exit', (code) => reject(new Error(`the delay relay exited (${code})`)));
  });
  return {
    args: ['--udp-port', String(RELAY_PORT), '--public-ip', relayIp],
    stop: () => relay.kill('SIGTERM'),
  };
}

/** A rate in tc's syntax (`10mbit`, `400kbit`, `2000000bit`) in bit/s. */
const bits = (rate) => {
  const m = /^([\d.]+)(k|m|g)?bit$/i.exec(rate);
  if (!m) throw new Error(`rate ${rate}: not in tc's syntax (e.g. 400kbit, 10mbit)`);
  return Number(m[1]) * ({ k: 1e3, m: 1e6, g: 1e9 }[m[2]?.toLowerCase()] ?? 1);
};
// Glint's highest video rate: its default, or --bitrate in --glint-args.
const configuredKbps = Number(/--bitrate[ =](\d+)/.exec(opts['glint-args'])?.[1] ?? 8000);

/**
 * A count over `ms` as a rate per second, rounded. A "one second" sample takes longer than a
 * second (the page's and the host's figures are read after it), so a count per sample runs
 * high: 64–69 fps from a 60 fps source.
 */
const perSecond = (count, ms) => (ms > 0 ? Math.round((count * 1000) / ms) : 0);

/**
 * The browser's mean jitter buffer delay (ms, to 0.1) over the frames it emitted between two
 * inbound-rtp samples (the overlay's figure, `msPer`), or null when none was emitted.
 */
const jitterBufferMs = (now, before) => {
  const ms = msPer(now, before, 'jitterBufferDelay', 'jitterBufferEmittedCount');
  return ms === null ? null : Math.round(ms * 10) / 10;
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : null;
};
/** The fast viewer of a pair, over a phase (its first WARMUP_S seconds left out). */
function summary(samples) {
  const steady = samples.filter((x) => x.s > WARMUP_S);
  return {
    fps_median: median(steady.map((x) => x.fps)),
    fps_min: Math.min(...steady.map((x) => x.fps)),
    freezes: samples.reduce((a, x) => a + x.freezes, 0),
    freeze_total_ms: Math.round(samples.reduce((a, x) => a + x.freezeMs, 0)),
    longest_freeze_ms: Math.max(0, ...samples.map((x) => x.gapMs)),
    target_kbps: median(steady.map((x) => x.target)),
    picture: mode(steady.map((x) => x.picture)),
    tier: mode(steady.map((x) => x.tier)),
    slow_tier: mode(steady.map((x) => x.slowTier)),
    weak_s: samples.filter((x) => x.weak).length,
  };
}

/** The value most of `xs` have. */
const mode = (xs) => {
  const counts = new Map();
  for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;
};

/**
 * The longest wait between two presented frames of `page`, per call of its
 * `window.longestGap()` (requestVideoFrameCallback): the browser's freeze count only says a
 * freeze happened, not how long the longest was.
 */
async function trackGaps(page) {
  await page.evaluate(() => {
    const video = document.querySelector('#video');
    const gap = { last: null, max: 0 };
    const frame = (now) => {
      if (gap.last !== null) gap.max = Math.max(gap.max, now - gap.last);
      gap.last = now;
      video.requestVideoFrameCallback(frame);
    };
    video.requestVideoFrameCallback(frame);
    window.longestGap = () => { const m = gap.max; gap.max = 0; return Math.round(m); };
  });
}

async function run(scenario) {
  const lan = await startLan();
  const home = mkdtempSync(join(tmpdir(), 'glint-home-'));
  let glint;
  let browser;
  let fast;
  let tone;
  let delay;
  // One stop, however many ask (the signal handler and the finally below).
  let stopping = null;
  stopRunning = () => (stopping ??= (async () => {
    tone?.kill();
    await browser?.stop();
    await fast?.stop();
    await glint?.stop();
    delay?.stop();
    if (process.env.LINK_LOG && glint) writeFileSync(`${process.env.LINK_LOG}.${scenario.spec.replace(/[^a-z0-9.]+/gi, '_')}`, glint.logs());
    lan.stop();
    rmSync(home, { recursive: true, force: true });
  })());
  try {
    const dev = /(gh\d+)@/.exec(execFileSync('ip', ['-n', lan.host, '-o', 'link', 'show']).toString())[1];
    const shape = (verb, rate) => execFileSync('ip', ['netns', 'exec', lan.host, 'tc', 'qdisc', verb, 'dev', dev,
      'root', 'tbf', 'rate', rate, 'burst', burst, 'latency', '50ms']);
    if (scenario.phases[0].rate) shape('add', scenario.phases[0].rate);
    if (scenario.loss > 0) {
      for (const ns of [lan.host, lan.client]) {
        const nft = (...a) => execFileSync('ip', ['netns', 'exec', ns, 'nft', ...a]);
        nft('add', 'table', 'inet', 'glintloss');
        nft('add', 'chain', 'inet', 'glintloss', 'out', '{ type filter hook output priority 0; }');
        nft('add', 'rule', 'inet', 'glintloss', 'out', 'meta', 'l4proto', 'udp', 'numgen', 'random', 'mod', '100',
          '<', String(scenario.loss), 'oifname', '!=', 'lo', 'drop');
      }
    }
    const go = join(home, 'go');
    const source = scenario.idle ? ['--app', scrollWhile(go)]
      : content === 'text' ? ['--app', SCROLLER] : ['--source', 'testpattern'];
    if (scenario.idle) writeFileSync(go, '');
    const drops = () => Number(/dropped (\d+)/.exec(execFileSync('ip', ['netns', 'exec', lan.host, 'tc', '-s', 'qdisc',
      'show', 'dev', dev]).toString())?.[1] ?? 0);
    if (scenario.rtt > 0) delay = await startDelay(lan, dev, scenario.rtt);
    glint = await startGlint([...source, ...(withSound ? [] : ['--no-audio']), ...extraArgs, ...(delay?.args ?? []),
      '--listen', `${lan.hostIp}:8443`], { netns: lan.host, env: { HOME: home } });
    if (withSound) tone = playTone(glint.pulseServer, 440, 600);
    const password = new URL(glint.url).hash.slice('#password='.length);
    // The host's figures, asked from glint's own namespace: through the shaped link, ~8 KB a
    // second of /api/stats took a fifth of a 400 kbit/s link and came seconds late. If a
    // request fails, the last figures stand.
    let lastPeers = [];
    let lastHost = {};
    const statsUrl = new URL('/api/stats', glint.url).toString();
    const hostPeers = async () => {
      try {
        const { stdout } = await promisify(execFile)('ip', ['netns', 'exec', lan.host, 'curl', '-skf', '--max-time', '2',
          '-H', `Authorization: Bearer ${password}`, statsUrl]);
        lastHost = JSON.parse(stdout);
        lastPeers = lastHost.peers ?? lastPeers;
      } catch (e) {
        console.error(`stats: ${e.message.split('\n')[0]}`);
      }
      return lastPeers;
    };
    // For up to `seconds` from now, the host's peers every 100 ms: for each named test, the
    // seconds (to 0.1) until it first held, or null if it never did.
    const secondsUntil = async (seconds, tests) => {
      const start = Date.now();
      const found = Object.fromEntries(Object.keys(tests).map((k) => [k, null]));
      while (Date.now() - start < seconds * 1000 && Object.values(found).includes(null)) {
        const peers = await hostPeers();
        const at = Math.round((Date.now() - start) / 100) / 10;
        for (const [k, held] of Object.entries(tests)) if (found[k] === null && held(peers)) found[k] = at;
        await new Promise((r) => setTimeout(r, 100));
      }
      return found;
    };
    // Started before the fast viewer connects: on the bench's one machine a starting Chromium
    // takes both cores for a second or two, which a viewer joining from its own device does not.
    browser = await startChromium({ executablePath: lan.chromium, contextOptions: BROWSER_OPTIONS });
    if (scenario.pair) {
      fast = await startChromium({ executablePath: lan.hostChromium, contextOptions: BROWSER_OPTIONS });
      await fast.page.goto(glint.url);
      await waitFor('the fast viewer\'s first frame', () => fast.page.evaluate(() => window.glint?.state === 'playing'), 60000);
      // The second viewer joins one that already watches the whole screen: a new peer starts
      // low and climbs the ladder, and "keeps its full picture" needs it to have had it.
      await waitFor('the fast viewer\'s full picture', async () => (await hostPeers())[0]?.rung === 0, 30000, 200);
    }
    const page = browser.page;
    // The fast viewer across the second one's join (a new peer, its tier's encoder opened):
    // measured from before the second page loads until its first second of figures.
    const fastBefore = fast && await fast.page.evaluate(() => window.glint.inboundVideo());
    if (fast) await trackGaps(fast.page);
    const started = Date.now();
    await page.goto(glint.url);
    await waitFor('the first frame', () => page.evaluate(() => window.glint?.state === 'playing'), 60000);
    const firstFrameMs = Date.now() - started;
    // Control and focus for the presses: a click on the picture.
    const box = await page.locator('#video').boundingBox();
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    const timeline = await page.evaluate(() => Object.fromEntries(Object.entries(window.glint.timeline)
      .map(([k, v]) => [k, typeof v === 'number' ? Math.round(v) : v])));
    await trackGaps(page);
    const phases = [];
    let lastSample = null;
    let last = await page.evaluate(() => window.glint.inboundVideo());
    let lastFast = fast && await fast.page.evaluate(() => window.glint.inboundVideo());
    const atJoin = fast && {
      freezes: (lastFast.freezeCount ?? 0) - (fastBefore.freezeCount ?? 0),
      freeze_total_ms: Math.round(((lastFast.totalFreezesDuration ?? 0) - (fastBefore.totalFreezesDuration ?? 0)) * 1000),
      longest_freeze_ms: await fast.page.evaluate(() => window.longestGap()),
    };
    for (const [i, phase] of scenario.phases.entries()) {
      if (i > 0 && phase.rate) {
        shape('change', phase.rate);
        // The wall clock of the change, to line up with glint's log (LINK_LOG).
        if (process.env.LINK_TRACE) console.error(JSON.stringify({ rate: phase.rate, at: new Date().toISOString() }));
      }
      if (phase.still) rmSync(go);
      // Full quality again after the still phase: the first phase's picture (or a larger one:
      // the ladder may climb while still) and 0.9 of its target.
      const pixels = (wxh) => wxh.split('x').reduce((a, b) => a * Number(b), 1);
      let full = null;
      // After a step up (a lift): how long until the full rate (0.9 of --bitrate) and the
      // full picture (the capture's size, the top rung) are back, polled every 100 ms.
      let lift = null;
      const previous = scenario.phases[i - 1];
      if (i > 0 && phase.rate && previous?.rate && bits(phase.rate) > bits(previous.rate)) {
        const measured = (peers) => peers[scenario.pair ? 1 : 0];
        lift = secondsUntil(phase.seconds, {
          rate_s: (peers) => (measured(peers)?.target_kbps ?? 0) >= 0.9 * configuredKbps,
          picture_s: (peers) => measured(peers)?.rung === 0,
        });
      }
      if (phase.afterIdle) {
        writeFileSync(go, '');
        const first = phases[0];
        full = secondsUntil(phase.seconds, {
          full: ([p]) => p?.picture && p.picture[0] * p.picture[1] >= pixels(first.picture)
            && p.target_kbps >= 0.9 * first.target_kbps,
        }).then((found) => found.full);
      }
      const dropsBefore = drops();
      const samples = [];
      const fastSamples = [];
      for (let s = 1; s <= phase.seconds; s += 1) {
        const second = Date.now();
        for (let k = 1; k <= 4; k += 1) {
          await page.keyboard.press('Shift');
          await new Promise((r) => setTimeout(r, Math.max(0, second + 250 * k - Date.now())));
        }
        const photon = await page.evaluate(() => window.glint.inputToPhotonMs.splice(0));
        const gapMs = await page.evaluate(() => window.longestGap());
        const v = await page.evaluate(() => window.glint.inboundVideo());
        const asks = await page.evaluate(() => window.glint.keyframeAsks);
        const weak = await page.evaluate(() => window.glint.weakLink);
        const peers = await hostPeers();
        // With a pair, the fast viewer joined first.
        const peer = peers[scenario.pair ? 1 : 0];
        if (fast) {
          const f = await fast.page.evaluate(() => window.glint.inboundVideo());
          const fastWeak = await fast.page.evaluate(() => window.glint.weakLink);
          fastSamples.push({ s, weak: fastWeak, fps: perSecond(f.framesDecoded - lastFast.framesDecoded, f.timestamp - lastFast.timestamp),
            freezes: (f.freezeCount ?? 0) - (lastFast.freezeCount ?? 0),
            freezeMs: ((f.totalFreezesDuration ?? 0) - (lastFast.totalFreezesDuration ?? 0)) * 1000,
            gapMs: await fast.page.evaluate(() => window.longestGap()),
            target: peers[0]?.target_kbps ?? 0, picture: peers[0]?.picture ? peers[0].picture.join('x') : '?',
            tier: peers[0]?.tier ?? '?', slowTier: peer?.tier ?? '?', collapses: peers[0]?.collapses ?? 0,
            bwe: Math.round(peers[0]?.bwe_kbps ?? 0) });
          if (process.env.LINK_TRACE) console.error(JSON.stringify({ fast: fastSamples.at(-1) }));
          lastFast = f;
        }
        samples.push({ s, at: Date.now(), linkDrops: phase.rate ? drops() - dropsBefore : 0, fps: perSecond(v.framesDecoded - last.framesDecoded, v.timestamp - last.timestamp),
          freezes: (v.freezeCount ?? 0) - (last.freezeCount ?? 0),
          freezeMs: ((v.totalFreezesDuration ?? 0) - (last.totalFreezesDuration ?? 0)) * 1000,
          hostFps: peer?.fps ?? 0, target: peer?.target_kbps ?? 0, bwe: peer?.bwe_kbps ?? 0, sent: peer?.bitrate_kbps ?? 0, video: Math.round(peer?.video_kbps ?? 0),
          keyframes: peer?.keyframes_sent ?? 0, plis: peer?.plis ?? 0, keyframeBytes: peer?.keyframe_bytes ?? 0,
          picture: peer?.picture ? peer.picture.join('x') : '?', audioKbps: peer?.audio_kbps ?? 0,
          audioFrames: peer?.audio_frames_sent ?? 0, collapses: peer?.collapses ?? 0, asks,
          capturedFps: Math.round(lastHost.rates?.captured_fps ?? 0), encodedFps: Math.round(lastHost.rates?.encoded_fps ?? 0),
          stagesP95: Object.fromEntries(Object.entries(lastHost.stages_ms ?? {}).map(([k, v]) => [k, Math.round(v.p95 * 10) / 10])),
          photon, gapMs, jitterBufferMs: jitterBufferMs(v, last), weak });
        if (process.env.LINK_TRACE) console.error(JSON.stringify(samples.at(-1)));
        last = v;
      }
      const steady = samples.filter((x) => x.s > WARMUP_S);
      const before = phases.length ? lastSample : { keyframes: 0, plis: 0, asks: 0 };
      const end = samples.at(-1);
      lastSample = end;
      const back = samples.find((x) => x.fps >= RECOVERED_FPS);
      const photon = steady.flatMap((x) => x.photon).sort((a, b) => a - b);
      const pct = (q) => (photon.length ? Math.round(photon[Math.min(photon.length - 1, Math.floor(q * photon.length))] * 10) / 10 : null);
      phases.push({
        rate: phase.rate ?? 'unshaped',
        seconds: phase.seconds,
        fps_median: median(steady.map((x) => x.fps)),
        fps_min: Math.min(...steady.map((x) => x.fps)),
        host_fps_median: median(steady.map((x) => Math.round(x.hostFps))),
        freezes: samples.reduce((a, x) => a + x.freezes, 0),
        freeze_total_ms: Math.round(samples.reduce((a, x) => a + x.freezeMs, 0)),
        longest_freeze_ms: Math.max(...samples.map((x) => x.gapMs)),
        target_kbps: median(steady.map((x) => x.target)),
        bwe_kbps: Math.round(median(steady.map((x) => x.bwe))),
        sent_kbps: Math.round(median(steady.map((x) => x.sent))),
        recovered_s: i > 0 ? (back?.s ?? null) : undefined,
        full_s: full ? await full : undefined,
        ...(lift ? { lift_full_rate_s: (await lift).rate_s, lift_full_picture_s: (await lift).picture_s } : {}),
        still: phase.still || undefined,
        tbf_drops: phase.rate ? drops() - dropsBefore : 0,
        keyframes: end.keyframes - before.keyframes,
        plis: end.plis - before.plis,
        page_asks: end.asks - (before.asks ?? 0),
        keyframe_bytes_max: Math.max(...samples.map((x) => x.keyframeBytes)),
        picture: mode(steady.map((x) => x.picture)),
        audio_kbps: median(steady.map((x) => x.audioKbps)),
        audio_frames_per_s: steady.length > 1
          ? Math.round(perSecond(steady.at(-1).audioFrames - steady[0].audioFrames, steady.at(-1).at - steady[0].at)) : 0,
        photon_ms: { p50: pct(0.5), p95: pct(0.95), n: photon.length },
        jitter_buffer_ms: median(steady.map((x) => x.jitterBufferMs).filter((x) => x !== null)),
        weak_s: samples.filter((x) => x.weak).length,
        fast: fast ? { ...summary(fastSamples), ...(i === 0 ? { join: atJoin } : {}) } : undefined,
      });
    }
    return { scenario: scenario.spec, content: scenario.idle ? 'text' : content, loss_pct: scenario.loss, rtt_ms: scenario.rtt, first_frame_ms: firstFrameMs, timeline, phases };
  } finally {
    await stopRunning();
    stopRunning = null;
  }
}

// Ctrl-C (or a kill) stops the running scenario's glint, browsers, relay and namespaces before
// exiting; without it they outlived the bench. (Playwright's own handlers, which close the
// browsers and exit at once, are off: this one closes them.)
let stopRunning = null;
let interrupted = null;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    interrupted ??= (async () => {
      console.error(`link.mjs: ${signal}: stopping glint, the browsers and the namespaces`);
      await stopRunning?.();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    })();
  });
}

/** An xterm whose text scrolls as fast as it can while `file` exists, and stands still otherwise. */
function scrollWhile(file) {
  return `xterm -geometry 200x60+0+0 -e sh -c 'while :; do if [ -e ${file} ]; then head -c 30000 /dev/urandom | base64; ` +
    'else sleep 0.05; fi; done\'';
}

/** Bytes as KiB for the table: one decimal under 10 KiB (a 370-byte keyframe read "0"). */
const kib = (bytes) => (bytes < 10240 ? (bytes / 1024).toFixed(1) : String(Math.round(bytes / 1024)));

const results = [];
for (const scenario of scenarios) {
  let r;
  try {
    r = await run(scenario);
  } catch (e) {
    // Stopped under it by a signal: the handler exits once everything is stopped.
    if (interrupted) await interrupted;
    throw e;
  }
  console.log(JSON.stringify(r));
  results.push(r);
}
console.log('\n| scenario | first frame (from navigation) | phase | fps p50 / min (after 3 s) | freezes (total), longest | back to 50 fps; full quality | input→photon p50 / p95 | target | estimate | sent | link drops | keyframes (PLIs, page asks), largest | picture |' +
  (withSound ? ' sound |' : ''));
console.log(`|---|---|---|---|---|---|---|---|---|---|---|---|---|${withSound ? '---|' : ''}`);
for (const r of results) {
  for (const [i, p] of r.phases.entries()) {
    const first = i === 0 ? `${r.first_frame_ms} ms` : '';
    const loss = r.loss_pct ? `, ${r.loss_pct} % loss` : '';
    const secs = (v) => (v === null ? 'never' : `${v} s`);
    const back = p.recovered_s === undefined ? '' : secs(p.recovered_s);
    const full = (p.full_s === undefined ? '' : `; full quality ${secs(p.full_s)}`) +
      (p.lift_full_rate_s === undefined ? '' : `; full rate ${secs(p.lift_full_rate_s)}, full picture ${secs(p.lift_full_picture_s)}`);
    console.log(`| ${i === 0 ? r.scenario : ''} | ${first} | ${p.rate}${loss}${p.still ? ', still' : ''}, ${p.seconds} s | ` +
      `${p.fps_median} / ${p.fps_min} | ${p.freezes} (${p.freeze_total_ms} ms), ${p.longest_freeze_ms} ms | ${back}${full} | ` +
      `${p.photon_ms.p50 ?? '–'} / ${p.photon_ms.p95 ?? '–'} ms | ` +
      `${p.target_kbps} kbit/s | ${p.bwe_kbps} kbit/s | ${p.sent_kbps} kbit/s | ${p.tbf_drops} | ` +
      `${p.keyframes} (${p.plis}, ${p.page_asks}), ${kib(p.keyframe_bytes_max)} KiB | ${p.picture} |` +
      (withSound ? ` ${p.audio_kbps} kbit/s, ${p.audio_frames_per_s}/s |` : ''));
    if (p.fast) {
      const f = p.fast;
      const atJoin = f.join ? `; at the other's join ${f.join.freezes} (${f.join.freeze_total_ms} ms), longest ${f.join.longest_freeze_ms} ms` : '';
      console.log(`|  |  | the unshaped viewer (tier ${f.tier}; the other on tier ${f.slow_tier}) | ${f.fps_median} / ${f.fps_min} | ` +
        `${f.freezes} (${f.freeze_total_ms} ms), ${f.longest_freeze_ms} ms${atJoin} |  |  | ${f.target_kbps} kbit/s |  |  |  |  | ${f.picture} |${withSound ? ' |' : ''}`);
    }
  }
}
if (jsonFile) writeFileSync(jsonFile, JSON.stringify({ bench: 'link', content, date: new Date().toISOString(), results }, null, 1));
