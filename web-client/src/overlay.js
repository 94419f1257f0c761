// The stats overlay: what the stream is doing right now, from the browser's WebRTC stats, the
// frames as they are presented, and the host's own timings (/api/stats).

const WINDOW_MS = 5000;

/** Timed samples over the last few seconds, with percentiles. */
export class Window {
  constructor(spanMs = WINDOW_MS) { this.spanMs = spanMs; this.samples = []; }

  add(value, at = performance.now()) {
    this.samples.push([at, value]);
    this.trim(at);
  }

  trim(now = performance.now()) {
    while (this.samples.length && this.samples[0][0] < now - this.spanMs) this.samples.shift();
  }

  /** Drops the samples added at or after `at`; returns how many. */
  dropSince(at) {
    const before = this.samples.length;
    this.samples = this.samples.filter(([t]) => t < at);
    return before - this.samples.length;
  }

  percentile(q) {
    this.trim();
    if (!this.samples.length) return null;
    const v = this.samples.map((s) => s[1]).sort((a, b) => a - b);
    return v[Math.min(v.length - 1, Math.round((v.length - 1) * q))];
  }
}

const fmt = (v, digits = 1) => (v === null || v === undefined || Number.isNaN(v) ? '—' : v.toFixed(digits));
const pair = (w) => `${fmt(w.percentile(0.5))} / ${fmt(w.percentile(0.95))}`;

/** The host's `rung_reason` for a rung a viewer's own Quality cap holds (its `RungReason`). */
const VIEWER_CAP = "the viewer's quality choice";

/**
 * The host's resolution ladder as the overlay shows it, from a peer of `/api/stats`: "full size"
 * on the top rung, else the coded size, the rung and why ("960×540, 1 of 3 steps down: rate too low
 * for the pixels"; this page's own cap as "your Quality choice (up to 500 kbit/s)"); null
 * when the host does not say.
 */
export function ladderRung(peer) {
  if (!peer || peer.rung === undefined || peer.rung === null) return null;
  // The host's --no-ladder: the full size whatever the rate (a smeared picture on a narrow
  // link is why).
  if (peer.rung === 0 && peer.rung_reason?.startsWith('ladder off')) return `full size, ${peer.rung_reason}`;
  if (peer.rung === 0) return 'full size';
  const size = peer.picture ? `${peer.picture[0]}×${peer.picture[1]}, ` : '';
  // This page's own cap, said as the line under the picture says it.
  const why = peer.rung_reason === VIEWER_CAP && peer.max_kbps
    ? `your Quality choice (up to ${Math.round(peer.max_kbps)} kbit/s)` : peer.rung_reason;
  return `${size}${peer.rung} of 3 steps down: ${why}`;
}

/**
 * A cumulative total's mean per unit between two stats samples of one object, in ms: e.g.
 * `jitterBufferDelay` (s) over `jitterBufferEmittedCount` (W3C webrtc-stats, inbound-rtp) is
 * the mean jitter buffer delay of the frames emitted in between. Null without an earlier
 * sample or when no unit passed.
 */
export function msPer(now, before, total, units) {
  if (!before) return null;
  const n = (now[units] ?? 0) - (before[units] ?? 0);
  return n > 0 ? (((now[total] ?? 0) - (before[total] ?? 0)) / n) * 1000 : null;
}

/** The host's figures (`/api/stats`, asked every second) are not shown once this old, ms. */
export const HOST_STALE_MS = 3000;

export class StatsOverlay {
  /**
   * @param {HTMLElement} el where the figures go
   * @param {() => RTCPeerConnection|null} pc the current peer connection
   * @param {string|undefined} password for /api/stats
   * @param {() => object|null} sound the page's own audio playout stats, when it plays sound
   * @param {() => number|null} self this page's peer id (from `welcome`): its own figures in
   *   /api/stats (its quality tier's picture, its target)
   */
  constructor(el, pc, password, sound = () => null, self = () => null) {
    this.el = el;
    this.sound = sound;
    this.self = self;
    this.pc = pc;
    this.password = password;
    this.captureToDisplay = new Window();
    this.inputToPhoton = new Window();
    this.prev = null;
    this.host = null;
    this.figures = {};
    this.timer = null;
    this.hostTimer = null;
  }

  get visible() { return !this.el.hidden; }

  toggle(show = !this.visible) {
    this.el.hidden = !show;
    clearInterval(this.timer);
    clearInterval(this.hostTimer);
    if (show) {
      this.timer = setInterval(() => this.update(), 500);
      this.hostTimer = setInterval(() => this.fetchHost(), 1000);
      this.update();
      this.fetchHost();
    }
  }

  /** Per presented frame, from requestVideoFrameCallback. */
  onFrame(meta) {
    if (meta.captureTime !== undefined && meta.expectedDisplayTime !== undefined) {
      this.captureToDisplay.add(meta.expectedDisplayTime - meta.captureTime);
    }
  }

  async fetchHost() {
    try {
      // The password as a header, never in the URL (which proxies and logs keep).
      const headers = this.password ? { Authorization: `Bearer ${this.password}` } : {};
      const r = await fetch('/api/stats', { headers });
      if (r.ok) {
        this.host = await r.json();
        this.hostAt = performance.now();
        this.hostError = null;
      } else {
        this.hostError = r.status === 429 ? 'this address must wait (password attempts)' : `HTTP ${r.status}`;
      }
    } catch {
      this.hostError = 'the host does not answer';
    }
  }

