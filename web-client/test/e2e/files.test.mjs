// File transfer as people use it: glint with an upload and a download directory, an owner's
// and a viewer's Chromium page. The owner picks a big file and drops a small one on the picture;
// both land whole in the upload directory while the picture keeps playing and the host's
// memory stays flat. The viewer is refused until it is given control, then downloads a file
// through the panel's button. Bad requests get JSON errors and leave nothing behind.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { startGlint, startChromium, waitFor, repo } from './harness.mjs';

const MIB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'glint-files-'));
const up = join(dir, 'up');
const down = join(dir, 'down');
let glint;
let browser;
let owner;
let viewer;
let base;

const sha = (b) => createHash('sha256').update(b).digest('hex');
/** The host's peak resident memory, kB (VmHWM). */
const peakKb = (pid) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
/** Resets the peak to the current resident size (proc(5): clear_refs 5). */
const resetPeak = (pid) => writeFileSync(`/proc/${pid}/clear_refs`, '5');

before(async () => {
  mkdirSync(down);
  glint = await startGlint(['--source', 'testpattern', '--fps', '30', '--password', 'owner-pw',
    '--viewer-password', 'viewer-pw', '--upload-dir', up, '--download-dir', down]);
  base = `http://127.0.0.1:${glint.port}`;
  browser = await startChromium({ contextOptions: { acceptDownloads: true } });
  owner = browser.page;
  viewer = await browser.context.newPage();
  await owner.goto(`${base}/#password=owner-pw`);
  await viewer.goto(`${base}/#password=viewer-pw`);
  for (const p of [owner, viewer]) {
    await waitFor('the page to play', () => p.evaluate(() => window.glint.state === 'playing'), 20000);
    await waitFor('file transfer to be on', () => p.evaluate(() => window.glint.files.settings !== null));
  }
});

after(async () => {
  await browser?.stop();
  await glint?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const uploaded = () => readdirSync(up).sort();

test('the owner uploads a 256 MiB file and drops another: both arrive whole, the video plays on, memory stays flat', async () => {
  const big = join(dir, 'big video.bin');
  const bytes = randomBytes(256 * MIB);
  writeFileSync(big, bytes);
  await owner.bringToFront(); // a tab behind another is not painted: its frames would not count
  assert.equal(await owner.locator('#files-button').isVisible(), true);
  await owner.click('#files-button');
  assert.equal(await owner.locator('#files-pick').isEnabled(), true);

  resetPeak(glint.child.pid);
  const rssBefore = peakKb(glint.child.pid);
  const framesBefore = await owner.evaluate(() => window.glint.framesPresented);
  const t0 = Date.now();
  await owner.setInputFiles('#files-picker', big);
  const done = await waitFor('the upload to finish', () => owner.evaluate(() => {
    const t = window.glint.files.list.find((x) => x.name === 'big video.bin');
    return t && t.state !== 'running' && { state: t.state, message: t.message, hash: t.hash };
  }), 120000, 200);
  const seconds = (Date.now() - t0) / 1000;
  assert.equal(done.state, 'done', done.message);
  assert.match(done.message, /checksum verified/);
  const frames = (await owner.evaluate(() => window.glint.framesPresented)) - framesBefore;
  const grew = peakKb(glint.child.pid) - rssBefore;
  console.log(`256 MiB upload: ${seconds.toFixed(1)} s, ${(256 / seconds).toFixed(0)} MiB/s; ${frames} frames shown meanwhile; host peak RSS +${(grew / 1024).toFixed(1)} MiB`);
  assert.equal(sha(readFileSync(join(up, 'big video.bin'))), sha(bytes), 'the file on the host differs');
  // The host holds a block or two, never the file.
  assert.ok(grew < 64 * 1024, `host memory grew ${grew} kB during a 256 MiB upload`);
  // The picture kept coming (a user sees it move): at least a frame every half second.
  assert.ok(frames >= Math.floor(seconds * 2), `${frames} frames in ${seconds} s of upload`);

  // A file dropped onto the picture is uploaded too (and the page stays).
  const url = owner.url();
  await owner.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['dropped on the picture\n'], 'dropped.txt', { type: 'text/plain' }));
    const stage = document.getElementById('stage');
    stage.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    stage.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await waitFor('the dropped file', () => uploaded().includes('dropped.txt'));
  assert.equal(readFileSync(join(up, 'dropped.txt'), 'utf8'), 'dropped on the picture\n');
  assert.equal(owner.url(), url);
  assert.deepEqual(uploaded(), ['big video.bin', 'dropped.txt']);
});

