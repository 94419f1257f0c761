// File transfer with the host: uploads into its upload directory, downloads from its download
// directory (host/src/files, routes in host/src/http/files.rs).
//
// Files move one block at a time over HTTP (`/api/files`), each request waiting for the
// one before: the page holds one block of a file in memory and never floods the host. Each
// block is hashed with Web Crypto's SHA-256; a file's content hash is the SHA-256 of its
// blocks' SHA-256s (the scheme of Dropbox's content_hash), which the host checks at the end of
// an upload. A download checks each block against its `Content-Digest` (RFC 9530) and the
// file's size at the end, then saves it through an object URL.
//
// The host sends the page a bearer token in its `files` signaling message; it is good while the
// signaling socket lives. Nothing runs at import; the DOM parts take their elements as arguments.

const enc = encodeURIComponent;

/** `bytes` (ArrayBuffer or view) as lowercase hex. */
export function hex(bytes) {
  return [...new Uint8Array(bytes.buffer ?? bytes, bytes.byteOffset ?? 0, bytes.byteLength)]
    .map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The content hash from the blocks' SHA-256 digests (Uint8Arrays of 32 bytes), hex. */
export async function contentHash(digests, subtle = globalThis.crypto?.subtle) {
  const all = new Uint8Array(digests.length * 32);
  digests.forEach((d, i) => all.set(d, i * 32));
  return hex(await subtle.digest('SHA-256', all));
}

/** The bytes of an RFC 9530 `Content-Digest` header's `sha-256` entry, or null. */
export function parseContentDigest(header) {
  const m = /(?:^|,)\s*sha-256=:([A-Za-z0-9+/=]+):/.exec(header ?? '');
  if (!m) return null;
  try {
    return Uint8Array.from(atob(m[1]), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

const sameBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/** A size in bytes for people: `512 B`, `3.4 MB`, `1.2 GB`. */
export function formatSize(n) {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  do { v /= 1000; u += 1; } while (v >= 1000 && u < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** A refusal from the host (`{error, message}`) or the network, with its code. */
export class TransferError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** Whether member `self` may transfer files when the host says `who`. */
export function mayTransfer(who, self) {
  if (!self) return false;
  if (who === 'everyone') return true;
  if (who === 'owners') return self.role === 'owner';
  return self.role === 'owner' || self.control === true;
}

/**
 * The transfers of one page: the host's settings from its `files` message, and uploads and
 * downloads as objects the panel shows ({kind, name, size, done, state, message, hash}).
 */
export class Transfers {
  constructor({ fetch = globalThis.fetch.bind(globalThis), subtle = globalThis.crypto?.subtle, onChange = () => {} } = {}) {
    Object.assign(this, { fetch, subtle, onChange });
    this.settings = null; // the `files` message
    this.list = []; // transfers, newest last
  }

  /** The host's `files` message (a new token on each connection). */
  configure(msg) { this.settings = msg; this.onChange(); }

  /** A new connection: no token until its `files` message. */
  reset() { this.settings = null; this.onChange(); }

  get on() { return this.settings !== null; }

  async request(method, path, body, { raw = false } = {}) {
    const headers = { authorization: `Bearer ${this.settings?.token ?? ''}` };
    let payload = body;
    if (body !== undefined && !(body instanceof Blob)) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let r;
    try {
      r = await this.fetch(path, { method, headers, body: payload });
    } catch (e) {
      throw new TransferError('network', `the host cannot be reached (${e.message})`);
    }
    if (!r.ok) {
      const answer = await r.json().catch(() => ({}));
      throw new TransferError(answer.error ?? `http-${r.status}`, answer.message ?? `the host answered ${r.status}`);
    }
    return raw ? r : r.json();
  }

  /** The files the host offers: [{name, size, modified_ms, version}], or [] when off. */
  async listing() {
    const l = await this.request('GET', '/api/files');
    return l.download ?? [];
  }

  track(kind, name, size) {
    const t = { kind, name, size, done: 0, state: 'running', message: '', hash: null, cancelled: false };
    this.list.push(t);
    if (this.list.length > 20) this.list.splice(0, this.list.findIndex((x) => x.state !== 'running') + 1 || 0);
    this.onChange();
    return t;
  }

  async run(t, work) {
    try {
      await work();
      t.state = 'done';
    } catch (e) {
      t.state = t.cancelled ? 'cancelled' : 'failed';
      t.message = t.cancelled ? 'cancelled' : e.message;
    }
    this.onChange();
    return t;
  }

  /** Uploads `file` (a File or Blob with a name); resolves to its transfer when over. */
  upload(file) {
    const t = this.track('upload', file.name, file.size);
    return this.run(t, async () => {
      const started = await this.request('POST', '/api/files/uploads', { name: file.name, size: file.size });
      t.savedAs = started.name;
      const digests = [];
      try {
        for (let i = 0, at = 0; at < file.size; i += 1, at += started.block) {
          if (t.cancelled) throw new TransferError('cancelled', 'cancelled');
          // The body is the Blob itself: Chromium streams it from the file, where an
          // ArrayBuffer body is copied through the renderer (measured 10x slower).
          const piece = file.slice(at, at + started.block);
          const [digest] = await Promise.all([
            piece.arrayBuffer().then((bytes) => this.subtle.digest('SHA-256', bytes)),
            this.request('PUT', `/api/files/uploads/${enc(started.id)}/${i}`, piece),
          ]);
          digests.push(new Uint8Array(digest));
          t.done = at + piece.size;
          this.onChange();
        }
        t.hash = await contentHash(digests, this.subtle);
        const kept = await this.request('POST', `/api/files/uploads/${enc(started.id)}/done`, { hash: t.hash });
        t.savedAs = kept.name;
        t.message = kept.name === file.name ? 'uploaded, checksum verified' : `uploaded as ${kept.name}, checksum verified`;
      } catch (e) {
        this.request('DELETE', `/api/files/uploads/${enc(started.id)}`).catch(() => {});
        throw e;
      }
    });
  }

  /**
   * Downloads `entry` (from `listing()`) block by block, each checked against its digest;
   * `save(blob, name)` gets the whole file.
   */
  download(entry, save) {
    const t = this.track('download', entry.name, entry.size);
    return this.run(t, async () => {
      const block = this.settings?.block ?? 4 * 1024 * 1024;
      const parts = [];
      const digests = [];
      for (let i = 0, at = 0; at < entry.size; i += 1, at += block) {
        if (t.cancelled) throw new TransferError('cancelled', 'cancelled');
        const r = await this.request('GET',
          `/api/files/download?name=${enc(entry.name)}&block=${i}&version=${enc(entry.version)}`, undefined, { raw: true });
        const bytes = await r.arrayBuffer();
        const digest = new Uint8Array(await this.subtle.digest('SHA-256', bytes));
        const said = parseContentDigest(r.headers.get('content-digest'));
        if (!said || !sameBytes(said, digest)) throw new TransferError('checksum-mismatch', `block ${i} arrived damaged`);
        digests.push(digest);
        parts.push(new Blob([bytes]));
        t.done = at + bytes.byteLength;
        this.onChange();
      }
      const blob = new Blob(parts, { type: 'application/octet-stream' });
      if (blob.size !== entry.size) throw new TransferError('incomplete', `${blob.size} of ${entry.size} bytes arrived`);
      t.hash = await contentHash(digests, this.subtle);
      t.message = 'downloaded, checksum verified';
      save(blob, entry.name);
    });
  }
}

/** Saves `blob` as a download named `name`. */
export function saveBlob(blob, name, doc = globalThis.document) {
  const a = doc.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
}

/**
 * The Files panel (upload button, the host's files, transfers with progress bars) and the
 * drop target (files dropped onto `dropTarget` are uploaded).
 */
export class FilesPanel {
  /**
   * @param {object} o
   * @param {Transfers} o.transfers
   * @param {() => object|null} o.self this page's member (role, control)
   * @param {HTMLElement} o.panel, o.openButton, o.closeButton, o.pickButton, o.hostList, o.transferList, o.note, o.dropTarget
   * @param {HTMLElement} [o.refreshButton] lists the host's files again
   * @param {HTMLInputElement} o.picker a file input
   * @param {(text: string) => void} o.toast
   */
  constructor(o) {
    Object.assign(this, { refocus: () => {}, doc: globalThis.document, ...o });
    this.offered = [];
  }

  get allowed() { return this.transfers.on && mayTransfer(this.transfers.settings.who, this.self()); }

  whyNot() {
    const who = this.transfers.settings?.who;
    return who === 'owners' ? 'Only owners may transfer files on this host.'
      : 'Only owners and the member in control may transfer files on this host: ask for control.';
  }

  uploadAll(files) {
    const s = this.transfers.settings;
    if (!s?.upload) { this.toast('Uploads are off on this host (glint --upload-dir).'); return []; }
    if (!this.allowed) { this.toast(this.whyNot()); return []; }
    this.panel.hidden = false;
    return [...files].map((f) => this.transfers.upload(f).then((t) => {
      this.toast(`${t.name}: ${t.message}`);
      if (s.download) this.refresh();
      return t;
    }));
  }

  async refresh() {
    if (!this.transfers.settings?.download || !this.allowed) { this.offered = []; this.render(); return; }
    try {
      this.offered = await this.transfers.listing();
    } catch (e) {
      this.offered = [];
      this.note.textContent = e.message;
    }
    this.render();
  }

  row(text) {
    const div = this.doc.createElement('div');
    const span = this.doc.createElement('span');
    span.textContent = text;
    div.append(span);
    return div;
  }

  render() {
    const s = this.transfers.settings;
    this.openButton.hidden = !s;
    if (!s) { this.panel.hidden = true; return; }
    const allowed = this.allowed;
    this.pickButton.hidden = !s.upload;
    this.pickButton.disabled = !allowed;
    if (this.refreshButton) this.refreshButton.hidden = !s.download || !allowed;
    this.note.textContent = allowed
      ? [s.upload ? `Drop files on the picture or pick them to upload (up to ${formatSize(s.max_bytes)}).` : '',
        s.download ? 'Files the host offers:' : ''].filter(Boolean).join(' ')
      : this.whyNot();
    this.hostList.replaceChildren(...(allowed ? this.offered : []).map((f) => {
      const r = this.row(`${f.name} · ${formatSize(f.size)}`);
      r.dataset.name = f.name;
      const b = this.doc.createElement('button');
      b.type = 'button';
      b.textContent = 'Download';
      b.dataset.action = 'download';
      b.addEventListener('click', () => this.transfers.download(f, (blob, name) => saveBlob(blob, name, this.doc)));
      r.append(b);
      return r;
    }));
    this.transferList.replaceChildren(...this.transfers.list.map((t) => {
      const r = this.row(`${t.kind === 'upload' ? '↑' : '↓'} ${t.name}`);
      r.dataset.state = t.state;
      const bar = this.doc.createElement('progress');
      bar.max = Math.max(t.size, 1);
      bar.value = t.state === 'done' ? bar.max : t.done;
      const said = this.doc.createElement('span');
      said.textContent = t.state === 'running' ? `${formatSize(t.done)} of ${formatSize(t.size)}` : t.message;
      r.append(bar, said);
      if (t.state === 'running') {
        const b = this.doc.createElement('button');
        b.type = 'button';
        b.textContent = 'Cancel';
        b.addEventListener('click', () => { t.cancelled = true; });
        r.append(b);
      }
      return r;
    }));
  }

  start() {
    this.openButton.addEventListener('click', () => {
      this.panel.hidden = !this.panel.hidden;
      if (!this.panel.hidden) this.refresh();
    });
    this.closeButton.addEventListener('click', () => { this.panel.hidden = true; this.refocus(); });
    this.pickButton.addEventListener('click', () => this.picker.click());
    this.refreshButton?.addEventListener('click', () => this.refresh());
    this.picker.addEventListener('change', () => {
      this.uploadAll(this.picker.files);
      this.picker.value = '';
    });
    const carriesFiles = (e) => [...(e.dataTransfer?.types ?? [])].includes('Files');
    this.dropTarget.addEventListener('dragover', (e) => {
      if (!carriesFiles(e)) return;
      e.preventDefault(); // take the drop (else the browser opens the file, leaving the session)
      e.dataTransfer.dropEffect = this.allowed && this.transfers.settings.upload ? 'copy' : 'none';
    });
    this.dropTarget.addEventListener('drop', (e) => {
      if (!carriesFiles(e)) return;
      e.preventDefault();
      this.uploadAll(e.dataTransfer.files);
    });
    this.render();
  }
}
