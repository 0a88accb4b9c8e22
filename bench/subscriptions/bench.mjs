// The measuring side of bench_subscriptions (see bench_subscriptions.c, which starts Redis
// and the gateway and writes the configuration this reads):
//
//   1. opens `clients` WebSockets (graphql-transport-ws, the npm `ws` client), each a
//      customer of its own with a token of its own, following its own order
//      (orderUpdated(id)); waits until the gateway's /ready counts every subscription;
//      the gateway's resident memory before and after gives the memory per connection;
//   2. publishes `rate` order events per second on Redis for `seconds` (round robin over
//      the orders, each event the order's next version, a realistic two-line order), and
//      times each from just before its PUBLISH is written to its `next` arriving;
//   3. prints the figures: subscribers held, memory, latency percentiles, events lost,
//      duplicated or out of order, and the CPU the gateway and this process used (this
//      process is the client side of every socket: if it is near 100 %, the latencies
//      are partly its own).
//
// Usage: node bench.mjs <config.json>
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(root, 'package.json'));
const WebSocket = require('ws');

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const N = cfg.clients;
const wsUrl = cfg.gateway.replace(/^http/, 'ws') + '/graphql';
const HANDSHAKES_IN_FLIGHT = 200;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --- the gateway process, from /proc ------------------------------------------------------
function rssKiB() {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${cfg.gatewayPid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}
function cpuSeconds() {
  const s = fs.readFileSync(`/proc/${cfg.gatewayPid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks (USER_HZ 100)
}
async function ready() {
  const r = await fetch(`${cfg.gateway}/ready`);
  return (await r.json()).checks.orderEvents;
}

// --- tokens and orders --------------------------------------------------------------------
function token(sub) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = b64({ alg: 'HS256', typ: 'JWT' });
  const claims = b64({
    iss: cfg.jwt.issuer, aud: cfg.jwt.audience, sub, role: 'customer', typ: 'access',
    jti: crypto.randomBytes(16).toString('hex'), iat: now, nbf: now, exp: now + 3600,
  });
  const sig = crypto.createHmac('sha256', cfg.jwt.secret).update(`${head}.${claims}`).digest('base64url');
  return `${head}.${claims}.${sig}`;
}
const hex = (n, w) => n.toString(16).padStart(w, '0');
const stamp = hex(Math.floor(Date.now() / 1000), 8);
const customerId = (i) => `${stamp}c0ffee${hex(i, 10)}`;
const orderId = (i) => `${stamp}0dde75${hex(i, 10)}`;
const sellers = [`${stamp}5e11e7${hex(1, 10)}`, `${stamp}5e11e7${hex(2, 10)}`];
const STATUSES = ['confirmed', 'processing', 'shipped', 'delivered'];

function event(i, version) {
  const at = new Date().toISOString();
  const order = {
    id: orderId(i), number: `B-${hex(i, 6)}`, customerId: customerId(i),
    status: STATUSES[version % STATUSES.length], paymentStatus: 'paid', currency: 'USD',
    items: sellers.map((s, k) => ({
      productId: `${stamp}9a0d00${hex(k, 10)}`, sellerId: s, name: `Thing ${k}`, unitPrice: 1250, quantity: 2,
      subtotal: 2500, discount: 0, total: 2500,
    })),
    sellerIds: sellers, subtotal: 5000, discount: 0, shipping: 500, tax: 0, total: 5500,
    shippingAddress: { name: 'Bench Customer', line1: '1 Load Street', city: 'Testville', postalCode: '12345', country: 'US' },
    timeline: [], version, createdAt: '2026-11-21T10:00:00.000Z', updatedAt: at,
  };
  return { type: 'order.updated', orderId: order.id, customerId: order.customerId, sellerIds: sellers,
    status: order.status, version, at, order };
}

// --- phase 1: the subscribers -------------------------------------------------------------
const QUERY = 'subscription Follow($id: ID!) { orderUpdated(id: $id) { change version at order { id status total { amount formatted } } } }';
const sent = new Map(); // `${i}:${version}` -> performance.now() just before the PUBLISH
const lastVersion = new Int32Array(N); // per order, delivered
const latencies = [];
let delivered = 0, unexpected = 0, outOfOrder = 0, errors = 0, closedEarly = 0;
const closeCodes = new Map();
let pings = 0;
const pingedAt = new Float64Array(N);
const sockets = [];

function open(i) {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl, 'graphql-transport-ws', { perMessageDeflate: false });
    let settled = false;
    const done = (ok, why) => { if (!settled) { settled = true; resolve({ ok, why }); } };
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token(customerId(i))}` } })));
    ws.on('message', (data) => {
      const m = JSON.parse(data);
      if (m.type === 'connection_ack') {
        ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: QUERY, variables: { id: orderId(i) } } }));
        sockets[i] = ws;
        done(true);
      } else if (m.type === 'next') {
        const now = performance.now();
        const u = m.payload.data && m.payload.data.orderUpdated;
        const t = u && sent.get(`${i}:${u.version}`);
        if (t === undefined) { unexpected += 1; return; }
        sent.delete(`${i}:${u.version}`);
        if (u.version <= lastVersion[i]) outOfOrder += 1;
        lastVersion[i] = u.version;
        latencies.push(now - t);
        delivered += 1;
      } else if (m.type === 'error') {
        if (errors++ === 0) console.log(`first error message: ${JSON.stringify(m.payload)}`);
      }
    });
    ws.on('ping', () => { pings += 1; pingedAt[i] = performance.now(); });
    ws.on('error', (e) => done(false, e.code || e.message));
    ws.on('close', (code) => {
      closeCodes.set(code, (closeCodes.get(code) || 0) + 1);
      if (settled) closedEarly += 1;
      done(false, `close ${code}`);
    });
  });
}

