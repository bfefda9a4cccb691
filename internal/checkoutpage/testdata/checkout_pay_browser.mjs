// Drives the hosted checkout page's payment step in headless Chromium
// (JavaScript on): fill the form, choose delivery, place the order, wait
// for the Payment Element to mount, pay, and land on the return page.
// Stripe.js cannot be reached from this machine, so STRIPE_JS_URL points at
// a stand-in served by the Go test (it records what the page handed to
// Stripe() and redirects to return_url as Stripe does after a successful
// confirmation). Prints one JSON line. Env: URL, PLAYWRIGHT_DIR, SHOTS.
import { launch, fillBuyer } from './buyer.mjs';

const browser = await launch();
const out = { cspViolations: [] };
try {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20000);
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) out.cspViolations.push(m.text()); });
  const res = await page.goto(process.env.URL);
  out.status = res.status();
  await fillBuyer(page);
  await Promise.all([page.waitForNavigation(), page.click('#update')]);
  await page.check('input[name="delivery"][value="international"]');
  await Promise.all([page.waitForNavigation(), page.click('#place')]);
  out.placed = (await page.locator('#confirmation h1').innerText()).trim();
  out.orderTotal = (await page.locator('#order-total').innerText()).trim();
  await page.waitForFunction(() => window.__stripeStandIn && window.__stripeStandIn.mounted);
  await page.waitForFunction(() => !document.getElementById('pay').disabled);
  out.payButton = (await page.locator('#pay').innerText()).trim();
  out.stripe = await page.evaluate(() => ({ key: window.__stripeStandIn.key, clientSecret: window.__stripeStandIn.clientSecret,
    element: window.__stripeStandIn.element, mounted: window.__stripeStandIn.mounted }));
  await page.screenshot({ path: `${process.env.SHOTS}/checkout-payment.png`, fullPage: true });
  await Promise.all([page.waitForURL(/\/checkout\/return/), page.click('#pay')]);
  out.returnURL = page.url();
  out.returned = (await page.locator('#status').innerText()).trim();
  await page.screenshot({ path: `${process.env.SHOTS}/checkout-return.png`, fullPage: true });
} catch (e) {
  out.error = e.message;
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
