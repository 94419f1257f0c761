// A game through a libretro core, end to end: glint runs the project's NES test ROM in
// Debian's nestopia core (no X server), the page shows it crisply scaled, and the keyboard
// drives player 1's joypad: X is the A button, which turns the ROM's background light and
// makes it beep; Right changes the button row. Bad --core / --rom exit with code 2.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startGlint, startChromium, waitFor, repo, glintBin } from './harness.mjs';

const ROM = join(repo, 'emulators', 'testrom', 'joypad.nes');
let glint;
let browser;

before(async () => {
  glint = await startGlint(['--core', 'nestopia', '--rom', ROM]);
  browser = await startChromium();
});

after(async () => {
  await browser?.stop();
  await glint?.stop();
});

const evaluate = (fn, arg) => browser.page.evaluate(fn, arg);

/** Mean green level of the video's top-right area (background only, no text there). */
const background = () => evaluate(() => {
  const c = document.createElement('canvas');
  c.width = 16; c.height = 16;
  const ctx = c.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(video, video.videoWidth - 40, 20, 16, 16, 0, 0, 16, 16);
  const d = ctx.getImageData(0, 0, 16, 16).data;
  let sum = 0;
  for (let i = 1; i < d.length; i += 4) sum += d[i];
  return sum / (d.length / 4);
});

test('the test ROM plays in the page at its native size, pixelated', async () => {
  assert.match(glint.stdout(), /streaming nestopia playing .*joypad\.nes/);
  await browser.page.goto(glint.url);
  await waitFor('the game to play', () => evaluate(() => window.glint.state === 'playing'), 20000);
  assert.deepEqual(await evaluate(() => [video.videoWidth, video.videoHeight]), [256, 240]);
  assert.equal(await evaluate(() => getComputedStyle(video).imageRendering), 'pixelated');
  await waitFor('a dark background', async () => (await background()) < 60);
});

test('holding X presses the A button: the background turns light and the ROM beeps', async () => {
  assert.match(await browser.page.textContent('#player'), /Watching: press a game key/);
  await browser.page.click('#video');
  await browser.page.keyboard.down('KeyX');
  try {
    await waitFor('a light background', async () => (await background()) > 128, 5000);
    // The first browser to press a game key is player 1, and its page says so.
    await waitFor('the page told it is player 1', () => evaluate(() => window.glint.player === 1));
    assert.equal(await browser.page.textContent('#player'), 'Player 1');
    // The loudest 2048-sample window over up to 3 s of holding: the sound comes through its
    // own jitter buffer, which on a loaded host can run a few hundred ms behind the picture.
    const loud = await evaluate(async () => {
      const { context, node } = await window.glint.soundTap();
      const a = context.createAnalyser();
      a.fftSize = 2048;
      node.connect(a);
      const t = new Float32Array(a.fftSize);
      let loudest = 0;
      for (let i = 0; i < 30 && loudest <= 0.02; i++) {
        await new Promise((r) => setTimeout(r, 100));
        a.getFloatTimeDomainData(t);
        loudest = Math.max(loudest, Math.sqrt(t.reduce((s, v) => s + v * v, 0) / t.length));
      }
      return loudest;
    });
    assert.ok(loud > 0.02, `the A button's tone is missing (rms ${loud} at its loudest over 3 s)`);
  } finally {
    await browser.page.keyboard.up('KeyX');
  }
  await waitFor('the background dark again', async () => (await background()) < 60, 5000);
});

test('a second browser that presses a game key is player 2, and its page says so', async () => {
  const second = await browser.context.newPage();
  try {
    await second.goto(glint.url);
    await waitFor('the game to play there', () => second.evaluate(() => window.glint.state === 'playing'), 20000);
    assert.match(await second.textContent('#player'), /Watching: press a game key/);
    await second.click('#video');
    await second.keyboard.press('ArrowLeft');
    await waitFor('the page told it is player 2', () => second.evaluate(() => window.glint.player === 2));
    assert.equal(await second.textContent('#player'), 'Player 2');
    assert.equal(await evaluate(() => window.glint.player), 1, 'the first browser is still player 1');
  } finally {
    await second.close();
  }
});

