// The `audio` channel packet against the golden vectors the host's tests check too
// (test/golden/audio-v1.json), the gap rule, and the playout worklet's queue: priming,
// running dry, and never drifting behind.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAudioPacket, gapBefore } from '../src/audio.js';

const golden = JSON.parse(readFileSync(new URL('./golden/audio-v1.json', import.meta.url)));
/** The bytes of a hex string, as the ArrayBuffer a data channel delivers. */
const buffer = (hex) => new Uint8Array(Buffer.from(hex, 'hex')).buffer;

test('every golden audio packet parses to its fields', () => {
  assert.equal(golden.version, 1);
  assert.ok(golden.vectors.length >= 2);
  for (const v of golden.vectors) {
    const p = parseAudioPacket(buffer(v.hex));
    assert.ok(p, v.name);
    assert.equal(p.timestamp, v.packet.timestamp, v.name);
    // A decimal string in the file: beyond JSON's exact integers. The page keeps ms.
    assert.equal(p.captureUnixMs, Number(BigInt(v.packet.captureUnixUs)) / 1000, v.name);
    assert.deepEqual(p.previous && [...p.previous], v.packet.previous, v.name);
    assert.deepEqual([...p.opus], v.packet.opus, v.name);
  }
});

test('every malformed golden audio packet is refused', () => {
  assert.ok(golden.malformed.length >= 4);
  for (const m of golden.malformed) assert.equal(parseAudioPacket(buffer(m.hex)), null, m.name);
  assert.equal(parseAudioPacket('text'), null, 'a string message');
});

/** A packet as the host writes it, for the worker's test below (its layout is pinned above). */
function packet(timestamp, previous, opus, captureUs = 1700000000123456n) {
  const b = new Uint8Array(15 + previous.length + opus.length);
  const v = new DataView(b.buffer);
  b[0] = 1;
  v.setUint32(1, timestamp, true);
  v.setBigUint64(5, captureUs, true);
  v.setUint16(13, previous.length, true);
  b.set(previous, 15);
  b.set(opus, 15 + previous.length);
  return b.buffer;
}

test("the worker test's packet writer writes the golden bytes", () => {
  for (const v of golden.vectors) {
    const p = v.packet;
    const bytes = packet(p.timestamp, p.previous || [], p.opus, BigInt(p.captureUnixUs));
    assert.equal(Buffer.from(bytes).toString('hex'), v.hex, v.name);
  }
});

test('the decoding worker plays a lost packet from its successor, in order', async () => {
  // Stand-ins for WebCodecs and the worker scope: a "decoded" packet is 480 frames holding
  // its first Opus byte, delivered later, as a real decoder does.
  const toWorklet = [];
  globalThis.EncodedAudioChunk = class { constructor(init) { Object.assign(this, init); } };
  globalThis.AudioDecoder = class {
    constructor({ output }) { this.output = output; this.state = 'unconfigured'; }
    configure() { this.state = 'configured'; }
    decode(chunk) {
      const mark = chunk.data[0];
      setTimeout(() => this.output({
        numberOfFrames: 480, numberOfChannels: 1, copyTo: (d) => d.fill(mark), close() {},
      }), 1);
    }
  };
  globalThis.postMessage = () => {};
  globalThis.onmessage = null; // a worker's global, set by the module
  const interval = globalThis.setInterval;
  globalThis.setInterval = () => 0;
  await import(`../src/audio-worker.js?${Math.random()}`);
  globalThis.setInterval = interval;
  globalThis.onmessage({ data: { port: { postMessage: (m) => toWorklet.push(m) } } });
  const send = (buf) => globalThis.onmessage({ data: { packet: buf } });
  send(packet(0, [], [10]));
  send(packet(960, [9], [12])); // 480 lost; this one repeats it (as Opus byte 9)
  send(packet(2400, [14], [15])); // 1440 and 1920 lost; only 1920 is repeated
  send(packet(1920, [], [99])); // arrives after its successor: dropped
  await new Promise((r) => { setTimeout(r, 50); });
  const seen = toWorklet.map((m) => {
    if (m.packet) return `prime for ${m.packet}`;
    return m.silence ? `silence ${m.silence}` : `frame ${m.l[0]}`;
  });
  // A message with two frames (as the host sends them on a narrow link) also tells the
  // worklet to prime for two.
  assert.deepEqual(seen, ['prime for 960', 'frame 10', 'frame 9', 'frame 12', 'silence 480', 'frame 14', 'frame 15']);
});

