// Gamepads the browser reports without the standard mapping (`mapping: ""`), as Firefox on
// Linux does for the common pads: their raw buttons and axes put in the W3C Gamepad standard
// layout (https://w3c.github.io/gamepad/#remapping), which is what the input protocol sends.
//
// Standard layout: buttons 0 bottom face, 1 right, 2 left, 3 top, 4 LB, 5 RB, 6 LT, 7 RT,
// 8 back/select, 9 start, 10 left stick, 11 right stick, 12 up, 13 down, 14 left, 15 right,
// 16 guide; axes 0/1 left stick x/y, 2/3 right stick x/y.

import { localStore } from './storage.js';

/**
 * Known raw layouts, by USB vendor id (Firefox's `id` begins `vvvv-pppp-`):
 * `buttons[raw] = standard`, trigger axes (rest at -1, full at 1; some drivers report 0 until
 * first moved), right stick axes, and the d-pad hat's x and y axes.
 */
export const LAYOUTS = Object.freeze({
  // Xbox 360 / One / Series pads through Linux's xpad driver.
  xbox: {
    buttons: [0, 1, 2, 3, 4, 5, 8, 9, 16, 10, 11],
    triggers: { 2: 6, 5: 7 },
    rightStick: [3, 4],
    hat: [6, 7],
  },
  // DualShock 4 and DualSense through hid-sony / hid-playstation.
  playstation: {
    buttons: [0, 1, 3, 2, 4, 5, 6, 7, 8, 9, 16, 10, 11],
    triggers: { 2: 6, 5: 7 },
    rightStick: [3, 4],
    hat: [6, 7],
  },
});

const VENDORS = { '045e': 'xbox', '054c': 'playstation' };

/** The layout for pad id `id` (Firefox's `vendor-product-name`, or Chromium's text), or null. */
export function layoutOf(id) {
  const vendor = /^([0-9a-f]{4})-[0-9a-f]{4}-/i.exec(id ?? '')?.[1]?.toLowerCase()
    ?? /Vendor: ([0-9a-f]{4})/i.exec(id ?? '')?.[1]?.toLowerCase();
  if (vendor && VENDORS[vendor]) return LAYOUTS[VENDORS[vendor]];
  if (/x-?box/i.test(id ?? '')) return LAYOUTS.xbox;
  if (/dualshock|dualsense|playstation|wireless controller/i.test(id ?? '')) return LAYOUTS.playstation;
  return null;
}

/**
 * A trigger axis (-1 at rest … 1 full; some drivers say 0 until it first moves) as a 0…1
 * press: its upper half, so that a trigger at rest reads 0 whichever rest value it reports.
 */
export const triggerValue = (v) => Math.max(0, Math.min(1, v ?? 0));

/**
 * Pad `gp` in the standard layout: `{buttons: [{pressed, value}] × 17, axes: [4]}`. A pad with
 * the standard mapping is as it is; one the user bound in the Keys panel follows `custom` (a
 * [`PadBinder`] result); a known raw layout is remapped; an unknown one keeps its first 17
 * buttons and its left stick only (its other axes could be anything, such as a trigger resting
 * at -1, which as a stick would be held full left).
 */
export function standardize(gp, custom = null) {
  if (gp.mapping === 'standard') return { buttons: gp.buttons, axes: gp.axes };
  if (custom) return applyBinding(gp, custom);
  const raw = gp.buttons ?? [];
  const axes = gp.axes ?? [];
  const buttons = Array.from({ length: 17 }, () => ({ pressed: false, value: 0 }));
  const layout = layoutOf(gp.id);
  if (!layout) {
    raw.slice(0, 17).forEach((b, i) => { buttons[i] = b; });
    return { buttons, axes: [axes[0] ?? 0, axes[1] ?? 0, 0, 0] };
  }
  layout.buttons.forEach((std, i) => { if (raw[i]) buttons[std] = raw[i]; });
  for (const [axis, std] of Object.entries(layout.triggers)) {
    // Half way down counts as pressed, as for a standard pad's trigger button.
    const value = triggerValue(axes[axis]);
    if (value > buttons[std].value) buttons[std] = { pressed: value > 0.5, value };
  }
  const [hx, hy] = layout.hat.map((a) => axes[a] ?? 0);
  const dpad = [[12, hy < -0.5], [13, hy > 0.5], [14, hx < -0.5], [15, hx > 0.5]];
  for (const [std, on] of dpad) if (on) buttons[std] = { pressed: true, value: 1 };
  const [rx, ry] = layout.rightStick.map((a) => axes[a] ?? 0);
  return { buttons, axes: [axes[0] ?? 0, axes[1] ?? 0, rx, ry] };
}

// ---- pads the user binds (the Keys panel) ----

/**
 * The standard controls a user binds, in the order the Keys panel asks for them: a button
 * (`button`: its standard index) or a stick axis (`axis`: its standard index; the user pushes
 * it right or down, its positive direction).
 */
export const BIND_STEPS = Object.freeze([
  ['A / Cross (bottom face)', { button: 0 }], ['B / Circle (right face)', { button: 1 }],
  ['X / Square (left face)', { button: 2 }], ['Y / Triangle (top face)', { button: 3 }],
  ['D-pad up', { button: 12 }], ['D-pad down', { button: 13 }],
  ['D-pad left', { button: 14 }], ['D-pad right', { button: 15 }],
  ['Start', { button: 9 }], ['Select / Back', { button: 8 }],
  ['Left bumper (L1)', { button: 4 }], ['Right bumper (R1)', { button: 5 }],
  ['Left trigger (L2)', { button: 6 }], ['Right trigger (R2)', { button: 7 }],
  ['Left stick press (L3)', { button: 10 }], ['Right stick press (R3)', { button: 11 }],
  ['Guide / Home', { button: 16 }],
  ['Left stick: push right', { axis: 0 }], ['Left stick: push down', { axis: 1 }],
  ['Right stick: push right', { axis: 2 }], ['Right stick: push down', { axis: 3 }],
]);

