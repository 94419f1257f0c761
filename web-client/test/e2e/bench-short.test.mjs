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
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
