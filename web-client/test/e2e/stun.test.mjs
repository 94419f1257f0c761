// The host learns its public address by STUN, with real parts: glint in a network namespace
// behind a NAT (a router namespace whose nftables rewrite the source of UDP from the host to
// the router's public address and a port from another range, and let in only answers and the
// page's TCP port), Debian's coturn as the STUN server and Chromium on the public side, which
// is given no TURN server.
//
// 1. `--ice-server stun:coturn`: glint asks coturn from its media socket, learns the NAT's
//    address and port (not its own port) and announces them: the page plays, and the pair in
//    use reaches the host at that server-reflexive candidate.
// 2. A STUN server that never answers: the stream starts at once all the same, the failed
//    query is warned about and counted, and the page reaches the host through its own checks
//    (a peer-reflexive candidate).
// 3. Chromium behind a NAT of its own too (and learning its own public address from coturn):
//    the page plays through the host's srflx candidate, and only thanks to it: with the
//    host's STUN server silent, the same page never connects.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGlint, startChromium, startNat, startTurn, waitFor, apiStats, playing, framesOver } from './harness.mjs';

let nat;
let twoNats;
let home;

before(async () => {
  nat = await startNat();
  home = mkdtempSync(join(tmpdir(), 'glint-stun-home-'));
});

