// File transfer's page side against a fake host: blocks in order, the content hash the host
// checks, refusals shown with the host's message, damaged download blocks caught.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Transfers, contentHash, parseContentDigest, mayTransfer, formatSize, hex } from '../src/files.js';

const BLOCK = 8; // small blocks: the page takes the size the host gives

const sha = (b) => createHash('sha256').update(b).digest();
/** The content hash the long way (what host/src/files computes). */
const reference = (bytes) => {
  const digests = [];
  for (let i = 0; i < bytes.length; i += BLOCK) digests.push(sha(bytes.subarray(i, i + BLOCK)));
  return sha(Buffer.concat(digests)).toString('hex');
};

const answer = (status, body, headers = {}) => ({
  ok: status < 300,
  status,
  json: async () => body,
  arrayBuffer: async () => body,
  headers: { get: (k) => headers[k.toLowerCase()] ?? null },
});

/** A fake host that takes uploads of BLOCK-byte blocks and serves one file. */
function fakeHost({ refuseBlock = -1, damageBlock = -1, file = Buffer.alloc(0) } = {}) {
  const host = { calls: [], received: [], hash: null };
  host.fetch = async (path, { method, headers, body }) => {
    host.calls.push(`${method} ${path}`);
    assert.equal(headers.authorization, 'Bearer tok');
    if (method === 'POST' && path === '/api/files/uploads') {
      return answer(201, { id: 'u1', name: JSON.parse(body).name, block: BLOCK });
    }
    const put = /^\/api\/files\/uploads\/u1\/(\d+)$/.exec(path);
    if (method === 'PUT' && put) {
      if (Number(put[1]) === refuseBlock) return answer(403, { error: 'forbidden', message: 'only owners and the member in control may transfer files on this host' });
      host.received.push(Buffer.from(await body.arrayBuffer()));
      return answer(200, { received: host.received.reduce((n, b) => n + b.length, 0) });
    }
    if (method === 'POST' && path === '/api/files/uploads/u1/done') {
      host.hash = JSON.parse(body).hash;
      return answer(201, { name: 'kept.bin', size: 0, hash: host.hash });
    }
    if (method === 'DELETE') return answer(200, {});
    const get = /block=(\d+)/.exec(path);
    if (method === 'GET' && get) {
      const i = Number(get[1]);
      const bytes = Buffer.from(file.subarray(i * BLOCK, (i + 1) * BLOCK));
      const digest = sha(bytes).toString('base64');
      if (i === damageBlock) bytes[0] ^= 1;
      return answer(200, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), { 'content-digest': `sha-256=:${digest}:` });
    }
    return answer(404, { error: 'not-found', message: path });
  };
  return host;
}

const settings = { token: 'tok', upload: true, download: true, max_bytes: 1e9, block: BLOCK, who: 'control' };
const fileOf = (bytes, name = 'f.bin') => new File([bytes], name);

test('an upload goes block by block, in order, and ends with the content hash the host checks', async () => {
  const host = fakeHost();
  const t = new Transfers({ fetch: host.fetch });
  t.configure(settings);
  const bytes = Buffer.from('0123456789abcdefghijklmnopq'); // 27 bytes: 3 whole blocks and 3 bytes
  const done = await t.upload(fileOf(bytes));
  assert.equal(done.state, 'done', done.message);
  assert.deepEqual(host.calls.filter((c) => c.startsWith('PUT')), [0, 1, 2, 3].map((i) => `PUT /api/files/uploads/u1/${i}`));
  assert.deepEqual(Buffer.concat(host.received), bytes);
  assert.equal(host.hash, reference(bytes));
  assert.equal(done.done, 27);
  assert.match(done.message, /as kept\.bin, checksum verified/);
});

test('an empty file is one request to start and one to finish, with the hash of nothing', async () => {
  const host = fakeHost();
  const t = new Transfers({ fetch: host.fetch });
  t.configure(settings);
  const done = await t.upload(fileOf(Buffer.alloc(0)));
  assert.equal(done.state, 'done');
  assert.equal(host.hash, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

test('a refused block ends the upload with the host\'s words, and the upload is cancelled on the host', async () => {
  const host = fakeHost({ refuseBlock: 1 });
  const t = new Transfers({ fetch: host.fetch });
  t.configure(settings);
  const done = await t.upload(fileOf(Buffer.alloc(20, 1)));
  assert.equal(done.state, 'failed');
  assert.match(done.message, /member in control/);
  await new Promise((r) => setTimeout(r, 0));
  assert.ok(host.calls.includes('DELETE /api/files/uploads/u1'), host.calls.join('\n'));
  assert.ok(!host.calls.some((c) => c.endsWith('/done')));
});

test('a download is checked block by block; a damaged block fails it and nothing is saved', async () => {
  const file = Buffer.from('the quick brown fox jumps');
  const entry = { name: 'fox.txt', size: file.length, version: '25-1.0' };
  const host = fakeHost({ file });
  const t = new Transfers({ fetch: host.fetch });
  t.configure(settings);
  let saved = null;
  const ok = await t.download(entry, (blob) => { saved = blob; });
  assert.equal(ok.state, 'done', ok.message);
  assert.deepEqual(Buffer.from(await saved.arrayBuffer()), file);
  assert.equal(ok.hash, reference(file));
  assert.ok(host.calls.every((c) => !c.startsWith('GET') || c.includes('version=25-1.0')));

  const bad = fakeHost({ file, damageBlock: 2 });
  const t2 = new Transfers({ fetch: bad.fetch });
  t2.configure(settings);
  saved = null;
  const failed = await t2.download(entry, (blob) => { saved = blob; });
  assert.equal(failed.state, 'failed');
  assert.match(failed.message, /block 2 arrived damaged/);
  assert.equal(saved, null);
});

test('who may transfer follows the host\'s rule; digests and sizes read right', async () => {
  const owner = { role: 'owner', control: false };
  const driver = { role: 'viewer', control: true };
  const watcher = { role: 'viewer', control: false };
  assert.ok(mayTransfer('control', owner) && mayTransfer('control', driver) && !mayTransfer('control', watcher));
  assert.ok(!mayTransfer('owners', driver) && mayTransfer('everyone', watcher) && !mayTransfer('everyone', null));
  assert.deepEqual(parseContentDigest(`sha-512=:AA==:, sha-256=:${sha('x').toString('base64')}:`), new Uint8Array(sha('x')));
  assert.equal(parseContentDigest('md5=:AA==:'), null);
  assert.equal(parseContentDigest('sha-256=:!!:'), null);
  assert.equal(formatSize(999), '999 B');
  assert.equal(formatSize(3_400_000), '3.4 MB');
  assert.equal(formatSize(1_250_000_000), '1.3 GB');
  assert.equal(await contentHash([]), sha('').toString('hex'));
  assert.equal(hex(new Uint8Array([0, 255])), '00ff');
});
