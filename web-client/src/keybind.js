// Rebindable game keys. The host maps a few physical keys to the joypad (arrows, X = A,
// Z = B, S = X, A = Y, Enter = Start, Shift = Select, Q/W = L/R). A binding here makes another
// key act as one of those: the page sends the action's default key code instead. Bindings
// live in localStorage, so they persist across sessions on this browser.

import { localStore } from './storage.js';

export const ACTIONS = [
  ['Up', 'ArrowUp'], ['Down', 'ArrowDown'], ['Left', 'ArrowLeft'], ['Right', 'ArrowRight'],
  ['A', 'KeyX'], ['B', 'KeyZ'], ['X', 'KeyS'], ['Y', 'KeyA'],
  ['Start', 'Enter'], ['Select', 'ShiftRight'], ['L', 'KeyQ'], ['R', 'KeyW'],
];
const STORAGE_KEY = 'glint.keys';

export class KeyBindings {
  constructor(storage = localStore()) {
    this.storage = storage;
    /** action name → the key code the user chose */
    this.bound = new Map();
    try {
      const saved = JSON.parse(storage?.getItem(STORAGE_KEY) || '{}');
      for (const [name] of ACTIONS) if (typeof saved[name] === 'string') this.bound.set(name, saved[name]);
    } catch { /* a damaged entry: start from the defaults */ }
  }

  /** The code to send for a physical key `code` (unchanged when it is not bound). */
  translate(code) {
    for (const [name, dflt] of ACTIONS) if (this.bound.get(name) === code) return dflt;
    return code;
  }

  /** The key that triggers `action` now. */
  keyFor(action) {
    return this.bound.get(action) ?? ACTIONS.find(([n]) => n === action)?.[1];
  }

  /** Binds `code` to `action`; a key drives one action only. */
  bind(action, code) {
    for (const [name, c] of this.bound) if (c === code && name !== action) this.bound.delete(name);
    this.bound.set(action, code);
    this.save();
  }

  reset() {
    this.bound.clear();
    this.save();
  }

  save() {
    this.storage?.setItem(STORAGE_KEY, JSON.stringify(Object.fromEntries(this.bound)));
  }
}
