// The page on a phone or tablet: fingers on the picture (touch.js's gestures, carried out on
// the input controls), the page's zoomed view of the picture, the trackpad mode's pointer, and
// the on-screen keyboard with a row of the keys phones lack.
//
// Nothing runs at import; the elements come as arguments.

import { TouchGestures, View, TRACKPAD_GAIN } from './touch.js';
import { pagePoint, screenSize, screenPerVideo } from './pointers.js';

/** Whether this device has a touch screen. */
export function hasTouch(win = globalThis.window) {
  return (win?.navigator?.maxTouchPoints ?? 0) > 0 || win?.matchMedia?.('(pointer: coarse)')?.matches === true;
}

/** The key row's keys: label → KeyboardEvent.code. Ctrl and Alt stay held until the next key. */
export const KEY_ROW = [
  ['Esc', 'Escape'], ['Tab', 'Tab'], ['Ctrl', 'ControlLeft'], ['Alt', 'AltLeft'],
  ['←', 'ArrowLeft'], ['↑', 'ArrowUp'], ['↓', 'ArrowDown'], ['→', 'ArrowRight'],
];
const STICKY = new Set(['ControlLeft', 'AltLeft']);

/**
 * The key (KeyboardEvent.code, US positions) that types character `ch` unshifted, for a
 * letter, a digit or common punctuation; null for anything else. With Ctrl or Alt held from
 * the key row, a character from the phone's keyboard goes as this key (Ctrl+C), not as text.
 */
export function codeForChar(ch) {
  if (/^[a-z]$/i.test(ch)) return `Key${ch.toUpperCase()}`;
  if (/^[0-9]$/.test(ch)) return `Digit${ch}`;
  const punctuation = {
    ' ': 'Space', '-': 'Minus', '=': 'Equal', '[': 'BracketLeft', ']': 'BracketRight', '\\': 'Backslash',
    ';': 'Semicolon', "'": 'Quote', ',': 'Comma', '.': 'Period', '/': 'Slash', '`': 'Backquote',
  };
  return punctuation[ch] ?? null;
}

/** A click this soon after a touch's pointerup on the same button is that tap's, already acted on. */
const TAP_CLICK_MS = 1000;

/**
 * Makes every button in `container` act on a finger's pointerup: Chromium eats the click of a
 * tap that comes right after a drag (it takes the tap as the end of a fling), and these buttons
 * are tapped right after using the picture. The tap's pointerup clicks the button itself (a
 * touch's pointerup is a user activation, so fullscreen and the phone's keyboard are allowed);
 * the browser's own click that may follow is skipped. A mouse or the keyboard (Enter, Space)
 * acts on the click as usual, even right after a tap. A finger does not take the focus (the
 * text field keeps it, and the phone its keyboard).
 */
export function tapsAsClicks(container) {
  let tapped = null;
  let tappedAt = -Infinity;
  const button = (e) => e.target?.closest?.('button') ?? null;
  container.addEventListener('pointerdown', (e) => {
    if (e.pointerType === 'touch' && button(e)) e.preventDefault();
  });
  container.addEventListener('pointerup', (e) => {
    const b = e.pointerType === 'touch' ? button(e) : null;
    if (!b || b.disabled) return;
    tapped = b;
    tappedAt = e.timeStamp;
    b.click();
  });
  // Capture phase: the skipped click never reaches the button's own listeners. A click names
  // its pointer (a PointerEvent); a mouse's or the keyboard's ('') acts even right after a tap
  // (a laptop with a touch screen), one that does not say is taken as the tap's.
  container.addEventListener('click', (e) => {
    const touchClick = e.pointerType === 'touch' || e.pointerType === undefined;
    if (!e.isTrusted || !touchClick || button(e) !== tapped || e.timeStamp - tappedAt >= TAP_CLICK_MS) return;
    e.stopImmediatePropagation();
    e.preventDefault();
  }, true);
}

