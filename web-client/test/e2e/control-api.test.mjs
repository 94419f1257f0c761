// The room's HTTP API as another program uses it (README "Control from outside"): glint with an
// owner's password and a separate API token, two Chromium pages, and plain HTTP requests. The
// event stream follows each change, control given through the API lets a viewer drive, and
// errors are JSON with a code.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startGlint, startChromium, waitFor } from './harness.mjs';

const TOKEN = 'api-token-for-tests';
let glint;
let browser;
let owner;
let viewer;
let base;

before(async () => {
  glint = await startGlint(['--source', 'testpattern', '--fps', '30', '--password', 'owner-pw',
    '--viewer-password', 'viewer-pw', '--api-token', TOKEN]);
  base = `http://127.0.0.1:${glint.port}`;
  browser = await startChromium();
  owner = browser.page;
  viewer = await browser.context.newPage();
});

after(async () => {
  await browser?.stop();
  await glint?.stop();
});

const api = async (method, path, { body, token = TOKEN } = {}) => {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON: the assertion below says so */ }
  return { status: r.status, json, text };
};

/** Reads `/api/events` in the background: every event as {event, data}. */
function follow() {
  const events = [];
  const ctl = new AbortController();
  const done = (async () => {
    const r = await fetch(`${base}/api/events`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: ctl.signal });
    assert.equal(r.headers.get('content-type'), 'text/event-stream');
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of r.body) {
      buf += decoder.decode(chunk, { stream: true });
      let at;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, at);
        buf = buf.slice(at + 2);
        const event = /^event:(.*)$/m.exec(block)?.[1]?.trim();
        const data = /^data:(.*)$/m.exec(block)?.[1];
        if (event) events.push({ event, data: JSON.parse(data) });
      }
    }
  })().catch((e) => { if (e.name !== 'AbortError') throw e; });
  return { events, stop: () => { ctl.abort(); return done; } };
}

test('list, give, revoke, change a role and remove through the API, followed on the event stream', async () => {
  const stream = follow();
  try {
    await owner.goto(`${base}/#password=owner-pw`);
    await viewer.goto(`${base}/#password=viewer-pw`);
    for (const p of [owner, viewer]) {
      await waitFor('the page to play', () => p.evaluate(() => window.glint.state === 'playing'), 20000);
    }
    const list = await waitFor('two members', async () => {
      const r = await api('GET', '/api/members');
      return r.json?.members?.length === 2 && r;
    });
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.members.map((m) => [m.role, m.control]), [['owner', true], ['viewer', false]]);
    assert.equal(list.json.seats, 1);
    const viewerId = list.json.members[1].peer;

    // Control to the viewer: its page says so, and the stream saw it.
    const given = await api('POST', '/api/control', { body: { peer: viewerId } });
    assert.equal(given.status, 200, given.text);
    assert.deepEqual(given.json.members.map((m) => m.control), [false, true]);
    await waitFor('the viewer page to have control', () => viewer.evaluate(() => window.glint.room.inControl));
    await waitFor('the event stream to show it', () => stream.events.some((e) => e.event === 'members'
      && e.data.members.some((m) => m.peer === viewerId && m.control)));

    // Nobody drives.
    const revoked = await api('DELETE', '/api/control');
    assert.deepEqual(revoked.json.members.map((m) => m.control), [false, false]);
    await waitFor('the viewer page to lose control', async () => !(await viewer.evaluate(() => window.glint.room.inControl)));

    // A role, then a removal: the removed page ends and the stream sees one member left.
    const role = await api('PUT', `/api/members/${viewerId}/role`, { body: { role: 'owner' } });
    assert.equal(role.json.members[1].role, 'owner');
    const kicked = await api('DELETE', `/api/members/${viewerId}`);
    assert.equal(kicked.status, 200);
    await waitFor('the removed page to end', () => viewer.evaluate(() => window.glint.state === 'ended'));
    await waitFor('the stream to see one member', () => stream.events.at(-1)?.data.members?.length === 1);
  } finally {
    await stream.stop();
  }
});

