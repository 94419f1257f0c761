// Sound the page plays itself: the host sends each 10 ms Opus packet on the `audio` data
// channel (unordered, never resent); a worker decodes it with WebCodecs (audio-worker.js) and
// an AudioWorklet plays it from a queue a few ms deep (playout-worklet.js), in an
// AudioContext with the smallest output buffer. This skips the browser's WebRTC jitter buffer
// and playout path (~60 ms in headless Chromium), which are built for calls, not for games.
// Browsers without AudioDecoder or AudioWorklet (or pages not in a secure context) get the
// Opus track instead.

export const AUDIO_PACKET_VERSION = 1;
const HEADER = 15;
/** Sample rate of the sound, and the frames in one packet (10 ms). */
export const RATE = 48000;
export const PACKET_FRAMES = 480;
// The smallest output buffer the browser allows ('interactive' is ~4× larger in Chromium:
// 10 + 32 ms of base and output latency against 2.7 + 8 on the same machine).
const LATENCY_HINT = 0;

/**
 * An `audio` channel packet (little-endian): version, 48 kHz timestamp of its first sample,
 * capture wall-clock time (Unix µs), the length of the previous packet's Opus and that Opus
 * (`timestamp − 480`; empty when none), then this packet's Opus. Returns null for anything
 * else.
 */
export function parseAudioPacket(buf) {
  if (!(buf instanceof ArrayBuffer) || buf.byteLength <= HEADER) return null;
  const v = new DataView(buf);
  if (v.getUint8(0) !== AUDIO_PACKET_VERSION) return null;
  const prev = v.getUint16(13, true);
  if (HEADER + prev >= buf.byteLength) return null;
  return {
    timestamp: v.getUint32(1, true),
    captureUnixMs: Number(v.getBigUint64(5, true)) / 1000,
    previous: prev ? new Uint8Array(buf, HEADER, prev) : null,
    opus: new Uint8Array(buf, HEADER + prev),
  };
}

/** Frames of silence to insert before a packet, or -1 to drop it (late or repeated). */
export function gapBefore(expected, timestamp) {
  if (expected === null) return 0;
  const d = (timestamp - expected) | 0; // wraps at 2^32
  if (d < 0) return -1;
  return d > RATE ? 0 : d; // over a second: the host restarted its clock, start afresh
}

export function channelAudioSupported() {
  return typeof AudioDecoder === 'function' && typeof AudioWorkletNode === 'function'
    && typeof EncodedAudioChunk === 'function';
}

export class ChannelAudio {
  /** `onSound` is called once, when the first packet arrives. */
  constructor(onSound) {
    this.context = new AudioContext({ latencyHint: LATENCY_HINT, sampleRate: RATE });
    this.gain = this.context.createGain();
    this.gain.connect(this.context.destination);
    this.gain.gain.value = 0;
    this.isMuted = true;
    this.volume = 1;
    this.node = null;
    this.stats = { packets: 0, late: 0, gaps: 0, decodeErrors: 0, buffered: 0, margin: 0, underruns: 0, dropped: 0 };
    this.worker = new Worker(new URL('./audio-worker.js', import.meta.url), { type: 'module' });
    this.worker.onmessage = (ev) => {
      if (ev.data.first) onSound();
      if (ev.data.stats) Object.assign(this.stats, ev.data.stats);
    };
    this.ready = this.context.audioWorklet.addModule(new URL('./playout-worklet.js', import.meta.url))
      .then(() => {
        this.node = new AudioWorkletNode(this.context, 'glint-playout', { outputChannelCount: [2] });
        this.node.connect(this.gain);
        this.node.port.onmessage = (ev) => Object.assign(this.stats, ev.data);
        const { port1, port2 } = new MessageChannel();
        this.node.port.postMessage({ port: port1 }, [port1]);
        this.worker.postMessage({ port: port2 }, [port2]);
      });
  }

  /** Hands a new (not yet open) `audio` channel to the decoding worker. */
  attach(channel) {
    try {
      this.worker.postMessage({ channel }, [channel]);
      this.transferred = true;
    } catch {
      // This browser cannot move a data channel to a worker: forward its packets.
      this.transferred = false;
      channel.binaryType = 'arraybuffer';
      channel.onopen = () => this.worker.postMessage({ reset: true });
      channel.onmessage = (e) => this.worker.postMessage({ packet: e.data }, [e.data]);
    }
  }

  set muted(m) { this.gain.gain.value = m ? 0 : this.volume; this.isMuted = m; }
  get muted() { return this.isMuted; }
  setVolume(v) { this.volume = v; if (!this.muted) this.gain.gain.value = v; }

  /** Starts the output; resolves false when the browser refuses (no user gesture yet). */
  async start() {
    try {
      await this.ready;
    } catch (e) {
      console.warn('glint: the page cannot play sound itself', e);
      return false;
    }
    if (this.context.state === 'running') return true;
    const resumed = this.context.resume().then(() => true, () => false);
    const refused = new Promise((r) => { setTimeout(() => r(false), 500); });
    return (await Promise.race([resumed, refused])) && this.context.state === 'running';
  }
}
