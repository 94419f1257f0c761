// Input capture: keyboard, pointer, wheel and gamepads on the stage become input packets on the
// `input` channel (input.js), sent at each change, repeated a few times after an edge so a loss
// costs little, and as a heartbeat of the full state while anything is held. Text that is not
// keys (an IME's composition, a paste) goes to the host as text, on the `text` channel.
//
// The keyboard focus sits in a hidden text field inside the stage: a browser runs an IME only
// for an editable element. Its keys bubble to the stage like any other; keys the IME takes are
// left to it, and what it composes is sent as text.
//
// The DOM elements, the window and the document are arguments; nothing runs at import.

import { codeToUsage } from './keymap.js';
import { screenSize, screenPerVideo } from './pointers.js';
import { standardize } from './gamepads.js';
import { InputSender, encodePacket, EventKind, MAX_PADS } from './input.js';

export const HEARTBEAT_MS = 100; // full state at least this often while anything is held
export const AFTER_CHANGE_MS = 1000; // keep heartbeats going this long after the last change
export const REPEAT_DELAYS_MS = [8, 24, 56]; // extra sends after an edge, so a loss costs little
export const WHEEL_NOTCH_PX = 100;
/** One notch in the legacy `wheelDelta` units (Win32's WHEEL_DELTA), on every engine. */
export const LEGACY_NOTCH = 120;
// Polled (the Gamepad API has no change events); the state rides in every input packet.
export const PAD_POLL_MS = 8;
const KEEP_ANNOUNCED = 1000; // press ids remembered as timed, trimmed to the newest 200
export const MAX_TEXT_CHARS = 4096; // a paste longer than this is cut (the host types it key by key)

/** `text` cut to at most `max` characters (code points, so no pair is split), CRLF as LF. */
export function clipText(text, max = MAX_TEXT_CHARS) {
  const lf = text.replace(/\r\n?/g, '\n');
  if (lf.length <= max) return lf;
  let end = 0;
  let n = 0;
  for (const ch of lf) {
    if (n === max) break;
    end += ch.length;
    n += 1;
  }
  return lf.slice(0, end);
}

/**
 * Whether a keydown is the browser's paste shortcut (Ctrl+V, ⌘V, Shift+Insert). It is left to
 * the browser, not sent: the paste that follows sets the host's clipboard and types the text.
 */