test('a viewer is refused until given control, then uploads and downloads; names stay in the directory', async () => {
  const small = randomBytes(5 * MIB + 3);
  writeFileSync(join(down, 'report.bin'), small);
  // Refused, with words, by the page and by the host (its own token, straight to the API).
  const refused = await viewer.evaluate(async () => {
    const r = await fetch('/api/files', { headers: { authorization: `Bearer ${window.glint.files.settings.token}` } });
    return { status: r.status, body: await r.json() };
  });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error, 'forbidden');
  assert.match(refused.body.message, /member in control/);
  await viewer.click('#files-button');
  assert.equal(await viewer.locator('#files-pick').isDisabled(), true);
  assert.match(await viewer.locator('#files-note').innerText(), /ask for control/);

  // The owner gives control: the viewer may now.
  const viewerId = await viewer.evaluate(() => window.glint.room.me);
  await owner.click('#people-button');
  await owner.click(`#people-list [data-peer="${viewerId}"] [data-action="give"]`);
  await waitFor('the viewer to have control', () => viewer.evaluate(() => window.glint.room.inControl));

  await viewer.bringToFront();
  const sent = await viewer.evaluate(async () => {
    const make = (n) => new File([`file ${n}\n`], '../../etc/evil name.txt');
    const [a] = await window.glint.files.upload([make(1)]);
    const [b] = await window.glint.files.upload([make(2)]);
    return [a.state, a.savedAs, b.state, b.savedAs];
  });
  assert.deepEqual(sent, ['done', 'evil name.txt', 'done', 'evil name (1).txt']);
  assert.equal(readFileSync(join(up, 'evil name (1).txt'), 'utf8'), 'file 2\n');

  // Download through the panel's button: the browser saves the file, byte for byte.
  await viewer.click('#files-button'); // closes
  await viewer.click('#files-button'); // opens again and lists
  const button = viewer.locator('#files-host [data-name="report.bin"] button');
  await button.waitFor();
  const [download] = await Promise.all([viewer.waitForEvent('download'), button.click()]);
  const saved = join(dir, 'saved.bin');
  await download.saveAs(saved);
  assert.equal(download.suggestedFilename(), 'report.bin');
  assert.equal(sha(readFileSync(saved)), sha(small));
  const state = await viewer.evaluate(() => window.glint.files.list.find((t) => t.kind === 'download'));
  assert.equal(state.state, 'done');
  assert.match(state.message, /checksum verified/);
});

