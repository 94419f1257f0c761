// The peer connection with a stand-in RTCPeerConnection: the channels the host expects, the
// offer and answer with RTCP receiver reference times added, and a closed connection that no
// longer reports.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PeerConnection, withRrtr, answerSdp, RESTART_AFTER_DISCONNECTED_MS, RESTART_GIVE_UP_MS,
  CONNECT_GIVE_UP_MS, noPathReason, everyRelayRefused,
} from '../src/peer.js';
import { message } from '../src/signaling.js';

const OFFER = 'v=0\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n';

class FakePc {
  static made = [];

  constructor(config) {
    this.config = config;
    this.signalingState = 'stable';
    this.restartsAsked = 0;
    this.channels = [];
    this.transceivers = [];
    this.closed = false;
    this.connectionState = 'new';
    this.calls = [];
    FakePc.made.push(this);
  }

  addTransceiver(kind, init) {
    const t = { kind, init, receiver: { jitterBufferTarget: null } };
    this.transceivers.push(t);
    return t;
  }

  createDataChannel(label, init = {}) {
    this.calls.push(label);
    const ch = { label, init, readyState: 'connecting', sent: [], send(d) { this.sent.push(d); } };
    this.channels.push(ch);
    return ch;
  }

  createOffer() {
    this.calls.push('createOffer');
    return Promise.resolve({ type: 'offer', sdp: OFFER });
  }

  async setLocalDescription(d) { this.localDescription = d; this.signalingState = 'have-local-offer'; }
  async setRemoteDescription(d) { this.remoteDescription = d; this.signalingState = 'stable'; }
  restartIce() { this.restartsAsked += 1; }
  getConfiguration() { return { ...this.config }; }
  setConfiguration(c) { this.config = c; }
  close() { this.closed = true; }

  // The test's side.
  state(s) { this.connectionState = s; this.onconnectionstatechange?.(); }
}

/** Timers that fire only when the test moves the clock. */
function fakeTimers() {
  let now = 0;
  let next = 1;
  const due = new Map();
  return {
    setTimeout: (f, ms) => { due.set(next, [now + ms, f]); return next++; },
    clearTimeout: (id) => { due.delete(id); },
    advance(ms) {
      now += ms;
      for (const [id, [at, f]] of [...due]) if (at <= now) { due.delete(id); f(); }
    },
  };
}

function rig(options = {}) {
  FakePc.made = [];
  const signals = [];
  const events = [];
  const timers = fakeTimers();
  const peer = new PeerConnection({
    RTCPeerConnection: FakePc,
    message,
    signal: (m) => signals.push(m),
    onTrack: () => {},
    onControl: (d) => events.push(['control', d]),
    onConnected: () => events.push(['connected']),
    onRestored: () => events.push(['restored']),
    onInterrupted: (why) => events.push(['interrupted', why]),
    onLost: (s, why) => events.push(why ? ['lost', s, why] : ['lost', s]),
    log: { warn() {}, debug() {} },
    timers,
    ...options,
  });
  return { peer, signals, events, timers, pc: () => FakePc.made.at(-1) };
}

/** Lets the restart's promise chain (createOffer, setLocalDescription) run. */
const settle = () => new Promise((resolve) => { setImmediate(resolve); });

test('rrtr is added after each nack feedback line, once', () => {
  const sdp = withRrtr(OFFER);
  assert.match(sdp, /a=rtcp-fb:96 nack\r\na=rtcp-fb:96 rrtr\r\na=rtcp-fb:96 nack pli\r\n/);
  assert.equal(withRrtr(sdp), sdp);
});

test("the host's answer is read as it is, with rrtr", () => {
  const answer = 'v=0\r\na=group:BUNDLE 0 1\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtcp-fb:96 nack\r\n' +
    'a=ice-options:trickle\r\n';
  assert.equal(answerSdp(answer), 'v=0\r\na=group:BUNDLE 0 1\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtcp-fb:96 nack\r\n' +
    'a=rtcp-fb:96 rrtr\r\na=ice-options:trickle\r\n');
  assert.equal(answerSdp('v=0\r\n'), 'v=0\r\n');
});

