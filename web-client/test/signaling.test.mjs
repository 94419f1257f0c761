// The signaling socket's life, driven with a fake WebSocket and fake timers: hello goes first
// and what the page sends while the socket opens waits behind it, host messages reach their
// handlers, and a lost socket is opened again after a growing delay that a working session
// resets.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Signaling, Backoff, RECONNECT_MS, SERVER_TYPES, message, parseServerMessage, dispatch } from '../src/signaling.js';

/** A WebSocket stand-in: records what is sent; the test opens, closes and feeds it. */
class FakeSocket {
  static made = [];

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.closed = false;
    FakeSocket.made.push(this);
  }

  send(text) {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(JSON.parse(text));
  }

  close() { this.closed = true; this.readyState = 3; }

  // The test's side.
  open() { this.readyState = 1; this.onopen?.(); }
  receive(data) { this.onmessage?.({ data: typeof data === 'string' ? data : JSON.stringify(data) }); }
  lose() { this.readyState = 3; this.onclose?.({ code: 1006, reason: '' }); }
}

/** Timers on a virtual clock. */
function fakeTimers() {
  let now = 0;
  let next = 1;
  const pending = new Map();
  return {
    setTimeout(fn, ms) { pending.set(next, { at: now + ms, fn }); return next++; },
    clearTimeout(id) { pending.delete(id); },
    /** Moves the clock by `ms`, running what falls due. */
    advance(ms) {
      now += ms;
      for (const [id, t] of [...pending].sort((a, b) => a[1].at - b[1].at)) {
        if (t.at <= now && pending.has(id)) { pending.delete(id); t.fn(); }
      }
    },
    get pending() { return pending.size; },
  };
}

const quiet = { warn() {}, debug() {} };
const noHandlers = () => Object.fromEntries(SERVER_TYPES.map((t) => [t, () => {}]));

function setup(extra = {}) {
  FakeSocket.made = [];
  const timers = fakeTimers();
  const events = [];
  const s = new Signaling({
    url: 'ws://host/ws',
    password: 'pw',
    handlers: noHandlers(),
    WebSocket: FakeSocket,
    timers,
    log: quiet,
    onConnecting: () => events.push('connecting'),
    onOpen: () => events.push('open'),
    onDown: (reason, delay) => events.push(`down ${reason} ${delay}`),
    ...extra,
  });
  return { s, timers, events, socket: () => FakeSocket.made.at(-1) };
}

test('hello goes first, and what is sent while the socket opens follows it in order', () => {
  const { s, socket, events } = setup();
  s.connect();
  assert.deepEqual(events, ['connecting']);
  s.send(message.offer('v=0\r\n'));
  s.send(message.candidate('candidate:1 1 udp 1 10.0.0.1 5000 typ host', '0'));
  assert.deepEqual(socket().sent, [], 'nothing before the socket opens');
  socket().open();
  assert.deepEqual(socket().sent.map((m) => m.type), ['hello', 'offer', 'candidate']);
  assert.deepEqual(socket().sent[0], { type: 'hello', password: 'pw' });
  s.send(message.saveState());
  assert.equal(socket().sent.at(-1).type, 'save-state', 'sent at once once open');
  assert.deepEqual(events, ['connecting', 'open']);
});

test('each host message reaches the handler of its type; anything else is dropped', () => {
  const seen = [];
  const handlers = Object.fromEntries(SERVER_TYPES.map((t) => [t, (m) => seen.push(m)]));
  const { s, socket } = setup({ handlers });
  s.connect();
  socket().open();
  socket().receive({ type: 'info', message: 'state saved' });
  socket().receive({ type: 'from-a-newer-host', x: 1 });
  for (const junk of ['not json', '[]', 'null', '{"no":"type"}', '{"type":7}']) socket().receive(junk);
  assert.deepEqual(seen, [{ type: 'info', message: 'state saved' }]);
});

test('a page without a handler for every host message type does not start', () => {
  const handlers = noHandlers();
  delete handlers.answer;
  assert.throws(() => setup({ handlers }), /no handler for answer/);
});

test('a lost socket is opened again after a growing delay; a working session resets it', () => {
  const { s, timers, socket, events } = setup();
  s.connect();
  socket().open();
  const delays = [];
  for (let i = 0; i < RECONNECT_MS.length + 2; i += 1) {
    events.length = 0;
    socket().lose();
    const down = events.find((e) => e.startsWith('down'));
    const delay = Number(down.split(' ').at(-1));
    delays.push(delay);
    const before = FakeSocket.made.length;
    timers.advance(delay - 1);
    assert.equal(FakeSocket.made.length, before, 'not before its delay');
    timers.advance(1);
    assert.equal(FakeSocket.made.length, before + 1, 'a new socket after its delay');
    socket().open();
  }
  assert.deepEqual(delays, [...RECONNECT_MS, RECONNECT_MS.at(-1), RECONNECT_MS.at(-1)]);
  s.connected();
  events.length = 0;
  socket().lose();
  assert.deepEqual(events, [`down signaling closed ${RECONNECT_MS[0]}`]);
});

test('a reconnect closes the old socket first, and only one attempt is ever pending', () => {
  const { s, timers, socket } = setup();
  s.connect();
  const first = socket();
  first.open();
  s.reconnect('host busy');
  s.reconnect('connection lost'); // e.g. the peer failed while the socket went
  assert.ok(first.closed);
  assert.equal(first.onclose, null, 'the closed socket no longer reports');
  assert.equal(timers.pending, 1);
  timers.advance(10000);
  assert.equal(FakeSocket.made.length, 2);
  assert.equal(socket().sent.length, 0);
});

test('a throttled password attempt waits the seconds the host says, not the shorter backoff', () => {
  const { s, timers, socket } = setup();
  s.connect();
  socket().open();
  s.reconnect('too many password attempts', 4000);
  timers.advance(3999);
  assert.equal(FakeSocket.made.length, 1, 'tried again before the wait was over');
  timers.advance(1);
  assert.equal(FakeSocket.made.length, 2);
});

test('stop closes for good: no reconnect, and nothing is sent', () => {
  const { s, timers, socket, events } = setup();
  s.connect();
  socket().open();
  s.stop();
  assert.ok(socket().closed);
  s.reconnect('signaling closed');
  timers.advance(60000);
  assert.equal(FakeSocket.made.length, 1);
  assert.ok(!events.some((e) => e.startsWith('down')));
  s.send(message.saveState());
  assert.equal(socket().sent.length, 1, 'only the hello');
});

test('messages sent with no socket are dropped, not queued for a later session', () => {
  const { s, timers, socket } = setup();
  s.connect();
  socket().open();
  socket().lose();
  s.send(message.framePhase(2));
  timers.advance(RECONNECT_MS[0]);
  socket().open();
  assert.deepEqual(socket().sent.map((m) => m.type), ['hello']);
});

test('backoff delays grow to the last and reset', () => {
  const b = new Backoff([1, 2, 3]);
  assert.deepEqual([b.next(), b.next(), b.next(), b.next()], [1, 2, 3, 3]);
  b.reset();
  assert.equal(b.next(), 1);
});

test('the parser takes JSON objects with a string type only', () => {
  assert.deepEqual(parseServerMessage('{"type":"answer","sdp":"x"}'), { type: 'answer', sdp: 'x' });
  for (const t of ['', 'nope', '1', '"answer"', '[{"type":"answer"}]', 'null', '{"type":null}']) {
    assert.equal(parseServerMessage(t), null, t);
  }
  assert.equal(dispatch({ answer: () => {} }, { type: 'toString' }), false, 'no inherited handlers');
});
