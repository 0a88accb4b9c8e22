// graphql-jit over the services (resolvers.js): the fastest Node executor, on the
// smallest server that is still correct — Node's http module, the parsed, validated and
// compiled query cached by its text (what mercurius does with jit), the answer written
// with JSON.stringify. graphql-jit's own serializer (customJSONSerializer, built on
// fast-json-stringify) is not used: it refuses the schema's custom scalars (Long,
// DateTime) with "Got unexpected PRIMITIVES type". One process, one event loop.
//
//   PORT=4011 node jit.js
'use strict';
const http = require('http');
const { parse, validate, specifiedRules, GraphQLError } = require('graphql');
const { compileQuery, isCompiledQuery } = require('graphql-jit');
const { executableSchema, makeContext } = require('./resolvers');

const schema = executableSchema();
const MAX_CACHE = 1000;
const MAX_BODY = 1 << 20;
const cache = new Map(); // query text + operation name -> compiled query or errors (LRU by re-insertion)

function compiled(query, operationName) {
  const key = `${operationName || ''}\n${query}`;
  let c = cache.get(key);
  if (c !== undefined) {
    cache.delete(key);
    cache.set(key, c);
    return c;
  }
  let document;
  try {
    document = parse(query);
  } catch (e) {
    return { errors: [e] }; // syntax errors are not cached (cheap to find again, unbounded variety)
  }
  const errors = validate(schema, document, specifiedRules);
  c = errors.length ? { errors } : compileQuery(schema, document, operationName || undefined);
  if (!isCompiledQuery(c) && !c.errors) c = { errors: [new GraphQLError('could not compile the query')] };
  cache.set(key, c);
  if (cache.size > MAX_CACHE) cache.delete(cache.keys().next().value);
  return c;
}

function send(res, status, text) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  if (req.url !== '/graphql' && !req.url.startsWith('/graphql?')) return send(res, 404, '{"error":"not found"}');
  if (req.method !== 'POST') return send(res, 405, '{"errors":[{"message":"POST only"}]}');
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(c);
  });
  req.on('end', async () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return send(res, 400, '{"errors":[{"message":"the body is not JSON"}]}');
    }
    if (body === null || typeof body !== 'object' || typeof body.query !== 'string') {
      return send(res, 400, '{"errors":[{"message":"query must be a string"}]}');
    }
    const c = compiled(body.query, body.operationName);
    if (c.errors) return send(res, 400, JSON.stringify({ errors: c.errors.map((e) => e.toJSON()) }));
    try {
      const result = await c.query(undefined, makeContext(req.headers), body.variables || {});
      send(res, 200, JSON.stringify(result));
    } catch (e) {
      send(res, 500, JSON.stringify({ errors: [{ message: String(e && e.message) }] }));
    }
  });
});
server.keepAliveTimeout = 65000;
const port = Number(process.env.PORT || 4011);
server.listen(port, '127.0.0.1', () => console.log(`jit: http://127.0.0.1:${port}/graphql`));
