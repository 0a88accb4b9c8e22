// Seeded generator of random GraphQL test cases for the differential runner.
//
// For a schema of the corpus it builds operations from the schema's own types —
// fields with arguments (literals and variables), aliases, inline fragments on
// abstract types, named fragments, @skip/@include, nested lists — plus a random
// root value shaped by the selections (with nulls, wrong types and unknown
// __typenames mixed in) and random variable values. A share of the documents is
// then broken on purpose (unknown fields, wrong argument types, missing arguments,
// conflicting aliases, bad spreads, undefined or unused variables, syntax damage) so
// validation and syntax errors are compared too.
//
// Everything derives from one seed: the same seed gives the same cases.
'use strict';
const path = require('path');
const fs = require('fs');
const graphql = require(path.join(__dirname, '..', '..', '..', 'node_modules', 'graphql'));

function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    pick: (arr) => arr[Math.floor(next() * arr.length)],
  };
}

const SCHEMAS = [
  ['starwars.graphql'],
  ['values.graphql'],
  ['nulls.graphql'],
  ['shop/products.graphql', 'shop/categories.graphql', 'shop/orders.graphql'],
];

const STRINGS = ['', 'a', 'hello', 'é😀', 'quote " and \\ slash', 'tab\tnl\n', '1', 'RED', 'true', 'null'];

function loadSchema(schemaDir, files) {
  const definitions = [];
  for (const f of files) definitions.push(...graphql.parse(fs.readFileSync(path.join(schemaDir, f), 'utf8')).definitions);
  return graphql.buildASTSchema({ kind: 'Document', definitions });
}

function generate(seed, count, schemaDir) {
  const r = rng(seed);
  const schemas = SCHEMAS.map((files) => ({ files, schema: loadSchema(schemaDir, files) }));
  const cases = [];
  for (let i = 0; i < count; i++) {
    const s = r.pick(schemas);
    cases.push(makeCase(r, s, `#${i} (seed ${seed})`));
  }
  return cases;
}

// ---- literals and JSON values for input types ---------------------------------------

function literalFor(r, type, depth, ctx) {
  if (graphql.isNonNullType(type)) return literalFor(r, type.ofType, depth, ctx);
  if (r.chance(0.08)) return 'null';
  if (graphql.isListType(type)) {
    if (r.chance(0.3)) return literalFor(r, type.ofType, depth + 1, ctx);
    const n = r.int(3);
    const items = [];
    for (let i = 0; i < n; i++) items.push(literalFor(r, type.ofType, depth + 1, ctx));
    return `[${items.join(', ')}]`;
  }
  if (graphql.isInputObjectType(type)) {
    if (depth > 3) return 'null';
    const parts = [];
    for (const f of Object.values(type.getFields())) {
      if (graphql.isNonNullType(f.type) && f.defaultValue === undefined ? true : r.chance(0.5)) {
        parts.push(`${f.name}: ${literalFor(r, f.type, depth + 1, ctx)}`);
        if (type.isOneOf) break;
      }
    }
    return `{${parts.join(', ')}}`;
  }
  if (graphql.isEnumType(type)) return r.pick(type.getValues()).name;
  switch (type.name) {
    case 'Int': return String(r.int(2000) - 1000);
    case 'Float': return r.pick(['1.5', '0', '-2.25', '1e3', '3']);
    case 'Boolean': return r.pick(['true', 'false']);
    case 'ID': return r.chance(0.5) ? String(r.int(100)) : JSON.stringify(r.pick(STRINGS));
    case 'String': return JSON.stringify(r.pick(STRINGS));
    default: return r.pick(['1', '"x"', '{a: [1, "b"]}', 'true']);
  }
}

function jsonFor(r, type, depth) {
  if (graphql.isNonNullType(type)) return jsonFor(r, type.ofType, depth);
  if (r.chance(0.1)) return null;
  if (r.chance(0.05)) return r.pick([1, 'x', true, [1], { a: 1 }, 2.5]); // wrong on purpose
  if (graphql.isListType(type)) {
    if (r.chance(0.2)) return jsonFor(r, type.ofType, depth + 1);
    const n = r.int(3);
    const a = [];
    for (let i = 0; i < n; i++) a.push(jsonFor(r, type.ofType, depth + 1));
    return a;
  }
  if (graphql.isInputObjectType(type)) {
    if (depth > 3) return null;
    const o = {};
    for (const f of Object.values(type.getFields())) if (r.chance(0.6)) o[f.name] = jsonFor(r, f.type, depth + 1);
    return o;
  }
  if (graphql.isEnumType(type)) return r.chance(0.9) ? r.pick(type.getValues()).name : 'nope';
  switch (type.name) {
    case 'Int': return r.int(2000) - 1000;
    case 'Float': return r.pick([1.5, 0, -2.25, 1000, 3]);
    case 'Boolean': return r.chance(0.5);
    case 'ID': return r.chance(0.5) ? r.int(100) : r.pick(STRINGS);
    case 'String': return r.pick(STRINGS);
    default: return r.pick([1, 'x', { a: [1, 'b'] }, true]);
  }
}