test('a member whose page left is listed as held with its peer id, and the API lets it go', async () => {
  const second = await browser.context.newPage();
  try {
    await second.goto(`${base}/#password=owner-pw`);
    await waitFor('the second owner to play', () => second.evaluate(() => window.glint.state === 'playing'), 20000);
    const me = await second.evaluate(() => window.glint.room.me);
    await second.close();
    // Its place is kept for it to come back (30 s), under the peer id it had.
    const held = await waitFor('the page to be held', async () => {
      const r = await api('GET', '/api/members');
      return r.json?.held?.some((h) => h.peer === me) && r;
    });
    assert.deepEqual(held.json.held.find((h) => h.peer === me).role, 'owner');
    assert.ok(!held.json.members.some((m) => m.peer === me), 'a held member is listed as present');
    // Only removal applies to it, and the answer says why.
    const give = await api('POST', '/api/control', { body: { peer: me } });
    assert.equal(give.status, 404);
    assert.match(give.json.message, /left; its place is kept/);
    const gone = await api('DELETE', `/api/members/${me}`);
    assert.equal(gone.status, 200, gone.text);
    assert.ok(!(gone.json.held ?? []).some((h) => h.peer === me), 'still held after its removal');
    const again = await api('DELETE', `/api/members/${me}`);
    assert.equal(again.status, 404);
    assert.equal(again.json.error, 'no-such-member');
  } finally {
    await second.close().catch(() => {});
  }
});

