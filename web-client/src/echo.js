// Input-to-photon, live: the host tells the page, for the frames it sends after new input, the
// newest input packet of this page it had injected before capturing the frame, and what the
// frames before that input showed had shown (the frame echo on the `control` channel,
// host/docs/input-protocol.md). When the first frame whose echo covers a press is presented,
// the press has reached the screen; a press an earlier frame showed first is not timed.

export const MSG_FRAME_ECHO = 1;

/** Parses one control-channel message; null if it is not a well-formed frame echo (22 bytes). */
export function parseFrameEcho(buffer) {
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength !== 22) return null;
  const v = new DataView(buffer);
  if (v.getUint8(0) !== MSG_FRAME_ECHO) return null;
  return {
    rtpTimestamp: v.getUint32(1, true),
    inputSeq: v.getUint8(5) & 1 ? v.getUint32(6, true) : null,
    hostMs: v.getUint32(10, true) / 1000,
    captureUnixMs: v.getUint32(14, true),
    sinceSeq: v.getUint8(5) & 2 ? v.getUint32(18, true) : null,
  };
}

/** True if sequence number a is at or after b (32-bit wrap-around). */
export function seqAtOrAfter(a, b) {
  return ((a - b) >>> 0) < 0x80000000;
}

const KEEP_ECHOES = 512;
const KEEP_PRESSES = 64;

/** Matches presented frames to the presses they are the first to show. */
export class InputToPhoton {
  constructor(onSample) {
    this.onSample = onSample;
    this.echoes = new Map(); // rtpTimestamp -> echo
    this.presses = []; // [{seq, at}] oldest first, not yet on screen
  }

  /** A press (key or button down) first went out in packet `seq` at `at` (performance.now()). */
  press(seq, at) {
    this.presses.push({ seq, at });
    if (this.presses.length > KEEP_PRESSES) this.presses.shift();
  }

  /** Presses not yet on screen are timed no more (a new connection, or keys that were not
   * the user's input to the picture, as the stats shortcut's Ctrl, Alt and Shift). */
  forget() {
    this.presses = [];
  }

  echo(e) {
    this.echoes.set(e.rtpTimestamp, e);
    if (this.echoes.size > KEEP_ECHOES) this.echoes.delete(this.echoes.keys().next().value);
  }

  /** A frame was presented at `at` (same clock as press times). Returns its echo, if known. */
  presented(rtpTimestamp, at) {
    const e = this.echoes.get(rtpTimestamp);
    if (!e || e.inputSeq === null) return e || null;
    while (this.presses.length && seqAtOrAfter(e.inputSeq, this.presses[0].seq)) {
      const p = this.presses.shift();
      // Shown first by an earlier frame, whose echo never came (runs of echoes are spaced on
      // a narrow link): this frame is not its photon.
      if (e.sinceSeq !== null && seqAtOrAfter(e.sinceSeq, p.seq)) continue;
      this.onSample(at - p.at, p);
    }
    return e;
  }
}
