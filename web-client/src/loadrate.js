// The page's own measure of its link's downstream rate, from how its files came while it loaded
// (W3C Navigation Timing Level 2 and Resource Timing Level 2 entries). Sent with the offer
// (signaling `link_kbps`): a host starts a new viewer's video rate there when it is under the
// usual start, so that a page on a 400 kbit/s link gets a first keyframe its link carries
// instead of one that loses most of its packets in the link's queue.

import { localStore } from './storage.js';

/** Fewer bytes than this (the page's files, compressed, are ~35 KB) say nothing of a rate. */
export const MIN_BYTES = 12000;

/**
 * Receiving must have taken this many round trips or more: a fast link delivers the page's
 * files within TCP's first few windows (slow start, RFC 5681: ~15, 30, 60 KB a round trip), in
 * about as many round trips whatever its rate, so a shorter download measures the round trip,
 * not the link.
 */
export const MIN_ROUND_TRIPS = 5;

/**
 * The downstream rate, kbit/s, the page's downloads show, or null when they show none (files
 * from the cache, too few bytes, or a download too short for its round trip).
 *
 * `entries` are PerformanceResourceTiming-shaped (`transferSize` in bytes; `requestStart`,
 * `responseStart`, `responseEnd` in ms). The bytes on the wire (`transferSize`, headers
 * included) over the time the page was receiving: the union of each file's request plus one
 * round trip to its last byte (parallel downloads share the link). The round trip is the
 * shortest wait from a request to its first byte. (Chromium puts a large file's
 * `responseStart` near its end over a slow link, so the first byte is not taken from it.)
 */
export function loadRateKbps(entries) {
  const fetched = entries.filter((e) => e.transferSize > 0 && e.requestStart > 0
    && e.responseStart >= e.requestStart && e.responseEnd >= e.responseStart);
  if (fetched.length === 0) return null;
  const bytes = fetched.reduce((a, e) => a + e.transferSize, 0);
  const roundTrip = Math.max(1, Math.min(...fetched.map((e) => e.responseStart - e.requestStart)));
  let receiving = 0;
  let until = -Infinity;
  for (const e of [...fetched].sort((a, b) => a.requestStart - b.requestStart)) {
    const from = Math.max(e.requestStart + roundTrip, until);
    if (e.responseEnd > from) receiving += e.responseEnd - from;
    until = Math.max(until, e.responseEnd);
  }
  if (bytes < MIN_BYTES || receiving < MIN_ROUND_TRIPS * roundTrip) return null;
  // At least 1: the host refuses 0 (a page that took minutes over its files).
  return Math.max(1, Math.round((bytes * 8) / receiving));
}

/** The page's own loading (its document and its files so far), as Resource Timing entries. */
function pageEntries(perf) {
  if (!perf?.getEntriesByType) return [];
  return [...perf.getEntriesByType('navigation'), ...perf.getEntriesByType('resource')];
}

/** [`loadRateKbps`] of this page's own loading. */
export function pageLoadKbps(perf = globalThis.performance) {
  return loadRateKbps(pageEntries(perf));
}

/**
 * How long a measure is kept for the next loads of the page (a reload, another tab), whose
 * files come from the browser's cache and measure nothing.
 */
export const KEPT_FOR_MS = 30 * 60 * 1000;
const KEY = 'glint-link-kbps';

/**
 * The page's measure of its link, kbit/s, or null: this load's (kept in `store` for the next
 * loads); when this load took its files from the cache, the last measure if it is under
 * [`KEPT_FOR_MS`] old; when its files came over the link too fast to measure, none (and the
 * kept one is dropped: the link is fast now).
 */
export function linkKbps({ perf = globalThis.performance, store = localStore(), now = Date.now() } = {}) {
  const entries = pageEntries(perf);
  const fresh = loadRateKbps(entries);
  const fetched = entries.reduce((a, e) => a + (e.transferSize > 0 ? e.transferSize : 0), 0);
  // Storage that is full or refused keeps nothing; the measure still goes.
  const keep = (change) => { try { change(); } catch { /* nothing kept */ } };
  if (fresh !== null) {
    keep(() => store?.setItem(KEY, JSON.stringify({ kbps: fresh, at: now })));
    return fresh;
  }
  if (fetched >= MIN_BYTES) {
    keep(() => store?.removeItem(KEY));
    return null;
  }
  try {
    const kept = JSON.parse(store?.getItem(KEY) ?? 'null');
    const age = now - kept?.at;
    if (Number.isInteger(kept?.kbps) && kept.kbps > 0 && age >= 0 && age < KEPT_FOR_MS) return kept.kbps;
  } catch {
    // Refused, or a kept value that is not ours: no kept measure.
  }
  return null;
}