export class TouchInput {
  /**
   * @param {object} o
   * @param {import('./controls.js').InputControls} o.controls
   * @param {HTMLVideoElement} o.video
   * @param {HTMLElement} o.stage, o.layer (the pointers' layer), o.trackpadButton, o.keyboardButton, o.keyRow
   */
  constructor(o) {
    Object.assign(this, { timers: globalThis, doc: globalThis.document, ...o });
    this.view = new View();
    this.cursor = null; // the remote pointer, trackpad mode: [x, y] host px
    this.sticky = new Set(); // Ctrl, Alt held from the key row
    this.gestures = new TouchGestures({ emit: (a) => this.act(a), zoomed: () => this.view.zoomed, timers: this.timers });
    // Text from the phone's keyboard while Ctrl or Alt is held from the key row is a shortcut;
    // any other key (Backspace, Enter) takes them too, and then they let go.
    this.controls.onTypedText = (text) => this.typedWithModifiers(text);
    this.controls.onKeyTyped = () => { if (this.sticky.size) this.releaseSticky(); };
    this.controls.pinned = this.sticky;
  }

  /**
   * Text typed on the phone's keyboard: with Ctrl or Alt held from the key row, one character
   * goes as its key with them (Ctrl+C), and they are let go; returns whether it was taken.
   */
  typedWithModifiers(text) {
    if (!this.sticky.size) return false;
    const code = [...text].length === 1 ? codeForChar(text) : null;
    // An upper-case letter is Shift with it (Ctrl+Shift+C copies in a terminal).
    const shift = code !== null && /^[A-Z]$/.test(text);
    if (shift) this.controls.key('ShiftLeft', true);
    if (code) this.controls.tap(code);
    if (shift) this.controls.key('ShiftLeft', false);
    this.releaseSticky();
    return code !== null;
  }

  releaseSticky() {
    for (const held of this.sticky) this.controls.key(held, false);
    this.sticky.clear();
    for (const b of this.keyRow.querySelectorAll('[aria-pressed="true"]')) b.setAttribute('aria-pressed', 'false');
  }

  get mode() { return this.gestures.mode; }

  /**
   * The picture's scale (CSS px per host px, at 1×) and the host screen's size in host px
   * (`vw`×`vh`; the video may be a smaller picture of it).
   */
  picture() {
    const { video } = this;
    const vw = video.videoWidth;
    const vh = video.videoHeight;
    if (!vw || !vh) return null;
    const [sw, sh] = screenSize(video);
    const kx = screenPerVideo(vw, sw);
    const ky = screenPerVideo(vh, sh);
    const scale = (Math.min(video.clientWidth / vw, video.clientHeight / vh) * this.view.scale) / kx;
    return { vw: kx === 1 ? vw : sw, vh: ky === 1 ? vh : sh, scale };
  }

  act(a) {
    const { controls } = this;
    switch (a.kind) {
      case 'point': {
        const p = controls.point({ clientX: a.x, clientY: a.y });
        if (!p) return;
        this.cursor = p;
        controls.sender.pointer(p[0], p[1]);
        controls.changed(false);
        break;
      }
      case 'nudge': {
        const pic = this.picture();
        if (!pic) return;
        const [x, y] = this.cursor ?? [pic.vw / 2, pic.vh / 2];
        const k = TRACKPAD_GAIN / pic.scale;
        const clamp = (v, max) => Math.round(Math.min(max - 1, Math.max(0, v)));
        this.cursor = [clamp(x + a.dx * k, pic.vw), clamp(y + a.dy * k, pic.vh)];
        controls.sender.pointer(this.cursor[0], this.cursor[1]);
        controls.changed(false);
        this.drawCursor();
        break;
      }
      case 'button':
        if (this.mode === 'trackpad' && this.cursor) controls.sender.pointer(this.cursor[0], this.cursor[1]);
        if (controls.sender.button(a.button, a.down)) controls.changed(true);
        break;
      case 'wheel':
        controls.sender.wheel(a.dx, a.dy);
        controls.changed(true);
        break;
      case 'zoom': case 'pan': {
        const r = this.stage.getBoundingClientRect();
        if (a.kind === 'zoom') this.view.zoom(a.factor, a.x - r.left, a.y - r.top, r.width, r.height);
        else this.view.pan(a.dx, a.dy, r.width, r.height);
        this.applyView();
        break;
      }
      default:
    }
  }

