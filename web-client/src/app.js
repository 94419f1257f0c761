// Glint web client, the composition root: finds the page's elements, builds the parts
// (signaling.js, peer.js, controls.js, sound.js, panels.js, the stats overlay) and wires them.
// `window.glint` is what tests, benches and the stats overlay read.

import { Signaling, message, ERROR_REACTIONS } from './signaling.js';
import { PeerConnection } from './peer.js';
import { linkKbps } from './loadrate.js';
import { InputControls, remotePoint, MAX_TEXT_CHARS } from './controls.js';
import { Sound } from './sound.js';
import {
  StatusLine, InfoLine, PlayerLabel, KeysPanel, StatsToggle, pictureText, endedText, waitText, qualityChoices, qualityLabel, savedQuality,
} from './panels.js';
import { parseFrameEcho, InputToPhoton } from './echo.js';
import { StatsOverlay } from './overlay.js';
import { KeyBindings } from './keybind.js';
import { PadBindings } from './gamepads.js';
import { ChannelAudio, channelAudioSupported } from './audio.js';
import { FrameLead, watchDisplayPeriod } from './phase.js';
import { StallWatch, HostSilence, WeakLink } from './stall.js';
import { guessLayout } from './keymap.js';
import { Room, PeoplePanel, BRIEF_VISIT_MS, savedName, watchingHint } from './people.js';
import { Pointers, screenSize, setScreen } from './pointers.js';
import { Transfers, FilesPanel } from './files.js';
import { TouchInput, tapsAsClicks, hasTouch } from './phone.js';
import { localStore, sessionStore } from './storage.js';
import { StillPicture } from './still.js';

// When each step of a connection happened (performance.now(), ms since navigation start): the
// scripts ran, the attempt began, signaling opened, the welcome came, the offer went out, the
// answer came, ICE started checking and found a pair, DTLS finished, the first frame showed.
// `glint.timeline` is the first connection that played (what a page load costs: the benches
// read it); `glint.timelines` has every attempt, the current one last, so a reconnect's cost
// can be read too. An attempt that never played does not leave its steps in the next one.
const STEPS = ['wsOpenMs', 'welcomeMs', 'offerSentMs', 'answerMs', 'iceCheckingMs', 'iceConnectedMs',
  'connectedMs', 'firstFrameMs'];
const scriptsMs = performance.now();
const newTimeline = (attempt) => ({
  attempt, scriptsMs, startMs: performance.now(), ...Object.fromEntries(STEPS.map((k) => [k, null])),
});
const timelines = [];
let timeline = newTimeline(1);
let firstPlayed = null;
const mark = (step) => { timeline[step] ??= performance.now(); };
const KEEP_TIMELINES = 20;

const LEAD_REPORT_MS = 1000; // the playing page reports its frame lead this often
const STALL_POLL_MS = 250; // a playing, visible page samples its decoder this often (stall.js)
const PLAYING_WITHIN_MS = 10000; // a page plays while it sent input this recently
const KEEP_REPORTS = 20; // host errors and infos kept for tests
const KEEP_SAMPLES = 200; // input-to-photon samples kept for tests

const $ = (id) => document.getElementById(id);
const video = $('video');
const stage = $('stage');
const still = new StillPicture($('still'), video);
const refocus = () => controls.focus();

const params = new URLSearchParams(location.hash.slice(1));
// The link's password (`#password=`, as Glint prints it), else the one typed in this tab's
// form: kept for the tab's session, out of the URL. The link's is taken out of the address at
// once (the history entry, the address bar, a copied link no longer show it), unless the tab
// has no storage to keep it in.
const PASSWORD_KEY = 'glint-password';
/** Moves the password of fragment `fields` (if any) into the tab's storage; returns it. */
function takeLinkPassword(fields) {
  const given = fields.get('password');
  if (!given) return null;
  try {
    sessionStorage.setItem(PASSWORD_KEY, given);
    const rest = new URLSearchParams(fields);
    rest.delete('password');
    const hash = rest.toString();
    history.replaceState(null, '', hash ? `#${hash}` : location.pathname + location.search);
  } catch { /* storage blocked: the link keeps it */ }
  return given;
}
const linkPassword = takeLinkPassword(params);
const password = linkPassword || sessionStore()?.getItem(PASSWORD_KEY) || undefined;
// A link opened in a tab already on this page changes only the fragment, which loads nothing:
// its password leaves the address as at a load, and the page starts again with it (and with the
// fragment's other settings, which are read at a load).
addEventListener('hashchange', () => {
  takeLinkPassword(new URLSearchParams(location.hash.slice(1)));
  location.reload();
});
// `#audio=track` plays sound through the browser's WebRTC audio track instead of the page's
// own low-latency playout (the default where WebCodecs and AudioWorklet exist).
const audioOverChannel = params.get('audio') !== 'track' && channelAudioSupported();
// `#relay=1` connects through the host's TURN servers only (`iceTransportPolicy: 'relay'`): to
// check a TURN setup, or to keep this browser's addresses from the host.
const relay = params.get('relay') === '1';

