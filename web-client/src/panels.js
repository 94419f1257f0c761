// What the page shows around the picture: the status line, short notices (toasts), the
// player slot, the game's buttons, the game-keys panel (keys and pads) and the stats overlay's
// toggle.
//
// Every element is an argument; nothing runs at import.

import { ACTIONS } from './keybind.js';
import { PadBinder, layoutOf } from './gamepads.js';

export const TOAST_MS = 3000;

/** The status line over the picture: a state for tests and styles, and a sentence for people. */
export class StatusLine {
  constructor(el) {
    this.el = el;
    this.state = 'connecting';
  }

  set(state, text) {
    this.state = state;
    this.el.dataset.state = state;
    this.el.textContent = text;
  }
}

/**
 * The info line: a notice that shows for TOAST_MS, or else the stream's size and codec (a
 * steady text that waits while a notice shows, so that it never cuts one short).
 */
export class InfoLine {
  constructor(el, timers = globalThis) {
    this.el = el;
    this.timers = timers;
    this.timer = null;
    this.steady = '';
  }

  toast(text) {
    this.el.textContent = text;
    this.el.title = text;
    this.el.dataset.toast = 'true'; // a narrow screen shows it whole (style.css)
    this.timers.clearTimeout(this.timer);
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      delete this.el.dataset.toast;
      this.el.textContent = this.steady;
      this.el.title = this.steady;
    }, TOAST_MS);
  }

  show(text) {
    this.steady = text;
    if (this.timer === null) this.el.textContent = text;
  }
}

/**
 * The info line's steady text for a `width`×`height` picture in `codec` ("1280×720 H264").
 * When the host's screen (`screen`, [width, height]) is wider, the host scaled the picture
 * down to fit the rate (a narrow link, or a low `--bitrate`: its resolution ladder; the stats
 * overlay says which), and the line says so; with the viewer's own Quality cap (`capKbps`,
 * kbit/s; 0 or missing: Auto) it names that too, since the cap may be what binds.
 */
export function pictureText(width, height, codec, screen, capKbps) {
  const text = `${width}×${height} ${codec || ''}`.trim();
  // A picture of the screen's own size may be a pixel larger (H.264 pads odd sizes).
  const scaled = screen && screen[0] > 0 && width > 0 && width * 1.1 < screen[0];
  if (!scaled) return text;
  if (!(capKbps > 0)) return `${text} · scaled down to fit the rate`;
  const label = qualityLabel(capKbps);
  return `${text} · scaled down to fit the rate (${label[0].toLowerCase()}${label.slice(1)}, your Quality choice)`;
}

/**
 * What the page says when the host ends its part in the session (the `ended` message): the
 * session itself ended, or it goes on without this page (`why`: `removed` by an owner, or
 * `replaced` by this page's own new connection in another tab or window).
 */
export function endedText({ message, why }) {
  if (why === 'removed') return 'You were removed from the session. Reload the page to join again.';
  if (why === 'replaced') return 'This page is open again in another tab or window: the session goes on there.';
  return `The session has ended: ${message}`;
}

