// Storage refused: with cookies and site data blocked, reading `localStorage` or
// `sessionStorage` throws. Every module that keeps a choice must load and work without it.

import { test } from 'node:test';
import assert from 'node:assert/strict';

const refuse = (name) => Object.defineProperty(globalThis, name, {
  configurable: true,
  get() { throw new DOMException('Access is denied for this document.', 'SecurityError'); },
});

test('with storage refused, the page\'s modules load and keep their choices for the page only', async () => {
  const saved = ['localStorage', 'sessionStorage'].map((n) => [n, Object.getOwnPropertyDescriptor(globalThis, n)]);
  refuse('localStorage');
  refuse('sessionStorage');
  try {
    const { localStore, sessionStore } = await import('../src/storage.js');
    assert.equal(localStore(), undefined);
    assert.equal(sessionStore(), undefined);
    const { KeyBindings } = await import('../src/keybind.js');
    const { PadBindings } = await import('../src/gamepads.js');
    const { savedName, saveName } = await import('../src/people.js');
    const { Sound } = await import('../src/sound.js');
    const keys = new KeyBindings();
    assert.equal(keys.translate('KeyJ'), 'KeyJ');
    const pads = new PadBindings();
    pads.set('pad', { buttons: [], axes: [] });
    assert.deepEqual(pads.get('pad'), { buttons: [], axes: [] });
    saveName('Ann');
    assert.equal(savedName(), undefined);
    const el = () => Object.assign(new EventTarget(), { hidden: true, textContent: '', setAttribute() {} });
    const sound = new Sound({ video: Object.assign(el(), { muted: true, play: async () => {} }), button: el(), volume: el(), prompt: el() });
    sound.arrived();
    sound.mute();
    assert.equal(sound.choice(), 'off', 'the choice is kept for the page');
    assert.equal(sound.prompt.hidden, true, 'muted on purpose: no prompt');
  } finally {
    for (const [n, d] of saved) {
      if (d) Object.defineProperty(globalThis, n, d); else delete globalThis[n];
    }
  }
});
