// Introspection of the running gateway, rebuilt with graphql-js buildClientSchema,
// must print exactly as the stitched SDL files built with graphql-js (the files in
// name order, as the gateway loads them). Also validates the playground's example
// operations against that schema.
// Usage: node introspection.mjs http://127.0.0.1:PORT/graphql <schema dir> <examples.graphql>
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const require = createRequire(path.join(root, 'package.json'));
const { buildASTSchema, buildClientSchema, getIntrospectionQuery, parse, printSchema, validate } = require('graphql');

const [url, dir, examples] = process.argv.slice(2);
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.graphql')).sort();
const sdl = files.map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('\n');
const stitched = buildASTSchema(parse(sdl));

const query = getIntrospectionQuery({
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
});
const res = await fetch(url, {
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
  body: JSON.stringify({ query }),
});
const body = await res.json();
if (res.status !== 200 || body.errors) {
  console.log('introspection failed', res.status, JSON.stringify(body.errors));
  process.exit(1);
}
const fromGateway = printSchema(buildClientSchema(body.data));
const expected = printSchema(stitched);
if (fromGateway !== expected) {
  const a = fromGateway.split('\n');
  const b = expected.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      console.log(`first difference at line ${i + 1}:\n  gateway:  ${a[i]}\n  stitched: ${b[i]}`);
      break;
    }
  }
  process.exit(1);
}
console.log(`introspection equals the stitched SDL (${files.length} files, ${expected.split('\n').length} lines printed)`);

const doc = parse(fs.readFileSync(examples, 'utf8'));
const errors = validate(stitched, doc);
if (errors.length) {
  for (const e of errors) console.log('examples.graphql:', e.message);
  process.exit(1);
}
console.log(`the playground's ${doc.definitions.length} example operations validate`);
