// A UDP relay that delays every datagram, each way, for the link bench (`link.mjs`): the
// kernel here has no netem, so a path's delay is added in userspace. Run inside glint's
// namespace as `node delay-relay.mjs LISTEN_IP:PORT TARGET_IP:PORT ONE_WAY_MS [JITTER_MS]`.
//
// It listens on LISTEN (the address glint announces with `--public-ip`, the port glint's
// `--udp-port`) and forwards what arrives to TARGET (glint's own address and port) from one
// socket per sender, so that glint's answers come back to that socket and go out to the
// sender from LISTEN, as a one-to-one NAT would; glint (ICE-lite) sees the relay's socket as
// the page's address. Each datagram leaves ONE_WAY_MS after it arrived, plus up to JITTER_MS
// more at random, never before the one ahead of it in its direction (a path delays, it does
// not reorder). Prints `ready` once it listens; stops on SIGTERM.

import dgram from 'node:dgram';

const [listenArg, targetArg, delayArg, jitterArg = '0'] = process.argv.slice(2);
const parse = (s) => {
  const m = /^(.*):(\d+)$/.exec(s ?? '');
  if (!m) throw new Error(`${s}: not ADDRESS:PORT`);
  return { address: m[1], port: Number(m[2]) };
};
const listen = parse(listenArg);
const target = parse(targetArg);
const delayMs = Number(delayArg);
const jitterMs = Number(jitterArg);
if (!(delayMs >= 0) || !(jitterMs >= 0)) throw new Error('the delay and jitter are milliseconds, 0 or more');

/** A direction's queue: datagrams leave in order, each at its own time or after the one ahead. */
function lane(send) {
  let last = 0;
  return (msg) => {
    const due = Math.max(Date.now() + delayMs + Math.random() * jitterMs, last);
    last = due;
    setTimeout(() => send(msg), Math.max(0, due - Date.now()));
  };
}

const front = dgram.createSocket('udp4');
/** Per sender (`address:port`): the socket toward the target and the lane each way. */
const senders = new Map();

front.on('message', (msg, from) => {
  const key = `${from.address}:${from.port}`;
  let s = senders.get(key);
  if (!s) {
    const back = dgram.createSocket('udp4');
    const toSender = lane((m) => front.send(m, from.port, from.address));
    back.on('message', (m) => toSender(m));
    back.on('error', () => {});
    back.bind(0, target.address);
    s = { toTarget: lane((m) => back.send(m, target.port, target.address)) };
    senders.set(key, s);
  }
  s.toTarget(msg);
});
front.on('error', (e) => {
  console.error(`delay relay: ${e.message}`);
  process.exit(1);
});
front.bind(listen.port, listen.address, () => console.log('ready'));
process.on('SIGTERM', () => process.exit(0));
