// The page's signaling against the golden file the host's tests read too
// (test/golden/signaling-v1.json), so the two sides cannot drift: every page → host message is
// built exactly as the file has it, every host → page type has a handler, and the page knows
// every error code the host may send.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Signaling, SERVER_TYPES, ERROR_CODES, ERROR_REACTIONS, message } from '../src/signaling.js';

const golden = JSON.parse(readFileSync(new URL('./golden/signaling-v1.json', import.meta.url)));

// How the page builds each client message type from the fields the golden entry holds.
const build = {
  hello: (j) => message.hello(j.password, j.name, j.device, j.ticket, j.rejoin),
  offer: (j) => message.offer(j.sdp, j.link_kbps ?? null),
  candidate: (j) => message.candidate(j.candidate, j.sdp_mid),
  'save-state': () => message.saveState(),
  'load-state': () => message.loadState(),
  'frame-phase': (j) => message.framePhase(j.lead_ms),
  'max-bitrate': (j) => message.maxBitrate(j.kbps),
  'keyboard-layout': (j) => message.keyboardLayout(j.layout),
  'request-control': () => message.requestControl(),
  'give-control': (j) => message.giveControl(j.peer),
  'take-control': () => message.takeControl(),
  'release-control': () => message.releaseControl(),
  kick: (j) => message.kick(j.peer),
  'set-role': (j) => message.setRole(j.peer, j.role),
  'set-name': (j) => message.setName(j.name),
  point: (j) => message.point(j.x, j.y),
};

test('the golden file is the version this page speaks', () => {
  assert.equal(golden.version, 1);
  assert.ok(golden.client.length >= 8 && golden.server.length >= 8);
});

test("the page's builders produce exactly each client message", () => {
  for (const entry of golden.client) {
    const make = build[entry.json.type];
    assert.ok(make, `the page cannot build ${entry.json.type} (${entry.name})`);
    // The same text, key order included, not only the same value.
    assert.equal(JSON.stringify(make(entry.json)), JSON.stringify(entry.json), entry.name);
  }
  // Every builder is pinned by a golden entry.
  const covered = new Set(golden.client.map((e) => e.json.type));
  assert.equal(Object.keys(message).length, covered.size, 'a builder without a golden entry');
});

/** A Signaling on a fake socket, with a recording handler for every type the page knows. */
function receiver() {
  const seen = [];
  let socket;
  const handlers = Object.fromEntries(SERVER_TYPES.map((t) => [t, (m) => seen.push(m)]));
  const s = new Signaling({
    url: 'ws://host/ws',
    handlers,
    log: { warn() {}, debug() {} },
    timers: { setTimeout: () => 0, clearTimeout() {} },
    WebSocket: class {
      constructor() { socket = this; this.readyState = 0; }
      send() {}
      close() {}
    },
  });
  s.connect();
  return { seen, feed: (text) => socket.onmessage({ data: text }) };
}

test('every server message reaches a handler of its type, unchanged', () => {
  const { seen, feed } = receiver();
  for (const entry of golden.server) {
    const before = seen.length;
    feed(JSON.stringify(entry.json));
    assert.equal(seen.length, before + 1, `no handler took ${entry.json.type} (${entry.name})`);
    assert.deepEqual(seen.at(-1), entry.json, entry.name);
  }
  // And the page expects no type the host never sends.
  assert.deepEqual([...SERVER_TYPES].sort(), [...new Set(golden.server.map((e) => e.json.type))].sort());
});

test('an unknown server message type is ignored without throwing', () => {
  const { seen, feed } = receiver();
  assert.doesNotThrow(() => feed(JSON.stringify({ type: 'launch-missiles', target: 'moon' })));
  assert.doesNotThrow(() => feed(JSON.stringify({ type: 'welcome-v2', peer: 1 })));
  assert.deepEqual(seen, []);
});

test('the page knows exactly the error codes the host may send, and reacts to each', () => {
  assert.deepEqual([...ERROR_CODES].sort(), [...golden.error_codes].sort());
  for (const code of ERROR_CODES) assert.ok(['fail', 'retry', 'wait', 'tell', 'log'].includes(ERROR_REACTIONS[code]), code);
});
