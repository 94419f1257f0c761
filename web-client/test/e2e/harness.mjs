// Starts real parts for the end-to-end tests: glint (which starts Xvfb and the app) and a
// headless browser. Every part gets its own port and display, and is stopped by PID even
// when the test fails.

import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import http from 'node:http';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = join(here, '..', '..', '..');
export const glintBin = process.env.GLINT_BIN || join(repo, 'target', 'release', 'glint');

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required',
];

/** A free TCP port on loopback. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Polls `check` until it returns a truthy value or `timeoutMs` passes. A check that never
 * settles (a browser that stopped answering) also ends at the deadline.
 */
/** The host's figures (`/api/stats`), as the page's owner reads them (its password). */
export const apiStats = (page) => page.evaluate(async () => {
  // The page moves the link's password into the tab's session storage.
  const password = new URLSearchParams(location.hash.slice(1)).get('password') ?? sessionStorage.getItem('glint-password');
  const r = await fetch('/api/stats', { headers: { Authorization: `Bearer ${password}` } });
  return r.json();
});

/** The page's frames presented so far when it plays, else a falsy value. */
export const playing = (page) => page.evaluate(() => window.glint.state === 'playing' && window.glint.framesPresented);

/** Frames the page presented over `ms` of its own time. */
export async function framesOver(page, ms) {
  return page.evaluate((wait) => new Promise((resolve) => {
    const before = window.glint.framesPresented;
    setTimeout(() => resolve(window.glint.framesPresented - before), wait);
  }), ms);
}

/**
 * The client coordinates of the middle of host screen pixel (x, y) on the page's video
 * (object-fit: contain, so through its letterbox; the video may be a smaller picture of the
 * screen, whose size the host's `screen` message gave).
 */
export function videoPoint(page, x, y) {
  return page.evaluate(([rx, ry]) => {
    const v = document.getElementById('video');
    const r = v.getBoundingClientRect();
    const scale = Math.min(r.width / v.videoWidth, r.height / v.videoHeight);
    const offX = (r.width - v.videoWidth * scale) / 2;
    const offY = (r.height - v.videoHeight * scale) / 2;
    const per = (video, screen) => (!screen || video === screen || video === screen + 1 ? 1 : screen / video);
    const kx = per(v.videoWidth, Number(v.dataset.screenWidth));
    const ky = per(v.videoHeight, Number(v.dataset.screenHeight));
    return [r.left + offX + ((rx + 0.5) / kx) * scale, r.top + offY + ((ry + 0.5) / ky) * scale];
  }, [x, y]);
}

export async function waitFor(what, check, timeoutMs = 15000, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('the check did not answer')), Math.max(0, deadline - Date.now()));
    });
    try {
      last = await Promise.race([check(), late]);
      if (last) return last;
    } catch (e) { last = e; } finally { clearTimeout(timer); }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

/** Stops a child by PID: SIGTERM, then SIGKILL after 5 s; resolves when it has exited. */
function stopper(child) {
  return async () => {
    if (child.exitCode !== null || child.signalCode) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
}

/**
 * A raw HTTP request to glint with exactly these headers (fetch cannot set `Host`); resolves
 * to `{ status, headers, body }`.
 */
export function rawRequest(port, path, headers, host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path, headers, setHost: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: res.statusCode, headers: res.headers, body: '' }); });
    req.on('error', reject);
    req.end();
  });
}

/**
 * The events an `xev` log file holds so far, in order: `{kind, keysym, button, x, y}` where
 * `kind` is xev's name (`KeyPress`, `KeyRelease`, `ButtonPress`, ...), `keysym` the key's
 * keysym name (null when xev names none), `button` the button number and `x`, `y` the root
 * coordinates. A missing file is no events.
 */
