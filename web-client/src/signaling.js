// Signaling: the JSON messages on the WebSocket /ws (test/golden/signaling-v1.json, which the
// host's tests read too) and the socket's life: connect, say hello, queue what the page sends
// until the socket opens, hand each host message to its handler, and connect again after a
// growing delay when the socket or the session is lost.
//
// Nothing here touches the DOM: the WebSocket constructor and the timers are arguments, so the
// unit tests drive it with fakes.

/**
 * What the page does on each `code` an `error` message can carry: 'fail' stops (the user must
 * act), 'retry' connects again after the usual delay, 'wait' connects again after the
 * message's `retry_after_s` (password attempts, throttled per address), 'tell' shows the host's message for a
 * moment, 'log' only warns on the console (a bug in this page or the host, or junk that a test
 * sent on purpose).
 */
export const ERROR_REACTIONS = Object.freeze({
  unauthorized: 'fail',
  'offer-rejected': 'fail',
  busy: 'retry',
  state: 'tell',
  'not-a-game': 'tell',
  'bad-message': 'log',
  'bad-channel': 'log',
  'bad-text': 'log',
  'bad-input': 'log',
  'too-many-attempts': 'wait',
  full: 'retry',
  'too-many-sockets': 'retry',
  'hello-timeout': 'log',
  'connect-timeout': 'retry',
  'not-in-control': 'tell',
  forbidden: 'tell',
  'no-such-member': 'tell',
});

/** Every `code` an `error` message can carry, as far as this page knows. */
export const ERROR_CODES = Object.freeze(Object.keys(ERROR_REACTIONS));

/** Every message type the host sends; a `Signaling` needs a handler for each. */
export const SERVER_TYPES = Object.freeze(['welcome', 'answer', 'error', 'info', 'player', 'ended', 'draining', 'members', 'pointer', 'files', 'ice-servers', 'screen', 'device', 'rejoin']);

/** Page → host messages, as plain objects (`Signaling.send` serialises them). */
export const message = Object.freeze({
  /** The first message; `password`, `name` (shown to the others), `device` (this
   * browser's token from an earlier `device` message), `ticket` (the page's place in line
   * from its last `full` error) and `rejoin` (this tab's token from its last socket's
   * `rejoin` message: the host gives back its role and seat) are left out when unset. */
  hello: (password, name, device, ticket, rejoin) => ({
    type: 'hello',
    ...(password === undefined ? {} : { password }),
    ...(name === undefined ? {} : { name }),
    ...(device === undefined ? {} : { device }),
    ...(ticket === undefined ? {} : { ticket }),
    ...(rejoin === undefined ? {} : { rejoin }),
  }),
  /** An SDP offer; `linkKbps`, the page's measure of its link (loadrate.js), left out when
   * null. */
  offer: (sdp, linkKbps = null) => ({ type: 'offer', sdp, ...(linkKbps === null ? {} : { link_kbps: linkKbps }) }),
  /** One trickled ICE candidate (the `candidate:` attribute value) and its media's mid. */
  candidate: (candidate, sdpMid) => (sdpMid === undefined || sdpMid === null
    ? { type: 'candidate', candidate }
    : { type: 'candidate', candidate, sdp_mid: sdpMid }),
  saveState: () => ({ type: 'save-state' }),
  loadState: () => ({ type: 'load-state' }),
  /** The playing page's frame lead (phase.js). */
  framePhase: (leadMs) => ({ type: 'frame-phase', lead_ms: leadMs }),
  // The page's own cap on its video rate, kbit/s, or null for the host's --bitrate.
  maxBitrate: (kbps) => ({ type: 'max-bitrate', kbps: kbps ?? null }),
  /** The XKB layout the page's keyboard looks like (keymap.js `guessLayout`). */
  keyboardLayout: (layout) => ({ type: 'keyboard-layout', layout }),
  // Who drives (people.js): ask, give (to a member's peer id), take, release; owners also
  // remove members and change roles ('owner' or 'viewer'); anyone renames itself.
  requestControl: () => ({ type: 'request-control' }),
  giveControl: (peer) => ({ type: 'give-control', peer }),
  takeControl: () => ({ type: 'take-control' }),
  releaseControl: () => ({ type: 'release-control' }),
  kick: (peer) => ({ type: 'kick', peer }),
  setRole: (peer, role) => ({ type: 'set-role', peer, role }),
  setName: (name) => ({ type: 'set-name', name }),
  /** "Look here": a pointer at host pixel (x, y) for the others. */
  point: (x, y) => ({ type: 'point', x, y }),
});

/** A host message from its text, or null when it is not a JSON object with a string `type`. */
export function parseServerMessage(text) {
  let msg;
  try {
    msg = JSON.parse(text);
  } catch {
    return null; // not JSON: not a message of ours (a host of another version, a proxy)
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg) || typeof msg.type !== 'string') return null;
  return msg;
}

/**
 * Calls the handler for `msg.type`; a type without one (a newer host's message) is ignored.
 * Returns whether a handler ran.
 */
export function dispatch(handlers, msg) {
  if (!msg || !Object.hasOwn(handlers, msg.type)) return false;
  handlers[msg.type](msg);
  return true;
}

