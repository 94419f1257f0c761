// Glint web client: signaling, the peer connection, the video, and input capture.

import { codeToUsage } from './keymap.js';
import { InputSender, encodePacket, EventKind } from './input.js';
import { parseFrameEcho, InputToPhoton } from './echo.js';
import { StatsOverlay } from './overlay.js';
import { ACTIONS, KeyBindings } from './keybind.js';
import { ChannelAudio, channelAudioSupported } from './audio.js';
import { FrameLead, watchDisplayPeriod } from './phase.js';

const HEARTBEAT_MS = 100; // full state at least this often while anything is held
const AFTER_CHANGE_MS = 1000; // keep heartbeats going this long after the last change
const REPEAT_DELAYS_MS = [8, 24, 56]; // extra sends after an edge, so a loss costs little
const RECONNECT_MS = [250, 500, 1000, 2000, 4000];
const WHEEL_NOTCH_PX = 100;
const ABS_CAPTURE_TIME = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time';
const PLAYOUT_DELAY = 'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay';

const video = document.getElementById('video');
const stage = document.getElementById('stage');
const statusEl = document.getElementById('status');
const info = document.getElementById('info');
const playerEl = document.getElementById('player');

const params = new URLSearchParams(location.hash.slice(1));
const password = params.get('password') || undefined;
// `#audio=track` plays sound through the browser's WebRTC audio track instead of the page's
// own low-latency playout (the default where WebCodecs and AudioWorklet exist).
const audioOverChannel = params.get('audio') !== 'track' && channelAudioSupported();

// Chromium sends RTCP receiver reference times (and so learns the RTT it needs to turn sender
// reports into requestVideoFrameCallback's captureTime) only when "rrtr" is negotiated; the
// host answers them (DLRR) but does not list the feedback type, so add it on both sides.
function withRrtr(sdp) {
  return sdp.replace(/a=rtcp-fb:(\d+) nack\r\n(?!a=rtcp-fb:\1 rrtr)/g, 'a=rtcp-fb:$1 nack\r\na=rtcp-fb:$1 rrtr\r\n');
}

// What tests and the stats overlay read.
const glint = {
  state: 'connecting',
  error: null,
  codec: null,
  framesPresented: 0,
  firstFrameMs: null,
  connects: 0,
  inputPacketsSent: 0,
  inputToPhotonMs: [], // the last few live input-to-photon samples
  echoes: 0, // frame echoes received from the host
  hostErrors: [], // the last few {code, message} the host reported on signaling
  hostInfos: [], // the last few messages the host sent (e.g. "state saved")
};
window.glint = glint;
// When each step of this page load's first connection happened (performance.now(), ms since
// navigation start): the scripts ran, signaling opened, the welcome came, the offer went out,
// the answer came, ICE started checking and found a pair, DTLS finished, the first frame showed.
const timeline = {
  scriptsMs: performance.now(), wsOpenMs: null, welcomeMs: null, offerSentMs: null, answerMs: null,
  iceCheckingMs: null, iceConnectedMs: null, connectedMs: null, firstFrameMs: null,
};
glint.timeline = timeline;
const mark = (step) => { timeline[step] ??= performance.now(); };
// The inbound video RTP stats (frames decoded/dropped, bytes, jitter buffer), or null.
const inbound = async (kind) => {
  if (!pc) return null;
  let found = null;
  (await pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === kind) found = s;
  });
  return found && JSON.parse(JSON.stringify(found));
};
glint.inboundVideo = () => inbound('video');
glint.inboundAudio = () => inbound('audio');
// The audio playout path's stats (media-playout), or null.
glint.audioPlayout = async () => {
  if (!pc) return null;
  let found = null;
  (await pc.getStats()).forEach((s) => { if (s.type === 'media-playout') found = s; });
  return found && JSON.parse(JSON.stringify(found));
};

let ws = null;
let pc = null;
let inputChannel = null;
let controlChannel = null;
let hostHasSound = false;
let isGame = false;
const bindings = new KeyBindings();
let announced = new Set(); // ids of presses already timed
const latency = new InputToPhoton((ms) => {
  overlay.inputToPhoton.add(ms);
  glint.inputToPhotonMs.push(ms);
  if (glint.inputToPhotonMs.length > 200) glint.inputToPhotonMs.shift();
});
let sender = new InputSender();
let attempt = 0;
let lastChange = 0;
let lastSend = 0;
let stopped = false;
let wheelAccum = [0, 0];

