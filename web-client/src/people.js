// Who is in the session and who drives: the host's `members` message (every page, its role,
// whether it has control or asked for it), what this page may do about it, and the People
// panel with the control button in the bar.
//
// The host decides (host/src/input/roles.rs); the page only shows it and asks. A page without
// control does not send input (the host would drop it anyway).
//
// Nothing runs at import; the DOM parts take their elements and `document` as arguments.

import { localStore } from './storage.js';

const NAME_KEY = 'glint.name';
export const MAX_NAME = 32;
/**
 * A member is said to have joined once it has stayed this long (ms): one that comes and goes
 * sooner (a script's socket, a page that cannot connect and tries again) is neither said to
 * join nor to leave. Likewise a member is said to have left once it has been gone this long
 * (but for one that leaves nobody driving): a reload is back sooner, and says nothing.
 */
export const BRIEF_VISIT_MS = 3000;

/** The session's members as the host last told them, seen from this page (`me`, a peer id). */
export class Room {
  constructor() {
    this.me = null;
    this.members = [];
    this.seats = 1;
    this.implicit = false;
    this.heldMembers = []; // members whose place the host keeps, each {peer, name, role}
    this.known = false; // a `members` message came on this connection
    // Notices waiting BRIEF_VISIT_MS: joins (peer id → when) and leaves (name → when).
    this.unsaid = { joins: new Map(), leaves: new Map() };
  }

  /** A new connection: the peer id from `welcome`; nothing known yet. */
  reset(me) {
    this.me = me;
    this.members = [];
    this.known = false;
    this.unsaid.joins.clear();
    this.unsaid.leaves.clear();
  }

  /**
   * A `members` message at `at` (ms); returns the notices it brings (leaves, asks, hand-offs,
   * returns). Joins and leaves (but for one that leaves nobody driving) wait for `dueNotices`.
   */
  update(msg, at = Date.now()) {
    const before = this.members;
    const heldBefore = this.held;
    const wasKnown = this.known;
    this.members = Array.isArray(msg.members) ? msg.members : [];
    this.seats = Number(msg.seats) || 1;
    this.implicit = msg.implicit === true;
    // Each {peer, name, role}: the peer id it had, by which an owner (or the API) lets it go.
    this.heldMembers = (Array.isArray(msg.held) ? msg.held : [])
      .filter((h) => typeof h?.name === 'string' && Number.isSafeInteger(h.peer));
    this.known = true;
    return wasKnown ? notices(before, this.members, this.me, heldBefore, this.held, this.unsaid, at) : [];
  }

  /** Whether notices wait to be said (call `dueNotices` BRIEF_VISIT_MS later). */
  get noticesWaiting() { return this.unsaid.joins.size + this.unsaid.leaves.size > 0; }

  /**
   * The notices due by `at` (ms): "Cy joined" for each member still here BRIEF_VISIT_MS after
   * it joined, "Cy left" ("…; their place is kept for 30 s") for each still away that long.
   */
  dueNotices(at = Date.now()) {
    const out = [];
    for (const [peer, since] of this.unsaid.joins) {
      if (at - since < BRIEF_VISIT_MS) continue;
      this.unsaid.joins.delete(peer);
      const m = this.members.find((x) => x.peer === peer);
      if (m) out.push(`${m.name} joined`);
    }
    for (const [name, since] of this.unsaid.leaves) {
      if (at - since < BRIEF_VISIT_MS) continue;
      this.unsaid.leaves.delete(name);
      if (this.members.some((m) => m.name === name)) continue; // back under its name
      out.push(this.held.includes(name) ? `${name} left; their place is kept for 30 s` : `${name} left`);
    }
    return out;
  }

  /** The names of the members whose place the host keeps for them to come back. */
  get held() { return this.heldMembers.map((h) => h.name); }

  get self() { return this.members.find((m) => m.peer === this.me) ?? null; }

  get owner() { return this.self?.role === 'owner'; }

  get inControl() { return this.self?.control === true; }

  get freeSeats() { return this.seats - this.members.filter((m) => m.control).length; }

  /**
   * Whether this page's input goes to the host: it has control, or implicit control is on and
   * a seat is free (the host seats whoever acts first). Before the first `members` message, yes:
   * the host decides.
   */
  get mayDrive() {
    if (!this.known) return true;
    return this.inControl || (this.implicit && this.freeSeats > 0);
  }