// ---- the parts ----

const status = new StatusLine($('status'));
const info = new InfoLine($('info'));
const player = new PlayerLabel($('player'));
const bindings = new KeyBindings();
const padBindings = new PadBindings();
const keysPanel = new KeysPanel({
  panel: $('keys'), list: $('keys-list'), openButton: $('keys-button'), closeButton: $('keys-close'),
  resetButton: $('keys-reset'), bindings, padList: $('pads-list'), padBindings, refocus,
});
const room = new Room();
const pointers = new Pointers({
  layer: $('pointers'), video, nameOf: (peer) => room.members.find((m) => m.peer === peer)?.name ?? '',
});
// The marks stay over their host pixels when the video's box or the picture's size changes.
new ResizeObserver(() => pointers.relayout()).observe(video);
video.addEventListener('resize', () => pointers.relayout());
const people = new PeoplePanel({
  room, panel: $('people'), list: $('people-list'), openButton: $('people-button'), controlButton: $('control'),
  closeButton: $('people-close'), nameInput: $('name'), send: (m) => signaling.send(m), message, refocus,
});
const transfers = new Transfers({ onChange: () => filesPanel.render() });
const filesPanel = new FilesPanel({
  transfers, self: () => room.self, panel: $('files'), openButton: $('files-button'), closeButton: $('files-close'),
  pickButton: $('files-pick'), refreshButton: $('files-refresh'), picker: $('files-picker'), hostList: $('files-host'), transferList: $('files-transfers'),
  note: $('files-note'), dropTarget: stage, toast: (t) => info.toast(t), refocus,
});
const sound = new Sound({ video, button: $('sound'), volume: $('volume'), prompt: $('sound-prompt'), refocus, ChannelAudio });

const glint = {
  error: null,
  codec: null,
  framesPresented: 0,
  keyframeAsks: 0, // keyframes asked of the host for a stuck decoder (stall.js)
  hostQuiet: 0, // times the host went quiet on `control` while playing (stall.js HostSilence)
  weakLink: false, // the bar says "Weak connection" (stall.js WeakLink)
  weakLinkShown: 0, // times it began to
  firstFrameMs: null,
  connects: 0,
  inputToPhotonMs: [], // the last few live input-to-photon samples
  echoes: 0, // frame echoes received from the host
  hostErrors: [], // the last few {code, message} the host reported on signaling
  hostInfos: [], // the last few messages the host sent (e.g. "state saved")
  // The first connection that played (see `timelines` above), else the current attempt.
  get timeline() { return firstPlayed ?? timeline; },
  timelines,
};
window.glint = glint;

const latency = new InputToPhoton((ms) => {
  overlay.inputToPhoton.add(ms);
  glint.inputToPhotonMs.push(ms);
  if (glint.inputToPhotonMs.length > KEEP_SAMPLES) glint.inputToPhotonMs.shift();
});
/**
 * Input-to-photon samples taken from `since` on (performance.now()) are no input to the
 * picture: gone from the overlay's window and, as many, from the newest of glint's list (which
 * tests and benches read and empty themselves).
 */
function unsample(since) {
  latency.forget();
  const dropped = overlay.inputToPhoton.dropSince(since);
  if (dropped > 0) glint.inputToPhotonMs.splice(Math.max(0, glint.inputToPhotonMs.length - dropped));
}

let hostHasSound = false;
let isGame = false;
let notice = null; // why the page is reconnecting, shown until a connection works again
let waitingForSeat = false; // told `full`: the status line's state is `waiting` until a welcome
const FULL_RETRY_MS = 3000; // between tries to join a full session
let stream = null; // this connection's tracks, on the video element

