// Firefox ESR (no H.264 here) plays the stream with VP8; a host listening beyond loopback
// refuses a page without the password and plays for one with it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGlint, startChromium, waitFor } from './harness.mjs';

test('Firefox ESR plays the stream with VP8', async () => {
  const glint = await startGlint(['--fps', '30', '--app', 'xterm -geometry 60x10+0+0']);
  const puppeteer = (await import('puppeteer-core')).default;
  const profile = mkdtempSync(join(tmpdir(), 'glint-firefox-'));
  let browser;
  try {
    browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: '/usr/bin/firefox-esr',
      headless: true,
      userDataDir: profile,
      extraPrefsFirefox: {
        'media.peerconnection.ice.obfuscate_host_addresses': false,
        'media.autoplay.default': 0,
        'media.autoplay.blocking_policy': 0,
      },
    });
    const page = await browser.newPage();
    await page.goto(glint.url);
    await waitFor('Firefox to play', () => page.evaluate(() => window.glint.state === 'playing'), 30000);
    const a = await page.evaluate(() => window.glint.inboundVideo());
    // Frames keep coming (a loaded 2-core machine still decodes well over 5 a second).
    const b = await waitFor('Firefox to decode 15 more frames', async () => {
      const now = await page.evaluate(() => window.glint.inboundVideo());
      return now.framesDecoded - a.framesDecoded > 15 && now;
    }, 3000);
    assert.ok(b.framesDecoded > a.framesDecoded);
    assert.match(glint.logs(), /peer joined.*codec="?VP8/);
  } finally {
    await browser?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    await glint.stop();
  }
});

