// Runs a subscription in the gateway's GraphiQL playground in headless Chromium (its
// graphql-ws client, on the same URL as the page) and sees the updates arrive while the
// order is placed and confirmed through the gateway; saves a screenshot.
//
// Usage: node playground.mjs <config.json> <screenshot.png>
import { check, config, finish, gql, require, step, waitFor } from './common.mjs';

const { chromium } = require('playwright-core');
const shot = process.argv[3];
const gw = config.gateways[0];
const origin = new URL(gw).origin;
const { customer, admin } = config.users;

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const problems = [];
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
page.on('request', (r) => {
  const u = new URL(r.url());
  if (u.origin !== origin && !['data:', 'blob:'].includes(u.protocol)) problems.push(`left the origin: ${r.url()}`);
});
const sockets = [];
page.on('websocket', (ws) => sockets.push(ws.url()));

const result = () => page.evaluate(() => document.querySelector('.result-window')?.innerText || '');
const resultHas = (text) => page.waitForFunction(
  (t) => (document.querySelector('.result-window')?.innerText || '').includes(t), text, { timeout: 20000 });

await step('a subscription in the playground', async () => {
  await page.goto(`${gw}/graphql`, { waitUntil: 'networkidle' });
  await page.waitForSelector('.graphiql-container .graphiql-query-editor .CodeMirror', { timeout: 20000 });
  await page.fill('#mercato-token', admin.token);
  await page.click('#mercato-token-form button[type=submit]');
  await page.click('.graphiql-query-editor .CodeMirror');
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  // typed as a user types it (the editor closes the braces itself)
  await page.keyboard.type('subscription Live { allOrdersUpdated { change version order { id status total { formatted');
  await page.waitForFunction(() => [...document.querySelectorAll('.graphiql-tab')].some((t) => t.innerText.includes('Live')),
    null, { timeout: 10000 });
  await page.keyboard.press('Escape');
  await page.click('.graphiql-execute-button');
  // the gateway counts the subscription once it runs (/ready)
  await waitFor('the playground\'s subscription to reach the gateway', async () => {
    const r = await (await fetch(`${gw}/ready`)).json();
    return r.checks.orderEvents.subscriptions >= 1;
  });
  check('the playground opened a WebSocket on /graphql of the same origin',
    sockets.some((u) => u === `${origin.replace(/^http/, 'ws')}/graphql`), sockets);

  const placed = await gql(gw, customer.token,
    'mutation($in: CheckoutInput!) { checkout(input: $in) { id } }',
    { in: { items: [{ productId: config.products.p1, quantity: 1 }],
      shippingAddress: { name: 'P', line1: '1 Way', city: 'Town', postalCode: '1', country: 'US' } } });
  const id = placed.checkout.id;
  await resultHas(id);
  const first = await result();
  check('the new order arrives in the results pane', first.includes('"CREATED"') && first.includes('"PENDING"'), first);

  await gql(gw, admin.token, 'mutation($id: ID!) { confirmOrder(id: $id) { id } }', { id });
  await resultHas('"CONFIRMED"');
  const second = await result();
  check('its confirmation follows', second.includes('"UPDATED"') && second.includes('"version": 2'), second);
  check('no error in the results pane', !second.includes('"errors"'), second);
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`playground subscription: saw the order placed and confirmed; screenshot ${shot}`);
});

if (problems.length) {
  for (const p of problems) check('the page ran without problems', false, p);
  await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
}
await browser.close();
finish('playground subscription');
