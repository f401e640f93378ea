// The customer's choices over the API (GET/PATCH /api/preferences): every preference valid,
// invalid and under its floor; the language reaching the next SMS, quiet hours in the customer's
// own zone, the digest switch; each change an event told once; the SMS consent record of a STOP
// and a START kept one truth with the app's preference; staff's read of it all.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { and, eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import twilio from 'twilio';
import { bankEvents, notifications, phoneStatus } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { TEST_AUTH_TOKEN, TEST_SENDER, eventually } from '../helpers/context.ts';
import { customer, type Customer } from '../helpers/customers.ts';
import { handedOver, notify, openPipeline, settled, smsArrived, type PipelineFixture } from '../notifications/pipeline-fixture.ts';

const PUBLIC_URL = 'https://bank.example.test';
const INBOUND_URL = `${PUBLIC_URL}/webhooks/twilio/inbound`;

let f: PipelineFixture;
let app: FastifyInstance;
let seq = 7000;
let sids = 0;

before(async () => {
  // 15:00 UTC: 10:00 in New York (no quiet hours), midnight in Tokyo.
  f = await openPipeline({ env: { PUBLIC_BASE_URL: PUBLIC_URL }, start: '2026-11-25T15:00:00Z' });
  app = buildApp(f.t.ctx);
  await app.ready();
});
after(async () => {
  await app.close();
  await f.close();
});

async function newCustomer(name: string, options: { isStaff?: boolean } = {}): Promise<Customer> {
  return customer(f.t, `${name}${seq}`, `+1415556${seq++}`, options);
}

const getPrefs = (c: Customer) => app.inject({ url: '/api/preferences', headers: c.auth });
const patch = (c: Customer, payload: object) => app.inject({ method: 'PATCH', url: '/api/preferences', headers: c.auth, payload });

interface Prefs {
  notifications: { type: string; sms: boolean; email: boolean; source: string; floor: string }[];
  quietHours: { start: string; end: string } | null;
  timeZone: string;
  digest: boolean;
  language: string;
  languages: string[];
  codeDelivery: string;
  sms: { granted: boolean; phone: string; optedOutReason: string | null; howToResume: string | null; history: { action: string; method: string; detail: string }[] };
}

async function prefsOf(c: Customer): Promise<Prefs> {
  const res = await getPrefs(c);
  assert.equal(res.statusCode, 200, res.body);
  return res.json<{ preferences: Prefs }>().preferences;
}

async function patchOk(c: Customer, payload: object): Promise<{ preferences: Prefs; changed: string[] }> {
  const res = await patch(c, payload);
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

async function refused(c: Customer, payload: object, status: number, message: RegExp): Promise<void> {
  const res = await patch(c, payload);
  assert.equal(res.statusCode, status, res.body);
  assert.match(res.json<{ message: string }>().message, message);
}

function inbound(phone: string, body: string) {
  sids++;
  const sid = `SM${String(sids).padStart(8, '0')}${'cd'.repeat(12)}`;
  const params = { AccountSid: 'AC0123456789abcdef0123456789abcdef', MessageSid: sid, From: phone, To: TEST_SENDER, Body: body, ApiVersion: '2010-04-01' };
  return app.inject({
    method: 'POST', url: '/webhooks/twilio/inbound', payload: new URLSearchParams(params).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, INBOUND_URL, params) },
  });
}

async function noticesOf(c: Customer) {
  return f.t.ctx.db.select().from(notifications).where(and(eq(notifications.userId, c.user.id), eq(notifications.type, 'preferences_changed')));
}

