// Touch: a phone or tablet drives the host with its fingers. Two modes, as Moonlight's and
// RDP clients' touch modes:
// - direct: a tap clicks where the finger is; a long press is a right click; one finger that
//   moves drags with the left button; two fingers scroll (the remote's wheel), pinch zooms the
//   page's view of the picture (not the remote), and pan it while zoomed;
// - trackpad: the finger moves the remote pointer relatively; a tap clicks where the pointer is
//   (TAP_DRAG_MS after the tap, since a touch that follows and moves makes it a drag), a
//   two-finger tap right-clicks, a tap then touch-and-move drags, two fingers scroll.
//
// `TouchGestures` is the state machine alone: touch points in (client CSS px, ms), actions out.
// Nothing here touches the DOM; controls.js feeds it pointer events and carries out the actions.

/** A finger that travels less than this (CSS px) has not moved: a tap or a long press. */
export const SLOP_PX = 10;
/** Held this long without moving: a right click (direct mode). */
export const LONG_PRESS_MS = 500;
/** A touch shorter than this is a tap (trackpad mode; direct mode taps until the long press). */
export const TAP_MS = 250;
/** A touch this soon after a tap, then moving, drags (trackpad mode). */
export const TAP_DRAG_MS = 300;
/** Two fingers travel this far (CSS px) per wheel notch. */
export const WHEEL_STEP_PX = 30;
/** Two fingers whose distance changes by this ratio pinch (zoom) rather than scroll. */
export const PINCH_RATIO = 1.2;
/** Pointer travel on the host per CSS px of finger travel, trackpad mode (× the picture's scale). */
export const TRACKPAD_GAIN = 1.5;

const dist = (a, b) => Math.hypot(a.x - b.x, a.y - b.y);
const mid = (a, b) => ({ x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 });

/**
 * Actions, to `emit`:
 * - `{kind: 'point', x, y}`: the pointer to client point (x, y) (direct);
 * - `{kind: 'nudge', dx, dy}`: the pointer moves by (dx, dy) client px (trackpad);
 * - `{kind: 'button', button, down}` (0 left, 2 right);
 * - `{kind: 'wheel', dx, dy}`: notches, positive dy scrolls down;
 * - `{kind: 'zoom', factor, x, y}`: the view scales by `factor` about client point (x, y);
 * - `{kind: 'pan', dx, dy}`: the zoomed view moves by (dx, dy) client px.
 */
export class TouchGestures {
  /**
   * @param {object} o
   * @param {(action: object) => void} o.emit
   * @param {() => boolean} [o.zoomed] whether the view is zoomed (two fingers then pan)
   * @param {{setTimeout: Function, clearTimeout: Function}} [o.timers]
   * @param {'direct'|'trackpad'} [o.mode]
   */
  constructor({ emit, zoomed = () => false, timers = globalThis, mode = 'direct' }) {
    Object.assign(this, { emit, zoomed, timers, mode });
    this.touches = new Map(); // id → {x, y, t}
    this.tapTimer = null; // a trackpad tap's click, waiting to see whether a drag follows
    this.reset();
    this.lastTapAt = -Infinity;
  }

  reset() {
    this.state = 'idle'; // idle, pending, drag, long, two, done
    this.start = null; // the first finger at its start {id, x, y, t}
    this.last = null; // where the moving finger was last
    this.timer = null;
    this.two = null; // {dist, mid, pinch, moved, wheel: {x, y}, t}
    this.held = null; // the button a drag holds
  }

  setMode(mode) {
    this.cancelAll();
    this.mode = mode;
  }

  cancelTap() {
    if (this.tapTimer) this.timers.clearTimeout(this.tapTimer);
    this.tapTimer = null;
  }

