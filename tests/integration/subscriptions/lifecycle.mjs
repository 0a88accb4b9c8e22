// Follows an order through its lifecycle with the npm graphql-ws client (a real client),
// on two gateway processes behind one Redis, while an admin changes it through the
// gateway's mutations. Every subscriber must see each change once and in order, with
// the nested fields (each line's product) fetched from the services; another customer
// must see nothing; each seller only their lines; duplicate and late events must not
// reach anyone.
//
// Usage: node lifecycle.mjs <config.json> lifecycle|after-redis-restart
import { check, config, finish, gql, orderEvent, publish, require, step, waitFor, wsUrl } from './common.mjs';

const { createClient } = require('graphql-ws');
const WebSocket = require('ws');

const [gw1, gw2] = config.gateways;
const { customer, customer2, seller1, seller2, admin } = config.users;
const { p1, p2 } = config.products;
const phase = process.argv[3];

const FIELDS = `change version at order {
  id status paymentStatus view sellerIds
  subtotal { amount } shipping { amount } total { amount }
  lines { productId sellerId quantity subtotal { amount } product { name } }
}`;
const MY_ORDERS = `subscription { myOrdersUpdated { ${FIELDS} } }`;
const SELLER = `subscription { sellerOrdersUpdated { ${FIELDS} } }`;
const ALL = `subscription { allOrdersUpdated { ${FIELDS} } }`;
const ONE = `subscription($id: ID!) { orderUpdated(id: $id) { ${FIELDS} } }`;

const clients = [];