function setState(state, text) {
  glint.state = state;
  statusEl.dataset.state = state;
  statusEl.textContent = text;
}

function teardown() {
  if (pc) { pc.close(); pc = null; }
  inputChannel = null;
  controlChannel = null;
  latency.presses = [];
  announced = new Set();
  if (ws) { ws.onclose = null; ws.close(); ws = null; }
  sender = new InputSender();
}

function scheduleReconnect(reason) {
  teardown();
  if (stopped) return;
  const delay = RECONNECT_MS[Math.min(attempt, RECONNECT_MS.length - 1)];
  attempt += 1;
  setState('disconnected', `Disconnected (${reason}). Reconnecting…`);
  setTimeout(connect, delay);
}

function fail(message) {
  stopped = true;
  glint.error = message;
  teardown();
  setState('failed', message);
}

function connect() {
  setState('connecting', 'Connecting…');
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  ws = new WebSocket(url);
  ws.onopen = () => {
    mark('wsOpenMs');
    ws.send(JSON.stringify({ type: 'hello', password }));
  };
  ws.onclose = (ev) => {
    console.warn('glint: signaling closed', ev.code, ev.reason);
    scheduleReconnect('signaling closed');
  };
  ws.onmessage = async (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    if (msg.type === 'welcome') {
      mark('welcomeMs');
      hostHasSound = msg.audio === true;
      video.classList.toggle('pixelated', msg.pixelated === true);
      isGame = msg.game === true;
      for (const id of ['save-state', 'load-state', 'keys-button']) document.getElementById(id).hidden = !isGame;
      // A new connection is a new peer: it has no player until it sends game input.
      glint.player = undefined;
      playerEl.hidden = !isGame;
      playerEl.textContent = 'Watching: press a game key or pad button to play';
      await startPeer();
    }
    else if (msg.type === 'answer') {
      mark('answerMs');
      await pc?.setRemoteDescription({ type: 'answer', sdp: withRrtr(msg.sdp) });
    } else if (msg.type === 'info') {
      glint.hostInfos.push(msg.message);
      if (glint.hostInfos.length > 20) glint.hostInfos.shift();
      toast(msg.message);
    } else if (msg.type === 'player') {
      glint.player = msg.player;
      playerEl.hidden = false;
      playerEl.textContent = msg.player ? `Player ${msg.player}` : 'Watching: all players are taken';
    } else if (msg.type === 'ended') {
      // The host is going away on purpose (a crashed game, a lost display): say why, and do
      // not reconnect to a session that no longer exists.
      glint.ended = msg.message;
      stopped = true;
      teardown();
      setState('ended', `The session has ended: ${msg.message}`);
    } else if (msg.type === 'error') {
      console.warn('glint host:', msg.code, msg.message);
      glint.hostErrors.push({ code: msg.code, message: msg.message });
      if (msg.code === 'state' || msg.code === 'not-a-game') toast(msg.message);
      if (glint.hostErrors.length > 20) glint.hostErrors.shift();
      if (msg.code === 'unauthorized') fail('Wrong or missing password. Open the URL Glint printed.');
      else if (msg.code === 'offer-rejected') fail(`The host cannot stream to this browser: ${msg.message}`);
      else if (msg.code === 'busy') scheduleReconnect('host busy');
    }
  };
}