  async update() {
    const pc = this.pc();
    if (!pc) return;
    const report = await pc.getStats();
    let inbound = null;
    let pairStats = null;
    const codecs = new Map();
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') inbound = s;
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pairStats = s;
      if (s.type === 'codec') codecs.set(s.id, s.mimeType);
    });
    if (!inbound) return;
    const prev = this.prev;
    this.prev = inbound;
    const dt = prev ? (inbound.timestamp - prev.timestamp) / 1000 : 0;
    const rate = (k) => (prev && dt > 0 ? (inbound[k] - prev[k]) / dt : null);
    const lost = prev ? inbound.packetsLost - prev.packetsLost : 0;
    const received = prev ? inbound.packetsReceived - prev.packetsReceived : 0;
    // The host's figures, while fresh: old ones are not shown as if current.
    const host = this.host && performance.now() - (this.hostAt ?? 0) < HOST_STALE_MS ? this.host : null;
    const peers = host?.peers ?? [];
    const peer = peers.find((p) => p.id === this.self()) || peers.find((p) => p.connected) || null;
    this.figures = {
      resolution: inbound.frameWidth ? `${inbound.frameWidth}×${inbound.frameHeight}` : null,
      codec: codecs.get(inbound.codecId)?.replace('video/', '') || null,
      fpsReceived: rate('framesReceived'),
      fpsDecoded: rate('framesDecoded'),
      fpsDropped: rate('framesDropped'),
      bitrateKbps: prev ? (rate('bytesReceived') * 8) / 1000 : null,
      bweKbps: peer?.bwe_kbps ?? (pairStats?.availableIncomingBitrate ? pairStats.availableIncomingBitrate / 1000 : null),
      rttMs: pairStats?.currentRoundTripTime !== undefined ? pairStats.currentRoundTripTime * 1000 : (peer?.rtt_ms ?? null),
      lossPct: prev && lost + received > 0 ? (100 * lost) / (lost + received) : null,
      jitterBufferMs: msPer(inbound, prev, 'jitterBufferDelay', 'jitterBufferEmittedCount'),
      decodeMs: msPer(inbound, prev, 'totalDecodeTime', 'framesDecoded'),
      hostP50: host?.stages_ms?.host?.p50 ?? null,
      hostP95: host?.stages_ms?.host?.p95 ?? null,
      hostMissing: host ? null : this.hostError,
      captureToDisplayP50: this.captureToDisplay.percentile(0.5),
      captureToDisplayP95: this.captureToDisplay.percentile(0.95),
      inputToPhotonP50: this.inputToPhoton.percentile(0.5),
      inputToPhotonP95: this.inputToPhoton.percentile(0.95),
      rung: ladderRung(peer),
      tier: peer?.tier ?? null,
      targetKbps: peer?.target_kbps ?? null,
      sound: this.sound(),
    };
    this.render();
  }

  render() {
    const f = this.figures;
    const rows = [
      ['video', `${f.resolution || '—'} ${f.codec || ''}`],
      ['fps recv / dec / drop', `${fmt(f.fpsReceived, 0)} / ${fmt(f.fpsDecoded, 0)} / ${fmt(f.fpsDropped, 0)}`],
      ['bitrate', `${fmt(f.bitrateKbps / 1000, 2)} Mbit/s`],
      ['bandwidth est.', f.bweKbps === null ? '—' : `${fmt(f.bweKbps / 1000, 2)} Mbit/s`],
      ['encoder target', f.targetKbps === null ? '—' : `${fmt(f.targetKbps / 1000, 2)} Mbit/s`],
      ['picture (rung)', f.rung ?? '—'],
      ['quality tier', f.tier === null ? '—' : (f.tier === 0 ? 'top (0)' : `${f.tier} (0 is the top; up to 3)`)],
      ['rtt', `${fmt(f.rttMs)} ms`],
      ['loss', `${fmt(f.lossPct, 2)} %`],
      ['jitter buffer', `${fmt(f.jitterBufferMs)} ms`],
      ['decode', `${fmt(f.decodeMs)} ms`],
      ['host p50 / p95', `${fmt(f.hostP50)} / ${fmt(f.hostP95)} ms`],
      ['capture→display', `${pair(this.captureToDisplay)} ms`],
      ['input→photon', `${pair(this.inputToPhoton)} ms`],
    ];
    if (f.hostMissing) rows.push(['host figures', `none: ${f.hostMissing}`]);
    if (f.sound) {
      const s = f.sound;
      rows.push(['sound queue / margin', `${fmt(s.buffered / 48)} / ${fmt(s.margin / 48)} ms`]);
      rows.push(['sound underruns / late', `${s.underruns} / ${s.late}`]);
      rows.push(['sound capture→page', `${fmt(s.transit?.p50)} / ${fmt(s.transit?.p95)} ms`]);
    }
    this.el.replaceChildren(...rows.map(([k, v]) => {
      const row = document.createElement('div');
      const key = document.createElement('span');
      key.textContent = k;
      const val = document.createElement('b');
      val.textContent = v;
      row.append(key, val);
      return row;
    }));
  }
}
