// The admin console in a real browser (Debian's chromium driven by playwright-core, headless, no
// network beyond loopback): a staff member signs in through the page with the SMS code the
// simulator received, sees the overview chart with a bar for each day's messages, edits a
// template with its live segment count and saves it. Leaves a screenshot of the overview in
// .tmp/console-overview.png. Skips when /usr/bin/chromium is missing, except in CI, where it fails.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { smsMessages } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { activeTemplate } from '../../src/notifications/templates/store.ts';
import { createUser } from '../../src/users/users.ts';
import { createTestContext, eventually, HeldClock, type TestContext } from '../helpers/context.ts';
import { codeIn, inbox, nextSms, PASSWORD } from '../helpers/customers.ts';
import { addCustomer, notify, setClock } from '../notifications/pipeline-fixture.ts';

const CHROMIUM = '/usr/bin/chromium';
const missing = !existsSync(CHROMIUM);
const inCi = process.env.CI === 'true';
const SKIP = `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run the admin console browser test`;
const SCREENSHOT = join(import.meta.dirname, '../../.tmp/console-overview.png');
const STAFF_PHONE = '+14155559100';

/** Waits until the element's text matches. */
async function textShows(page: Page, selector: string, text: RegExp): Promise<void> {
  await page.locator(selector, { hasText: text }).first().waitFor({ state: 'attached' });
}