// ---- selections and the root value ------------------------------------------------------

function selectionFor(r, schema, type, depth, ctx) {
  const named = graphql.getNamedType(type);
  if (graphql.isLeafType(named)) return '';
  if (depth > 4) return '{ __typename }';
  const parts = [];
  if (graphql.isAbstractType(named)) {
    if (r.chance(0.5)) parts.push('__typename');
    for (const pt of schema.getPossibleTypes(named)) {
      if (r.chance(0.6)) parts.push(`... on ${pt.name} ${selectionFor(r, schema, pt, depth + 1, ctx)}`);
    }
    if (graphql.isInterfaceType(named)) {
      const fields = Object.values(named.getFields());
      for (let i = 0; i < 1 + r.int(2); i++) parts.push(fieldFor(r, schema, r.pick(fields), depth, ctx));
    }
    if (!parts.length) parts.push('__typename');
    return `{ ${parts.join(' ')} }`;
  }
  const fields = Object.values(named.getFields());
  const n = 1 + r.int(Math.min(4, fields.length));
  for (let i = 0; i < n; i++) parts.push(fieldFor(r, schema, r.pick(fields), depth, ctx));
  if (r.chance(0.15)) {
    const fname = `F${ctx.fragments.length}`;
    ctx.fragments.push(`fragment ${fname} on ${named.name} { ${fieldFor(r, schema, r.pick(fields), depth + 1, ctx)} }`);
    parts.push(`...${fname}`);
  }
  if (r.chance(0.1)) parts.push('__typename');
  return `{ ${parts.join(' ')} }`;
}

function fieldFor(r, schema, field, depth, ctx) {
  let s = '';
  if (r.chance(0.2)) s += `a${r.int(4)}: `; // aliases may collide: overlap rules get exercised
  s += field.name;
  const args = [];
  for (const a of field.args) {
    const required = graphql.isNonNullType(a.type) && a.defaultValue === undefined;
    if (!required && !r.chance(0.4)) continue;
    if (r.chance(0.3)) {
      const v = `v${ctx.vars.length}`;
      ctx.vars.push({ name: v, type: String(a.type) });
      args.push(`${a.name}: $${v}`);
    } else {
      args.push(`${a.name}: ${literalFor(r, a.type, 0, ctx)}`);
    }
  }
  if (args.length) s += `(${args.join(', ')})`;
  if (r.chance(0.1)) s += r.pick([' @skip(if: false)', ' @include(if: true)', ' @skip(if: true)', ' @include(if: false)']);
  s += ' ' + selectionFor(r, schema, field.type, depth + 1, ctx);
  return s;
}

