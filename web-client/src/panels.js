// What the page shows around the picture: the status line, short notices (toasts), the
// player slot, the game's buttons, the game-keys panel and the stats overlay's toggle.
//
// Every element is an argument; nothing runs at import.

import { ACTIONS } from './keybind.js';

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
    this.timers.clearTimeout(this.timer);
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      this.el.textContent = this.steady;
    }, TOAST_MS);
  }

  show(text) {
    this.steady = text;
    if (this.timer === null) this.el.textContent = text;
  }
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

/**
 * The game-keys panel: lists each action's key and, after "Change", takes the next key pressed
 * as its new binding (that key is not sent to the host).
 */
export class KeysPanel {
  /**
   * @param {object} o
   * @param {HTMLElement} o.panel, o.list, o.openButton, o.closeButton, o.resetButton
   * @param {import('./keybind.js').KeyBindings} o.bindings
   * @param {() => void} [o.refocus] gives the keyboard back to the stage
   */
  constructor({ panel, list, openButton, closeButton, resetButton, bindings, refocus = () => {}, doc = globalThis.document }) {
    Object.assign(this, { panel, list, openButton, closeButton, resetButton, bindings, refocus, doc });
    this.capturing = null; // the action waiting for a key
  }

  render() {
    this.list.replaceChildren(...ACTIONS.map(([name]) => {
      const row = this.doc.createElement('div');
      const label = this.doc.createElement('span');
      label.textContent = `${name}: ${this.capturing === name ? 'press a key…' : this.bindings.keyFor(name)}`;
      const change = this.doc.createElement('button');
      change.type = 'button';
      change.textContent = 'Change';
      change.dataset.action = name;
      change.addEventListener('click', () => { this.capturing = name; this.render(); });
      row.append(label, change);
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
    this.openButton.addEventListener('click', () => {
      this.panel.hidden = !this.panel.hidden;
      this.capturing = null;
      this.render();
    });
    this.closeButton.addEventListener('click', () => {
      this.panel.hidden = true;
      this.capturing = null;
      this.refocus();
    });
    this.resetButton.addEventListener('click', () => { this.bindings.reset(); this.render(); });
    win.addEventListener('keydown', (e) => this.onKey(e), { capture: true });
  }
}

/** Whether a key event is the stats overlay's shortcut, Ctrl+Alt+Shift+S. */
export const isStatsShortcut = (e) => e.code === 'KeyS' && e.ctrlKey && e.altKey && e.shiftKey;

/** The stats button and its shortcut, which is not sent to the host. */
export class StatsToggle {
  constructor({ button, overlay, refocus = () => {} }) {
    Object.assign(this, { button, overlay, refocus });
  }

  toggle() {
    this.overlay.toggle();
    this.button.setAttribute('aria-pressed', String(this.overlay.visible));
  }

  start(win = globalThis.window) {
    this.button.addEventListener('click', () => { this.toggle(); this.refocus(); });
    win.addEventListener('keydown', (e) => {
      if (!isStatsShortcut(e)) return;
      e.preventDefault();
      e.stopImmediatePropagation();
      if (!e.repeat) this.toggle();
    }, { capture: true });
  }
}
