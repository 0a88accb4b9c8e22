// The graphql-transport-ws protocol driven by hand with the npm `ws` client (and a raw
// TCP socket where `ws` itself would refuse): every close code and message rule of the
// protocol, the gateway's limits, the access token's expiry, and the close at shutdown.
//
// The gateways (test_subscriptions.c): `tight` has small limits (connection_init within
// 500 ms, 3 operations, messages of 4 KiB, 64 KiB waiting to be sent), `slow` lets 5
// events wait per connection, `lively` pings connections silent for 1 s (and drops those
// silent for 2 s), `doomed` is stopped by this script (SIGTERM) to see 1012.
// No service runs: events are published on Redis by the script.
//
// Usage: node protocol.mjs <config.json>
import fs from 'node:fs';
import net from 'node:net';
import crypto from 'node:crypto';
import { check, config, fakeOrder, finish, oid, orderEvent, publish, require, step, token, waitFor, wsUrl } from './common.mjs';

const WebSocket = require('ws');
const { customer, customer2, admin, seller1 } = config.users;
const PROTOCOL = 'graphql-transport-ws';

// A connection with a queue of the messages received and the close it ended with.
function connect(gateway, protocols = PROTOCOL, options = {}) {
  const ws = new WebSocket(wsUrl(gateway), protocols, options);
  const c = { ws, queue: [], waiters: [], closeEvent: null };
  ws.on('message', (data, binary) => {
    const m = binary ? { binary: true } : JSON.parse(data.toString());
    if (c.waiters.length) c.waiters.shift()(m); else c.queue.push(m);
  });
  c.opened = new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  c.closed = new Promise((resolve) => ws.on('close', (code, reason) => {
    c.closeEvent = { code, reason: reason.toString() };
    resolve(c.closeEvent);
  }));
  c.send = (m) => ws.send(typeof m === 'string' ? m : JSON.stringify(m));
  c.next = (ms = 5000) => (c.queue.length ? Promise.resolve(c.queue.shift()) : new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no message within ${ms} ms (close: ${JSON.stringify(c.closeEvent)})`)), ms);
    c.waiters.push((m) => { clearTimeout(t); resolve(m); });
  }));
  return c;
}

// Opens, sends connection_init with the token (none: anonymous) and waits for the ack.
async function ready(gateway, token, options = {}) {
  const c = connect(gateway, PROTOCOL, options);
  await c.opened;
  c.send({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} });
  const ack = await c.next();
  if (ack.type !== 'connection_ack') throw new Error(`expected connection_ack, got ${JSON.stringify(ack)}`);
  return c;
}

// The next message after every message sent before it was handled: a pong.
async function fence(c) {
  c.send({ type: 'ping', payload: { fence: true } });
  const got = [];
  for (;;) {
    const m = await c.next();
    if (m.type === 'pong' && m.payload && m.payload.fence) return got;
    got.push(m);
  }
}

async function expectClose(name, c, code, reasonPart) {
  const timeout = new Promise((resolve) => setTimeout(() => resolve(null), 8000));
  const e = await Promise.race([c.closed, timeout]);
  check(`${name}: closed with ${code}`, e && e.code === code && (!reasonPart || e.reason.includes(reasonPart)), e);
}

const tight = config.tight;

await step('subprotocol not offered → 4406', async () => {
  const c = connect(tight, []);
  await c.opened;
  await expectClose('no subprotocol', c, 4406, 'Subprotocol not acceptable');
});

await step('only another subprotocol → 101 without one, then 4406', async () => {
  // `ws` refuses a 101 without the subprotocol it asked for, so this is raw TCP
  const key = crypto.randomBytes(16).toString('base64');
  const port = Number(new URL(tight).port);
  const bytes = await new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(`GET /graphql HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
      `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      'Sec-WebSocket-Protocol: graphql-ws\r\n\r\n'));
    const parts = [];
    s.on('data', (d) => parts.push(d));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
    setTimeout(() => { s.destroy(); resolve(Buffer.concat(parts)); }, 5000);
  });
  const head = bytes.slice(0, bytes.indexOf('\r\n\r\n') + 4).toString();
  const frame = bytes.slice(head.length);
  const accept = crypto.createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  check('legacy subprotocol: 101 with the right accept key', head.startsWith('HTTP/1.1 101') && head.includes(`Sec-WebSocket-Accept: ${accept}`), head);
  check('legacy subprotocol: no subprotocol chosen', !/sec-websocket-protocol/i.test(head), head);
  check('legacy subprotocol: a close frame with 4406', frame[0] === 0x88 && frame.readUInt16BE(2) === 4406 &&
    frame.slice(4, 2 + frame[1]).toString() === 'Subprotocol not acceptable', frame.toString('hex'));
});

await step('ours among others → accepted', async () => {
  const c = connect(tight, ['graphql-ws', PROTOCOL]);
  await c.opened;
  check('several subprotocols offered: graphql-transport-ws chosen', c.ws.protocol === PROTOCOL, c.ws.protocol);
  c.ws.close(1000);
});

await step('a plain GET /graphql still reaches h2o', async () => {
  // (with the header CSRF prevention asks of GET requests)
  const r = await fetch(`${tight}/graphql?query=${encodeURIComponent('{ __typename }')}`,
    { headers: { 'apollo-require-preflight': 'true' } });
  check('GraphQL over HTTP on the same port', r.status === 200 && (await r.json()).data.__typename === 'Query');
});

await step('no connection_init → 4408', async () => {
  const c = connect(tight);
  await c.opened;
  await expectClose('no connection_init within 500 ms', c, 4408, 'Connection initialisation timeout');
});

await step('a second connection_init → 4429', async () => {
  const c = await ready(tight, customer.token);
  c.send({ type: 'connection_init' });
  await expectClose('second init', c, 4429, 'Too many initialisation requests');
});

await step('subscribe before the ack → 4401', async () => {
  const c = connect(tight);
  await c.opened;
  c.send({ id: '1', type: 'subscribe', payload: { query: '{ __typename }' } });
  await expectClose('subscribe before init', c, 4401, 'Unauthorized');
});

for (const [name, payload, part] of [
  ['a forged token', { authorization: `Bearer ${config.forgedToken}` }, 'bad signature'],
  ['an expired token', { authorization: `Bearer ${config.expiredToken}` }, 'expired'],
  ['an authorization that is not a string', { authorization: 42 }, 'must be a string'],
  ['an authorization without Bearer', { Authorization: config.users.customer.token }, 'Bearer'],
]) {
  await step(`rejected init: ${name} → 4403`, async () => {
    const c = connect(tight);
    await c.opened;
    c.send({ type: 'connection_init', payload });
    await expectClose(`init with ${name}`, c, 4403, part);
  });
}

for (const [name, text, binary] of [
  ['not JSON', '{"type": "ping"'],
  ['an array', '[1,2]'],
  ['no type', '{"payload":{}}'],
  ['an unknown type', '{"type":"subscribe_me"}'],
  ['subscribe without an id', '{"type":"subscribe","payload":{"query":"{ __typename }"}}'],
  ['subscribe with an empty id', '{"type":"subscribe","id":"","payload":{"query":"{ __typename }"}}'],
  ['subscribe with a query that is not a string', '{"type":"subscribe","id":"1","payload":{"query":1}}'],
  ['subscribe with variables that are not an object', '{"type":"subscribe","id":"1","payload":{"query":"{ __typename }","variables":[1]}}'],
  ['complete without an id', '{"type":"complete"}'],
  ['a server message (next)', '{"type":"next","id":"1","payload":{}}'],
  ['a payload that is not an object', '{"type":"connection_init","payload":"token"}'],
  ['a binary message', '{"type":"ping"}', true],
]) {
  await step(`malformed: ${name} → 4400`, async () => {
    const c = connect(tight);
    await c.opened;
    c.ws.send(binary ? Buffer.from(text) : text, { binary: !!binary });
    await expectClose(`malformed (${name})`, c, 4400);
  });
}

await step('ping and pong at any time', async () => {
  const c = connect(tight);
  await c.opened;
  c.send({ type: 'ping' });
  const p1 = await c.next();
  check('ping before init → pong', p1.type === 'pong' && p1.payload === undefined, p1);
  c.send({ type: 'connection_init', payload: { authorization: `Bearer ${customer.token}` } });
  check('then the ack', (await c.next()).type === 'connection_ack');
  c.send({ type: 'ping', payload: { sent: 42 } });
  const p2 = await c.next();
  check('ping with a payload → pong with the same payload', p2.type === 'pong' && p2.payload && p2.payload.sent === 42, p2);
  c.send({ type: 'pong', payload: { unsolicited: true } });
  const between = await fence(c);
  check('an unsolicited pong is not answered', between.length === 0, between);
  c.ws.close(1000);
});

await step('operations: queries and mutations answered once, validation errors', async () => {
  const c = await ready(tight, customer.token);
  c.send({ id: 'q', type: 'subscribe', payload: { query: '{ __typename }' } });
  const n = await c.next();
  check('query → next', n.type === 'next' && n.id === 'q' && n.payload.data.__typename === 'Query', n);
  const done = await c.next();
  check('query → then complete', done.type === 'complete' && done.id === 'q', done);
  c.send({ id: 'm', type: 'subscribe', payload: { query: 'mutation { logout(refreshToken: "x") }' } });
  const mn = await c.next();
  check('mutation → next (the auth service is not running: an error on the field)',
    mn.type === 'next' && mn.id === 'm' && mn.payload.data && mn.payload.errors &&
    mn.payload.errors[0].extensions.code === 'UPSTREAM_UNAVAILABLE', mn);
  check('mutation → then complete', (await c.next()).type === 'complete');
  c.send({ id: 'v', type: 'subscribe', payload: { query: 'subscription { myOrdersUpdated { nope } }' } });
  const e = await c.next();
  check('a validation failure → error', e.type === 'error' && e.id === 'v' && Array.isArray(e.payload) &&
    e.payload[0].message.includes('nope') && e.payload[0].extensions.code === 'BAD_USER_INPUT', e);
  check('… and no complete after it', (await fence(c)).length === 0);
  c.send({ id: 's', type: 'subscribe', payload: { query: '{ __typename ' } });
  const se = await c.next();
  check('a syntax error → error', se.type === 'error' && se.id === 's' && se.payload[0].message.startsWith('Syntax Error'), se);
  c.send({ id: 'x', type: 'subscribe', payload: { query: 'query($n: Int!) { __typename }', variables: { n: 'one' } } });
  const ve = await c.next();
  check('variables that do not fit → error', ve.type === 'error' && ve.id === 'x', ve);
  c.send({ id: 'v', type: 'subscribe', payload: { query: '{ __typename }' } });
  check('an id is free again after its error', (await c.next()).type === 'next' && (await c.next()).type === 'complete');
  c.send({ id: 'unknown', type: 'complete' });
  check('complete of an unknown id is ignored', (await fence(c)).length === 0);
  c.ws.close(1000);
});

await step('subscriptions: who may subscribe', async () => {
  const anon = await ready(tight, null);
  anon.send({ id: '1', type: 'subscribe', payload: { query: 'subscription { myOrdersUpdated { version } }' } });
  const a = await anon.next();
  check('anonymous → error UNAUTHENTICATED', a.type === 'error' && a.payload[0].extensions.code === 'UNAUTHENTICATED', a);
  anon.ws.close(1000);
  const c = await ready(tight, customer.token);
  c.send({ id: '1', type: 'subscribe', payload: { query: 'subscription { allOrdersUpdated { version } }' } });
  const f = await c.next();
  check('a customer, every order → error FORBIDDEN', f.type === 'error' && f.payload[0].extensions.code === 'FORBIDDEN', f);
  c.send({ id: '2', type: 'subscribe', payload: { query: 'subscription { orderUpdated(id: "../x") { version } }' } });
  const b = await c.next();
  check('not an order id → error BAD_USER_INPUT', b.type === 'error' && b.payload[0].extensions.code === 'BAD_USER_INPUT', b);
  c.ws.close(1000);
});

await step('a second subscription with an active id → 4409', async () => {
  const c = await ready(tight, admin.token);
  c.send({ id: 'dup', type: 'subscribe', payload: { query: 'subscription { allOrdersUpdated { version } }' } });
  await fence(c);
  c.send({ id: 'dup', type: 'subscribe', payload: { query: '{ __typename }' } });
  await expectClose('duplicate id', c, 4409, 'Subscriber for dup already exists');
});

await step('too many operations on a connection → error', async () => {
  const c = await ready(tight, admin.token);
  for (const id of ['1', '2', '3']) c.send({ id, type: 'subscribe', payload: { query: 'subscription { allOrdersUpdated { version } }' } });
  c.send({ id: '4', type: 'subscribe', payload: { query: 'subscription { allOrdersUpdated { version } }' } });
  const e = await c.next();
  check('the fourth operation → error RATE_LIMITED', e.type === 'error' && e.id === '4' && e.payload[0].extensions.code === 'RATE_LIMITED', e);
  c.send({ id: '1', type: 'complete' });
  c.send({ id: '4', type: 'subscribe', payload: { query: 'subscription { allOrdersUpdated { version } }' } });
  check('after a complete there is room again', (await fence(c)).length === 0);
  c.ws.close(1000);
});

await step('a message over the limit → 1009', async () => {
  const c = await ready(tight, customer.token);
  c.send({ type: 'ping', payload: { pad: 'x'.repeat(5000) } });
  await expectClose('a 5 KB message (limit 4 KiB)', c, 1009, 'Message too big');
});

await step('complete stops a subscription; someone else\'s order sends nothing', async () => {
  const order = oid();
  const a = await ready(tight, customer.token);
  const b = await ready(tight, customer2.token);
  const sub = (c, id) => c.send({ id, type: 'subscribe', payload: { query: `subscription { orderUpdated(id: "${order}") { version order { id view } } }` } });
  sub(a, 'kept');
  sub(a, 'dropped');
  sub(b, 'other');
  await Promise.all([fence(a), fence(b)]);
  a.send({ id: 'dropped', type: 'complete' });
  await fence(a);
  await publish([orderEvent(fakeOrder(order, customer.id, [seller1.id], 2))]);
  const m = await a.next();
  check('the kept subscription gets the event', m.type === 'next' && m.id === 'kept' && m.payload.data.orderUpdated.version === 2, m);
  check('the completed one gets nothing', (await fence(a)).length === 0);
  check('another customer following the same order id gets nothing, not even an error', (await fence(b)).length === 0);
  sub(a, 'dropped');
  await fence(a);
  await publish([orderEvent(fakeOrder(order, customer.id, [seller1.id], 3))]);
  const got = [await a.next(), await a.next()].map((x) => `${x.id}:${x.payload.data.orderUpdated.version}`).sort();
  check('an id completed can be used again', JSON.stringify(got) === '["dropped:3","kept:3"]', got);
  a.ws.close(1000);
  b.ws.close(1000);
});

await step('the access token expires during a subscription', async () => {
  const c = await ready(tight, token(customer.id, 'customer', 2));
  c.send({ id: 'mine', type: 'subscribe', payload: { query: 'subscription { myOrdersUpdated { version } }' } });
  await fence(c);
  const e = await c.next(10000);
  check('expiry → error UNAUTHENTICATED on the subscription', e.type === 'error' && e.id === 'mine' &&
    e.payload[0].extensions.code === 'UNAUTHENTICATED' && e.payload[0].message.includes('expired'), e);
  await expectClose('expiry', c, 4403, 'the access token expired');
});

await step('a slow reader: bytes waiting → 1013', async () => {
  const c = await ready(tight, admin.token);
  c.send({ id: 'all', type: 'subscribe', payload: { query: 'subscription { allOrdersUpdated { version order { id lines { name } } } }' } });
  await fence(c);
  c.ws._socket.pause(); // stops reading: the kernel's buffers fill, then the gateway's queue
  const big = 'x'.repeat(16000);
  const mark = fs.statSync(config.tightLog).size;
  const tooSlow = () => fs.readFileSync(config.tightLog, 'utf8').slice(mark).includes('Too slow: more than 65536 bytes');
  for (let round = 0; round < 40 && !tooSlow(); ++round) {
    const events = [];
    for (let i = 0; i < 50; ++i) events.push(orderEvent(fakeOrder(oid(), customer.id, [seller1.id], 1, {}), 'order.created'));
    for (const e of events) e.order.items[0].name = big;
    await publish(events);
  }
  await waitFor('the gateway to give up on the slow client', tooSlow, 20000);
  c.ws._socket.resume();
  await expectClose('a client that does not read', c, 1013, 'Too slow: more than 65536 bytes waiting to be sent');
});

await step('events waiting to run → 1013', async () => {
  const c = await ready(config.slow, admin.token);
  // each event needs a call to the (stopped) product service: they wait their turn. One
  // order of its own, so that the events other steps published, which a busy gateway may
  // still be reading from Redis, do not reach this subscription.
  const order = oid();
  c.send({ id: 'one', type: 'subscribe', payload: { query: `subscription { orderUpdated(id: "${order}") { version order { lines { product { name } } } } }` } });
  await fence(c);
  const events = [];
  for (let v = 1; v <= 50; ++v) events.push(orderEvent(fakeOrder(order, customer.id, [seller1.id], v), v === 1 ? 'order.created' : 'order.updated'));
  await publish(events);
  await expectClose('more than 5 events waiting', c, 1013, 'Too slow: more than 5 events waiting');
});

await step('idle connections: pinged; one that never answers → 1001', async () => {
  const c = await ready(config.lively, customer.token);
  c.send({ id: 'mine', type: 'subscribe', payload: { query: 'subscription { myOrdersUpdated { version } }' } });
  let pings = 0;
  c.ws.on('ping', () => { pings += 1; });
  await waitFor('three WebSocket pings from the gateway', () => pings >= 3, 10000);
  check('a connection that answers the pings stays open', c.closeEvent === null, c.closeEvent);
  const o = fakeOrder(oid(), customer.id, [seller1.id], 1);
  await publish([orderEvent(o)]);
  const m = await c.next();
  check('and still gets its events', m.type === 'next' && m.payload.data.myOrdersUpdated.version === 1, m);
  c.ws.close(1000);

  const mute = await ready(config.lively, customer.token, { autoPong: false });
  await expectClose('a client that never answers pings', mute, 1001, 'presumed dead');
});

await step('shutdown → 1012', async () => {
  const c = await ready(config.doomed, customer.token);
  c.send({ id: 'mine', type: 'subscribe', payload: { query: 'subscription { myOrdersUpdated { version } }' } });
  await fence(c);
  process.kill(config.doomedPid, 'SIGTERM');
  await expectClose('the gateway shutting down', c, 1012, 'reconnect');
});

finish('graphql-transport-ws protocol');
