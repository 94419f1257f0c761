// Reaching a host through TURN, and ICE restarts, with real parts: glint and Debian's coturn in
// one network namespace, Chromium in another, joined by a veth pair (Chromium gathers nothing on
// 127.0.0.1, so loopback cannot show a relayed path). The page is told to use relays only
// (`#relay=1`, `iceTransportPolicy: 'relay'`), so it plays only if coturn relays for it.
//
// 1. coturn with a TURN REST secret; glint mints each page's credentials from it
//    (`--turn-secret`): the picture plays, and the pair in use is relayed; reloaded, the page
//    waits for the servers before its offer and connects with no ICE restart.
// 2. coturn with credentials minted for 60 s (`--turn-ttl 60`): once the first ones have
//    expired (the host renewed them at half their life), the page's UDP is cut by nftables for
//    a few seconds, the page restarts ICE on its signaling socket, and the picture resumes
//    through the relay on the same peer with the same role.
// 3. The same coturn and a wrong password: the relay-only page has no path; it says what the
//    relay answered and tries again, instead of "Connecting…" for good.
// 4. No TURN and every UDP datagram dropped from the start: the page says that no path was
//    found and that UDP may be blocked, and tries again; the host is not left with peers.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGlint, startChromium, startLan, startTurn, waitFor, apiStats, playing, framesOver } from './harness.mjs';

let lan;
let home;

before(async () => {
  lan = await startLan();
  home = mkdtempSync(join(tmpdir(), 'glint-ice-home-'));
});