// The clipboard, shared with the host (the host sends its text to the member in control and
// the owners; the controller's copies go to the host). The browser may refuse to write the
// clipboard without a user gesture: the text then waits for the next click on the picture.
const MAX_CLIPBOARD_BYTES = 64 * 1024;
let clipboardSeen = null; // the last text either side had, so it is not sent back
let clipboardPending = null;
const takeHostClipboard = (text) => {
  glint.hostClipboard = text;
  clipboardSeen = text;
  clipboardPending = text;
  navigator.clipboard?.writeText(text).then(() => {
    clipboardPending = null;
    info.toast('Copied on the host: now in your clipboard');
  }, () => info.toast('Copied on the host: click the picture to take it'));
};
const sendClipboard = (text) => {
  if (!room.mayDrive || new TextEncoder().encode(text).length > MAX_CLIPBOARD_BYTES) return false;
  if (!peer.sendClipboard(text)) return false;
  clipboardSeen = text;
  return true;
};
// A member watching points the others at what it clicks ("look here"), at most 4 times a second.
const LOOK_EVERY_MS = 250;
let lookedAt = -Infinity;
stage.addEventListener('pointerdown', (e) => {
  if (!room.known || room.mayDrive || e.timeStamp - lookedAt < LOOK_EVERY_MS) return;
  const at = remotePoint(video.getBoundingClientRect(), video.videoWidth, video.videoHeight, e.clientX, e.clientY,
    ...screenSize(video));
  if (!at) return;
  lookedAt = e.timeStamp;
  signaling.send(message.point(at[0], at[1]));
  watching(watchingHint(room, true));
});
// A member without control that types is told why nothing happens (once in a while).
const WATCHING_HINT_MS = 4000;
let hintedAt = -Infinity;
function watching(text) {
  if (performance.now() - hintedAt < WATCHING_HINT_MS) return;
  hintedAt = performance.now();
  info.toast(text);
}
stage.addEventListener('keydown', () => {
  if (room.known && !room.mayDrive) watching(watchingHint(room));
});
stage.addEventListener('pointerdown', () => {
  if (clipboardPending !== null) navigator.clipboard?.writeText(clipboardPending).then(() => { clipboardPending = null; }, () => {});
});
// Back in this window: what the user copied elsewhere becomes the host's clipboard, where the
// browser lets the page read it without asking.
window.addEventListener('focus', async () => {
  try {
    const state = (await navigator.permissions?.query({ name: 'clipboard-read' }))?.state;
    if (state !== 'granted') return;
    const text = await navigator.clipboard.readText();
    if (text && text !== clipboardSeen) sendClipboard(text);
  } catch { /* no clipboard access: pastes still go */ }
});

// The host's word on `control` (stall.js HostSilence); `hostQuiet`: the status says it went quiet.
const silence = new HostSilence();
let hostQuiet = false;
/** The host was heard: its word on `control`, or a frame presented (the picture moves). */
function hostHeard() {
  silence.heard(performance.now());
  if (hostQuiet && status.state === 'reconnecting') status.set('playing', '');
  hostQuiet = false;
}
const peer = new PeerConnection({
  signal: (msg) => signaling.send(msg),
  message,
  mark,
  linkKbps: () => linkKbps(),
  onClipboard: takeHostClipboard,
  onControl: (data) => {
    hostHeard();
    const e = parseFrameEcho(data);
    if (e) { glint.echoes += 1; latency.echo(e); }
  },
  onTrack: (ev) => {
    stream ??= new MediaStream();
    stream.addTrack(ev.track);
    if (video.srcObject !== stream) video.srcObject = stream;
    if (ev.track.kind === 'audio' && hostHasSound && !sound.channel) sound.arrived();
    video.play().catch(() => {}); // autoplay refused: the sound prompt or a click starts it
  },
  onConnected: () => {
    silence.reset();
    weakLink.reset();
    sendQuality(false);
    notice = null;
    signaling.connected();
    glint.connects += 1;
    askCodec(true);
  },
  // An ICE restart brought the connection back: the same peer, role and control.
  // (Its `control` channel may lag the picture after an outage: the silence window starts
  // afresh.)
  onRestored: () => {
    notice = null;
    silence.heard(performance.now());
    if (status.state === 'reconnecting') status.set('playing', '');
  },
  // The picture stopped with its path: say so over it rather than show a still as if live.
  onInterrupted: () => {
    if (status.state === 'playing' || hostQuiet) status.set('reconnecting', 'Connection lost: reconnecting…');
    hostQuiet = false;
  },
  // A path that could not be found is said until one is (not just between two tries).
  onLost: (_state, why) => {
    if (why?.startsWith('no path')) notice = `N${why.slice(1)}. Reconnecting…`;
    signaling.reconnect(why ?? 'connection lost');
  },
  relay,
});
// A new network (back online, Wi-Fi to mobile): the old path may be dead before the browser
// notices, so look for a new one at once on the same connection. `navigator.connection` also
// says `change` when only its speed estimate moves: only a new network type counts.
const networkChanged = () => { if (peer.wasConnected) peer.restart('network change'); };
window.addEventListener('online', networkChanged);
let networkType = navigator.connection?.type;
navigator.connection?.addEventListener?.('change', () => {
  if (navigator.connection.type === networkType) return;
  networkType = navigator.connection.type;
  networkChanged();
});

