// The gateway's limits over WebSocket (graphql-transport-ws), for test_harden.c: a
// document over a limit is one `error` naming the limit; operations beyond the client's
// rate limit are an `error` with RATE_LIMITED; /metrics counts the open WebSocket.
// Usage: node ws_limits.mjs http://127.0.0.1:PORT <operations allowed>
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const require = createRequire(path.join(root, 'package.json'));
const WebSocket = require('ws');

const base = process.argv[2];
const allowed = Number(process.argv[3]);
const problems = [];
const check = (name, ok, detail) => { if (!ok) problems.push(`FAILED ${name}: ${JSON.stringify(detail)}`); };

const ws = new WebSocket(base.replace(/^http/, 'ws') + '/graphql', 'graphql-transport-ws');
const messages = [];
const waiters = [];
ws.on('message', (data) => {
  messages.push(JSON.parse(String(data)));
  for (const w of waiters.splice(0)) w();
});
const next = (pred) => new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('no such message within 5 s')), 5000);
  const look = () => {
    const i = messages.findIndex(pred);
    if (i >= 0) { clearTimeout(timer); resolve(messages.splice(i, 1)[0]); } else waiters.push(look);
  };
  look();
});

try {
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  ws.send(JSON.stringify({ type: 'connection_init' }));
  await next((m) => m.type === 'connection_ack');

  const metrics = await (await fetch(base + '/metrics')).text();
  check('the open WebSocket is counted', /^gateway_websocket_connections 1$/m.test(metrics), metrics.match(/^gateway_websocket.*$/m));

  // an alias bomb: refused, the limit named (it charges nothing)
  const bomb = '{ ' + Array.from({ length: 40 }, (_, i) => `a${i}: __typename`).join(' ') + ' }';
  ws.send(JSON.stringify({ id: 'bomb', type: 'subscribe', payload: { query: bomb } }));
  const e = await next((m) => m.id === 'bomb');
  check('the bomb is an error', e.type === 'error', e);
  check('naming the alias limit', e.payload?.[0]?.extensions?.limit === 'aliases', e);

  // the client's operations: `allowed` run, the next is refused
  for (let i = 0; i <= allowed; i++) {
    ws.send(JSON.stringify({ id: `q${i}`, type: 'subscribe', payload: { query: '{ __typename }' } }));
    const m = await next((x) => x.id === `q${i}`);
    if (i < allowed) {
      check(`operation ${i} runs`, m.type === 'next' && m.payload?.data?.__typename === 'Query', m);
      await next((x) => x.id === `q${i}` && x.type === 'complete');
    } else {
      check('the next one is refused', m.type === 'error', m);
      check('as RATE_LIMITED', m.payload?.[0]?.extensions?.code === 'RATE_LIMITED', m);
      check('saying when to retry', /retry in \d+ s/.test(m.payload?.[0]?.message ?? ''), m);
    }
  }
  const after = await (await fetch(base + '/metrics')).text();
  check('the refusal is counted', /^gateway_rate_limited_total\{limit="requests"\} 1$/m.test(after),
    after.match(/^gateway_rate_limited_total.*$/gm));
} catch (err) {
  problems.push(`FAILED: ${err.stack}`);
}
ws.close();
for (const p of problems) console.log(p);
console.log(`ws limits: ${problems.length ? 'FAILED' : 'ok'}`);
process.exit(problems.length ? 1 : 0);