test('game keys can be rebound in the page: K as the A button', async () => {
  const page = browser.page;
  await page.click('#keys-button');
  assert.equal(await page.isVisible('#keys'), true);
  await page.click('#keys-list button[data-action="A"]');
  await page.keyboard.press('KeyK');
  assert.match(await page.textContent('#keys-list'), /A: KeyK/);
  await page.click('#keys-close');
  await page.keyboard.down('KeyK');
  try {
    await waitFor('a light background from K', async () => (await background()) > 128, 5000);
  } finally {
    await page.keyboard.up('KeyK');
  }
  await waitFor('the background dark again', async () => (await background()) < 60, 5000);
  // The binding persists for this browser; put the default back for the other tests.
  await page.click('#keys-button');
  await page.click('#keys-reset');
  assert.match(await page.textContent('#keys-list'), /A: KeyX/);
  await page.click('#keys-close');
});

test('an unknown core or a file that is not a ROM exits with code 2 and a clear message', async () => {
  const run = (args) => promisify(execFile)(glintBin, ['--listen', '127.0.0.1:0', ...args])
    .then(() => ({ code: 0, stderr: '' }), (e) => ({ code: e.code, stderr: e.stderr }));
  const unknown = await run(['--core', 'no-such-core', '--rom', ROM]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no libretro core named "no-such-core"/);
  const notRom = await run(['--core', 'nestopia', '--rom', join(repo, 'README.md')]);
  assert.equal(notRom.code, 2);
  assert.match(notRom.stderr, /the core refused .*README\.md/);
  assert.doesNotMatch(unknown.stderr + notRom.stderr, /panicked/);
});

test('a gamepad (the Gamepad API, mocked in the page) drives the joypad too', async () => {
  const page = browser.page;
  await page.addInitScript(() => {
    // A standard-mapping pad whose buttons the test sets through window.__pad.
    window.__pad = { buttons: new Array(17).fill(false) };
    navigator.getGamepads = () => [{
      index: 0,
      id: 'glint test pad',
      connected: true,
      mapping: 'standard',
      axes: [0, 0, 0, 0],
      buttons: window.__pad.buttons.map((p) => ({ pressed: p, touched: p, value: p ? 1 : 0 })),
    }];
  });
  await page.reload();
  await waitFor('the game to play again', () => evaluate(() => window.glint.state === 'playing'), 20000);
  await waitFor('the pad seen by the page', () => evaluate(() => window.glint.gamepads === 1));
  await waitFor('a dark background', async () => (await background()) < 60);
  // Standard mapping button 1 (right face) is libretro's A.
  await evaluate(() => { window.__pad.buttons[1] = true; });
  await waitFor('a light background from the pad', async () => (await background()) > 128, 5000);
  await evaluate(() => { window.__pad.buttons[1] = false; });
  await waitFor('the background dark again', async () => (await background()) < 60, 5000);
});

