// The page's measure of its link from its own loading (loadrate.js), on timings as Chromium
// recorded them on the link bench (a 400 kbit/s tbf link), and on made-up fast links.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KEPT_FOR_MS, linkKbps, loadRateKbps, pageLoadKbps } from '../src/loadrate.js';

const entry = (transferSize, requestStart, responseStart, responseEnd) => ({ transferSize, requestStart, responseStart, responseEnd });

test('a 400 kbit/s link: the page, its style sheet and its 29 KB bundle measure about that', () => {
  // As recorded: the bundle's responseStart comes near its end, so it is not used.
  const kbps = loadRateKbps([
    entry(2110, 89, 143, 144), entry(2042, 187, 193, 194), entry(29354, 197, 680, 847),
    entry(1501, 996, 996, 979), // a worker's entry with its end before its start: left out
  ]);
  assert.ok(kbps >= 340 && kbps <= 420, `${kbps}`);
});

test('a fast link with a long round trip says nothing: its files come in a few round trips', () => {
  // 100 ms round trips, 35 KB in TCP's first windows.
  assert.equal(loadRateKbps([entry(2110, 0, 100, 101), entry(2042, 150, 250, 251), entry(29354, 252, 352, 560)]), null);
});

test('parallel downloads share the link: their overlap counts once', () => {
  // Two 20 KB files over the same 500 ms: 40 KB in 0.5 s is 640 kbit/s, not 320.
  const kbps = loadRateKbps([entry(20000, 10, 12, 510), entry(20000, 10, 12, 510)]);
  assert.ok(kbps >= 630 && kbps <= 660, `${kbps}`);
});

test('a link that took minutes over the files measures 1 kbit/s, never 0 (which the host refuses)', () => {
  assert.equal(loadRateKbps([entry(12000, 10, 12, 600_000)]), 1);
});

test('files from the cache, or too few bytes, measure nothing', () => {
  assert.equal(loadRateKbps([]), null);
  assert.equal(loadRateKbps([entry(0, 10, 11, 12), entry(0, 20, 21, 22)]), null); // cached
  assert.equal(loadRateKbps([entry(4000, 10, 12, 600)]), null); // 4 KB
});

test('the page reads its navigation and resource entries; a browser without them gives null', () => {
  const perf = {
    getEntriesByType: (type) => (type === 'navigation' ? [entry(2110, 89, 143, 144)] : [entry(29354, 197, 680, 847)]),
  };
  assert.ok(pageLoadKbps(perf) > 300);
  assert.equal(pageLoadKbps({}), null);
  assert.equal(pageLoadKbps(null), null);
});

/** A Storage-shaped map. */
function fakeStore() {
  const m = new Map();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k), m };
}
const perfOf = (entries) => ({ getEntriesByType: (type) => (type === 'navigation' ? entries.slice(0, 1) : entries.slice(1)) });
const slowLoad = perfOf([entry(2110, 89, 143, 144), entry(2042, 187, 193, 194), entry(29354, 197, 680, 847)]);
const cachedLoad = perfOf([entry(300, 50, 52, 53), entry(0, 60, 61, 62)]);
const fastLoad = perfOf([entry(2110, 0, 100, 101), entry(2042, 150, 250, 251), entry(29354, 252, 352, 560)]);

test('a reload from the cache uses the last measure for half an hour; a fast load drops it', () => {
  const store = fakeStore();
  const measured = linkKbps({ perf: slowLoad, store, now: 1000 });
  assert.ok(measured > 300);
  // The reload: its files from the cache, nothing measured; the kept measure goes.
  assert.equal(linkKbps({ perf: cachedLoad, store, now: 1000 + 60_000 }), measured);
  assert.equal(linkKbps({ perf: cachedLoad, store, now: 1000 + KEPT_FOR_MS }), null, 'too old');
  // Files that came over a fast link: no measure, and the kept one is dropped.
  linkKbps({ perf: slowLoad, store, now: 5000 });
  assert.equal(linkKbps({ perf: fastLoad, store, now: 6000 }), null);
  assert.equal(linkKbps({ perf: cachedLoad, store, now: 7000 }), null);
});

test('storage that is refused or holds something else gives no kept measure, and no error', () => {
  const refusing = { getItem() { throw new Error('SecurityError'); }, setItem() { throw new Error('QuotaExceededError'); }, removeItem() {} };
  assert.equal(linkKbps({ perf: cachedLoad, store: refusing, now: 1 }), null);
  assert.ok(linkKbps({ perf: slowLoad, store: refusing, now: 1 }) > 300, 'this load\'s measure still goes');
  assert.equal(linkKbps({ perf: cachedLoad, store: undefined, now: 1 }), null);
  for (const junk of ['{', '{"kbps":"380","at":1}', '{"kbps":-3,"at":1}', '{"kbps":380,"at":99}', '[]']) {
    const store = fakeStore();
    store.setItem('glint-link-kbps', junk);
    assert.equal(linkKbps({ perf: cachedLoad, store, now: 50 }), null, junk);
  }
});
