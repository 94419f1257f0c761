// Watching and driving together: three Chromium pages on one desktop (Xvfb + an xterm running
// `cat` into a file). The first page is the owner and drives; the others watch, and whatever
// they send anyway is dropped by the host. Control goes to a viewer that asks and is given it,
// the owner takes it back, a hand-off lets go of the keys the old controller held, the owner's
// reloaded page comes back as the owner, a page that leaves with control frees it, and the
// owner can remove a member. The file is what a user would see typed in the terminal.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGlint, startChromium, waitFor, videoPoint } from './harness.mjs';

const dir = mkdtempSync(join(tmpdir(), 'glint-e2e-roles-'));
const typed = join(dir, 'typed.txt');
const app = `xterm -geometry 60x10+0+0 -e sh -c 'cat > ${typed}'`;

let glint;
let browser;
let owner;
let viewer;
let third;

before(async () => {
  glint = await startGlint(['--fps', '30', '--app', app]);
  browser = await startChromium();
  owner = browser.page;
  viewer = await browser.context.newPage();
  third = await browser.context.newPage();
});

after(async () => {
  await browser?.stop();
  await glint?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const lines = () => (existsSync(typed) ? readFileSync(typed, 'utf8') : '');
const room = (page) => page.evaluate(() => ({
  me: window.glint.room.me, members: window.glint.room.members, inControl: window.glint.room.inControl,
}));
const playing = (page) => waitFor('the stream to play',
  () => page.evaluate(() => window.glint.state === 'playing'), 20000);

/** Clicks the terminal on `page` and types `text` (a line), as a user would. */
async function typeLine(page, text) {
  const [x, y] = await videoPoint(page, 100, 60);
  await page.mouse.click(x, y);
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

/** Makes `page` send its input even without control, as a hostile or stale page would. */
const sendAnyway = (page) => page.evaluate(() => {
  Object.defineProperty(window.glint.room, 'mayDrive', { get: () => true, configurable: true });
});

/** Waits until the terminal's file ends with `tail`. */
const typedEndsWith = (tail) => waitFor(`the terminal to end with ${JSON.stringify(tail)}`,
  () => lines().endsWith(tail), 10000);

test('the first page drives; a viewer that sends input anyway changes nothing and is told', async () => {
  await owner.goto(glint.url);
  await playing(owner);
  await viewer.goto(glint.url);
  await third.goto(glint.url);
  await playing(viewer);
  await playing(third);
  await waitFor('three members on every page', async () => {
    for (const p of [owner, viewer, third]) if ((await room(p)).members.length !== 3) return false;
    return true;
  });
  const o = await room(owner);
  assert.deepEqual(o.members.map((m) => [m.role, m.control]), [['owner', true], ['viewer', false], ['viewer', false]]);
  assert.equal(await viewer.textContent('#control'), 'Ask for control');

  await typeLine(owner, 'owner1');
  await typedEndsWith('owner1\n');
  await sendAnyway(viewer);
  await typeLine(viewer, 'viewer1');
  await waitFor('the viewer told it watches',
    () => viewer.evaluate(() => window.glint.hostErrors.some((e) => e.code === 'not-in-control')));
  await typeLine(owner, 'owner2');
  await typedEndsWith('owner2\n');
  assert.equal(lines(), 'owner1\nowner2\n', 'a viewer typed on the host');
  assert.deepEqual(await owner.evaluate(() => window.glint.hostErrors), []);
  await viewer.evaluate(() => { delete window.glint.room.mayDrive; }); // the page's own rule again
});

test("viewers see the controller's pointer, and a viewer's click shows the others where to look", async () => {
  const ownerId = (await room(owner)).me;
  const viewerId = (await room(viewer)).me;
  const [x, y] = await videoPoint(owner, 200, 150);
  await owner.mouse.move(x - 5, y - 5);
  await owner.mouse.move(x, y);
  // Where host pixel (200, 150) is on the viewer's video.
  const [vx, vy] = await videoPoint(viewer, 200, 150);
  const box = await viewer.locator('#video').boundingBox();
  const mark = `#pointers .pointer[data-peer="${ownerId}"]`;
  const at = await waitFor("the owner's pointer on the viewer's page", () => viewer.evaluate((sel) => {
    const el = document.querySelector(sel);
    if (!el || el.hidden) return null;
    const m = /translate\(([\d.]+)px, ([\d.]+)px\)/.exec(el.style.transform);
    return m && { x: Number(m[1]), y: Number(m[2]), look: el.dataset.look, name: el.textContent };
  }, mark));
  assert.ok(Math.abs(at.x - (vx - box.x)) <= 2 && Math.abs(at.y - (vy - box.y)) <= 2,
    `drawn at ${at.x},${at.y}, expected ${vx - box.x},${vy - box.y}`);
  assert.equal(at.look, 'false');
  assert.match(at.name, /^Guest \d+$/);
  // The controller's own page draws no pointer of its own.
  assert.equal(await owner.locator(mark).count(), 0);
  // A viewer's click is a "look here" for the others, not input for the host.
  const [lx, ly] = await videoPoint(viewer, 400, 300);
  await viewer.mouse.click(lx, ly);
  await waitFor("the viewer's look-here on the owner's page",
    () => owner.locator(`#pointers .pointer[data-peer="${viewerId}"][data-look="true"]`).count());
});

test('a viewer asks, the owner gives: the viewer drives and the owner no longer does', async () => {
  await viewer.click('#control');
  await waitFor('the owner to see the request', async () => (await owner.textContent('#info')).includes('asks for control')
    || (await room(owner)).members.some((m) => m.asked));
  await owner.click('#people-button');
  const viewerId = (await room(viewer)).me;
  await owner.click(`#people-list div[data-peer="${viewerId}"] button[data-action="give"]`);
  await waitFor('the viewer to have control', async () => (await room(viewer)).inControl);
  assert.equal(await viewer.textContent('#control'), 'Release control');
  await owner.click('#people-close');

  await typeLine(viewer, 'viewer2');
  await typedEndsWith('viewer2\n');
  await sendAnyway(owner);
  await typeLine(owner, 'owner3');
  await typeLine(viewer, 'viewer3');
  await typedEndsWith('viewer3\n');
  assert.equal(lines(), 'owner1\nowner2\nviewer2\nviewer3\n', "the former controller's typing reached the host");
});

test('the owner takes control back, and the keys the viewer held are let go', async () => {
  // The viewer holds Shift down on the host when control changes hands.
  const [x, y] = await videoPoint(viewer, 100, 60);
  await viewer.mouse.click(x, y);
  await viewer.keyboard.down('Shift');
  try {
    await viewer.keyboard.type('s'); // typed with Shift held: an "S" on the host
    assert.equal(await owner.textContent('#control'), 'Take control');
    await owner.click('#control');
    await waitFor('the owner to have control', async () => (await room(owner)).inControl);
    await typeLine(owner, 'owner4');
    await typedEndsWith('owner4\n');
    assert.equal(lines(), 'owner1\nowner2\nviewer2\nviewer3\nSowner4\n', 'Shift stayed held after the hand-off');
  } finally {
    await viewer.keyboard.up('Shift');
  }
});

test('the owner reloads its page: it comes back as the owner, in control, and the viewers still watch', async () => {
  await owner.reload();
  await playing(owner);
  await waitFor('three members again, the reloaded page the owner', async () => {
    const r = await room(viewer);
    return r.members.length === 3 && r.members.filter((m) => m.role === 'owner').length === 1 && r;
  });
  const o = await room(owner);
  const me = o.members.find((m) => m.peer === o.me);
  assert.deepEqual([me.role, me.control, o.inControl], ['owner', true, true]);
  for (const p of [viewer, third]) {
    const r = await room(p);
    assert.deepEqual(r.members.find((m) => m.peer === r.me).role, 'viewer');
    assert.equal(r.inControl, false);
  }
  await typeLine(owner, 'reloaded');
  await typedEndsWith('reloaded\n');
});

test('a page that leaves with control frees it', async () => {
  await owner.click('#people-button');
  const viewerId = (await room(viewer)).me;
  await owner.click(`#people-list div[data-peer="${viewerId}"] button[data-action="give"]`);
  await waitFor('the viewer to have control', async () => (await room(viewer)).inControl);
  await owner.click('#people-close');
  await viewer.close();
  await waitFor('nobody in control, and the viewer gone', async () => {
    const r = await room(owner);
    return r.members.length === 2 && r.members.every((m) => !m.control);
  });
  assert.equal(await owner.textContent('#control'), 'Take control');
});

test('the owner removes a member: its page says so and stays away until reloaded', async () => {
  const thirdId = (await room(third)).me;
  await owner.click('#people-button');
  await owner.click(`#people-list div[data-peer="${thirdId}"] button[data-action="kick"]`);
  await waitFor('the removed page to end', () => third.evaluate(() => window.glint.state === 'ended'));
  assert.equal(await third.textContent('#status'), 'You were removed from the session. Reload the page to join again.');
  // The bar's buttons and picture line act on a session the page is no longer in: gone.
  assert.equal(await third.isVisible('#bar'), false);
  assert.equal(await third.isVisible('#sound-prompt'), false);
  await waitFor('one member left', async () => (await room(owner)).members.length === 1);
  // As the page says, a reload joins again (a viewer, a new member).
  await third.reload();
  await playing(third);
  const r = await waitFor('two members again', async () => {
    const got = await room(owner);
    return got.members.length === 2 && got;
  });
  assert.deepEqual(r.members.find((m) => m.peer !== r.me)?.role, 'viewer');
  assert.equal(await third.isVisible('#bar'), true);
});

test('the viewer password admits viewers; the owner password owners', async () => {
  const g = await startGlint(['--fps', '30', '--password', 'drive-pw', '--viewer-password', 'watch-pw']);
  const pages = [];
  try {
    const base = g.url.replace(/#.*/, '');
    for (const pw of ['watch-pw', 'drive-pw']) {
      const p = await browser.context.newPage();
      pages.push(p);
      await p.goto(`${base}#password=${pw}`);
      await playing(p);
    }
    await waitFor('two members', async () => (await room(pages[1])).members.length === 2);
    const r = await room(pages[1]);
    // The viewer came first, but only the owner's password makes an owner, and it drives.
    assert.deepEqual(r.members.map((m) => [m.role, m.control]), [['viewer', false], ['owner', true]]);
    assert.equal(await pages[0].textContent('#control'), 'Ask for control');
  } finally {
    for (const p of pages) await p.close();
    await g.stop();
  }
});

test('a full session (--max-peers 1): the second page says so steadily, the first reloaded keeps its seat, and the second joins when the first leaves', async () => {
  const g = await startGlint(['--fps', '30', '--max-peers', '1']);
  const first = await browser.context.newPage();
  const second = await browser.context.newPage();
  try {
    await first.goto(g.url);
    await playing(first);
    await second.goto(g.url);
    await waitFor('the full notice', () => second.evaluate(() => document.getElementById('status').textContent.startsWith('The session is full')));
    // Between tries the line stays: it never goes back to "Connecting…".
    // Meanwhile the first page's room never holds the refused one, not even between tries
    // (it was told "Guest 2 joined", then "left", every 3 s).
    const counts = first.evaluate(() => new Promise((resolve) => {
      const n = new Set();
      const timer = setInterval(() => n.add(window.glint.room.members.length), 20);
      setTimeout(() => { clearInterval(timer); resolve([...n]); }, 4000);
    }));
    const seen = await second.evaluate(() => new Promise((resolve) => {
      const texts = new Set();
      const el = document.getElementById('status');
      const timer = setInterval(() => texts.add(`${el.dataset.state}: ${el.textContent}`), 20);
      setTimeout(() => { clearInterval(timer); resolve([...texts]); }, 4000);
    }));
    // Its state says so too (for styles and scripts): `waiting`, not `disconnected`.
    assert.deepEqual(seen.filter((t) => !t.startsWith('waiting: The session is full')), [], 'the notice flickered');
    assert.deepEqual(await counts, [1], 'the refused page joined the first page\'s room');
    // A reload keeps the tab's place in line: the host answers with the same ticket.
    const ticket = await second.evaluate(() => sessionStorage.getItem('glint.ticket'));
    assert.match(ticket ?? '', /^\d+$/);
    await second.reload();
    await waitFor('the full notice after the reload', () => second.evaluate(() => document.getElementById('status').textContent.startsWith('The session is full')));
    assert.equal(await second.evaluate(() => sessionStorage.getItem('glint.ticket')), ticket);
    const refused = await fetch(new URL('/metrics', g.url)).then((r) => r.text());
    assert.match(refused, /^glint_signaling_full_total [1-9]/m, 'refusals at hello are counted');
    // The first page reloads: its seat is kept for it, not taken by the page in line (which
    // took it the moment the socket closed, and the owner was left outside), and it plays
    // again as the owner while the second still waits.
    await first.reload();
    await playing(first);
    const back = await room(first);
    assert.deepEqual(back.members.map((m) => [m.peer === back.me, m.role]), [[true, 'owner']]);
    assert.match(await second.textContent('#status'), /^The session is full/);
    // Gone for good: the seat goes to the page in line once the first's place is no longer
    // held (30 s).
    const left = Date.now();
    await first.close();
    await waitFor('the second page to play', () => second.evaluate(() => window.glint.state === 'playing'), 45000);
    assert.ok(Date.now() - left >= 25000, `the seat went after ${Date.now() - left} ms, not kept for the first page`);
  } finally {
    for (const p of [first, second]) await p.close().catch(() => {});
    await g.stop();
  }
});

test('with --max-peers 2, the owner lets go of a member that left with control: the page in line gets its place at once', async () => {
  const g = await startGlint(['--source', 'testpattern', '--fps', '30', '--max-peers', '2']);
  const pages = [await browser.context.newPage(), await browser.context.newPage(), await browser.context.newPage()];
  const [first, second, waiting] = pages;
  try {
    await first.goto(g.url);
    await playing(first);
    await second.goto(g.url);
    await playing(second);
    const secondId = (await room(second)).me;
    await first.click('#people-button');
    await first.click(`#people-list div[data-peer="${secondId}"] button[data-action="give"]`);
    await waitFor('the second page to have control', async () => (await room(second)).inControl);
    // It leaves with control: its seat and its place among the two are kept for it (30 s),
    // and the owner sees it with a button to let it go.
    await second.close();
    const left = Date.now();
    const letGo = `#people-list div[data-held="${secondId}"] button[data-action="let-go"]`;
    await waitFor('the held member in the owner\'s list', () => first.isVisible(letGo));
    await waiting.goto(g.url);
    await waitFor('the full notice', () => waiting.evaluate(() => document.getElementById('status').textContent.startsWith('The session is full')), 20000);
    await first.click(letGo);
    await waitFor('the held row to go', async () => !(await first.isVisible(`#people-list div[data-held="${secondId}"]`)));
    await playing(waiting);
    assert.ok(Date.now() - left < 25000, `the place went after ${Date.now() - left} ms: still kept`);
    // The owner may take control again: nobody holds the seat.
    assert.equal(await first.textContent('#control'), 'Take control');
  } finally {
    for (const p of pages) await p.close().catch(() => {});
    await g.stop();
  }
});

test('a socket whose picture never starts holds the only seat for 30 s at most: it is told, closed, and the seat goes to the page waiting, not back to it', async () => {
  const g = await startGlint(['--fps', '30', '--max-peers', '1']);
  const squatter = await browser.context.newPage();
  const page = await browser.context.newPage();
  try {
    // A plain socket from the host's own origin: let in, it takes the seat and makes a real
    // offer, which is answered, but never connects (the answer is never applied). Its peer
    // held the session's only place after its socket closed, until glint stopped.
    await squatter.goto(new URL('/api/stats', g.url).href);
    const started = Date.now();
    const told = squatter.evaluate(() => new Promise((resolve) => {
      const ws = new WebSocket(`ws://${location.host}/ws`);
      const got = [];
      ws.onopen = async () => {
        ws.send(JSON.stringify({ type: 'hello' }));
        const pc = new RTCPeerConnection();
        pc.addTransceiver('video', { direction: 'recvonly' });
        pc.addTransceiver('audio', { direction: 'recvonly' });
        pc.createDataChannel('input');
        const offer = await pc.createOffer();
        ws.send(JSON.stringify({ type: 'offer', sdp: offer.sdp }));
      };
      ws.onmessage = (m) => got.push(JSON.parse(m.data));
      // Closed, it comes straight back for the seat, before the waiting page's next try.
      ws.onclose = (e) => {
        const again = new WebSocket(`ws://${location.host}/ws`);
        again.onopen = () => again.send(JSON.stringify({ type: 'hello' }));
        again.onmessage = (m) => {
          const first = JSON.parse(m.data);
          resolve({ types: got.map((g) => g.code ?? g.type), code: e.code, again: first.code ?? first.type });
        };
      };
      setTimeout(() => resolve({ types: got.map((m) => m.code ?? m.type), code: 'still open' }), 60000);
    }));
    await page.goto(g.url);
    await waitFor('the full notice', () => page.evaluate(() => document.getElementById('status').textContent.startsWith('The session is full')));
    const seen = await told;
    const waited = Date.now() - started;
    assert.equal(seen.code, 1008, JSON.stringify(seen));
    assert.ok(seen.types.includes('answer') && seen.types.at(-1) === 'connect-timeout', JSON.stringify(seen));
    assert.ok(waited >= 29000, `closed after ${waited} ms, before its 30 s were up`);
    // Coming straight back, it is behind the page that waited (its place in line).
    assert.equal(seen.again, 'full', JSON.stringify(seen));
    // The seat and the session's place are free: the page waiting for them gets in and plays.
    await playing(page);
    const metrics = await fetch(new URL('/metrics', g.url)).then((r) => r.text());
    assert.match(metrics, /^glint_signaling_connect_timeouts_total 1$/m);
    assert.match(metrics, /^glint_peers 1$/m);
  } finally {
    for (const p of [squatter, page]) await p.close().catch(() => {});
    await g.stop();
  }
});