  /** What the control button does now: 'release', 'take', 'ask', or null (asked already). */
  get controlAction() {
    if (this.inControl) return 'release';
    if (this.owner || (this.implicit && this.freeSeats > 0)) return 'take';
    return this.self?.asked ? null : 'ask';
  }
}

/**
 * Notices for the change from `before` to `after`, as this page (`me`) would want them;
 * `heldBefore`, `heldAfter`: the names whose place the host kept then and keeps now (a member
 * that left and may come back, one that came back). With `unsaid` ({joins: Map of peer id →
 * ms, leaves: Map of name → ms}), a join or a leave (but for one that leaves nobody driving)
 * is put there at `at` instead of said; a member that leaves while its join waits (and did
 * not drive), or comes back under its name while its leave waits (a reload), goes or comes
 * without a word (`Room.dueNotices`).
 */
export function notices(before, after, me, heldBefore = [], heldAfter = [], unsaid = null, at = 0) {
  const out = [];
  const was = new Map(before.map((m) => [m.peer, m]));
  const now = new Map(after.map((m) => [m.peer, m]));
  const self = now.get(me);
  const manages = self && (self.role === 'owner' || self.control);
  // An owner hears when nobody drives any more.
  const nobodyDrives = self?.role === 'owner' && !after.some((c) => c.control);
  for (const m of after) {
    const old = was.get(m.peer);
    if (!old) {
      const back = heldBefore.includes(m.name) && !heldAfter.includes(m.name);
      if (m.peer === me) continue;
      if (back) {
        if (!unsaid?.leaves.delete(m.name)) out.push(`${m.name} is back`);
      } else if (unsaid?.leaves.delete(m.name)) {
        // Back under its name before its leave was said (a viewer's reload): no word.
      } else if (unsaid) unsaid.joins.set(m.peer, at);
      else out.push(`${m.name} joined`);
      continue;
    }
    if (m.control && !old.control) out.push(m.peer === me ? 'You have control' : `${m.name} has control`);
    if (!m.control && old.control && m.peer === me) out.push('You no longer have control');
    if (m.asked && !old.asked && manages && m.peer !== me) out.push(`${m.name} asks for control`);
    if (m.role !== old.role && m.peer === me) out.push(`You are now ${m.role === 'owner' ? 'an owner' : 'a viewer'}`);
  }
  for (const m of before) {
    if (now.has(m.peer)) continue;
    if (unsaid?.joins.delete(m.peer) && !m.control) continue; // its join was never said either
    const kept = heldAfter.includes(m.name);
    if (m.control && !kept && nobodyDrives) {
      // The one who drove left for good (or was removed): said at once.
      out.push(`${m.name} left: nobody has control`);
    } else if (unsaid) {
      unsaid.leaves.set(m.name, at); // said unless it is back under its name soon
    } else {
      out.push(kept ? `${m.name} left; their place is kept for 30 s` : `${m.name} left`);
    }
  }
  // A place no longer kept, its page not back (its grace ran out, or an owner or the API let
  // it go: the page cannot tell which): an owner hears of it, and that nobody drives
  // when the one given control took it away (the control button then says "Take control").
  for (const name of heldBefore) {
    const back = after.some((m) => m.name === name && !was.has(m.peer));
    if (heldAfter.includes(name) || back) continue;
    // Let go before its leave was said: said as a leave (and, to an owner, that nobody drives
    // when it did).
    if (unsaid?.leaves.delete(name)) {
      out.push(nobodyDrives ? `${name} left: nobody has control` : `${name} left`);
      continue;
    }
    if (self?.role !== 'owner') continue;
    out.push(nobodyDrives ? `${name}'s place is no longer kept: nobody has control` : `${name}'s place is no longer kept`);
  }
  return out;
}

/** The name this browser chose, or undefined. */
export function savedName(storage = localStore()) {
  try {
    return storage?.getItem(NAME_KEY) || undefined;
  } catch {
    return undefined; // storage refused (a sandboxed frame)
  }
}

/** Keeps `name` for this browser's next visits. */
export function saveName(name, storage = localStore()) {
  try { storage?.setItem(NAME_KEY, name); } catch { /* not kept: it still goes to the host */ }
}

const LABELS = { release: 'Release control', take: 'Take control', ask: 'Ask for control' };

/**
 * What a page watching is told when it types or clicks: "You are watching", and how to drive
 * as its control button says (an owner takes control, a viewer asks; one that asked waits).
 */