export function xevEvents(file) {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  return text.split(/\n(?=\w+ event,)/).filter((e) => /^\w+ event,/.test(e)).map((e) => {
    const [, x, y] = /root:\((-?\d+),(-?\d+)\)/.exec(e) ?? [];
    return {
      kind: e.split(' ')[0],
      keysym: /keysym 0x[0-9a-f]+, (\w+)\)/.exec(e)?.[1] ?? null,
      button: Number(/button (\d+)/.exec(e)?.[1] ?? NaN),
      x: Number(x),
      y: Number(y),
    };
  });
}

/**
 * Starts glint; resolves once it prints its URL. `netns` runs it in that network namespace;
 * `env` is added to its environment (`HOME`, say).
 */
export async function startGlint(args, { netns, env = {} } = {}) {
  const port = await freePort();
  const listen = args.includes('--listen') ? [] : ['--listen', `127.0.0.1:${port}`];
  const [cmd, cmdArgs] = netns
    ? ['ip', ['netns', 'exec', netns, glintBin, ...listen, ...args]]
    : [glintBin, [...listen, ...args]];
  const child = spawn(cmd, cmdArgs, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'glint=info', ...env },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const stop = stopper(child);
  try {
    await waitFor('glint to print its URL', () => {
      if (child.exitCode !== null) throw new Error(`glint exited ${child.exitCode}: ${err}`);
      return /open (http\S+)/.exec(out);
    }, 20000);
  } catch (e) {
    await stop();
    throw e;
  }
  const url = /open (http\S+)/.exec(out)[1];
  const display = /streaming display (:\d+)/.exec(out)?.[1];
  const pulseServer = /PULSE_SERVER=(\S+)/.exec(out)?.[1];
  const xauthority = /XAUTHORITY=(\S+)/.exec(out)?.[1];
  /** The environment an X client of glint's display needs (its cookie is private). */
  const xenv = () => ({ ...process.env, DISPLAY: display, ...(xauthority ? { XAUTHORITY: xauthority } : {}) });
  return { child, url, display, port, stop, logs: () => err, stdout: () => out, pulseServer, xauthority, xenv };
}

/**
 * A fresh persistent Chromium context (playwright-core, Debian's chromium). `args` are added
 * to the command line; `contextOptions` go to playwright (`ignoreHTTPSErrors`, say);
 * `executablePath` replaces /usr/bin/chromium (a wrapper that starts it in a namespace).
 */
export async function startChromium({ args = [], contextOptions = {}, executablePath = '/usr/bin/chromium', preferences } = {}) {
  const { chromium } = await import('playwright-core');
  const dir = mkdtempSync(join(tmpdir(), 'glint-chromium-'));
  // The profile's settings as a user sets them (chrome://settings writes the same file).
  if (preferences) {
    mkdirSync(join(dir, 'Default'));
    writeFileSync(join(dir, 'Default', 'Preferences'), JSON.stringify(preferences));
  }
  const context = await chromium.launchPersistentContext(dir, {
    executablePath,
    headless: true,
    args: [...CHROMIUM_ARGS, ...args],
    viewport: { width: 1280, height: 800 },
    ...contextOptions,
  });
  const page = context.pages()[0] || await context.newPage();
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(m.text()));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  const stop = async () => {
    await context.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  return { context, page, stop, console: () => consoleLines.join('\n') };
}

/**
 * Glint on a LAN ([`startLan`]) with a fresh, empty HOME (its kept certificate goes there),
 * listening on the host's address at port 8443 with `args`, and headless Chromium on the
 * client's side (certificate errors accepted, as a user accepts them). Returns
 * `{ lan, home, glint, browser, stop }`; `stop()` ends all of it, and the HOME. A test may
 * restart glint into `parts.glint` (the same HOME): `stop()` stops whichever runs.
 */
