// The page's own measure of its link's downstream rate, from how its files came while it loaded
// (W3C Navigation Timing Level 2 and Resource Timing Level 2 entries). Sent with the offer
// (signaling `link_kbps`): a host starts a new viewer's video rate there when it is under the
// usual start, so that a page on a 400 kbit/s link gets a first keyframe its link carries
// instead of one that loses most of its packets in the link's queue.

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
  return Math.round((bytes * 8) / receiving);
}

/** [`loadRateKbps`] of this page's own loading (its document and its files so far). */
export function pageLoadKbps(perf = globalThis.performance) {
  if (!perf?.getEntriesByType) return null;
  return loadRateKbps([...perf.getEntriesByType('navigation'), ...perf.getEntriesByType('resource')]);
}
