// Audio/video sync and audio latency, end to end in headless Chromium.
//
// The test pattern flashes its bottom-left quarter white and its sound beeps (1 kHz) during
// the first 100 ms of every 2 s of wall-clock time: both start at the same capture instant, a
// multiple of 2000 Unix ms. The page records
// - video: the expected display time of the first presented frame showing the flash
//   (requestVideoFrameCallback, pixels read from the video);
// - audio: the output time of the first loud sample of the sound the page receives (an
//   AudioWorklet finds the sample; AudioContext.getOutputTimestamp maps it to the page clock).
//   By default that is the page's own playout of the `audio` data channel (the worklet sits
//   right after it, in its AudioContext); with --audio-path track, the WebRTC audio track
//   through a MediaStreamSource (which itself adds ~20 ms);
// and converts both to Unix time (performance.timeOrigin; same machine, same clock as the
// host). Reported: skew = audio − video per beep, audio capture→playout latency and video
// capture→display latency (onset − the multiple of 2000 ms), p50 and p95.
//
// Usage: node benches/av-sync.mjs [--seconds 40] [--runs 2] [--audio-path channel|track]
//                                 [--play] [--av-sync] [--json FILE] [--short]
//   --play: press a key every 500 ms throughout, as a player would; the host then follows the
//   page's compositor phase (host/src/phase.rs), which makes the picture faster.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { startGlint, startChromium, waitFor } from '../web-client/test/e2e/harness.mjs';

const opt = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const short = process.argv.includes('--short');
const seconds = Number(opt('seconds', short ? 7 : 40));
const runs = Number(opt('runs', short ? 1 : 2));
const jsonOut = opt('json', null);
const lipSync = process.argv.includes('--av-sync'); // run glint with --av-sync
const audioPath = opt('audio-path', 'channel');
const play = process.argv.includes('--play');
if (!['channel', 'track'].includes(audioPath)) throw new Error('--audio-path is channel or track');
const EVERY = 2000;

function pct(values, q) {
  if (!values.length) return null;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.round((v.length - 1) * q))];
}

const WORKLET = `
class Onset extends AudioWorkletProcessor {
  constructor() { super(); this.quietSince = 0; this.loud = false; }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (!ch) return true;
    for (let i = 0; i < ch.length; i += 1) {
      const a = Math.abs(ch[i]);
      const t = currentTime + i / sampleRate;
      if (a > 0.05) {
        if (!this.loud && t - this.quietSince > 0.5) this.port.postMessage(t);
        this.loud = true;
        this.lastLoud = t;
      } else if (this.loud && t - this.lastLoud > 0.2) {
        this.loud = false;
        this.quietSince = t;
      }
    }
    return true;
  }
}
registerProcessor('onset', Onset);
`;

async function run() {
  const glint = await startGlint(['--source', 'testpattern', '--size', '1280x720', '--fps', '60',
    ...(lipSync ? ['--av-sync'] : [])]);
  // The bench's own probe (a blob: worklet) is not Glint's page: let it past the page's CSP.
  const browser = await startChromium({ contextOptions: { bypassCSP: true } });
  const page = browser.page;
  try {
    await page.goto(audioPath === 'track' ? `${glint.url}#audio=track` : glint.url);
    await waitFor('playing', () => page.evaluate(() => window.glint.state === 'playing'), 20000);
    await waitFor('sound', () => page.evaluate(() => window.glint.audio), 10000);
    const path = await page.evaluate(() => window.glint.audioPath);
    if (path !== audioPath) throw new Error(`the page plays sound through the ${path}, not the ${audioPath}`);
    await page.click('#sound-prompt'); // a user's click: sound on
    await waitFor('sound on', () => page.evaluate(() => !window.glint.muted), 5000);
    await page.evaluate(async (code) => {
      window.__av = { video: [], audio: [] };
      // Video: flash onsets.
      const canvas = document.createElement('canvas');
      canvas.width = 1; canvas.height = 1;
      const ctx2d = canvas.getContext('2d', { willReadFrequently: true });
      let white = false;
      const onFrame = (now, meta) => {
        const w = video.videoWidth; const h = video.videoHeight;
        ctx2d.drawImage(video, Math.floor(w / 4), Math.floor(h * 3 / 4), 1, 1, 0, 0, 1, 1);
        const g = ctx2d.getImageData(0, 0, 1, 1).data[1];
        if (g > 192 && !white) window.__av.video.push(performance.timeOrigin + meta.expectedDisplayTime);
        white = g > 192 ? true : g < 64 ? false : white;
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
      // Audio: beep onsets at the output.
      const { context: ac, node: src } = await window.glint.soundTap();
      await ac.audioWorklet.addModule(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })));
      const node = new AudioWorkletNode(ac, 'onset');
      src.connect(node);
      node.connect(ac.destination);
      node.port.onmessage = (ev) => {
        const ts = ac.getOutputTimestamp();
        const perf = ts.performanceTime + (ev.data - ts.contextTime) * 1000;
        window.__av.audio.push(performance.timeOrigin + perf);
      };
    }, WORKLET);
    if (play) {
      await page.click('#video');
      for (let t = Date.now(); Date.now() - t < seconds * 1000;) {
        await page.keyboard.press('KeyC');
        await new Promise((r) => setTimeout(r, 500));
      }
    } else {
      await new Promise((r) => setTimeout(r, seconds * 1000));
    }
    const detail = await page.evaluate(() => window.glint.inboundAudio());
    const playout = await page.evaluate(() => window.glint.audioPlayout());
    if (playout?.totalSamplesCount) {
      playoutPath.push((1000 * playout.totalPlayoutDelay) / playout.totalSamplesCount);
    }
    if (detail?.jitterBufferEmittedCount) {
      jitterBuffer.push((1000 * detail.jitterBufferDelay) / detail.jitterBufferEmittedCount);
    }
    const own = await page.evaluate(() => window.glint.channelAudio && {
      ...window.glint.channelAudio.stats,
      transferred: window.glint.channelAudio.transferred,
      baseLatency: window.glint.channelAudio.context.baseLatency,
      outputLatency: window.glint.channelAudio.context.outputLatency,
    });
    if (own) pagePlayout.push(own);
    return await page.evaluate(() => window.__av);
  } finally {
    await browser.stop();
    await glint.stop();
  }
}