test('a pad without the standard mapping and of no known layout is bound in the Keys panel, then plays', async () => {
  const page = browser.page;
  await page.addInitScript(() => {
    // As Firefox on Linux reports a pad it does not know: no mapping, raw button numbers.
    window.__raw = { buttons: new Array(12).fill(false) };
    navigator.getGamepads = () => [{
      index: 0,
      id: '1234-abcd-Odd Pad',
      connected: true,
      mapping: '',
      axes: [0, 0, -1, 0],
      buttons: window.__raw.buttons.map((p) => ({ pressed: p, touched: p, value: p ? 1 : 0 })),
    }];
  });
  await page.reload();
  await waitFor('the game to play again', () => evaluate(() => window.glint.state === 'playing'), 20000);
  await waitFor('the pad seen by the page', () => evaluate(() => window.glint.gamepads === 1));
  await page.click('#keys-button');
  await waitFor('the pad listed as unknown', async () => /Pad 1: unknown layout/.test(await page.textContent('#pads-list')));
  await page.click('#pads-list [data-pad-bind="0"]');
  assert.match(await page.textContent('#pads-list'), /press A \/ Cross/);
  await page.click('#pads-list [data-pad-skip="0"]');
  // Libretro's A is the standard right face button: raw button 7 becomes it.
  assert.match(await page.textContent('#pads-list'), /press B \/ Circle/);
  await evaluate(() => { window.__raw.buttons[7] = true; });
  await waitFor('the next control asked for', async () => /press X \/ Square/.test(await page.textContent('#pads-list')));
  await evaluate(() => { window.__raw.buttons[7] = false; });
  while (!/your binding/.test(await page.textContent('#pads-list'))) await page.click('#pads-list [data-pad-skip="0"]');
  await page.click('#keys-close');
  await waitFor('a dark background', async () => (await background()) < 60);
  await evaluate(() => { window.__raw.buttons[7] = true; });
  await waitFor('a light background from raw button 7', async () => (await background()) > 128, 5000);
  await evaluate(() => { window.__raw.buttons[7] = false; });
  await waitFor('the background dark again', async () => (await background()) < 60, 5000);
  // The binding is this browser's: it is there after a reload, and Forget removes it.
  await page.reload();
  await waitFor('the game to play again', () => evaluate(() => window.glint.state === 'playing'), 20000);
  await page.click('#keys-button');
  await waitFor('the binding kept', async () => /Pad 1: your binding/.test(await page.textContent('#pads-list')));
  await page.click('#pads-list [data-pad-forget="0"]');
  assert.match(await page.textContent('#pads-list'), /unknown layout/);
  await page.click('#keys-close');
});