export async function startOnLan(args, { ipv6 = false } = {}) {
  const lan = await startLan({ ipv6 });
  const home = mkdtempSync(join(tmpdir(), 'glint-home-'));
  const parts = { lan, home, glint: null, browser: null };
  parts.stop = async () => {
    await parts.browser?.stop();
    await parts.glint?.stop();
    lan.stop();
    rmSync(home, { recursive: true, force: true });
  };
  try {
    const at = ipv6 ? `[${lan.hostIp}]` : lan.hostIp;
    parts.glint = await startGlint([...args, '--listen', `${at}:8443`], { netns: lan.host, env: { HOME: home } });
    parts.browser = await startChromium({ executablePath: lan.chromium, contextOptions: { ignoreHTTPSErrors: true } });
  } catch (e) {
    await parts.stop();
    throw e;
  }
  return parts;
}

let netnsCount = 0;
/**
 * A six-digit id for one call's namespaces and links: this process's PID (last four digits)
 * and a count of the calls in it, so that namespaces alive at once in one test file never
 * share a name (a random suffix did, 1 time in 90). An id whose host namespace is left over
 * from a killed run is skipped.
 */
function netnsId() {
  for (let tries = 0; tries < 100; tries += 1) {
    netnsCount += 1;
    const id = `${String(process.pid % 10000).padStart(4, '0')}${String(netnsCount % 100).padStart(2, '0')}`;
    if (!existsSync(`/run/netns/glint-h${id}`) && !existsSync(`/run/netns/glint-nh${id}`)) return id;
  }
  throw new Error('no free namespace name: /run/netns holds 100 of this PID\'s (ip netns del them)');
}

/**
 * Two network namespaces joined by a veth pair, as two machines on one LAN: `host` at
 * `hostIp`, `client` at `clientIp`. With `ipv6`, an IPv6-only LAN (unique-local addresses, no
 * IPv4 beyond loopback), as a mobile network without IPv4 would be. Unique names per call;
 * `stop()` deletes both (and the pair with them). Needs root and iproute2.
 */
export async function startLan({ ipv6 = false } = {}) {
  const id = netnsId();
  const subnet = Number(id) % 250 + 1;
  const host = `glint-h${id}`;
  const client = `glint-c${id}`;
  const hostIp = ipv6 ? `fd21:${subnet.toString(16)}::1` : `10.213.${subnet}.1`;
  const clientIp = ipv6 ? `fd21:${subnet.toString(16)}::2` : `10.213.${subnet}.2`;
  const ip = (...a) => execFileSync('ip', a, { stdio: ['ignore', 'ignore', 'pipe'] });
  const stop = () => {
    for (const ns of [host, client]) {
      try { ip('netns', 'del', ns); } catch { /* already gone */ }
    }
  };
  try {
    ip('netns', 'add', host);
    ip('netns', 'add', client);
    // An IPv6 link-local address that finishes its duplicate detection a second or two after
    // the link comes up is a network change to Chromium, which then fails every request in
    // flight (ERR_NETWORK_CHANGED), and a failed module preload leaves the page dead: IPv4
    // only, or (`ipv6`) no link-local addresses and no duplicate detection.
    if (!ipv6) {
      for (const ns of [host, client]) {
        ip('netns', 'exec', ns, 'sh', '-c',
          'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6');
      }
    }
    ip('link', 'add', `gh${id}`, 'netns', host, 'type', 'veth', 'peer', 'name', `gc${id}`, 'netns', client);
    for (const [ns, dev, addr] of [[host, `gh${id}`, hostIp], [client, `gc${id}`, clientIp]]) {
      if (ipv6) {
        ip('-n', ns, 'link', 'set', dev, 'addrgenmode', 'none');
        ip('-n', ns, '-6', 'addr', 'add', `${addr}/64`, 'dev', dev, 'nodad');
      } else {
        ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev);
      }
    }
    for (const [ns, dev] of [[host, `gh${id}`], [client, `gc${id}`]]) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
  } catch (e) {
    stop();
    throw new Error(`cannot make the namespaces: ${e.stderr || e.message}`);
  }
  // Chromium started inside the client namespace (playwright talks to it over a pipe), or
  // inside the host's (it reaches glint over loopback: an unshaped link).
  const dir = mkdtempSync(join(tmpdir(), 'glint-lan-'));
  const chromium = join(dir, 'chromium');
  writeFileSync(chromium, `#!/bin/sh\nexec ip netns exec ${client} /usr/bin/chromium "$@"\n`, { mode: 0o755 });
  const hostChromium = join(dir, 'chromium-host');
  writeFileSync(hostChromium, `#!/bin/sh\nexec ip netns exec ${host} /usr/bin/chromium "$@"\n`, { mode: 0o755 });
  return {
    host,
    client,
    hostIp,
    clientIp,
    chromium,
    hostChromium,
    stop: () => { stop(); rmSync(dir, { recursive: true, force: true }); },
  };
}

