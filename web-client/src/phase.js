// The frame lead: how long before the next compositor frame each video frame arrived. The
// compositor frames fall on a grid of the display's period (requestVideoFrameCallback's `now`
// is on it; the period comes from requestAnimationFrame), so the lead of a frame received at
// `receiveTime` is the time from it to the next grid line, whichever compositor frame then
// showed it (at 30 fps on a 60 Hz display, every other one). The page that plays reports
// the 10th percentile once a second; the host moves its capture tick so frames arrive just in
// time (host/src/phase.rs).

/** Fewer frames than this in a second say nothing about the phase. */
const MIN_FRAMES = 10;

export class FrameLead {
  constructor() {
    this.leads = [];
    this.period = null; // ms, the display's
  }

  /** The display's frame period (ms), e.g. the median of requestAnimationFrame intervals. */
  setPeriod(ms) {
    if (ms > 2 && ms < 100) this.period = ms;
  }

  /** A presented frame: `now` and `meta` as requestVideoFrameCallback gives them. */
  frame(now, meta) {
    if (this.period === null || typeof meta.receiveTime !== 'number') return;
    const ago = now - meta.receiveTime; // negative: came in after this grid line
    if (Math.abs(ago) > 1000) return;
    const p = this.period;
    this.leads.push(((ago % p) + p) % p);
  }

  /** The 10th-percentile lead (ms) since the last call, or null; starts a new interval. */
  take() {
    const l = this.leads.sort((a, b) => a - b);
    this.leads = [];
    if (l.length < MIN_FRAMES) return null;
    return l[Math.floor(l.length * 0.1)];
  }
}

/** Measures the display's frame period from requestAnimationFrame: the median interval. */
export function watchDisplayPeriod(onPeriod) {
  const intervals = [];
  let last = null;
  const tick = (t) => {
    if (last !== null) intervals.push(t - last);
    last = t;
    if (intervals.length >= 60) {
      const sorted = intervals.splice(0).sort((a, b) => a - b);
      onPeriod(sorted[30]);
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}
