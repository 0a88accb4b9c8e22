// What the subscription test scripts share: the configuration test_subscriptions.c
// writes, GraphQL over HTTP, publishing raw order events on Redis, waiting for a
// condition, and a list of failed checks.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const require = createRequire(path.join(root, 'package.json'));

export const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));

export function wsUrl(httpUrl) {
  return httpUrl.replace(/^http/, 'ws') + '/graphql';
}

const problems = [];
let checks = 0;

export function check(name, ok, detail) {
  checks += 1;
  if (!ok) problems.push(`FAILED ${name}${detail === undefined ? '' : `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`}`);
  return ok;
}

export function finish(what) {
  for (const p of problems) console.log(p);
  console.log(`${what}: ${checks - problems.length} of ${checks} checks passed`);
  process.exit(problems.length ? 1 : 0);
}

// Runs fn, recording an exception as a failed check (so that one broken step does not
// hide the others).
export async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    check(name, false, e && e.stack ? e.stack : String(e));
  }
}

export async function gql(httpUrl, token, query, variables) {
  const r = await fetch(`${httpUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await r.json();
  if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data;
}

// Polls cond() every 20 ms until it holds; throws after ms.
export async function waitFor(what, cond, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function resp(args) {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return s;
}

// PUBLISHes every message on orders:events with one write to Redis (so that they arrive
// together) and resolves once Redis answered each.
export function publish(messages) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(config.redisPort, '127.0.0.1');
    let answers = 0;
    let buf = '';
    sock.on('connect', () => sock.write(messages.map((m) => resp(['PUBLISH', 'orders:events', JSON.stringify(m)])).join('')));
    sock.on('data', (d) => {
      buf += d.toString();
      answers = (buf.match(/\r\n/g) || []).length;
      if (answers >= messages.length) {
        sock.end();
        resolve();
      }
    });
    sock.on('error', reject);
  });
}

// An order event as the order service publishes it (docs/services.md).
export function orderEvent(order, type = 'order.updated') {
  return {
    type,
    orderId: order.id,
    customerId: order.customerId,
    sellerIds: order.sellerIds,
    status: order.status,
    version: order.version,
    at: new Date().toISOString(),
    order,
  };
}

// A minimal order of customer with one line per seller, at version.
export function fakeOrder(id, customerId, sellerIds, version, extra = {}) {
  return {
    id,
    number: `T-${id.slice(-6)}`,
    customerId,
    status: 'confirmed',
    paymentStatus: 'unpaid',
    currency: 'USD',
    items: sellerIds.map((s, i) => ({
      productId: `${'0'.repeat(23)}${i}`, sellerId: s, name: `Thing ${i}`, unitPrice: 100, quantity: 1, subtotal: 100, discount: 0, total: 100,
    })),
    sellerIds,
    subtotal: 100 * sellerIds.length,
    discount: 0,
    shipping: 0,
    tax: 0,
    total: 100 * sellerIds.length,
    shippingAddress: { name: 'N', line1: 'L', city: 'C', postalCode: 'P', country: 'US' },
    timeline: [],
    version,
    createdAt: '2026-11-21T10:00:00.000Z',
    updatedAt: '2026-11-21T10:00:00.000Z',
    ...extra,
  };
}

let oidCounter = 0;
export function oid() {
  oidCounter += 1;
  const t = Math.floor(Date.now() / 1000).toString(16).padStart(8, '0');
  return (t + process.pid.toString(16).padStart(6, '0').slice(-6) + oidCounter.toString(16).padStart(10, '0')).slice(0, 24);
}

// An access token as the auth service signs them (HS256 with the tests' secret), valid
// for ttl seconds from now.
export function token(sub, role, ttl) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = b64({ alg: 'HS256', typ: 'JWT' });
  const claims = b64({
    iss: config.jwt.issuer, aud: config.jwt.audience, sub, role, typ: 'access',
    jti: crypto.randomBytes(16).toString('hex'), iat: now, nbf: now, exp: now + ttl,
  });
  const sig = crypto.createHmac('sha256', config.jwt.secret).update(`${head}.${claims}`).digest('base64url');
  return `${head}.${claims}.${sig}`;
}