/**
 * A host behind a NAT, as network namespaces in a row: `host` at `hostIp` on a private link to
 * `router`, whose other side (`publicIp`) faces `client` at `clientIp`, a machine on the
 * internet (where a STUN server runs). The router rewrites the source of every UDP datagram
 * from the private side to `publicIp` and a port from `natPorts` (nftables snat; by default
 * below Linux's ephemeral range, so never the host's own port, and above the ports Chromium
 * refuses to reach, the last of which, 10080, stops its ICE checks too). Linux keeps one mapping per source address
 * and port while any flow of it lives, to whatever destination (endpoint-independent mapping,
 * RFC 4787 §4.1), and lets in only answers to what went out (conntrack), as most home routers
 * do. `forwardTcp(port)` forwards that TCP port of `publicIp` to the host (the page and
 * signaling, as a port forward would); nothing else from the public side reaches the private
 * one. The client's default route leads to the router.
 *
 * `chromium` is a wrapper that starts Chromium in `client`; with `browserNat`, in `browser`
 * instead, at `browserIp` behind a second router of the same kind (public address
 * `browserPublicIp`, ports from `browserNatPorts`), which `client` links to the first: both
 * ends behind a NAT. Unique names per call; `stop()` deletes them all. Needs root, iproute2
 * and nftables.
 */