describe('admin console in a browser', { skip: missing && !inCi ? SKIP : false }, () => {
  let t: TestContext;
  let app: FastifyInstance;
  let browser: Browser;
  let page: Page;
  let baseUrl: string;
  const cspViolations: string[] = [];
  const clock = new HeldClock('2026-11-24T15:00:00Z');

  before(async () => {
    if (missing) assert.fail(`${SKIP} (CI=true: the browser test must run in CI)`);
    t = await createTestContext({ clock });
    await startWorker(t.ctx);
    app = buildApp(t.ctx);
    await app.listen({ port: 0, host: '127.0.0.1' });
    baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) cspViolations.push(message.text());
    });
  });
  after(async () => {
    await browser?.close();
    await app?.close();
    await t?.close();
  });

  it('signs staff in with the SMS code, shows the messages chart, and saves an edited template', async () => {
    // Yesterday two alerts, today three: sent through the real pipeline to the simulator.
    const customer = await addCustomer(t, { phone: '+14155559101' });
    await notify(t, customer.id, 'test_message');
    await notify(t, customer.id, 'test_message');
    await eventually(() => (inbox(t, '+14155559101').length === 2 ? true : undefined), 10_000, 'two SMS yesterday');
    setClock(clock, '2026-11-25T15:00:00Z');
    for (let i = 0; i < 3; i++) await notify(t, customer.id, 'test_message');
    await eventually(async () => {
      const delivered = await t.ctx.db.select({ id: smsMessages.id }).from(smsMessages).where(eq(smsMessages.status, 'delivered'));
      return delivered.length === 5 ? true : undefined;
    }, 20_000, 'five SMS delivered');
    await createUser(t.ctx, { username: 'olga', password: PASSWORD, phone: STAFF_PHONE, isStaff: true });

    await page.goto(`${baseUrl}/admin`);
    await page.fill('#username', 'olga');
    await page.fill('#password', PASSWORD);
    const seen = inbox(t, STAFF_PHONE).length;
    await page.click('#password-submit');
    await page.waitForSelector('#code-form:not([hidden])');
    assert.match(await page.textContent('#code-sent') ?? '', /sent a 6-digit code by SMS to \*\*\*9100\./);
    const code = codeIn(await nextSms(t, STAFF_PHONE, seen, /login code is/, 'the staff login code'));
    await page.fill('#code', code);
    await page.click('#code-submit');

    // Overview: a bar per day of the last 14; yesterday's holds exactly its two messages.
    await page.waitForSelector('#messages-chart svg g.bar rect');
    const bars = await Promise.all((await page.locator('#messages-chart g.bar').all()).map(async (bar) => ({
      day: await bar.getAttribute('data-day'), count: Number(await bar.getAttribute('data-count')), rects: await bar.locator('rect').count(),
    })));
    assert.equal(bars.length, 14);
    assert.deepEqual(bars.find((b) => b.day === '2026-11-24'), { day: '2026-11-24', count: 2, rects: 1 });
    const today = bars.find((b) => b.day === '2026-11-25');
    assert.ok(today && today.count >= 4, `today has the three alerts and the login code (${JSON.stringify(today)})`);
    assert.equal(bars.filter((b) => b.count > 0).length, 2, 'no bars on days without messages');
    assert.ok(await page.$('#rate-chart circle.rate-point[data-day="2026-11-24"]'), 'a delivery-rate point for yesterday');
    assert.match(await page.textContent('#view') ?? '', /daily spend cap/);
    const text = await page.textContent('body') ?? '';
    assert.ok(!text.includes(STAFF_PHONE) && !text.includes('4155559101'), 'no full phone number on the page');
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // Templates: open one, watch the live count follow the text, save it.
    await page.click('nav a[data-page="templates"]');
    await page.click('tr[data-template="transaction/en/sms"] a');
    await page.waitForSelector('#template-body');
    const body = 'DominionTrust: {amount} at {merchant}, account ending {account_last4}. Balance {balance}. Not you? Call the number on your card. Reply STOP to opt out of these alerts, HELP for help.';
    await page.fill('#template-body', body);
    await textShows(page, '#preview-facts', /^2 segments/);
    assert.match(await page.textContent('#preview-text') ?? '', /^DominionTrust: -\$45\.20 at Corner Cafe, account ending 4821\./);
    assert.match(await page.textContent('#preview-warning') ?? '', /needs 2 segments/);
    await page.fill('#template-body', 'DominionTrust: {amount} at {merchant}, acct {account_last4}. Bal {balance}.');
    await textShows(page, '#preview-facts', /^1 segment ·/);
    await page.click('#save');
    await textShows(page, '#save-result', /^Saved as version 1\./);
    assert.match(await page.textContent('#save-result') ?? '', /1 segment · GSM-7 · \$0\.0075 per send/);
    await page.waitForSelector('#history tr');
    assert.match(await page.textContent('#history') ?? '', /v1.*olga/);
    await textShows(page, '#sending', /^Now sending version 1, saved /);
    await page.screenshot({ path: join(SCREENSHOT, '../console-template.png'), fullPage: true });
    const saved = await activeTemplate(t.ctx.db, 'transaction', 'en', 'sms');
    assert.deepEqual([saved.version, saved.body], [1, 'DominionTrust: {amount} at {merchant}, acct {account_last4}. Bal {balance}.']);

    // An unknown variable is refused on the page, with the server's explanation.
    await page.fill('#template-body', 'DominionTrust: {amount} at {shop}.');
    await textShows(page, '#preview-error', /\{shop\} is an unknown variable/);
    await page.click('#save');
    await textShows(page, '#save-result.error', /\{shop\} is an unknown variable/);

    // Held & skipped and settings pages draw, with credentials as last 4 only.
    await page.click('nav a[data-page="settings"]');
    await page.waitForSelector('#settings');
    const settings = await page.textContent('#settings') ?? '';
    assert.match(settings, /Auth token…cdef/);
    assert.ok(!settings.includes(t.config.twilio.authToken));
    await page.click('nav a[data-page="notifications"]');
    await page.waitForSelector('#view[data-page="notifications"]');
    await page.screenshot({ path: join(SCREENSHOT, '../console-held.png'), fullPage: true });
    assert.deepEqual(cspViolations, [], 'the page runs under its CSP without violations');
  });

  it('turns a customer away from the console and ends their session', async () => {
    await createUser(t.ctx, { username: 'carl', password: PASSWORD, phone: '+14155559102' });
    await page.click('#sign-out');
    await page.waitForSelector('#password-form:not([hidden])');
    await page.fill('#username', 'carl');
    await page.fill('#password', PASSWORD);
    const seen = inbox(t, '+14155559102').length;
    await page.click('#password-submit');
    await page.waitForSelector('#code-form:not([hidden])');
    await page.fill('#code', codeIn(await nextSms(t, '+14155559102', seen, /login code is/, "the customer's login code")));
    await page.click('#code-submit');
    await textShows(page, '#sign-in-error', /for bank staff only/);
    assert.equal(await page.evaluate('sessionStorage.getItem("dominion.staffToken")'), null);
    assert.equal(await page.isVisible('#view'), false);
  });
});
