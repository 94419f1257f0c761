// What the page makes of the host's `members` message: whether it sends input, what its
// control button does, and the notices a change brings.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Room, BRIEF_VISIT_MS, notices, savedName, saveName, watchingHint } from '../src/people.js';

const member = (peer, role, control = false, asked = false, name = `P${peer}`) => ({ peer, name, role, control, asked });
const msg = (members, { seats = 1, implicit = false } = {}) => ({ type: 'members', members, seats, implicit });

test('a page drives only with control, or with implicit control while a seat is free', () => {
  const room = new Room();
  room.reset(2);
  assert.equal(room.mayDrive, true, 'before the host says, the host decides');
  room.update(msg([member(1, 'owner', true), member(2, 'viewer')]));
  assert.equal(room.mayDrive, false);
  assert.equal(room.controlAction, 'ask');
  room.update(msg([member(1, 'owner', true), member(2, 'viewer', false, true)]));
  assert.equal(room.controlAction, null, 'asked already');
  room.update(msg([member(1, 'owner'), member(2, 'viewer', true)]));
  assert.equal(room.mayDrive, true);
  assert.equal(room.controlAction, 'release');
  // Implicit control: a free seat is anyone's; a taken one is not.
  room.update(msg([member(1, 'owner'), member(2, 'viewer')], { implicit: true }));
  assert.equal(room.mayDrive, true);
  assert.equal(room.controlAction, 'take');
  room.update(msg([member(1, 'owner', true), member(2, 'viewer')], { implicit: true }));
  assert.equal(room.mayDrive, false);
  // An owner without control takes it, and is told so when it types, not to ask.
  room.reset(1);
  room.update(msg([member(1, 'owner'), member(2, 'viewer', true)]));
  assert.equal(room.controlAction, 'take');
  assert.equal(watchingHint(room), 'You are watching. Take control to drive.');
  room.update(msg([member(1, 'owner')]));
  assert.equal(watchingHint(room, true), 'You are watching. Take control to drive.', 'nobody else to see a click');
  room.reset(3);
  room.update(msg([member(1, 'owner', true), member(3, 'viewer')]));
  assert.equal(watchingHint(room, true), 'You are watching: the others see where you clicked. Ask for control to drive.');
  room.update(msg([member(1, 'owner', true), member(3, 'viewer', false, true)]));
  assert.match(watchingHint(room), /asked for control/);
});

test('a change of members brings the notices each page wants', () => {
  const before = [member(1, 'owner', true), member(2, 'viewer')];
  const asked = [member(1, 'owner', true), member(2, 'viewer', false, true), member(3, 'viewer', false, false, 'Cy')];
  // The owner hears of the join and the ask; a viewer hears of the join only.
  assert.deepEqual(notices(before, asked, 1), ['P2 asks for control', 'Cy joined']);
  assert.deepEqual(notices(before, asked, 3), []);
  assert.deepEqual(notices(before, asked, 2), ['Cy joined']);
  const given = [member(1, 'owner'), member(2, 'viewer', true)];
  assert.deepEqual(notices(asked, given, 2), ['You have control', 'Cy left']);
  assert.deepEqual(notices(asked, given, 1), ['You no longer have control', 'P2 has control', 'Cy left']);
  // The member in control left for good (or was removed): an owner hears that nobody drives,
  // a viewer only that it left.
  const watching = [...given, member(3, 'viewer', false, false, 'Cy')];
  const gone = [member(1, 'owner'), member(3, 'viewer', false, false, 'Cy')];
  assert.deepEqual(notices(watching, gone, 1), ['P2 left: nobody has control']);
  assert.deepEqual(notices(watching, gone, 3), ['P2 left']);
  // The first list of a connection is no news.
  const room = new Room();
  room.reset(1);
  assert.deepEqual(room.update(msg(asked)), []);
});

