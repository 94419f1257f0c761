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

/**
 * ICE restarts (RFC 8445 §9): the connection stays (same peer on the host, same role and
 * control); only its network path is found again. A connection `disconnected` this long is
 * restarted (a browser says `disconnected` after a few seconds without an answer to its checks;
 * a short blip recovers by itself within this time).
 */
export const RESTART_AFTER_DISCONNECTED_MS = 2000;
/** A restart that has not brought the connection back in this long gives way to a new one. */
export const RESTART_GIVE_UP_MS = 15000;

/**
 * A first connection that has not connected in this long gives way to a new one, saying why:
 * with relays only and a TURN server that refuses its credentials, the browser has no
 * candidate to check and stays `new` for good, telling nothing but `icecandidateerror`.
 */
export const CONNECT_GIVE_UP_MS = 20000;

/**
 * Why a connection found no path, for the page's status: the host's answer to the offer never
 * came (`hostAnswered` false: the signaling socket may look open long after the network to the
 * host is gone, so this is said before anything about UDP), else a TURN or STUN server's error
 * answer (RFC 8489 §14.8 codes under 700: 401 Unauthorized, 403, 437, 441, 486...) if any came,
 * else a server that never answered (the browser's 701), else no path at all: for a
 * connection that had one (`hadPath`), that it was lost; else that UDP may be blocked.
 */
export function noPathReason(errors, hostAnswered = true, hadPath = false) {
  if (!hostAnswered) return 'no path to the host: it did not answer (the network to it, or the host, may be down)';
  const answered = errors.filter((e) => e.code > 0 && e.code < 700).at(-1);
  if (answered) return `no path to the host: ${answered.url} said ${answered.code} ${answered.text}`.trim().replace(/\.$/, '');
  const silent = errors.at(-1);
  if (silent) return `no path to the host: no answer from ${silent.url}`;
  if (hadPath) return 'no path to the host: the connection was lost and not found again (the network may be down)';
  return 'no path to the host: UDP to it may be blocked (a TURN relay, set up on the host with --ice-server, gets through)';
}

/** Whether every TURN URL among `servers` (`iceServers` entries) answered `errors` (the
 * connection's icecandidateerror events) with a refusal (a STUN error code, 300–699, such as
 * 401 for credentials it does not take). */
export function everyRelayRefused(servers, errors) {
  const turn = servers.flatMap((s) => [s?.urls ?? []].flat()).filter((u) => /^turns?:/.test(u));
  return turn.length > 0 && turn.every((u) => errors.some((e) => e.url === u && e.code >= 300 && e.code < 700));
}

/** The `iceServers` entries' URLs as one comparable string (not their credentials, which
 * the host renews before they expire). */
const serversKey = (servers) => JSON.stringify((servers ?? []).map((s) => s?.urls ?? null));

export class PeerConnection {
  /**
   * @param {object} o
   * @param {(msg: object) => void} o.signal sends a signaling message (signaling.js `message`)
   * @param {object} o.message the signaling message builders
   * @param {(ev: RTCTrackEvent) => void} o.onTrack
   * @param {(data: ArrayBuffer) => void} o.onControl a message on the `control` channel
   * @param {(text: string) => void} [o.onClipboard] text the host copied (`clipboard` channel)
   * @param {() => void} o.onConnected the connection is up (after DTLS)
   * @param {(state: string, why?: string) => void} o.onLost the connection failed or closed
   *   (and an ICE restart did not bring it back), or never connected (`no-path`, with why,
   *   when its ICE checks all failed or after CONNECT_GIVE_UP_MS): a new connection is needed
   * @param {() => void} [o.onRestored] the connection found a path again after it was lost
   * @param {(why: string) => void} [o.onInterrupted] the connection lost its path (disconnected
   *   for RESTART_AFTER_DISCONNECTED_MS, or failed) and an ICE restart looks for a new one
   * @param {(step: string) => void} [o.mark] records a step of the connection's timeline
   * @param {boolean} [o.relay] use TURN relays only (`iceTransportPolicy: 'relay'`)
   * @param {() => (number|null)} [o.linkKbps] the page's own measure of its link, kbit/s
   *   (loadrate.js), sent with a new connection's offer (not with an ICE restart's)
   * @param {typeof RTCPeerConnection} [o.RTCPeerConnection]
   * @param {{setTimeout: Function, clearTimeout: Function}} [o.timers]
   */
  constructor({
    signal, message, onTrack, onControl, onClipboard = () => {}, onConnected, onLost, onRestored = () => {},
    onInterrupted = () => {}, mark = () => {}, relay = false, linkKbps = () => null, RTCPeerConnection = globalThis.RTCPeerConnection, log = console, timers = globalThis,
  }) {
    Object.assign(this, {
      signal, message, onTrack, onControl, onClipboard, onConnected, onLost, onRestored, onInterrupted, mark, relay,
      linkKbps, RTCPeerConnection, log, timers,
    });
    this.pc = null;
    this.channels = {};
    this.iceServers = []; // the host's STUN/TURN servers (`ice-servers`), kept for later connections
    this.restarts = 0; // ICE restarts made, over the page's life
    this.restarting = false; // a restart offer waits for its answer
    this.describing = false; // the first offer is being set as the local description
    this.held = null; // candidates gathered before their offer went out
    this.resetRecovery();
  }