test('bad requests get JSON errors, count, and leave nothing behind', async () => {
  const api = async (method, path, body, token = 'owner-pw') => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
      body: body === undefined ? undefined : (body instanceof Uint8Array ? body : JSON.stringify(body)),
    });
    return { status: r.status, json: await r.json().catch(() => null) };
  };
  const before = uploaded();
  const start = await api('POST', '/api/files/uploads', { name: 'x.bin', size: 4 });
  assert.equal(start.status, 201);
  const id = start.json.id;
  const two = await api('POST', '/api/files/uploads', { name: 'two.bin', size: 4 * 1024 * 1024 + 1 });
  assert.equal(two.status, 201);
  const cases = [
    [await api('PUT', `/api/files/uploads/${two.json.id}/1`, new Uint8Array(1)), 409, 'out-of-order'],
    [await api('PUT', `/api/files/uploads/${id}/1`, new Uint8Array(4)), 416, 'out-of-range'],
    [await api('PUT', `/api/files/uploads/${id}/abc`, new Uint8Array(4)), 400, 'bad-block'],
    [await api('PUT', `/api/files/uploads/${id}/00`, new Uint8Array(4)), 400, 'bad-block'],
    [await api('PUT', `/api/files/uploads/${id}/`, new Uint8Array(4)), 400, 'bad-block'],
    [await api('PUT', `/api/files/uploads/${id}`, new Uint8Array(4)), 400, 'bad-block'],
    [await api('GET', '/api/files/download?name=report.bin&block=abc'), 400, 'bad-block'],
    [await api('PUT', `/api/files/uploads/${id}/0`, new Uint8Array(5)), 400, 'bad-block'],
    [await api('POST', `/api/files/uploads/${id}/done`, { hash: '00' }), 409, 'incomplete'],
    [await api('POST', '/api/files/uploads', { name: '..', size: 1 }), 400, 'bad-name'],
    [await api('POST', '/api/files/uploads', { name: 'huge', size: 2 ** 50 }), 413, 'too-big'],
    [await api('GET', '/api/files/download?name=../up/dropped.txt&block=0'), 404, 'no-such-file'],
    [await api('GET', '/api/files/download?name=report.bin&block=99'), 416, 'out-of-range'],
    [await api('GET', '/api/files/download?name=report.bin&block=0&version=old'), 412, 'changed'],
    [await api('GET', '/api/files', undefined, 'wrong'), 401, 'unauthorized'],
  ];
  for (const [r, status, code] of cases) {
    assert.equal(r.status, status, JSON.stringify(r.json));
    assert.equal(r.json?.error, code, JSON.stringify(r.json));
  }
  assert.equal((await api('DELETE', `/api/files/uploads/${two.json.id}`)).status, 200);
  await api('PUT', `/api/files/uploads/${id}/0`, new Uint8Array(4));
  // Something that is not a hash is refused, and the upload stays open for the right one.
  const notAHash = await api('POST', `/api/files/uploads/${id}/done`, { hash: '00' });
  assert.equal(notAHash.status, 400);
  assert.equal(notAHash.json.error, 'bad-hash');
  const mismatch = await api('POST', `/api/files/uploads/${id}/done`, { hash: '00'.repeat(32) });
  assert.equal(mismatch.status, 422);
  assert.equal(mismatch.json.error, 'checksum-mismatch');
  assert.deepEqual(uploaded(), before, 'a refused upload left a file');
  const metrics = await (await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer owner-pw' } })).text();
  assert.match(metrics, /^glint_files_checksum_mismatch_total 1$/m);
  assert.match(metrics, /^glint_files_uploaded_total 4$/m);
});

test('the README\'s curl commands upload and download a file as documented', () => {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const block = /<!-- files-curl[^>]*-->\n```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'the README has no files-curl block');
  const work = mkdtempSync(join(dir, 'curl-'));
  const mine = join(work, 'src');
  mkdirSync(mine);
  const pdf = randomBytes(9 * MIB + 1);
  writeFileSync(join(mine, 'report.pdf'), pdf);
  const offered = randomBytes(4 * MIB + 77);
  writeFileSync(join(down, 'report.pdf'), offered);
  const script = block
    .replace('G=http://127.0.0.1:8080', `G=${base}`)
    .replace('f=report.pdf', `f=${join(mine, 'report.pdf')}`);
  assert.notEqual(script, block);
  const out = execFileSync('bash', ['-euo', 'pipefail', '-c', script], {
    cwd: work, env: { ...process.env, GLINT_API_TOKEN: 'owner-pw' }, encoding: 'utf8',
  });
  assert.match(out, /"name":"report\.pdf"/, out);
  assert.equal(sha(readFileSync(join(up, 'report.pdf'))), sha(pdf), 'the upload differs');
  assert.equal(sha(readFileSync(join(work, 'report.pdf'))), sha(offered), 'the download differs');
});