test('a connection offers the video and sound with the channels the host expects', async () => {
  const r = rig();
  let audioChannel = null;
  await r.peer.start({ audio: (ch) => { audioChannel = ch; } });
  const pc = r.pc();
  assert.equal(pc.config.bundlePolicy, 'max-bundle');
  assert.deepEqual(pc.transceivers.map((t) => [t.kind, t.init.direction]), [['video', 'recvonly'], ['audio', 'recvonly']]);
  const byLabel = Object.fromEntries(pc.channels.map((c) => [c.label, c.init]));
  assert.deepEqual(byLabel.input, { ordered: false, maxRetransmits: 0 });
  assert.deepEqual(byLabel.control, { ordered: false, maxRetransmits: 0 });
  assert.deepEqual(byLabel.audio, { ordered: false, maxRetransmits: 0 });
  assert.deepEqual(byLabel.text, {}, 'text: reliable and ordered (the defaults)');
  assert.deepEqual(byLabel.clipboard, {}, 'clipboard: reliable and ordered (the defaults)');
  assert.equal(audioChannel.label, 'audio');
  // The page's playout (slow to make) is set up while the browser makes the offer.
  assert.deepEqual(pc.calls, ['input', 'control', 'text', 'clipboard', 'createOffer', 'audio']);
  assert.deepEqual(r.signals, [{ type: 'offer', sdp: withRrtr(OFFER) }]);
  await r.peer.answer('v=0\r\na=rtcp-fb:98 nack\r\n');
  assert.equal(pc.remoteDescription.sdp, 'v=0\r\na=rtcp-fb:98 nack\r\na=rtcp-fb:98 rrtr\r\n');
});

test('candidates follow the offer one by one; none before it, and not the end marker', async () => {
  const r = rig();
  const starting = r.peer.start();
  const pc = r.pc();
  const candidate = (c, sdpMid = '0') => pc.onicecandidate({ candidate: { candidate: c, sdpMid } });
  // Gathered while the offer is still being made (a browser may do this).
  candidate('candidate:1 1 udp 2122260223 192.168.1.2 50000 typ host');
  assert.deepEqual(r.signals, []);
  await starting;
  candidate('candidate:2 1 udp 2122194687 10.0.0.2 50001 typ host', null);
  pc.onicecandidate({ candidate: null });
  candidate('');
  assert.deepEqual(r.signals.map((m) => m.type), ['offer', 'candidate', 'candidate']);
  assert.deepEqual(r.signals[1], { type: 'candidate', candidate: 'candidate:1 1 udp 2122260223 192.168.1.2 50000 typ host', sdp_mid: '0' });
  assert.deepEqual(r.signals[2], { type: 'candidate', candidate: 'candidate:2 1 udp 2122194687 10.0.0.2 50001 typ host' });
});

test('without page playout there is no audio channel', async () => {
  const r = rig();
  await r.peer.start();
  assert.ok(!r.pc().channels.some((c) => c.label === 'audio'));
});

test('text goes out on the text channel, as a string', async () => {
  const r = rig();
  await r.peer.start();
  const text = r.pc().channels.find((c) => c.label === 'text');
  assert.equal(r.peer.sendText('héllo'), false, 'not before it opens');
  text.readyState = 'open';
  assert.equal(r.peer.sendText('héllo'), true);
  assert.deepEqual(text.sent, ['héllo']);
});

test('input goes out only on an open channel', async () => {
  const r = rig();
  await r.peer.start();
  const input = r.pc().channels.find((c) => c.label === 'input');
  assert.equal(r.peer.sendInput(new Uint8Array([1])), false);
  input.readyState = 'open';
  assert.equal(r.peer.sendInput(new Uint8Array([1])), true);
  input.send = () => { throw new Error('closing'); };
  assert.equal(r.peer.sendInput(new Uint8Array([1])), false, 'a failing send is not counted');
});

