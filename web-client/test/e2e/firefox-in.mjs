// Plays a Glint URL in Firefox ESR and prints what happened as one JSON line. Run as its own
// process so it can be started inside a network namespace (`ip netns exec NS node
// firefox-in.mjs URL`): puppeteer reaches Firefox over a local port, which must be in the same
// namespace as Firefox. Accepts Glint's self-signed certificate, as a user would.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const url = process.argv[2];
const puppeteer = (await import('puppeteer-core')).default;
const profile = mkdtempSync(join(tmpdir(), 'glint-firefox-'));
let browser;
const result = { state: null, framesDecoded: 0, protocol: null, error: null };
try {
  browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: '/usr/bin/firefox-esr',
    headless: true,
    userDataDir: profile,
    acceptInsecureCerts: true,
    extraPrefsFirefox: {
      'media.peerconnection.ice.obfuscate_host_addresses': false,
      'media.autoplay.default': 0,
      'media.autoplay.blocking_policy': 0,
    },
  });
  const page = await browser.newPage();
  await page.goto(url);
  result.protocol = await page.evaluate(() => location.protocol);
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    result.state = await page.evaluate(() => window.glint?.state ?? null);
    const v = await page.evaluate(() => window.glint?.inboundVideo?.() ?? null);
    result.framesDecoded = v?.framesDecoded ?? 0;
    if (result.state === 'playing' && result.framesDecoded > 15) break;
    await new Promise((r) => setTimeout(r, 100));
  }
} catch (e) {
  result.error = String(e?.message ?? e);
} finally {
  await browser?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify(result)}\n`);