const controls = new InputControls({
  stage,
  textInput: $('text-input'),
  video,
  // A page without control sends nothing (the host would drop it).
  send: (bytes) => room.mayDrive && peer.sendInput(bytes),
  sendText: (text) => room.mayDrive && peer.sendText(text),
  // Games: a rebound key sends its action's default key (keybind.js).
  keyCode: (code) => (isGame ? bindings.translate(code) : code),
  padBinding: (id) => padBindings.get(id),
  padsPaused: () => keysPanel.bindingPad,
  onPen: () => info.toast('The pen works as a mouse: the host has no tablet, so pressure and tilt are not sent'),
  onPress: (seq, at) => latency.press(seq, at),
  // A paste is shared as the host's clipboard and typed; what does not fit is said.
  onPaste: (text) => {
    sendClipboard(text);
    if (new TextEncoder().encode(text).length > MAX_CLIPBOARD_BYTES) {
      info.toast(`Pasted text over ${MAX_CLIPBOARD_BYTES / 1024} KiB is not put in the host's clipboard; the first ${MAX_TEXT_CHARS} characters are typed`);
    } else if ([...text].length > MAX_TEXT_CHARS) {
      info.toast(`Only the first ${MAX_TEXT_CHARS} characters are typed; all of it is in the host's clipboard (paste there)`);
    }
  },
});

/** The page plays the sound of the `audio` channel itself; if it cannot, the track does. */
function playChannel(channel) {
  try {
    sound.useChannel().attach(channel);
  } catch (e) {
    console.warn('glint: the page cannot play sound itself; the audio track will', e);
    channel.close();
  }
}

/**
 * Ends this connection's peer and input state (the socket is signaling's); the last picture
 * stays, dimmed, until the next connection's first frame.
 */
function teardown() {
  still.keep();
  peer.close();
  info.show(''); // the last picture's size and codec: none plays now
  stream = null;
  latency.forget();
  controls.reset();
}

/**
 * Stops for good with a message: no reconnects. The bar, the phone's key row and the sound
 * prompt go with the session (style.css `body[data-halted]`: their buttons, the picture's info
 * line and the Quality menu act on nothing now).
 */
function halt(state, text) {
  signaling.stop();
  teardown();
  still.drop();
  status.set(state, text);
  document.body.dataset.halted = state;
}

// Whether this host sent STUN/TURN servers last time, in this browser: the first offer then
// waits for them (`welcome` says whether they follow) instead of gathering without them and
// restarting ICE when they come. A first visit, or a host that has just gained servers, still
// restarts once.
const ICE_SERVERS_KEY = 'glint.iceServers';
const expectIceServers = () => {
  try {
    return localStorage.getItem(ICE_SERVERS_KEY) === '1';
  } catch {
    return false;
  }
};
const rememberIceServers = (yes) => {
  try {
    if (yes) localStorage.setItem(ICE_SERVERS_KEY, '1');
    else localStorage.removeItem(ICE_SERVERS_KEY);
  } catch { /* storage refused: the page restarts ICE when the servers come */ }
};
/** The connection's start, held while the page waits for the host's ICE servers. */
let heldStart = null;
const startHeld = () => {
  const start = heldStart;
  heldStart = null;
  start?.();
};

// The Quality menu (panels.js QUALITY_KBPS): the page's own cap on its picture's rate, kept by
// the browser and told to the host on every connection (a new one starts at --bitrate).
const QUALITY_KEY = 'glint.quality';
const quality = $('quality');
/**
 * Fills the menu with the caps this host offers (under its `max_kbps`, welcome's), showing the
 * stored choice when offered and Auto when not (the stored one stays for other hosts).
 */
function offerQuality(maxKbps) {
  const choices = qualityChoices(maxKbps);
  quality.replaceChildren(...choices.map((kbps) => new Option(qualityLabel(kbps), String(kbps))));
  const saved = savedQuality(localStore()?.getItem(QUALITY_KEY));
  quality.value = String(choices.includes(saved) ? saved : 0);
  glint.qualityChoices = choices;
}
offerQuality(undefined);
/** Tells the host the chosen cap; `changed`: the user chose it now (else a new connection). */
function sendQuality(changed) {
  const kbps = Number(quality.value) || null;
  if (kbps !== null || changed) signaling.send(message.maxBitrate(kbps));
}
quality.addEventListener('change', () => {
  try {
    localStore()?.setItem(QUALITY_KEY, quality.value);
  } catch { /* storage refused: the choice lasts this page's life */ }
  if (status.state === 'playing') sendQuality(true);
  refocus();
});

