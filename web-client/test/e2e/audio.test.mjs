// Sound end to end: glint's virtual display gets a private PulseAudio with a null sink; a tone
// played into it (pacat) reaches the page at its frequency, silence stays silence, the page
// asks for a click before playing sound and remembers it. A missing device is a warning only; a
// stream the sound server dropped (glint stopped for 15 s) is reopened and glint plays on.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGlint, startChromium, waitFor, playTone } from './harness.mjs';

let glint;
let browser;
const TONE_HZ = 880;

before(async () => {
  glint = await startGlint(['--fps', '30']);
  browser = await startChromium();
});

after(async () => {
  await browser?.stop();
  await glint?.stop();
});

const evaluate = (fn, arg) => browser.page.evaluate(fn, arg);

/** Loudest frequency of the sound the page receives, over half a second, and its level. */
const spectrumPeak = () => evaluate(async () => {
  if (!window.__analyser) {
    const { context, node } = await window.glint.soundTap();
    window.__analyser = context.createAnalyser();
    window.__analyser.fftSize = 8192;
    window.__analyser.smoothingTimeConstant = 0; // each read is this moment, not a decay
    node.connect(window.__analyser);
    window.__rate = context.sampleRate;
  }
  await new Promise((r) => setTimeout(r, 500));
  const a = window.__analyser;
  const bins = new Float32Array(a.frequencyBinCount);
  a.getFloatFrequencyData(bins);
  let best = 1;
  for (let i = 1; i < bins.length; i += 1) if (bins[i] > bins[best]) best = i;
  return { hz: (best * window.__rate) / a.fftSize, db: bins[best] };
});

