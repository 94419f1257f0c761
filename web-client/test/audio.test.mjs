// The `audio` channel packet as the host writes it (same bytes as the Rust test in
// host/src/rtc.rs), the gap rule, and the playout worklet's queue: priming, running dry,
// and never drifting behind.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAudioPacket, gapBefore } from '../src/audio.js';

const bytes = (a) => new Uint8Array(a).buffer;

test('an audio packet parses as the host writes it', () => {
  // version 1, timestamp 0x01020304, capture 1_700_000_000_123_456 µs, Opus 0xfc 0xff 0xfe.
  const us = 1700000000123456n;
  const b = new Uint8Array(16);
  b[0] = 1;
  new DataView(b.buffer).setUint32(1, 0x01020304, true);
  new DataView(b.buffer).setBigUint64(5, us, true);
  b.set([0xfc, 0xff, 0xfe], 13);
  const p = parseAudioPacket(b.buffer);
  assert.equal(p.timestamp, 0x01020304);
  assert.equal(p.captureUnixMs, 1700000000123.456);
  assert.deepEqual([...p.opus], [0xfc, 0xff, 0xfe]);
  assert.equal(parseAudioPacket(bytes([2, ...new Array(14).fill(0)])), null, 'another version');
  assert.equal(parseAudioPacket(bytes(new Array(13).fill(1))), null, 'no Opus bytes');
  assert.equal(parseAudioPacket('text'), null);
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