async function startPeer() {
  pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  const transceiver = pc.addTransceiver('video', { direction: 'recvonly' });
  const receiver = transceiver.receiver;
  // Ask for the capture instant of every frame (off by default in Chromium's offer): with it
  // requestVideoFrameCallback reports captureTime, so capture-to-display can be measured.
  if (transceiver.getHeaderExtensionsToNegotiate && transceiver.setHeaderExtensionsToNegotiate) {
    try {
      const exts = transceiver.getHeaderExtensionsToNegotiate().map((e) => (
        e.uri === ABS_CAPTURE_TIME || e.uri === PLAYOUT_DELAY ? { ...e, direction: 'recvonly' } : e));
      transceiver.setHeaderExtensionsToNegotiate(exts);
    } catch (e) { console.warn('glint: header extensions', e); }
  }
  if ('jitterBufferTarget' in receiver) receiver.jitterBufferTarget = 0;
  if ('playoutDelayHint' in receiver) receiver.playoutDelayHint = 0;
  inputChannel = pc.createDataChannel('input', { ordered: false, maxRetransmits: 0 });
  inputChannel.binaryType = 'arraybuffer';
  controlChannel = pc.createDataChannel('control', { ordered: false, maxRetransmits: 0 });
  controlChannel.binaryType = 'arraybuffer';
  controlChannel.onmessage = (ev) => {
    const e = parseFrameEcho(ev.data);
    if (e) { glint.echoes += 1; latency.echo(e); }
  };
  // Sound: Opus packets on the `audio` channel, played by the page itself; or, without
  // WebCodecs, the Opus track. The host fills whichever it has, or neither (no device).
  if (audioOverChannel && hostHasSound) {
    sound.useChannel();
    sound.channel.attach(pc.createDataChannel('audio', { ordered: false, maxRetransmits: 0 }));
  }
  const audioTransceiver = pc.addTransceiver('audio', { direction: 'recvonly' });
  if ('jitterBufferTarget' in audioTransceiver.receiver) audioTransceiver.receiver.jitterBufferTarget = 0;
  const stream = new MediaStream();
  pc.ontrack = (ev) => {
    stream.addTrack(ev.track);
    if (video.srcObject !== stream) video.srcObject = stream;
    if (ev.track.kind === 'audio' && hostHasSound && !sound.channel) sound.arrived();
    video.play().catch(() => {});
  };
  pc.oniceconnectionstatechange = () => {
    if (pc?.iceConnectionState === 'checking') mark('iceCheckingMs');
    else if (pc?.iceConnectionState === 'connected' || pc?.iceConnectionState === 'completed') mark('iceConnectedMs');
  };
  pc.onconnectionstatechange = () => {
    if (!pc) return;
    if (pc.connectionState === 'connected') {
      mark('connectedMs');
      attempt = 0;
      glint.connects += 1;
      updateCodec();
    } else if (pc.connectionState === 'failed' || pc.connectionState === 'closed') {
      console.warn('glint: peer connection', pc.connectionState);
      scheduleReconnect('connection lost');
    }
  };
  const offer = await pc.createOffer();
  await pc.setLocalDescription({ type: 'offer', sdp: withRrtr(offer.sdp) });
  ws.send(JSON.stringify({ type: 'offer', sdp: pc.localDescription.sdp }));
  mark('offerSentMs');
}

async function updateCodec() {
  if (!pc) return;
  const stats = await pc.getStats();
  stats.forEach((s) => {
    if (s.type === 'codec' && s.mimeType?.startsWith('video/')) glint.codec = s.mimeType.slice(6);
  });
}

// The page that plays (input in the last 10 s) tells the host its frame lead once a second,
// so the host can time its captures to this page's compositor.
const frameLead = new FrameLead();
watchDisplayPeriod((ms) => frameLead.setPeriod(ms));
const LEAD_REPORT_MS = 1000;
const PLAYING_WITHIN_MS = 10000;
setInterval(() => {
  const lead = frameLead.take();
  const playing = performance.now() - lastChange < PLAYING_WITHIN_MS;
  if (lead !== null && playing && ws?.readyState === WebSocket.OPEN && pc) {
    ws.send(JSON.stringify({ type: 'frame-phase', lead_ms: lead }));
    glint.leadReports = (glint.leadReports || 0) + 1;
    glint.lastLeadMs = lead;
  }
}, LEAD_REPORT_MS);