describe('GET /api/preferences', () => {
  it('shows the defaults: catalogue channels with their floors, 22:00-07:00 in New York, no digest, English, codes by SMS, SMS agreed', async () => {
    const c = await newCustomer('pat');
    const prefs = await prefsOf(c);
    assert.deepEqual(prefs.quietHours, { start: '22:00', end: '07:00' });
    assert.equal(prefs.timeZone, 'America/New_York');
    assert.equal(prefs.digest, false);
    assert.equal(prefs.language, 'en');
    assert.deepEqual(prefs.languages, ['en', 'es']);
    assert.equal(prefs.codeDelivery, 'sms');
    assert.equal(prefs.sms.granted, true);
    const code = prefs.notifications.find((n) => n.type === 'two_factor_code');
    assert.deepEqual(code && [code.sms, code.email, code.floor, code.source], [true, false, 'sms', 'default']);
    assert.equal(prefs.notifications.find((n) => n.type === 'account_lockout')?.floor, 'one_channel');
  });

  it('needs a session', async () => {
    assert.equal((await app.inject({ url: '/api/preferences' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'PATCH', url: '/api/preferences', payload: { digest: true } })).statusCode, 401);
  });
});

describe('PATCH /api/preferences', () => {
  it('sets channels per type; the change is an event and the customer is told once; the same request again tells nobody', async () => {
    const c = await newCustomer('quin');
    const done = await patchOk(c, { channels: { transaction: { sms: false, email: true }, account_lockout: { sms: false, email: true } } });
    assert.deepEqual(new Set(done.changed), new Set(['channels.transaction', 'channels.account_lockout']));
    const tx = done.preferences.notifications.find((n) => n.type === 'transaction');
    assert.deepEqual(tx && [tx.sms, tx.email, tx.source], [false, true, 'customer']);
    const events = await f.t.ctx.db.select().from(bankEvents).where(and(eq(bankEvents.userId, c.user.id), eq(bankEvents.type, 'preferences.changed')));
    assert.equal(events.length, 1);
    assert.match(String((events[0]!.payload as { changed: string }).changed), /channels\.transaction/);
    await smsArrived(f.t, c.phone, 1);
    assert.match(f.t.sim.messages().find((m) => m.to === c.phone)!.body, /^DominionTrust: your notification settings were changed/);
    await eventually(() => (f.smtp.to(c.user.email!).length >= 1 ? true : undefined), 10_000, 'the notice email');

    const again = await patchOk(c, { channels: { transaction: { sms: false, email: true } } });
    assert.deepEqual(again.changed, []);
    assert.equal((await noticesOf(c)).filter((n) => n.channel === 'sms').length, 1, 'told once');
  });

  it('refuses a choice under a type\'s floor, naming the type', async () => {
    const c = await newCustomer('rue');
    await refused(c, { channels: { two_factor_code: { sms: false, email: false } } }, 400, /Two-factor login code messages cannot be switched off/);
    await refused(c, { channels: { transfer_confirmation_code: { sms: true, email: true } } }, 400, /Transfer confirmation code messages are sent by SMS only/);
    await refused(c, { channels: { account_lockout: { sms: false, email: false } } }, 400, /Account lockout alerts protect your account/);
    await refused(c, { channels: { suspicious_activity: { sms: false, email: false } } }, 400, /Suspicious activity alerts/);
    // Nothing of a refused request is kept, even the valid part.
    await refused(c, { digest: true, channels: { new_device_login: { sms: false, email: false } } }, 400, /New-device login/);
    assert.equal((await prefsOf(c)).digest, false);
    assert.equal((await noticesOf(c)).length, 0);
  });

  it('refuses invalid input with what to send instead', async () => {
    const c = await newCustomer('sol');
    await refused(c, { channels: { fax_alerts: { sms: true, email: false } } }, 400, /Unknown notification type "fax_alerts". Known types: two_factor_code/);
    await refused(c, { channels: { transaction: { sms: 'yes', email: false } } }, 400, /channels\.transaction\.sms: true or false/);
    await refused(c, { quietHours: { start: '25:00', end: '07:00' } }, 400, /quietHours\.start: a time of day as HH:MM/);
    await refused(c, { timeZone: 'Mars/Olympus_Mons' }, 400, /Unknown time zone "Mars\/Olympus_Mons"; use an IANA name/);
    await refused(c, { timeZone: '+05:00' }, 400, /not an IANA time zone name/);
    await refused(c, { language: 'fr' }, 400, /"fr" is not a language the bank writes in; choose one of en, es/);
    await refused(c, { codeDelivery: 'pigeon' }, 400, /codeDelivery: one of sms, voice/);
    await refused(c, { digest: 'daily' }, 400, /digest: true or false/);
    await refused(c, {}, 400, /nothing to change/);
    await refused(c, { colour: 'blue' }, 400, /colour/);
    const untouched = await prefsOf(c);
    assert.equal(untouched.timeZone, 'America/New_York');
    assert.equal(untouched.language, 'en');
  });

  it('the language switch reaches the next SMS', async () => {
    const c = await newCustomer('tea');
    const done = await patchOk(c, { language: 'es' });
    assert.deepEqual(done.changed, ['language']);
    assert.equal(done.preferences.language, 'es');
    // The notice of the change is itself in the new language.
    const [notice] = await smsArrived(f.t, c.phone, 1);
    assert.match(notice!.body, /^DominionTrust: se cambiaron sus avisos/);
    await notify(f.t, c.user.id, 'transaction');
    const messages = await smsArrived(f.t, c.phone, 2);
    assert.match(messages[0]!.body, /^DominionTrust: movimiento de/);
  });

  it('quiet hours follow the customer\'s own zone: midnight in Tokyo holds an alert that New York gets at once', async () => {
    const tokyo = await newCustomer('uma');
    const done = await patchOk(tokyo, { timeZone: 'Asia/Tokyo', quietHours: { start: '23:00', end: '06:30' } });
    assert.deepEqual(new Set(done.changed), new Set(['timeZone', 'quietHours']));
    assert.deepEqual(done.preferences.quietHours, { start: '23:00', end: '06:30' });
    const newYork = await newCustomer('vic');
    await notify(f.t, tokyo.user.id, 'transaction');
    await notify(f.t, newYork.user.id, 'transaction');
    const held = (await settled(f.t, tokyo.user.id)).find((n) => n.type === 'transaction' && n.channel === 'sms');
    assert.equal(held?.status, 'held');
    assert.equal(held?.reason, 'quiet_hours');
    // 06:30 in Tokyo is 21:30 UTC.
    assert.equal(held?.holdUntil?.toISOString(), '2026-11-25T21:30:00.000Z');
    const sent = (await settled(f.t, newYork.user.id)).find((n) => n.type === 'transaction' && n.channel === 'sms');
    assert.equal(sent && handedOver(sent), 'queued or sent');

    const off = await patchOk(tokyo, { quietHours: null });
    assert.equal(off.preferences.quietHours, null);
  });

  it('the digest switch: transaction alerts go into the daily summary, and come back when it is off', async () => {
    const c = await newCustomer('wes');
    assert.deepEqual((await patchOk(c, { digest: true })).changed, ['digest']);
    await notify(f.t, c.user.id, 'transaction');
    const digested = (await settled(f.t, c.user.id)).filter((n) => n.type === 'transaction');
    assert.deepEqual(digested.map((n) => n.status), ['digested']);
    assert.deepEqual((await patchOk(c, { digest: false })).changed, ['digest']);
    await notify(f.t, c.user.id, 'transaction');
    const rows = (await settled(f.t, c.user.id)).filter((n) => n.type === 'transaction').map(handedOver).sort();
    assert.deepEqual(rows, ['digested', 'queued or sent']);
  });

  it('"call me instead": codes by voice call', async () => {
    const c = await newCustomer('xan');
    const done = await patchOk(c, { codeDelivery: 'voice' });
    assert.deepEqual(done.changed, ['codeDelivery']);
    assert.equal((await prefsOf(c)).codeDelivery, 'voice');
  });
});

