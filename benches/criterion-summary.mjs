// Prints the medians of the last `cargo bench -p glint-benches --bench micro` run as JSON and
// a table, from criterion's own files under target/criterion.
// Usage: node benches/criterion-summary.mjs [target-dir]
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = process.argv[2] || join(dirname(fileURLToPath(import.meta.url)), '..', 'target', 'criterion');
const found = [];
function walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const p = join(dir, e.name);
    if (e.name === 'new' && existsSync(join(p, 'estimates.json'))) {
      const b = JSON.parse(readFileSync(join(p, 'benchmark.json'), 'utf8'));
      const est = JSON.parse(readFileSync(join(p, 'estimates.json'), 'utf8'));
      found.push({
        id: b.full_id,
        median_ns: est.median.point_estimate,
        ci95_ns: [est.median.confidence_interval.lower_bound, est.median.confidence_interval.upper_bound],
        mean_ns: est.mean.point_estimate,
      });
    } else if (e.name !== 'report' && e.name !== 'base' && e.name !== 'change') walk(p);
  }
}
if (!existsSync(root)) {
  console.error(`no criterion results under ${root}: run cargo bench -p glint-benches --bench micro first`);
  process.exit(1);
}
walk(root);
found.sort((a, b) => a.id.localeCompare(b.id));
console.log(JSON.stringify({ bench: 'micro', results: found }));
const fmt = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(3)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(1)} ns`);
const w = Math.max(...found.map((r) => r.id.length));
console.log(`\n${'benchmark'.padEnd(w)}  median        95% CI of the median`);
for (const r of found) console.log(`${r.id.padEnd(w)}  ${fmt(r.median_ns).padEnd(12)}  ${fmt(r.ci95_ns[0])} – ${fmt(r.ci95_ns[1])}`);
