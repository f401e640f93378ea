// The staff JSON API through real HTTP (inject) on a real database: only staff sessions get in;
// templates are listed with their cost, saved as checked versions (an unknown variable refused,
// segments and cost in the answer) and previewed without saving; held, skipped and failed
// notifications from the real pipeline are listed with a masked phone; the settings never show
// a secret; and the pipeline's decisions are counted in /metrics.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { CATALOGUE } from '../../src/notifications/catalogue.ts';
import { DEFAULT_LANGUAGES } from '../../src/notifications/templates/defaults.ts';
import { createTestContext, eventually, HeldClock, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, type TestContext } from '../helpers/context.ts';
import { customer, type Customer } from '../helpers/customers.ts';
import { addCustomer, notify, settled } from '../notifications/pipeline-fixture.ts';

let t: TestContext;
let app: FastifyInstance;
let staff: Customer;
let cora: Customer;

before(async () => {
  t = await createTestContext({ clock: new HeldClock('2026-11-25T15:00:00Z') });
  await startWorker(t.ctx);
  app = buildApp(t.ctx);
  staff = await customer(t, 'stella', '+14155557001', { isStaff: true });
  cora = await customer(t, 'cora', '+14155557002');
});
after(() => t.close());

const TRANSACTION_SMS = '/api/staff/templates/transaction/en/sms';

interface ErrorBody { error: string; message: string }

describe('staff API access', () => {
  const routes: { method: 'GET' | 'PUT' | 'POST'; url: string; payload?: object }[] = [
    { method: 'GET', url: '/api/staff/templates' },
    { method: 'GET', url: TRANSACTION_SMS },
    { method: 'PUT', url: TRANSACTION_SMS, payload: { body: 'DominionTrust: {amount}' } },
    { method: 'POST', url: `${TRANSACTION_SMS}/preview`, payload: { body: 'DominionTrust: {amount}' } },
    { method: 'GET', url: '/api/staff/notifications' },
    { method: 'GET', url: '/api/staff/sms/stats' },
    { method: 'GET', url: '/api/staff/settings' },
  ];

  it('answers 401 without a session and 403 to a customer, on every staff route', async () => {
    for (const route of routes) {
      const anonymous = await app.inject({ ...route });
      assert.equal(anonymous.statusCode, 401, `${route.method} ${route.url}`);
      assert.equal(anonymous.json<ErrorBody>().error, 'unauthenticated');
      const customerRes = await app.inject({ ...route, headers: cora.auth });
      assert.equal(customerRes.statusCode, 403, `${route.method} ${route.url}`);
      assert.deepEqual(customerRes.json(), { error: 'forbidden', message: 'Only bank staff may do this: sign in with a staff account.' });
    }
    const history = await app.inject({ url: TRANSACTION_SMS, headers: staff.auth });
    assert.deepEqual(history.json<{ history: unknown[] }>().history, [], "a customer's PUT saved nothing");
  });
});