  resetRecovery() {
    this.timers?.clearTimeout(this.disconnectedTimer);
    this.timers?.clearTimeout(this.giveUpTimer);
    this.timers?.clearTimeout(this.connectTimer);
    this.disconnectedTimer = null;
    this.giveUpTimer = null;
    this.connectTimer = null;
    this.iceErrors = []; // the connection's icecandidateerror events: { url, code, text }
    this.restartWanted = null; // a restart asked for while an offer was out
    this.wasConnected = false;
  }

  /**
   * Starts a connection: creates it, sends the offer, then trickles candidates. `audio` is a
   * function given the new `audio` data channel (the page plays the sound itself), or null.
   */
  async start({ audio = null } = {}) {
    this.close();
    const pc = new this.RTCPeerConnection({
      bundlePolicy: 'max-bundle',
      iceServers: this.iceServers,
      iceTransportPolicy: this.relay ? 'relay' : 'all',
    });
    this.pc = pc;
    this.serversKey = serversKey(this.iceServers);
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
    pc.onicecandidateerror = (ev) => {
      if (this.pc !== pc) return;
      this.iceErrors.push({ url: ev.url ?? '', code: ev.errorCode ?? 0, text: ev.errorText ?? '' });
      if (this.iceErrors.length > 8) this.iceErrors.shift();
      this.log.debug?.('glint: ICE candidate error', ev.url, ev.errorCode, ev.errorText);
      // A first connection on relays only whose every TURN server refused it can find no
      // path: said now, not after CONNECT_GIVE_UP_MS.
      if (this.relay && !this.wasConnected && this.connectTimer && everyRelayRefused(this.iceServers, this.iceErrors)) {
        this.firstFoundNoPath(true);
      }
    };
    this.connectTimer = this.timers.setTimeout(() => {
      if (this.pc !== pc || this.wasConnected) return;
      this.firstFoundNoPath(pc.remoteDescription != null);
    }, CONNECT_GIVE_UP_MS);
    pc.oniceconnectionstatechange = () => {
      if (pc.iceConnectionState === 'checking') this.mark('iceCheckingMs');
      else if (pc.iceConnectionState === 'connected' || pc.iceConnectionState === 'completed') this.mark('iceConnectedMs');
    };
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc) return;
      const state = pc.connectionState;
      this.timers.clearTimeout(this.disconnectedTimer);
      this.disconnectedTimer = null;
      if (state === 'connected') {
        this.timers.clearTimeout(this.giveUpTimer);
        this.giveUpTimer = null;
        if (!this.wasConnected) {
          this.wasConnected = true;
          this.timers.clearTimeout(this.connectTimer);
          this.connectTimer = null;
          this.mark('connectedMs');
          this.onConnected();
        } else {
          this.onRestored();
        }
      } else if (state === 'disconnected') {
        // Often back by itself within a moment; if not, find a new path.
        this.disconnectedTimer = this.timers.setTimeout(() => {
          this.onInterrupted('disconnected');
          if (!this.restarting) this.restart('disconnected');
        }, RESTART_AFTER_DISCONNECTED_MS);
      } else if (state === 'failed' && (this.restarting || this.restartWanted)) {
        // The path of before is gone; the restart under way looks for a new one.
      } else if (state === 'failed' && this.wasConnected && !this.giveUpTimer) {
        this.log.warn('glint: peer connection failed; restarting ICE');
        this.onInterrupted('failed');
        this.restart('failed');
      } else if (state === 'failed' && !this.wasConnected) {
        // The browser tried every pair and none answered (Chromium says so after ~15 s,
        // before CONNECT_GIVE_UP_MS): the same reason as a connection that never got that far.
        this.firstFoundNoPath(pc.remoteDescription != null);
      } else if (state === 'failed' || state === 'closed') {
        this.log.warn('glint: peer connection', state);
        this.onLost(state);
      }
    };
    // Candidates gathered before their offer has gone out wait for it: the host takes them
    // only after the offer.
    this.held = [];
    pc.onicecandidate = (ev) => {
      if (this.pc !== pc) return;
      // null (and, in some browsers, an empty string) ends the gathering: nothing to send.
      if (!ev.candidate || !ev.candidate.candidate) return;
      const msg = this.message.candidate(ev.candidate.candidate, ev.candidate.sdpMid);
      if (this.held) this.held.push(msg); else this.signal(msg);
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
      this.describing = true; // gathering may start before this resolves
      await pc.setLocalDescription({ type: 'offer', sdp: withRrtr(offer.sdp) });
    } catch (e) {
      if (this.pc !== pc) return; // closed meanwhile, which is what made it fail
      throw e;
    } finally {
      if (this.pc === pc) this.describing = false;
    }
    if (this.pc !== pc) return; // closed meanwhile
    this.sendOffer(pc, this.linkKbps());
    this.mark('offerSentMs');
  }

  /**
   * The first connection found no path: it gives way to a new one (`onLost`), saying why
   * (`noPathReason`; `hostAnswered`: the host's answer to the offer came).
   */
  firstFoundNoPath(hostAnswered) {
    this.timers.clearTimeout(this.connectTimer);
    this.connectTimer = null;
    const why = noPathReason(this.iceErrors, hostAnswered);
    this.log.warn(`glint: ${why}`);
    this.onLost('no-path', why);
  }

  /** Sends the local offer (with the page's measure of its link, if any), then the candidates
   * held for it. */
  sendOffer(pc, linkKbps = null) {
    this.signal(this.message.offer(pc.localDescription.sdp, linkKbps));
    const held = this.held ?? [];
    this.held = null;
    for (const msg of held) this.signal(msg);
  }

  /** The host's answer to the current offer. */
  async answer(sdp) {
    const pc = this.pc;
    if (!pc) return;
    await pc.setRemoteDescription({ type: 'answer', sdp: answerSdp(sdp) });
    this.restarting = false;
    const wanted = this.restartWanted;
    this.restartWanted = null;
    if (wanted && this.pc === pc) await this.restart(wanted);
  }

  /**
   * The host's STUN and TURN servers. A connection made without them gathers again with them
   * (an ICE restart); later connections start with them. The same servers with new
   * credentials (the host renews time-limited TURN credentials before they expire) are only
   * kept for the next gathering: an ICE restart after a lost path then still gets a relay.
   */
  async useIceServers(servers) {
    this.iceServers = Array.isArray(servers) ? servers : [];
    const pc = this.pc;
    if (!pc) return;
    const renewed = this.serversKey === serversKey(this.iceServers);
    this.serversKey = serversKey(this.iceServers);
    try {
      pc.setConfiguration({ ...pc.getConfiguration(), iceServers: this.iceServers });
    } catch (e) {
      this.log.warn('glint: the host\'s ICE servers', e);
      return;
    }
    if (renewed) return;
    // The first offer is still being made: its gathering, which starts with it, takes them.
    // (Once it is being set, gathering may have begun without them: a restart follows.)
    if (!pc.localDescription && !this.describing) return;
    await this.restart('ice servers');
  }

  /**
   * Restarts ICE on this connection (RFC 8445 §9): new ICE credentials, candidates gathered
   * afresh, and a new offer on the same signaling socket, which the host answers on the same
   * peer. Asked while an offer waits for its answer, it follows that answer. A restart that
   * has not connected within RESTART_GIVE_UP_MS gives way to a new connection (`onLost`).
   */
  async restart(reason) {
    const pc = this.pc;
    if (!pc || pc.connectionState === 'closed') return;
    // An offer out (or the first one still being made: a second offer made meanwhile would
    // meet an answer in the wrong state): the restart follows its answer.
    if (pc.signalingState !== 'stable' || !pc.localDescription) {
      this.restartWanted = reason;
      return;
    }
    this.restarts += 1;
    this.restarting = true;
    this.log.warn?.('glint: ICE restart:', reason);
    if (this.wasConnected && !this.giveUpTimer) {
      this.giveUpTimer = this.timers.setTimeout(() => {
        if (this.pc !== pc || pc.connectionState === 'connected') return;
        // What a server said, that the path was lost (not that UDP may be blocked: it
        // worked), or that the restart was never answered.
        const why = noPathReason(this.iceErrors, !this.restarting, true);
        this.log.warn(`glint: the ICE restart did not bring the connection back: ${why}`);
        this.onLost('no-path', why);
      }, RESTART_GIVE_UP_MS);
    }
    this.held = [];
    try {
      pc.restartIce();
      const offer = await pc.createOffer();
      if (this.pc !== pc) return;
      await pc.setLocalDescription({ type: 'offer', sdp: withRrtr(offer.sdp) });
    } catch (e) {
      if (this.pc !== pc) return;
      this.held = null;
      this.restarting = false;
      this.log.warn('glint: ICE restart failed', e);
      this.onLost('failed');
      return;
    }
    if (this.pc !== pc) return;
    this.sendOffer(pc);
  }

  close() {
    if (this.pc) {
      this.pc.onconnectionstatechange = null;
      this.pc.close();
    }
    this.pc = null;
    this.channels = {};
    this.held = null;
    this.restarting = false;
    this.resetRecovery();
  }

  /**
   * The candidate pair the connection uses: each side's type (`host`, `srflx`, `prflx`,
   * `relay`) and address, and the protocol to the TURN server when relayed; null before one
   * is chosen.
   */
  async selectedPair() {
    if (!this.pc) return null;
    const stats = await this.pc.getStats();
    let pair = null;
    stats.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
    });
    if (!pair) return null;
    const local = stats.get(pair.localCandidateId);
    const remote = stats.get(pair.remoteCandidateId);
    return {
      local: local?.candidateType ?? null,
      localAddress: local?.address ?? null,
      relayProtocol: local?.relayProtocol ?? null,
      remote: remote?.candidateType ?? null,
      remoteAddress: remote?.address ?? null,
      remotePort: remote?.port ?? null,
    };
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
