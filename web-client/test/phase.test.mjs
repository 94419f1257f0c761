// The frame lead the playing page reports to the host (host/src/phase.rs moves its capture
// tick by it).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameLead } from '../src/phase.js';

const P = 1000 / 60;

test('the lead is the time to the next compositor frame, 10th percentile per interval', () => {
  const f = new FrameLead();
  f.frame(1000, { receiveTime: 990 });
  assert.equal(f.take(), null, 'no display period known yet: nothing');
  f.setPeriod(P);
  for (let i = 0; i < 5; i += 1) f.frame(1000 + i * P, { receiveTime: 1000 + i * P - 12 });
  assert.equal(f.take(), null, 'too few frames to say');
  for (let i = 0; i < 100; i += 1) f.frame(2000 + i * P, { receiveTime: 2000 + i * P - (i < 10 ? 2 : 9) });
  assert.equal(f.take(), 9, 'the 10 % most hurried frames bound it');
  assert.equal(f.take(), null, 'each interval starts afresh');
});

test('a frame that came in after a compositor frame began counts to the next one', () => {
  const f = new FrameLead();
  f.setPeriod(P);
  // 30 fps on a 60 Hz display: shown a grid line later than the one just before it arrived.
  for (let i = 0; i < 30; i += 1) f.frame(100, { receiveTime: 102 });
  assert.ok(Math.abs(f.take() - (P - 2)) < 1e-9);
  for (let i = 0; i < 30; i += 1) f.frame(100, { receiveTime: 100 - P - 1 }); // a period and 1 ms early
  assert.ok(Math.abs(f.take() - 1) < 1e-9);
});

test('frames without a receive time, or with nonsense, are left out', () => {
  const f = new FrameLead();
  f.setPeriod(P);
  f.setPeriod(500); // not a display period: ignored
  assert.equal(f.period, P);
  for (let i = 0; i < 30; i += 1) {
    f.frame(100, {});
    f.frame(5000, { receiveTime: 100 }); // seconds early: not this frame's phase
  }
  assert.equal(f.take(), null);
});
