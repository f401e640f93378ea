// The staff console in a real browser (Debian's chromium driven by playwright-core, headless, no
// network beyond loopback): a staff member signs in with the SMS code, sees the Chart.js charts
// drawn, finds a customer by the last 4 of the phone, changes the number (an invalid one first:
// the inline error), the simulator receives the notices to the old and the new number, the
// message's timeline opens, the audit entry of the change reads right, analytics draws its chart
// and its CSV downloads and parses, the setup page sends a test SMS, the templates page fits a
// laptop and a phone (collapsed groups by type, filters) and a template is edited beside the
// version in force. A staff session left idle ends with the reason on the sign-in page. A
// customer reaches no staff page or data. Screenshots of every page at laptop and phone width go
// to test-results/ (git-ignored). Skips when /usr/bin/chromium is missing, except in CI, where it
// fails.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
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
import { createUser, findUserById } from '../../src/users/users.ts';
import { createTestContext, eventually, HeldClock, type TestContext } from '../helpers/context.ts';
import { codeIn, inbox, nextSms, PASSWORD } from '../helpers/customers.ts';
import { addCustomer, notify, setClock } from '../notifications/pipeline-fixture.ts';

const CHROMIUM = '/usr/bin/chromium';
const missing = !existsSync(CHROMIUM);
const inCi = process.env.CI === 'true';
const SKIP = `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run the admin console browser test`;
const SHOTS = join(import.meta.dirname, '../../test-results');
const STAFF_PHONE = '+14155559100';
const CUSTOMER_PHONE = '+14155559101';
const NEW_PHONE = '+14155559107';

/** Waits until an element matching the selector has the text. */
async function textShows(page: Page, selector: string, text: RegExp): Promise<void> {
  await page.locator(selector, { hasText: text }).first().waitFor({ state: 'attached' });
}

/**
 * Waits until the console has drawn the page of an address (path and query): the address bar
 * changes at once, the page only when its data has come.
 */
async function drawn(page: Page, address: string): Promise<void> {
  await page.waitForSelector(`#view[data-address="${address}"]`);
  assert.equal(new URL(page.url()).pathname + new URL(page.url()).search, address);
}

