// The end-to-end bench runs in its short mode and prints well-formed JSON with every figure.
// Its numbers are not judged here (timing belongs in benches/RESULTS.md, not in a test).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repo } from './harness.mjs';

test('benches/e2e.mjs --short produces well-formed JSON', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'glint-bench-'));
  try {
    const out = join(dir, 'e2e.json');
    const { stdout } = await promisify(execFile)('node', [join(repo, 'benches', 'e2e.mjs'), '--short', '--json', out],
      { cwd: repo, timeout: 120000 });
    assert.match(stdout, /click-to-photon/);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(report.bench, 'e2e');
    assert.equal(report.results.length, 1);
    const r = report.results[0];
    assert.equal(r.source, 'testpattern');
    assert.equal(r.presses, 6);
    assert.ok(r.seen >= 4, `only ${r.seen} of 6 presses seen on screen`);
    for (const k of ['p50', 'p95', 'p99']) assert.ok(r.click_to_photon_ms[k] > 0, `click_to_photon ${k}`);
    assert.ok(r.host_processing_ms.p50 > 0 && r.host_processing_ms.p95 >= r.host_processing_ms.p50);
    assert.ok(r.capture_to_display_by_code_ms.p50 >= 0);
    assert.ok(r.presented_fps > 10, `presented ${r.presented_fps} fps`);
    assert.ok(r.host_cpu_pct > 0);
    assert.ok(r.first_frame_ms > 0);
    // The page's timeline: every step reached, in order (the connection's 'connected' event
    // may come after the first frame is shown: it is checked to be there, not for its place).
    const all = ['scriptsMs', 'wsOpenMs', 'answerMs', 'iceConnectedMs', 'connectedMs', 'firstFrameMs'];
    for (const k of all) assert.equal(typeof r.timeline_ms[k], 'number', `timeline ${k}: ${JSON.stringify(r.timeline_ms)}`);
    const steps = all.filter((k) => k !== 'connectedMs');
    for (let i = 1; i < steps.length; i += 1) {
      assert.ok(r.timeline_ms[steps[i]] >= r.timeline_ms[steps[i - 1]], JSON.stringify(r.timeline_ms));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the fan-out bench connects several Rust viewers at once and prints well-formed JSON', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'glint-fanout-'));
  try {
    const out = join(dir, 'fanout.json');
    const bin = join(repo, 'target', 'release', 'fanout');
    await promisify(execFile)(bin, ['--steps', '1,12', '--seconds', '1', '--json', out],
      { cwd: repo, timeout: 120000, env: { ...process.env } });
    const report = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(report.bench, 'fanout');
    assert.deepEqual(report.steps.map((s) => s.viewers), [1, 12]);
    // Twelve viewers joining in one burst are all served (none refused as busy) and receive
    // the stream.
    for (const s of report.steps) assert.ok(s.min_share > 0.5, JSON.stringify(s));
    assert.equal(report.max_viewers_at_95pct >= 1, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('benches/av-sync.mjs --short matches beeps to flashes and prints well-formed JSON', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'glint-avsync-'));
  try {
    const out = join(dir, 'av.json');
    await promisify(execFile)('node', [join(repo, 'benches', 'av-sync.mjs'), '--short', '--json', out],
      { cwd: repo, timeout: 120000 });
    const r = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(r.bench, 'av-sync');
    assert.ok(r.beeps_matched >= 2, `only ${r.beeps_matched} beeps matched to flashes`);
    // Both onsets come after their capture instant, within a second.
    for (const k of ['audio_capture_to_playout_ms', 'video_capture_to_display_ms']) {
      assert.ok(r[k].p50 > 0 && r[k].p50 < 1000, `${k}: ${JSON.stringify(r[k])}`);
    }
    assert.equal(typeof r.skew_ms.p50, 'number');
    // The page played the sound itself, from the audio channel.
    assert.equal(r.audio_path, 'channel');
    assert.ok(r.page_playout.length === 1 && r.page_playout[0].packets > 100, JSON.stringify(r.page_playout));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