test('a member that comes and goes within moments is not announced; one that stays is, once', () => {
  const room = new Room();
  room.reset(1);
  const owner = member(1, 'owner', true);
  room.update(msg([owner]), 0);
  // A script's socket: in and out within a second, no word either way.
  assert.deepEqual(room.update(msg([owner, member(5, 'viewer')]), 1000), []);
  assert.equal(room.noticesWaiting, true);
  assert.deepEqual(room.update(msg([owner]), 1400), []);
  assert.deepEqual(room.dueNotices(4100), []);
  assert.equal(room.noticesWaiting, false);
  // A page that stays: said BRIEF_VISIT_MS after it came, once; its leave is said.
  room.update(msg([owner, member(6, 'viewer', false, false, 'Cy')]), 5000);
  assert.deepEqual(room.dueNotices(5000 + BRIEF_VISIT_MS - 1), []);
  assert.deepEqual(room.dueNotices(5000 + BRIEF_VISIT_MS), ['Cy joined']);
  assert.deepEqual(room.dueNotices(20000), []);
  assert.deepEqual(room.update(msg([owner]), 21000), []);
  assert.deepEqual(room.dueNotices(21000 + BRIEF_VISIT_MS), ['Cy left']);
  // One given control before its join was said: its leave still says nobody drives.
  room.update(msg([member(1, 'owner'), member(7, 'viewer', true)]), 30000);
  assert.deepEqual(room.update(msg([member(1, 'owner')]), 30500), ['P7 left: nobody has control']);
  assert.deepEqual(room.dueNotices(40000), []);
});

test('a member whose place is kept is said to have left once it stayed away; a reload says nothing', () => {
  const room = new Room();
  room.reset(1);
  const owner = member(1, 'owner');
  const ann = (peer) => member(peer, 'owner', true, false, 'Ann');
  const held = [{ peer: 2, name: 'Ann', role: 'owner' }];
  room.update(msg([owner, ann(2)]), 0);
  // A reload: gone with its place kept, back within a second, as a new peer.
  assert.deepEqual(room.update({ ...msg([owner]), held }, 1000), []);
  assert.deepEqual(room.update(msg([owner, ann(3)]), 1800), []);
  assert.deepEqual(room.dueNotices(10000), []);
  // Gone for longer: said once, after BRIEF_VISIT_MS; then back, said too.
  assert.deepEqual(room.update({ ...msg([owner]), held: [{ ...held[0], peer: 3 }] }, 20000), []);
  assert.deepEqual(room.dueNotices(20000 + BRIEF_VISIT_MS), ['Ann left; their place is kept for 30 s']);
  assert.deepEqual(room.update(msg([owner, ann(4)]), 30000), ['Ann is back']);
  // Let go before its leave was said: said as a leave (Ann drove: nobody does now).
  assert.deepEqual(room.update({ ...msg([owner]), held: [{ ...held[0], peer: 4 }] }, 40000), []);
  assert.deepEqual(room.update(msg([owner]), 41000), ['Ann left: nobody has control']);
  assert.deepEqual(room.dueNotices(50000), []);
  // A viewer's reload (nothing kept for it): back under its name at once, no word either way.
  room.update(msg([owner, member(5, 'viewer', false, false, 'Bo')]), 60000);
  room.dueNotices(60000 + BRIEF_VISIT_MS);
  assert.deepEqual(room.update(msg([owner]), 70000), []);
  assert.deepEqual(room.update(msg([owner, member(6, 'viewer', false, false, 'Bo')]), 70500), []);
  assert.deepEqual(room.dueNotices(80000), []);
  // Gone for good: said once it stayed away.
  assert.deepEqual(room.update(msg([owner]), 90000), []);
  assert.deepEqual(room.dueNotices(90000 + BRIEF_VISIT_MS), ['Bo left']);
});

test('the name is kept in storage, and a refusing storage is no error', () => {
  const store = new Map();
  const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v) };
  assert.equal(savedName(storage), undefined);
  saveName('Ann', storage);
  assert.equal(savedName(storage), 'Ann');
  const refusing = { getItem() { throw new Error('denied'); }, setItem() { throw new Error('denied'); } };
  assert.equal(savedName(refusing), undefined);
  saveName('Bo', refusing);
});