/** Delays before connecting again, by attempt since the last working session (ms). */
export const RECONNECT_MS = Object.freeze([250, 500, 1000, 2000, 4000]);

/** The reconnect delays: each attempt waits longer, up to the last; a working session resets. */
export class Backoff {
  constructor(delays = RECONNECT_MS) {
    this.delays = delays;
    this.attempt = 0;
  }

  /** The delay before the next attempt (ms); counts the attempt. */
  next() {
    const d = this.delays[Math.min(this.attempt, this.delays.length - 1)];
    this.attempt += 1;
    return d;
  }

  reset() { this.attempt = 0; }
}

const OPEN = 1; // WebSocket.OPEN
const CONNECTING = 0; // WebSocket.CONNECTING

export class Signaling {
  /**
   * @param {object} o
   * @param {string} o.url the /ws URL
   * @param {string|undefined} o.password sent in `hello`
   * @param {() => string|undefined} [o.name] the page's name, sent in `hello`
   * @param {() => string|undefined} [o.device] this browser's device token, sent in `hello`
   * @param {object} o.handlers one function per SERVER_TYPES entry, called with the message
   * @param {() => void} [o.onConnecting] a socket is being opened (start the peer connection
   *   now: its offer is queued behind `hello`)
   * @param {() => void} [o.onOpen] the socket opened and the queue went out
   * @param {(reason: string, delayMs: number) => void} [o.onDown] the socket and the session
   *   are gone; the next attempt comes after `delayMs`
   * @param {typeof WebSocket} [o.WebSocket]
   * @param {{setTimeout: Function, clearTimeout: Function}} [o.timers]
   */
  constructor({
    url, password, name, device, handlers, onConnecting = () => {}, onOpen = () => {}, onDown = () => {},
    WebSocket = globalThis.WebSocket, timers = globalThis, backoff = new Backoff(), log = console,
  }) {
    const missing = SERVER_TYPES.filter((t) => typeof handlers[t] !== 'function');
    if (missing.length) throw new Error(`signaling: no handler for ${missing.join(', ')}`);
    this.url = url;
    this.password = password;
    this.name = name; // () => the name to give in hello, or undefined
    this.device = device; // () => the device token to give in hello, or undefined
    this.handlers = handlers;
    this.onConnecting = onConnecting;
    this.onOpen = onOpen;
    this.onDown = onDown;
    this.WebSocket = WebSocket;
    this.timers = timers;
    this.backoff = backoff;
    this.log = log;
    this.ws = null;
    this.queue = []; // texts waiting for the socket to open, in order
    this.timer = null; // the pending reconnect
    this.stopped = false;
    /** The page's place in line for a seat (a `full` error's `ticket`), sent in `hello`. */
    this.ticket = undefined;
    /** This tab's rejoin token (the last `rejoin` message's), sent in `hello`. */
    this.rejoin = undefined;
  }

  /** Whether the socket is open. */
  get open() { return this.ws !== null && this.ws.readyState === OPEN; }

  /** Opens a socket now; `hello` is the first thing it sends. */
  connect() {
    if (this.stopped) return;
    this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.close();
    const ws = new this.WebSocket(this.url);
    this.ws = ws;
    this.queue = [JSON.stringify(message.hello(this.password, this.name?.(), this.device?.(), this.ticket, this.rejoin))];
    ws.onopen = () => {
      for (const text of this.queue.splice(0)) ws.send(text);
      this.onOpen();
    };
    ws.onclose = (ev) => {
      this.log.warn('glint: signaling closed', ev.code, ev.reason);
      this.reconnect('signaling closed');
    };
    ws.onmessage = (ev) => {
      const msg = parseServerMessage(ev.data);
      if (!msg) this.log.warn('glint: not a signaling message', String(ev.data).slice(0, 80));
      else if (!dispatch(this.handlers, msg)) this.log.debug?.('glint: unknown signaling message', msg.type);
    };
    this.onConnecting();
  }

  /**
   * Sends a message (an object from `message`): at once when the socket is open, after `hello`
   * when it is still opening; dropped when there is no socket (a new session starts afresh).
   */
  send(msg) {
    const text = JSON.stringify(msg);
    if (this.open) this.ws.send(text);
    else if (this.ws && this.ws.readyState === CONNECTING) this.queue.push(text);
  }

  /** The session works (the peer connected): the next reconnect waits the shortest delay. */
  connected() { this.backoff.reset(); }

  /** Drops this socket and connects again after the backoff delay, and `atLeastMs` at least. */
  reconnect(reason, atLeastMs = 0) {
    this.close();
    if (this.stopped) return;
    this.timers.clearTimeout(this.timer);
    const delay = Math.max(this.backoff.next(), atLeastMs);
    this.timer = this.timers.setTimeout(() => this.connect(), delay);
    this.onDown(reason, delay);
  }

  /** Closes the socket for good: no reconnects. */
  stop() {
    this.stopped = true;
    this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.close();
  }

  close() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    this.queue = [];
    ws.onopen = null;
    ws.onclose = null;
    ws.onmessage = null;
    ws.close();
  }
}