// Presented frames, counted per displayed frame.
function onFrame(now, meta) {
  glint.framesPresented += 1;
  frameLead.frame(now, meta);
  overlay.onFrame(meta);
  if (meta.rtpTimestamp !== undefined) latency.presented(meta.rtpTimestamp, meta.expectedDisplayTime ?? now);
  if (glint.firstFrameMs === null) {
    glint.firstFrameMs = now;
    timeline.firstFrameMs ??= now;
    setState('playing', '');
  }
  if (glint.framesPresented % 30 === 0) {
    info.textContent = `${meta.width}×${meta.height} ${glint.codec || ''}`;
  }
  video.requestVideoFrameCallback(onFrame);
}
if ('requestVideoFrameCallback' in HTMLVideoElement.prototype) {
  video.requestVideoFrameCallback(onFrame);
} else {
  video.addEventListener('playing', () => {
    glint.firstFrameMs ??= performance.now();
    mark('firstFrameMs');
    setState('playing', '');
  });
}

// ---- input ----

function send() {
  if (!inputChannel || inputChannel.readyState !== 'open') return;
  const now = performance.now();
  const packet = sender.packet(Math.floor(now));
  const bytes = encodePacket(packet);
  try {
    inputChannel.send(bytes);
    for (const e of packet.events) {
      if ((e.kind === EventKind.KeyDown || e.kind === EventKind.ButtonDown) && !announced.has(e.id)) {
        announced.add(e.id);
        latency.press(packet.seq, now);
      }
    }
    if (announced.size > 1000) announced = new Set([...announced].slice(-200));
    glint.inputPacketsSent += 1;
  } catch { /* channel closing: state goes again with the next packet */ }
  lastSend = performance.now();
}

function changed(edge) {
  lastChange = performance.now();
  send();
  if (edge) for (const d of REPEAT_DELAYS_MS) setTimeout(() => { if (sender.hasPending()) send(); }, d);
}

setInterval(() => {
  const now = performance.now();
  const active = sender.anythingHeld() || sender.hasPending() || now - lastChange < AFTER_CHANGE_MS;
  if (active && now - lastSend >= HEARTBEAT_MS) send();
}, HEARTBEAT_MS / 2);

/** Maps a client position to remote pixels, through object-fit: contain. */
function remotePoint(clientX, clientY) {
  const vw = video.videoWidth;
  const vh = video.videoHeight;
  if (!vw || !vh) return null;
  const r = video.getBoundingClientRect();
  const scale = Math.min(r.width / vw, r.height / vh);
  const offX = (r.width - vw * scale) / 2;
  const offY = (r.height - vh * scale) / 2;
  const x = Math.round((clientX - r.left - offX) / scale);
  const y = Math.round((clientY - r.top - offY) / scale);
  return [Math.max(0, Math.min(vw - 1, x)), Math.max(0, Math.min(vh - 1, y))];
}

function locked() { return document.pointerLockElement === video; }

// Games: a rebound key sends its action's default key (keybind.js).
const gameCode = (code) => (isGame ? bindings.translate(code) : code);
stage.addEventListener('keydown', (e) => {
  const usage = codeToUsage(gameCode(e.code));
  if (usage === undefined) return;
  e.preventDefault();
  if (sender.key(usage, true)) changed(true);
});
stage.addEventListener('keyup', (e) => {
  const usage = codeToUsage(gameCode(e.code));
  if (usage === undefined) return;
  e.preventDefault();
  if (sender.key(usage, false)) changed(true);
});
window.addEventListener('blur', () => { sender.releaseAll(); changed(true); });
document.addEventListener('visibilitychange', () => {
  if (document.hidden) { sender.releaseAll(); changed(true); }
});

