// HTTPS beyond loopback, as on a real LAN: glint in one network namespace, the browsers in
// another. The page comes over https:// (its certificate accepted, as a user would), plays,
// and is a secure context, so its sound takes the page's own path; plain http:// to that port
// is only ever redirected. The kept self-signed certificate survives a restart, and a replaced
// certificate file is served without one.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import tls from 'node:tls';
import { startGlint, startOnLan, waitFor, freePort } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
let parts;
let lan;
let glint;
let browser;
let home;

before(async () => {
  parts = await startOnLan(['--fps', '30']);
  ({ lan, glint, browser, home } = parts);
});

after(async () => {
  await parts?.stop();
});

test('over the LAN the page comes over https, plays, and its sound takes the page\'s own path', async () => {
  const url = new URL(glint.url);
  assert.equal(url.protocol, 'https:');
  assert.equal(url.hostname, lan.hostIp);
  const page = browser.page;
  await page.goto(glint.url);
  await waitFor('the stream to play', () => page.evaluate(() => window.glint.state === 'playing'), 30000);
  assert.equal(await page.evaluate(() => window.isSecureContext), true);
  await waitFor('the page\'s own sound path', () => page.evaluate(() => window.glint.audioPath === 'channel'), 10000);
  const password = url.hash.slice('#password='.length);
  const stats = await waitFor('the peer in /api/stats', async () => {
    const s = await page.evaluate(async (pw) => (await fetch('/api/stats', {
      headers: { Authorization: `Bearer ${pw}` } })).json(), password);
    // The host reports the track until the page's `audio` channel opens (a moment after the
    // video plays); the stats are published every 250 ms.
    return s.peers?.length === 1 && s.peers[0].audio_path === 'channel' && s;
  });
  assert.equal(stats.peers[0].audio_path, 'channel');
  assert.ok(stats.peers[0].connected);
  // HSTS comes with every answer over TLS.
  const hsts = await page.evaluate(async () => (await fetch('/')).headers.get('strict-transport-security'));
  assert.match(hsts ?? '', /max-age=\d+/);
});

test('plain http:// to the HTTPS port is redirected, never given the page', async () => {
  const page = await browser.context.newPage();
  const plain = `http://${lan.hostIp}:8443/`;
  const answer = await page.goto(plain);
  assert.equal(answer.url(), `https://${lan.hostIp}:8443/`);
  const first = answer.request().redirectedFrom();
  assert.ok(first, 'no redirect');
  assert.equal(first.url(), plain);
  assert.equal((await first.response()).status(), 308);
  await page.close();
});

test('Firefox ESR plays the video over https too', async () => {
  const child = spawn('ip', ['netns', 'exec', lan.client, process.execPath, join(here, 'firefox-in.mjs'), glint.url],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: home } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((r) => child.once('exit', r));
  assert.equal(code, 0, err);
  const result = JSON.parse(out.trim().split('\n').at(-1));
  assert.equal(result.error, null);
  assert.equal(result.protocol, 'https:');
  assert.equal(result.state, 'playing');
  assert.ok(result.framesDecoded > 15, JSON.stringify(result));
});

/** SHA-256 fingerprint of the certificate served on 127.0.0.1:`port`, as glint prints it. */
function servedFingerprint(port) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.end();
    });
    s.on('error', reject);
  });
}

const printed = (g) => /fingerprint (\S+)/.exec(g.stdout())?.[1];

test('the kept self-signed certificate is the same after a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'glint-home-'));
  const args = ['--source', 'testpattern', '--no-audio', '--tls', 'on'];
  let g;
  try {
    g = await startGlint(args, { env: { HOME: dir } });
    const first = printed(g);
    assert.equal(await servedFingerprint(g.port), first);
    await g.stop();
    g = await startGlint(args, { env: { HOME: dir } });
    assert.equal(printed(g), first, 'a new certificate after a restart: the browser\'s exception is lost');
    assert.equal(await servedFingerprint(g.port), first);
  } finally {
    await g?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a replaced certificate file is served without a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'glint-cert-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const make = (cn) => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
      '-nodes', '-days', '2', '-subj', `/CN=${cn}`, '-keyout', key, '-out', cert], { stdio: 'ignore' });
    return execFileSync('openssl', ['x509', '-in', cert, '-noout', '-fingerprint', '-sha256'])
      .toString().trim().split('=')[1];
  };
  let g;
  try {
    const first = make('first.example');
    const port = await freePort();
    g = await startGlint(['--source', 'testpattern', '--no-audio', '--listen', `127.0.0.1:${port}`,
      '--tls-cert', cert, '--tls-key', key], { env: { HOME: dir } });
    assert.equal(new URL(g.url).protocol, 'https:', '--tls-cert on loopback means https');
    assert.equal(printed(g), first);
    assert.equal(await servedFingerprint(port), first);
    const second = make('second.example');
    assert.notEqual(second, first);
    assert.ok(readFileSync(cert, 'utf8').includes('BEGIN CERTIFICATE'));
    await waitFor('the new certificate to be served', async () => (await servedFingerprint(port)) === second, 10000, 200);
    assert.match(g.logs(), /serving a new TLS certificate/);
    assert.equal(g.child.exitCode, null, 'glint restarted or stopped');
  } finally {
    await g?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
