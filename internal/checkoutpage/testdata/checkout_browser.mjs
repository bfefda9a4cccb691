// Drives the hosted checkout page in headless Chromium with JavaScript
// disabled (the page must work without it): fill the form, apply a code,
// choose delivery, place the order. Prints one JSON line with what the
// confirmation shows. Env: URL (the checkout URL), PLAYWRIGHT_DIR, SHOTS.
import { launch, fillBuyer } from './buyer.mjs';

const browser = await launch();
const out = {};
try {
  // A phone-sized viewport: the page must be usable there.
  const ctx = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20000);
  const res = await page.goto(process.env.URL);
  out.status = res.status();
  await fillBuyer(page);
  await page.fill('#code', 'WELCOME10');
  await Promise.all([page.waitForNavigation(), page.click('#update')]);
  out.codeStatus = (await page.locator('#code-status').innerText()).trim();
  out.options = await page.locator('input[name="delivery"]').evaluateAll((els) => els.map((e) => e.value));
  await page.check('input[name="delivery"][value="international"]');
  await Promise.all([page.waitForNavigation(), page.click('#update')]);
  out.shipping = (await page.locator('#shipping').innerText()).trim();
  out.summaryTotal = (await page.locator('#total').innerText()).trim();
  out.discounts = (await page.locator('#discounts').innerText().catch(() => '')).trim();
  await page.screenshot({ path: `${process.env.SHOTS}/checkout-form.png`, fullPage: true });
  await Promise.all([page.waitForNavigation(), page.click('#place')]);
  out.confirmation = (await page.locator('#confirmation h1').innerText()).trim();
  out.orderTotal = (await page.locator('#order-total').innerText()).trim();
  out.width = await page.evaluate(() => document.documentElement.scrollWidth);
  await page.screenshot({ path: `${process.env.SHOTS}/checkout-confirmation.png`, fullPage: true });
} catch (e) {
  out.error = e.message;
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
