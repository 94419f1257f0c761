// The last picture, kept over the stage while a new connection is made: after an outage long
// enough for the page to connect again (a lost socket, a restarted host), the user sees the
// desktop as it was, dimmed under the status line, instead of a black stage (as Moonlight and
// Parsec do). The new connection's first frame takes it away.

export class StillPicture {
  /**
   * @param {HTMLCanvasElement} canvas laid over `video`, same box (style.css `#still`)
   * @param {HTMLVideoElement} video
   */
  constructor(canvas, video) {
    this.canvas = canvas;
    this.video = video;
  }

  /** Whether the still shows. */
  get shown() { return !this.canvas.hidden; }

  /**
   * Draws the video's current frame and shows it. A still already shown stays: each failed
   * try to connect again tears down too, and by then the video holds the ended track's black
   * frame, not the picture. A video without a frame (a connection that never played) leaves
   * the stage as it is.
   */
  keep() {
    if (this.shown) return;
    const v = this.video;
    if (!v.videoWidth || !v.videoHeight || v.readyState < 2) return; // HAVE_CURRENT_DATA
    const c = this.canvas;
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    try {
      c.getContext('2d')?.drawImage(v, 0, 0);
    } catch {
      return; // no frame to draw after all: the stage shows what the video shows
    }
    c.style.transform = v.style.transform; // the phone's zoom (phone.js), as it was
    c.hidden = false;
  }

  /** Takes the still away (a new picture plays, or the session is over) and frees it. */
  drop() {
    if (!this.shown) return;
    this.canvas.hidden = true;
    this.canvas.width = 0;
    this.canvas.height = 0;
  }
}