/** A wait of `seconds` as a countdown says it: "45 s", "2 min 05 s". */
export function waitText(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/**
 * The Quality choices, kbit/s (0: Auto, what the link carries up to the host's --bitrate): the
 * page's own cap on its picture's rate (signaling's `max-bitrate`), a data saver on a metered
 * link, as Moonlight's and Selkies' bitrate settings. The host never goes over --bitrate.
 */
export const QUALITY_KBPS = Object.freeze([0, 10000, 5000, 2500, 1000, 500]);

/** A Quality choice as the menu says it: "Quality: auto", "Up to 2.5 Mbit/s", "Up to 500 kbit/s". */
export function qualityLabel(kbps) {
  if (!kbps) return 'Quality: auto';
  return kbps >= 1000 ? `Up to ${kbps / 1000} Mbit/s` : `Up to ${kbps} kbit/s`;
}

/**
 * The Quality choices a host offers: Auto and the caps under its `max_kbps` (welcome's, its
 * --bitrate), since a cap at or over it changes nothing; all of them when it is not a number.
 */
export function qualityChoices(maxKbps) {
  if (!(Number.isFinite(maxKbps) && maxKbps > 0)) return [...QUALITY_KBPS];
  return QUALITY_KBPS.filter((kbps) => kbps === 0 || kbps < maxKbps);
}

/** A stored Quality choice: one of QUALITY_KBPS, or Auto (0) for anything else. */
export function savedQuality(text) {
  const kbps = Number(text);
  return QUALITY_KBPS.includes(kbps) ? kbps : 0;
}

/** The player slot of a game ("Player 2", or watching). */
export class PlayerLabel {
  constructor(el) { this.el = el; }

  /** A new connection to a game, or not: a new peer has no player until it sends game input. */
  reset(isGame) {
    this.el.hidden = !isGame;
    this.el.textContent = 'Watching: press a game key or pad button to play';
  }

  set(player) {
    this.el.hidden = false;
    this.el.textContent = player ? `Player ${player}` : 'Watching: all players are taken';
  }
}

/** How often the open Keys panel looks at the pads (the Gamepad API has no events for input). */
export const PAD_POLL_MS = 50;

/**
 * The game-keys panel: lists each action's key and, after "Change", takes the next key pressed
 * as its new binding (that key is not sent to the host). Below, each connected pad without the
 * standard mapping, with "Bind": the panel then asks for each standard control in turn
 * (gamepads.js BIND_STEPS) and takes the raw button or axis the user moves; the binding is kept
 * per pad id (PadBindings) and used from then on.
 */
export class KeysPanel {
  /**
   * @param {object} o
   * @param {HTMLElement} o.panel, o.list, o.openButton, o.closeButton, o.resetButton
   * @param {import('./keybind.js').KeyBindings} o.bindings
   * @param {HTMLElement} [o.padList] where the pads are listed
   * @param {import('./gamepads.js').PadBindings} [o.padBindings]
   * @param {() => void} [o.refocus] gives the keyboard back to the stage
   */
  constructor({
    panel, list, openButton, closeButton, resetButton, bindings, padList = null, padBindings = null,
    refocus = () => {}, doc = globalThis.document, nav = globalThis.navigator, timers = globalThis,
  }) {
    Object.assign(this, { panel, list, openButton, closeButton, resetButton, bindings, padList, padBindings, refocus, doc, nav, timers });
    this.capturing = null; // the action waiting for a key
    this.binder = null; // the pad being bound (PadBinder), with .index
    this.poller = null;
    this.padsSeen = '';
  }

  /** True while a pad is being bound (its presses must not reach the game). */
  get bindingPad() { return this.binder !== null; }

  pads() {
    const list = this.nav?.getGamepads ? this.nav.getGamepads() : [];
    return [...(list || [])].filter((gp) => gp && gp.connected);
  }

  button(text, onClick, data = {}) {
    const b = this.doc.createElement('button');
    b.type = 'button';
    b.textContent = text;
    for (const [k, v] of Object.entries(data)) b.dataset[k] = String(v);
    b.addEventListener('click', onClick);
    return b;
  }

  /** What the panel says of pad `gp`'s layout. */
  layoutText(gp) {
    if (gp.mapping === 'standard') return 'standard mapping';
    if (this.padBindings?.get(gp.id)) return 'your binding';
    if (layoutOf(gp.id)) return 'known layout';
    return 'unknown layout: bind it';
  }

  renderPads() {
    if (!this.padList) return;
    const rows = this.pads().map((gp) => {
      const row = this.doc.createElement('div');
      const label = this.doc.createElement('span');
      const name = `Pad ${gp.index + 1}`;
      if (this.binder && this.binder.index === gp.index) {
        label.textContent = `${name}: press ${this.binder.prompt}…`;
        row.append(label, this.button('Skip', () => { this.binder.skip(); this.progress(); }, { padSkip: gp.index }),
          this.button('Cancel', () => { this.binder = null; this.renderPads(); }, { padCancel: gp.index }));
        return row;
      }
      label.textContent = `${name}: ${this.layoutText(gp)}`;
      label.title = gp.id;
      row.append(label);
      if (gp.mapping !== 'standard' && this.padBindings) {
        row.append(this.button('Bind', () => this.bindPad(gp), { padBind: gp.index }));
        if (this.padBindings.get(gp.id)) {
          row.append(this.button('Forget', () => { this.padBindings.forget(gp.id); this.renderPads(); }, { padForget: gp.index }));
        }
      }
      return row;
    });
    this.padList.replaceChildren(...rows);
  }

  bindPad(gp) {
    this.binder = Object.assign(new PadBinder(gp), { index: gp.index });
    this.renderPads();
  }

  /** A step done or skipped: the next prompt, or the binding saved. */
  progress() {
    if (this.binder?.done) {
      this.padBindings.set(this.binder.id, this.binder.binding);
      this.binder = null;
    }
    this.renderPads();
  }

  /** One look at the pads while the panel is open. */
  pollPads() {
    const pads = this.pads();
    if (this.binder) {
      const gp = pads.find((p) => p.index === this.binder.index && p.id === this.binder.id);
      if (!gp) {
        this.binder = null; // unplugged mid-way
      } else if (this.binder.feed(gp)) {
        this.progress();
        return;
      }
    }
    const seen = pads.map((p) => `${p.index}:${p.id}:${p.mapping}`).join('|') + (this.binder ? '+' : '');
    if (seen !== this.padsSeen) {
      this.padsSeen = seen;
      this.renderPads();
    }
  }

  /** Opens or closes the panel; pads are polled only while it is open. */
  setOpen(open) {
    this.panel.hidden = !open;
    this.capturing = null;
    this.binder = null;
    this.timers.clearInterval?.(this.poller);
    this.poller = null;
    if (open && this.padList) this.poller = this.timers.setInterval(() => this.pollPads(), PAD_POLL_MS);
    this.render();
  }

  render() {
    this.renderPads();
    this.list.replaceChildren(...ACTIONS.map(([name]) => {
      const row = this.doc.createElement('div');
      const label = this.doc.createElement('span');
      label.textContent = `${name}: ${this.capturing === name ? 'press a key…' : this.bindings.keyFor(name)}`;
      row.append(label, this.button('Change', () => { this.capturing = name; this.render(); }, { action: name }));
      return row;
    }));
  }

  /**
   * A key pressed anywhere (listened to in the capture phase, before the stage): while an
   * action waits for its key, the key goes to the binding, not to the host. Returns whether
   * it was taken.
   */
  onKey(e) {
    if (!this.capturing) return false;
    e.preventDefault();
    e.stopImmediatePropagation();
    this.bindings.bind(this.capturing, e.code);
    this.capturing = null;
    this.render();
    return true;
  }

  start(win = globalThis.window) {
    this.openButton.addEventListener('click', () => this.setOpen(this.panel.hidden));
    this.closeButton.addEventListener('click', () => {
      this.setOpen(false);
      this.refocus();
    });
    this.resetButton.addEventListener('click', () => { this.bindings.reset(); this.render(); });
    win.addEventListener('keydown', (e) => this.onKey(e), { capture: true });
  }
}

/** Whether a key event is the stats overlay's shortcut, Ctrl+Alt+Shift+S. */
export const isStatsShortcut = (e) => e.code === 'KeyS' && e.ctrlKey && e.altKey && e.shiftKey;

const SHORTCUT_MODIFIERS = new Set(['ControlLeft', 'ControlRight', 'AltLeft', 'AltRight', 'ShiftLeft', 'ShiftRight']);

/**
 * The stats button and its shortcut, whose S is not sent to the host. Its Ctrl, Alt and Shift
 * went out before the S was known: `onShortcut(since)` is told when the first of them went
 * down (performance.now()), so that their presses are not timed as input-to-photon (they
 * are no input to the picture, and on a still desktop read up to 121 ms).
 */
export class StatsToggle {
  constructor({ button, overlay, refocus = () => {}, onShortcut = () => {}, now = () => performance.now() }) {
    Object.assign(this, { button, overlay, refocus, onShortcut, now });
    this.held = new Set(); // the shortcut's modifiers held now
    this.since = null; // when the first of them went down
  }

  toggle() {
    this.overlay.toggle();
    this.button.setAttribute('aria-pressed', String(this.overlay.visible));
  }

  start(win = globalThis.window) {
    this.button.addEventListener('click', () => { this.toggle(); this.refocus(); });
    win.addEventListener('keydown', (e) => {
      if (SHORTCUT_MODIFIERS.has(e.code)) {
        if (!this.held.size) this.since = this.now();
        this.held.add(e.code);
      }
      if (!isStatsShortcut(e)) return;
      e.preventDefault();
      e.stopImmediatePropagation();
      this.onShortcut(this.since ?? this.now());
      if (!e.repeat) this.toggle();
    }, { capture: true });
    win.addEventListener('keyup', (e) => { this.held.delete(e.code); }, { capture: true });
    win.addEventListener('blur', () => { this.held.clear(); });
  }
}