describe('SMS consent: STOP, START and the preference are one truth, on record', () => {
  it('a STOP is recorded as withdrawn by reply; the app cannot lift it and says to text START; START is recorded as agreed', async () => {
    const c = await newCustomer('yan');
    assert.equal((await inbound(c.phone, 'STOP')).statusCode, 200);
    const stopped = await prefsOf(c);
    assert.equal(stopped.sms.granted, false);
    assert.equal(stopped.sms.optedOutReason, 'replied STOP');
    assert.equal(stopped.sms.howToResume, `Text START to ${TEST_SENDER} from ***${c.phone.slice(-4)}.`);
    assert.deepEqual(stopped.sms.history.map((h) => [h.action, h.method, h.detail]), [['withdrawn', 'sms_reply', `replied STOP to ${TEST_SENDER}`]]);

    await refused(c, { smsConsent: true }, 409, new RegExp(`only your phone can lift that\\. Text START to \\${TEST_SENDER}`));
    assert.equal((await prefsOf(c)).sms.granted, false);

    await inbound(c.phone, 'START');
    const started = await prefsOf(c);
    assert.equal(started.sms.granted, true);
    assert.equal(started.sms.howToResume, null);
    assert.deepEqual(started.sms.history.map((h) => [h.action, h.method]), [['granted', 'sms_reply'], ['withdrawn', 'sms_reply']]);
  });

  it('switching SMS off in the app opts the number out like a STOP (alerts move to email); switching it on lifts it', async () => {
    const c = await newCustomer('zed');
    const off = await patchOk(c, { smsConsent: false });
    assert.deepEqual(off.changed, ['smsConsent']);
    assert.equal(off.preferences.sms.optedOutReason, 'chose no SMS in the app');
    const [row] = await f.t.ctx.db.select().from(phoneStatus).where(eq(phoneStatus.phoneNumber, c.phone));
    assert.ok(row?.optedOutAt, 'the number is opted out, as after a STOP');
    await notify(f.t, c.user.id, 'transaction');
    const moved = (await settled(f.t, c.user.id)).filter((n) => n.type === 'transaction').map((n) => [n.channel, n.status, n.reason]).sort();
    assert.deepEqual(moved, [['email', 'sent', 'moved_to_email: phone_opted_out'], ['sms', 'skipped', 'moved_to_email: phone_opted_out']]);
    assert.equal(f.t.sim.messages().filter((m) => m.to === c.phone).length, 0, 'not even the notice went by SMS');

    const on = await patchOk(c, { smsConsent: true });
    assert.deepEqual(on.changed, ['smsConsent']);
    assert.equal(on.preferences.sms.granted, true);
    assert.deepEqual(on.preferences.sms.history.map((h) => [h.action, h.method, h.detail]), [
      ['granted', 'preference', 'switched SMS on in the app'], ['withdrawn', 'preference', 'switched SMS off in the app'],
    ]);
  });
});

