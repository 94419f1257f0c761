// Bad input from one browser on the input data channel: that browser is told, through its
// signaling socket, and nothing else changes. A second viewer keeps streaming untouched, and
// the sender's own valid input still drives the host afterwards.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { startGlint, startChromium, waitFor, videoPoint } from './harness.mjs';

let glint;
let browser;
let sender;
let viewer;

// Keeps every data channel the page creates, so the test can write raw bytes on `input`.
const keepChannels = () => {
  window.__channels = [];
  const create = RTCPeerConnection.prototype.createDataChannel;
  RTCPeerConnection.prototype.createDataChannel = function (...args) {
    const ch = create.apply(this, args);
    window.__channels.push(ch);
    return ch;
  };
};

before(async () => {
  glint = await startGlint(['--fps', '30']);
  browser = await startChromium();
  sender = browser.page;
  await sender.addInitScript(keepChannels);
  viewer = await browser.context.newPage();
});

after(async () => {
  await browser?.stop();
  await glint?.stop();
});

const playing = (page) => waitFor('the stream to play',
  () => page.evaluate(() => window.glint.state === 'playing'), 20000);
// Frames decoded (not presented: only the page in front presents, and both are tested here).
const frames = (page) => page.evaluate(async () => (await window.glint.inboundVideo())?.framesDecoded ?? 0);

test('garbage on the input channel gets a bad-input error to its sender only', async () => {
  await sender.goto(glint.url);
  await viewer.goto(glint.url);
  await playing(sender);
  await playing(viewer);

  const sent = await sender.evaluate(() => {
    const ch = window.__channels.find((c) => c.label === 'input' && c.readyState === 'open');
    const junk = [
      new Uint8Array([0xff, 0x00, 0x01]), // truncated, wrong version
      new Uint8Array(14).fill(0xee), // header-sized, wrong version
      Uint8Array.from({ length: 300 }, (_, i) => (i * 97 + 13) & 0xff), // noise
      // version 1, a header claiming 200 held keys that are not there
      new Uint8Array([1, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0]),
    ];
    for (let round = 0; round < 5; round += 1) for (const j of junk) ch.send(j);
    return junk.length * 5;
  });
  assert.equal(sent, 20);

  const errors = await waitFor('a bad-input error on the sender',
    async () => {
      const found = await sender.evaluate(() => window.glint.hostErrors.filter((e) => e.code === 'bad-input'));
      return found.length > 0 && found; // an empty array would count as done
    });
  assert.ok(errors.length >= 1);
  assert.equal(await sender.evaluate(() => window.glint.state), 'playing');

  // The other viewer heard nothing of it and still receives frames.
  const a = await frames(viewer);
  await waitFor('the other viewer to keep receiving frames', async () => (await frames(viewer)) > a + 30);
  assert.deepEqual(await viewer.evaluate(() => window.glint.hostErrors), []);
  assert.equal(await viewer.evaluate(() => window.glint.connects), 1);

  // The sender's own stream and input still work: move the host pointer from the page.
  const b = await frames(sender);
  await waitFor('the sender to keep receiving frames', async () => (await frames(sender)) > b + 30);
  const target = [640, 360];
  // In host pixels: with two viewers on a loaded machine the picture may be coded a rung
  // smaller than the screen (the video's own pixels then missed the target).
  const [x, y] = await videoPoint(sender, ...target);
  await sender.mouse.move(x, y);
  await waitFor('the host pointer to follow the page', () => {
    const out = execFileSync('xdotool', ['getmouselocation'], { env: glint.xenv() }).toString();
    const m = /x:(\d+) y:(\d+)/.exec(out);
    return m && Math.abs(+m[1] - target[0]) <= 2 && Math.abs(+m[2] - target[1]) <= 2;
  }, 5000);
  assert.match(glint.logs(), /malformed input dropped/);
});