/** RFC 4180 CSV into rows (quoted cells, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (c === '"') quoted = false; else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; } else if (c === '\r' && text[i + 1] === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; i++; } else cell += c;
  }
  return rows;
}

describe('staff console in a browser', { skip: missing && !inCi ? SKIP : false }, () => {
  let t: TestContext;
  let app: FastifyInstance;
  let browser: Browser;
  let page: Page;
  let baseUrl: string;
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];
  const offsite: string[] = [];
  const clock = new HeldClock('2026-11-24T15:00:00Z');

  /** The page's full height at laptop width (1280 px) and at phone width (390 px). */
  async function pageHeights(): Promise<{ laptop: number; phone: number }> {
    const height = async () => Number(await page.evaluate('document.documentElement.scrollHeight'));
    const laptop = await height();
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(150);
    const phone = await height();
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.waitForTimeout(150);
    return { laptop, phone };
  }

  /** A full-page screenshot at laptop width and at phone width. */
  async function shoot(name: string): Promise<void> {
    await page.screenshot({ path: join(SHOTS, `${name}-laptop.png`), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(150);
    await page.screenshot({ path: join(SHOTS, `${name}-phone.png`), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
  }

  before(async () => {
    if (missing) assert.fail(`${SKIP} (CI=true: the browser test must run in CI)`);
    mkdirSync(SHOTS, { recursive: true });
    t = await createTestContext({ clock });
    await startWorker(t.ctx);
    app = buildApp(t.ctx);
    await app.listen({ port: 0, host: '127.0.0.1' });
    baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) cspViolations.push(message.text());
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('response', (response) => { if (response.status() >= 400) pageErrors.push(`${response.status()} ${response.url()}`); });
    page.on('request', (request) => { if (!request.url().startsWith(baseUrl) && !request.url().startsWith('blob:') && !request.url().startsWith('data:')) offsite.push(request.url()); });
  });
  after(async () => {
    await browser?.close();
    await app?.close();
    await t?.close();
  });

  it('does the whole SMS job: charts, a phone change with its notices, timeline, audit, analytics CSV, setup test SMS, templates', async () => {
    // Yesterday two alerts, today three, sent through the real pipeline to the simulator.
    const customer = await addCustomer(t, { phone: CUSTOMER_PHONE });
    const username = (await findUserById(t.ctx.db, customer.id))?.username ?? '';
    await notify(t, customer.id, 'test_message');
    await notify(t, customer.id, 'test_message');
    await eventually(() => (inbox(t, CUSTOMER_PHONE).length === 2 ? true : undefined), 10_000, 'two SMS yesterday');
    setClock(clock, '2026-11-25T15:00:00Z');
    for (let i = 0; i < 3; i++) await notify(t, customer.id, 'test_message');
    await eventually(async () => ((await t.ctx.db.select({ id: smsMessages.id }).from(smsMessages).where(eq(smsMessages.status, 'delivered'))).length === 5 ? true : undefined), 20_000, 'five SMS delivered');
    await createUser(t.ctx, { username: 'olga', password: PASSWORD, phone: STAFF_PHONE, isStaff: true });

    await page.goto(`${baseUrl}/admin/accounts/userprofile/`);
    await page.waitForSelector('#password-form:not([hidden])');
    assert.equal(await page.isVisible('#nav'), false, 'no staff navigation before sign-in');
    await shoot('sign-in');
    await page.fill('#username', 'olga');
    await page.fill('#password', PASSWORD);
    const seen = inbox(t, STAFF_PHONE).length;
    await page.click('#password-submit');
    await page.waitForSelector('#code-form:not([hidden])');
    assert.match(await page.textContent('#code-sent') ?? '', /sent a 6-digit code by SMS to \*\*\*9100\./);
    await page.fill('#code', codeIn(await nextSms(t, STAFF_PHONE, seen, /login code is/, 'the staff login code')));
    await page.click('#code-submit');

    // The address asked for before signing in: the profile list. Find the customer by the last 4.
    await page.waitForSelector('#view[data-page="profiles"] #profile-search');
    await page.fill('#profile-search', '9101');
    await page.press('#profile-search', 'Enter');
    await drawn(page, '/admin/accounts/userprofile/?q=9101');
    await page.waitForSelector(`#profile-list tr[data-user="${username}"]`);
    assert.equal(await page.locator('#profile-list tbody tr').count(), 1);
    assert.match(await page.textContent('#profile-list') ?? '', /\*\*\*9101/);
    await shoot('profiles');
    await page.click(`#profile-list tr[data-user="${username}"] a`);
    await page.waitForSelector('#phone-form');
    assert.match(page.url(), new RegExp(`/admin/accounts/userprofile/${customer.id}/$`));

    // An invalid number first: the inline error, nothing changed.
    await page.fill('#phone-number', '555-12');
    await page.click('#phone-submit');
    await textShows(page, '#phone-error', /Invalid Phone Number/);
    assert.equal(await page.getAttribute('#phone-number', 'aria-invalid'), 'true');
    await shoot('profile-invalid');
    await page.fill('#phone-number', '(415) 555-9107');
    await page.click('#phone-submit');
    await textShows(page, '#profile-result', /Number changed/);
    assert.match(await page.textContent('#profile-facts') ?? '', /\*\*\*9107.*Verified\s*no/s);
    const notice = /phone number was changed to one ending 9107/;
    await nextSms(t, CUSTOMER_PHONE, 5, notice, 'the notice to the old number');
    await nextSms(t, NEW_PHONE, 0, notice, 'the notice to the new number');
    await shoot('profile');

    // The notice to the old number, in the message log, and its timeline.
    await page.click('a[href^="/admin/messages/?customer="]');
    await page.waitForSelector('#message-list');
    await page.selectOption('#filter-status', 'delivered');
    await page.fill('#filter-type', 'phone_changed');
    await page.click('.filters button[type="submit"]');
    await page.waitForURL(/status=delivered/);
    await eventually(async () => ((await page.locator('#message-list tbody tr').count()) === 2 ? true : undefined), 10_000, 'both notices in the log').catch(async () => {
      await page.reload();
      await page.waitForSelector('#message-list tbody tr');
    });
    assert.match(await page.textContent('#message-list') ?? '', /\*\*\*9101/);
    await shoot('messages');
    await page.locator('#message-list tbody tr', { hasText: '***9101' }).locator('a').click();
    await page.waitForSelector('#timeline');
    const kinds = await Promise.all((await page.locator('#timeline li').all()).map((li) => li.getAttribute('data-kind')));
    for (const kind of ['created', 'policy', 'attempt', 'status']) assert.ok(kinds.includes(kind), `a ${kind} step in ${kinds.join(', ')}`);
    assert.match(await page.textContent('#timeline') ?? '', /status delivered/);
    // Callbacks are off here (PUBLIC_BASE_URL=off): Twilio's answer to the send, then our status checks.
    assert.match(await page.locator('#timeline li[data-source="send_answer"]').first().textContent() ?? '', /send answer/);
    assert.match(await page.locator('#timeline li[data-kind="status"]', { hasText: 'status delivered' }).getAttribute('data-source') ?? '', /^status_check$/);
    await shoot('message-timeline');

    // The audit entry of the change.
    await page.click('nav a[data-page="audit"]');
    await page.waitForSelector('#audit-list');
    const entry = page.locator('#audit-list tr[data-action="phone.changed"]').first();
    assert.match(await entry.textContent() ?? '', /olga.*staff.*phone\.changed.*user:.*phone: \*\*\*9101.*phone: \*\*\*9107; verified: false/s);
    await shoot('audit');

    // Overview: the Chart.js bar chart holds exactly yesterday's two messages.
    await page.click('nav a[data-page="overview"]');
    await page.waitForSelector('#messages-canvas');
    const bars = await page.waitForFunction(`(() => {
      const chart = window.Chart.getChart(document.getElementById('messages-canvas'));
      if (!chart) return undefined;
      const i = chart.data.labels.indexOf('11-24');
      return chart.data.datasets.reduce((sum, d) => sum + (d.data[i] ?? 0), 0);
    })()`);
    assert.equal(await bars.jsonValue(), 2);
    await shoot('overview');

    // Analytics: the chart is drawn (pixels on the canvas), and a table's CSV downloads and parses.
    await page.click('nav a[data-page="analytics"]');
    await page.waitForSelector('#analytics-daily-canvas');
    const painted = await page.waitForFunction(`(() => {
      const canvas = document.getElementById('analytics-daily-canvas');
      const pixels = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data;
      return pixels && pixels.some((v, i) => i % 4 === 3 && v > 0) ? canvas.width : undefined;
    })()`);
    assert.ok(Number(await painted.jsonValue()) > 100);
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10_000 }), page.click('button[data-csv="types"]')]).catch(async (error: unknown) => {
      await page.screenshot({ path: join(SHOTS, 'debug-download.png'), fullPage: true });
      throw new Error(`no download: ${String(error)}; at ${page.url()}; page errors: ${pageErrors.join(' | ')}; beside the button: ${await page.locator('[data-csv="types"]').count()}`);
    });
    const csv = parseCsv(readFileSync(await download.path(), 'utf8'));
    assert.deepEqual(csv[0], ['type', 'messages', 'delivered', 'failed', 'undelivered', 'delivery_rate', 'segments', 'estimated_cost_usd']);
    const testRow = csv.find((r) => r[0] === 'test_message');
    assert.equal(testRow?.[1], '5', 'the five test messages');
    await shoot('analytics');

    // Setup: the checks of --check-setup, the webhook URLs, and a test SMS to a typed number.
    await page.click('nav a[data-page="setup"]');
    await page.waitForSelector('#setup-checks li');
    assert.match(await page.textContent('#setup-checks') ?? '', /Twilio credentials|credentials/i);
    await page.fill('#test-phone', '(415) 555-9120');
    await page.click('#test-submit');
    await textShows(page, '#test-result', /Test SMS queued to \*\*\*9120/);
    assert.match(await nextSms(t, '+14155559120', 0, /test message/, 'the test SMS'), /SMS works/);
    await shoot('setup');

    // Templates: one collapsed group per type, a page that fits a laptop and a phone, filters by
    // type, language and channel, and the draft beside the version in force.
    await page.click('nav a[data-page="templates"]');
    await page.waitForSelector('.template-group');
    const groups = await page.locator('details.template-group').count();
    assert.ok(groups >= 10, `a group per type (${groups})`);
    assert.equal(await page.locator('details.template-group[open]').count(), 0, 'groups start closed');
    const heights = await pageHeights();
    assert.ok(heights.laptop < 3000, `templates page ${heights.laptop} px tall at 1280 px wide`);
    assert.ok(heights.phone < 6000, `templates page ${heights.phone} px tall at 390 px wide`);
    await shoot('templates');
    // A group opens by keyboard to its templates.
    await page.focus('details.template-group[data-type="transaction"] > summary');
    await page.keyboard.press('Enter');
    await page.waitForSelector('tr[data-template="transaction/es/sms"]');
    await page.selectOption('#filter-language', 'es');
    await drawn(page, '/admin/templates/?language=es');
    assert.equal(await page.locator('tr[data-template*="/en/"]').count(), 0, 'only Spanish templates');
    await page.selectOption('#filter-channel', 'sms');
    await drawn(page, '/admin/templates/?language=es&channel=sms');
    assert.equal(await page.locator('tr[data-template$="/email"]').count(), 0, 'only SMS templates');
    await page.selectOption('#filter-type', 'transaction');
    await drawn(page, '/admin/templates/?type=transaction&language=es&channel=sms');
    await page.waitForSelector('details.template-group[data-type="transaction"][open] tr[data-template="transaction/es/sms"]');
    assert.equal(await page.locator('details.template-group').count(), 1, 'the type picked, open');
    await page.selectOption('#filter-language', '');
    await page.selectOption('#filter-channel', '');
    await drawn(page, '/admin/templates/?type=transaction');
    await page.waitForSelector('tr[data-template="transaction/en/sms"]');
    await shoot('templates-type');
    await page.click('tr[data-template="transaction/en/sms"] a');
    await page.waitForSelector('#template-body');
    // The draft beside the version in force on a laptop; one above the other on a phone.
    const draftBox = await page.locator('#template-body').boundingBox();
    const inForceBox = await page.locator('#in-force-text').boundingBox();
    assert.ok(draftBox && inForceBox && inForceBox.x > draftBox.x + draftBox.width && Math.abs(inForceBox.y - draftBox.y) < 150, 'side by side at 1280 px');
    await page.setViewportSize({ width: 390, height: 844 });
    const phoneDraft = await page.locator('#template-body').boundingBox();
    const phoneInForce = await page.locator('#in-force-text').boundingBox();
    assert.ok(phoneDraft && phoneInForce && phoneInForce.y > phoneDraft.y + phoneDraft.height, 'stacked at 390 px');
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.fill('#template-body', 'DominionTrust: {amount} at {merchant}, acct {account_last4}. Bal {balance}.');
    await textShows(page, '#preview-facts', /^1 segment ·/);
    await page.click('#save');
    await textShows(page, '#save-result', /^Saved as version 1\./);
    await textShows(page, '#in-force-text', /acct \{account_last4\}/);
    assert.equal((await activeTemplate(t.ctx.db, 'transaction', 'en', 'sms')).version, 1);
    await shoot('template-editor');

    for (const [name, selector] of [['notifications', '#view[data-page="notifications"] h1'], ['settings', '#settings']] as const) {
      await page.click(`nav a[data-page="${name}"]`);
      await page.waitForSelector(selector);
      await shoot(name);
    }
    assert.match(await page.textContent('#settings') ?? '', /Auth token…cdef/);
    const text = await page.textContent('body') ?? '';
    assert.ok(!text.includes(t.config.twilio.authToken) && !text.includes('4155559107') && !text.includes(STAFF_PHONE), 'no secret or full number on the page');
    assert.deepEqual(cspViolations, [], 'every page runs under its CSP without violations');
    assert.deepEqual(offsite, [], 'no request leaves the server');
  });

  it('sends a staff member back to sign-in, saying why, once the session sat idle too long', async () => {
    await page.click('nav a[data-page="overview"]');
    await page.waitForSelector('#messages-canvas');
    // STAFF_SESSION_IDLE_MINUTES is 30 by default; the server's clock moves on 31 minutes.
    clock.advance(31 * 60_000);
    await page.click('nav a[data-page="audit"]');
    await textShows(page, '#sign-in-error', /Your staff session ended after 30 minutes without activity\. Sign in again\./);
    assert.equal(await page.isVisible('#password-form'), true);
    assert.equal(await page.isVisible('#nav'), false, 'no staff navigation once signed out');
    assert.equal(await page.evaluate('sessionStorage.getItem("dominion.staffToken")'), null);
    assert.equal(await page.textContent('#view'), '', 'nothing of the staff page left in the document');
    await shoot('session-expired');
  });

  it('a customer reaches no staff page or data', async () => {
    await createUser(t.ctx, { username: 'carl', password: PASSWORD, phone: '+14155559102' });
    await page.goto(`${baseUrl}/admin/`);
    await page.waitForSelector('#password-form:not([hidden])');
    await page.goto(`${baseUrl}/admin/audit/`);
    await page.waitForSelector('#password-form:not([hidden])');
    assert.equal(await page.isVisible('#view'), false, 'no page without a session');
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
    assert.equal(await page.textContent('#view'), '', 'nothing of a staff page in the document');
    // Even with a customer token planted by hand, every staff page answers with the sign-in.
    const session = await app.inject({ method: 'POST', url: '/api/login', payload: { username: 'carl', password: PASSWORD } });
    const seen2 = inbox(t, '+14155559102').length;
    const code = codeIn(await nextSms(t, '+14155559102', seen2 - 1, /login code is/, 'another code'));
    const verified = await app.inject({ method: 'POST', url: '/api/login/verify', payload: { challengeId: session.json<{ challengeId: string }>().challengeId, code } });
    const token = verified.json<{ token: string }>().token;
    await page.evaluate((value) => { sessionStorage.setItem('dominion.staffToken', value); }, token);
    for (const path of ['/admin/accounts/userprofile/', '/admin/messages/', '/admin/audit/', '/admin/analytics/', '/admin/setup/']) {
      await page.evaluate((value) => { sessionStorage.setItem('dominion.staffToken', value); }, token);
      await page.goto(`${baseUrl}${path}`);
      await textShows(page, '#sign-in-error', /Only bank staff/);
      assert.equal(await page.textContent('#view'), '', `${path} shows nothing`);
    }
  });
});
