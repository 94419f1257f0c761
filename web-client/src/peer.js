// The peer connection to the host: one RTCPeerConnection per signaling session, receiving the
// video and the Opus track, with the page's data channels (`input` and `control` unordered
// and never resent, `text` reliable and ordered, `audio` for the page's own sound playout).
// The offer goes out as soon as it exists and the page's ICE candidates follow it one by one as
// the browser gathers them (trickle), so the host answers without waiting for either.
//
// Nothing here touches the DOM; the RTCPeerConnection constructor is an argument.

export const ABS_CAPTURE_TIME = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time';
export const PLAYOUT_DELAY = 'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay';

/**
 * Chromium sends RTCP receiver reference times (and so learns the RTT it needs to turn sender
 * reports into requestVideoFrameCallback's captureTime) only when "rrtr" is negotiated; the
 * host answers them (DLRR) but does not list the feedback type, so add it on both sides.
 */
export function withRrtr(sdp) {
  return sdp.replace(/a=rtcp-fb:(\d+) nack\r\n(?!a=rtcp-fb:\1 rrtr)/g, 'a=rtcp-fb:$1 nack\r\na=rtcp-fb:$1 rrtr\r\n');
}

/**
 * The host's answer as the browser should read it: with RTCP receiver reference times (see
 * withRrtr). The host is a full ICE agent (it used to be ICE-lite, against which Chromium
 * nominates a pair only one weak ping interval, 48 ms, after it proved writable; against a full
 * agent it nominates on its first check), so the answer is taken as it is otherwise.
 */
export function answerSdp(sdp) {
  return withRrtr(sdp);
}

export class PeerConnection {
  /**
   * @param {object} o
   * @param {(msg: object) => void} o.signal sends a signaling message (signaling.js `message`)
   * @param {object} o.message the signaling message builders
   * @param {(ev: RTCTrackEvent) => void} o.onTrack
   * @param {(data: ArrayBuffer) => void} o.onControl a message on the `control` channel
   * @param {(text: string) => void} [o.onClipboard] text the host copied (`clipboard` channel)
   * @param {() => void} o.onConnected the connection is up (after DTLS)
   * @param {(state: string) => void} o.onLost the connection failed or closed
   * @param {(step: string) => void} [o.mark] records a step of the connection's timeline
   * @param {typeof RTCPeerConnection} [o.RTCPeerConnection]
   */
  constructor({
    signal, message, onTrack, onControl, onClipboard = () => {}, onConnected, onLost, mark = () => {},
    RTCPeerConnection = globalThis.RTCPeerConnection, log = console,
  }) {
    Object.assign(this, { signal, message, onTrack, onControl, onClipboard, onConnected, onLost, mark, RTCPeerConnection, log });
    this.pc = null;
    this.channels = {};
  }