test('connected and lost are reported; a replaced or closed connection is silent', async () => {
  const r = rig();
  await r.peer.start();
  const first = r.pc();
  first.state('connected');
  await r.peer.start(); // a new session replaces the connection
  assert.ok(first.closed);
  first.state('failed');
  const second = r.pc();
  second.state('failed');
  r.peer.close();
  second.state('closed');
  assert.deepEqual(r.events.map((e) => e.slice(0, 2)), [['connected'], ['lost', 'no-path']]);
  assert.equal(r.peer.pc, null);
});

test('an offer is not sent for a connection closed while it was being made', async () => {
  const r = rig();
  const starting = r.peer.start();
  r.peer.close();
  await starting;
  assert.deepEqual(r.signals, []);
});

test("a new connection's offer carries the page's measure of its link; an ICE restart's does not", async () => {
  const r = rig({ linkKbps: () => 380 });
  await r.peer.start();
  const pc = r.pc();
  await r.peer.answer('v=0\r\n');
  pc.state('connected');
  pc.state('disconnected');
  r.timers.advance(RESTART_AFTER_DISCONNECTED_MS);
  await settle();
  assert.deepEqual(r.signals.map((m) => [m.type, m.link_kbps]), [['offer', 380], ['offer', undefined]]);
  // Without a measure (files from the cache), no field.
  const quiet = rig();
  await quiet.peer.start();
  assert.deepEqual(Object.keys(quiet.signals[0]), ['type', 'sdp']);
});

test('a connection disconnected for 2 s restarts ICE on the same connection; a short blip does not', async () => {
  const r = rig();
  await r.peer.start();
  const pc = r.pc();
  await r.peer.answer('v=0\r\n');
  pc.state('connected');
  // Back by itself within the wait: nothing happens.
  pc.state('disconnected');
  r.timers.advance(RESTART_AFTER_DISCONNECTED_MS - 100);
  pc.state('connected');
  r.timers.advance(1000);
  assert.equal(pc.restartsAsked, 0);
  // Gone for longer: a new offer with new ICE credentials, on the same connection.
  pc.state('disconnected');
  r.timers.advance(RESTART_AFTER_DISCONNECTED_MS);
  await settle();
  assert.equal(pc.restartsAsked, 1);
  assert.equal(FakePc.made.length, 1, 'no new RTCPeerConnection');
  assert.deepEqual(r.signals.map((m) => m.type), ['offer', 'offer']);
  assert.equal(r.peer.restarting, true);
  await r.peer.answer('v=0\r\n');
  assert.equal(r.peer.restarting, false);
  pc.state('connected');
  // The blip is not told; the loss is, before the restart.
  assert.deepEqual(r.events, [['connected'], ['restored'], ['interrupted', 'disconnected'], ['restored']]);
  r.timers.advance(RESTART_GIVE_UP_MS);
  assert.ok(!r.events.some(([e]) => e === 'lost'));
});

test('a failed connection restarts ICE; one that does not come back gives way to a new one', async () => {
  const r = rig();
  await r.peer.start();
  const pc = r.pc();
  await r.peer.answer('v=0\r\n');
  pc.state('connected');
  pc.state('failed');
  await settle();
  assert.equal(pc.restartsAsked, 1);
  assert.deepEqual(r.events, [['connected'], ['interrupted', 'failed']], 'told, not lost yet');
  // Still failing while the restart's offer waits: no second restart, not lost.
  pc.state('failed');
  assert.equal(pc.restartsAsked, 1);
  await r.peer.answer('v=0\r\n');
  pc.state('connecting');
  r.timers.advance(RESTART_GIVE_UP_MS);
  assert.deepEqual(r.events, [['connected'], ['interrupted', 'failed'],
    ['lost', 'no-path', 'no path to the host: the connection was lost and not found again (the network may be down)']]);
});