describe('staff templates', () => {
  interface TemplateView {
    type: string; language: string; channel: string; version: number; isDefault: boolean; body: string;
    segments: number | null; encoding: string | null; costPerSendUsd: number | null; example: string;
  }

  it('lists every type x language x channel with its active body, version, default flag, segments and cost', async () => {
    const res = await app.inject({ url: '/api/staff/templates', headers: staff.auth });
    assert.equal(res.statusCode, 200);
    const { templates } = res.json<{ templates: TemplateView[] }>();
    const expected = CATALOGUE.flatMap((spec) => DEFAULT_LANGUAGES.flatMap((language) => spec.channels.map((channel) => `${spec.id}/${language}/${channel}`)));
    assert.deepEqual(templates.map((x) => `${x.type}/${x.language}/${x.channel}`).sort(), expected.sort());
    const sms = templates.find((x) => x.type === 'transaction' && x.language === 'es' && x.channel === 'sms')!;
    assert.equal(sms.isDefault, true);
    assert.equal(sms.version, 0);
    assert.match(sms.body, /^DominionTrust/);
    assert.equal(sms.segments, 1);
    assert.equal(sms.encoding, 'GSM-7');
    assert.equal(sms.costPerSendUsd, 0.0075);
    assert.match(sms.example, /4821/, 'the example shows the account as its last 4');
    const email = templates.find((x) => x.type === 'welcome' && x.channel === 'email')!;
    assert.equal(email.segments, null);
    assert.equal(email.costPerSendUsd, null);
  });

  it('refuses a template with an unknown variable (400, naming it and the allowed ones) and saves nothing', async () => {
    const res = await app.inject({ method: 'PUT', url: TRANSACTION_SMS, headers: staff.auth, payload: { body: 'DominionTrust: {amount} at {shop}.' } });
    assert.equal(res.statusCode, 400);
    const body = res.json<ErrorBody>();
    assert.equal(body.error, 'validation_failed');
    assert.match(body.message, /\{shop\} is an unknown variable for transaction; allowed: \{amount\}, \{merchant\}, \{account_last4\}, \{balance\}/);
    const detail = await app.inject({ url: TRANSACTION_SMS, headers: staff.auth });
    assert.deepEqual(detail.json<{ history: unknown[] }>().history, []);
    assert.equal(detail.json<{ template: TemplateView }>().template.isDefault, true);
  });

  it('refuses bad paths and bodies with a clear 400 or 404', async () => {
    const unknownType = await app.inject({ url: '/api/staff/templates/lottery_win/en/sms', headers: staff.auth });
    assert.equal(unknownType.statusCode, 404);
    assert.match(unknownType.json<ErrorBody>().message, /No notification type "lottery_win"\. Known types: two_factor_code/);
    const badChannel = await app.inject({ url: '/api/staff/templates/transaction/en/fax', headers: staff.auth });
    assert.equal(badChannel.statusCode, 400);
    assert.match(badChannel.json<ErrorBody>().message, /channel: sms or email/);
    const codeByEmail = await app.inject({ url: '/api/staff/templates/two_factor_code/en/email', headers: staff.auth });
    assert.equal(codeByEmail.statusCode, 404);
    assert.match(codeByEmail.json<ErrorBody>().message, /sent by sms only/);
    const noBody = await app.inject({ method: 'PUT', url: TRANSACTION_SMS, headers: staff.auth, payload: { text: 'x' } });
    assert.equal(noBody.statusCode, 400);
    assert.match(noBody.json<ErrorBody>().message, /body/);
  });

  it('saves a new version and answers its segments, encoding and cost per send, warning past one segment', async () => {
    const long = 'DominionTrust: {amount} at {merchant} on the account ending {account_last4}. Your balance is now {balance}. '
      + 'If you do not recognise this payment, call the number on the back of your card at once, day or night.';
    const res = await app.inject({ method: 'PUT', url: TRANSACTION_SMS, headers: staff.auth, payload: { body: long } });
    assert.equal(res.statusCode, 200, res.body);
    const saved = res.json<{ version: number; segments: number; encoding: string; costPerSendUsd: number; warning?: string; text: string }>();
    assert.equal(saved.version, 1);
    assert.equal(saved.segments, 2);
    assert.equal(saved.encoding, 'GSM-7');
    assert.equal(saved.costPerSendUsd, 0.015);
    assert.match(saved.warning ?? '', /^With the example values this SMS needs 2 segments, about \$0\.0150 per message: it has \d+ characters; one segment holds 160\.$/);
    assert.match(saved.text, /^DominionTrust: -\$45\.20 at Corner Cafe on the account ending 4821\./);

    const short = await app.inject({ method: 'PUT', url: TRANSACTION_SMS, headers: staff.auth, payload: { body: 'DominionTrust: {amount} at {merchant}, acct ending {account_last4}.' } });
    assert.equal(short.statusCode, 200);
    assert.equal(short.json<{ version: number }>().version, 2);
    assert.equal(short.json<{ segments: number }>().segments, 1);
    assert.equal(short.json<{ warning?: string }>().warning, undefined);

    const detail = (await app.inject({ url: TRANSACTION_SMS, headers: staff.auth })).json<{
      template: TemplateView; history: { version: number; body: string; savedBy: string }[]; variables: { name: string }[];
    }>();
    assert.equal(detail.template.version, 2);
    assert.equal(detail.template.isDefault, false);
    assert.deepEqual(detail.history.map((v) => [v.version, v.savedBy]), [[2, 'stella'], [1, 'stella']]);
    assert.equal(detail.history[1]?.body, long);
    assert.deepEqual(detail.variables.map((v) => v.name), ['amount', 'merchant', 'account_last4', 'balance']);
    const list = (await app.inject({ url: '/api/staff/templates', headers: staff.auth })).json<{ templates: TemplateView[] }>().templates;
    const listed = list.find((x) => x.type === 'transaction' && x.language === 'en' && x.channel === 'sms')!;
    assert.deepEqual([listed.version, listed.isDefault], [2, false]);
  });

  it('previews a draft with example or given values, with segments and cost, without saving it', async () => {
    const url = '/api/staff/templates/card_blocked/es/sms';
    const draft = 'DominionTrust: bloqueamos su tarjeta terminada en {card_last4}. ¿No fue usted? Llámenos 🙏';
    const res = await app.inject({ method: 'POST', url: `${url}/preview`, headers: staff.auth, payload: { body: draft } });
    assert.equal(res.statusCode, 200, res.body);
    const preview = res.json<{ text: string; segments: number; encoding: string; costPerSendUsd: number; warning?: string }>();
    assert.equal(preview.text, 'DominionTrust: bloqueamos su tarjeta terminada en 4242. ¿No fue usted? Llámenos 🙏');
    assert.equal(preview.encoding, 'UCS-2');
    assert.equal(preview.segments, 2);
    assert.equal(preview.costPerSendUsd, 0.015);
    assert.match(preview.warning ?? '', /UCS-2 .* because of "á" "🙏"/);

    const given = await app.inject({ method: 'POST', url: `${url}/preview`, headers: staff.auth, payload: { body: 'DominionTrust: tarjeta {card_last4}.', values: { card_last4: '4000123412349876' } } });
    assert.equal(given.json<{ text: string }>().text, 'DominionTrust: tarjeta 9876.', 'only the last 4 of a full number');
    const money = await app.inject({ method: 'POST', url: `${TRANSACTION_SMS}/preview`, headers: staff.auth, payload: { body: 'DominionTrust: {amount}.', values: { amount: { minorUnits: 123456, currency: 'EUR' } } } });
    assert.equal(money.json<{ text: string }>().text, 'DominionTrust: €1,234.56.');

    const badValue = await app.inject({ method: 'POST', url: `${TRANSACTION_SMS}/preview`, headers: staff.auth, payload: { body: 'DominionTrust: {amount}.', values: { amount: 'lots' } } });
    assert.equal(badValue.statusCode, 400);
    assert.match(badValue.json<ErrorBody>().message, /values\.amount: needs \{ "minorUnits"/);
    const unknown = await app.inject({ method: 'POST', url: `${TRANSACTION_SMS}/preview`, headers: staff.auth, payload: { body: 'DominionTrust: {ammount}.' } });
    assert.equal(unknown.statusCode, 400);
    assert.match(unknown.json<ErrorBody>().message, /\{ammount\} is an unknown variable/);

    const detail = await app.inject({ url, headers: staff.auth });
    assert.deepEqual(detail.json<{ history: unknown[] }>().history, [], 'a preview saves nothing');
  });
});

describe('held, skipped and failed notifications', () => {
  interface Stopped { type: string; channel: string; status: string; reason: string; holdUntil: string | null; customer: { username: string; phone: string | null } }

  it('lists what the pipeline held, skipped (moved) and failed, with reasons and the phone as last 4 only', async () => {
    const night = await addCustomer(t, { phone: '+14155558123', timeZone: 'Asia/Tokyo' }); // 15:00 UTC is midnight in Tokyo
    const noPhone = await addCustomer(t, { phone: null });
    const nobody = await addCustomer(t, { phone: null, email: null });
    await notify(t, night.id, 'transaction');
    await notify(t, noPhone.id, 'transaction');
    await notify(t, nobody.id, 'account_lockout');
    for (const c of [night, noPhone, nobody]) await settled(t, c.id);

    const res = await app.inject({ url: '/api/staff/notifications', headers: staff.auth });
    assert.equal(res.statusCode, 200);
    assert.doesNotMatch(res.body, /\+14155558123|4155558123/, 'never a full phone number');
    const list = res.json<{ notifications: Stopped[] }>().notifications;
    const held = list.find((n) => n.status === 'held')!;
    assert.deepEqual([held.type, held.channel, held.reason, held.customer.phone], ['transaction', 'sms', 'quiet_hours', '***8123']);
    assert.equal(held.holdUntil, '2026-11-25T22:00:00.000Z', '07:00 in Tokyo');
    assert.ok(list.some((n) => n.status === 'skipped' && n.channel === 'sms' && n.reason.startsWith('moved_to_email: ') && n.type === 'transaction'));
    assert.ok(list.some((n) => n.status === 'failed' && n.type === 'account_lockout' && n.channel === 'sms' && n.customer.phone === null));

    const onlyHeld = (await app.inject({ url: '/api/staff/notifications?status=held&type=transaction&limit=5', headers: staff.auth })).json<{ notifications: Stopped[] }>();
    assert.deepEqual(onlyHeld.notifications.map((n) => n.status), ['held']);
    const none = (await app.inject({ url: '/api/staff/notifications?status=failed&type=transaction', headers: staff.auth })).json<{ notifications: Stopped[] }>();
    assert.deepEqual(none.notifications, []);

    const badStatus = await app.inject({ url: '/api/staff/notifications?status=lost', headers: staff.auth });
    assert.equal(badStatus.statusCode, 400);
    assert.match(badStatus.json<ErrorBody>().message, /status: one of held, skipped, failed/);
    const badType = await app.inject({ url: '/api/staff/notifications?type=lottery', headers: staff.auth });
    assert.equal(badType.statusCode, 400);
    assert.match(badType.json<ErrorBody>().message, /Unknown notification type "lottery"/);
    const badLimit = await app.inject({ url: '/api/staff/notifications?limit=0', headers: staff.auth });
    assert.equal(badLimit.statusCode, 400);

    // The same decisions, counted for Prometheus.
    const metrics = (await app.inject({ url: '/metrics' })).body;
    assert.match(metrics, /dominion_notifications_total\{type="transaction",channel="sms",outcome="held"\} 1/);
    assert.match(metrics, /dominion_notifications_total\{type="transaction",channel="sms",outcome="moved"\} 1/);
    assert.match(metrics, /dominion_notifications_total\{type="account_lockout",channel="sms",outcome="failed"\} 1/);
    assert.match(metrics, /dominion_notifications_total\{type="account_lockout",channel="email",outcome="skipped"\} 1/);
    // The email the moved SMS became is counted when the mailer took it.
    await eventually(async () => ((await app.inject({ url: '/metrics' })).body
      .includes('dominion_notifications_total{type="transaction",channel="email",outcome="sent"} 1') ? true : undefined), 10_000, 'the email counted');
  });
});

describe('staff settings', () => {
  it('shows the Twilio configuration with the SID and auth token as last 4 only', async () => {
    const res = await app.inject({ url: '/api/staff/settings', headers: staff.auth });
    assert.equal(res.statusCode, 200);
    assert.ok(!res.body.includes(TEST_AUTH_TOKEN) && !res.body.includes(TEST_ACCOUNT_SID), 'no secret');
    assert.ok(!res.body.includes('+15005550006'), 'no full phone number');
    const { twilio, limits } = res.json<{ twilio: Record<string, unknown>; limits: { dailySpendCapUsd: number } }>();
    assert.equal(twilio.accountSid, `…${TEST_ACCOUNT_SID.slice(-4)}`);
    assert.equal(twilio.authToken, `…${TEST_AUTH_TOKEN.slice(-4)}`);
    assert.equal(twilio.phoneNumber, '***0006');
    assert.equal(limits.dailySpendCapUsd, 100);
  });
});

describe('admin console files', () => {
  it('serves the console page and its own scripts under a strict CSP', async () => {
    const page = await app.inject({ url: '/admin' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    assert.doesNotMatch(page.body, /<script>|\son\w+=|https?:\/\//, 'no inline script or handler, nothing from another origin');
    const script = await app.inject({ url: '/admin/assets/console.js' });
    assert.equal(script.statusCode, 200);
    assert.match(String(script.headers['content-type']), /^text\/javascript/);
    assert.equal(script.headers['content-security-policy'], csp);
    assert.equal((await app.inject({ url: '/admin/assets/../../config.ts' })).statusCode, 404);
    assert.equal((await app.inject({ url: '/admin/assets/secret.js' })).statusCode, 404);
  });
});
