// The sound controls on stand-in elements: hidden until sound arrives, muted until the user
// asks (or this tab asked before), and muted again when the browser refuses to play.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sound, SOUND_KEY } from '../src/sound.js';

const element = (props = {}) => Object.assign(new EventTarget(), {
  hidden: true, textContent: '', attrs: {}, setAttribute(k, v) { this.attrs[k] = v; }, ...props,
});

function storage(initial = {}) {
  const m = new Map(Object.entries(initial));
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, v), map: m };
}

/** A stand-in for audio.js's ChannelAudio; `allow` decides whether start() succeeds. */
function fakeChannelAudio(allow) {
  return class {
    constructor(onSound) { this.onSound = onSound; this.muted = false; this.volume = 1; }
    setVolume(v) { this.volume = v; }
    start() { return Promise.resolve(allow()); }
  };
}

function rig({ remembered, allow = () => true } = {}) {
  const video = element({ muted: true, volume: 1, play: () => (allow() ? Promise.resolve() : Promise.reject(new Error('autoplay'))) });
  const parts = { button: element(), volume: element({ value: '0.5' }), prompt: element() };
  const store = storage(remembered ? { [SOUND_KEY]: remembered } : {});
  const win = new EventTarget();
  const s = new Sound({ video, ...parts, storage: store, ChannelAudio: fakeChannelAudio(allow), win, log: { warn() {} } });
  s.start();
  return { s, video, ...parts, store, win };
}

const settle = () => new Promise((r) => { setImmediate(r); });

test('the controls stay hidden until sound arrives, then offer to enable it', () => {
  const r = rig();
  assert.equal(r.s.path, undefined);
  assert.ok(r.button.hidden && r.volume.hidden);
  r.s.arrived();
  assert.equal(r.s.path, 'track');
  assert.ok(!r.button.hidden && !r.volume.hidden);
  assert.equal(r.prompt.hidden, false, 'the prompt asks for a click');
  assert.equal(r.button.textContent, 'Sound off');
  assert.equal(r.s.muted, true);
});

test('a click unmutes and is remembered; another mutes and is remembered too', async () => {
  const r = rig();
  r.s.arrived();
  r.button.dispatchEvent(new Event('click'));
  await settle();
  assert.equal(r.s.muted, false);
  assert.equal(r.video.muted, false);
  assert.equal(r.store.getItem(SOUND_KEY), 'on');
  assert.equal(r.prompt.hidden, true);
  assert.equal(r.button.attrs['aria-pressed'], 'true');
  r.button.dispatchEvent(new Event('click'));
  assert.equal(r.s.muted, true);
  assert.equal(r.store.getItem(SOUND_KEY), 'off');
  assert.equal(r.prompt.hidden, true, 'no prompt after choosing silence');
});

test('a remembered choice unmutes by itself, unless the browser refuses', async () => {
  const on = rig({ remembered: 'on' });
  on.s.arrived();
  await settle();
  assert.equal(on.s.muted, false);
  const refused = rig({ remembered: 'on', allow: () => false });
  refused.s.arrived();
  await settle();
  assert.equal(refused.s.muted, true);
  assert.equal(refused.prompt.hidden, false, 'the prompt asks for the click the browser wants');
});

test("the page's own playout: made once, muted at first, follows the volume", async () => {
  const r = rig();
  const ch = r.s.useChannel();
  assert.equal(r.s.useChannel(), ch, 'one per page');
  assert.equal(ch.muted, true);
  assert.equal(ch.volume, 0.5);
  ch.onSound(); // the first packet played
  assert.equal(r.s.path, 'channel');
  r.volume.value = '0.3';
  r.volume.dispatchEvent(new Event('input'));
  assert.equal(r.s.level, 0.3);
  r.prompt.dispatchEvent(new Event('click'));
  await settle();
  assert.equal(ch.muted, false);
  assert.equal(r.video.muted, true, 'the track stays silent: the page plays the sound');
});