const jitterBuffer = [];
const pagePlayout = [];
const playoutPath = [];
const videoLat = [];
const audioLat = [];
const skew = [];
for (let i = 0; i < runs; i += 1) {
  const { video, audio } = await run();
  const windowOf = (t) => Math.floor(t / EVERY) * EVERY;
  // Onsets come within a second after their window starts.
  const v = new Map(video.map((t) => [windowOf(t), t]));
  for (const t of video) videoLat.push(t - windowOf(t));
  for (const t of audio) {
    const w = windowOf(t);
    audioLat.push(t - w);
    if (v.has(w)) skew.push(t - v.get(w));
  }
}
const report = {
  bench: 'av-sync',
  date: new Date().toISOString(),
  machine: `${os.cpus().length} cores, ${os.cpus()[0]?.model || 'unknown cpu'}`,
  seconds,
  runs,
  av_sync: lipSync,
  audio_path: audioPath,
  play,
  beeps_matched: skew.length,
  skew_ms: { p50: pct(skew, 0.5), p95_abs: pct(skew.map(Math.abs), 0.95), min: pct(skew, 0), max: pct(skew, 1) },
  audio_capture_to_playout_ms: { p50: pct(audioLat, 0.5), p95: pct(audioLat, 0.95) },
  video_capture_to_display_ms: { p50: pct(videoLat, 0.5), p95: pct(videoLat, 0.95) },
  // Mean time audio samples spent in the browser's jitter buffer (NetEq), per run.
  audio_jitter_buffer_ms: jitterBuffer,
  // Mean delay of the browser's audio playout path (media-playout stats), per run.
  audio_playout_path_ms: playoutPath,
  // The page's own playout (audio path "channel"), at the end of each run: queue depth and
  // jitter margin (frames at 48 kHz), underruns, dropped frames, the AudioContext's latencies.
  page_playout: pagePlayout,
};
console.log(JSON.stringify(report));
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(report)}\n`);
const f = (x) => (x === null ? '—' : x.toFixed(1));
console.log(`\n${runs} runs × ${seconds} s, ${skew.length} beeps matched to flashes (test pattern 720p60, Opus 10 ms, audio over the ${audioPath}, ${play ? 'playing' : 'watching'}, glint ${lipSync ? '--av-sync' : 'without --av-sync'})`);
console.log(`skew audio − video   p50 ${f(report.skew_ms.p50)} ms   p95 |skew| ${f(report.skew_ms.p95_abs)} ms   range ${f(report.skew_ms.min)} … ${f(report.skew_ms.max)}`);
console.log(`audio capture→playout p50 ${f(report.audio_capture_to_playout_ms.p50)} ms   p95 ${f(report.audio_capture_to_playout_ms.p95)} ms`);
for (const p of pagePlayout) {
  console.log(`page playout: queue ${(p.buffered / 48).toFixed(1)} ms, margin ${(p.margin / 48).toFixed(1)} ms, ${p.underruns} underruns, ${p.dropped} frames dropped, ${p.packets} packets (${p.late} late, ${p.gaps} gaps), context base ${(1000 * p.baseLatency).toFixed(1)} ms + output ${(1000 * p.outputLatency).toFixed(1)} ms; capture→page p50 ${p.transit.p50.toFixed(1)} p95 ${p.transit.p95.toFixed(1)} max ${p.transit.max.toFixed(1)} ms`);
}
console.log(`audio jitter buffer (NetEq) mean per run: ${jitterBuffer.map((x) => x.toFixed(1)).join(', ')} ms`);
console.log(`audio playout path (device) mean per run: ${playoutPath.map((x) => x.toFixed(1)).join(', ')} ms`);
console.log(`video capture→display p50 ${f(report.video_capture_to_display_ms.p50)} ms   p95 ${f(report.video_capture_to_display_ms.p95)} ms`);
