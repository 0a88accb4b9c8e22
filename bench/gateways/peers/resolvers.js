// The peers' side of the comparison: the same schema (schema/*.graphql, our directives
// left in place as inert annotations) resolved by hand over the same REST services,
// written the way a good Node engineer writes a REST-backed GraphQL server:
//   - one keep-alive connection pool per service (undici's Pool, the fastest HTTP
//     client Node has; 128 connections like our gateway's GATEWAY_UPSTREAM_CONNECTIONS),
//   - a DataLoader per request for every look-up by key (a product's category and
//     seller), so the N look-ups of a list become one call to the batch endpoint,
//   - the same calls our gateway makes: same paths, same query parameters, same batch
//     endpoints, same Authorization and X-Request-Id forwarding.
// Both Node peers (apollo.js, jit.js) use this module, so they differ only in their
// server and executor.
//
// Resolvers exist for what the scenarios read (the catalog: products, a product, their
// categories and sellers, connections, Money); the rest of the schema is there (same
// validation work) and resolves to the default property look-up.
'use strict';
const fs = require('fs');
const path = require('path');
const { Pool } = require('undici');
const DataLoader = require('dataloader');
const { GraphQLError, buildSchema } = require('graphql');

const ROOT = path.resolve(__dirname, '..', '..', '..');

function loadSchema() {
  const dir = process.env.GATEWAY_SCHEMA_DIR || path.join(ROOT, 'schema');
  const sdl = fs.readdirSync(dir).filter((f) => f.endsWith('.graphql')).sort()
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('\n');
  return buildSchema(sdl);
}

const SERVICES = ['auth', 'product', 'order', 'category', 'coupon'];
const pools = {};
for (const s of SERVICES) {
  const url = process.env[`${s.toUpperCase()}_URL`] || `http://127.0.0.1:${{ auth: 4001, product: 4002, order: 4003, category: 4004, coupon: 4005 }[s]}`;
  pools[s] = new Pool(url, { connections: 128, keepAliveTimeout: 30000 });
}

const CODES = { 400: 'BAD_USER_INPUT', 401: 'UNAUTHENTICATED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 409: 'CONFLICT', 422: 'BAD_USER_INPUT', 429: 'RATE_LIMITED' };

// One call to a service; resolves to the parsed answer, or null for a 404 when
// notFoundNull, and throws a GraphQLError with our gateway's codes otherwise.
async function call(ctx, service, method, urlPath, { body, notFoundNull = false } = {}) {
  const headers = { accept: 'application/json' };
  if (ctx.authorization) headers.authorization = ctx.authorization;
  if (ctx.requestId) headers['x-request-id'] = ctx.requestId;
  let payload;
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await pools[service].request({ method, path: urlPath, headers, body: payload });
  } catch (e) {
    throw new GraphQLError(`The ${service} service is unavailable (${e.code || e.message}).`,
      { extensions: { code: 'UPSTREAM_UNAVAILABLE', service } });
  }
  const status = res.statusCode;
  if (status >= 200 && status < 300) return res.body.json();
  const text = await res.body.text();
  if (status === 404 && notFoundNull) return null;
  let message = `The ${service} service failed (${status}).`;
  if (status < 500) {
    try { message = JSON.parse(text).error.message || message; } catch { /* not JSON */ }
  }
  throw new GraphQLError(message, { extensions: { code: CODES[status] || (status >= 502 ? 'UPSTREAM_UNAVAILABLE' : 'INTERNAL'), service, status } });
}