// This browser's device token, given by the host to a page let in with the owner's password:
// sent in every `hello`, it makes the host count this browser's password checks apart from its
// address's, so someone guessing from the same address never makes the owner wait.
const DEVICE_KEY = 'glint.device';
// This tab's place in line for a seat (`full`), kept in sessionStorage across a reload.
const TICKET_KEY = 'glint.ticket';
// This tab's rejoin token: given back in the next socket's `hello`, it gets the page its role
// and seat back (a reload, a lost socket). It is in sessionStorage only while the page is
// unloaded: read and removed as the page loads, written back as it goes, so that a duplicated
// tab (which copies sessionStorage) does not come in as this one.
const REJOIN_KEY = 'glint.rejoin';
const signaling = new Signaling({
  url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
  password,
  name: () => savedName(),
  device: () => localStore()?.getItem(DEVICE_KEY) || undefined,
  // The offer is made while the socket opens and goes out right behind `hello`, without
  // waiting for `welcome`.
  onConnecting: () => {
    if (stopCountdown()) notice = null; // the wait is over: this is a new try
    if (timelines.length > 0) timeline = newTimeline(timeline.attempt + 1);
    timelines.push(timeline);
    if (timelines.length > KEEP_TIMELINES) timelines.shift();
    status.set(waitingForSeat ? 'waiting' : 'connecting', notice ?? 'Connecting…');
    // Sound: the page plays the `audio` channel itself where it can (a host without sound
    // sends nothing on it); else the Opus track.
    const start = () => peer.start({ audio: audioOverChannel ? playChannel : null })
      .catch((e) => fail(`This browser cannot start a connection: ${e.message}`));
    heldStart = start;
    if (!expectIceServers()) startHeld();
  },
  onOpen: () => mark('wsOpenMs'),
  onDown: (reason) => {
    heldStart = null;
    teardown();
    status.set(waitingForSeat ? 'waiting' : 'disconnected', notice ?? `Disconnected (${reason}). Reconnecting…`);
  },
  handlers: {
    welcome: (msg) => {
      mark('welcomeMs');
      signaling.ticket = undefined;
      sessionStore()?.removeItem(TICKET_KEY);
      // A seat: this connection's first frame takes the line from `connecting` to `playing`.
      if (waitingForSeat) status.set('connecting', 'Connecting…');
      waitingForSeat = false;
      // Relays only, and the host has none to give: no path can ever be found.
      if (relay && msg.ice_servers !== true) {
        fail('This link connects through a TURN relay only (#relay=1), but the host offers none (glint --ice-server turn:…).');
        return;
      }
      rememberIceServers(msg.ice_servers === true);
      if (msg.ice_servers !== true) startHeld();
      room.reset(msg.peer);
      transfers.reset();
      pointers.clear();
      people.render();
      hostHasSound = msg.audio === true;
      offerQuality(msg.max_kbps);
      video.classList.toggle('pixelated', msg.pixelated === true);
      isGame = msg.game === true;
      for (const id of ['save-state', 'load-state', 'keys-button']) $(id).hidden = !isGame;
      glint.player = undefined;
      player.reset(isGame);
      // Keys travel as physical positions: Glint's own display takes the page's layout.
      navigator.keyboard?.getLayoutMap?.().then((map) => {
        glint.keyboardLayout = guessLayout(map);
        if (glint.keyboardLayout) signaling.send(message.keyboardLayout(glint.keyboardLayout));
      }, () => {});
    },
    answer: async (msg) => {
      mark('answerMs');
      await peer.answer(msg.sdp);
    },
    info: (msg) => {
      glint.hostInfos.push(msg.message);
      if (glint.hostInfos.length > KEEP_REPORTS) glint.hostInfos.shift();
      info.toast(msg.message);
    },
    members: (msg) => {
      // One line for all of an update's notices: one toast each, only the last was seen
      // ("You have control", "You are now an owner", "Ann's place is no longer kept" at once).
      const said = room.update(msg);
      if (said.length) info.toast(said.join('; '));
      // Joins and leaves are said once they lasted a moment (people.js BRIEF_VISIT_MS): a
      // reload or a probe says nothing.
      if (room.noticesWaiting) {
        setTimeout(() => {
          const due = room.dueNotices();
          if (due.length) info.toast(due.join('; '));
        }, BRIEF_VISIT_MS + 50);
      }
      pointers.clear((peer) => room.members.some((m) => m.peer === peer));
      people.render();
      filesPanel.render();
    },
    files: (msg) => transfers.configure(msg),
    rejoin: (msg) => { signaling.rejoin = msg.token; },
    device: (msg) => {
      try {
        localStore()?.setItem(DEVICE_KEY, msg.token);
      } catch { /* storage refused: this browser's checks count with its address's */ }
    },
    // The host's STUN and TURN servers, for this connection (which gathers again with them)
    // and the next ones.
    'ice-servers': (msg) => {
      peer.useIceServers(msg.servers).catch((e) => console.warn('glint: ICE servers', e));
      startHeld();
    },
    pointer: (msg) => pointers.show(msg),
    // The host screen's size: pointers map to it, whatever size the picture is coded at.
    screen: (msg) => {
      setScreen(video, msg.width, msg.height);
      pointers.relayout();
    },
    player: (msg) => {
      glint.player = msg.player;
      player.set(msg.player);
    },
    // The session is over for this page: it ended (a crashed game, a lost display), an owner
    // removed this page, or the page joined again elsewhere (another tab or window with its
    // rejoin token). Say which, and do not reconnect.
    ended: (msg) => {
      glint.ended = msg.message;
      // Nothing of the room is this page's any more: no control button, members or files.
      room.reset(null);
      transfers.reset();
      people.render();
      $('people').hidden = true;
      halt('ended', endedText(msg));
    },
    // The host is shutting down on purpose (a restart, an update): say so, and connect again
    // with the usual delays until it is back.
    draining: (msg) => {
      glint.draining = msg.message;
      notice = 'The host is restarting or shutting down…';
      waitingForSeat = false;
      signaling.reconnect('the host is shutting down');
    },
    error: (msg) => {
      console.warn('glint host:', msg.code, msg.message);
      glint.hostErrors.push({ code: msg.code, message: msg.message });
      if (glint.hostErrors.length > KEEP_REPORTS) glint.hostErrors.shift();
      // An ICE restart the host cannot take: a new connection instead.
      if (msg.code === 'offer-rejected' && peer.restarting) {
        signaling.reconnect(`ICE restart refused: ${msg.message}`);
        return;
      }
      switch (ERROR_REACTIONS[msg.code]) {
        case 'fail':
          if (msg.code === 'unauthorized') {
            fail(password ? 'Wrong password.' : 'This host needs a password.');
            askPassword(password ? 'Wrong password: try again, or open the link Glint printed.'
              : 'This host needs a password (or open the link Glint printed, which has it).');
          } else {
            fail(`The host cannot stream to this browser: ${msg.message}`);
          }
          break;
        case 'retry':
          // A full session: one steady line (not "Connecting…" between tries), and tries a
          // few seconds apart until a seat frees.
          waitingForSeat = msg.code === 'full';
          if (waitingForSeat) {
            notice = 'The session is full: this page joins when someone leaves (a page that went keeps its seat 30 s for its return)…';
            // Its place in line: a freed seat goes to the page waiting longest.
            if (Number.isSafeInteger(msg.ticket)) {
              signaling.ticket = msg.ticket;
              // A reload of this tab keeps its place too.
              sessionStore()?.setItem(TICKET_KEY, String(msg.ticket));
            }
          }
          signaling.reconnect(msg.message, msg.code === 'full' ? FULL_RETRY_MS : 0);
          break;
        case 'wait': {
          const s = Number(msg.retry_after_s) || 1;
          waitingForSeat = false;
          signaling.reconnect('too many password attempts', s * 1000);
          countDown(Date.now() + s * 1000, (left) => `Too many password attempts; trying again in ${waitText(left)}…`);
          break;
        }
        case 'tell': info.toast(msg.message); break;
        default: // 'log', or a code from a newer host: the warning above is all
      }
    },
  },
});

