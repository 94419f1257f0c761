// Another web page in the user's browser must not drive the host: a page from another origin
// cannot open signaling, a rebinding host name is refused on loopback, and every answer
// carries the security headers. Checked through Chromium and on glint's own counters.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startGlint, startChromium, waitFor, freePort, rawRequest } from './harness.mjs';

let glint;
let browser;
let foreign;
let foreignPort;

const stats = async () => (await fetch(`http://127.0.0.1:${glint.port}/api/stats`)).json();

before(async () => {
  glint = await startGlint(['--source', 'testpattern', '--no-audio', '--fps', '30']);
  foreignPort = await freePort();
  // Another site the user has open: it tries glint's signaling and API from script.
  const page = `<!doctype html><script>
    window.result = { opened: false, closed: false, api: 'pending' };
    const ws = new WebSocket('ws://127.0.0.1:${glint.port}/ws');
    ws.onopen = () => { window.result.opened = true; ws.send(JSON.stringify({ type: 'hello' })); };
    ws.onclose = () => { window.result.closed = true; };
    fetch('http://127.0.0.1:${glint.port}/api/stats').then((r) => { window.result.api = r.status; },
      (e) => { window.result.api = 'failed: ' + e.message; });
  </script>`;
  foreign = http.createServer((_, res) => { res.setHeader('content-type', 'text/html'); res.end(page); });
  await new Promise((r) => foreign.listen(foreignPort, '127.0.0.1', r));
  // evil.example resolves to loopback in this browser: a DNS-rebinding name.
  browser = await startChromium({ args: ['--host-resolver-rules=MAP evil.example 127.0.0.1'] });
});

after(async () => {
  await browser?.stop();
  await glint?.stop();
  await new Promise((r) => (foreign ? foreign.close(r) : r()));
});

test('a page from another origin cannot open signaling, and nothing of it reaches the host', async () => {
  const before = (await stats()).counters;
  const page = browser.page;
  await page.goto(`http://127.0.0.1:${foreignPort}/`);
  const result = await waitFor('the foreign page to give up',
    () => page.evaluate(() => (window.result.closed && window.result.api !== 'pending') && window.result));
  assert.equal(result.opened, false, 'the signaling socket opened for another origin');
  assert.notEqual(result.api, 200, 'the API answered another origin');
  const after = (await stats()).counters;
  assert.ok(after.http_refused_origin >= before.http_refused_origin + 2,
    `refusals not counted: ${before.http_refused_origin} -> ${after.http_refused_origin}`);
  assert.equal(after.input_packets, before.input_packets, 'input arrived from the foreign page');
  assert.equal((await stats()).peers.length, 0, 'a peer joined from the foreign page');
  assert.match(glint.logs(), /request refused.*origin "http:\/\/127\.0\.0\.1:\d+" is not this server's page/);
});

test('a rebinding host name is refused on loopback, even with a matching Origin', async () => {
  const page = await browser.context.newPage();
  const answer = await page.goto(`http://evil.example:${glint.port}/`);
  assert.equal(answer.status(), 403, 'the page was served under a rebinding name');
  assert.equal((await answer.json()).error, 'bad-host');
  assert.doesNotMatch(await page.content(), /Remote screen/);
  await page.close();
  const ws = await rawRequest(glint.port, '/ws', {
    Host: `evil.example:${glint.port}`,
    Origin: `http://evil.example:${glint.port}`,
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
  });
  assert.equal(ws.status, 403);
  // A target in absolute form names its host itself (RFC 9112 §3.2.2): its name is checked,
  // not the Host header's.
  const absolute = await rawRequest(glint.port, `http://evil.example:${glint.port}/api/stats`, {
    Host: `localhost:${glint.port}`,
  });
  assert.equal(absolute.status, 403, 'an absolute-form target under a rebinding name was served');
  assert.equal(JSON.parse(absolute.body).error, 'bad-host');
  // User information before a loopback name is refused, and the answer says that is why.
  const userinfo = await rawRequest(glint.port, '/api/stats', { Host: `evil.example@localhost:${glint.port}` });
  assert.equal(userinfo.status, 403, 'a Host with user information was served');
  assert.equal(JSON.parse(userinfo.body).error, 'bad-host');
  assert.match(JSON.parse(userinfo.body).message, /user information/);
  const own = await rawRequest(glint.port, `http://localhost:${glint.port}/api/stats`, {
    Host: `localhost:${glint.port}`,
  });
  assert.equal(own.status, 200);
  assert.ok((await stats()).counters.http_refused_host >= 4);
  // The same upgrade under the loopback name is taken.
  const ok = await rawRequest(glint.port, '/ws', {
    Host: `localhost:${glint.port}`,
    Origin: `http://localhost:${glint.port}`,
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
  });
  assert.equal(ok.status, 101);
});

test('the page, its scripts and the API carry the security headers, and the page plays under them', async () => {
  for (const path of ['/', '/src/app.js', '/src/playout-worklet.js', '/api/stats', '/metrics', '/nope']) {
    const r = await rawRequest(glint.port, path, { Host: `127.0.0.1:${glint.port}` });
    const csp = r.headers['content-security-policy'] || '';
    assert.match(csp, /script-src 'self'/, `${path}: no CSP`);
    assert.match(csp, /frame-ancestors 'none'/, path);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
    assert.equal(r.headers['x-content-type-options'], 'nosniff', path);
    assert.equal(r.headers['referrer-policy'], 'no-referrer', path);
  }
  const page = await browser.context.newPage();
  const violations = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
  await page.goto(glint.url);
  await waitFor('the stream to play', () => page.evaluate(() => window.glint.state === 'playing'), 20000);
  assert.deepEqual(violations, [], 'the page broke its own policy');
  // Glint's page cannot be framed by another site.
  const framer = await browser.context.newPage();
  await framer.goto(`http://127.0.0.1:${foreignPort}/`);
  await framer.evaluate((src) => {
    const f = document.createElement('iframe');
    f.onload = () => { window.frameLoaded = true; };
    f.src = src;
    document.body.append(f);
  }, glint.url);
  await waitFor('the frame to load (or be blocked)', () => framer.evaluate(() => window.frameLoaded === true));
  const framed = framer.frames().find((f) => f.url().startsWith(glint.url.replace(/#.*$/, '')));
  const hasPage = framed ? await framed.evaluate(() => !!document.querySelector('#stage')).catch(() => false) : false;
  assert.equal(hasPage, false, 'glint was framed by another site');
  await page.close();
  await framer.close();
});
