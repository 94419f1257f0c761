// A LAN with IPv6 only (as many mobile networks are): glint in one network namespace,
// Chromium in another, joined by unique-local IPv6 addresses and nothing else beyond loopback.
// The page comes over https://[addr]:port/ and the picture plays over a direct IPv6 path: the
// host announces its IPv6 addresses as host candidates.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGlint, startChromium, startLan, waitFor, apiStats, framesOver } from './harness.mjs';

let lan;
let glint;
let browser;
let home;

before(async () => {
  lan = await startLan({ ipv6: true });
  home = mkdtempSync(join(tmpdir(), 'glint-home-'));
  glint = await startGlint(['--source', 'testpattern', '--fps', '30', '--no-audio', '--listen', `[${lan.hostIp}]:8443`],
    { netns: lan.host, env: { HOME: home } });
  browser = await startChromium({ executablePath: lan.chromium, contextOptions: { ignoreHTTPSErrors: true } });
});

after(async () => {
  await browser?.stop();
  await glint?.stop();
  lan?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
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