/**
 * Asks for the password in a form (as neko and Selkies do) when the link had none or a wrong
 * one; the page starts again with it kept in the tab's session storage, not in the URL (the
 * browser's history keeps URLs). A wrong password in the link is taken out of it.
 */
function askPassword(why) {
  const form = $('login');
  $('login-why').textContent = why;
  form.hidden = false;
  $('status').hidden = true; // the form says why; the line would only repeat it beneath
  $('login-password').focus();
  form.onsubmit = (e) => {
    e.preventDefault();
    const given = $('login-password').value;
    if (!given) return;
    let kept = false;
    try {
      sessionStorage.setItem(PASSWORD_KEY, given);
      kept = true;
    } catch { /* storage blocked: the fragment has to carry it */ }
    const next = new URLSearchParams(location.hash.slice(1));
    if (kept) next.delete('password');
    else next.set('password', given);
    const hash = next.toString();
    history.replaceState(null, '', hash ? `#${hash}` : location.pathname + location.search);
    location.reload();
  };
}

// A wait the host asked for (password attempts: up to 15 min) counts down on the status line
// until the page connects again.
let countdown = null;
function stopCountdown() {
  if (countdown === null) return false;
  clearInterval(countdown);
  countdown = null;
  return true;
}
function countDown(until, say) {
  stopCountdown();
  const tick = () => {
    if (status.state !== 'disconnected') return void stopCountdown();
    notice = say((until - Date.now()) / 1000);
    status.set('disconnected', notice);
  };
  tick();
  countdown = setInterval(tick, 1000);
}

function fail(text) {
  glint.error = text;
  halt('failed', text);
}