// the gateway's subscription to the order events is up
for (const end = Date.now() + 15000; !(await ready()).status.startsWith('up'); await sleep(50))
  if (Date.now() > end) { console.log('the gateway did not subscribe to the order events'); process.exit(1); }
const baseRss = rssKiB();
const t0 = performance.now();
let next = 0, held = 0;
const refusals = new Map();
async function opener() {
  while (next < N) {
    const i = next++;
    const r = await open(i);
    if (r.ok) held += 1; else refusals.set(r.why, (refusals.get(r.why) || 0) + 1);
  }
}
await Promise.all(Array.from({ length: Math.min(HANDSHAKES_IN_FLIGHT, N) }, opener));
const connectSeconds = (performance.now() - t0) / 1000;
// every subscription registered (the gateway does not acknowledge a subscribe)
let counted = 0;
for (const end = Date.now() + 60000; Date.now() < end; await sleep(50)) {
  counted = (await ready()).subscriptions;
  if (counted >= held || errors > 0) break;
}
const heldRss = rssKiB();
const fmt = (x, d = 1) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
console.log(`gateway: 1 process, WORKERS=${cfg.workers}; machine: ${os.cpus().length} cores, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(`subscribers: ${held} of ${N} connected and subscribed in ${fmt(connectSeconds)} s (${fmt(held / connectSeconds, 0)}/s); the gateway counts ${counted} subscriptions`);
for (const [why, n] of refusals) console.log(`  refused: ${n} × ${why}`);
console.log(`gateway memory (RSS): ${fmt(baseRss / 1024)} MiB idle -> ${fmt(heldRss / 1024)} MiB with ${held} subscribers: ${fmt(((heldRss - baseRss) * 1024) / Math.max(held, 1) / 1024, 2)} KiB per connection`);

// --- phase 2: the stream of events --------------------------------------------------------
if (held === 0) process.exit(1);
const live = [];
for (let i = 0; i < N; ++i) if (sockets[i]) live.push(i);
const version = new Int32Array(N);
const redis = net.connect(cfg.redisPort, '127.0.0.1');
await new Promise((r, j) => { redis.on('connect', r); redis.on('error', j); });
let answered = 0, receivers = 0, pending = '';
redis.on('data', (d) => {
  pending += d.toString();
  let k;
  while ((k = pending.indexOf('\r\n')) >= 0) {
    const line = pending.slice(0, k);
    pending = pending.slice(k + 2);
    if (line[0] === ':') { answered += 1; receivers += Number(line.slice(1)); }
  }
});
const resp = (args) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

let published = 0, cursor = 0, peakRss = heldRss;
const cpu0 = cpuSeconds(), self0 = process.cpuUsage(), s0 = performance.now();
const total = cfg.rate * cfg.seconds;
await new Promise((resolve) => {
  const tick = setInterval(() => {
    const elapsed = (performance.now() - s0) / 1000;
    const due = Math.min(total, Math.floor(elapsed * cfg.rate)) - published;
    if (due > 0) {
      let out = '';
      const now = performance.now();
      for (let k = 0; k < due; ++k) {
        const i = live[cursor++ % live.length];
        const v = ++version[i];
        out += resp(['PUBLISH', 'orders:events', JSON.stringify(event(i, v))]);
        sent.set(`${i}:${v}`, now);
      }
      redis.write(out);
      published += due;
    }
    peakRss = Math.max(peakRss, rssKiB());
    if (published >= total) { clearInterval(tick); resolve(); }
  }, 5);
});
const streamSeconds = (performance.now() - s0) / 1000;
// what is still on its way: up to 10 s more
for (const end = Date.now() + 10000; Date.now() < end && delivered + unexpected < published; await sleep(20))
  peakRss = Math.max(peakRss, rssKiB());
const gwCpu = cpuSeconds() - cpu0;
const self = process.cpuUsage(self0);
const wall = (performance.now() - s0) / 1000;

latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] : NaN);
console.log(`stream: ${published} events in ${fmt(streamSeconds)} s (${fmt(published / streamSeconds, 0)}/s asked ${cfg.rate}/s), each to one subscriber; Redis delivered each to ${fmt(receivers / Math.max(answered, 1), 1)} gateway connection(s)`);
console.log(`delivered: ${delivered} (${published - delivered} missing), ${outOfOrder} out of order, ${unexpected} unexpected, ${errors} error messages, ${closedEarly} sockets closed during the run`);
console.log(`latency, PUBLISH -> next: p50 ${fmt(pct(50), 2)} ms, p90 ${fmt(pct(90), 2)} ms, p99 ${fmt(pct(99), 2)} ms, p99.9 ${fmt(pct(99.9), 2)} ms, max ${fmt(latencies[latencies.length - 1] || NaN, 2)} ms`);
console.log(`gateway CPU: ${fmt((100 * gwCpu) / wall, 0)} % of one core over ${fmt(wall)} s (${fmt((1e6 * gwCpu) / Math.max(delivered, 1), 0)} µs per event delivered); peak RSS ${fmt(peakRss / 1024)} MiB`);
console.log(`client side (this process: ${held} sockets and the publisher): ${fmt((100 * (self.user + self.system)) / 1e6 / wall, 0)} % of one core`);
console.log(`server pings received: ${pings}`);
if (sent.size) {
  let pinged = 0, after = 0;
  for (const [k, t] of sent) {
    const i = Number(k.split(':')[0]);
    if (pingedAt[i]) { pinged += 1; if (pingedAt[i] > t) after += 1; }
  }
  console.log(`missing: ${sent.size}, of clients pinged ${pinged} (ping after the event ${after})`);
}
for (const [code, n] of closeCodes) if (code !== 1000) console.log(`  closes: ${n} × ${code}`);

redis.end();
for (const ws of sockets) if (ws) ws.terminate();
process.exit(0);
