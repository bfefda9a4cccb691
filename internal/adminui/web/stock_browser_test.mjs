// Browser test of the live-stock page, driven by internal/server's
// TestAdminStockPageInBrowser: node stock_browser_test.mjs with BASE, SHOP,
// EMAIL, PASSWORD and PLAYWRIGHT_DIR (the directory whose node_modules holds
// playwright-core: internal/graphiql/web, installed by `make assets`) in the
// environment. Debian's /usr/bin/chromium, never a downloaded browser.
//
// It signs in through the page's form, waits for the table, prints READY,
// then obeys lines on stdin:
//   EXPECT {"variant","warehouse","onHand","reserved","available","low"}
//     waits up to WITHIN_MS for that row to show those numbers; prints
//     "OK <ms>" or "FAIL <what the row shows>"
//   SHOT <path>   writes a full-page screenshot; prints "OK"
//   QUIT          checks no console error and no foreign request; exits
import { createRequire } from 'node:module';
import readline from 'node:readline';

const require = createRequire(`${process.env.PLAYWRIGHT_DIR}/package.json`);
const { chromium } = require('playwright-core');
const base = process.env.BASE;
const origin = new URL(base).origin;
const within = Number(process.env.WITHIN_MS ?? 2000);
const out = (s) => process.stdout.write(`${s}\n`);
const problems = [];

const deadline = setTimeout(() => { console.error('stock browser test: timed out after 90 s'); process.exit(1); }, 90_000);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 700 } });
  context.on('request', (r) => { if (!r.url().startsWith(`${origin}/`) && !r.url().startsWith(origin.replace('http', 'ws'))) problems.push(`request to another origin: ${r.url()}`); });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));

  const resp = await page.goto(`${base}/admin/stock`, { waitUntil: 'load' });
  if (resp.status() !== 200) throw new Error(`GET /admin/stock answered ${resp.status()}`);
  await page.fill('input[name=shop]', process.env.SHOP);
  await page.fill('input[name=email]', process.env.EMAIL);
  await page.fill('input[name=password]', process.env.PASSWORD);
  await page.click('form#login button[type=submit]');
  await page.waitForSelector('body[data-ready="1"]', { timeout: 15_000 });
  await page.waitForSelector('#status[data-state="live"]', { timeout: 5_000 });
  out('READY');

  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const [cmd, ...rest] = line.split(' ');
    const arg = rest.join(' ');
    if (cmd === 'EXPECT') {
      const want = JSON.parse(arg);
      const started = Date.now();
      try {
        await page.waitForFunction((w) => {
          const tr = document.querySelector(`tr[data-variant="${w.variant}"][data-warehouse="${w.warehouse}"]`);
          if (!tr) return false;
          const n = (cls) => Number(tr.querySelector(`td.${cls}`).textContent);
          return n('onhand') === w.onHand && n('reserved') === w.reserved && n('available') === w.available && tr.classList.contains('low') === w.low;
        }, want, { timeout: within, polling: 20 });
        out(`OK ${Date.now() - started}`);
      } catch {
        const shown = await page.evaluate((w) => {
          const tr = document.querySelector(`tr[data-variant="${w.variant}"][data-warehouse="${w.warehouse}"]`);
          return tr ? `${[...tr.children].map((td) => td.textContent).join(' | ')} low=${tr.classList.contains('low')}` : 'no such row';
        }, want);
        out(`FAIL after ${Date.now() - started} ms the row shows: ${shown}`);
      }
    } else if (cmd === 'SHOT') {
      await page.locator(`tr[data-variant="${process.env.FOCUS ?? ''}"]`).first().scrollIntoViewIfNeeded().catch(() => {});
      await page.screenshot({ path: arg });
      out('OK');
    } else if (cmd === 'QUIT') {
      break;
    }
  }
  rl.close();
  if (problems.length) {
    console.error(problems.join('\n'));
    process.exitCode = 1;
  }
} catch (e) {
  console.error(`stock browser test: ${e.stack ?? e}`);
  process.exitCode = 1;
} finally {
  clearTimeout(deadline);
  // Closing Chromium with a live websocket can take a while; do not wait.
  await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 3000))]);
  process.exit(process.exitCode ?? 0);
}