// Query string from [name, value] pairs: absent values left out, lists repeated.
function qs(pairs) {
  const parts = [];
  for (const [k, v] of pairs) {
    if (v === undefined || v === null) continue;
    for (const x of Array.isArray(v) ? v : [v]) parts.push(`${k}=${encodeURIComponent(String(x))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

const seg = (s) => encodeURIComponent(String(s));

// A DataLoader over a batch endpoint `{items:[…]}` (at most 100 ids per call), matched
// back by id; unknown ids give null.
function batchLoader(ctx, service, urlPath) {
  return new DataLoader(async (ids) => {
    const answer = await call(ctx, service, 'GET', `${urlPath}?ids=${ids.map(seg).join(',')}`);
    const byId = new Map();
    for (const item of answer.items) byId.set(item.id, item);
    return ids.map((id) => byId.get(id) || null);
  }, { maxBatchSize: 100 });
}

// What every request gets: its credentials and its loaders.
function makeContext(headers) {
  const ctx = { authorization: undefined, requestId: undefined };
  const auth = headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) ctx.authorization = auth;
  const rid = headers['x-request-id'];
  if (typeof rid === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(rid)) ctx.requestId = rid;
  ctx.categories = batchLoader(ctx, 'category', '/api/categories/batch');
  ctx.users = batchLoader(ctx, 'auth', '/api/users/batch');
  ctx.products = batchLoader(ctx, 'product', '/api/products/batch');
  return ctx;
}

// Money as our gateway writes it: "$1,299.00" (the seeded catalog is in USD).
const CURRENCIES = { USD: [2, '$'], EUR: [2, '€'], GBP: [2, '£'], JPY: [0, '¥'] };
function formatMoney(amount, currency) {
  const [decimals, symbol] = CURRENCIES[currency] || [2, null];
  const neg = amount < 0;
  const mag = Math.abs(amount);
  const scale = 10 ** decimals;
  const whole = Math.floor(mag / scale).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const frac = decimals ? `.${String(mag % scale).padStart(decimals, '0')}` : '';
  const sign = neg ? '-' : '';
  return symbol ? `${sign}${symbol}${whole}${frac}` : `${sign}${whole}${frac} ${currency}`;
}

const lower = (v) => (v == null ? v : String(v).toLowerCase());

function productListQuery(args, extra = []) {
  const f = args.filter || {};
  return qs([...extra,
    ['sellerId', f.sellerId], ['minPrice', f.minPrice], ['maxPrice', f.maxPrice], ['inStock', f.inStock],
    ['isFeatured', f.isFeatured], ['tag', f.tags], ['isActive', f.isActive],
    ['sort', lower(args.sort)], ['limit', args.first], ['cursor', args.after]]);
}

// A REST page {items, cursors, totalCount, pageInfo} as the Relay connection's parent.
const connection = (page, args) => (page === null ? null : { ...page, after: args.after });

const resolvers = {
  Query: {
    product: (_, { id }, ctx) => call(ctx, 'product', 'GET', `/api/products/${seg(id)}`, { notFoundNull: true }),
    productBySlug: (_, { slug }, ctx) => call(ctx, 'product', 'GET', `/api/products/slug/${seg(slug)}`, { notFoundNull: true }),
    products: async (_, args, ctx) => connection(await call(ctx, 'product', 'GET',
      `/api/products${productListQuery(args, [['categoryId', args.filter && args.filter.categoryId]])}`), args),
    category: (_, { id }, ctx) => call(ctx, 'category', 'GET', `/api/categories/${seg(id)}`, { notFoundNull: true }),
  },
  Product: {
    price: (p) => ({ amount: p.price, currency: p.currency, formatted: formatMoney(p.price, p.currency) }),
    category: (p, _, ctx) => (p.categoryId ? ctx.categories.load(p.categoryId) : null),
    seller: (p, _, ctx) => (p.sellerId ? ctx.users.load(p.sellerId) : null),
  },
  Category: {
    parent: (c, _, ctx) => (c.parentId ? ctx.categories.load(c.parentId) : null),
  },
  ProductConnection: {
    nodes: (c) => c.items,
    edges: (c) => c.items.map((node, i) => ({ cursor: c.cursors[i], node })),
    pageInfo: (c) => ({
      hasNextPage: c.pageInfo.hasNextPage,
      hasPreviousPage: c.after != null,
      startCursor: c.cursors.length ? c.cursors[0] : null,
      endCursor: c.pageInfo.endCursor,
    }),
  },
};

// Attaches the resolvers above to a schema built from the SDL (what graphql-tools'
// makeExecutableSchema does, without the dependency).
function executableSchema() {
  const schema = loadSchema();
  for (const [typeName, fields] of Object.entries(resolvers)) {
    const type = schema.getType(typeName);
    if (!type) throw new Error(`no type ${typeName}`);
    const defs = type.getFields();
    for (const [name, fn] of Object.entries(fields)) {
      if (!defs[name]) throw new Error(`no field ${typeName}.${name}`);
      defs[name].resolve = fn;
    }
  }
  return schema;
}

module.exports = { executableSchema, makeContext, formatMoney };