after(() => {
  lan?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

/** Starts coturn, glint (with `glintArgs(turn)`) and Chromium; runs `body`; stops all three. */
async function withParts(turnOptions, glintArgs, body) {
  let turn;
  let glint;
  let browser;
  try {
    turn = await startTurn({ ip: lan.hostIp, netns: lan.host, ...turnOptions });
    glint = await startGlint(['--source', 'testpattern', '--fps', '30', '--listen', `${lan.hostIp}:0`, ...glintArgs(turn)],
      { netns: lan.host, env: { HOME: home } });
    browser = await startChromium({ executablePath: lan.chromium, contextOptions: { ignoreHTTPSErrors: true } });
    await body({ turn, glint, page: browser.page, browser });
  } catch (e) {
    // What each part said, to see why.
    console.log('--- coturn\n', turn?.logs().slice(-3000), '\n--- glint\n', glint?.logs().slice(-3000),
      '\n--- page\n', browser?.console().slice(-3000));
    throw e;
  } finally {
    await browser?.stop();
    await glint?.stop();
    await turn?.stop();
  }
}

test('through coturn with credentials minted from its REST secret, the picture plays over a relay', async () => {
  const secret = `ice-secret-${process.pid}`;
  await withParts({ secret }, (turn) => ['--ice-server', turn.url, '--turn-secret', secret], async ({ glint, page }) => {
    // The page is served over https (a LAN listen); relays only.
    await page.goto(`${glint.url}&relay=1`);
    await waitFor('the stream to play through the relay', () => playing(page), 30000);
    assert.ok(await framesOver(page, 1000) > 10, 'the picture does not move');
    const pair = await waitFor('a selected candidate pair', () => page.evaluate(() => window.glint.selectedPair()));
    assert.equal(pair.local, 'relay', JSON.stringify(pair));
    assert.equal(pair.localAddress, lan.hostIp, 'relayed by coturn, on the host side');
    assert.equal(pair.relayProtocol, 'udp');
    // One peer on the host, connected (the relay reached it, not a direct path).
    const stats = await apiStats(page);
    assert.equal(stats.peers.length, 1);
    assert.ok(stats.peers[0].connected);
    // A first visit learns of the servers after its offer went out: it gathers again with
    // them (one restart). The page remembers that this host has servers: reloaded, it waits
    // for them and connects with no restart, on the page or on the host.
    assert.ok(await page.evaluate(() => window.glint.iceRestarts) <= 1);
    await page.reload();
    await waitFor('the stream to play again through the relay', () => playing(page), 30000);
    assert.equal(await page.evaluate(() => window.glint.iceRestarts), 0, 'the reloaded page restarted ICE');
    const again = await waitFor('the new peer in /api/stats', async () => {
      const s = await apiStats(page);
      return s.peers?.length === 1 && s.peers[0].id !== stats.peers[0].id && s.peers[0].connected && s;
    });
    assert.equal(again.peers[0].ice_restarts, 0, JSON.stringify(again.peers[0]));
    assert.equal((await page.evaluate(() => window.glint.selectedPair())).local, 'relay');
  });
});

test('a link cut for a few seconds: the page restarts ICE and the picture resumes on the same peer and role', async () => {
  const nft = (...a) => execFileSync('ip', ['netns', 'exec', lan.client, 'nft', ...a]);
  const table = `icecut${process.pid}`;
  const secret = 'restart-secret';
  await withParts({ secret }, (turn) => ['--ice-server', turn.url, '--turn-secret', secret, '--turn-ttl', '60'],
    async ({ glint, page }) => {
      await page.goto(`${glint.url}&relay=1`);
      await waitFor('the stream to play through the relay', () => playing(page), 30000);
      // Minted usernames are `<unix expiry>:peer<N>`: the first ones expire, renewed ones
      // come first (at 30 s), and the restart below is made with those.
      const expiry = async () => Number((await page.evaluate(() => window.glint.turnUsernames))[0]?.split(':')[0]);
      const first = await expiry();
      assert.ok(first > Date.now() / 1000, `username expiry ${first}`);
      await waitFor('the first credentials to expire', () => Date.now() / 1000 > first + 1, 70000, 500);
      assert.ok(await expiry() >= first + 30, 'the credentials were not renewed');
      const before = await waitFor('the peer in /api/stats', async () => {
        const s = await apiStats(page);
        return s.peers?.length === 1 && s.peers[0].connected && s;
      });
      const me = await page.evaluate(() => window.glint.room.self);
      assert.equal(me.role, 'owner');
      assert.equal(me.control, true);
      const restartsBefore = await page.evaluate(() => window.glint.iceRestarts);
      // Every UDP datagram to and from the browser is lost; signaling (TCP) still works.
      nft('add', 'table', 'inet', table);
      nft('add', 'chain', 'inet', table, 'out', '{ type filter hook output priority 0 ; }');
      nft('add', 'chain', 'inet', table, 'in', '{ type filter hook input priority 0 ; }');
      nft('add', 'rule', 'inet', table, 'out', 'meta l4proto udp drop');
      nft('add', 'rule', 'inet', table, 'in', 'meta l4proto udp drop');
      try {
        // The page notices (the browser says `disconnected`) and restarts ICE.
        await waitFor('the page to restart ICE', () => page.evaluate((n) => window.glint.iceRestarts > n, restartsBefore), 20000);
        // Over the still picture the status line says the connection is being looked for.
        assert.deepEqual(await page.evaluate(() => [window.glint.state, document.getElementById('status').textContent]),
          ['reconnecting', 'Connection lost: reconnecting…']);
      } finally {
        nft('delete', 'table', 'inet', table);
      }
      const lifted = Date.now();
      // The picture moves again within a few seconds of the link's return.
      await waitFor('the picture to move again', async () => (await framesOver(page, 500)) > 5, 15000);
      const resumedMs = Date.now() - lifted;
      assert.ok(resumedMs < 10000, `resumed ${resumedMs} ms after the link came back`);
      const pair = await page.evaluate(() => window.glint.selectedPair());
      assert.equal(pair?.local, 'relay', JSON.stringify(pair));
      // The same peer, never left: same id, one peer, the restart counted; same role and control.
      const after = await waitFor('the host to count the restart', async () => {
        const s = await apiStats(page);
        return s.peers?.length === 1 && s.peers[0].ice_restarts > before.peers[0].ice_restarts &&
          s.peers[0].connected && s;
      }, 10000);
      assert.equal(after.peers[0].id, before.peers[0].id);
      const meAfter = await page.evaluate(() => window.glint.room.self);
      assert.deepEqual([meAfter.peer, meAfter.role, meAfter.control], [me.peer, 'owner', true]);
      assert.equal(await page.evaluate(() => window.glint.connects), 1, 'no new connection was made');
      assert.deepEqual(await page.evaluate(() => window.glint.timelines.length), 1, 'no new signaling attempt');
      // And the line is gone again over the moving picture.
      assert.deepEqual(await page.evaluate(() => [window.glint.state, document.getElementById('status').textContent]),
        ['playing', '']);
    });
});

test('a relay that refuses its credentials: the page says so and tries again', async () => {
  await withParts({ user: 'ice-user', password: 'ice-pass' },
    (turn) => ['--ice-server', turn.url, '--ice-username', turn.user, '--ice-credential', 'wrong'],
    async ({ turn, glint, page }) => {
      await page.goto(`${glint.url}&relay=1`);
      const said = await waitFor('the page to give the connection up', async () => {
        const text = await page.textContent('#status');
        return /no path to the host/i.test(text) && text;
      }, 40000);
      assert.match(said, new RegExp(`${turn.url.replace(/[?.]/g, '\\$&')} said 401`), said);
      assert.match(said, /Reconnecting/);
    });
});

test('UDP blocked from the start and no relay: the page says UDP may be blocked and tries again', async () => {
  const nft = (...a) => execFileSync('ip', ['netns', 'exec', lan.client, 'nft', ...a]);
  const table = `udpcut${process.pid}`;
  nft('add', 'table', 'inet', table);
  let glint;
  let browser;
  try {
    nft('add', 'chain', 'inet', table, 'out', '{ type filter hook output priority 0 ; }');
    nft('add', 'chain', 'inet', table, 'in', '{ type filter hook input priority 0 ; }');
    nft('add', 'rule', 'inet', table, 'out', 'meta l4proto udp drop');
    nft('add', 'rule', 'inet', table, 'in', 'meta l4proto udp drop');
    glint = await startGlint(['--source', 'testpattern', '--fps', '30', '--listen', `${lan.hostIp}:0`],
      { netns: lan.host, env: { HOME: home } });
    browser = await startChromium({ executablePath: lan.chromium, contextOptions: { ignoreHTTPSErrors: true } });
    const { page } = browser;
    await page.goto(glint.url);
    const said = await waitFor('the page to say why it has no picture', async () => {
      const text = await page.textContent('#status');
      return /no path to the host/i.test(text) && text;
    }, 45000);
    assert.match(said, /UDP to it may be blocked \(a TURN relay, set up on the host with --ice-server, gets through\)/, said);
    assert.match(said, /Reconnecting/);
    // It stays said while the page tries again (not replaced by "Connecting…").
    await waitFor('a second try', () => page.evaluate(() => window.glint.timelines.length >= 2), 20000);
    assert.match(await page.textContent('#status'), /UDP to it may be blocked/);
  } catch (e) {
    console.log('--- glint\n', glint?.logs().slice(-3000), '\n--- page\n', browser?.console().slice(-3000));
    throw e;
  } finally {
    await browser?.stop();
    await glint?.stop();
    nft('delete', 'table', 'inet', table);
  }
});
