import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StallWatch, STALL_MS, ASK_EVERY_MS, HostSilence, HOST_SILENT_MS, LATE_CHECK_MS } from '../src/stall.js';

/** Feeds samples every `step` ms from `from` to `to`; returns the times it asked. */
function run(w, from, to, step, at) {
  const asked = [];
  for (let t = from; t <= to; t += step) {
    const [frames, nacks] = at(t);
    if (w.sample(t, frames, nacks)) asked.push(t);
  }
  return asked;
}

test('a decoder stuck after a loss is noticed in about half a second, and asked for at most once a second', () => {
  const w = new StallWatch();
  // Playing: a frame or more every sample, a NACK now and then (recovered).
  assert.deepEqual(run(w, 0, 5000, 250, (t) => [t / 10, Math.floor(t / 2000)]), []);
  // At 5 s a frame is lost for good: no frame decodes, the page NACKs for a while.
  const asked = run(w, 5250, 8000, 250, (t) => [500, 2 + Math.min(10, Math.floor((t - 5000) / 50))]);
  assert.equal(asked[0], 5000 + STALL_MS, 'the first request');
  for (let i = 1; i < asked.length; i += 1) assert.ok(asked[i] - asked[i - 1] >= ASK_EVERY_MS);
  // The keyframe came: frames decode again, nothing asked.
  assert.deepEqual(run(w, 8250, 10000, 250, (t) => [500 + t, 12]), []);
});

test('a still screen (no frames, no NACKs) and a picture that keeps decoding through loss ask nothing', () => {
  const still = new StallWatch();
  assert.deepEqual(run(still, 0, 10000, 250, () => [42, 3]), []);
  const lossy = new StallWatch();
  assert.deepEqual(run(lossy, 0, 10000, 250, (t) => [t / 16, t / 10]), []);
});

test('NACKs sent just before the last frame decoded count: the stall that follows asks', () => {
  const w = new StallWatch();
  run(w, 0, 1000, 250, (t) => [t, 0]);
  // The loss's NACKs reach the stats in the same sample as the last decoded frame.
  assert.equal(w.sample(1250, 2000, 4), false);
  assert.equal(w.sample(1500, 2000, 4), false);
  assert.equal(w.sample(1750, 2000, 4), true);
});

test('a host heard on control and then quiet for 2 s is silent; one never heard, or heard again, is not', () => {
  const s = new HostSilence();
  assert.equal(s.silent(10000), false, 'nothing heard yet on this connection');
  s.heard(1000);
  assert.equal(s.silent(1000 + HOST_SILENT_MS - 1), false);
  assert.equal(s.silent(1000 + HOST_SILENT_MS), true);
  s.heard(3500);
  assert.equal(s.silent(4000), false);
  s.reset();
  assert.equal(s.silent(60000), false, 'a new connection starts unheard');
});

test('a check that comes late (the page itself stood still) does not call the host silent', () => {
  const s = new HostSilence();
  s.heard(0);
  for (let t = 250; t < HOST_SILENT_MS; t += 250) assert.equal(s.check(t), false);
  assert.equal(s.check(HOST_SILENT_MS), true, 'checked on time: silent');
  // Frozen for 12 s: the first check after it hears the host first.
  const u = new HostSilence();
  u.heard(0);
  assert.equal(u.check(250), false);
  const back = 250 + LATE_CHECK_MS + 12000;
  assert.equal(u.check(back), false);
  // Then, checked on time, the host unheard since: silent 2 s later, not before.
  let t = back;
  while (!u.check(t + 250)) t += 250;
  assert.equal(t + 250, back + HOST_SILENT_MS);
});