after(() => {
  nat?.stop();
  twoNats?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

/**
 * Starts glint behind the NAT with `args` and its page's port forwarded, and Chromium on the
 * public side; runs `body` with the page's address through the NAT; stops both.
 */
async function withGlint(args, body, parts = {}) {
  const n = parts.nat ?? nat;
  let glint;
  let browser;
  try {
    const started = Date.now();
    glint = await startGlint(['--source', 'testpattern', '--fps', '30', '--listen', `${n.hostIp}:0`, ...args],
      { netns: n.host, env: { HOME: home } });
    const startMs = Date.now() - started;
    const url = new URL(glint.url);
    n.forwardTcp(url.port);
    url.hostname = n.publicIp;
    browser = await startChromium({ executablePath: n.chromium, contextOptions: { ignoreHTTPSErrors: true } });
    await body({ glint, page: browser.page, url: url.toString(), startMs, browser });
  } catch (e) {
    console.log('--- coturn\n', parts.turn?.logs().slice(-3000), '\n--- glint\n', glint?.logs().slice(-4000),
      '\n--- page\n', browser?.console().slice(-3000));
    throw e;
  } finally {
    await browser?.stop();
    await glint?.stop();
  }
}

test('behind a NAT that maps to another port, the host learns its public address from coturn and the page reaches it there', async (t) => {
  const turn = await startTurn({ ip: nat.clientIp, netns: nat.client });
  try {
    await withGlint(['--ice-server', `stun:${nat.clientIp}:${turn.port}`], async ({ glint, page, url, startMs }) => {
      // Learned before any page: from the log line, the public side and the local one.
      const asked = Date.now();
      const line = await waitFor('glint to learn its public address',
        () => /public address learned by STUN public=(\S+):(\d+) local=(\S+):(\d+)/.exec(glint.logs()), 10000);
      const [, publicIp, publicPort, localIp, localPort] = line;
      assert.equal(publicIp, nat.publicIp, 'the router\'s public address');
      assert.equal(localIp, nat.hostIp, 'asked from the media socket on the private side');
      assert.ok(Number(publicPort) >= nat.natPorts[0] && Number(publicPort) <= nat.natPorts[1],
        `the NAT's port ${publicPort}`);
      assert.notEqual(publicPort, localPort, 'the NAT mapped the media port to another port');
      t.diagnostic(`glint started in ${startMs} ms; address learned ${Date.now() - asked} ms later (at most)`);

      const loaded = Date.now();
      await page.goto(url);
      await waitFor('the stream to play through the NAT', () => playing(page), 30000);
      t.diagnostic(`playing ${Date.now() - loaded} ms after the page was asked for (srflx)`);
      assert.ok(await framesOver(page, 1000) > 10, 'the picture does not move');
      // The page reaches the host at the candidate learned by STUN: its address and port.
      const pair = await waitFor('a selected candidate pair', () => page.evaluate(() => window.glint.selectedPair()));
      assert.deepEqual([pair.remote, pair.remoteAddress, String(pair.remotePort)], ['srflx', nat.publicIp, publicPort],
        JSON.stringify(pair));

      const stats = await apiStats(page);
      assert.equal(stats.public_address, `${publicIp}:${publicPort}`);
      assert.ok(stats.counters.stun_requests >= 1 && stats.counters.stun_answers >= 1, JSON.stringify(stats.counters));
      assert.equal(stats.counters.stun_failures, 0);
      assert.equal(stats.peers.length, 1);
      assert.ok(stats.peers[0].connected);
    }, { turn });
  } finally {
    await turn.stop();
  }
});

test('a STUN server that never answers holds nothing up: the stream starts, the failure is warned about and counted', async (t) => {
  // Nothing listens there: the requests go unanswered.
  const silent = `stun:${nat.clientIp}:${20000 + Math.floor(Math.random() * 20000)}`;
  await withGlint(['--ice-server', silent], async ({ glint, page, url, startMs }) => {
    assert.ok(startMs < 10000, `glint took ${startMs} ms to start`);
    const loaded = Date.now();
    await page.goto(url);
    await waitFor('the stream to play', () => playing(page), 30000);
    t.diagnostic(`glint started in ${startMs} ms; playing ${Date.now() - loaded} ms after the page was asked for (prflx)`);
    // No srflx candidate was announced: the host's own checks opened the NAT, and the page
    // knows that address only from them (Chromium's stats hide a prflx address, not its port).
    const pair = await waitFor('a selected candidate pair', () => page.evaluate(() => window.glint.selectedPair()));
    assert.equal(pair.remote, 'prflx', JSON.stringify(pair));
    assert.ok(pair.remotePort >= nat.natPorts[0] && pair.remotePort <= nat.natPorts[1], JSON.stringify(pair));
    // Four sends, given up 7.5 s after the first.
    const stats = await waitFor('the failed query to be counted', async () => {
      const s = await apiStats(page);
      return s.counters?.stun_failures >= 1 && s;
    }, 15000);
    assert.equal(stats.public_address, null);
    assert.ok(stats.counters.stun_requests >= 4, JSON.stringify(stats.counters));
    assert.equal(stats.counters.stun_answers, 0);
    assert.match(glint.logs(), /WARN.*did not tell the public address/);
    assert.ok(await framesOver(page, 1000) > 10, 'the picture does not move');
  });
});

test('with the browser behind a NAT too, the page plays through the address the host learned, and never without it', async (t) => {
  twoNats = await startNat({ browserNat: true });
  const n = twoNats;
  const turn = await startTurn({ ip: n.clientIp, netns: n.client });
  const coturn = `stun:${n.clientIp}:${turn.port}`;
  try {
    await withGlint(['--ice-server', coturn], async ({ glint, page, url }) => {
      const [, mapped] = await waitFor('glint to learn its public address',
        () => /public address learned by STUN public=(\S+)/.exec(glint.logs()), 10000);
      const loaded = Date.now();
      await page.goto(url);
      await waitFor('the stream to play through both NATs', () => playing(page), 30000);
      t.diagnostic(`playing ${Date.now() - loaded} ms after the page was asked for (two NATs)`);
      assert.ok(await framesOver(page, 1000) > 10, 'the picture does not move');
      const pair = await waitFor('a selected candidate pair', () => page.evaluate(() => window.glint.selectedPair()));
      assert.deepEqual([pair.remote, `${pair.remoteAddress}:${pair.remotePort}`], ['srflx', mapped], JSON.stringify(pair));
      // The page's side is its own NAT's address (srflx, or prflx as the host saw it first).
      assert.ok(['srflx', 'prflx'].includes(pair.local), JSON.stringify(pair));
    }, { turn, nat: n });

    // The same, but the host asks a server that never answers (the page still learns its own
    // address from coturn): nothing tells the page where the host is, and the host's checks
    // stop at the page's NAT.
    const silent = `stun:${n.clientIp}:${20000 + Math.floor(Math.random() * 20000)}`;
    await withGlint(['--ice-server', silent, '--ice-server', coturn], async ({ page, url, browser }) => {
      await page.goto(url);
      // Until the page gives up, no candidate pair ever works.
      const pairs = [];
      await waitFor('the page to give the connection up', async () => {
        pairs.push(await page.evaluate(() => window.glint.selectedPair()));
        return /no path to the host/.test(browser.console());
      }, 60000, 100);
      assert.deepEqual(pairs.filter((p) => p !== null), [], 'a path was found');
      const stats = await apiStats(page);
      assert.ok(stats.peers.every((p) => !p.connected), JSON.stringify(stats.peers));
      assert.equal(stats.counters.frames_sent, 0, 'the host sent a frame');
      assert.equal(stats.public_address, null);
      assert.equal(stats.counters.stun_answers, 0);
    }, { turn, nat: n });
  } finally {
    await turn.stop();
  }
});