  clearTimer() {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  down(id, x, y, t) {
    this.touches.set(id, { x, y, t });
    if (this.touches.size === 1 && this.state === 'idle') {
      this.start = { id, x, y, t };
      this.last = { x, y };
      this.state = 'pending';
      if (this.mode === 'direct') {
        this.timer = this.timers.setTimeout(() => this.longPress(), LONG_PRESS_MS);
      } else if (t - this.lastTapAt < TAP_DRAG_MS) {
        // The tap waiting for its click becomes a drag, or a double click.
        this.state = 'tapdrag';
        this.cancelTap();
      }
      return;
    }
    if (this.touches.size === 2 && ['pending', 'tapdrag', 'drag'].includes(this.state)) {
      if (this.state === 'tapdrag') this.click(0);
      this.clearTimer();
      this.release();
      const [a, b] = [...this.touches.values()];
      this.state = 'two';
      this.two = { dist: dist(a, b), mid: mid(a, b), origin: mid(a, b), pinch: false, moved: false, wheel: { x: 0, y: 0 }, t };
      return;
    }
    // A third finger, or a finger after a gesture ended: ignored until all are up.
    if (this.state !== 'idle') this.endGesture();
  }

  move(id, x, y) {
    const touch = this.touches.get(id);
    if (!touch) return;
    touch.x = x;
    touch.y = y;
    if (this.state === 'two') return this.moveTwo();
    if (!this.start || id !== this.start.id) return undefined;
    const far = dist(this.start, { x, y }) > SLOP_PX;
    // Until the finger leaves the slop it has not moved; then it moves from where it began.
    if (this.state === 'pending' || this.state === 'tapdrag') this.last = { x: this.start.x, y: this.start.y };
    if (this.state === 'pending' && far) {
      this.clearTimer();
      this.state = this.mode === 'direct' ? 'drag' : 'moving';
      if (this.mode === 'direct') {
        this.emit({ kind: 'point', x: this.start.x, y: this.start.y });
        this.press(0);
      }
    }
    if (this.state === 'tapdrag' && far) {
      this.state = 'drag';
      this.press(0);
    }
    if (this.state === 'drag' && this.mode === 'direct') this.emit({ kind: 'point', x, y });
    if (this.mode === 'trackpad' && (this.state === 'moving' || this.state === 'drag')) {
      this.emit({ kind: 'nudge', dx: x - this.last.x, dy: y - this.last.y });
    }
    this.last = { x, y };
    return undefined;
  }

  moveTwo() {
    const [a, b] = [...this.touches.values()];
    const two = this.two;
    const m = mid(a, b);
    const d = dist(a, b);
    const ratio = two.dist > 0 ? d / two.dist : 1;
    if (!two.pinch && !two.moved && (ratio > PINCH_RATIO || ratio < 1 / PINCH_RATIO)) two.pinch = true;
    if (two.pinch) {
      this.emit({ kind: 'zoom', factor: ratio, x: m.x, y: m.y });
      this.emit({ kind: 'pan', dx: m.x - two.mid.x, dy: m.y - two.mid.y });
      two.dist = d;
    } else if (dist(m, two.mid) > 0) {
      if (dist(m, two.origin) > SLOP_PX) two.moved = true;
      if (this.zoomed()) {
        this.emit({ kind: 'pan', dx: m.x - two.mid.x, dy: m.y - two.mid.y });
      } else {
        // Fingers moving up pull the page up: the content scrolls down.
        two.wheel.x += two.mid.x - m.x;
        two.wheel.y += two.mid.y - m.y;
        const dx = Math.trunc(two.wheel.x / WHEEL_STEP_PX);
        const dy = Math.trunc(two.wheel.y / WHEEL_STEP_PX);
        if (dx || dy) {
          two.wheel.x -= dx * WHEEL_STEP_PX;
          two.wheel.y -= dy * WHEEL_STEP_PX;
          this.emit({ kind: 'wheel', dx, dy });
        }
      }
    }
    two.mid = m;
  }

  up(id, x, y, t) {
    if (!this.touches.has(id)) return;
    this.touches.delete(id);
    const first = this.start && id === this.start.id;
    if (this.state === 'pending' && first) {
      this.clearTimer();
      if (this.mode === 'direct') {
        this.emit({ kind: 'point', x, y });
        this.click(0);
      } else if (t - this.start.t < TAP_MS) {
        // A trackpad tap clicks once no touch follows within TAP_DRAG_MS: a touch that does
        // and moves is a drag, which must not begin with a click of its own (X would see a
        // double click, and select words).
        this.lastTapAt = t;
        this.cancelTap();
        this.tapTimer = this.timers.setTimeout(() => { this.tapTimer = null; this.click(0); }, TAP_DRAG_MS);
      }
      this.reset();
    } else if (this.state === 'tapdrag' && first) {
      // Touched again without moving: a second tap (a double click).
      this.click(0);
      this.click(0);
      this.lastTapAt = -Infinity;
      this.reset();
    } else if (this.state === 'two') {
      // A two-finger tap: a right click, at the pointer (trackpad) or between the fingers.
      const two = this.two;
      if (!two.moved && !two.pinch && t - two.t < TAP_MS * 2) {
        if (this.mode === 'direct') {
          const other = [...this.touches.values()][0] ?? { x, y };
          const m = mid(other, { x, y });
          this.emit({ kind: 'point', x: m.x, y: m.y });
        }
        this.click(2);
      }
      this.endGesture();
    } else if (this.state === 'drag' || this.state === 'moving' || this.state === 'long') {
      if (this.state === 'drag' && this.mode === 'direct') this.emit({ kind: 'point', x, y });
      this.endGesture();
    }
    if (this.touches.size === 0 && this.state === 'done') this.reset();
  }

  /** The browser took the touches (a system gesture): whatever is held is let go. */
  cancelAll() {
    this.cancelTap();
    this.clearTimer();
    this.release();
    this.touches.clear();
    this.reset();
  }

  longPress() {
    this.timer = null;
    if (this.state !== 'pending') return;
    this.emit({ kind: 'point', x: this.start.x, y: this.start.y });
    this.click(2);
    this.state = 'long';
  }

  press(button) {
    this.held = button;
    this.emit({ kind: 'button', button, down: true });
  }

  release() {
    if (this.held === null) return;
    this.emit({ kind: 'button', button: this.held, down: false });
    this.held = null;
  }

  click(button) {
    this.emit({ kind: 'button', button, down: true });
    this.emit({ kind: 'button', button, down: false });
  }

  endGesture() {
    this.clearTimer();
    this.release();
    this.state = this.touches.size === 0 ? 'idle' : 'done';
    if (this.state === 'idle') this.reset();
  }
}

/**
 * The page's view of the picture: a zoom about a point and a pan, clamped so the picture
 * always covers what it covered at 1× (never zoomed out past the whole screen).
 */
export class View {
  constructor(maxScale = 5) {
    this.maxScale = maxScale;
    this.reset();
  }

  reset() { this.scale = 1; this.x = 0; this.y = 0; }

  get zoomed() { return this.scale > 1.01; }

  /** Scales by `factor` about point (px, py), in the element's own px from its top-left. */
  zoom(factor, px, py, width, height) {
    const next = Math.min(this.maxScale, Math.max(1, this.scale * factor));
    const f = next / this.scale;
    // The point under the fingers stays under them.
    this.x = px - (px - this.x) * f;
    this.y = py - (py - this.y) * f;
    this.scale = next;
    this.clamp(width, height);
  }

  pan(dx, dy, width, height) {
    this.x += dx;
    this.y += dy;
    this.clamp(width, height);
  }

  clamp(width, height) {
    this.x = Math.min(0, Math.max(width - width * this.scale, this.x));
    this.y = Math.min(0, Math.max(height - height * this.scale, this.y));
    if (!this.zoomed) this.reset();
  }

  /** The CSS transform (with `transform-origin: 0 0`). */
  get css() { return this.zoomed ? `translate(${this.x}px, ${this.y}px) scale(${this.scale})` : ''; }
}