/** How far (of the -1…1 range) an axis must move from rest to count as the user's choice. */
const AXIS_MOVED = 0.6;

/**
 * A source's 0…1 value: a raw button's, or a raw axis's travel from `rest` towards `full`
 * (±1), so that a trigger resting at -1 and a hat resting at 0 both read 0 at rest.
 */
function sourceValue(gp, src) {
  if (!src) return 0;
  if (src.button !== undefined) {
    const b = gp.buttons?.[src.button];
    return Math.max(b?.value ?? 0, b?.pressed ? 1 : 0);
  }
  const v = gp.axes?.[src.axis] ?? src.rest;
  const span = src.full - src.rest;
  return span === 0 ? 0 : Math.max(0, Math.min(1, (v - src.rest) / span));
}

/** Pad `gp` through a user's binding (see [`PadBinder`]), in the standard layout. */
export function applyBinding(gp, binding) {
  const buttons = Array.from({ length: 17 }, (_, i) => {
    const value = sourceValue(gp, binding.buttons?.[i]);
    return { pressed: value > 0.5, value };
  });
  const axes = [0, 1, 2, 3].map((i) => {
    const a = binding.axes?.[i];
    return a ? Math.max(-1, Math.min(1, (gp.axes?.[a.axis] ?? 0) * a.sign)) : 0;
  });
  return { buttons, axes };
}

/**
 * Binding one pad, step by step (BIND_STEPS): the first raw button pressed, or raw axis moved
 * well away from where it rested when binding began, becomes the step's source; the next step
 * waits until everything is back at rest. A step the pad lacks is skipped. Sans-DOM: fed the
 * pad's state on each poll.
 */
export class PadBinder {
  /** `gp`: the pad at rest (its id is the binding's key). */
  constructor(gp) {
    this.id = gp.id;
    this.rest = (gp.axes ?? []).map((v) => v ?? 0);
    this.held = (gp.buttons ?? []).map((b) => Boolean(b?.pressed)); // held at the start: ignored
    this.step = 0;
    this.binding = { buttons: new Array(17).fill(null), axes: new Array(4).fill(null) };
    this.last = null; // the source just taken: the next step waits for its release
  }

  get done() { return this.step >= BIND_STEPS.length; }

  /** The label of the control to press now, or null when done. */
  get prompt() { return this.done ? null : BIND_STEPS[this.step][0]; }

  skip() { if (!this.done) this.step += 1; }

  /** The pad's state now; returns true when this poll took a source for the step. */
  feed(gp) {
    if (this.done) return false;
    if (this.last) {
      // A trigger that said 0 until it first moved rests at -1 from then on.
      const l = this.last;
      if (l.axis !== undefined) {
        const v = gp.axes?.[l.axis] ?? l.rest;
        if ((l.full > 0 && v < l.rest) || (l.full < 0 && v > l.rest)) l.rest = v;
        this.rest[l.axis] = l.rest;
      }
      if (sourceValue(gp, this.last) > 0.2) return false;
      this.last = null;
    }
    const src = this.moved(gp);
    if (!src) return false;
    const [, target] = BIND_STEPS[this.step];
    if (target.button !== undefined) {
      this.binding.buttons[target.button] = src;
    } else if (src.axis !== undefined) {
      this.binding.axes[target.axis] = { axis: src.axis, sign: src.full };
    } else {
      return false; // a button for a stick direction: wait for the stick
    }
    this.last = src;
    this.step += 1;
    return true;
  }

  /** The first raw button newly pressed or axis moved from rest, as a source. */
  moved(gp) {
    const buttons = gp.buttons ?? [];
    for (let i = 0; i < buttons.length; i += 1) {
      const pressed = Boolean(buttons[i]?.pressed);
      if (!pressed) this.held[i] = false;
      else if (!this.held[i]) return { button: i };
    }
    const axes = gp.axes ?? [];
    for (let i = 0; i < axes.length; i += 1) {
      const rest = this.rest[i] ?? 0;
      const d = (axes[i] ?? rest) - rest;
      if (Math.abs(d) > AXIS_MOVED) return { axis: i, rest, full: d > 0 ? 1 : -1 };
    }
    return null;
  }
}

const PADS_KEY = 'glint.pads';

/** The user's pad bindings, by pad id, kept in localStorage for this browser. */
export class PadBindings {
  constructor(storage = localStore()) {
    this.storage = storage;
    this.byId = new Map();
    try {
      const saved = JSON.parse(storage?.getItem(PADS_KEY) || '{}');
      for (const [id, b] of Object.entries(saved)) {
        if (Array.isArray(b?.buttons) && Array.isArray(b?.axes)) this.byId.set(id, b);
      }
    } catch { /* a damaged entry: no bindings */ }
  }

  get(id) { return this.byId.get(id) ?? null; }

  set(id, binding) { this.byId.set(id, binding); this.save(); }

  forget(id) { this.byId.delete(id); this.save(); }

  save() {
    try {
      this.storage?.setItem(PADS_KEY, JSON.stringify(Object.fromEntries(this.byId)));
    } catch { /* storage full or refused: the binding lasts this page only */ }
  }
}