  /**
   * Starts a connection: creates it, sends the offer, then trickles candidates. `audio` is a
   * function given the new `audio` data channel (the page plays the sound itself), or null.
   */
  async start({ audio = null } = {}) {
    this.close();
    const pc = new this.RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    this.pc = pc;
    const video = pc.addTransceiver('video', { direction: 'recvonly' });
    negotiateCaptureTime(video, this.log);
    lowLatency(video.receiver);
    const input = pc.createDataChannel('input', { ordered: false, maxRetransmits: 0 });
    input.binaryType = 'arraybuffer';
    const control = pc.createDataChannel('control', { ordered: false, maxRetransmits: 0 });
    control.binaryType = 'arraybuffer';
    control.onmessage = (ev) => this.onControl(ev.data);
    const text = pc.createDataChannel('text'); // reliable and ordered: typed text must all arrive
    // Both ways, reliable and ordered: the clipboard's text (UTF-8).
    const clipboard = pc.createDataChannel('clipboard');
    clipboard.binaryType = 'arraybuffer';
    clipboard.onmessage = (ev) => this.onClipboard(typeof ev.data === 'string' ? ev.data : new TextDecoder().decode(ev.data));
    this.channels = { input, control, text, clipboard };
    const sound = pc.addTransceiver('audio', { direction: 'recvonly' });
    if ('jitterBufferTarget' in sound.receiver) sound.receiver.jitterBufferTarget = 0;
    pc.ontrack = (ev) => this.onTrack(ev);
    pc.oniceconnectionstatechange = () => {
      if (pc.iceConnectionState === 'checking') this.mark('iceCheckingMs');
      else if (pc.iceConnectionState === 'connected' || pc.iceConnectionState === 'completed') this.mark('iceConnectedMs');
    };
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc) return;
      if (pc.connectionState === 'connected') {
        this.mark('connectedMs');
        this.onConnected();
      } else if (pc.connectionState === 'failed' || pc.connectionState === 'closed') {
        this.log.warn('glint: peer connection', pc.connectionState);
        this.onLost(pc.connectionState);
      }
    };
    // Candidates gathered before the offer has gone out wait for it: the host takes them only
    // after the offer.
    let pending = [];
    pc.onicecandidate = (ev) => {
      // null (and, in some browsers, an empty string) ends the gathering: nothing to send.
      if (!ev.candidate || !ev.candidate.candidate) return;
      const msg = this.message.candidate(ev.candidate.candidate, ev.candidate.sdpMid);
      if (pending) pending.push(msg); else this.signal(msg);
    };
    try {
      const offering = pc.createOffer(); // made off the main thread
      // Sound: Opus packets on the `audio` channel, played by the page itself; or, without
      // WebCodecs, the Opus track. The host fills whichever it has, or neither (no device).
      // The page's playout is set up meanwhile: a browser's first AudioContext costs tens of
      // ms of main thread. (Made later, once the stream plays, it left Firefox's getStats
      // pending for good in about one load in four on a loaded machine.) The channel's stream
      // is negotiated in band, so it need not exist before the offer.
      if (audio) audio(pc.createDataChannel('audio', { ordered: false, maxRetransmits: 0 }));
      const offer = await offering;
      await pc.setLocalDescription({ type: 'offer', sdp: withRrtr(offer.sdp) });
    } catch (e) {
      if (this.pc !== pc) return; // closed meanwhile, which is what made it fail
      throw e;
    }
    if (this.pc !== pc) return; // closed meanwhile
    this.signal(this.message.offer(pc.localDescription.sdp));
    this.mark('offerSentMs');
    for (const msg of pending) this.signal(msg);
    pending = null;
  }

  /** The host's answer to the current offer. */
  async answer(sdp) {
    await this.pc?.setRemoteDescription({ type: 'answer', sdp: answerSdp(sdp) });
  }

  close() {
    if (this.pc) {
      this.pc.onconnectionstatechange = null;
      this.pc.close();
    }
    this.pc = null;
    this.channels = {};
  }

  /** Sends on a channel if it is open; false otherwise (or when the send fails). */
  sendOn(label, data) {
    const ch = this.channels[label];
    if (!ch || ch.readyState !== 'open') return false;
    try {
      ch.send(data);
      return true;
    } catch (e) {
      // The channel closed between the check and the send (the connection is going away).
      this.log.debug?.('glint: send on', label, e);
      return false;
    }
  }

  sendInput(bytes) { return this.sendOn('input', bytes); }

  /** Types `text` on the host (UTF-8 on the `text` channel); false when not connected. */
  sendText(text) { return this.sendOn('text', text); }

  /** Sets the host's clipboard to `text` (the `clipboard` channel); false when not connected. */
  sendClipboard(text) { return this.sendOn('clipboard', text); }

  /** The first stats entry of `type` (and `kind`, if given), as plain data, or null. */
  async stats(type, kind) {
    if (!this.pc) return null;
    let found = null;
    (await this.pc.getStats()).forEach((s) => {
      if (s.type === type && (kind === undefined || s.kind === kind)) found = s;
    });
    return found && JSON.parse(JSON.stringify(found));
  }

  /** The negotiated video codec ("H264", "VP8", …), or null. */
  async videoCodec() {
    if (!this.pc) return null;
    let codec = null;
    (await this.pc.getStats()).forEach((s) => {
      if (s.type === 'codec' && s.mimeType?.startsWith('video/')) codec = s.mimeType.slice(6);
    });
    return codec;
  }
}

/**
 * Asks for the capture instant of every frame (off by default in Chromium's offer): with it
 * requestVideoFrameCallback reports captureTime, so capture-to-display can be measured.
 */
function negotiateCaptureTime(transceiver, log) {
  if (!transceiver.getHeaderExtensionsToNegotiate || !transceiver.setHeaderExtensionsToNegotiate) return;
  try {
    const exts = transceiver.getHeaderExtensionsToNegotiate().map((e) => (
      e.uri === ABS_CAPTURE_TIME || e.uri === PLAYOUT_DELAY ? { ...e, direction: 'recvonly' } : e));
    transceiver.setHeaderExtensionsToNegotiate(exts);
  } catch (e) { log.warn('glint: header extensions', e); }
}

function lowLatency(receiver) {
  if ('jitterBufferTarget' in receiver) receiver.jitterBufferTarget = 0;
  if ('playoutDelayHint' in receiver) receiver.playoutDelayHint = 0;
}
