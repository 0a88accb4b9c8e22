// The GraphQL-over-HTTP audit of graphql-http (auditServer: 61 audits) against a
// running gateway. Prints every audit that is not ok; exits 0 only when all are ok.
// Usage: node audit.mjs http://127.0.0.1:PORT/graphql
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const require = createRequire(path.join(root, 'package.json'));
const { auditServer } = require('graphql-http');

const url = process.argv[2];
// The gateway refuses GET requests a browser could send cross-site without a preflight
// (CSRF prevention, docs/gateway.md); real clients mark theirs with a header, and so
// does the audit's fetch. Nothing else of the requests changes.
const fetchFn = (input, init = {}) => {
  if ((init.method || 'GET').toUpperCase() !== 'GET') return fetch(input, init);
  const headers = new Headers(init.headers);
  headers.set('apollo-require-preflight', 'true');
  return fetch(input, { ...init, headers });
};
const results = await auditServer({ url, fetchFn });
let ok = 0;
for (const r of results) {
  if (r.status === 'ok') ok++;
  else console.log(`${r.status.toUpperCase()} ${r.id} ${r.name}: ${r.reason}`);
}
console.log(`graphql-http audit: ${ok}/${results.length} ok`);
process.exit(ok === results.length && results.length === 61 ? 0 : 1);
