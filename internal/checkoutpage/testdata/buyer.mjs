// Shared by the checkout page's browser scripts: Debian's Chromium through
// playwright-core (from PLAYWRIGHT_DIR, installed by `make assets`) and the
// buyer's contact and London address typed into the form.
import { createRequire } from 'node:module';
import path from 'node:path';
const require = createRequire(path.join(process.env.PLAYWRIGHT_DIR, 'package.json'));
const { chromium } = require('playwright-core');

export function launch() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync']
  });
}

export async function fillBuyer(page) {
  await page.fill('#email', 'ada@example.com');
  await page.fill('#firstName', 'Ada');
  await page.fill('#lastName', 'Lovelace');
  await page.fill('#address1', "12 St James's Square");
  await page.fill('#city', 'London');
  await page.fill('#zip', 'SW1Y 4JH');
  await page.selectOption('#country', 'GB');
}