export function isPasteKey(e) {
  if (e.code === 'KeyV') return (e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey;
  return e.code === 'Insert' && e.shiftKey && !e.ctrlKey && !e.altKey;
}

/** Whether a keydown belongs to an IME composition (the IME takes it, not the host). */
export const composing = (e) => e.isComposing === true || e.keyCode === 229;

/**
 * Maps a client position to host screen pixels, through object-fit: contain. `rect` is the
 * video element's bounding rectangle, `vw`×`vh` the video's size, `sw`×`sh` the host screen's
 * (pointers.js `screenSize`: larger than the video on a lower rung of the host's resolution
 * ladder). Null before the video has a size.
 */
export function remotePoint(rect, vw, vh, clientX, clientY, sw = vw, sh = vh) {
  if (!vw || !vh) return null;
  const scale = Math.min(rect.width / vw, rect.height / vh);
  const offX = (rect.width - vw * scale) / 2;
  const offY = (rect.height - vh * scale) / 2;
  const kx = screenPerVideo(vw, sw);
  const ky = screenPerVideo(vh, sh);
  // The pixel whose square holds the point (rounding would give the next one past its middle).
  const x = Math.floor(((clientX - rect.left - offX) / scale) * kx);
  const y = Math.floor(((clientY - rect.top - offY) / scale) * ky);
  const maxX = kx === 1 ? vw : sw;
  const maxY = ky === 1 ? vh : sh;
  return [Math.max(0, Math.min(maxX - 1, x)), Math.max(0, Math.min(maxY - 1, y))];
}

/**
 * Wheel deltas summed into whole notches (one notch is one click on the host). A notch's size
 * in pixels differs by browser and OS (Chromium: 120 px on Linux, 100 on Windows, times the
 * device scale; Firefox: 3 lines), so the legacy `wheelDeltaX/Y`, which every engine still
 * fills with 120 per notch (Win32's WHEEL_DELTA, opposite in sign), is used where an event has
 * it; else pixels (a notch is `notchPx`), lines (a third of a notch) or pages (ten notches). A
 * touchpad's or a high-resolution wheel's small deltas add up, and the remainder is kept, so
 * nothing drifts.
 */
export class WheelAccumulator {
  constructor(notchPx = WHEEL_NOTCH_PX) {
    this.notchPx = notchPx;
    this.sum = [0, 0];
  }

  /**
   * Adds a WheelEvent's deltas (and its legacy `[wheelDeltaX, wheelDeltaY]`, when it has
   * them); returns the whole notches [x, y] they complete, or null.
   */
  add(deltaX, deltaY, deltaMode = 0, legacy = null) {
    if (legacy && (legacy[0] || legacy[1])) {
      this.sum[0] -= (legacy[0] / LEGACY_NOTCH) * this.notchPx;
      this.sum[1] -= (legacy[1] / LEGACY_NOTCH) * this.notchPx;
    } else {
      const unit = deltaMode === 1 ? this.notchPx / 3 : deltaMode === 2 ? this.notchPx * 10 : 1;
      this.sum[0] += deltaX * unit;
      this.sum[1] += deltaY * unit;
    }
    const nx = Math.trunc(this.sum[0] / this.notchPx) || 0; // never -0
    const ny = Math.trunc(this.sum[1] / this.notchPx) || 0;
    if (!nx && !ny) return null;
    this.sum = [this.sum[0] - nx * this.notchPx, this.sum[1] - ny * this.notchPx];
    return [nx, ny];
  }
}

/**
 * The connected pads (at most MAX_PADS) as input.js sends them, from navigator.getGamepads();
 * `bindingOf(id)` gives a user's binding for a pad without the standard mapping, or null.
 */
export function readPads(list, bindingOf = () => null) {
  const pads = [];
  for (const gp of list || []) {
    if (!gp || !gp.connected || pads.length >= MAX_PADS) continue;
    // A pad without the standard mapping is put in the standard layout first (gamepads.js),
    // through the user's binding where the Keys panel made one (`bindingOf(id)`).
    const std = standardize(gp, bindingOf(gp.id));
    let buttons = 0;
    std.buttons.forEach((b, i) => { if (i < 32 && (b.pressed || b.value > 0.5)) buttons |= 1 << i; });
    const axes = [0, 1, 2, 3].map((i) => Math.round(Math.max(-1, Math.min(1, std.axes[i] || 0)) * 32767));
    pads.push({ index: gp.index & 0xff, buttons: buttons >>> 0, axes });
  }
  return pads;
}

/**
 * The modifier keys by the flag every KeyboardEvent, MouseEvent and WheelEvent carries
 * (getModifierState). A right Alt that types AltGr reports `AltGraph`, not `Alt`.
 */
export const MODIFIERS = [
  [['Shift'], ['ShiftLeft', 'ShiftRight']],
  [['Control'], ['ControlLeft', 'ControlRight']],
  [['Alt'], ['AltLeft']],
  [['Alt', 'AltGraph'], ['AltRight']],
  [['Meta'], ['MetaLeft', 'MetaRight']],
];

/** Every modifier key's code. */
const MODIFIER_CODES = new Set(MODIFIERS.flatMap(([, codes]) => codes));

/**
 * The modifier keys (codes) held in `held` that event `e`'s flags say are up: a release the
 * page never saw (Alt+Tab away and back, a key released over another window) must not leave
 * the key held on the host.
 */
export function staleModifiers(e, held) {
  if (typeof e.getModifierState !== 'function') return [];
  const stale = [];
  for (const [flags, codes] of MODIFIERS) {
    if (flags.some((f) => e.getModifierState(f))) continue;
    for (const code of codes) if (held(code)) stale.push(code);
  }
  return stale;
}

/** How long a left Ctrl press waits to see whether an AltRight press follows it (Windows AltGr). */
export const ALTGR_WAIT_MS = 50;

/**
 * Browsers on Windows report AltGr as a left Ctrl press and an AltRight press with the same
 * timeStamp (and both releases together): that Ctrl is not the user's, and injected on the host
 * it turns AltGr+Q into Ctrl+Alt+Q. So on Windows a ControlLeft press is held back until the
 * next key event or ALTGR_WAIT_MS: if that event is AltRight's press at the same timeStamp, the
 * Ctrl press and its release are dropped; otherwise the Ctrl goes out first. (noVNC and
 * Guacamole filter it the same way.) Elsewhere every event passes at once.
 */
export class AltGrFilter {
  /**
   * @param {object} o
   * @param {boolean} o.windows whether the browser runs on Windows
   * @param {(code: string, down: boolean) => void} o.emit takes the key events that pass
   * @param {{setTimeout: Function, clearTimeout: Function}} [o.timers]
   */
  constructor({ windows, emit, timers = globalThis }) {
    Object.assign(this, { windows, emit, timers });
    this.held = null; // the ControlLeft press held back: its timeStamp
    this.timer = null;
    this.fake = false; // the Ctrl held now is AltGr's: its release is dropped too
  }

  /** A key event: `code` (KeyboardEvent.code), press or release, its timeStamp (ms). */
  key(code, down, timeStamp) {
    if (!this.windows) return this.emit(code, down);
    if (this.held !== null) {
      const at = this.held;
      this.flushTimer();
      if (down && code === 'AltRight' && Math.abs(timeStamp - at) < 1) {
        this.fake = true;
        return this.emit(code, down);
      }
      this.emit('ControlLeft', true);
    }
    // While AltGr is held, Windows repeats its fake Ctrl with it: dropped too.
    if (code === 'ControlLeft' && this.fake) return undefined;
    if (code === 'ControlLeft' && down) {
      this.held = timeStamp;
      this.timer = this.timers.setTimeout(() => { this.flushTimer(); this.emit('ControlLeft', true); }, ALTGR_WAIT_MS);
      return undefined;
    }
    if (code === 'AltRight' && !down) this.fake = false;
    return this.emit(code, down);
  }

  flushTimer() {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.held = null;
  }
}

/** Whether the browser runs on macOS (whose keyboards have no Num Lock: the keypad types digits). */
export function onMac(nav) {
  const platform = nav?.userAgentData?.platform ?? nav?.platform ?? '';
  return /^mac/i.test(platform) || /Macintosh/.test(nav?.userAgent ?? '');
}

/**
 * Caps Lock and Num Lock as key event `e` reports them (getModifierState), or null when it
 * cannot say. On a Mac, Num Lock is on: its keypad types digits.
 */
export function lockStates(e, mac) {
  if (typeof e.getModifierState !== 'function') return null;
  return { caps: e.getModifierState('CapsLock'), num: mac || e.getModifierState('NumLock') };
}

/** Whether the browser runs on Windows (where AltGr comes with a fake Ctrl). */
export function onWindows(nav) {
  const platform = nav?.userAgentData?.platform ?? '';
  return platform === 'Windows' || /Windows/.test(nav?.userAgent ?? '');
}

export class InputControls {
  /**
   * @param {object} o
   * @param {HTMLElement} o.stage the keyboard's events arrive here
   * @param {HTMLTextAreaElement} [o.textInput] the hidden field inside the stage that holds the focus
   * @param {HTMLVideoElement} o.video takes the pointer
   * @param {(bytes: Uint8Array) => boolean} o.send sends a packet on the `input` channel
   * @param {(text: string) => boolean} [o.sendText] sends text to type on the `text` channel
   * @param {(code: string) => string} [o.keyCode] the code to send for a pressed key's code
   * @param {(seq: number, at: number) => void} [o.onPress] a key or button press first went out
   * @param {(text: string) => void} [o.onPaste] text pasted onto the stage (before it is typed)
   * @param {() => void} [o.onPen] a pen first touched the picture (it works as a mouse)
   * @param {(id: string) => object|null} [o.padBinding] the user's binding of a pad (gamepads.js)
   * @param {() => boolean} [o.padsPaused] true while the Keys panel binds a pad: pads send rest
   */
  constructor({
    stage, textInput = null, video, send, sendText = () => false, keyCode = (c) => c, onPress = () => {}, onPaste = () => {},
    padBinding = () => null, padsPaused = () => false, onPen = () => {},
    win = globalThis.window, doc = globalThis.document, nav = globalThis.navigator,
    timers = globalThis, now = () => performance.now(),
  }) {
    Object.assign(this, { stage, textInput, video, sendBytes: send, sendText, keyCode, onPress, onPaste, padBinding, padsPaused, onPen, win, doc, nav, timers, now });
    this.sender = new InputSender();
    /** Text typed into the field (a phone's keyboard): returns true when it was handled. */
    this.onTypedText = () => false;
    /** A key other than a modifier was pressed (the phone's key row lets go of Ctrl, Alt). */
    this.onKeyTyped = () => {};
    /** Modifier codes the page holds on purpose (the phone's key row): never released as stale. */
    this.pinned = new Set();
    this.announced = new Set(); // ids of presses already timed
    this.wheel = new WheelAccumulator();
    this.lastChange = 0;
    this.lastSend = 0;
    this.lastPads = '[]';
    this.packetsSent = 0;
    this.gamepads = undefined; // how many pads the page sees, once it has seen a change
  }

  /** A new session: nothing held, sequence numbers from the start. */
  reset() {
    this.sender = new InputSender();
    this.announced = new Set();
  }

  /** Sends the current state now. */
  send() {
    const at = this.now();
    const packet = this.sender.packet(Math.floor(at));
    if (this.sendBytes(encodePacket(packet))) {
      for (const e of packet.events) {
        if ((e.kind === EventKind.KeyDown || e.kind === EventKind.ButtonDown) && !this.announced.has(e.id)) {
          this.announced.add(e.id);
          this.onPress(packet.seq, at);
        }
      }
      if (this.announced.size > KEEP_ANNOUNCED) this.announced = new Set([...this.announced].slice(-200));
      this.packetsSent += 1;
      this.lastSend = this.now();
    }
    // Not sent (no open channel): the state goes again with the next packet.
  }

  /** Something changed: send now, and again shortly after an edge (press, release, move). */
  changed(edge) {
    this.lastChange = this.now();
    this.send();
    if (edge) {
      for (const d of REPEAT_DELAYS_MS) this.timers.setTimeout(() => { if (this.sender.hasPending()) this.send(); }, d);
    }
  }

  /** The heartbeat: the full state while anything is held or changed recently. */
  tick() {
    const now = this.now();
    const s = this.sender;
    const active = s.anythingHeld() || s.hasPending() || now - this.lastChange < AFTER_CHANGE_MS;
    if (active && now - this.lastSend >= HEARTBEAT_MS) this.send();
  }

  pollPads() {
    let pads = readPads(this.nav.getGamepads ? this.nav.getGamepads() : [], this.padBinding);
    // While a pad is being bound its presses are the binding's, not the game's: pads rest.
    if (this.padsPaused()) pads = pads.map((p) => ({ ...p, buttons: 0, axes: [0, 0, 0, 0] }));
    const text = JSON.stringify(pads);
    if (text === this.lastPads) return;
    this.lastPads = text;
    this.sender.setPads(pads);
    this.gamepads = pads.length;
    this.changed(false);
  }

  /** Releases the held modifiers that event `e` says are up (but not `own`, the key it is). */
  syncModifiers(e, own = null) {
    // Modifiers held on purpose by the page itself (the phone's key row) are not stale.
    const held = (code) => code !== own && !this.pinned.has(code) && this.sender.isHeld(codeToUsage(this.keyCode(code)));
    let changed = false;
    for (const code of staleModifiers(e, held)) changed = this.sender.key(codeToUsage(this.keyCode(code)), false) || changed;
    if (changed) this.changed(true);
  }

  locked() { return this.doc.pointerLockElement === this.video; }

  point(e) {
    return remotePoint(this.video.getBoundingClientRect(), this.video.videoWidth, this.video.videoHeight,
      e.clientX, e.clientY, ...screenSize(this.video));
  }

  /** Listens to the stage, the video and the window, and starts the heartbeat and pad polling. */
  start() {
    const { stage, video, win, doc } = this;
    const pass = (code, down) => {
      const usage = codeToUsage(this.keyCode(code));
      if (usage !== undefined && this.sender.key(usage, down)) this.changed(true);
    };
    const altGr = new AltGrFilter({ windows: onWindows(this.nav), emit: pass, timers: this.timers });
    const mac = onMac(this.nav);
    const key = (down) => (e) => {
      this.syncModifiers(e, e.code);
      const locks = lockStates(e, mac);
      if (locks) this.sender.setLocks(locks.caps, locks.num);
      // A key the IME takes is its own; a release always goes (it cannot leave a key held).
      if (down && composing(e)) return;
      if (down && isPasteKey(e)) return;
      if (codeToUsage(this.keyCode(e.code)) === undefined) return;
      e.preventDefault();
      altGr.key(e.code, down, e.timeStamp);
      if (!down && !MODIFIER_CODES.has(e.code)) this.onKeyTyped(e.code);
    };
    stage.addEventListener('keydown', key(true));
    stage.addEventListener('keyup', key(false));
    this.startText();
    const releaseAll = () => { this.sender.releaseAll(); this.changed(true); };
    win.addEventListener('blur', releaseAll);
    doc.addEventListener('visibilitychange', () => { if (doc.hidden) releaseAll(); });

    // Fingers are phone.js's (touch gestures); a mouse and a pen are handled here.
    const finger = (e) => e.pointerType === 'touch';
    video.addEventListener('pointermove', (e) => {
      if (finger(e)) return;
      if (this.locked()) {
        this.sender.moveBy(Math.round(e.movementX), Math.round(e.movementY));
        this.changed(true);
        return;
      }
      const p = this.point(e);
      if (!p) return;
      this.sender.pointer(p[0], p[1]);
      this.changed(false);
    });
    video.addEventListener('pointerdown', (e) => {
      if (finger(e)) return;
      if (e.pointerType === 'pen' && !this.penSaid) {
        this.penSaid = true;
        this.onPen();
      }
      this.syncModifiers(e);
      this.focus();
      if (!this.locked()) {
        const p = this.point(e);
        if (p) this.sender.pointer(p[0], p[1]);
      }
      if (e.button >= 0 && e.button <= 4 && this.sender.button(e.button, true)) this.changed(true);
      e.preventDefault();
    });
    // The mouse's back and forward buttons go to the host, and must not also take the browser
    // back or forward (ending the session): browsers navigate on their release unless it is
    // cancelled (Chromium looks at pointerup, as the page's pointerdown suppresses the mouse
    // events; others at mouseup or auxclick).
    const keepPage = (e) => { if (e.button === 3 || e.button === 4) e.preventDefault(); };
    win.addEventListener('pointerup', (e) => {
      if (finger(e)) return;
      keepPage(e);
      if (e.button >= 0 && e.button <= 4 && this.sender.button(e.button, false)) this.changed(true);
    });
    for (const type of ['mouseup', 'auxclick']) win.addEventListener(type, keepPage);
    video.addEventListener('contextmenu', (e) => e.preventDefault());
    video.addEventListener('wheel', (e) => {
      this.syncModifiers(e);
      e.preventDefault();
      const notches = this.wheel.add(e.deltaX, e.deltaY, e.deltaMode, [e.wheelDeltaX ?? 0, e.wheelDeltaY ?? 0]);
      if (notches) {
        this.sender.wheel(notches[0], notches[1]);
        this.changed(true);
      }
    }, { passive: false });
    doc.addEventListener('pointerlockchange', () => { if (this.locked()) this.sender.clearPointer(); });

    this.timers.setInterval(() => this.tick(), HEARTBEAT_MS / 2);
    this.timers.setInterval(() => this.pollPads(), PAD_POLL_MS);
  }

  /** Text: what an IME composed and what is pasted onto the stage. */
  startText() {
    const { stage, textInput } = this;
    stage.addEventListener('compositionend', (e) => {
      if (e.data) this.sendText(clipText(e.data));
      if (textInput) textInput.value = '';
    });
    stage.addEventListener('paste', (e) => {
      e.preventDefault(); // nothing lands in the field itself
      const text = e.clipboardData?.getData('text/plain');
      if (!text) return;
      this.onPaste(text);
      this.sendText(clipText(text));
    });
    if (!textInput) return;
    // Outside a composition, what reaches the field is a phone keyboard's typing or a key the
    // keymap lacks: it goes as text (Backspace and Enter as keys), and the field stays empty.
    textInput.addEventListener('input', (e) => {
      if (e.isComposing) return;
      if (e.inputType === 'insertText' && e.data) {
        if (!this.onTypedText(e.data)) this.sendText(clipText(e.data));
      }
      else if (e.inputType === 'deleteContentBackward') this.tap('Backspace');
      else if (e.inputType === 'insertLineBreak') this.tap('Enter');
      textInput.value = '';
    });
    // Focus given to the stage (a click on the bar's buttons gives it back, so do tests) goes
    // on into the field, where an IME can run.
    stage.addEventListener('focus', () => textInput.focus({ preventScroll: true }));
  }

  /** Presses or releases the key `code` (KeyboardEvent.code), as a key event would. */
  key(code, down) {
    const usage = codeToUsage(this.keyCode(code));
    if (usage !== undefined && this.sender.key(usage, down)) this.changed(true);
  }

  /** A press and a release of `code`. */
  tap(code) {
    this.key(code, true);
    this.key(code, false);
    if (!MODIFIER_CODES.has(code)) this.onKeyTyped(code);
  }

  /** Gives the keyboard to the stage. */
  focus() {
    if (this.textInput) this.textInput.focus({ preventScroll: true });
    else this.stage.focus();
  }

  /** Captures the mouse (relative motion, for games). */
  lockPointer() {
    this.focus();
    this.video.requestPointerLock?.();
  }
}
