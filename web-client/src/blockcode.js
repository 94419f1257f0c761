// Reads the test pattern's block code and flip region back from a video element (see
// host/src/capture/testpattern.rs for the layout): two rows of 40 blocks of 16 pixels at the
// top-left, white = 1, most significant bit first; 32 data bits then a check byte (XOR of the
// four data bytes and 0xA5). Row 0 is the frame number, row 1 the capture time (Unix ms, low
// 32 bits). The flip region is the bottom-right quarter, black or white.

export const BLOCK = 16;
export const COLS = 40;
export const ROWS = 2;

export function checkByte(word) {
  return (0xa5 ^ (word >>> 24) ^ ((word >>> 16) & 0xff) ^ ((word >>> 8) & 0xff) ^ (word & 0xff)) & 0xff;
}

/** Decodes code rows from RGBA pixels `data` of a `width`-wide image; null if a check fails. */
export function decodeCode(data, width) {
  const words = [];
  for (let row = 0; row < ROWS; row += 1) {
    let word = 0;
    let check = 0;
    for (let col = 0; col < COLS; col += 1) {
      const x = col * BLOCK + BLOCK / 2;
      const y = row * BLOCK + BLOCK / 2;
      const bit = data[(y * width + x) * 4 + 1] >= 128 ? 1 : 0;
      if (col < 32) word = ((word << 1) | bit) >>> 0;
      else check = (check << 1) | bit;
    }
    if (checkByte(word) !== check) return null;
    words.push(word);
  }
  return { frame: words[0], captureMs: words[1] };
}

// Light (the NES test ROM's "white" is grey 184) or dark.
const flipOf = (green) => (green < 64 ? false : green >= 128 ? true : null);

/**
 * The picture a video element shows now, with its own size: `{ image, width, height, close }`
 * (`image` a CanvasImageSource whose natural size is width x height), or null before the first
 * picture. A WebCodecs `VideoFrame` where there is one: `video.videoWidth` can lag a change of
 * resolution by a picture, and a pixel picked by the old size then lands elsewhere in the new
 * picture (a CI run read the flip region off the colour bars, "white", at the ladder's first
 * climb from 640x360 to 1280x720).
 */
function snapshot(video) {
  if (typeof VideoFrame === 'function') {
    try {
      const frame = new VideoFrame(video);
      return { image: frame, width: frame.displayWidth, height: frame.displayHeight, close: () => frame.close() };
    } catch {
      return null; // no picture yet
    }
  }
  const { videoWidth: width, videoHeight: height } = video;
  return width && height ? { image: video, width, height, close: () => {} } : null;
}

/**
 * Draws the picture `video` shows now with `draw(image, width, height)` and lets go of it;
 * returns `{ width, height }` (the picture's size), or null before the first picture.
 */
function drawShown(video, draw) {
  const shot = snapshot(video);
  if (!shot) return null;
  try {
    draw(shot.image, shot.width, shot.height);
  } finally {
    shot.close();
  }
  return { width: shot.width, height: shot.height };
}

/**
 * A reader bound to one video element: `read()` returns {frame, captureMs, flip, width,
 * height} for the picture the video shows now (flip: true white, false black, null neither;
 * width x height the picture's size), or null.
 */
export function videoReader(video) {
  const canvas = document.createElement('canvas');
  canvas.width = COLS * BLOCK;
  canvas.height = ROWS * BLOCK + 1;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  // One pixel of the flip region, to row `y` of the canvas.
  const drawFlip = (image, w, h, y) =>
    ctx.drawImage(image, Math.floor(w * 3 / 4), Math.floor(h * 3 / 4), 1, 1, 0, y, 1, 1);
  return {
    read() {
      const size = drawShown(video, (image, w, h) => {
        ctx.drawImage(image, 0, 0, canvas.width, ROWS * BLOCK, 0, 0, canvas.width, ROWS * BLOCK);
        drawFlip(image, w, h, ROWS * BLOCK); // the spare last row
      });
      if (!size) return null;
      const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      const code = decodeCode(px, canvas.width);
      if (!code) return null;
      return { ...code, flip: flipOf(px[(ROWS * BLOCK * canvas.width) * 4 + 1]), ...size };
    },
    /** Only the flip region (any source whose bottom-right quarter turns black or white). */
    readFlip() {
      if (!drawShown(video, (image, w, h) => drawFlip(image, w, h, 0))) return null;
      return flipOf(ctx.getImageData(0, 0, 1, 1).data[1]);
    },
  };
}
