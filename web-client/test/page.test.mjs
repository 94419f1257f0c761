// The page as files: index.html preloads exactly the modules app.js imports (directly or not),
// so they load in one round instead of one per import level, after the style sheet the
// scripts wait for; and every module but the composition root loads without a DOM.

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

test('index.html preloads every module of the page, and nothing else', () => {
  const html = readFileSync(new URL('../index.html', import.meta.url), 'utf8');
  const preloaded = [...html.matchAll(/<link rel="modulepreload" href="\/src\/([\w-]+\.js)">/g)].map((m) => m[1]);
  const graph = [...importGraph('app.js')];
  assert.ok(graph.length >= 10, graph.join(' '));
  assert.deepEqual([...preloaded].sort(), [...graph].sort());
  assert.equal(new Set(preloaded).size, preloaded.length, 'a module preloaded twice');
  assert.match(html, /<script type="module" src="\/src\/app\.js"><\/script>/);
  // The scripts wait for the style sheet: it is asked for first, not queued behind them.
  assert.ok(html.indexOf('rel="stylesheet"') < html.indexOf('rel="modulepreload"'));
});

test('every module but app.js imports without a DOM', async () => {
  assert.equal(typeof globalThis.document, 'undefined');
  for (const name of importGraph('app.js')) {
    if (name === 'app.js') continue;
    await assert.doesNotReject(import(new URL(name, src)), name);
  }
});