  /** Trackpad mode's pointer, drawn where the host's is (its cursor is not in the picture). */
  drawCursor() {
    if (!this.mark) {
      this.mark = this.doc.createElement('div');
      this.mark.id = 'touch-cursor';
      this.layer.append(this.mark);
    }
    const { video } = this;
    const at = this.cursor && pagePoint(video.clientWidth, video.clientHeight, video.videoWidth, video.videoHeight,
      ...this.cursor, ...screenSize(video));
    this.mark.hidden = this.mode !== 'trackpad' || !at;
    if (at) this.mark.style.transform = `translate(${at[0]}px, ${at[1]}px)`;
  }

  setMode(mode) {
    this.gestures.setMode(mode);
    // The trackpad's pointer starts where its ring is drawn: at the middle of the picture, where
    // the host's pointer is moved too (the page cannot see the host's own pointer).
    const pic = this.picture();
    if (mode === 'trackpad' && pic) {
      this.cursor = [Math.round(pic.vw / 2), Math.round(pic.vh / 2)];
      this.controls.sender.pointer(this.cursor[0], this.cursor[1]);
      this.controls.changed(false);
    }
    this.trackpadButton.setAttribute('aria-pressed', String(mode === 'trackpad'));
    this.drawCursor();
  }

  /** A key from the row: Ctrl and Alt toggle, others tap (then let go of Ctrl and Alt). */
  rowKey(code, button) {
    const { controls } = this;
    if (STICKY.has(code)) {
      const on = !this.sticky.has(code);
      if (on) this.sticky.add(code); else this.sticky.delete(code);
      button.setAttribute('aria-pressed', String(on));
      controls.key(code, on);
      return;
    }
    controls.tap(code);
    this.releaseSticky();
  }

  applyView() {
    this.video.style.transform = this.view.css;
    this.layer.style.transform = this.view.css;
    this.drawCursor();
  }

  start() {
    const { video, doc } = this;
    // A rotated or resized screen lays the picture out anew: the zoom, which was of the old
    // layout, would leave it off screen, so the view goes back to the whole picture.
    (this.win ?? globalThis.window)?.addEventListener?.('resize', () => {
      if (!this.view.zoomed) return;
      this.view.reset();
      this.applyView();
    });
    const touch = (e) => e.pointerType === 'touch';
    video.addEventListener('pointerdown', (e) => {
      if (!touch(e)) return;
      e.preventDefault();
      this.gestures.down(e.pointerId, e.clientX, e.clientY, e.timeStamp);
    });
    video.addEventListener('pointermove', (e) => { if (touch(e)) this.gestures.move(e.pointerId, e.clientX, e.clientY); });
    video.addEventListener('pointerup', (e) => { if (touch(e)) this.gestures.up(e.pointerId, e.clientX, e.clientY, e.timeStamp); });
    video.addEventListener('pointercancel', (e) => { if (touch(e)) this.gestures.cancelAll(); });
    this.trackpadButton.addEventListener('click', () => this.setMode(this.mode === 'trackpad' ? 'direct' : 'trackpad'));
    this.keyboardButton.addEventListener('click', () => {
      this.keyRow.hidden = !this.keyRow.hidden;
      // Focus in the tap: phones raise their keyboard only for a user's gesture.
      if (!this.keyRow.hidden) this.controls.textInput?.focus({ preventScroll: true });
      else this.controls.textInput?.blur();
    });
    for (const [label, code] of KEY_ROW) {
      const b = doc.createElement('button');
      b.type = 'button';
      b.textContent = label;
      b.dataset.code = code;
      if (STICKY.has(code)) b.setAttribute('aria-pressed', 'false');
      // Keep the focus (and so the phone's keyboard) in the text field (a finger: tapsAsClicks).
      b.addEventListener('pointerdown', (e) => e.preventDefault());
      b.addEventListener('click', () => this.rowKey(code, b));
      this.keyRow.append(b);
    }
    tapsAsClicks(this.keyRow);
    const touchDevice = hasTouch(this.win ?? globalThis.window);
    this.trackpadButton.hidden = !touchDevice;
    this.keyboardButton.hidden = !touchDevice;
  }
}
