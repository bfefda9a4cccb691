// Browser test of Cartograph's GraphiQL page, run by graphiql_test.go
// (TestBrowser): node browser_test.mjs BASE_URL, with EXPECT_QUERY and
// EXPECT_HEADERS (the Options the Go test mounted) in the environment.
// Drives Debian's /usr/bin/chromium through playwright-core (no browser is
// ever downloaded) and checks that the page loads everything from its own
// origin, renders GraphiQL with the default query and headers, loads the
// schema, runs a query against the stub endpoint and shows its response,
// without a console error. Exits non-zero with the reasons otherwise.
import { chromium } from 'playwright-core';

const base = process.argv[2];
const origin = new URL(base).origin;
const expectQuery = process.env.EXPECT_QUERY ?? '';
const expectHeaders = process.env.EXPECT_HEADERS ?? '';
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';

const deadline = setTimeout(() => {
  console.error('browser test: timed out after 20 s');
  process.exit(1);
}, 20_000);

const failures = [];
const check = (ok, message) => { if (!ok) failures.push(message); };
const requests = [];
const consoleErrors = [];
const started = Date.now();

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const context = await browser.newContext();
  context.on('request', (r) => requests.push(`${r.method()} ${r.url()}`));
  context.on('requestfailed', (r) => failures.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  context.on('response', (r) => check(r.status() < 400, `HTTP ${r.status()} for ${r.url()}`));
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.message}`));

  const introspection = page.waitForResponse((r) => r.url() === `${origin}/graphql` &&
    (r.request().postData() ?? '').includes('__schema'));
  const resp = await page.goto(`${base}/`, { waitUntil: 'load' });
  check(resp.status() === 200, `GET / answered ${resp.status()}`);
  check((resp.headers()['content-security-policy'] ?? '').includes("script-src 'self'"), 'GET / has no script-src \'self\' CSP');

  // (b) GraphiQL renders.
  await page.waitForSelector('.graphiql-container .graphiql-query-editor .CodeMirror', { timeout: 10_000 });
  check((await introspection).ok(), 'introspection request failed');

  // (c) Default query and headers are prefilled.
  const editors = () => page.evaluate(() => Object.fromEntries(
    [['query', '.graphiql-query-editor .CodeMirror'],
     ['headers', '.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror'],
     ['response', '.graphiql-response .CodeMirror']]
      .map(([k, sel]) => [k, document.querySelector(sel)?.CodeMirror?.getValue() ?? null])));
  const before = await editors();
  check(before.query === expectQuery, `query editor holds ${JSON.stringify(before.query)}, want ${JSON.stringify(expectQuery)}`);
  check(before.headers === expectHeaders, `headers editor holds ${JSON.stringify(before.headers)}, want ${JSON.stringify(expectHeaders)}`);
  // The schema from the introspection is in use: the docs explorer lists Query.
  await page.click('.graphiql-sidebar button[aria-label*="Documentation Explorer"]');
  await page.waitForSelector('.graphiql-doc-explorer a.graphiql-doc-explorer-type-name:text("Query")', { timeout: 5_000 });

  // Run a query the stub schema knows; its response appears in the result pane.
  await page.evaluate(() => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue('{ hello }'));
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(() => (document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror?.getValue() ?? '').includes('world'), null, { timeout: 5_000 });
  const shown = (await editors()).response;
  let parsed = null;
  try { parsed = JSON.parse(shown); } catch { /* reported below */ }
  check(JSON.stringify(parsed) === '{"data":{"hello":"world"}}', `result pane shows ${JSON.stringify(shown)}`);

  // (a) Every request went to the page's own origin.
  for (const r of requests) check(r.split(' ')[1].startsWith(`${origin}/`), `request to another origin: ${r}`);
  // (d) No console errors (snapshot before the CSP probe below).
  for (const e of consoleErrors.splice(0)) failures.push(`console error: ${e}`);

  // The CSP is enforced: an injected inline script is refused.
  const violated = await page.evaluate(() => new Promise((resolve) => {
    document.addEventListener('securitypolicyviolation', (e) => resolve(e.effectiveDirective), { once: true });
    const s = document.createElement('script');
    s.textContent = 'window.__inlineRan = true';
    document.head.appendChild(s);
    setTimeout(() => resolve(window.__inlineRan ? 'ran' : 'no violation event'), 1000);
  }));
  check(violated === 'script-src-elem', `inline script not refused by CSP (${violated})`);

  console.log(JSON.stringify({ ms: Date.now() - started, requests, chromium: browser.version() }, null, 1));
} catch (e) {
  failures.push(`error: ${e.stack ?? e}`);
} finally {
  await browser.close();
  clearTimeout(deadline);
}
if (failures.length) {
  console.error(`browser test failed:\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
