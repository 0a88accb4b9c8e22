#!/usr/bin/env node
// The reference side of the differential tests: graphql-js 16 behind the same
// command line as gqlrun, printing what graphql-js prints for the same inputs.
//
//   node gqlrun-ref.js --schema FILE [--schema FILE …] (--query FILE | --query-string TEXT)
//        [--variables FILE] [--root FILE] [--operation NAME]
//        [--parse-only | --validate-only | --print | --print-schema]
//
// Schema files are parsed separately and their definitions concatenated into one
// document for buildASTSchema, which is what gqlrun's multi-file build means.
// Execution uses graphql-js's defaults (property lookup, __typename). Exit codes
// follow gqlrun's: 0 ran, 1 syntax/validation/request errors, 2 invalid schema.
'use strict';
const fs = require('fs');
const path = require('path');
const graphql = require(path.join(__dirname, '..', '..', '..', 'node_modules', 'graphql'));

// Runs one invocation; returns {code, out} instead of printing (the differential
// runner calls it in-process for speed).
function run(argv, readFile = (f) => fs.readFileSync(f, 'utf8')) {
  let stdout = '';
  const write = (s) => { stdout += s; };
  const code = runInner(argv, readFile, write);
  return { code, out: stdout };
}

function runInner(argv, readFile, write) {
  const schemas = [];
  let queryFile = null, queryString = null, variablesFile = null, rootFile = null, operation = null;
  let mode = 'run';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--schema') schemas.push(argv[++i]);
    else if (a === '--query') queryFile = argv[++i];
    else if (a === '--query-string') queryString = argv[++i];
    else if (a === '--variables') variablesFile = argv[++i];
    else if (a === '--root') rootFile = argv[++i];
    else if (a === '--operation') operation = argv[++i];
    else if (a === '--parse-only') mode = 'parse';
    else if (a === '--validate-only') mode = 'validate';
    else if (a === '--print') mode = 'print';
    else if (a === '--print-schema') mode = 'print-schema';
    else { return 64; }
  }
  const out = (o) => write(JSON.stringify(o) + '\n');
  const errs = (list) => list.map((e) => e.toJSON());

  let schema = null;
  if (mode !== 'parse' && mode !== 'print') {
    try {
      const definitions = [];
      for (const f of schemas) definitions.push(...graphql.parse(new graphql.Source(readFile(f), f)).definitions);
      schema = graphql.buildASTSchema({ kind: 'Document', definitions });
      const problems = graphql.validateSchema(schema);
      if (problems.length) { out({ schemaErrors: errs(problems) }); return 2; }
    } catch (e) {
      out({ schemaErrors: [{ message: e.message }] });
      return 2;
    }
    if (mode === 'print-schema') { write(graphql.printSchema(schema) + '\n'); return 0; }
  }
  const text = queryFile ? readFile(queryFile) : queryString;
  let doc;
  try {
    doc = graphql.parse(text);
  } catch (e) {
    out({ errors: [e.toJSON()] });
    return 1;
  }
  if (mode === 'parse') { out({}); return 0; }
  if (mode === 'print') { write(graphql.print(doc) + '\n'); return 0; }
  const validationErrors = graphql.validate(schema, doc);
  if (validationErrors.length) { out({ errors: errs(validationErrors) }); return 1; }
  if (mode === 'validate') { out({}); return 0; }
  const variableValues = variablesFile ? JSON.parse(readFile(variablesFile)) : undefined;
  const rootValue = rootFile ? JSON.parse(readFile(rootFile)) : undefined;
  const result = graphql.execute({ schema, document: doc, rootValue, variableValues, operationName: operation });
  if (result && typeof result.then === 'function') throw new Error('unexpected asynchronous result');
  write(JSON.stringify(result) + '\n');
  return 'data' in result ? 0 : 1;
}

module.exports = { run };

if (require.main === module) {
  const r = run(process.argv.slice(2));
  process.stdout.write(r.out);
  process.exitCode = r.code;
}
