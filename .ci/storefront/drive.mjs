// Drives the real Next.js Commerce app (started by .ci/storefront.sh against
// Cartograph) in headless Chromium, as a shopper would: home page, search, a
// product page, add to cart, raise the quantity, remove the line. Each step
// is checked twice: on the page, and in Cartograph itself (the cart the app's
// cookie names, read straight from the gateway), so an optimistic UI update
// cannot pass for a real one. Exits non-zero on the first failure.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../internal/graphiql/web/package.json'));
const { chromium } = require('playwright-core');

const app = process.env.STOREFRONT_URL;
const gateway = process.env.GATEWAY_URL;
const token = process.env.SHOPIFY_STOREFRONT_ACCESS_TOKEN;
const shots = process.env.SCREENSHOTS;
const timeout = 30_000;

function fail(msg) {
  console.error(`storefront: FAIL ${msg}`);
  process.exitCode = 1;
  throw new Error(msg);
}
function pass(msg) {
  console.log(`storefront: ok   ${msg}`);
}

async function gql(query, variables) {
  const res = await fetch(`${gateway}/api/2023-01/graphql.json`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Shopify-Storefront-Access-Token': token },
    body: JSON.stringify({ query, variables })
  });
  const body = await res.json();
  if (body.errors) fail(`gateway: ${JSON.stringify(body.errors)}`);
  return body.data;
}

