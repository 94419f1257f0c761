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
    await new Promise((r) => setTimeout(r, 2000));
    const b = await page.evaluate(() => window.glint.inboundVideo());
    assert.ok(b.framesDecoded - a.framesDecoded > 20, `Firefox decoded ${b.framesDecoded - a.framesDecoded} frames in 2 s`);
    assert.match(glint.logs(), /peer joined.*codec="?VP8/);
  } finally {
    await browser?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    await glint.stop();
  }
});

test('beyond loopback a password is required before any signaling', async () => {
  const glint = await startGlint(['--fps', '10', '--listen', '0.0.0.0:0']);
  const browser = await startChromium();
  try {
    const withPassword = new URL(glint.url.replace('0.0.0.0', '127.0.0.1'));
    assert.match(withPassword.hash, /^#password=\w{12}$/);
    const bare = new URL(withPassword);
    bare.hash = '';
    await browser.page.goto(bare.href);
    await waitFor('a clear refusal', () => browser.page.evaluate(() => window.glint.state === 'failed'));
    assert.match(await browser.page.textContent('#status'), /password/i);
    assert.doesNotMatch(glint.logs(), /peer joined/);

    await browser.page.goto(withPassword.href);
    await browser.page.reload();
    await waitFor('the stream to play', () => browser.page.evaluate(() => window.glint.state === 'playing'), 20000);
  } finally {
    await browser.stop();
    await glint.stop();
  }
});
