// Gamepads the browser reports without the standard mapping (`mapping: ""`), as Firefox on
// Linux does for the common pads: their raw buttons and axes put in the W3C Gamepad standard
// layout (https://w3c.github.io/gamepad/#remapping), which is what the input protocol sends.
//
// Standard layout: buttons 0 bottom face, 1 right, 2 left, 3 top, 4 LB, 5 RB, 6 LT, 7 RT,
// 8 back/select, 9 start, 10 left stick, 11 right stick, 12 up, 13 down, 14 left, 15 right,
// 16 guide; axes 0/1 left stick x/y, 2/3 right stick x/y.

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
 * the standard mapping is as it is; a known raw layout is remapped; an unknown one keeps its
 * first 17 buttons and its left stick only (its other axes could be anything, such as a trigger
 * resting at -1, which as a stick would be held full left).
 */
export function standardize(gp) {
  if (gp.mapping === 'standard') return { buttons: gp.buttons, axes: gp.axes };
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