test('save state and load state work, and the saved state survives a host crash', async () => {
  const { statSync, readFileSync, writeFileSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'glint-saves-'));
  const args = ['--core', 'nestopia', '--rom', ROM, '--save-dir', dir, '--no-audio'];
  let g = await startGlint(args);
  const b = await startChromium();
  try {
    const page = b.page;
    await page.goto(g.url);
    await waitFor('the game to play', () => page.evaluate(() => window.glint.state === 'playing'), 20000);
    assert.equal(await page.isVisible('#save-state'), true);
    await page.click('#load-state');
    await waitFor('"no saved state yet"', () => page.evaluate(
      () => window.glint.hostErrors.some((e) => e.message === 'no saved state yet')));
    await page.click('#save-state');
    await waitFor('"state saved"', () => page.evaluate(
      () => window.glint.hostInfos.some((m) => m.startsWith('state saved'))));
    const file = join(dir, 'joypad.nestopia.state');
    assert.ok(statSync(file).size > 1000, 'the state file is missing or tiny');

    // The host dies without cleaning up; its core process dies with it, and a new host loads
    // the state the first one wrote.
    const coreProcess = () => promisify(execFile)('pgrep', ['-f', `core-worker .*${dir}`])
      .then(({ stdout }) => stdout.trim(), () => '');
    assert.notEqual(await coreProcess(), '', 'the game runs in a core process');
    g.child.kill('SIGKILL');
    await new Promise((r) => g.child.once('exit', r));
    await waitFor('the orphaned core process to end', async () => (await coreProcess()) === '', 5000);
    g = await startGlint(args);
    await page.goto(g.url);
    await waitFor('the game to play again', () => page.evaluate(() => window.glint.state === 'playing'), 20000);
    await page.click('#load-state');
    await waitFor('"state loaded"', () => page.evaluate(
      () => window.glint.hostInfos.includes('state loaded')));
    assert.equal(await page.isVisible('#save-state'), true);

    // A state from another version of the core is refused with both names, not misread.
    const bytes = readFileSync(file);
    const len = bytes.readUInt16LE(8);
    const label = bytes.subarray(10, 10 + len).toString();
    assert.match(label, /^Nestopia /);
    const old = Buffer.from('Nestopia 0.0-old');
    const header = Buffer.alloc(10);
    bytes.copy(header, 0, 0, 8);
    header.writeUInt16LE(old.length, 8);
    writeFileSync(file, Buffer.concat([header, old, bytes.subarray(10 + len)]));
    await page.click('#load-state');
    await waitFor('the other version refused', () => page.evaluate(() => window.glint.hostErrors.some(
      (e) => /saved by Nestopia 0\.0-old; the running core is Nestopia /.test(e.message))));
  } finally {
    await b.stop();
    await g.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const [core, file, size] of [['gambatte', 'joypad.gb', [160, 144]], ['mgba', 'joypad.gba', [240, 160]]]) {
  test(`${core} plays the project's ${file} in the page; X (the A button) turns it white`, async () => {
    const g = await startGlint(['--core', core, '--rom', join(repo, 'emulators', 'testrom', file), '--no-audio']);
    try {
      const page = browser.page;
      await page.goto(g.url);
      await waitFor('the game to play', () => evaluate(() => window.glint.state === 'playing'), 20000);
      await waitFor(`the native ${size.join('x')}`, async () => (
        (await evaluate(() => [video.videoWidth, video.videoHeight])).join() === size.join()));
      await waitFor('a dark screen', async () => (await background()) < 60);
      await page.click('#video');
      await page.keyboard.down('KeyX');
      try {
        await waitFor('a white screen', async () => (await background()) > 200, 5000);
      } finally {
        await page.keyboard.up('KeyX');
      }
      await waitFor('a dark screen again', async () => (await background()) < 60, 5000);
    } finally {
      await g.stop();
    }
  });
}

/** Compiles the core that fails on purpose (emulators/testcore/fault.c) into a new temp dir. */
async function buildFaultCore() {
  const dir = mkdtempSync(join(tmpdir(), 'glint-fault-'));
  const core = join(dir, 'fault_libretro.so');
  await promisify(execFile)('cc', ['-shared', '-fPIC', '-O1', '-o', core,
    join(repo, 'emulators', 'testcore', 'fault.c')]);
  return { dir, core };
}

test('a core that crashes mid-game ends the session with a message to every page', async () => {
  const { dir, core } = await buildFaultCore();
  const g = await startGlint(['--core', core, '--rom', ROM, '--save-dir', dir]);
  const player = await startChromium();
  const watcher = await startChromium();
  try {
    const exited = new Promise((r) => g.child.once('exit', (code) => r(code)));
    for (const b of [player, watcher]) {
      await b.page.goto(g.url);
      await waitFor('the game to play', () => b.page.evaluate(() => window.glint.state === 'playing'), 20000);
    }
    // The fault core writes through a null pointer when Start (Enter) is pressed.
    await player.page.click('#video');
    await player.page.keyboard.press('Enter');
    for (const b of [player, watcher]) {
      await waitFor('the page to say the session ended', () => b.page.evaluate(() => window.glint.state === 'ended'), 10000);
      const text = await b.page.textContent('#status');
      assert.match(text, /The session has ended: the game's core crashed \(signal 11: SIGSEGV/);
    }
    assert.equal(await exited, 1, 'glint exits with the runtime failure code');
    assert.match(g.logs(), /glint: the game's core crashed \(signal 11/);
    assert.doesNotMatch(g.logs(), /panicked/);
    // The page does not try to reconnect (that would show "Reconnecting…") to a session
    // that is gone.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await player.page.evaluate(() => window.glint.state), 'ended');
  } finally {
    await player.stop();
    await watcher.stop();
    await g.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a core that hangs is stopped after 5 s, with a message to the page', async () => {
  const { dir, core } = await buildFaultCore();
  const g = await startGlint(['--core', core, '--rom', ROM, '--save-dir', dir]);
  const b = await startChromium();
  try {
    const exited = new Promise((r) => g.child.once('exit', (code) => r(code)));
    await b.page.goto(g.url);
    await waitFor('the game to play', () => b.page.evaluate(() => window.glint.state === 'playing'), 20000);
    // The fault core spins forever when Select (Shift) is pressed.
    await b.page.click('#video');
    await b.page.keyboard.press('ShiftLeft');
    await waitFor('the page to say the session ended', () => b.page.evaluate(() => window.glint.state === 'ended'), 15000);
    assert.match(await b.page.textContent('#status'), /the game's core stopped responding for 5 s and was stopped/);
    assert.equal(await exited, 1);
    assert.doesNotMatch(g.logs(), /panicked/);
  } finally {
    await b.stop();
    await g.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
