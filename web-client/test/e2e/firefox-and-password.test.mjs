// Firefox ESR (no H.264 here) plays the stream with VP8, and the host's sound at its
// frequency; a host listening beyond loopback refuses a page without the password and plays
// for one with it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGlint, startChromium, startPulse, waitFor, playTone } from './harness.mjs';

test('Firefox ESR plays the stream with VP8, and the sound', async () => {
  const glint = await startGlint(['--fps', '30', '--app', 'xterm -geometry 60x10+0+0']);
  const puppeteer = (await import('puppeteer-core')).default;
  const profile = mkdtempSync(join(tmpdir(), 'glint-firefox-'));
  // Headless Firefox plays sound only into a real output device: a PulseAudio of its own.
  const speakers = await startPulse();
  let browser;
  try {
    browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: '/usr/bin/firefox-esr',
      headless: true,
      userDataDir: profile,
      env: { ...process.env, PULSE_SERVER: speakers.server },
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

    // Sound: an 880 Hz tone played on the host is the loudest frequency Firefox receives.
    await waitFor('sound in Firefox', () => page.evaluate(() => window.glint.audio), 10000);
    await page.click('#sound-prompt');
    await waitFor('sound on in Firefox', () => page.evaluate(
      () => !window.glint.muted && window.glint.channelAudio?.context.state !== 'suspended'), 5000);
    const path = await page.evaluate(() => window.glint.audioPath);
    const tone = playTone(glint.pulseServer, 880, 20);
    try {
      const peak = await waitFor('an 880 Hz peak in Firefox', async () => {
        const p = await page.evaluate(async () => {
          if (!window.__analyser) {
            const { context, node } = await window.glint.soundTap();
            window.__analyser = context.createAnalyser();
            window.__analyser.fftSize = 8192;
            window.__analyser.smoothingTimeConstant = 0;
            node.connect(window.__analyser);
            window.__rate = context.sampleRate;
          }
          await new Promise((r) => setTimeout(r, 300));
          const bins = new Float32Array(window.__analyser.frequencyBinCount);
          window.__analyser.getFloatFrequencyData(bins);
          let best = 1;
          for (let i = 1; i < bins.length; i += 1) if (bins[i] > bins[best]) best = i;
          return { hz: (best * window.__rate) / window.__analyser.fftSize, db: bins[best] };
        });
        return p.db > -60 && Math.abs(p.hz - 880) < 12 && p;
      }, 15000, 10);
      console.log(`Firefox: sound over the ${path}, peak ${peak.hz.toFixed(1)} Hz at ${peak.db.toFixed(1)} dB`);
    } finally {
      tone.kill();
    }
  } finally {
    await browser?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    await speakers.stop();
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
