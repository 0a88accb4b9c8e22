// A schema reload (SIGHUP) under a live subscription, for test_harden.c: an admin follows
// every order over WebSocket, the gateway reloads a schema with a new field, and the
// same subscription keeps receiving order events; the new field answers.
// Usage: node reload_live.mjs <config.json> (config: url, pid, schemaDir, redisPort, jwt)
import fs from 'node:fs';
import path from 'node:path';
import { check, config, finish, oid, orderEvent, fakeOrder, publish, require, step, token, waitFor, wsUrl } from '../subscriptions/common.mjs';

const WebSocket = require('ws');
const admin = token('64b7f0c2a1b2c3d4e5f60001', 'admin', 600);

const ws = new WebSocket(wsUrl(config.url), 'graphql-transport-ws');
const messages = [];
ws.on('message', (d) => messages.push(JSON.parse(String(d))));
const take = async (what, pred) => {
  let m;
  await waitFor(what, () => { const i = messages.findIndex(pred); if (i >= 0) m = messages.splice(i, 1)[0]; return i >= 0; }, 10000);
  return m;
};
const probe = async () => {
  const r = await fetch(`${config.url}/graphql`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ reloadProbe }' }),
  });
  const b = await r.json();
  return !b.errors;
};

await step('a subscription survives a schema reload', async () => {
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${admin}` } }));
  await take('the ack', (m) => m.type === 'connection_ack');
  ws.send(JSON.stringify({ id: 'all', type: 'subscribe', payload: { query: 'subscription { allOrdersUpdated { version } }' } }));
  // the subscription is in place once a ping sent after it is answered
  ws.send(JSON.stringify({ type: 'ping', payload: { fence: 1 } }));
  await take('the fence', (m) => m.type === 'pong');
  const order = fakeOrder(oid(), '64b7f0c2a1b2c3d4e5f60042', ['64b7f0c2a1b2c3d4e5f60043'], 1);
  await publish([orderEvent(order)]);
  const first = await take('the first event', (m) => m.id === 'all' && m.type === 'next');
  check('the first event arrives', first.payload?.data?.allOrdersUpdated?.version === 1, first);

  check('the new field is unknown before the reload', !(await probe()));
  fs.writeFileSync(path.join(config.schemaDir, 'zz-live.graphql'),
    'extend type Query {\n  "A field added while subscriptions run."\n  reloadProbe: String @http(service: "category", path: "/api/categories/probe", select: "name")\n}\n');
  process.kill(config.pid, 'SIGHUP');
  await waitFor('the reloaded schema', probe, 10000);

  await publish([orderEvent({ ...order, version: 2 })]);
  const second = await take('the event after the reload', (m) => m.id === 'all' && m.type === 'next');
  check('the same subscription receives events after the reload', second.payload?.data?.allOrdersUpdated?.version === 2, second);
  check('and was never ended', !messages.some((m) => m.id === 'all' && (m.type === 'complete' || m.type === 'error')), messages);
});
ws.close();
finish('reload under a live subscription');
