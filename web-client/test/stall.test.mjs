import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  StallWatch, STALL_MS, ASK_EVERY_MS, HostSilence, HOST_SILENT_MS, LATE_CHECK_MS, WeakLink, WEAK_WINDOW_MS, WEAK_CLEAR_MS,
  WEAK_FREEZE_MS, WEAK_LOST_PACKETS,
} from '../src/stall.js';

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

/** Feeds `w` a sample every 250 ms from `from` to `to` (ms); returns the times it said weak. */
function weakAt(w, from, to, counters) {
  const said = [];
  for (let t = from; t <= to; t += 250) if (w.sample(t, counters(t))) said.push(t);
  return said;
}

test('a link that loses a tenth of the picture or freezes it is weak until it has been good for 5 s', () => {
  const w = new WeakLink();
  // 600 packets a second with 5 % lost (NACK repairs that): never weak.
  const steady = (t) => ({ packetsReceived: 0.57 * t, packetsLost: 0.03 * t, totalFreezesDuration: 0 });
  assert.deepEqual(weakAt(w, 0, 10000, steady), []);
  // From 10 s half the packets are lost for a second (a link that fell under the picture).
  const fell = (t) => {
    const bad = Math.min(Math.max(t - 10000, 0), 1000);
    return { packetsReceived: 0.57 * t - 0.27 * bad, packetsLost: 0.03 * t + 0.27 * bad, totalFreezesDuration: 0 };
  };
  const said = weakAt(w, 10250, 20000, fell);
  assert.ok(said[0] <= 10500, `said at ${said[0]}: within half a second of the loss`);
  const last = said.at(-1);
  // The window holds the loss until 13 s (14 s counts it out), then 5 s more.
  assert.ok(last >= 10000 + WEAK_WINDOW_MS + WEAK_CLEAR_MS - 1000 && last < 11000 + WEAK_WINDOW_MS + WEAK_CLEAR_MS, `last ${last}`);
  assert.ok(!w.weak(20000));
});

test('a freeze the user notices is weak; a few packets lost at a low rate, or a new connection, are not', () => {
  const frozen = new WeakLink();
  const freeze = (t) => ({ packetsReceived: t / 10, packetsLost: 0, totalFreezesDuration: t >= 4000 ? (WEAK_FREEZE_MS + 50) / 1000 : 0 });
  assert.deepEqual(weakAt(frozen, 0, 3750, freeze), []);
  assert.ok(frozen.sample(4000, freeze(4000)), 'a 350 ms freeze');
  const slow = new WeakLink();
  // 30 packets a second, 5 lost in one burst: a sixth of a second's, but only 5.
  const few = (t) => ({ packetsReceived: 0.03 * t, packetsLost: t >= 2000 ? WEAK_LOST_PACKETS - 15 : 0 });
  assert.deepEqual(weakAt(slow, 0, 6000, few), []);
  // A new connection's counters start at 0: not a negative loss, not weak.
  const fresh = new WeakLink();
  weakAt(fresh, 0, 2000, (t) => ({ packetsReceived: t, packetsLost: 100 + t / 200 }));
  assert.ok(!fresh.sample(2250, { packetsReceived: 10, packetsLost: 0 }));
  fresh.reset();
  assert.ok(!fresh.weak(2250));
  // A page hidden for a minute (no samples) whose picture froze meanwhile: not the link's.
  const hidden = new WeakLink();
  weakAt(hidden, 0, 2000, (t) => ({ packetsReceived: t / 4, packetsLost: 0, totalFreezesDuration: 0 }));
  assert.ok(!hidden.sample(62000, { packetsReceived: 500, packetsLost: 0, totalFreezesDuration: 40 }));
  assert.ok(!hidden.sample(62250, { packetsReceived: 560, packetsLost: 0, totalFreezesDuration: 40 }));
});
