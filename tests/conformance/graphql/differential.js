#!/usr/bin/env node
// Differential testing of gqlrun against graphql-js 16 (gqlrun-ref.js): every case
// runs through both and the outputs must be byte-identical (data, key order,
// errors with messages, paths and locations) with the same exit status.
//
//   node differential.js GQLRUN [--corpus] [--random N] [--seed S] [--only TEXT]
//
// --corpus      the hand-written corpus in corpus/cases/*.json (default when no
//               --random is given)
// --random N    N documents from the seeded generator (generator.js); the seed is
//               printed, and --seed (or GQL_DIFF_SEED) replays a run
//
// A corpus file is {"schema": [files…], "cases": [{name, query, variables?, root?,
// operation?, mode?, schema?, introspection?}]}; mode is run (default), validate,
// parse, print or print-schema; "query": "@introspection" stands for graphql-js's
// getIntrospectionQuery(introspection options).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const ref = require('./gqlrun-ref.js');
const graphql = require(path.join(__dirname, '..', '..', '..', 'node_modules', 'graphql'));

const args = process.argv.slice(2);
const gqlrun = args[0];
if (!gqlrun) {
  process.stderr.write('usage: differential.js GQLRUN [--corpus] [--random N] [--seed S] [--only TEXT]\n');
  process.exit(64);
}
let useCorpus = false, randomCount = 0, seed = process.env.GQL_DIFF_SEED ? Number(process.env.GQL_DIFF_SEED) : null;
let only = null;
for (let i = 1; i < args.length; i++) {
  if (args[i] === '--corpus') useCorpus = true;
  else if (args[i] === '--random') randomCount = Number(args[++i]);
  else if (args[i] === '--seed') seed = Number(args[++i]);
  else if (args[i] === '--only') only = args[++i];
}
if (!randomCount) useCorpus = true;

const corpusDir = path.join(__dirname, 'corpus');
const schemaDir = path.join(corpusDir, 'schemas');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gql-diff-'));
let counter = 0;

function writeTmp(name, content) {
  const p = path.join(tmp, `${counter}-${name}`);
  fs.writeFileSync(p, content);
  return p;
}

// Builds the command line for one case; returns {argv, label}.
function commandFor(c, schemaFiles) {
  counter++;
  const argv = [];
  for (const s of schemaFiles) argv.push('--schema', s);
  let query = c.query;
  if (query === '@introspection') query = graphql.getIntrospectionQuery(c.introspection || {});
  if (query !== undefined) argv.push('--query', writeTmp('query.graphql', query));
  if (c.variables !== undefined) argv.push('--variables', writeTmp('variables.json', JSON.stringify(c.variables)));
  if (c.root !== undefined) argv.push('--root', writeTmp('root.json', JSON.stringify(c.root)));
  if (c.operation) argv.push('--operation', c.operation);
  const mode = c.mode || 'run';
  if (mode !== 'run') argv.push('--' + (mode === 'parse' ? 'parse-only' : mode === 'validate' ? 'validate-only' : mode));
  return argv;
}

function runBoth(argv) {
  const ours = spawnSync(gqlrun, argv, { encoding: 'utf8', maxBuffer: 64 << 20 });
  let theirs;
  try {
    theirs = ref.run(argv);
  } catch (e) {
    theirs = { code: 'throw', out: String(e && e.stack || e) };
  }
  return { ours: { code: ours.status, out: ours.stdout, err: ours.stderr, signal: ours.signal }, theirs };
}

let passed = 0, failed = 0, skipped = 0;
const failures = [];
const outcomes = { ran: 0, rejected: 0, other: 0 }; // what the compared cases exercised

function check(label, argv, allowTheirThrow) {
  const r = runBoth(argv);
  if (r.theirs.code === 'throw' && allowTheirThrow) {
    skipped++;
    return true;
  }
  if (r.ours.code === r.theirs.code && r.ours.out === r.theirs.out) {
    passed++;
    if (r.ours.code === 0) outcomes.ran++;
    else if (r.ours.code === 1) outcomes.rejected++;
    else outcomes.other++;
    return true;
  }
  failed++;
  failures.push({ label, argv, r });
  return false;
}

if (useCorpus) {
  const files = fs.readdirSync(path.join(corpusDir, 'cases')).filter((f) => f.endsWith('.json')).sort();
  for (const f of files) {
    const suite = JSON.parse(fs.readFileSync(path.join(corpusDir, 'cases', f), 'utf8'));
    for (const c of suite.cases) {
      const label = `${f}: ${c.name}`;
      if (only && !label.includes(only)) continue;
      const schemaFiles = (c.schema || suite.schema).map((s) => path.join(schemaDir, s));
      check(label, commandFor(c, schemaFiles), false);
    }
  }
}

if (randomCount) {
  const gen = require('./generator.js');
  if (seed === null || Number.isNaN(seed)) seed = Math.floor(Math.random() * 0x7fffffff);
  process.stdout.write(`random documents: seed ${seed} (replay with --seed ${seed} or GQL_DIFF_SEED=${seed})\n`);
  const cases = gen.generate(seed, randomCount, schemaDir);
  for (const c of cases) {
    const schemaFiles = c.schema.map((s) => (path.isAbsolute(s) ? s : path.join(schemaDir, s)));
    // graphql-js may throw on some generated inputs (it is not hardened); such a
    // case says nothing about us and is skipped (and counted)
    check(`random ${c.name}`, commandFor(c, schemaFiles), true);
  }
}

for (const x of failures.slice(0, 20)) {
  process.stdout.write(`\nFAIL ${x.label}\n  gqlrun ${x.argv.join(' ')}\n`);
  process.stdout.write(`  ours   (exit ${x.r.ours.code}${x.r.ours.signal ? ', ' + x.r.ours.signal : ''}): ${x.r.ours.out.slice(0, 3000)}${x.r.ours.err ? '\n  stderr: ' + x.r.ours.err.slice(0, 2000) : ''}\n`);
  process.stdout.write(`  theirs (exit ${x.r.theirs.code}): ${x.r.theirs.out.slice(0, 3000)}\n`);
}
if (failures.length > 20) process.stdout.write(`\n… and ${failures.length - 20} more failures\n`);
process.stdout.write(`differential: ${passed} identical (${outcomes.ran} ran or printed, ${outcomes.rejected} rejected with errors), ${failed} different, ${skipped} skipped (graphql-js threw)\n`);
if (!failures.length) fs.rmSync(tmp, { recursive: true, force: true });
process.exitCode = failed ? 1 : 0;
