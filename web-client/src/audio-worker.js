// The page's sound, off the main thread: receives the `audio` data channel (transferred here,
// or its packets forwarded where the browser cannot transfer a channel), decodes Opus with
// WebCodecs and posts each 10 ms of planar samples to the playout worklet's port. Each packet
// repeats the one before it: a single lost packet is played from its successor; more is
// played as silence. A page busy
// drawing (layout, garbage collection, a stats overlay) then never delays the sound.
//
// In: {channel} (a transferred RTCDataChannel), {packet} (an ArrayBuffer), {port} (the
// worklet's MessagePort), {reset: true}. Out: {first: true} at the first packet, and every
// 500 ms {stats}.
//
// On a narrow link the host sends every other packet only, each with the frame before it
// (two frames a message): those are `paired`, not gaps, and the worklet is told to prime for
// two frames (`{packet: 960}`) until 5 s have gone by without one.
import { parseAudioPacket, gapBefore, RATE, PACKET_FRAMES } from './audio.js';

const TRANSIT_KEEP = 500;

let port = null;
let expected = null;
const transit = [];
const stats = { packets: 0, late: 0, gaps: 0, recovered: 0, paired: 0, decodeErrors: 0 };
const UNPAIR_AFTER_MS = 5000;
let primeFor = PACKET_FRAMES; // the most frames one message brings lately, as told to the worklet
let pairedAt = -Infinity;

/** Tells the worklet how many frames one message brings, when that changes. */
function primeWorklet(frames) {
  if (frames === primeFor || !port) return;
  primeFor = frames;
  port?.postMessage({ packet: frames });
}
// What goes to the worklet, in order: 'frame' for each packet handed to the decoder (its
// samples come back asynchronously), or a number of frames of silence.
let pending = [];

function emitSilences() {
  while (pending.length && pending[0] !== 'frame') port?.postMessage({ silence: pending.shift() });
}

function silence(frames) {
  pending.push(frames);
  emitSilences();
}

function play(data) {
  emitSilences();
  if (pending[0] === 'frame') pending.shift();
  try {
    if (!port) return;
    const n = data.numberOfFrames;
    const l = new Float32Array(n);
    data.copyTo(l, { planeIndex: 0, format: 'f32-planar' });
    let r = l;
    if (data.numberOfChannels > 1) {
      r = new Float32Array(n);
      data.copyTo(r, { planeIndex: 1, format: 'f32-planar' });
    }
    port.postMessage({ l, r }, r === l ? [l.buffer] : [l.buffer, r.buffer]);
  } finally {
    data.close();
    emitSilences();
  }
}

function decode(opus, timestamp) {
  pending.push('frame');
  decoder.decode(new EncodedAudioChunk({
    type: 'key',
    timestamp: Math.round((timestamp * 1e6) / RATE),
    data: opus,
  }));
}

function newDecoder() {
  const d = new AudioDecoder({
    output: play,
    error: (e) => {
      stats.decodeErrors += 1;
      pending = [];
      console.warn('glint: audio decoder', e);
      decoder = newDecoder();
    },
  });
  d.configure({ codec: 'opus', sampleRate: RATE, numberOfChannels: 2 });
  return d;
}
let decoder = newDecoder();

function reset() {
  expected = null;
  pending = [];
  port?.postMessage({ reset: true });
}

function receive(buf) {
  const p = parseAudioPacket(buf);
  if (!p || decoder.state !== 'configured') return;
  stats.packets += 1;
  if (stats.packets === 1) postMessage({ first: true });
  // Capture → arrival here (Unix clocks; exact when host and page share a clock).
  transit.push(performance.timeOrigin + performance.now() - p.captureUnixMs);
  if (transit.length > TRANSIT_KEEP) transit.shift();
  const gap = gapBefore(expected, p.timestamp);
  if (gap < 0) { stats.late += 1; return; }
  if (gap === PACKET_FRAMES && p.previous) {
    // Two frames in one message: the packet before was lost and this one repeats it, or, on
    // a narrow link, the host sent it inside this one.
    stats.paired += 1;
    pairedAt = performance.now();
    primeWorklet(2 * PACKET_FRAMES);
    decode(p.previous, (p.timestamp - PACKET_FRAMES) >>> 0);
  } else if (gap > 0) {
    stats.gaps += 1;
    if (p.previous && gap > PACKET_FRAMES) {
      // More than the packet before was lost: the one just before is played from this one.
      silence(gap - PACKET_FRAMES);
      decode(p.previous, (p.timestamp - PACKET_FRAMES) >>> 0);
      stats.recovered += 1;
    } else {
      silence(gap);
    }
  } else if (performance.now() - pairedAt > UNPAIR_AFTER_MS) {
    primeWorklet(PACKET_FRAMES);
  }
  expected = (p.timestamp + PACKET_FRAMES) >>> 0;
  decode(p.opus, p.timestamp);
}

onmessage = (ev) => {
  const m = ev.data;
  if (m.packet) receive(m.packet);
  else if (m.channel) {
    m.channel.binaryType = 'arraybuffer';
    m.channel.onopen = reset;
    m.channel.onmessage = (e) => receive(e.data);
  } else if (m.port) port = m.port;
  else if (m.reset) reset();
};

setInterval(() => {
  const t = [...transit].sort((a, b) => a - b);
  const at = (q) => (t.length ? t[Math.min(t.length - 1, Math.floor(t.length * q))] : null);
  postMessage({ stats: { ...stats, transit: { p50: at(0.5), p95: at(0.95), max: at(1) } } });
}, 500);
