// The page as files: index.html asks for the style sheet, then app.js (which glint serves as
// one bundle of every module it imports); and every module but the composition root loads
// without a DOM.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const src = new URL('../src/', import.meta.url);
const read = (name) => readFileSync(new URL(name, src), 'utf8');

/** The modules `name` imports statically, and theirs, as "/src/x.js" paths (itself included). */
function importGraph(name, seen = new Set()) {
  if (seen.has(name)) return seen;
  seen.add(name);
  for (const m of read(name).matchAll(/^\s*import\s[^'"]*?from\s+'\.\/([\w-]+\.js)'/gm)) importGraph(m[1], seen);
  return seen;
}

test('index.html loads the style sheet, then app.js as the one module script', () => {
  const html = readFileSync(new URL('../index.html', import.meta.url), 'utf8');
  // glint serves app.js bundled with everything it imports (host/build.rs): a list of modules
  // to preload would fetch them all again, unbundled.
  assert.doesNotMatch(html, /modulepreload/);
  assert.deepEqual([...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]), ['<script type="module" src="/src/app.js">']);
  assert.ok(importGraph('app.js').size >= 10);
  // The scripts wait for the style sheet: it is asked for first, not queued behind them.
  assert.ok(html.indexOf('rel="stylesheet"') < html.indexOf('<script'));
});

test('every module but app.js imports without a DOM', async () => {
  assert.equal(typeof globalThis.document, 'undefined');
  for (const name of importGraph('app.js')) {
    if (name === 'app.js') continue;
    await assert.doesNotReject(import(new URL(name, src)), name);
  }
});
