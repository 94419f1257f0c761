// The page's own audio playout (AudioWorklet): decoded 10 ms Opus frames from the `audio`
// data channel go into a small queue that the audio device drains 128 frames at a time.
//
// The queue is primed to one packet plus a jitter margin before it plays. When it runs dry
// (a late packet, a device that pulls in bursts) it plays silence, re-primes and widens the
// margin by 2.5 ms; after 10 s without running dry the margin narrows by 1 ms again, down to
// 2.5 ms. Audio never drifts behind: when the queue's low point over a second stays more than
// 2 ms above the margin (the host's clock runs faster than the device's, or a burst arrived),
// that excess is dropped from its oldest samples; a queue past its prime level + 20 ms is cut
// back at once.
//
// Messages in (from the decoding worker): {l, r} (Float32Array planes), {silence: frames},
// {reset: true}, {packet: frames} (how many frames one message brings: 960 while the host
// sends two 10 ms frames a message on a narrow link; the queue then primes for two).
// Messages out (every 250 ms): {buffered, margin, underruns, dropped, low, at}: frames at
// 48 kHz (`low` is the queue's low point over the last second) and the report's context time.

const PACKET = 480;
const MARGIN_MIN = 120;
const MARGIN_MAX = 2880;
const MARGIN_STEP_UP = 120;
const MARGIN_STEP_DOWN = 48;
const CALM_FOR = 10; // seconds without an underrun before the margin narrows
const EXCESS = 960;
const REPORT_EVERY = 0.25;
const LOW_WINDOW = 1; // seconds
const LOW_SLACK = 96; // frames above the margin tolerated at the low point

class Playout extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = []; // {l, r, off}
    this.buffered = 0;
    this.margin = 240;
    this.packet = PACKET;
    this.primed = false;
    this.underruns = 0;
    this.dropped = 0;
    this.calmSince = 0;
    this.lastReport = 0;
    this.low = Infinity;
    this.lastLow = null;
    this.lowSince = 0;
    // Samples come from the decoding worker on a port of their own; the node's port carries
    // that port, then reports.
    this.port.onmessage = (ev) => {
      if (ev.data.port) ev.data.port.onmessage = (e) => this.receive(e.data);
      else this.receive(ev.data);
    };
  }

  receive(m) {
    if (m.packet) {
      this.packet = Math.max(PACKET, Math.min(m.packet, 4 * PACKET));
      return;
    }
    if (m.reset) {
      this.queue = [];
      this.buffered = 0;
      this.primed = false;
      return;
    }
    if (m.silence) {
      const z = new Float32Array(Math.min(m.silence, 48000));
      this.queue.push({ l: z, r: z, off: 0 });
      this.buffered += z.length;
    } else {
      this.queue.push({ l: m.l, r: m.r || m.l, off: 0 });
      this.buffered += m.l.length;
    }
    const cap = this.packet + this.margin + EXCESS;
    if (this.buffered > cap) this.skip(this.buffered - (this.packet + this.margin));
  }

  skip(frames) {
    this.dropped += frames;
    this.buffered -= frames;
    while (frames > 0 && this.queue.length) {
      const c = this.queue[0];
      const n = Math.min(frames, c.l.length - c.off);
      c.off += n;
      frames -= n;
      if (c.off >= c.l.length) this.queue.shift();
    }
  }

  process(inputs, outputs) {
    const out = outputs[0];
    const left = out[0];
    const right = out[1] || out[0];
    const n = left.length;
    if (!this.primed && this.buffered >= this.packet + this.margin) {
      this.primed = true;
    }
    let i = 0;
    if (this.primed) {
      while (i < n && this.queue.length) {
        const c = this.queue[0];
        const k = Math.min(n - i, c.l.length - c.off);
        left.set(c.l.subarray(c.off, c.off + k), i);
        if (right !== left) right.set(c.r.subarray(c.off, c.off + k), i);
        c.off += k;
        i += k;
        this.buffered -= k;
        if (c.off >= c.l.length) this.queue.shift();
      }
      if (i < n) {
        // Ran dry: silence for the rest, wait for a full prime, and keep a wider margin.
        this.primed = false;
        this.underruns += 1;
        this.margin = Math.min(MARGIN_MAX, this.margin + MARGIN_STEP_UP);
        this.calmSince = currentTime;
      }
    }
    left.fill(0, i);
    if (right !== left) right.fill(0, i);
    if (this.primed) this.low = Math.min(this.low, this.buffered);
    if (currentTime - this.lowSince >= LOW_WINDOW) {
      if (this.primed && this.low !== Infinity && this.low > this.margin + LOW_SLACK) {
        this.skip(this.low - this.margin);
      }
      this.lastLow = this.low;
      this.low = Infinity;
      this.lowSince = currentTime;
    }
    if (currentTime - this.calmSince > CALM_FOR) {
      this.margin = Math.max(MARGIN_MIN, this.margin - MARGIN_STEP_DOWN);
      this.calmSince = currentTime;
    }
    if (currentTime - this.lastReport > REPORT_EVERY) {
      this.lastReport = currentTime;
      this.port.postMessage({
        buffered: this.buffered,
        margin: this.margin,
        underruns: this.underruns,
        dropped: this.dropped,
        low: this.lastLow,
        at: currentTime,
      });
    }
    return true;
  }
}

registerProcessor('glint-playout', Playout);
