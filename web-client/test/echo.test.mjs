// The frame echo against the golden vectors the host's tests check too
// (test/golden/echo-v2.json), and the matching of presses to presented frames.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseFrameEcho, InputToPhoton, seqAtOrAfter } from '../src/echo.js';

const golden = JSON.parse(readFileSync(new URL('./golden/echo-v2.json', import.meta.url)));
/** The bytes of a hex string, as the ArrayBuffer a data channel delivers. */
const buffer = (hex) => new Uint8Array(Buffer.from(hex, 'hex')).buffer;

test('every golden frame echo parses to its fields', () => {
  assert.equal(golden.version, 2);
  assert.ok(golden.vectors.length >= 2);
  for (const v of golden.vectors) {
    const e = v.echo;
    assert.deepEqual(parseFrameEcho(buffer(v.hex)), {
      rtpTimestamp: e.rtpTimestamp, inputSeq: e.inputSeq, hostMs: e.hostUs / 1000, captureUnixMs: e.captureUnixMs,
      sinceSeq: e.sinceSeq,
    }, v.name);
  }
});

test('every malformed golden frame echo is refused', () => {
  assert.ok(golden.malformed.length >= 2);
  for (const m of golden.malformed) assert.equal(parseFrameEcho(buffer(m.hex)), null, m.name);
  assert.equal(parseFrameEcho('text'), null, 'a string message');
});

test('a press is timed to the first presented frame whose echo covers it', () => {
  const samples = [];
  const t = new InputToPhoton((ms) => samples.push(ms));
  t.press(10, 1000);
  t.echo({ rtpTimestamp: 1, inputSeq: 9, sinceSeq: null });
  t.echo({ rtpTimestamp: 2, inputSeq: 12, sinceSeq: 9 });
  t.presented(1, 1010); // captured before packet 10 was injected
  assert.deepEqual(samples, []);
  t.press(13, 1020);
  t.presented(2, 1030);
  assert.deepEqual(samples, [30]);
  t.echo({ rtpTimestamp: 3, inputSeq: 13, sinceSeq: 12 });
  t.presented(3, 1045);
  assert.deepEqual(samples, [30, 25]);
  t.presented(3, 1050); // the same frame again: nothing new
  assert.deepEqual(samples, [30, 25]);
});

test('a press an earlier frame showed first is not timed by a later echo', () => {
  const samples = [];
  const t = new InputToPhoton((ms) => samples.push(ms));
  t.press(10, 1000);
  // The frame that first showed packet 10 had no echo (a narrow link spaces runs); this
  // frame first shows 12, after frames that had shown 10.
  t.echo({ rtpTimestamp: 5, inputSeq: 12, sinceSeq: 10 });
  t.press(12, 1100);
  t.presented(5, 1160);
  assert.deepEqual(samples, [60]);
  // The same run's next frame (its first echo lost) still times a press it first showed.
  t.press(14, 1200);
  t.echo({ rtpTimestamp: 6, inputSeq: 14, sinceSeq: 12 });
  t.echo({ rtpTimestamp: 7, inputSeq: 14, sinceSeq: 12 });
  t.presented(7, 1240);
  assert.deepEqual(samples, [60, 40]);
});

test('forgotten presses are not timed; later ones are', () => {
  const samples = [];
  const t = new InputToPhoton((ms) => samples.push(ms));
  t.press(1, 1000);
  t.press(2, 1001);
  t.forget();
  t.press(3, 1010);
  t.echo({ rtpTimestamp: 7, inputSeq: 3, sinceSeq: null });
  t.presented(7, 1040);
  assert.deepEqual(samples, [30]);
});

test('sequence numbers wrap', () => {
  assert.ok(seqAtOrAfter(2, 0xfffffffe));
  assert.ok(!seqAtOrAfter(0xfffffffe, 2));
  assert.ok(seqAtOrAfter(5, 5));
});

test('the overlay\'s window drops the samples taken from a moment on', async () => {
  const { Window } = await import('../src/overlay.js');
  const w = new Window(5000);
  for (const [at, v] of [[1000, 10], [1100, 20], [1200, 30]]) w.add(v, at);
  assert.equal(w.dropSince(1100), 2);
  assert.deepEqual(w.samples, [[1000, 10]]);
});