video.addEventListener('pointermove', (e) => {
  if (locked()) {
    sender.moveBy(Math.round(e.movementX), Math.round(e.movementY));
    changed(true);
    return;
  }
  const p = remotePoint(e.clientX, e.clientY);
  if (!p) return;
  sender.pointer(p[0], p[1]);
  changed(false);
});
video.addEventListener('pointerdown', (e) => {
  stage.focus();
  if (!locked()) {
    const p = remotePoint(e.clientX, e.clientY);
    if (p) sender.pointer(p[0], p[1]);
  }
  if (e.button >= 0 && e.button <= 4 && sender.button(e.button, true)) changed(true);
  e.preventDefault();
});
window.addEventListener('pointerup', (e) => {
  if (e.button >= 0 && e.button <= 4 && sender.button(e.button, false)) changed(true);
});
video.addEventListener('contextmenu', (e) => e.preventDefault());
video.addEventListener('wheel', (e) => {
  e.preventDefault();
  const unit = e.deltaMode === 1 ? WHEEL_NOTCH_PX / 3 : e.deltaMode === 2 ? WHEEL_NOTCH_PX * 10 : 1;
  wheelAccum[0] += e.deltaX * unit;
  wheelAccum[1] += e.deltaY * unit;
  const nx = Math.trunc(wheelAccum[0] / WHEEL_NOTCH_PX);
  const ny = Math.trunc(wheelAccum[1] / WHEEL_NOTCH_PX);
  if (nx || ny) {
    wheelAccum = [wheelAccum[0] - nx * WHEEL_NOTCH_PX, wheelAccum[1] - ny * WHEEL_NOTCH_PX];
    sender.wheel(nx, ny);
    changed(true);
  }
}, { passive: false });

document.getElementById('lock').addEventListener('click', () => {
  stage.focus();
  video.requestPointerLock?.();
});
document.addEventListener('pointerlockchange', () => {
  if (locked()) sender.clearPointer();
});
document.getElementById('fullscreen').addEventListener('click', () => {
  if (document.fullscreenElement) document.exitFullscreen();
  else stage.requestFullscreen?.().then(() => stage.focus()).catch(() => {});
});

// ---- messages and game state ----
let toastTimer = null;
function toast(text) {
  info.textContent = text;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { if (info.textContent === text) info.textContent = ''; }, 3000);
}
for (const [id, type] of [['save-state', 'save-state'], ['load-state', 'load-state']]) {
  document.getElementById(id).addEventListener('click', () => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type }));
    stage.focus();
  });
}

// ---- game keys ----
const keysPanel = document.getElementById('keys');
const keysList = document.getElementById('keys-list');
let capturing = null; // the action waiting for a key
function renderKeys() {
  keysList.replaceChildren(...ACTIONS.map(([name]) => {
    const row = document.createElement('div');
    const label = document.createElement('span');
    label.textContent = `${name}: ${capturing === name ? 'press a key…' : bindings.keyFor(name)}`;
    const change = document.createElement('button');
    change.type = 'button';
    change.textContent = 'Change';
    change.dataset.action = name;
    change.addEventListener('click', () => { capturing = name; renderKeys(); });
    row.append(label, change);
    return row;
  }));
}
document.getElementById('keys-button').addEventListener('click', () => {
  keysPanel.hidden = !keysPanel.hidden;
  capturing = null;
  renderKeys();
});
document.getElementById('keys-close').addEventListener('click', () => {
  keysPanel.hidden = true;
  capturing = null;
  stage.focus();
});
document.getElementById('keys-reset').addEventListener('click', () => { bindings.reset(); renderKeys(); });
// While choosing a key, the key goes to the binding, not to the host.
window.addEventListener('keydown', (e) => {
  if (!capturing) return;
  e.preventDefault();
  e.stopImmediatePropagation();
  bindings.bind(capturing, e.code);
  capturing = null;
  renderKeys();
}, { capture: true });

// ---- gamepads ----
// Polled (the Gamepad API has no change events); the state rides in every input packet.
const PAD_POLL_MS = 8;
let lastPads = '[]';
setInterval(() => {
  const list = navigator.getGamepads ? navigator.getGamepads() : [];
  const pads = [];
  for (const gp of list) {
    if (!gp || !gp.connected || pads.length >= 4) continue;
    let buttons = 0;
    gp.buttons.forEach((b, i) => { if (i < 32 && (b.pressed || b.value > 0.5)) buttons |= 1 << i; });
    const axes = [0, 1, 2, 3].map((i) => Math.round(Math.max(-1, Math.min(1, gp.axes[i] || 0)) * 32767));
    pads.push({ index: gp.index & 0xff, buttons: buttons >>> 0, axes });
  }
  const now = JSON.stringify(pads);
  if (now !== lastPads) {
    lastPads = now;
    sender.setPads(pads);
    glint.gamepads = pads.length;
    changed(false);
  }
}, PAD_POLL_MS);