export async function startNat({ browserNat = false, natPorts = [20000, 20999], browserNatPorts = [21000, 21999] } = {}) {
  const id = netnsId();
  const subnet = Number(id) % 250 + 1;
  const name = (k) => `glint-n${k}${id}`;
  const [host, router, client, router2, browser] = ['h', 'r', 'c', 's', 'b'].map(name);
  const net = (n, last) => `10.${n}.${subnet}.${last}`;
  const [hostIp, innerIp, publicIp, clientIp] = [net(214, 2), net(214, 1), net(215, 1), net(215, 2)];
  const [browserIp, browserInnerIp, browserPublicIp, clientIp2] = [net(217, 2), net(217, 1), net(216, 1), net(216, 2)];
  const spaces = browserNat ? [host, router, client, router2, browser] : [host, router, client];
  const ip = (...a) => execFileSync('ip', a, { stdio: ['ignore', 'ignore', 'pipe'] });
  const stop = () => {
    for (const ns of spaces) {
      try { ip('netns', 'del', ns); } catch { /* already gone */ }
    }
  };
  /** A veth pair from `a` (at `ipA`) to `b` (at `ipB`), on a /24; returns `a`'s end's name. */
  const link = (tag, a, ipA, b, ipB) => {
    const [devA, devB] = [`${tag}a${id}`, `${tag}b${id}`];
    ip('link', 'add', devA, 'netns', a, 'type', 'veth', 'peer', 'name', devB, 'netns', b);
    for (const [ns, dev, addr] of [[a, devA, ipA], [b, devB, ipB]]) {
      ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev);
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
    return devA;
  };
  /** Makes `ns` a NAT router whose public side is `pub` at `addr` (see above). */
  const nat = (ns, pub, addr, [low, high]) => {
    const nft = (...a) => ip('netns', 'exec', ns, 'nft', ...a);
    ip('netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
    nft('add', 'table', 'ip', 'nat');
    nft('add', 'chain', 'ip', 'nat', 'pre', '{ type nat hook prerouting priority dstnat ; }');
    nft('add', 'chain', 'ip', 'nat', 'post', '{ type nat hook postrouting priority srcnat ; }');
    nft('add', 'rule', 'ip', 'nat', 'post', 'oifname', pub, 'meta', 'l4proto', 'udp', 'snat', 'to', `${addr}:${low}-${high}`);
    nft('add', 'rule', 'ip', 'nat', 'post', 'oifname', pub, 'snat', 'to', addr);
    // From the public side, only answers and forwarded ports reach the private one.
    nft('add', 'table', 'ip', 'filter');
    nft('add', 'chain', 'ip', 'filter', 'forward', '{ type filter hook forward priority filter ; }');
    nft('add', 'rule', 'ip', 'filter', 'forward', 'iifname', pub, 'ct', 'state', 'established,related', 'accept');
    nft('add', 'rule', 'ip', 'filter', 'forward', 'iifname', pub, 'ct', 'status', 'dnat', 'accept');
    nft('add', 'rule', 'ip', 'filter', 'forward', 'iifname', pub, 'drop');
    // Unsolicited UDP to the router itself is dropped before conntrack keeps it: a rejected
    // datagram's entry would take the reply tuple of the mapping that a later answer needs,
    // and the NAT would then pick another port for it (hole punching would fail).
    nft('add', 'chain', 'ip', 'filter', 'input', '{ type filter hook input priority filter ; }');
    nft('add', 'rule', 'ip', 'filter', 'input', 'iifname', pub, 'meta', 'l4proto', 'udp', 'drop');
    return (port, to) => nft('add', 'rule', 'ip', 'nat', 'pre', 'iifname', pub, 'tcp', 'dport', String(port),
      'dnat', 'to', `${to}:${port}`);
  };
  let forward;
  try {
    for (const ns of spaces) {
      ip('netns', 'add', ns);
      // IPv4 only, as in startLan.
      ip('netns', 'exec', ns, 'sh', '-c',
        'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    link('nh', host, hostIp, router, innerIp);
    const pub = link('np', router, publicIp, client, clientIp);
    ip('-n', host, 'route', 'add', 'default', 'via', innerIp);
    forward = nat(router, pub, publicIp, natPorts);
    // Chromium gathers host candidates only on the interface of the default route.
    ip('-n', client, 'route', 'add', 'default', 'via', publicIp);
    if (browserNat) {
      link('nb', browser, browserIp, router2, browserInnerIp);
      const pub2 = link('ns', router2, browserPublicIp, client, clientIp2);
      ip('-n', browser, 'route', 'add', 'default', 'via', browserInnerIp);
      ip('-n', router2, 'route', 'add', 'default', 'via', clientIp2);
      ip('-n', router, 'route', 'add', `${net(216, 0)}/24`, 'via', clientIp);
      ip('netns', 'exec', client, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
      nat(router2, pub2, browserPublicIp, browserNatPorts);
    }
  } catch (e) {
    stop();
    throw new Error(`cannot make the namespaces: ${e.stderr || e.message}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'glint-nat-'));
  const chromium = join(dir, 'chromium');
  const where = browserNat ? browser : client;
  writeFileSync(chromium, `#!/bin/sh\nexec ip netns exec ${where} /usr/bin/chromium "$@"\n`, { mode: 0o755 });
  return {
    host,
    router,
    client,
    hostIp,
    publicIp,
    clientIp,
    natPorts,
    ...(browserNat ? { browser, browserIp, browserPublicIp, browserNatPorts } : {}),
    chromium,
    forwardTcp: (port) => forward(port, hostIp),
    stop: () => { stop(); rmSync(dir, { recursive: true, force: true }); },
  };
}

/**
 * Starts TigerVNC's Xvnc as a stand-in for a user's own X display: unlike Xvfb it can change
 * size at run time through RandR (`xrandr -s WxH`). It picks a free display number itself.
 */
export async function startXvnc(size = '1280x720') {
  const child = spawn('Xvnc', [
    '-displayfd', '1', '-geometry', size, '-depth', '24',
    '-SecurityTypes', 'None', '-rfbport', '-1', '-nolisten', 'tcp',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const stop = stopper(child);
  try {
    await waitFor('Xvnc to report its display', () => {
      if (child.exitCode !== null) throw new Error(`Xvnc exited ${child.exitCode}: ${err}`);
      return /^\d+\n/.test(out);
    }, 10000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { child, display: `:${out.trim()}`, stop };
}

/**
 * Plays a sine tone of `hz` into a PulseAudio server (`pacat`) for `seconds`; returns the
 * child process (stop it with .kill()).
 */
export function playTone(server, hz, seconds = 10) {
  const child = spawn('pacat', [`--server=${server}`, '--format=s16le', '--rate=48000',
    '--channels=2', '--latency-msec=20', '--raw'], { stdio: ['pipe', 'ignore', 'pipe'] });
  const frames = 48000 * seconds;
  const buf = Buffer.alloc(frames * 4);
  for (let i = 0; i < frames; i += 1) {
    const v = Math.round(Math.sin((2 * Math.PI * hz * i) / 48000) * 12000);
    buf.writeInt16LE(v, i * 4);
    buf.writeInt16LE(v, i * 4 + 2);
  }
  child.stdin.on('error', () => {});
  child.stdin.end(buf);
  return child;
}

/**
 * Starts Debian's coturn (`turnserver`) on `ip` (in network namespace `netns`, if given) at a
 * random UDP port, relaying from a port range of its own. Credentials: the static user
 * `user:password` (`--lt-cred-mech`), or, with `secret`, TURN REST credentials
 * (`--use-auth-secret`, draft-uberti-behave-turn-rest-00); coturn cannot take both at once (the
 * secret overrides). Resolves once its servers are up; `stop()` ends it by PID.
 */
export async function startTurn({ ip, netns, user = 'glint-ice', password = 'ice-pass', secret }) {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const minPort = 45000 + Math.floor(Math.random() * 200) * 50;
  const dir = mkdtempSync(join(tmpdir(), 'glint-turn-'));
  const auth = secret
    ? ['--use-auth-secret', `--static-auth-secret=${secret}`]
    : ['--lt-cred-mech', `--user=${user}:${password}`];
  const args = [
    '-n', '--no-cli', '--no-tls', '--no-dtls', '--fingerprint', '--simple-log', '--log-file=stdout',
    `--pidfile=${join(dir, 'pid')}`, `--userdb=${join(dir, 'db')}`,
    `--listening-ip=${ip}`, `--relay-ip=${ip}`, `--listening-port=${port}`,
    `--min-port=${minPort}`, `--max-port=${minPort + 49}`, '--realm=glint', ...auth,
    // The test's host is on this machine's own addresses.
    '--allow-loopback-peers',
  ];
  const [cmd, cmdArgs] = netns ? ['ip', ['netns', 'exec', netns, 'turnserver', ...args]] : ['turnserver', args];
  const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const stopChild = stopper(child);
  const stop = async () => {
    await stopChild();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Its listeners are open once the general servers are made; its user database follows.
    await waitFor('coturn to listen', () => {
      if (child.exitCode !== null) throw new Error(`turnserver exited ${child.exitCode}: ${out}`);
      return /Total General servers/.test(out) && /DB connection success/.test(out);
    }, 10000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { child, ip, port, user, password, secret, url: `turn:${ip}:${port}?transport=udp`, stop, logs: () => out };
}