test('beyond loopback: HTTPS, a password before any signaling, and guesses throttled', async () => {
  const glint = await startGlint(['--fps', '10', '--listen', '0.0.0.0:0']);
  const browser = await startChromium({ contextOptions: { ignoreHTTPSErrors: true } });
  try {
    const withPassword = new URL(glint.url);
    assert.equal(withPassword.protocol, 'https:', 'beyond loopback the page is not on HTTPS');
    assert.match(glint.stdout(), /fingerprint ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    assert.match(withPassword.hash, /^#password=\w{12}$/);
    const password = withPassword.hash.slice('#password='.length);
    const bare = new URL(withPassword);
    bare.hash = '';
    await browser.page.goto(bare.href);
    await waitFor('a clear refusal', () => browser.page.evaluate(() => window.glint.state === 'failed'));
    assert.match(await browser.page.textContent('#status'), /password/i);
    assert.doesNotMatch(glint.logs(), /peer joined/);

    // A burst of wrong guesses from this page: at most 5 are checked a second, the rest are
    // told to wait, with the seconds.
    const burst = await browser.page.evaluate(async () => {
      const started = performance.now();
      const answers = [];
      for (let i = 0; i < 30; i += 1) {
        answers.push(await new Promise((resolve) => {
          const ws = new WebSocket(`wss://${location.host}/ws`);
          ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', password: `guess${i}` }));
          ws.onmessage = (ev) => { resolve(JSON.parse(ev.data)); ws.close(); };
          ws.onclose = () => resolve({ code: 'closed' });
        }));
      }
      return { answers, seconds: (performance.now() - started) / 1000 };
    });
    const checked = burst.answers.filter((a) => a.code === 'unauthorized').length;
    const waits = burst.answers.filter((a) => a.code === 'too-many-attempts');
    assert.ok(checked <= 5 * Math.ceil(burst.seconds), `${checked} guesses checked in ${burst.seconds} s`);
    assert.ok(waits.length >= 30 - 5 * Math.ceil(burst.seconds), `${waits.length} told to wait`);
    assert.ok(waits.every((a) => a.retry_after_s >= 1), JSON.stringify(waits[0]));

    // The right password gets in once the wait is over: the page waits as told, then plays.
    // (The link differs from the open page only in its fragment: the page starts again itself.)
    await browser.page.goto(withPassword.href);
    await waitFor('the stream to play', () => browser.page.evaluate(() => window.glint.state === 'playing'), 30000);
    const counters = await browser.page.evaluate(async (pw) => (await (await fetch('/api/stats', {
      headers: { Authorization: `Bearer ${pw}` } })).json()).counters, password);
    // The bare page's hello had no password: no guess, not counted.
    assert.equal(counters.password_failures, checked);
    assert.ok(counters.password_throttled >= waits.length);
    // Plain HTTP on the HTTPS port never gets the page.
    const plain = await fetch(bare.href.replace('https:', 'http:'), { redirect: 'manual' });
    assert.equal(plain.status, 308);
    assert.equal(plain.headers.get('location'), bare.href);
    assert.doesNotMatch(await plain.text(), /Remote screen/);
    // The password is in no log line (only in the URL glint prints for the user).
    assert.ok(!glint.logs().includes(password), 'the password is in the log');
    assert.ok(!JSON.stringify(counters).includes(password));
  } finally {
    await browser.stop();
    await glint.stop();
  }
});

test('a link without the password asks for it in the page, and a right one plays and stays out of the URL', async () => {
  const glint = await startGlint(['--source', 'testpattern', '--fps', '10', '--password', 'open sesame']);
  const browser = await startChromium();
  const page = browser.page;
  try {
    await page.goto(glint.url.replace(/#.*/, ''));
    await page.waitForSelector('#login', { state: 'visible' });
    assert.match(await page.textContent('#login-why'), /needs a password/);
    await page.fill('#login-password', 'wrong');
    await page.press('#login-password', 'Enter');
    await page.waitForSelector('#login', { state: 'visible' });
    await waitFor('the wrong password told', async () => /Wrong password/.test(await page.textContent('#login-why')));
    await page.fill('#login-password', 'open sesame');
    await page.click('#login button[type="submit"]');
    await waitFor('the stream to play', () => page.evaluate(() => window.glint.state === 'playing'), 20000);
    assert.equal(await page.isVisible('#login'), false);
    // The typed password stays out of the URL (and so out of the browser's history), and the
    // tab keeps it: a reload plays without asking.
    assert.doesNotMatch(page.url(), /sesame|password/);
    await page.reload();
    await waitFor('the stream to play after a reload', () => page.evaluate(() => window.glint.state === 'playing'), 20000);
    assert.equal(await page.isVisible('#login'), false);
    // The printed link's password leaves the address too (the other fragment parameters
    // stay), and the tab plays with it, after a reload as well.
    await page.evaluate(() => sessionStorage.clear());
    await page.goto('about:blank');
    await page.goto(glint.url.replace(/#.*/, `#relay=0&password=${encodeURIComponent('open sesame')}`));
    await waitFor('the stream to play from the link', () => page.evaluate(() => window.glint.state === 'playing'), 20000);
    assert.match(page.url(), /#relay=0$/);
    await page.reload();
    await waitFor('the stream to play after a reload', () => page.evaluate(() => window.glint.state === 'playing'), 20000);
    assert.equal(await page.isVisible('#login'), false);
    // A link opened in this tab changes only the fragment: its password leaves the address
    // too, and the page starts again (a new peer) and plays.
    const peer = await page.evaluate(() => window.glint.room.me);
    await page.evaluate(() => { location.hash = `password=${encodeURIComponent('open sesame')}&relay=0&x=1`; });
    await waitFor('the page started again', () => page.evaluate((old) => window.glint?.state === 'playing' && window.glint.room.me !== old, peer), 20000);
    assert.match(page.url(), /#relay=0&x=1$/);
    // A link with a wrong password: the form's right one replaces it, and the link's goes.
    await page.goto('about:blank');
    await page.goto(glint.url.replace(/#.*/, '#password=stale&relay=0'));
    await page.waitForSelector('#login', { state: 'visible' });
    await page.fill('#login-password', 'open sesame');
    await page.press('#login-password', 'Enter');
    await waitFor('the stream to play', () => page.evaluate(() => window.glint.state === 'playing'), 20000);
    assert.match(page.url(), /#relay=0$/);
  } finally {
    await browser.stop();
    await glint.stop();
  }
});

test('with cookies and site data blocked, the page still plays from the printed link', async () => {
  const glint = await startGlint(['--source', 'testpattern', '--fps', '10', '--password', 'open sesame']);
  // Chromium's "Block all cookies" (chrome://settings/cookies): even reading localStorage or
  // sessionStorage throws, which stopped the page as its modules loaded.
  const browser = await startChromium({ preferences: { profile: { default_content_setting_values: { cookies: 2 } } } });
  const page = browser.page;
  try {
    await page.goto(glint.url);
    const blocked = await page.evaluate(() => { try { return !localStorage; } catch { return true; } });
    assert.ok(blocked, 'storage is refused in this profile');
    await waitFor('the stream to play', () => page.evaluate(() => window.glint?.state === 'playing'), 20000);
    // With no storage to keep it in, the link keeps its password (a reload needs it).
    assert.match(page.url(), /#password=/);
    assert.doesNotMatch(browser.console(), /pageerror/);
  } finally {
    await browser.stop();
    await glint.stop();
  }
});

test('someone guessing from the owner\'s address never makes the owner\'s browser wait', async () => {
  const glint = await startGlint(['--source', 'testpattern', '--fps', '10', '--password', 'open sesame']);
  const owner = await startChromium();
  const other = await startChromium(); // the same address (loopback), a browser of its own
  const link = glint.url.replace(/#.*/, `#password=${encodeURIComponent('open sesame')}`);
  const hello = (page, password) => page.evaluate((pw) => new Promise((resolve) => {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', password: pw }));
    ws.onmessage = (ev) => { resolve(JSON.parse(ev.data)); ws.close(); };
    ws.onclose = () => resolve({ code: 'closed' });
  }), password);
  try {
    await owner.page.goto(link);
    await waitFor('the owner to play', () => owner.page.evaluate(() => window.glint.state === 'playing'), 20000);
    const token = await waitFor('the device token kept', () => owner.page.evaluate(() => localStorage.getItem('glint.device')));
    assert.match(token, /^[0-9a-f]{32}$/);
    // The other browser guesses, waiting as told, until its address must wait 8 s or more.
    await other.page.goto(new URL('/favicon.ico', glint.url).href);
    for (let i = 0; ; i += 1) {
      const a = await hello(other.page, `guess${i}`);
      if (a.code === 'too-many-attempts' && a.retry_after_s >= 8) break;
      if (a.code === 'too-many-attempts') await new Promise((r) => setTimeout(r, a.retry_after_s * 1000));
      else assert.equal(a.code, 'unauthorized', JSON.stringify(a));
    }
    // The owner's browser, reloaded (a new socket, a new check), plays at once.
    await owner.page.reload();
    await waitFor('the owner to play again', () => owner.page.evaluate(() => window.glint.state === 'playing'), 20000);
    // All along, the address was made to wait: even the right password without the token is.
    const after = await hello(other.page, 'open sesame');
    assert.equal(after.code, 'too-many-attempts', JSON.stringify(after));
    // The owner's stats overlay asks /api/stats by address too: it says it has no host
    // figures and why, rather than show old ones as current.
    await owner.page.keyboard.press('Control+Alt+Shift+KeyS');
    await waitFor('the overlay to say why it has no host figures',
      async () => /host figures\s*none: this address must wait/.test(await owner.page.textContent('#overlay')), 10000);
    // A page opened there with a guess is told how long it must wait, counting down.
    await other.page.goto(glint.url.replace(/#.*/, '#password=guess'));
    const waitSaid = () => other.page.evaluate(
      () => /^Too many password attempts; trying again in ((\d+ min )?\d+ s)…$/.exec(document.getElementById('status').textContent)?.[1]);
    const told = await waitFor('the wait said', waitSaid, 10000);
    await waitFor(`the wait counting down from ${told}`, async () => {
      const now = await waitSaid();
      return now !== undefined && now !== told;
    }, 5000);
  } finally {
    await owner.stop();
    await other.stop();
    await glint.stop();
  }
});
