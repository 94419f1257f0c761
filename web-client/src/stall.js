// A stuck decoder, noticed by the page: it keeps asking for lost packets (NACKs, RFC 4585
// §6.2.1) but decodes no frame. A frame lost for good (its retransmissions lost too, as when a
// link's queue overflows) leaves every later frame without its reference; Chromium asks for a
// keyframe only after 3 s without a decodable frame, so the page asks the host itself, as a
// Moonlight client asks for an IDR frame after a loss.

/**
 * Nothing heard on `control` for this long (ms) from a host that says it is alive every 500 ms
 * (type 2 on `control`, host/docs/input-protocol.md): it stalled, or the link is gone. The browser's ICE takes 5–10 s more.
 */
export const HOST_SILENT_MS = 2000;

/** A page's check this much later than the one before means the page stood still. */
export const LATE_CHECK_MS = 1000;

/** When the host was last heard on `control`; `silent` once it has been quiet too long. */
export class HostSilence {
  constructor() {
    this.heardAt = null;
    this.checkedAt = null;
  }

  /**
   * The page's periodic check at `now` (ms): whether the host is silent. A check that comes
   * over LATE_CHECK_MS after the one before (the page itself stood still: a frozen tab, a busy
   * main thread, timers held while hidden) counts as hearing the host first: what it sent
   * meanwhile is still queued in the browser.
   */
  check(now) {
    if (this.checkedAt !== null && now - this.checkedAt > LATE_CHECK_MS && this.heardAt !== null) this.heardAt = now;
    this.checkedAt = now;
    return this.silent(now);
  }

  /** Anything came on `control` at `now` (ms). */
  heard(now) { this.heardAt = now; }

  /** A new connection: nothing heard on it yet, so nothing to miss. */
  reset() { this.heardAt = null; }

  /** Whether the host, heard on this connection, has been quiet for HOST_SILENT_MS at `now`. */
  silent(now) { return this.heardAt !== null && now - this.heardAt >= HOST_SILENT_MS; }
}

/** No frame decoded for this long (ms), with NACKs sent meanwhile: stuck. */
export const STALL_MS = 500;
/** At most one keyframe request this often (ms): the host's answer needs a round trip. */
export const ASK_EVERY_MS = 1000;

/**
 * Samples of the inbound video's `framesDecoded` and `nackCount` (getStats), taken every
 * few hundred ms; `sample` says when to ask the host for a keyframe.
 */
export class StallWatch {
  constructor() {
    this.frames = null;
    this.frameAt = 0;
    this.nacksBefore = null;
    this.lastNacks = null;
    this.askedAt = -Infinity;
  }

  /**
   * A sample at `now` (ms): the frames decoded and the NACKs sent so far. True when the
   * decoder has been stuck for STALL_MS with NACKs sent since the sample before its last
   * frame, at most once every ASK_EVERY_MS.
   */
  sample(now, framesDecoded, nackCount) {
    const nacks = nackCount ?? 0;
    if (framesDecoded !== this.frames) {
      this.frames = framesDecoded;
      this.frameAt = now;
      this.nacksBefore = this.lastNacks ?? nacks;
      this.lastNacks = nacks;
      return false;
    }
    this.lastNacks = nacks;
    const stuck = now - this.frameAt >= STALL_MS && nacks > this.nacksBefore;
    if (!stuck || now - this.askedAt < ASK_EVERY_MS) return false;
    this.askedAt = now;
    return true;
  }
}

/** What the page judges its link by: the last this many ms of its inbound video. */
export const WEAK_WINDOW_MS = 3000;
/** A share of the window's video packets lost at least this large is a weak link... */
export const WEAK_LOSS = 0.1;
/** ...when at least this many were lost (a few lost at a low rate are chance). */
export const WEAK_LOST_PACKETS = 20;
/**
 * Or frozen pictures (the browser's `totalFreezesDuration`: a frame shown over three times the
 * usual interval, or 150 ms over it; W3C webrtc-stats) adding up to this many ms in the window:
 * the freeze a user notices (the 2 Mbit/s target of the rate control allows none over 300 ms).
 */
export const WEAK_FREEZE_MS = 300;
/** The warning goes once the link has been good for this long (ms): no flicker on a bad one. */
export const WEAK_CLEAR_MS = 5000;

/**
 * The page's own word on its link, as Moonlight's "poor connection" warning: from samples of
 * the inbound video's `packetsReceived`, `packetsLost` and `totalFreezesDuration` (getStats,
 * W3C webrtc-stats `RTCInboundRtpStreamStats`), whether to tell the user the link is weak.
 * Random loss that NACK repairs (5 % plays at 60 fps) is not weak; a link that loses a tenth
 * of the picture's packets, or freezes it, is, until it has been good for WEAK_CLEAR_MS.
 */
export class WeakLink {
  constructor() {
    this.samples = [];
    this.badAt = null;
  }

  /**
   * A sample at `now` (ms) of the counters so far; returns whether the link is weak. A sample
   * whose counters went back (a new connection's stats), or one over LATE_CHECK_MS after the
   * last (the page was hidden, or stood still), starts the window over.
   */
  sample(now, { packetsReceived = 0, packetsLost = 0, totalFreezesDuration = 0 } = {}) {
    const s = { now, received: packetsReceived, lost: Math.max(0, packetsLost), frozenMs: totalFreezesDuration * 1000 };
    const last = this.samples.at(-1);
    const back = last && (s.received < last.received || s.lost < last.lost || s.frozenMs < last.frozenMs);
    if (back || (last && now - last.now > LATE_CHECK_MS)) this.samples = [];
    this.samples.push(s);
    while (this.samples.length > 1 && now - this.samples[1].now >= WEAK_WINDOW_MS) this.samples.shift();
    const first = this.samples[0];
    const lost = s.lost - first.lost;
    const total = lost + s.received - first.received;
    const lossy = lost >= WEAK_LOST_PACKETS && lost >= total * WEAK_LOSS;
    if (lossy || s.frozenMs - first.frozenMs >= WEAK_FREEZE_MS) this.badAt = now;
    return this.weak(now);
  }

  /** Whether the link was bad within the last WEAK_CLEAR_MS at `now`. */
  weak(now) { return this.badAt !== null && now - this.badAt < WEAK_CLEAR_MS; }

  /** A new connection: its counters start at 0, and the old link's record goes. */
  reset() {
    this.samples = [];
    this.badAt = null;
  }
}