test('a first connection that never connects gives way to a new one, saying what the relay said', async () => {
  const r = rig({ relay: true });
  await r.peer.start();
  const pc = r.pc();
  await r.peer.answer('v=0\r\n');
  // A STUN server that never answered, then a TURN server refusing the credentials.
  pc.onicecandidateerror({ url: 'stun:192.0.2.2:3478', errorCode: 701, errorText: 'STUN host lookup received error.' });
  pc.onicecandidateerror({ url: 'turn:192.0.2.2:3478?transport=udp', errorCode: 401, errorText: 'Unauthorized' });
  r.timers.advance(CONNECT_GIVE_UP_MS - 1);
  assert.deepEqual(r.events, [], 'not given up before its time');
  r.timers.advance(1);
  assert.deepEqual(r.events, [['lost', 'no-path', 'no path to the host: turn:192.0.2.2:3478?transport=udp said 401 Unauthorized']]);

  // An offer the host never answered (the socket looked open, the network was gone).
  const unanswered = rig();
  await unanswered.peer.start();
  unanswered.timers.advance(CONNECT_GIVE_UP_MS);
  assert.deepEqual(unanswered.events,
    [['lost', 'no-path', 'no path to the host: it did not answer (the network to it, or the host, may be down)']]);

  // Relays only, and every TURN server refused the credentials: given up at once, with what
  // the server said (its trailing period dropped).
  const turnUrls = ['turn:192.0.2.2:3478?transport=udp', 'turn:192.0.2.2:3478?transport=tcp'];
  const refused = rig({ relay: true });
  await refused.peer.useIceServers([{ urls: ['stun:192.0.2.2:3478'] }, { urls: turnUrls, username: 'u', credential: 'p' }]);
  await refused.peer.start();
  refused.pc().onicecandidateerror({ url: turnUrls[0], errorCode: 401, errorText: 'Unauthorized.' });
  assert.deepEqual(refused.events, [], 'one of two refused');
  refused.pc().onicecandidateerror({ url: turnUrls[1], errorCode: 701, errorText: 'timeout' });
  assert.deepEqual(refused.events, [], 'the other never answered: it may yet');
  refused.pc().onicecandidateerror({ url: turnUrls[1], errorCode: 401, errorText: 'Unauthorized.' });
  assert.deepEqual(refused.events, [['lost', 'no-path', `no path to the host: ${turnUrls[1]} said 401 Unauthorized`]]);
  refused.timers.advance(CONNECT_GIVE_UP_MS);
  assert.equal(refused.events.length, 1, 'given up twice');
  // All addresses allowed, the refusal does not end the connection's tries.
  const direct = rig();
  await direct.peer.useIceServers([{ urls: turnUrls.slice(0, 1), username: 'u', credential: 'p' }]);
  await direct.peer.start();
  direct.pc().onicecandidateerror({ url: turnUrls[0], errorCode: 401, errorText: 'Unauthorized' });
  assert.deepEqual(direct.events, []);
  assert.equal(everyRelayRefused([], []), false, 'no TURN server: nothing refused');

  // One that connects in time is never given up; nor is one replaced meanwhile.
  const ok = rig();
  await ok.peer.start();
  ok.pc().state('connected');
  ok.timers.advance(CONNECT_GIVE_UP_MS * 2);
  assert.deepEqual(ok.events, [['connected']]);
  const replaced = rig();
  await replaced.peer.start();
  replaced.peer.close();
  replaced.timers.advance(CONNECT_GIVE_UP_MS * 2);
  assert.deepEqual(replaced.events, []);
});

test('the reason a connection found no path: no answer from the host, else an error answer, else a silent server, else none', () => {
  assert.equal(noPathReason([]), 'no path to the host: UDP to it may be blocked (a TURN relay, set up on the host with --ice-server, gets through)');
  // No answer to the offer: the network to the host is down, whatever the servers said.
  assert.equal(noPathReason([{ url: 'stun:s.example:3478', code: 701, text: 'timeout' }], false),
    'no path to the host: it did not answer (the network to it, or the host, may be down)');
  assert.equal(noPathReason([{ url: 'stun:s.example:3478', code: 701, text: 'timeout' }]),
    'no path to the host: no answer from stun:s.example:3478');
  assert.equal(noPathReason([
    { url: 'turn:t.example:3478', code: 403, text: 'Forbidden IP' },
    { url: 'stun:s.example:3478', code: 701, text: 'timeout' },
  ]), 'no path to the host: turn:t.example:3478 said 403 Forbidden IP');
});