// Signaling first: the socket opens and the offer is made while the rest of the page is wired.
// This tab's rejoin token from before a reload (REJOIN_KEY above).
try {
  signaling.rejoin = sessionStore()?.getItem(REJOIN_KEY) ?? undefined;
  sessionStore()?.removeItem(REJOIN_KEY);
} catch { /* storage refused: a reload joins as a new page */ }
window.addEventListener('pagehide', () => {
  try {
    if (signaling.rejoin) sessionStore()?.setItem(REJOIN_KEY, signaling.rejoin);
  } catch { /* as above */ }
});
window.addEventListener('pageshow', (ev) => {
  // Back from the back/forward cache: the token is this page's again.
  if (ev.persisted) sessionStore()?.removeItem(REJOIN_KEY);
});
// A place in line this tab was given before a reload (see `full` below).
const keptTicket = Number(sessionStore()?.getItem(TICKET_KEY) ?? NaN);
if (Number.isSafeInteger(keptTicket)) signaling.ticket = keptTicket;
signaling.connect();

const overlay = new StatsOverlay($('overlay'), () => peer.pc, password, () => (hostHasSound && sound.channel?.stats) || null,
  () => room.me ?? null);
const statsToggle = new StatsToggle({ button: $('stats'), overlay, refocus, onShortcut: unsample });

// ---- what tests and benches read ----

Object.defineProperties(glint, {
  state: { get: () => status.state, enumerable: true },
  inputPacketsSent: { get: () => controls.packetsSent, enumerable: true },
  gamepads: { get: () => controls.gamepads, enumerable: true },
  audio: { get: () => sound.available, enumerable: true },
  muted: { get: () => sound.muted, enumerable: true },
  audioPath: { get: () => sound.path, enumerable: true },
  channelAudio: { get: () => sound.channel ?? undefined, enumerable: true },
});
glint.overlay = overlay;
glint.room = room;
// ICE: how many restarts this page made (`restartIce()` restarts one now), the candidate
// pair in use (`{local, remote}` types: host, srflx, prflx, relay), and the TURN usernames
// its next gathering would use (the host renews minted ones).
Object.defineProperty(glint, 'iceRestarts', { get: () => peer.restarts, enumerable: true });
Object.defineProperty(glint, 'turnUsernames', {
  get: () => (peer.pc?.getConfiguration().iceServers ?? []).map((s) => s.username).filter(Boolean),
  enumerable: true,
});
glint.restartIce = () => peer.restart('asked');
glint.selectedPair = () => peer.selectedPair();
// File transfer: `upload(files)` resolves to each transfer; `list` is every transfer.
glint.files = {
  upload: (files) => Promise.all(filesPanel.uploadAll(files)),
  listing: () => transfers.listing(),
  download: (entry) => transfers.download(entry, (blob) => { glint.files.lastBlob = blob; }),
  get list() { return transfers.list; },
  get settings() { return transfers.settings; },
};
/** Sets the host's clipboard (as a paste in the page does); false without control. */
glint.sendClipboard = (text) => sendClipboard(String(text));
/** Types `text` on the host (as an IME's composition or a paste would); false when not
 * connected or without control. */
glint.sendText = (text) => room.mayDrive && peer.sendText(String(text));
glint.volume = () => sound.level;
glint.soundTap = () => sound.tap();
// The inbound video and audio RTP stats (frames decoded/dropped, bytes, jitter buffer), and
// the audio playout path's (media-playout), or null.
glint.inboundVideo = () => peer.stats('inbound-rtp', 'video');
glint.inboundAudio = () => peer.stats('inbound-rtp', 'audio');
glint.audioPlayout = () => peer.stats('media-playout');

// ---- the picture ----

// The page that plays (input in the last 10 s) tells the host its frame lead once a second,
// so the host can time its captures to this page's compositor.
const frameLead = new FrameLead();
watchDisplayPeriod((ms) => frameLead.setPeriod(ms));
setInterval(() => {
  const lead = frameLead.take();
  const playing = performance.now() - controls.lastChange < PLAYING_WITHIN_MS;
  if (lead !== null && playing && signaling.open && peer.pc) {
    signaling.send(message.framePhase(lead));
    glint.leadReports = (glint.leadReports || 0) + 1;
    glint.lastLeadMs = lead;
  }
}, LEAD_REPORT_MS);

