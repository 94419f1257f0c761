// A LAN with IPv6 only (as many mobile networks are): glint in one network namespace,
// Chromium in another, joined by unique-local IPv6 addresses and nothing else beyond loopback.
// The page comes over https://[addr]:port/ and the picture plays over a direct IPv6 path: the
// host announces its IPv6 addresses as host candidates.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startOnLan, waitFor, apiStats, framesOver } from './harness.mjs';

let parts;
let lan;
let glint;
let browser;

before(async () => {
  parts = await startOnLan(['--source', 'testpattern', '--fps', '30', '--no-audio'], { ipv6: true });
  ({ lan, glint, browser } = parts);
});

after(async () => {
  await parts?.stop();
});

test('on an IPv6-only LAN the page loads from an IPv6 address and the picture plays over IPv6', async () => {
  const url = new URL(glint.url);
  assert.equal(url.hostname, `[${lan.hostIp}]`, 'the printed address');
  const page = browser.page;
  await page.goto(glint.url);
  await waitFor('the stream to play', () => page.evaluate(() => window.glint.state === 'playing'), 30000);
  assert.ok(await framesOver(page, 1000) > 10, 'the picture does not move');
  const pair = await waitFor('a selected candidate pair', () => page.evaluate(() => window.glint.selectedPair()));
  assert.equal(pair.remote, 'host', JSON.stringify(pair));
  assert.equal(pair.remoteAddress, lan.hostIp, `the host's IPv6 address: ${JSON.stringify(pair)}`);
  assert.equal(pair.localAddress, lan.clientIp, JSON.stringify(pair));
  const stats = await apiStats(page);
  assert.equal(stats.peers.length, 1);
  assert.ok(stats.peers[0].connected);
});