async function until(what, fn, ms = timeout) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  fail(`${what} (waited ${ms} ms)`);
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync']
});
const errors = [];
let page;
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await ctx.newPage();
  page.setDefaultTimeout(timeout);
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  // 5xx answers of the app. The app's own product route throws
  // "useSearchParams() should be wrapped in a suspense boundary" for RSC
  // prefetches of /product/* (vercel/commerce#1462, the same against
  // Shopify): those are reported, not failed; any other 5xx fails the run.
  const knownAppBug = [];
  page.on('response', (r) => {
    if (r.status() >= 400 && r.url().includes('/_next/image')) errors.push(`${r.status()} ${r.url()}`);
    if (r.status() < 500) return;
    const u = new URL(r.url());
    if (u.pathname.startsWith('/product/') && u.searchParams.has('_rsc')) knownAppBug.push(`${r.status()} ${u.pathname}${u.search}`);
    else errors.push(`${r.status()} ${r.url()}`);
  });

  // What the home page must show: the products of the two homepage collections.
  const home = await gql(`{ a: collection(handle: "hidden-homepage-featured-items") { products(first: 3) { nodes { title } } }
    b: collection(handle: "hidden-homepage-carousel") { products(first: 10) { nodes { title } } } }`);
  const featured = home.a.products.nodes.map((n) => n.title);
  if (featured.length !== 3) fail(`seed: want 3 featured products, got ${featured.length}`);

  // 1. Home page.
  let res = await page.goto(`${app}/`, { waitUntil: 'load' });
  if (res.status() !== 200) fail(`home page: HTTP ${res.status()}`);
  const text = await page.locator('body').innerText();
  for (const t of featured) if (!text.includes(t)) fail(`home page does not show featured product ${t}`);
  const menu = await page.locator('nav a').allInnerTexts();
  if (!menu.some((m) => /all/i.test(m))) fail(`home page menu has no items from main-menu: ${JSON.stringify(menu)}`);
  const images = await until('home page images loaded through next/image', () =>
    page.evaluate(() => {
      // The three featured tiles are above the fold; carousel images are lazy.
      const drawn = [...document.querySelectorAll('img')].filter((i) => i.src.includes('/_next/image') && i.complete && i.naturalWidth > 0);
      return drawn.length >= 3 ? drawn.length : 0;
    }));
  await page.screenshot({ path: `${shots}/storefront-home.png` });
  pass(`home page: 3 featured products, menu ${JSON.stringify(menu.slice(0, 4))}, ${images} images drawn by the gateway`);

  // 2. Search (the app's search box submits /search?q=).
  await page.fill('input[name="q"]', 'merino');
  await page.press('input[name="q"]', 'Enter');
  await page.waitForURL(/\/search\?q=merino/);
  const hits = await until('search results for "merino"', async () => {
    const titles = await page.locator('ul li a[href^="/product/"]').allInnerTexts();
    return titles.some((t) => /merino/i.test(t)) ? titles : null;
  });
  await page.screenshot({ path: `${shots}/storefront-search.png` });
  pass(`search "merino": ${hits.length} results`);
  res = await page.goto(`${app}/search/outerwear`, { waitUntil: 'load' });
  if (res.status() !== 200) fail(`collection page: HTTP ${res.status()}`);
  pass('collection page /search/outerwear renders');

  // 3. Product page: pick the first available value of every option.
  res = await page.goto(`${app}/product/merino-crew-tee`, { waitUntil: 'load' });
  if (res.status() !== 200) fail(`product page: HTTP ${res.status()}`);
  await page.locator('h1', { hasText: 'Merino Crew Tee' }).waitFor();
  const forms = page.locator('form:has(dl)');
  const nOptions = await forms.count();
  if (nOptions < 1) fail('product page shows no options');
  for (let i = 0; i < nOptions; i++) {
    await forms.nth(i).locator('button:not([disabled])').first().click();
    await page.waitForTimeout(300);
  }
  await page.screenshot({ path: `${shots}/storefront-product.png` });
  pass(`product page: ${nOptions} options selected (${page.url().split('?')[1] || ''})`);

  // 4. Add to cart.
  await page.locator('button[aria-label="Add to cart"]').click();
  const cartOf = async () => {
    const c = (await ctx.cookies()).find((k) => k.name === 'cartId');
    if (!c) return null;
    const d = await gql(`query($id: ID!) { cart(id: $id) { totalQuantity lines(first: 10) { nodes { quantity merchandise { ... on ProductVariant { product { handle } } } } } } }`,
      { id: decodeURIComponent(c.value) });
    return d.cart;
  };
  await until('the gateway holds the cart with 1 Merino Crew Tee', async () => {
    const c = await cartOf();
    return c && c.lines.nodes.length === 1 && c.lines.nodes[0].quantity === 1 &&
      c.lines.nodes[0].merchandise.product.handle === 'merino-crew-tee';
  });
  pass('add to cart: the gateway holds 1 line × 1');

  // 5. Raise the quantity in the cart drawer; reload: the page shows the server's 2.
  const openCart = async () => {
    if (!(await page.locator('button[aria-label="Close cart"]').isVisible())) {
      await page.locator('button[aria-label="Open cart"]').click();
    }
    await page.locator('button[aria-label="Close cart"]').waitFor();
  };
  // At the pinned commit the drawer does not pick up the server's cart after
  // a server action until the next navigation: revalidateTag(tag, 'seconds')
  // no longer reads its own writes in this Next canary (fixed upstream by
  // vercel/commerce#1514 with updateTag, after the snapshot reachable here;
  // the same happens against Shopify). A reload reads the cart afresh.
  await page.reload({ waitUntil: 'load' });
  await openCart();
  await page.locator('button[aria-label="Increase item quantity"]').click();
  await until('the gateway cart quantity becomes 2', async () => (await cartOf())?.totalQuantity === 2);
  await page.reload({ waitUntil: 'load' });
  await openCart();
  await until('the reloaded cart drawer shows quantity 2', async () =>
    (await page.locator('li p.w-6 span').first().innerText()).trim() === '2');
  await page.screenshot({ path: `${shots}/storefront-cart.png` });
  pass('change quantity: 1 → 2 in the gateway, shown after a reload');

  // 6. Lower it again, then remove the line.
  await page.locator('button[aria-label="Reduce item quantity"]').click();
  await until('the gateway cart quantity back to 1', async () => (await cartOf())?.totalQuantity === 1);
  await page.locator('button[aria-label="Remove cart item"]').click();
  await until('the gateway cart is empty', async () => (await cartOf())?.lines.nodes.length === 0);
  await page.reload({ waitUntil: 'load' });
  await openCart();
  await page.getByText('Your cart is empty.').waitFor();
  await page.screenshot({ path: `${shots}/storefront-empty-cart.png` });
  pass('reduce and remove: the gateway cart is empty, the drawer says so after a reload');

  if (errors.length) fail(`errors while browsing:\n  ${errors.join('\n  ')}`);
  pass(`no page errors, no 5xx responses${knownAppBug.length ? ` (besides ${knownAppBug.length} RSC prefetches of product pages refused by the app itself, vercel/commerce#1462)` : ''}`);
} catch (e) {
  if (!process.exitCode) {
    console.error(`storefront: FAIL ${e.message}`);
    process.exitCode = 1;
  }
  if (errors.length) console.error(errors.join('\n'));
  if (page) await page.screenshot({ path: `${shots}/storefront-failure.png` }).catch(() => {});
} finally {
  await browser.close();
}