test("the host's ICE servers: a connection made without them restarts with them, the next starts with them", async () => {
  const r = rig({ relay: true });
  await r.peer.start();
  const first = r.pc();
  assert.deepEqual(first.config.iceServers, []);
  assert.equal(first.config.iceTransportPolicy, 'relay');
  const servers = [{ urls: ['turn:turn.example.org:3478?transport=udp'], username: '1:peer1', credential: 'c' }];
  // They come while the first offer waits for its answer: the restart follows the answer.
  await r.peer.useIceServers(servers);
  assert.deepEqual(first.config.iceServers, servers);
  assert.equal(first.restartsAsked, 0);
  await r.peer.answer('v=0\r\n');
  await settle();
  assert.equal(first.restartsAsked, 1);
  assert.deepEqual(r.signals.map((m) => m.type), ['offer', 'offer']);
  // The same servers again (a new socket's, say) change nothing; renewed credentials are
  // kept for the next gathering, with no restart.
  await r.peer.useIceServers(servers);
  assert.equal(first.restartsAsked, 1);
  const renewed = [{ ...servers[0], username: '2:peer1', credential: 'd' }];
  await r.peer.useIceServers(renewed);
  assert.equal(first.restartsAsked, 1);
  assert.deepEqual(first.config.iceServers, renewed);
  await r.peer.useIceServers(servers);
  await r.peer.start();
  assert.deepEqual(r.pc().config.iceServers, servers);
  assert.equal(r.pc().config.iceTransportPolicy, 'relay');
  await r.peer.useIceServers(servers);
  assert.equal(r.pc().restartsAsked, 0);
});

test('ICE servers that come while the first offer is being made join its gathering: one offer, no restart', async () => {
  const r = rig();
  const starting = r.peer.start();
  const first = r.pc();
  const servers = [{ urls: ['stun:stun.example.org:3478'] }];
  await r.peer.useIceServers(servers);
  await starting;
  await settle();
  assert.deepEqual(first.config.iceServers, servers);
  assert.equal(first.restartsAsked, 0);
  assert.deepEqual(r.signals.map((m) => m.type), ['offer']);
  // A restart asked for then waits for the answer, then goes.
  const again = rig();
  const going = again.peer.start();
  await again.peer.restart('asked');
  await going;
  assert.equal(again.pc().restartsAsked, 0);
  await again.peer.answer('v=0\r\n');
  await settle();
  assert.equal(again.pc().restartsAsked, 1);
  assert.deepEqual(again.signals.map((m) => m.type), ['offer', 'offer']);
});

test('candidates of a restart follow its offer', async () => {
  const r = rig();
  await r.peer.start();
  const pc = r.pc();
  await r.peer.answer('v=0\r\n');
  pc.state('connected');
  const restarting = r.peer.restart('asked');
  pc.onicecandidate({ candidate: { candidate: 'candidate:9 1 udp 1 10.0.0.9 9 typ host', sdpMid: '0' } });
  await restarting;
  assert.deepEqual(r.signals.map((m) => m.type), ['offer', 'offer', 'candidate']);
});

test('a first connection whose ICE checks all fail says no path was found, not just "connection lost"', async () => {
  const r = rig();
  await r.peer.start();
  const pc = r.pc();
  await r.peer.answer('v=0\r\n');
  pc.state('checking');
  pc.state('failed');
  assert.deepEqual(r.events, [['lost', 'no-path', 'no path to the host: UDP to it may be blocked (a TURN relay, set up on the host with --ice-server, gets through)']]);
  // Said once: the give-up timer does not say it again later.
  r.timers.advance(CONNECT_GIVE_UP_MS);
  assert.equal(r.events.length, 1);
});