describe('GET /api/staff/customers/:id/preferences', () => {
  it('shows staff a customer\'s choices, consent record and preference events; customers and unknown ids are refused', async () => {
    const staff = await newCustomer('staff', { isStaff: true });
    const c = await newCustomer('abe');
    await patchOk(c, { language: 'es', digest: true });
    await inbound(c.phone, 'STOP');
    const res = await app.inject({ url: `/api/staff/customers/${c.user.id}/preferences`, headers: staff.auth });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json<{ preferences: Prefs; consent: { action: string; method: string }[]; events: { type: string; payload: { changed: string } }[] }>();
    assert.equal(body.preferences.language, 'es');
    assert.deepEqual(body.consent.map((e) => [e.action, e.method]), [['withdrawn', 'sms_reply']]);
    assert.deepEqual(body.events.map((e) => [e.type, e.payload.changed]), [['preferences.changed', 'digest,language']]);

    assert.equal((await app.inject({ url: `/api/staff/customers/${c.user.id}/preferences`, headers: c.auth })).statusCode, 403);
    assert.equal((await app.inject({ url: '/api/staff/customers/00000000-0000-4000-8000-000000000000/preferences', headers: staff.auth })).statusCode, 404);
    assert.equal((await app.inject({ url: '/api/staff/customers/not-a-uuid/preferences', headers: staff.auth })).statusCode, 404);
  });
});