test('a host pixel is drawn where a click on it would land: pagePoint is remotePoint backwards', async () => {
  const { pagePoint } = await import('../src/pointers.js');
  const { remotePoint } = await import('../src/controls.js');
  // A 1280×720 picture letterboxed in a 1000×700 element, and pillarboxed in 1000×400.
  for (const [w, h] of [[1000, 700], [1000, 400], [1280, 720]]) {
    for (const [x, y] of [[0, 0], [639, 359], [1279, 719], [17, 503]]) {
      const [left, top] = pagePoint(w, h, 1280, 720, x, y);
      const back = remotePoint({ left: 0, top: 0, width: w, height: h }, 1280, 720, left, top);
      assert.deepEqual(back, [x, y], `${w}×${h} (${x}, ${y})`);
    }
  }
  assert.equal(pagePoint(100, 100, 0, 0, 1, 1), null);
  // A 640×360 or 426×240 picture of the 1280×720 screen (the host's lower rungs).
  for (const [vw, vh] of [[640, 360], [426, 240]]) {
    for (const [x, y] of [[0, 0], [639, 359], [1279, 719], [17, 503]]) {
      const [left, top] = pagePoint(1000, 700, vw, vh, x, y, 1280, 720);
      const back = remotePoint({ left: 0, top: 0, width: 1000, height: 700 }, vw, vh, left, top, 1280, 720);
      assert.deepEqual(back, [x, y], `${vw}×${vh} (${x}, ${y})`);
    }
  }
});

test('the host screen size comes from its screen message, else from the video', async () => {
  const { screenSize, setScreen } = await import('../src/pointers.js');
  const video = { videoWidth: 640, videoHeight: 360, dataset: {} };
  assert.deepEqual(screenSize(video), [640, 360]);
  setScreen(video, 1280, 720);
  assert.deepEqual(screenSize(video), [1280, 720]);
});

test('another member\'s pointer mark stays over its host pixel when the page or the picture is resized', async () => {
  const { Pointers } = await import('../src/pointers.js');
  const made = [];
  const element = () => {
    const el = {
      dataset: {}, style: {}, hidden: true, children: [],
      append(c) { this.children.push(c); this.firstChild ??= c; },
      remove() {},
    };
    made.push(el);
    return el;
  };
  const doc = { createElement: element };
  const layer = element();
  const video = { clientWidth: 1280, clientHeight: 720, videoWidth: 1280, videoHeight: 720, dataset: {} };
  const timers = { setTimeout: () => 1, clearTimeout: () => {} };
  const p = new Pointers({ layer, video, nameOf: () => 'ada', timers, doc });
  p.show({ peer: 7, x: 639, y: 359 });
  const [mark] = layer.children;
  assert.equal(mark.style.transform, 'translate(639.5px, 359.5px)');
  // The window halves: the mark follows the middle of the picture.
  Object.assign(video, { clientWidth: 640, clientHeight: 360 });
  p.relayout();
  assert.equal(mark.style.transform, 'translate(319.75px, 179.75px)');
  // A smaller rung of the same screen: still the same place.
  Object.assign(video, { videoWidth: 640, videoHeight: 360, dataset: { screenWidth: '1280', screenHeight: '720' } });
  p.relayout();
  assert.equal(mark.style.transform, 'translate(319.75px, 179.75px)');
});

test('the overlay shows the rung of the host resolution ladder and why', async () => {
  const { ladderRung } = await import('../src/overlay.js');
  assert.equal(ladderRung({ rung: 0, picture: [1280, 720], rung_reason: 'full size' }), 'full size');
  assert.equal(ladderRung({ rung: 0, picture: [1280, 720], rung_reason: 'ladder off (--no-ladder)' }),
    'full size, ladder off (--no-ladder)');
  assert.equal(
    ladderRung({ rung: 2, picture: [640, 360], rung_reason: 'rate too low for the pixels' }),
    '640×360, 2 of 3 steps down: rate too low for the pixels',
  );
  assert.equal(
    ladderRung({ rung: 2, picture: [640, 360], rung_reason: "the viewer's quality choice", max_kbps: 500 }),
    '640×360, 2 of 3 steps down: your Quality choice (up to 500 kbit/s)',
  );
  assert.equal(ladderRung({}), null);
  assert.equal(ladderRung(null), null);
});