function client(gateway, user) {
  const c = createClient({
    url: wsUrl(gateway),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${user.token}` },
    retryAttempts: 0,
    lazy: false,
  });
  clients.push(c);
  return c;
}

// A subscription whose events, errors and completion are recorded.
function follow(c, query, variables) {
  const s = { events: [], errors: [], completed: false };
  s.dispose = c.subscribe({ query, variables }, {
    next: (v) => s.events.push(v),
    error: (e) => s.errors.push(e),
    complete: () => { s.completed = true; },
  });
  return s;
}

// Resolves once the server answered a query sent after everything before it on this
// connection: the subscriptions sent earlier are registered by then.
function fence(c) {
  return new Promise((resolve, reject) => {
    c.subscribe({ query: '{ __typename }' }, { next() {}, error: reject, complete: resolve });
  });
}

function updates(s, orderId) {
  return s.events
    .map((e) => (e.data ? Object.values(e.data)[0] : null))
    .filter((u) => u && u.order && u.order.id === orderId);
}

const versions = (s, id) => updates(s, id).map((u) => u.version);
const hasVersion = (s, id, v) => () => versions(s, id).includes(v);

function noErrors(name, s) {
  const bad = s.events.filter((e) => e.errors);
  check(`${name}: no GraphQL errors in its events`, bad.length === 0 && s.errors.length === 0,
    { events: bad.slice(0, 2), errors: s.errors.map(String) });
}

const ADDRESS = { name: 'Carla Customer', line1: '1 Market St', city: 'Springfield', postalCode: '12345', country: 'US' };

async function checkout(gateway, user, items) {
  const d = await gql(gateway, user.token,
    'mutation($in: CheckoutInput!) { checkout(input: $in) { id version status } }',
    { in: { items, shippingAddress: ADDRESS } });
  return d.checkout;
}

async function lifecycle() {
  // subscribers, spread over both gateways
  const aMine = follow(client(gw1, customer), MY_ORDERS);
  const s1 = follow(client(gw2, seller1), SELLER);
  const s2 = follow(client(gw1, seller2), SELLER);
  const all = follow(client(gw2, admin), ALL);
  const bMine = follow(client(gw2, customer2), MY_ORDERS);
  await Promise.all(clients.map(fence));

  // the customer places an order with lines of both sellers
  const placed = await checkout(gw1, customer, [{ productId: p1, quantity: 1 }, { productId: p2, quantity: 2 }]);
  check('checkout: a pending order at version 1', placed.status === 'PENDING' && placed.version === 1, placed);
  const id = placed.id;

  // following the order itself: its customer, and another customer who knows its id
  const aClient = client(gw2, customer);
  const bClient = client(gw1, customer2);
  const aOne = follow(aClient, ONE, { id });
  const bOne = follow(bClient, ONE, { id });
  await Promise.all([fence(aClient), fence(bClient)]);

  // an admin moves it through its lifecycle with the gateway's mutations
  const steps = [
    ['CONFIRMED', 'mutation($id: ID!) { confirmOrder(id: $id) { version } }'],
    ['PROCESSING', 'mutation($id: ID!) { startProcessingOrder(id: $id) { version } }'],
    ['SHIPPED', 'mutation($id: ID!) { shipOrder(id: $id, carrier: "UPS", trackingNumber: "1Z999") { version } }'],
    ['DELIVERED', 'mutation($id: ID!) { markOrderDelivered(id: $id) { version } }'],
    ['PAID', 'mutation($id: ID!) { setPaymentStatus(id: $id, status: PAID) { version } }'],
  ];
  for (const [what, m] of steps) {
    const d = await gql(gw1, admin.token, m, { id });
    check(`${what}: the mutation answered`, Object.values(d)[0] && Object.values(d)[0].version > 1, d);
  }
  for (const [name, s] of [['customer (my orders)', aMine], ['customer (this order)', aOne], ['seller 1', s1],
    ['seller 2', s2], ['admin', all]]) {
    await waitFor(`${name} to see version 6`, hasVersion(s, id, 6));
  }

  const one = [1, 2, 3, 4, 5, 6];
  check('customer: every change once, in order (my orders)', JSON.stringify(versions(aMine, id)) === JSON.stringify(one), versions(aMine, id));
  check('customer: every change once, in order (this order, from version 2)',
    JSON.stringify(versions(aOne, id)) === JSON.stringify([2, 3, 4, 5, 6]), versions(aOne, id));
  const mine = updates(aMine, id);
  check('customer: the changes', JSON.stringify(mine.map((u) => u.change)) ===
    JSON.stringify(['CREATED', 'UPDATED', 'UPDATED', 'UPDATED', 'UPDATED', 'UPDATED']), mine.map((u) => u.change));
  check('customer: the statuses', JSON.stringify(mine.map((u) => u.order.status)) ===
    JSON.stringify(['PENDING', 'CONFIRMED', 'PROCESSING', 'SHIPPED', 'DELIVERED', 'DELIVERED']), mine.map((u) => u.order.status));
  check('customer: paid at the end', mine[5] && mine[5].order.paymentStatus === 'PAID', mine[5]);
  check('customer: the whole order, with each line\'s product fetched from the product service',
    mine.every((u) => u.order.view === 'FULL' && u.order.lines.length === 2 &&
      u.order.lines.map((l) => l.product && l.product.name).sort().join() === 'Tracked Cable,Tracked Headphones'),
    mine[0] && mine[0].order);
  check('customer: `at` is a date', mine.every((u) => !Number.isNaN(Date.parse(u.at))), mine.map((u) => u.at));

  for (const [name, s, seller, product] of [['seller 1', s1, seller1, p1], ['seller 2', s2, seller2, p2]]) {
    check(`${name}: every change once, in order, the new order included`,
      JSON.stringify(versions(s, id)) === JSON.stringify(one), versions(s, id));
    const u = updates(s, id);
    check(`${name}: only their line, their totals, nothing of the whole order`,
      u.every((x) => x.order.view === 'SELLER' && x.order.lines.length === 1 && x.order.lines[0].productId === product &&
        x.order.lines[0].sellerId === seller.id && x.order.sellerIds.length === 1 && x.order.sellerIds[0] === seller.id &&
        x.order.shipping === null && x.order.subtotal.amount === x.order.lines[0].subtotal.amount &&
        x.order.lines[0].product.name.startsWith('Tracked')),
    u[0] && u[0].order);
    noErrors(name, s);
  }
  check('admin: every change once, in order', JSON.stringify(versions(all, id)) === JSON.stringify(one), versions(all, id));
  check('admin: the whole order', updates(all, id).every((u) => u.order.view === 'FULL' && u.order.lines.length === 2));

  // the other customer: nothing, not even an error (which would tell the order exists)
  await Promise.all([fence(clients[4]), fence(bClient)]);
  check('another customer following the order id gets nothing', bOne.events.length === 0 && bOne.errors.length === 0,
    { events: bOne.events, errors: bOne.errors.map(String) });
  check('another customer\'s own orders: nothing', bMine.events.length === 0, bMine.events);
  for (const [name, s] of [['customer', aMine], ['customer (this order)', aOne], ['admin', all]]) noErrors(name, s);

  // the customer completes the subscription to this order: it stops, the others go on
  aOne.dispose();
  await fence(aClient);

  // a duplicate of the last event and a late old one (the order service publishes at
  // least once): dropped, so the next change follows version 6 directly
  const r = await fetch(`${config.orderUrl}/api/orders/${id}`, { headers: { authorization: `Bearer ${admin.token}` } });
  const current = await r.json();
  check('the order service has version 6', current.version === 6, current.version);
  delete current.view;
  await publish([orderEvent(current), orderEvent({ ...current, version: 3, status: 'processing' })]);
  await gql(gw2, admin.token, 'mutation($id: ID!) { setPaymentStatus(id: $id, status: REFUNDED) { version } }', { id });
  await waitFor('the admin to see version 7', hasVersion(all, id, 7));
  await waitFor('the customer to see version 7', hasVersion(aMine, id, 7));
  check('duplicate and late events are not delivered (admin)',
    JSON.stringify(versions(all, id)) === JSON.stringify([1, 2, 3, 4, 5, 6, 7]), versions(all, id));
  check('duplicate and late events are not delivered (customer)',
    JSON.stringify(versions(aMine, id)) === JSON.stringify([1, 2, 3, 4, 5, 6, 7]), versions(aMine, id));
  await fence(aClient);
  check('a completed subscription receives nothing more',
    JSON.stringify(versions(aOne, id)) === JSON.stringify([2, 3, 4, 5, 6]), versions(aOne, id));
}

async function afterRedisRestart() {
  const a1 = follow(client(gw1, admin), ALL);
  const a2 = follow(client(gw2, admin), ALL);
  const mine = follow(client(gw2, customer), MY_ORDERS);
  await Promise.all(clients.map(fence));
  const placed = await checkout(gw2, customer, [{ productId: p2, quantity: 1 }]);
  for (const [name, s] of [['gateway 1 (admin)', a1], ['gateway 2 (admin)', a2], ['gateway 2 (customer)', mine]]) {
    await waitFor(`${name} to see the new order after Redis restarted`, hasVersion(s, placed.id, 1));
    check(`${name}: delivers again after Redis restarted`, JSON.stringify(versions(s, placed.id)) === '[1]', versions(s, placed.id));
  }
}

await step(phase, phase === 'lifecycle' ? lifecycle : afterRedisRestart);
for (const c of clients) await c.dispose();
finish(`subscriptions ${phase}`);
