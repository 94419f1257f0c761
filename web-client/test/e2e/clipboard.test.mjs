// The clipboard shared between the host and the pages: text copied on the host (`xclip`, as an
// application would) reaches the browser clipboard of the page in control, and not a viewer's;
// text the controller copies becomes the host's CLIPBOARD and PRIMARY, and a viewer's does not.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { startGlint, startChromium, waitFor } from './harness.mjs';

let glint;
let browser;
let owner;
let viewer;
const owners = []; // xclip processes serving a selection, stopped at the end

before(async () => {
  glint = await startGlint(['--fps', '30']);
  browser = await startChromium({ contextOptions: { permissions: ['clipboard-read', 'clipboard-write'] } });
  owner = browser.page;
  viewer = await browser.context.newPage();
  for (const p of [owner, viewer]) {
    await p.goto(glint.url);
    await waitFor('the stream to play', () => p.evaluate(() => window.glint.state === 'playing'), 20000);
  }
  await waitFor('the roles', () => owner.evaluate(() => window.glint.room.inControl));
});

after(async () => {
  for (const x of owners) x.kill();
  await browser?.stop();
  await glint?.stop();
});

/** The host's selection `which` ('clipboard' or 'primary'), as an application would paste it. */
const hostSelection = (which) => {
  try {
    return execFileSync('xclip', ['-selection', which, '-o'], { env: glint.xenv(), stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch {
    return null; // nothing owns it
  }
};

/** Copies `text` on the host, as an application does: xclip owns CLIPBOARD until stopped. */
function copyOnHost(text) {
  const x = spawn('xclip', ['-selection', 'clipboard', '-i', '-quiet'], { env: glint.xenv(), stdio: ['pipe', 'ignore', 'ignore'] });
  owners.push(x);
  x.stdin.end(text);
}

test('text copied on the host reaches the controlling page and its browser clipboard, not a viewer', async () => {
  const text = 'copied on the host ✓ 日本';
  copyOnHost(text);
  await waitFor('the page to get the host clipboard', () => owner.evaluate((t) => window.glint.hostClipboard === t, text), 10000);
  await owner.bringToFront();
  await waitFor('the browser clipboard to hold it', () => owner.evaluate(async (t) => {
    try { return (await navigator.clipboard.readText()) === t; } catch { return false; }
  }, text), 10000);
  assert.equal(await viewer.evaluate(() => window.glint.hostClipboard), undefined, 'a viewer got the host clipboard');
});

test('text the controller copies becomes the host clipboard; a viewer cannot set it', async () => {
  const text = 'from the page → héllo';
  assert.equal(await owner.evaluate((t) => window.glint.sendClipboard(t), text), true);
  await waitFor('the host CLIPBOARD to hold it', () => hostSelection('clipboard') === text, 10000);
  assert.equal(hostSelection('primary'), text, 'PRIMARY (middle click) differs');
  // A viewer's page does not send; one that sends anyway is refused by the host.
  assert.equal(await viewer.evaluate(() => window.glint.sendClipboard('viewer text')), false);
  await viewer.evaluate(() => {
    Object.defineProperty(window.glint.room, 'mayDrive', { get: () => true, configurable: true });
  });
  assert.equal(await viewer.evaluate(() => window.glint.sendClipboard('viewer text')), true);
  await waitFor('the viewer told it watches',
    () => viewer.evaluate(() => window.glint.hostErrors.some((e) => e.code === 'not-in-control')));
  assert.equal(hostSelection('clipboard'), text, 'a viewer set the host clipboard');
  // The page's own text does not come back to it as the host's.
  assert.notEqual(await owner.evaluate(() => window.glint.hostClipboard), text);
});

test("Ctrl+V on the picture pastes the browser's clipboard into the host's", async () => {
  const text = 'pasted with Ctrl+V ✓';
  await owner.bringToFront();
  await owner.evaluate((t) => navigator.clipboard.writeText(t), text);
  await owner.click('#video');
  // A real Ctrl+V: the key event with the editing command Chromium gives it on Linux.
  const cdp = await owner.context().newCDPSession(owner);
  const key = { key: 'v', code: 'KeyV', windowsVirtualKeyCode: 86, modifiers: 2 };
  await cdp.send('Input.dispatchKeyEvent', { type: 'rawKeyDown', ...key, commands: ['paste'] });
  await cdp.send('Input.dispatchKeyEvent', { type: 'keyUp', ...key });
  await waitFor('the host CLIPBOARD to hold the paste', () => hostSelection('clipboard') === text, 10000);
});

test('a member given control gets the host clipboard as it is', async () => {
  const text = 'on the host before the hand-off';
  copyOnHost(text);
  await waitFor('the owner to get it', () => owner.evaluate((t) => window.glint.hostClipboard === t, text), 10000);
  assert.notEqual(await viewer.evaluate(() => window.glint.hostClipboard), text);
  const viewerId = await viewer.evaluate(() => window.glint.room.me);
  await owner.bringToFront();
  await owner.click('#people-button');
  await owner.click(`#people-list [data-peer="${viewerId}"] [data-action="give"]`);
  await waitFor('the viewer to have control', () => viewer.evaluate(() => window.glint.room.inControl));
  await waitFor('the new controller to get the host clipboard',
    () => viewer.evaluate((t) => window.glint.hostClipboard === t, text), 10000);
});

test('--clipboard-for everyone: viewers get the host clipboard too, one who joins later as well, and still cannot set it', async () => {
  const g = await startGlint(['--fps', '30', '--clipboard-for', 'everyone']);
  const pages = [];
  const xclips = [];
  try {
    for (let i = 0; i < 2; i += 1) {
      const p = await browser.context.newPage();
      pages.push(p);
      await p.goto(g.url);
      await waitFor('the stream to play', () => p.evaluate(() => window.glint.state === 'playing'), 20000);
    }
    await waitFor('the second page a viewer', () => pages[1].evaluate(() => window.glint.room.self?.role === 'viewer'));
    const text = 'for every member';
    const x = spawn('xclip', ['-selection', 'clipboard', '-i', '-quiet'], { env: g.xenv(), stdio: ['pipe', 'ignore', 'ignore'] });
    xclips.push(x);
    x.stdin.end(text);
    for (const p of pages) {
      await waitFor('each page to get the host clipboard', () => p.evaluate((t) => window.glint.hostClipboard === t, text), 10000);
    }
    assert.equal(await pages[1].evaluate(() => window.glint.sendClipboard('from a viewer')), false);
    // A page that joins after the copy gets the text as it is, once its channel opens.
    const late = await browser.context.newPage();
    pages.push(late);
    await late.goto(g.url);
    await waitFor('the late page to get the host clipboard', () => late.evaluate((t) => window.glint.hostClipboard === t, text), 20000);
  } finally {
    for (const x of xclips) x.kill();
    for (const p of pages) await p.close();
    await g.stop();
  }
});
