// Opens the gateway's playground in headless Chromium, runs the first example
// operation, then a query with the access token from the token bar, and saves a
// screenshot of each (<screenshot>.png, <screenshot>-admin.png). Fails on any request that leaves the gateway's origin (no CDN), on a
// page error, or when the results do not show the expected data.
// Usage: node playground.mjs http://127.0.0.1:PORT <admin token> <expected text> <screenshot.png>
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const require = createRequire(path.join(root, 'package.json'));
const { chromium } = require('playwright-core');

const [base, token, expected, shot] = process.argv.slice(2);
const origin = new URL(base).origin;
const problems = [];

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.origin !== origin && !['data:', 'blob:'].includes(u.protocol)) problems.push(`left the origin: ${r.url()}`);
  });

  await page.goto(`${base}/graphql`, { waitUntil: 'networkidle' });
  await page.waitForSelector('.graphiql-container .graphiql-query-editor .CodeMirror', { timeout: 20000 });
  const first = await page.evaluate(() => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue());
  if (!first.includes('BrowseCatalog')) problems.push(`the first tab is not the first example: ${first.slice(0, 80)}`);

  // 1. the first example, anonymously
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(
    (text) => (document.querySelector('.result-window')?.innerText || '').includes(text),
    expected,
    { timeout: 20000 },
  );
  await page.screenshot({ path: shot, fullPage: true });

  // 2. a query only admins may run, with the token from the bar
  await page.fill('#mercato-token', token);
  await page.click('#mercato-token-form button[type=submit]');
  const who = await page.textContent('#mercato-who');
  if (!who.startsWith('admin')) problems.push(`the token bar shows "${who}"`);
  // typed as a user types it (the editor closes the braces itself)
  await page.click('.graphiql-query-editor .CodeMirror');
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.type('query AdminTree { fullCategoryTree { category { name isActive');
  await page.waitForFunction(() => [...document.querySelectorAll('.graphiql-tab')].some((t) => t.innerText.includes('AdminTree')),
    null, { timeout: 10000 });
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(
    () => (document.querySelector('.result-window')?.innerText || '').includes('"isActive"'),
    null,
    { timeout: 20000 },
  );
  const result = await page.evaluate(() => document.querySelector('.result-window').innerText);
  if (result.includes('UNAUTHENTICATED') || result.includes('FORBIDDEN')) problems.push(`the token was not sent: ${result}`);
  await page.keyboard.press('Escape'); /* close the editor's completion list */
  const adminShot = shot.replace(/\.png$/, '-admin.png');
  await page.screenshot({ path: adminShot, fullPage: true });
  console.log(`playground: ran the first example and an admin query; screenshots ${shot}, ${adminShot}`);
} catch (e) {
  problems.push(String(e));
  for (const p of browser.contexts().flatMap((c) => c.pages())) {
    const text = await p.evaluate(() => document.querySelector('.result-window')?.innerText || '(no result pane)');
    problems.push(`results pane: ${text.slice(0, 2000)}`);
    await p.screenshot({ path: shot, fullPage: true }).catch(() => {});
  }
} finally {
  await browser.close();
}
for (const p of problems) console.log(p);
process.exit(problems.length ? 1 : 0);