// A decoder stuck after a loss (frames lost for good, NACKs unanswered) asks the host for a
// keyframe on `control` (stall.js) instead of waiting for the browser's own request (3 s).
const stall = new StallWatch();
// The page's own word on its link (stall.js WeakLink): "Weak connection" in the bar while the
// picture loses packets or freezes on the way, as Moonlight warns of a poor connection.
const weakLink = new WeakLink();
function showWeak(weak) {
  if (weak === glint.weakLink) return;
  glint.weakLink = weak;
  if (weak) glint.weakLinkShown += 1;
  $('weak-link').hidden = !weak;
}
setInterval(async () => {
  // A host gone quiet on `control` (it says it is alive every 500 ms): said over the still
  // picture at once, rather than after the browser's ICE gives up on the path (5–10 s).
  if (silence.check(performance.now()) && status.state === 'playing' && document.visibilityState === 'visible') {
    hostQuiet = true;
    glint.hostQuiet += 1;
    status.set('reconnecting', 'No word from the host: waiting for it…');
  }
  if (status.state !== 'playing' || document.visibilityState !== 'visible' || !peer.pc) {
    // Not playing: the status says why, not the warning. A hidden page keeps its warning
    // until its next sample, when it is seen again.
    if (status.state !== 'playing') showWeak(false);
    return;
  }
  const v = await peer.stats('inbound-rtp', 'video').catch(() => null);
  if (v) showWeak(weakLink.sample(performance.now(), v));
  if (v && stall.sample(performance.now(), v.framesDecoded, v.nackCount) && peer.sendOn('control', 'keyframe')) {
    glint.keyframeAsks += 1;
  }
}, STALL_POLL_MS);

// Presented frames, counted per displayed frame.
/** A frame was shown at `now`: the first of each connection (the page's first or a
 * reconnect's) ends its timeline and the "Connecting…" status. */
function shown(now) {
  glint.firstFrameMs ??= now;
  if (status.state !== 'connecting') return;
  still.drop();
  mark('firstFrameMs');
  firstPlayed ??= timeline;
  status.set('playing', '');
  askCodec();
}

// The browser names the codec once media came, not yet at "connected" and often not at the
// first frame either: asked again (one question at a time) until it does; `fresh` (a new
// connection, maybe to another host) asks even when one is known or a question is out.
let askingCodec = false;
function askCodec(fresh = false) {
  if (!fresh && (askingCodec || glint.codec)) return;
  askingCodec = true;
  peer.videoCodec().then((c) => { glint.codec = c ?? glint.codec; }, () => {})
    .finally(() => { askingCodec = false; });
}

function onFrame(now, meta) {
  glint.framesPresented += 1;
  hostHeard();
  frameLead.frame(now, meta);
  overlay.onFrame(meta);
  if (meta.rtpTimestamp !== undefined) latency.presented(meta.rtpTimestamp, meta.expectedDisplayTime ?? now);
  shown(now);
  if (glint.framesPresented % 30 === 0) {
    askCodec();
    info.show(pictureText(meta.width, meta.height, glint.codec, screenSize(video), Number(quality.value) || 0));
  }
  video.requestVideoFrameCallback(onFrame);
}
if ('requestVideoFrameCallback' in HTMLVideoElement.prototype) {
  video.requestVideoFrameCallback(onFrame);
} else {
  video.addEventListener('playing', () => shown(performance.now()));
}

// ---- the bar ----

controls.start();
const touch = new TouchInput({
  controls, video, stage, layer: $('pointers'), trackpadButton: $('trackpad'), keyboardButton: $('keyboard'), keyRow: $('key-row'),
});
touch.start();
glint.touch = touch;
tapsAsClicks($('bar')); // a tap right after a drag on the picture still presses the button
// The People and Files panels open just above the bar and the key row, however many rows
// those wrap to on a phone (a fixed offset covered the bar's upper row and took its taps).
new ResizeObserver(() => {
  const below = document.documentElement.clientHeight - stage.getBoundingClientRect().bottom;
  document.documentElement.style.setProperty('--below-stage', `${Math.max(0, Math.round(below))}px`);
}).observe(stage);
$('lock').addEventListener('click', () => controls.lockPointer());
$('fullscreen').addEventListener('click', () => {
  if (document.fullscreenElement) {
    document.exitFullscreen();
    return;
  }
  // A touch screen keeps the bar and the key row (Keyboard, Trackpad) in fullscreen; with a
  // mouse and a keyboard the picture fills the screen alone.
  const whole = hasTouch() ? document.documentElement : stage;
  whole.requestFullscreen?.().then(refocus).catch(() => {}); // refused: stay windowed
});
// The button says whether the page is in fullscreen (Esc or the button leaves it).
document.addEventListener('fullscreenchange', () => {
  const on = document.fullscreenElement !== null;
  $('fullscreen').setAttribute('aria-pressed', String(on));
  $('fullscreen').textContent = on ? 'Exit fullscreen' : 'Fullscreen';
});
for (const [id, build] of [['save-state', message.saveState], ['load-state', message.loadState]]) {
  $(id).addEventListener('click', () => {
    if (signaling.open) signaling.send(build());
    refocus();
  });
}
keysPanel.start();
people.start();
filesPanel.start();
sound.start();
statsToggle.start();

controls.focus();