export function watchingHint(room, clicked = false) {
  const action = room.controlAction;
  const how = action === 'take' || action === 'ask' ? `${LABELS[action]} to drive.`
    : 'You asked for control: an owner gives it.';
  const shown = clicked && room.members.length > 1 ? ': the others see where you clicked' : '';
  return `You are watching${shown}. ${how}`;
}

/**
 * The People panel (members, their roles, who drives, who asked; the owner's and the
 * controller's buttons; this page's name) and the control button in the bar.
 */
export class PeoplePanel {
  /**
   * @param {object} o
   * @param {Room} o.room
   * @param {HTMLElement} o.panel, o.list, o.openButton, o.controlButton, o.closeButton
   * @param {HTMLInputElement} o.nameInput
   * @param {(msg: object) => void} o.send a signaling message (signaling.js `message`)
   * @param {object} o.message the builders
   */
  constructor({ room, panel, list, openButton, controlButton, closeButton, nameInput, send, message, refocus = () => {}, doc = globalThis.document }) {
    Object.assign(this, { room, panel, list, openButton, controlButton, closeButton, nameInput, send, message, refocus, doc });
  }

  button(text, action, onClick) {
    const b = this.doc.createElement('button');
    b.type = 'button';
    b.textContent = text;
    b.dataset.action = action;
    b.addEventListener('click', onClick);
    return b;
  }

  render() {
    const { room } = this;
    const n = room.members.length;
    this.openButton.textContent = n > 1 ? `People (${n})` : 'People';
    const action = room.known ? room.controlAction : null;
    this.controlButton.hidden = !room.known || (n <= 1 && room.inControl);
    this.controlButton.textContent = action ? LABELS[action] : 'Control asked…';
    this.controlButton.disabled = !action;
    this.controlButton.dataset.action = action ?? 'asked';
    const manage = room.owner || room.inControl;
    this.list.replaceChildren(...room.members.map((m) => {
      const row = this.doc.createElement('div');
      row.dataset.peer = String(m.peer);
      const label = this.doc.createElement('span');
      const tags = [m.role, m.control ? 'has control' : null, m.asked ? 'asks for control' : null].filter(Boolean);
      label.textContent = `${m.name}${m.peer === room.me ? ' (you)' : ''} · ${tags.join(' · ')}`;
      row.append(label);
      if (m.peer !== room.me) {
        if (manage && !m.control) row.append(this.button('Give control', 'give', () => this.send(this.message.giveControl(m.peer))));
        if (room.owner) {
          const to = m.role === 'owner' ? 'viewer' : 'owner';
          row.append(this.button(`Make ${to}`, `make-${to}`, () => this.send(this.message.setRole(m.peer, to))));
          row.append(this.button('Remove', 'kick', () => this.send(this.message.kick(m.peer))));
        }
      }
      return row;
    }));
    // Members whose page left and whose place is kept (30 s): an owner may let one go at once,
    // freeing its seat (and its place among the host's --max-peers) for someone else.
    if (room.owner) {
      this.list.append(...room.heldMembers.map((h) => {
        const row = this.doc.createElement('div');
        row.dataset.held = String(h.peer);
        const label = this.doc.createElement('span');
        label.textContent = `${h.name} · ${h.role} · left, place kept`;
        // Once: a second click, before the list comes back without it, was told "no member".
        const letGo = this.button('Let go', 'let-go', () => {
          letGo.disabled = true;
          this.send(this.message.kick(h.peer));
        });
        row.append(label, letGo);
        return row;
      }));
    }
  }

  onControl() {
    const build = { release: 'releaseControl', take: 'takeControl', ask: 'requestControl' }[this.room.controlAction];
    if (build) this.send(this.message[build]());
    this.refocus();
  }

  rename() {
    const name = this.nameInput.value.trim().slice(0, MAX_NAME);
    if (!name) return;
    saveName(name);
    this.send(this.message.setName(name));
  }

  start() {
    this.nameInput.value = savedName() ?? '';
    this.openButton.addEventListener('click', () => { this.panel.hidden = !this.panel.hidden; this.render(); });
    this.closeButton.addEventListener('click', () => { this.panel.hidden = true; this.refocus(); });
    this.controlButton.addEventListener('click', () => this.onControl());
    this.nameInput.addEventListener('change', () => this.rename());
    this.render();
  }
}