test('a member whose place the host keeps is said to be away, then back', () => {
  const ann = { peer: 1, name: 'Ann', role: 'owner', control: true, asked: false };
  const bo = { peer: 2, name: 'Bo', role: 'viewer', control: false, asked: false };
  const room = new Room();
  room.reset(2);
  room.update({ members: [ann, bo], seats: 1, implicit: false }, 0);
  assert.deepEqual(room.update({ members: [bo], seats: 1, implicit: false, held: [{ peer: 1, name: 'Ann', role: 'owner' }] }, 1000), []);
  assert.deepEqual(room.dueNotices(1000 + BRIEF_VISIT_MS), ['Ann left; their place is kept for 30 s']);
  assert.deepEqual(room.held, ['Ann']);
  assert.deepEqual(room.update({ members: [bo, { ...ann, peer: 3 }], seats: 1, implicit: false }, 9000), ['Ann is back']);
  // One that leaves for good (nothing kept) just left; garbage in `held` is ignored.
  assert.deepEqual(room.update({ members: [bo], seats: 1, implicit: false, held: [7, null, { peer: 3 }] }, 10000), []);
  assert.deepEqual(room.dueNotices(10000 + BRIEF_VISIT_MS), ['Ann left']);
  assert.deepEqual(room.heldMembers, []);
  // Each held member keeps the peer id it had (an owner's page lets it go by it); one without
  // a whole number for it cannot be named, and is not listed.
  room.update({ members: [bo], seats: 1, implicit: false, held: [{ peer: 1, name: 'Ann', role: 'owner' }, { peer: '4', name: 'Cy' }] });
  assert.deepEqual(room.heldMembers, [{ peer: 1, name: 'Ann', role: 'owner' }]);
});

test('an owner hears when a place kept for the member given control is let go: nobody drives', () => {
  const ann = { peer: 1, name: 'Ann', role: 'owner', control: false, asked: false };
  const bo = { peer: 2, name: 'Bo', role: 'viewer', control: true, asked: false };
  const owner = new Room();
  owner.reset(1);
  const boHeld = [{ peer: 2, name: 'Bo', role: 'viewer' }];
  owner.update({ members: [ann, bo], seats: 1, implicit: false }, 0);
  assert.deepEqual(owner.update({ members: [ann], seats: 1, implicit: false, held: boHeld }, 1000), []);
  assert.deepEqual(owner.dueNotices(1000 + BRIEF_VISIT_MS), ['Bo left; their place is kept for 30 s']);
  assert.deepEqual(owner.update({ members: [ann], seats: 1, implicit: false, held: [] }, 9000),
    ["Bo's place is no longer kept: nobody has control"]);
  assert.equal(owner.controlAction, 'take');
  // A viewer is not told; nor is anyone when the page came back.
  const cy = new Room();
  cy.reset(3);
  const c = { peer: 3, name: 'Cy', role: 'viewer', control: false, asked: false };
  cy.update({ members: [ann, bo, c], seats: 1, implicit: false }, 0);
  cy.update({ members: [ann, c], seats: 1, implicit: false, held: boHeld }, 1000);
  cy.dueNotices(1000 + BRIEF_VISIT_MS);
  assert.deepEqual(cy.update({ members: [ann, c], seats: 1, implicit: false, held: [] }, 9000), []);
  owner.update({ members: [ann], seats: 1, implicit: false, held: boHeld }, 10000);
  owner.dueNotices(10000 + BRIEF_VISIT_MS);
  assert.deepEqual(owner.update({ members: [ann, { ...bo, peer: 4 }], seats: 1, implicit: false, held: [] }, 20000), ['Bo is back']);
  // Let go before its leave was said: an owner hears both at once.
  owner.update({ members: [ann, { ...bo, peer: 4 }], seats: 1, implicit: false }, 30000);
  owner.update({ members: [ann], seats: 1, implicit: false, held: [{ ...boHeld[0], peer: 4 }] }, 31000);
  assert.deepEqual(owner.update({ members: [ann], seats: 1, implicit: false, held: [] }, 31500), ['Bo left: nobody has control']);
});
