// graphql-js's side of the GraphQL benchmark: the same phases, inputs and output as
// gql_bench (see gql_bench.c), with graphql-js 16 from the project's node_modules.
//
//   node bench.js --schema FILE… --query FILE [--root FILE] [--variables FILE]
//        [--operation NAME] --phase parse|validate|execute|all
//        [--samples K] [--min-ms MS] [--iterations N [--warmup W]]
//
// `execute` is execute() with the default resolvers followed by JSON.stringify of the
// result: the response bytes, which is what the C engine produces too.
'use strict';
const fs = require('fs');
const path = require('path');

const repo = path.resolve(__dirname, '..', '..');
const graphql = require(require.resolve('graphql', { paths: [repo] }));
const { buildSchema, parse, validate, execute } = graphql;

function args(argv) {
  const o = { schema: [], samples: 15, minMs: 50, iterations: -1, warmup: 1 };
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i], v = argv[i + 1];
    if (v === undefined) throw new Error(`${k} needs a value`);
    if (k === '--schema') o.schema.push(v);
    else if (k === '--query') o.query = v;
    else if (k === '--root') o.root = v;
    else if (k === '--variables') o.variables = v;
    else if (k === '--operation') o.operation = v;
    else if (k === '--phase') o.phase = v;
    else if (k === '--samples') o.samples = +v;
    else if (k === '--min-ms') o.minMs = +v;
    else if (k === '--iterations') o.iterations = +v;
    else if (k === '--warmup') o.warmup = +v;
    else throw new Error(`unknown option ${k}`);
  }
  return o;
}

function main() {
  const o = args(process.argv);
  const sdl = o.schema.map((f) => fs.readFileSync(f, 'utf8')).join('\n');
  const schema = buildSchema(sdl);
  const text = fs.readFileSync(o.query, 'utf8');
  const doc = parse(text);
  const errors = validate(schema, doc);
  if (errors.length) throw new Error(`validation failed: ${errors[0].message}`);
  const rootValue = o.root ? JSON.parse(fs.readFileSync(o.root, 'utf8')) : undefined;
  const variableValues = o.variables ? JSON.parse(fs.readFileSync(o.variables, 'utf8')) : undefined;
  const run = (document) =>
    JSON.stringify(execute({ schema, document, rootValue, variableValues, operationName: o.operation }));
  const first = run(doc);
  if (!first.startsWith('{"data":{')) throw new Error(`execution has errors: ${first.slice(0, 500)}`);

  let sink = 0;
  const once = {
    parse: () => { sink += parse(text).definitions.length; },
    validate: () => { sink += 1 + validate(schema, doc).length; },
    execute: () => { sink += run(doc).length; },
    all: () => {
      const d = parse(text);
      if (validate(schema, d).length === 0) sink += run(d).length;
    },
  }[o.phase];
  if (!once) throw new Error(`unknown phase ${o.phase}`);

  // with --iterations, --warmup runs first so that the JIT has settled before the
  // measured part (run.py subtracts a run with 0 iterations and the same warm-up)
  for (let i = 0; i < (o.iterations >= 0 ? o.warmup : 1); i++) once();
  if (o.iterations >= 0) {
    for (let i = 0; i < o.iterations; i++) once();
  } else {
    let n = 1;
    for (;;) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) once();
      if (Number(process.hrtime.bigint() - t0) >= o.minMs * 1e6 || n >= 2 ** 30) break;
      n *= 2;
    }
    const per = [];
    for (let k = 0; k < o.samples; k++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) once();
      per.push(Number(process.hrtime.bigint() - t0) / n);
    }
    per.sort((a, b) => a - b);
    console.log(JSON.stringify({
      median_ns: +per[per.length >> 1].toFixed(1), min_ns: +per[0].toFixed(1), iterations: n, samples: o.samples,
    }));
  }
  if (sink === 0) console.error('bench.js: nothing was measured');
}

main();
