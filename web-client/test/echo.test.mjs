// The frame echo as the host writes it (same bytes as the Rust test in host/src/rtc.rs) and
// the matching of presses to presented frames.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFrameEcho, InputToPhoton, seqAtOrAfter } from '../src/echo.js';

const bytes = (a) => new Uint8Array(a).buffer;

test('the frame echo parses as the host writes it', () => {
  const m = bytes([1, 4, 3, 2, 1, 1, 0x0d, 0x0c, 0x0b, 0x0a, 0xe1, 0x10, 0, 0, 0xef, 0xbe, 0xad, 0xde]);
  assert.deepEqual(parseFrameEcho(m), {
    rtpTimestamp: 0x01020304, inputSeq: 0x0a0b0c0d, hostMs: 4.321, captureUnixMs: 0xdeadbeef,
  });
  const none = bytes([1, 7, 0, 0, 0, 0, 9, 9, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(parseFrameEcho(none).inputSeq, null);
  assert.equal(parseFrameEcho(bytes([1, 2, 3])), null);
  assert.equal(parseFrameEcho(bytes(new Array(18).fill(0).map((_, i) => (i === 0 ? 9 : 0)))), null);
  assert.equal(parseFrameEcho('text'), null);
});

test('a press is timed to the first presented frame whose echo covers it', () => {
  const samples = [];
  const t = new InputToPhoton((ms) => samples.push(ms));
  t.press(10, 1000);
  t.echo({ rtpTimestamp: 1, inputSeq: 9 });
  t.echo({ rtpTimestamp: 2, inputSeq: 12 });
  t.presented(1, 1010); // captured before packet 10 was injected
  assert.deepEqual(samples, []);
  t.press(13, 1020);
  t.presented(2, 1030);
  assert.deepEqual(samples, [30]);
  t.echo({ rtpTimestamp: 3, inputSeq: 13 });
  t.presented(3, 1045);
  assert.deepEqual(samples, [30, 25]);
  t.presented(3, 1050); // the same frame again: nothing new
  assert.deepEqual(samples, [30, 25]);
});

test('sequence numbers wrap', () => {
  assert.ok(seqAtOrAfter(2, 0xfffffffe));
  assert.ok(!seqAtOrAfter(0xfffffffe, 2));
  assert.ok(seqAtOrAfter(5, 5));
});