test('with --max-peers, letting a held owner go gives its place to the page in line at once', async () => {
  const g = await startGlint(['--source', 'testpattern', '--fps', '30', '--max-peers', '2',
    '--password', 'owner-pw', '--api-token', TOKEN]);
  const url = `http://127.0.0.1:${g.port}`;
  const pages = [await browser.context.newPage(), await browser.context.newPage(), await browser.context.newPage()];
  const [first, stays, third] = pages;
  const playing = (p) => waitFor('a page to play', () => p.evaluate(() => window.glint.state === 'playing'), 20000);
  try {
    await first.goto(`${url}/#password=owner-pw`);
    await playing(first);
    await stays.goto(`${url}/#password=owner-pw`);
    await playing(stays);
    const me = await first.evaluate(() => window.glint.room.me);
    await first.close();
    const left = Date.now();
    // Its place among the two is kept for it (30 s): the third page waits in line.
    await third.goto(`${url}/#password=owner-pw`);
    await waitFor('the full notice', () => third.evaluate(() => document.getElementById('status').textContent.startsWith('The session is full')), 20000);
    const gone = await fetch(`${url}/api/members/${me}`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(gone.status, 200, await gone.text());
    await playing(third);
    assert.ok(Date.now() - left < 25000, `the place went after ${Date.now() - left} ms: still kept`);
  } finally {
    for (const p of pages) await p.close().catch(() => {});
    await g.stop();
  }
});

test('errors are JSON with a code, and the API needs the token or the owner password', async () => {
  const cases = [
    [await api('POST', '/api/control', { body: { peer: 9999 } }), 404, 'no-such-member'],
    [await api('POST', '/api/control', { body: '{"peer":"x"}' }), 400, 'bad-request'],
    [await api('PUT', '/api/members/1/role', { body: { role: 'admin' } }), 400, 'bad-request'],
    // A member is named by its number: anything else names none (not a 405).
    [await api('DELETE', '/api/members/abc'), 404, 'no-such-member'],
    [await api('PUT', '/api/members/-1/role', { body: { role: 'owner' } }), 404, 'no-such-member'],
    // Written as the API writes it: `+1` or `01` is not member 1.
    [await api('DELETE', '/api/members/+1'), 404, 'no-such-member'],
    [await api('PUT', '/api/members/01/role', { body: { role: 'owner' } }), 404, 'no-such-member'],
    [await api('POST', '/api/game/save'), 409, 'not-a-game'],
    [await api('GET', '/api/members', { token: null }), 401, 'unauthorized'],
    // The viewers' password is right, but acts on nothing: 403, not a guess.
    [await api('GET', '/api/members', { token: 'viewer-pw' }), 403, 'forbidden'],
    [await api('POST', '/api/control', { body: { peer: 1 }, token: 'viewer-pw' }), 403, 'forbidden'],
    // What no route takes is JSON too.
    [await api('GET', '/api/nope'), 404, 'not-found'],
    [await api('PATCH', '/api/control'), 405, 'method-not-allowed'],
    [await api('POST', '/api/control', { body: 'x'.repeat(10000) }), 413, 'too-big'],
    // The signaling route asked without a WebSocket upgrade says what it is.
    [await api('GET', '/ws'), 426, 'not-websocket'],
  ];
  for (const [r, status, code] of cases) {
    assert.equal(r.status, status, r.text);
    assert.equal(r.json?.error, code, r.text);
    assert.equal(typeof r.json.message, 'string');
  }
  // The owner's password works as well as the token.
  assert.equal((await api('GET', '/api/members', { token: 'owner-pw' })).status, 200);
});

test('a viewer\'s stats overlay reads the host\'s figures, and its asking never makes the owner wait', async () => {
  const page = await browser.context.newPage();
  try {
    await page.goto(`${base}/#password=viewer-pw`);
    await waitFor('the viewer to play', () => page.evaluate(() => window.glint.state === 'playing'), 20000);
    await page.click('#stats');
    // The host's side of the overlay: this page's rung of the ladder, from /api/stats.
    await waitFor('the host figures in the viewer\'s overlay', async () => /full size/.test(await page.textContent('#overlay')), 10000);
    // Far past the free failures (10), as an overlay left open for a minute asks.
    for (let i = 0; i < 60; i += 1) assert.equal((await api('GET', '/api/stats', { token: 'viewer-pw' })).status, 200);
    assert.equal((await api('GET', '/metrics', { token: 'viewer-pw' })).status, 200);
    assert.equal((await api('GET', '/api/members', { token: 'owner-pw' })).status, 200, 'the owner was made to wait');
  } finally {
    await page.close();
  }
});

test('a body sent chunked (no Content-Length, as `curl -T -` sends one) is read as any other', async () => {
  const chunked = async (parts) => {
    const body = new ReadableStream({
      start(c) { for (const p of parts) c.enqueue(new TextEncoder().encode(p)); c.close(); },
    });
    const r = await fetch(`${base}/api/control`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body,
      duplex: 'half',
    });
    const text = await r.text();
    return { status: r.status, json: JSON.parse(text), text };
  };
  // Read and parsed: the peer it names is nobody (before, 411 length-required).
  const read = await chunked(['{"pe', 'er": 99', '99}']);
  assert.deepEqual([read.status, read.json.error], [404, 'no-such-member'], read.text);
  assert.match(read.json.message, /9999/);
  // Past the route's limit, chunk by chunk: 413, as with a Content-Length. A megabyte, so
  // that the client is still sending when the host has seen enough: the host reads the rest
  // before it answers (an answer with the body unread reset the connection, and the client
  // saw a broken pipe). A raw socket, which reads what came before any reset.
  const parts = ['{"peer": 1, "pad": "', ...Array(16).fill('x'.repeat(65536)), '"}'];
  const answer = await new Promise((resolve, reject) => {
    const socket = connect(glint.port, '127.0.0.1', () => {
      socket.write(`POST /api/control HTTP/1.1\r\nHost: 127.0.0.1:${glint.port}\r\n`
        + `Authorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\n`
        + 'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n');
      for (const p of parts) socket.write(`${p.length.toString(16)}\r\n${p}\r\n`);
      socket.write('0\r\n\r\n');
    });
    let got = '';
    socket.on('data', (d) => { got += d; });
    socket.on('error', () => {}); // a reset after the answer: what was read stands
    socket.on('close', () => resolve(got));
    setTimeout(() => { socket.destroy(); reject(new Error(`no answer: ${got}`)); }, 10000);
  });
  assert.match(answer, /^HTTP\/1\.1 413 /, answer);
  assert.match(answer, /"error":"too-big"/, answer);
});