// A root value that follows the document's selections (through fragments).
function rootFor(r, schema, doc, opType) {
  const fragments = {};
  for (const d of doc.definitions) if (d.kind === 'FragmentDefinition') fragments[d.name.value] = d;
  function valueFor(type, selectionSet, depth) {
    if (graphql.isNonNullType(type)) return r.chance(0.05) ? null : valueFor(type.ofType, selectionSet, depth);
    if (r.chance(0.08)) return null;
    if (r.chance(0.03)) return r.pick([1, 'x', true, [], {}]);
    if (graphql.isListType(type)) {
      const n = r.int(4);
      const a = [];
      for (let i = 0; i < n; i++) a.push(valueFor(type.ofType, selectionSet, depth + 1));
      return a;
    }
    if (graphql.isLeafType(type)) return jsonFor(r, type, 0);
    let concrete = type;
    const o = {};
    if (graphql.isAbstractType(type)) {
      const possible = schema.getPossibleTypes(type);
      concrete = r.pick(possible);
      o.__typename = r.chance(0.95) ? concrete.name : r.pick(['Nope', 'Query', 5]);
    }
    if (depth > 8 || !selectionSet) return o;
    fill(concrete, selectionSet, o, depth, new Set());
    return o;
  }
  function fill(type, selectionSet, o, depth, seen) {
    for (const sel of selectionSet.selections) {
      if (sel.kind === 'Field') {
        const f = type.getFields && type.getFields()[sel.name.value];
        if (!f) continue;
        o[sel.name.value] = valueFor(f.type, sel.selectionSet, depth + 1);
      } else if (sel.kind === 'InlineFragment') {
        const tc = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : type;
        if (tc === type || (tc && graphql.isAbstractType(tc))) fill(type, sel.selectionSet, o, depth, seen);
      } else if (sel.kind === 'FragmentSpread' && !seen.has(sel.name.value)) {
        const fr = fragments[sel.name.value];
        if (fr) {
          seen.add(sel.name.value);
          fill(type, fr.selectionSet, o, depth, seen);
        }
      }
    }
  }
  const op = doc.definitions.find((d) => d.kind === 'OperationDefinition');
  const root = {};
  fill(opType, op.selectionSet, root, 0, new Set());
  return root;
}

// ---- breaking documents -------------------------------------------------------------------

const BREAKS = [
  (r, q) => q.replace(/\{ (\w+)/, '{ $1Nope'),
  (r, q) => q.replace(/\(([^)]*)\)/, '($1, unknownArg: 1)'),
  (r, q) => q.replace(/\((\w+): [^,)]+/, '($1: {wrong: [true]}'),
  (r, q) => q.replace(/\(\w+: [^,)]+\)/, ''),
  (r, q) => q.replace(/\{ /, '{ dup: __typename dup: __schema { __typename } '),
  (r, q) => q + ' fragment Unused on Query { __typename }',
  (r, q) => q.replace(/\{/, '{ ... on __Type { name } '),
  (r, q) => q.replace(/\$v(\d+)/, '$undefinedVar'),
  (r, q) => q.replace(/^(query|mutation|subscription)?\s*(\(([^)]*)\))?/, (m, op, p, inner) => `${op || 'query'} ($unused: Int${inner ? ', ' + inner : ''})`),
  (r, q) => q.replace(/@(skip|include)\(if: (true|false)\)/, '@$1(if: 1)'),
  (r, q) => q.replace(/\{ /, '{ __typename @deprecated '),
  (r, q) => q + ' { __typename }',
  (r, q) => { const i = r.int(q.length); return q.slice(0, i) + q.slice(i + 1); }, // syntax damage
  (r, q) => { const i = r.int(q.length); return q.slice(0, i) + r.pick(['{', '}', '(', ')', ':', '$', '@', '"', '...', '!', '=', '1.', '#']) + q.slice(i); },
];

function makeCase(r, s, name) {
  const { schema, files } = s;
  const ops = [['query', schema.getQueryType()]];
  if (schema.getMutationType()) ops.push(['mutation', schema.getMutationType()]);
  if (schema.getSubscriptionType()) ops.push(['subscription', schema.getSubscriptionType()]);
  const [opName, opType] = r.chance(0.8) ? ops[0] : r.pick(ops);
  const ctx = { vars: [], fragments: [] };
  let selection;
  if (opName === 'subscription') {
    const f = r.pick(Object.values(opType.getFields()));
    selection = `{ ${fieldFor(r, schema, f, 0, ctx)} }`;
  } else {
    selection = selectionFor(r, schema, opType, 0, ctx);
  }
  const varDefs = ctx.vars.map((v) => `$${v.name}: ${v.type}`);
  let query = `${opName}${varDefs.length ? ` (${varDefs.join(', ')})` : ''} ${selection}`;
  if (ctx.fragments.length) query += '\n' + ctx.fragments.join('\n');
  const variables = {};
  for (const v of ctx.vars) {
    if (r.chance(0.1)) continue; // absent
    variables[v.name] = jsonFor(r, graphql.typeFromAST(schema, graphql.parseType(v.type)), 0);
  }
  let root;
  try {
    root = rootFor(r, schema, graphql.parse(query), opType);
  } catch (e) {
    root = {};
  }
  const broken = r.chance(0.3);
  if (broken) query = r.pick(BREAKS)(r, query);
  return { name, schema: files, query, variables, root, mode: broken && r.chance(0.5) ? 'validate' : 'run' };
}

module.exports = { generate };
