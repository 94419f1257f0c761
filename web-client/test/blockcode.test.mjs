// The block-code reader against pictures drawn the way host/src/capture/testpattern.rs draws
// them; the check byte of 0x12345678 is the one the Rust side computes (0xad).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCode, checkByte, BLOCK, COLS, ROWS } from '../src/blockcode.js';

function draw(words, tamper) {
  const width = COLS * BLOCK;
  const data = new Uint8ClampedArray(width * ROWS * BLOCK * 4);
  words.forEach((word, row) => {
    const bits = [...word.toString(2).padStart(32, '0'), ...checkByte(word).toString(2).padStart(8, '0')];
    bits.forEach((b, col) => {
      for (let y = row * BLOCK; y < (row + 1) * BLOCK; y += 1) {
        for (let x = col * BLOCK; x < (col + 1) * BLOCK; x += 1) {
          const v = b === '1' ? 255 : 0;
          data.set([v, v, v, 255], (y * width + x) * 4);
        }
      }
    });
  });
  if (tamper) data[((BLOCK / 2) * width + 5 * BLOCK + BLOCK / 2) * 4 + 1] ^= 0xff;
  return { data, width };
}

test('the check byte matches the host', () => {
  assert.equal(checkByte(0x12345678), 0xad);
  assert.equal(checkByte(0), 0xa5);
});

test('frame number and capture time read back', () => {
  for (const words of [[0, 0], [1, 0xffffffff], [0x12345678, 0x9abcdef0], [4242, 1763712000]]) {
    const { data, width } = draw(words);
    assert.deepEqual(decodeCode(data, width), { frame: words[0], captureMs: words[1] });
  }
});

test('a damaged block fails the check instead of giving a wrong number', () => {
  const { data, width } = draw([123456, 789], true);
  assert.equal(decodeCode(data, width), null);
});