test('the page asks for a click before sound, and remembers the choice for the session', async () => {
  assert.match(glint.stdout(), /sound: the virtual display's own sink \(glint\) monitor/);
  assert.ok(glint.pulseServer, 'glint printed no PULSE_SERVER for its virtual display');
  const page = browser.page;
  await page.goto(glint.url);
  await waitFor('the stream to play', () => evaluate(() => window.glint.state === 'playing'), 20000);
  await waitFor('an audio track', () => evaluate(() => window.glint.audio));
  assert.equal(await evaluate(() => window.glint.muted), true);
  assert.equal(await page.isVisible('#sound-prompt'), true);
  await page.click('#sound-prompt');
  await waitFor('sound on', () => evaluate(() => !window.glint.muted));
  assert.equal(await page.isVisible('#sound-prompt'), false);
  assert.equal(await page.textContent('#sound'), 'Sound on');
  await page.reload();
  await waitFor('the stream to play again', () => evaluate(() => window.glint.state === 'playing'), 20000);
  await waitFor('sound on again without a click', () => evaluate(() => window.glint.audio && !window.glint.muted));
  // By default the page plays the sound itself (WebCodecs + AudioWorklet), not the track.
  assert.equal(await evaluate(() => window.glint.audioPath), 'channel');
  // The volume control acts on what plays.
  await page.fill('#volume', '0.3');
  assert.equal(await evaluate(() => window.glint.volume()), 0.3);
});

test('a tone played on the host arrives at its frequency; nothing playing is silence', async () => {
  const quiet = await spectrumPeak();
  assert.ok(quiet.db < -90, `silence peaks at ${quiet.db} dB (${quiet.hz} Hz)`);
  const tone = playTone(glint.pulseServer, TONE_HZ, 20);
  try {
    const got = await waitFor(`a ${TONE_HZ} Hz peak`, async () => {
      const p = await spectrumPeak();
      return p.db > -60 && Math.abs(p.hz - TONE_HZ) < 12 && p;
    }, 10000, 10);
    console.log(`received peak ${got.hz.toFixed(1)} Hz at ${got.db.toFixed(1)} dB`);
  } finally {
    tone.kill();
  }
  let last;
  await waitFor('silence again', async () => { last = await spectrumPeak(); return last.db < -90; }, 10000, 10)
    .catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(last)}`); });
  const stats = await (await fetch(glint.url.replace(/\/(#.*)?$/, '') + '/api/stats')).json();
  assert.ok(stats.counters.audio_frames_encoded > 100, JSON.stringify(stats.counters));
  assert.ok(stats.peers[0].audio_frames_sent > 10, JSON.stringify(stats.peers[0]));
  assert.equal(stats.peers[0].audio_path, 'channel');
});

test('with #audio=track the browser\'s own WebRTC audio track carries the tone', async () => {
  const page = browser.page;
  // From another page: a fragment alone would start this page again by itself.
  await page.goto('about:blank');
  await page.goto(`${glint.url}#audio=track`);
  await waitFor('the stream to play', () => evaluate(() => window.glint.state === 'playing'), 20000);
  await waitFor('an audio track', () => evaluate(() => window.glint.audio));
  assert.equal(await evaluate(() => window.glint.audioPath), 'track');
  const tone = playTone(glint.pulseServer, TONE_HZ, 20);
  try {
    await waitFor(`a ${TONE_HZ} Hz peak on the track`, async () => {
      const p = await spectrumPeak();
      return p.db > -60 && Math.abs(p.hz - TONE_HZ) < 12 && p;
    }, 10000, 10);
  } finally {
    tone.kill();
  }
  // The host says it sends this page's sound on the track (peers are published once a
  // second, and the page from before the reload may linger until it times out).
  let peers;
  await waitFor('a peer on the track path in /api/stats', async () => {
    peers = (await (await fetch(glint.url.replace(/\/(#.*)?$/, '') + '/api/stats')).json()).peers;
    return peers.some((p) => p.connected && p.audio_path === 'track');
  }, 5000, 100).catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(peers)}`); });
});

test('no such audio device: a warning, and the video plays without sound', async () => {
  const g = await startGlint(['--fps', '30', '--audio', 'no-such-device']);
  const b = await startChromium();
  try {
    assert.match(g.stdout(), /sound: none \(no audio device "no-such-device"\)/);
    await b.page.goto(g.url);
    await waitFor('the stream to play', () => b.page.evaluate(() => window.glint.state === 'playing'), 20000);
    assert.equal(await b.page.evaluate(() => window.glint.audio), false);
    assert.equal(await b.page.isVisible('#sound-prompt'), false);
  } finally {
    await b.stop();
    await g.stop();
  }
});

test('a host stopped for 15 s, whose sound server dropped its stream, reopens it and plays on', async () => {
  const g = await startGlint(['--fps', '30']);
  const statsUrl = g.url.replace(/\/(#.*)?$/, '') + '/api/stats';
  const counters = async () => (await (await fetch(statsUrl)).json()).counters;
  let stopped = false;
  let b;
  try {
    // Glint's PulseAudio drops a client that has read nothing for some seconds (a suspended
    // terminal job, a long stall): the capture loses its stream. Before, that ended glint.
    process.kill(g.child.pid, 'SIGSTOP');
    stopped = true;
    await new Promise((r) => setTimeout(r, 15000));
    process.kill(g.child.pid, 'SIGCONT');
    stopped = false;
    let last;
    await waitFor('the capture to reopen its stream', async () => {
      last = await counters();
      return last.audio_stream_reopens >= 1;
    }, 15000, 200).catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(last)}\n${g.logs().slice(-1500)}`); });
    assert.equal(g.child.exitCode, null, `glint ended: ${g.logs().slice(-1500)}`);
    // A page plays, and a tone played now is encoded for it.
    b = await startChromium();
    await b.page.goto(g.url);
    await waitFor('the stream to play', () => b.page.evaluate(() => window.glint.state === 'playing'), 20000);
    const before = (await counters()).audio_frames_encoded;
    const tone = playTone(g.pulseServer, TONE_HZ, 10);
    try {
      await waitFor('Opus frames of the tone', async () => (await counters()).audio_frames_encoded > before + 100, 10000, 200);
    } finally {
      tone.kill();
    }
  } finally {
    if (stopped) process.kill(g.child.pid, 'SIGCONT');
    await b?.stop();
    await g.stop();
  }
});
