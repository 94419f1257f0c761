// Other members' pointers over the picture. The host's own cursor is not in the picture, so a
// viewer sees where the member in control points from the host's `pointer` messages, and any
// member can show the others a "look here" pointer (a click on the picture while watching).
//
// Nothing runs at import; the layer, the video and the timers are arguments.

/** A "look here" pointer shows this long. */
export const LOOK_MS = 3000;
/** A controller's pointer hides after this long without moving. */
export const IDLE_MS = 5000;

/**
 * The host screen's size for `video`, [width, height] px: what the host's `screen` message
 * said (kept on the element by `setScreen`), else the video's own size. On a narrow link the
 * host codes a smaller picture of the same screen (its resolution ladder), so pointers map to
 * the screen, never to the video's pixels.
 */
export function screenSize(video) {
  const w = Number(video.dataset?.screenWidth);
  const h = Number(video.dataset?.screenHeight);
  return w > 0 && h > 0 ? [w, h] : [video.videoWidth, video.videoHeight];
}

/** Keeps the host's `screen` message on the video element, for `screenSize`. */
export function setScreen(video, width, height) {
  video.dataset.screenWidth = String(width);
  video.dataset.screenHeight = String(height);
}

/**
 * Screen pixels per video pixel along one side: 1 when the video is the screen (or the screen
 * plus the one pixel H.264 pads an odd size with), else `screen / video` (a scaled picture).
 */
export function screenPerVideo(video, screen) {
  return !screen || video === screen || video === screen + 1 ? 1 : screen / video;
}

/**
 * Where host pixel (x, y) is drawn in a `width`×`height` element showing a `vw`×`vh` picture
 * of an `sw`×`sh` screen with `object-fit: contain`, as [left, top] px from the element's
 * corner (the pixel's middle); null before the picture's size is known. The inverse of
 * controls.js `remotePoint`.
 */
export function pagePoint(width, height, vw, vh, x, y, sw = vw, sh = vh) {
  if (!vw || !vh) return null;
  const scale = Math.min(width / vw, height / vh);
  const offX = (width - vw * scale) / 2;
  const offY = (height - vh * scale) / 2;
  const kx = screenPerVideo(vw, sw);
  const ky = screenPerVideo(vh, sh);
  return [offX + ((x + 0.5) / kx) * scale, offY + ((y + 0.5) / ky) * scale];
}

export class Pointers {
  /**
   * @param {object} o
   * @param {HTMLElement} o.layer an element over the video, the same size
   * @param {HTMLVideoElement} o.video
   * @param {(peer: number) => string} o.nameOf a member's name
   */
  constructor({ layer, video, nameOf, timers = globalThis, doc = globalThis.document }) {
    Object.assign(this, { layer, video, nameOf, timers, doc });
    this.marks = new Map(); // peer → { el, timer, x, y } (the host pixel it points at)
  }

  /** Where host pixel (x, y) is drawn now, [left, top] px in the layer; null before a picture. */
  at(x, y) {
    return pagePoint(this.video.clientWidth, this.video.clientHeight, this.video.videoWidth, this.video.videoHeight, x, y,
      ...screenSize(this.video));
  }

  /** A `pointer` message: member `peer` points at host pixel (x, y). */
  show({ peer, x, y, look }) {
    const at = this.at(x, y);
    if (!at) return;
    let mark = this.marks.get(peer);
    if (!mark) {
      const el = this.doc.createElement('div');
      el.className = 'pointer';
      el.dataset.peer = String(peer);
      el.append(this.doc.createElement('span'));
      this.layer.append(el);
      mark = { el, timer: null };
      this.marks.set(peer, mark);
    }
    mark.el.dataset.look = String(look === true);
    mark.el.firstChild.textContent = this.nameOf(peer);
    Object.assign(mark, { x, y });
    mark.el.style.transform = `translate(${at[0]}px, ${at[1]}px)`;
    mark.el.hidden = false;
    this.timers.clearTimeout(mark.timer);
    mark.timer = this.timers.setTimeout(() => { mark.el.hidden = true; }, look ? LOOK_MS : IDLE_MS);
  }

  /**
   * Puts every mark back over its host pixel: call when the video's box or the picture's or
   * screen's size changed (a resized window, a rotated phone, a new rung of the ladder).
   */
  relayout() {
    for (const mark of this.marks.values()) {
      const at = this.at(mark.x, mark.y);
      if (at) mark.el.style.transform = `translate(${at[0]}px, ${at[1]}px)`;
    }
  }

  /** Drops every pointer (a new connection, or the members changed). */
  clear(keep = () => false) {
    for (const [peer, mark] of this.marks) {
      if (keep(peer)) continue;
      this.timers.clearTimeout(mark.timer);
      mark.el.remove();
      this.marks.delete(peer);
    }
  }
}