test('data sent on a host-to-page channel is counted, told once, and changes nothing', async () => {
  const sent = await sender.evaluate(() => {
    const ch = window.__channels.find((c) => c.label === 'control' && c.readyState === 'open');
    for (let i = 0; i < 50; i += 1) ch.send(new Uint8Array([1, 2, 3, i]));
    return 50;
  });
  assert.equal(sent, 50);
  const base = glint.url.replace(/\/(#.*)?$/, '');
  await waitFor('the host to count all 50', async () => (
    (await (await fetch(`${base}/api/stats`)).json()).counters.channel_bad_data >= 50));
  const told = await waitFor('a bad-channel error on the sender', async () => {
    const found = await sender.evaluate(() => window.glint.hostErrors.filter((e) => e.code === 'bad-channel'));
    return found.length > 0 && found;
  });
  assert.equal(told.length, 1, 'told once, not once per message');
  assert.equal(await sender.evaluate(() => window.glint.state), 'playing');
  assert.equal((await viewer.evaluate(() => window.glint.hostErrors)).length, 0);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /^glint_channel_bad_data_total \d+/m);
});

test('a keyframe request on control (a stuck decoder, stall.js) gets a keyframe and is no bad data', async () => {
  const base = glint.url.replace(/\/(#.*)?$/, '');
  const counters = async () => (await (await fetch(`${base}/api/stats`)).json()).counters;
  const before = await counters();
  await sender.evaluate(() => {
    window.__channels.find((c) => c.label === 'control' && c.readyState === 'open').send('keyframe');
  });
  const after = await waitFor('the host to honour the request', async () => {
    const c = await counters();
    return c.keyframe_requests > before.keyframe_requests && c;
  });
  assert.equal(after.channel_bad_data, before.channel_bad_data);
  assert.equal(await sender.evaluate(() => window.glint.state), 'playing');
});

test('a signaling message before hello, or one too big, gets a clear error and a close code', async () => {
  const base = glint.url.replace(/\/(#.*)?$/, '');
  const count = async () => (await (await fetch(`${base}/api/stats`)).json()).counters.signaling_bad_messages;
  const before = await count();
  // size 0: only the message before hello, then the page closes the socket itself.
  for (const size of [0, 100000, 5 * 1024 * 1024]) {
    const seen = await sender.evaluate((size) => new Promise((resolve) => {
      const ws = new WebSocket(`ws://${location.host}/ws`);
      const errors = [];
      ws.onopen = () => {
        ws.send(JSON.stringify({ type: 'save-state' }));
        if (size) ws.send('x'.repeat(size));
        else setTimeout(() => ws.close(), 300);
      };
      ws.onmessage = (m) => {
        const msg = JSON.parse(m.data);
        if (msg.type === 'error') errors.push(msg);
      };
      ws.onclose = (e) => resolve({ errors, code: e.code });
    }), size);
    assert.match(seen.errors[0]?.message ?? '', /say hello first/, `${size}: ${JSON.stringify(seen)}`);
    if (size === 0) {
      assert.equal(seen.errors.length, 1);
      assert.equal(seen.code, 1005, 'the host answers the page\'s close: a clean close, not 1006');
    } else {
      assert.deepEqual(seen.errors.map((e) => e.code), ['bad-message', 'bad-message']);
      assert.match(seen.errors[1].message, /too big.*65536 bytes/);
      assert.equal(seen.code, 1009, `${size}: closed as "message too big", not a bare 1006`);
    }
  }
  await waitFor('the host to count all five', async () => (await count()) >= before + 5);
  assert.equal(await sender.evaluate(() => window.glint.state), 'playing');
  assert.equal(await viewer.evaluate(() => window.glint.state), 'playing');
});

test('a socket flooding offers is told busy past the limit, and the other viewer plays on', async () => {
  const base = glint.url.replace(/\/(#.*)?$/, '');
  const counters = async () => (await (await fetch(`${base}/api/stats`)).json()).counters;
  const was = await counters();
  const before = await frames(viewer);
  const started = Date.now();
  const seen = await sender.evaluate(() => new Promise((resolve) => {
    const got = [];
    const ws = new WebSocket(`ws://${location.host}/ws`);
    ws.onopen = async () => {
      ws.send(JSON.stringify({ type: 'hello' }));
      // Each offer from a connection of its own: a new peer each time, were it taken.
      for (let i = 0; i < 40; i += 1) {
        const pc = new RTCPeerConnection();
        pc.addTransceiver('video', { direction: 'recvonly' });
        const offer = await pc.createOffer();
        pc.close();
        ws.send(JSON.stringify({ type: 'offer', sdp: offer.sdp }));
      }
    };
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type === 'answer' || msg.type === 'error') got.push(msg.type === 'answer' ? 'answer' : msg.code);
      if (got.length === 40) { ws.close(); resolve(got); }
    };
    ws.onclose = () => resolve(got);
  }));
  const answers = seen.filter((t) => t === 'answer').length;
  assert.equal(answers, 8, JSON.stringify(seen));
  const busy = seen.filter((t) => t === 'busy').length;
  assert.ok(busy >= 30, JSON.stringify(seen));
  // Counted as busy offers, not as malformed messages.
  const now = await counters();
  assert.equal(now.signaling_offers_busy - was.signaling_offers_busy, busy);
  assert.equal(now.signaling_bad_messages, was.signaling_bad_messages);
  // The other viewer kept its picture (glint runs at 30 fps here) through the flood and after.
  await new Promise((r) => setTimeout(r, 1000));
  const fps = (await frames(viewer) - before) / ((Date.now() - started) / 1000);
  assert.ok(fps > 15, `the viewer decoded ${fps.toFixed(1)} frames a second`);
  assert.equal(await viewer.evaluate(() => window.glint.state), 'playing');
});

test('a signaling socket that never says hello is told and closed after 10 s', async () => {
  const base = glint.url.replace(/\/(#.*)?$/, '');
  const count = async () => (await (await fetch(`${base}/api/stats`)).json()).counters.signaling_hello_timeouts;
  const before = await count();
  const started = Date.now();
  const seen = await sender.evaluate(() => new Promise((resolve) => {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    const errors = [];
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type === 'error') errors.push(msg);
    };
    ws.onclose = (e) => resolve({ errors, code: e.code });
    // Far past the host's 10 s: a socket still open then was never closed.
    setTimeout(() => resolve({ errors, code: 'still open' }), 25000);
  }));
  const waited = Date.now() - started;
  assert.deepEqual(seen.errors.map((e) => e.code), ['hello-timeout'], JSON.stringify(seen));
  assert.equal(seen.code, 1008, 'closed as a policy violation');
  assert.ok(waited >= 9000, `closed after ${waited} ms, before the 10 s were up`);
  assert.equal(await count(), before + 1);
  assert.equal(await sender.evaluate(() => window.glint.state), 'playing');
});

test('a signaling socket that vanishes (a lost network, a killed tab) is counted as dropped, not as bad input', async () => {
  const base = glint.url.replace(/\/(#.*)?$/, '');
  const counters = async () => (await (await fetch(`${base}/api/stats`)).json()).counters;
  const before = await counters();
  const { hostname, port } = new URL(base);
  // A WebSocket upgrade, then the TCP connection ends without a close frame: once with a FIN,
  // once with a reset.
  for (const how of ['end', 'reset']) {
    const socket = connect(Number(port), hostname);
    await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    socket.write(`GET /ws HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
      + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    let reply = '';
    socket.on('data', (d) => { reply += d; });
    await waitFor('the upgrade', () => reply.includes('101 Switching Protocols'), 5000);
    if (how === 'end') socket.end();
    else socket.resetAndDestroy();
  }
  await waitFor('both counted as dropped', async () => (await counters()).signaling_dropped >= before.signaling_dropped + 2);
  const after = await counters();
  assert.equal(after.signaling_bad_messages, before.signaling_bad_messages, 'a vanished socket counted as bad input');
  assert.equal(await viewer.evaluate(() => window.glint.state), 'playing');
});