test('a lost packet becomes silence; a late or repeated one is dropped', () => {
  assert.equal(gapBefore(null, 12345), 0, 'the first packet starts the clock');
  assert.equal(gapBefore(960, 960), 0);
  assert.equal(gapBefore(960, 1440), 480, 'one 10 ms packet lost');
  assert.equal(gapBefore(960, 480), -1, 'arrived after its successor');
  assert.equal(gapBefore(0xffffff00, 0x40), 0x140, 'across the 32-bit wrap');
  assert.equal(gapBefore(960, 960 + 10 * 48000), 0, 'a new clock, not a 10 s gap');
});

/** Loads the worklet with a stand-in for the AudioWorklet global scope. */
async function worklet() {
  let Processor;
  const posted = [];
  globalThis.AudioWorkletProcessor = class { constructor() { this.port = { postMessage: (m) => posted.push(m) }; } };
  globalThis.registerProcessor = (_, cls) => { Processor = cls; };
  globalThis.currentTime = 0;
  await import(`../src/playout-worklet.js?${Math.random()}`);
  const p = new Processor();
  const out = [new Float32Array(128), new Float32Array(128)];
  return {
    p,
    posted,
    packet: (v = 0.5) => p.receive({ l: new Float32Array(480).fill(v), r: new Float32Array(480).fill(v) }),
    /** Renders one 128-frame quantum; returns its first left sample. */
    render() {
      p.process([], [out]);
      globalThis.currentTime += 128 / 48000;
      return out[0][0];
    },
  };
}

test('the playout queue primes, plays, runs dry into silence and widens its margin', async () => {
  const w = await worklet();
  w.packet();
  assert.equal(w.render(), 0, 'one packet is not enough to start');
  w.packet();
  assert.equal(w.render(), 0.5, 'a packet plus the margin: playing');
  const margin = w.p.margin;
  while (w.p.buffered > 0) w.render();
  assert.equal(w.render(), 0, 'dry: silence');
  assert.equal(w.p.underruns, 1);
  assert.ok(w.p.margin > margin, 'a wider margin after running dry');
});

test('the playout queue never drifts behind: excess at its low point is dropped', async () => {
  const w = await worklet();
  // The host's clock runs 0.5 % faster than the device's: 5 ms too much every second.
  let delivered = 0;
  let most = 0;
  for (let q = 0; q < (48000 * 10) / 128; q += 1) {
    while (delivered * 480 < q * 128 * 1.005 + 480) { w.packet(); delivered += 1; }
    w.render();
    if (q > 48000 / 128) most = Math.max(most, w.p.buffered);
  }
  assert.ok(w.p.dropped > 0, 'nothing was dropped');
  assert.equal(w.p.underruns, 0);
  // Dropped at the low point each second, long before the queue reached the hard cap (a
  // packet, the margin and 20 ms).
  assert.ok(most < 480 + w.p.margin + 600, `the queue grew to ${most} frames (margin ${w.p.margin})`);
  // A burst far past the prime level is cut back at once.
  for (let i = 0; i < 20; i += 1) w.packet();
  assert.ok(w.p.buffered <= 480 + w.p.margin + 960);
});

test('two frames a message (a narrow link): told so, the queue primes for two and does not run dry', async () => {
  const underruns = async (told) => {
    const w = await worklet();
    if (told) w.p.receive({ packet: 960 });
    let pairs = 0;
    for (let q = 0; q < (48000 * 2) / 128; q += 1) {
      // A message every 20 ms, its two frames decoded back to back.
      while (pairs * 960 <= q * 128) { w.packet(); w.packet(); pairs += 1; }
      w.render();
    }
    return w.p.underruns;
  };
  assert.ok(await underruns(false) > 0, 'primed for one frame, the queue should run dry between messages');
  assert.equal(await underruns(true), 0);
});