// ---- sound ----
// Browsers block autoplay with sound: sound starts muted and the page offers a click to
// enable it, remembered for this tab's session. The output is the page's own playout
// (ChannelAudio) or the video element's audio track.
const SOUND_KEY = 'glint.sound';
const soundButton = document.getElementById('sound');
const volume = document.getElementById('volume');
const soundPrompt = document.getElementById('sound-prompt');
const sound = {
  available: false,
  muted: true,
  channel: null,
  useChannel() {
    if (this.channel) return;
    this.channel = new ChannelAudio(() => this.arrived());
    this.channel.setVolume(Number(volume.value));
    this.channel.muted = true;
    glint.channelAudio = this.channel;
    // Any gesture lets the page's audio start (muted or not), so it is ready when unmuted.
    const start = () => { this.channel.start(); };
    for (const t of ['pointerdown', 'keydown']) window.addEventListener(t, start, { capture: true });
  },
  arrived() {
    this.available = true;
    glint.audio = true;
    glint.audioPath = this.channel ? 'channel' : 'track';
    if (sessionStorage.getItem(SOUND_KEY) === 'on') this.enable(false);
    else this.render();
  },
  setMuted(m) {
    this.muted = m;
    if (this.channel) this.channel.muted = m; else video.muted = m;
  },
  /** Unmutes; `fromGesture` false means a remembered choice that autoplay may still refuse. */
  enable(fromGesture) {
    this.setMuted(false);
    const started = this.channel ? this.channel.start() : video.play().then(() => true, () => false);
    started.then((ok) => {
      if (ok) sessionStorage.setItem(SOUND_KEY, 'on');
      else {
        this.setMuted(true);
        if (fromGesture) console.warn('glint: the browser refused to play sound');
      }
      this.render();
    });
    this.render();
  },
  mute() {
    this.setMuted(true);
    sessionStorage.setItem(SOUND_KEY, 'off');
    this.render();
  },
  render() {
    glint.muted = this.muted;
    soundButton.hidden = !this.available;
    volume.hidden = !this.available;
    soundButton.textContent = this.muted ? 'Sound off' : 'Sound on';
    soundButton.setAttribute('aria-pressed', String(!this.muted));
    const ask = this.available && this.muted && sessionStorage.getItem(SOUND_KEY) !== 'off';
    soundPrompt.hidden = !ask;
  },
};
glint.audio = false;
glint.muted = true;
glint.volume = () => (sound.channel ? sound.channel.volume : video.volume);
/**
 * The sound as it reaches the page, for measuring: `{ context, node }`, an AudioNode before
 * the volume control. Starts the page's audio if it plays it itself.
 */
glint.soundTap = async () => {
  if (sound.channel) {
    await sound.channel.start();
    return { context: sound.channel.context, node: sound.channel.node };
  }
  const context = new AudioContext();
  const track = video.srcObject.getAudioTracks()[0];
  return { context, node: context.createMediaStreamSource(new MediaStream([track])) };
};
soundButton.addEventListener('click', () => {
  if (sound.muted) sound.enable(true); else sound.mute();
  stage.focus();
});
soundPrompt.addEventListener('click', (e) => {
  e.stopPropagation();
  sound.enable(true);
  stage.focus();
});
volume.addEventListener('input', () => {
  video.volume = Number(volume.value);
  sound.channel?.setVolume(Number(volume.value));
});
video.volume = Number(volume.value);

const overlay = new StatsOverlay(document.getElementById('overlay'), () => pc, password,
  () => sound.channel?.stats ?? null);
glint.overlay = overlay;
const statsButton = document.getElementById('stats');
function toggleStats() {
  overlay.toggle();
  statsButton.setAttribute('aria-pressed', String(overlay.visible));
}
statsButton.addEventListener('click', () => { toggleStats(); stage.focus(); });
// Ctrl+Alt+Shift+S toggles the overlay and is not sent to the host.
window.addEventListener('keydown', (e) => {
  if (e.code === 'KeyS' && e.ctrlKey && e.altKey && e.shiftKey) {
    e.preventDefault();
    e.stopImmediatePropagation();
    if (!e.repeat) toggleStats();
  }
}, { capture: true });

stage.focus();
connect();
