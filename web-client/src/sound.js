// The page's sound controls. Browsers block autoplay with sound: sound starts muted and the
// page offers a click to enable it, remembered for this tab's session. The output is the
// page's own playout (ChannelAudio, audio.js) or the video element's audio track.
//
// The elements, the storage and the ChannelAudio constructor are arguments; nothing runs at
// import.

import { sessionStore } from './storage.js';

export const SOUND_KEY = 'glint.sound';

export class Sound {
  /**
   * @param {object} o
   * @param {HTMLVideoElement} o.video plays the Opus track when the page does not play sound itself
   * @param {HTMLElement} o.button "Sound on/off"
   * @param {HTMLInputElement} o.volume the volume slider
   * @param {HTMLElement} o.prompt "Click to enable sound"
   * @param {() => void} [o.refocus] gives the keyboard back to the stage after a click
   * @param {Storage} [o.storage] remembers the choice for the tab's session
   * @param {Function} [o.ChannelAudio] audio.js's ChannelAudio
   */
  constructor({
    video, button, volume, prompt, refocus = () => {}, storage = sessionStore(),
    ChannelAudio = null, win = globalThis.window, log = console,
  }) {
    Object.assign(this, { video, button, volume, prompt, refocus, storage, ChannelAudio, win, log });
    this.available = false; // sound has arrived: the controls show
    this.muted = true;
    this.channel = null; // the page's own playout, once used
  }

  /** Wires the controls. */
  start() {
    this.button.addEventListener('click', () => {
      if (this.muted) this.enable(true); else this.mute();
      this.refocus();
    });
    this.prompt.addEventListener('click', (e) => {
      e.stopPropagation();
      this.enable(true);
      this.refocus();
    });
    this.volume.addEventListener('input', () => {
      this.video.volume = Number(this.volume.value);
      this.channel?.setVolume(Number(this.volume.value));
    });
    this.video.volume = Number(this.volume.value);
  }

  /** The page plays the sound itself from now on (the `audio` channel); made once per page. */
  useChannel() {
    if (this.channel) return this.channel;
    this.channel = new this.ChannelAudio(() => this.arrived());
    this.channel.setVolume(Number(this.volume.value));
    this.channel.muted = true;
    // Any gesture lets the page's audio start (muted or not), so it is ready when unmuted.
    const start = () => { this.channel.start(); };
    for (const t of ['pointerdown', 'keydown']) this.win.addEventListener(t, start, { capture: true });
    return this.channel;
  }

  /** Where the sound plays: 'channel' (the page's own playout) or 'track'; undefined before any. */
  get path() {
    if (!this.available) return undefined;
    return this.channel ? 'channel' : 'track';
  }

  /** Sound has arrived: show the controls, and unmute if this tab chose sound before. */
  arrived() {
    this.available = true;
    if (this.choice() === 'on') this.enable(false);
    else this.render();
  }

  setMuted(m) {
    this.muted = m;
    if (this.channel) this.channel.muted = m; else this.video.muted = m;
  }

  /** Unmutes; `fromGesture` false means a remembered choice that autoplay may still refuse. */
  enable(fromGesture) {
    this.setMuted(false);
    const started = this.channel ? this.channel.start() : this.video.play().then(() => true, () => false);
    started.then((ok) => {
      if (ok) this.remember('on');
      else {
        this.setMuted(true);
        if (fromGesture) this.log.warn('glint: the browser refused to play sound');
      }
      this.render();
    });
    this.render();
  }

  mute() {
    this.setMuted(true);
    this.remember('off');
    this.render();
  }

  /** The tab's choice ('on', 'off' or null): in its session storage, else this page's. */
  choice() {
    try {
      return this.storage?.getItem(SOUND_KEY) ?? this.chosen ?? null;
    } catch {
      return this.chosen ?? null;
    }
  }

  remember(choice) {
    this.chosen = choice;
    try { this.storage?.setItem(SOUND_KEY, choice); } catch { /* refused: this page keeps it */ }
  }

  render() {
    this.button.hidden = !this.available;
    this.volume.hidden = !this.available;
    this.button.textContent = this.muted ? 'Sound off' : 'Sound on';
    this.button.setAttribute('aria-pressed', String(!this.muted));
    this.prompt.hidden = !(this.available && this.muted && this.choice() !== 'off');
  }

  /** The current volume (0..1). */
  get level() { return this.channel ? this.channel.volume : this.video.volume; }

  /**
   * The sound as it reaches the page, for measuring: `{ context, node }`, an AudioNode before
   * the volume control. Starts the page's audio if it plays it itself.
   */
  async tap() {
    if (this.channel) {
      await this.channel.start();
      return { context: this.channel.context, node: this.channel.node };
    }
    const context = new AudioContext();
    const track = this.video.srcObject.getAudioTracks()[0];
    return { context, node: context.createMediaStreamSource(new MediaStream([track])) };
  }
}
