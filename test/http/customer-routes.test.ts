// The customer's devices and message history over HTTP: GET/DELETE /api/devices, GET /api/messages.
// Two customers sign in through the real endpoints, so their codes and new-device alerts go through
// the worker and the Twilio simulator; each sees only their own, and another's id answers 404 like
// a random one. Forgetting a device signs its sessions out and makes its next sign-in "new" again.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { deviceOf } from '../../src/auth/sessions.ts';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { createUser } from '../../src/users/users.ts';
import { createTestContext, eventually, HeldClock, type TestContext } from '../helpers/context.ts';
import { codeIn, inbox, nextSms, PASSWORD, signIn } from '../helpers/customers.ts';

const clock = new HeldClock('2026-11-25T15:00:00Z');
let t: TestContext;
let app: FastifyInstance;

interface DeviceView { id: string; label: string; firstSeen: string; lastSeen: string; current: boolean }
interface MessageView {
  id: string; type: string; channel: string; status: string; reason: string | null; createdAt: string;
  sms: { status: string; toLast4: string; body: string; sentAt: string | null; deliveredAt: string | null } | null;
}
interface Page { messages: MessageView[]; nextBefore: string | null }

const PHONE = { agent: 'DominionApp/2.3 (iPhone)', deviceId: 'ana-phone' };
const TABLET = { agent: 'DominionApp/2.3 (iPad)', deviceId: 'ana-tablet' };
const ANA = '+14155558101';
const BOB = '+14155558102';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const get = (url: string, token: string) => app.inject({ url, headers: bearer(token) });

async function devicesOf(token: string): Promise<DeviceView[]> {
  const res = await get('/api/devices', token);
  assert.equal(res.statusCode, 200, res.body);
  return res.json<{ devices: DeviceView[] }>().devices;
}

async function allMessages(token: string): Promise<MessageView[]> {
  const res = await get('/api/messages?limit=200', token);
  assert.equal(res.statusCode, 200, res.body);
  return res.json<Page>().messages;
}

/** The history once the worker has turned every notification into its SMS (the link is written after the send). */
async function settledMessages(token: string): Promise<MessageView[]> {
  return eventually(async () => {
    const messages = await allMessages(token);
    return messages.every((m) => m.channel !== 'sms' || m.sms !== null) ? messages : undefined;
  }, 10_000, 'every SMS notification sent');
}

const signInFrom = (username: string, phone: string, device: { agent: string; deviceId: string }) =>
  signIn(t, app, { username, phone, userAgent: device.agent, deviceId: device.deviceId });

let anaPhone: string;
let bob: string;

before(async () => {
  t = await createTestContext({ clock, env: { SMS_USER_HOURLY_LIMIT: '0', SMS_USER_DAILY_LIMIT: '0', CODE_IP_LIMIT: '0', CODE_NUMBER_LIMIT: '0', LOGIN_IP_LIMIT: '0' } });
  await startWorker(t.ctx);
  app = buildApp(t.ctx);
  await createUser(t.ctx, { username: 'ana', password: PASSWORD, phone: ANA });
  await createUser(t.ctx, { username: 'bob', password: PASSWORD, phone: BOB });
  anaPhone = (await signInFrom('ana', ANA, PHONE)).token;
  clock.advance(60_000);
  bob = (await signInFrom('bob', BOB, { agent: 'DominionApp/2.3 (Pixel)', deviceId: 'bob-phone' })).token;
  // Both new-device alerts have gone out before the tests look at the history.
  await nextSms(t, ANA, 0, /new sign-in/, "ana's new-device alert");
  await nextSms(t, BOB, 0, /new sign-in/, "bob's new-device alert");
});
after(() => t.close());

describe('GET /api/devices', () => {
  it("lists only the customer's own devices, marks this session's, and never shows a fingerprint", async () => {
    clock.advance(60_000);
    const anaTablet = (await signInFrom('ana', ANA, TABLET)).token;
    const fromPhone = await devicesOf(anaPhone);
    assert.deepEqual(fromPhone.map((d) => [d.label, d.current]), [['DominionApp (iOS)', false], ['DominionApp (iOS)', true]], 'tablet seen last, phone is this session');
    assert.deepEqual((await devicesOf(anaTablet)).map((d) => d.current), [true, false]);
    for (const d of fromPhone) assert.match(d.id, /^[0-9a-f]{16}$/);
    assert.equal(fromPhone[1]?.firstSeen, '2026-11-25T15:00:00.000Z');
    assert.equal(fromPhone[0]?.firstSeen, '2026-11-25T15:02:00.000Z');

    const body = (await get('/api/devices', anaPhone)).body;
    for (const device of [PHONE, TABLET]) assert.ok(!body.includes(deviceOf(device.agent, device.deviceId).fingerprint), 'no full fingerprint');
    const bobs = await devicesOf(bob);
    assert.equal(bobs.length, 1);
    assert.ok(!fromPhone.some((d) => d.id === bobs[0]?.id), "bob's device is not in ana's list");
  });

  it('answers 401 without a session', async () => {
    assert.equal((await app.inject({ url: '/api/devices' })).statusCode, 401);
    assert.equal((await app.inject({ url: '/api/messages' })).statusCode, 401);
  });
});

describe('DELETE /api/devices/:id', () => {
  it("answers another customer's device exactly like a missing one, and leaves it alone", async () => {
    const [bobsDevice] = await devicesOf(bob);
    assert.ok(bobsDevice);
    const theirs = await app.inject({ method: 'DELETE', url: `/api/devices/${bobsDevice.id}`, headers: bearer(anaPhone) });
    const random = await app.inject({ method: 'DELETE', url: '/api/devices/0123456789abcdef', headers: bearer(anaPhone) });
    const garbage = await app.inject({ method: 'DELETE', url: '/api/devices/%25%25', headers: bearer(anaPhone) });
    for (const res of [theirs, random, garbage]) assert.equal(res.statusCode, 404);
    assert.equal(theirs.body, random.body);
    assert.equal(theirs.body, garbage.body);
    assert.match(theirs.json<{ message: string }>().message, /GET \/api\/devices/);
    assert.equal((await devicesOf(bob)).length, 1);
    assert.equal((await get('/api/devices', bob)).statusCode, 200, "bob's session still works");
  });

  it('signs out every session from the device; its next sign-in sends the new-device alert again', async () => {
    clock.advance(60_000);
    const tablet1 = (await signInFrom('ana', ANA, TABLET)).token;
    const tablet2 = (await signInFrom('ana', ANA, TABLET)).token;
    // Bob on the same tablet (same user agent and device id, so the same fingerprint): not ana's to forget.
    const bobTablet = (await signInFrom('bob', BOB, TABLET)).token;
    const tablet = (await devicesOf(anaPhone)).find((d) => !d.current);
    assert.ok(tablet);
    const alertsBefore = inbox(t, ANA).filter((b) => b.includes('new sign-in')).length;

    const res = await app.inject({ method: 'DELETE', url: `/api/devices/${tablet.id}`, headers: bearer(anaPhone) });
    assert.equal(res.statusCode, 200, res.body);
    // The tablet sessions of the earlier test and of this one: all signed out.
    const forgotten = res.json<{ id: string; sessionsRevoked: number; signedOut: boolean }>();
    assert.equal(forgotten.id, tablet.id);
    assert.equal(forgotten.sessionsRevoked, 3);
    assert.equal(forgotten.signedOut, false);
    for (const token of [tablet1, tablet2]) assert.equal((await get('/api/accounts', token)).statusCode, 401);
    assert.equal((await get('/api/accounts', anaPhone)).statusCode, 200, 'the phone session stays');
    assert.equal((await get('/api/accounts', bobTablet)).statusCode, 200, "bob's session on the same tablet stays");
    assert.equal((await devicesOf(bob)).length, 2, "bob's tablet stays his");
    assert.deepEqual((await devicesOf(anaPhone)).map((d) => d.current), [true]);
    const again = await app.inject({ method: 'DELETE', url: `/api/devices/${tablet.id}`, headers: bearer(anaPhone) });
    assert.equal(again.statusCode, 404, 'a forgotten device is gone');

    const back = await signInFrom('ana', ANA, TABLET);
    assert.equal(back.newDevice, true);
    await eventually(() => (inbox(t, ANA).filter((b) => b.includes('new sign-in')).length === alertsBefore + 1 ? true : undefined), 10_000, 'the new-device alert again');
  });

  it("forgetting this session's own device signs the caller out too", async () => {
    const token = (await signInFrom('ana', ANA, TABLET)).token;
    const own = (await devicesOf(token)).find((d) => d.current);
    assert.ok(own);
    const res = await app.inject({ method: 'DELETE', url: `/api/devices/${own.id}`, headers: bearer(token) });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json<{ signedOut: boolean }>().signedOut, true);
    assert.equal((await get('/api/devices', token)).statusCode, 401);
  });
});

describe('GET /api/messages', () => {
  it("shows the customer's own notifications with the SMS as logged: a code is ******, the number its last 4", async () => {
    const seen = inbox(t, ANA).length;
    clock.advance(60_000);
    const fresh = await app.inject({ method: 'POST', url: '/api/login', headers: { 'user-agent': PHONE.agent }, payload: { username: 'ana', password: PASSWORD, deviceId: PHONE.deviceId } });
    assert.equal(fresh.statusCode, 200, fresh.body);
    const code = codeIn(await nextSms(t, ANA, seen, /login code is/, 'the login code'));

    const messages = await settledMessages(anaPhone);
    const [latest] = messages;
    assert.equal(latest?.type, 'two_factor_code');
    assert.equal(latest?.channel, 'sms');
    assert.equal(latest?.sms?.toLast4, '8101');
    assert.match(latest?.sms?.body ?? '', /^DominionTrust: your login code is \*{6}\. It expires in 5 minutes\./);
    const body = (await get('/api/messages?limit=200', anaPhone)).body + (await get(`/api/messages/${latest?.id}`, anaPhone)).body;
    assert.ok(!body.includes(code), 'the real code appears nowhere');
    assert.ok(!body.includes(ANA) && !body.includes(ANA.slice(1)), 'the full number appears nowhere');

    const alert = messages.find((m) => m.type === 'new_device_login' && m.channel === 'sms');
    assert.match(alert?.sms?.body ?? '', /^DominionTrust: new sign-in from DominionApp \(iOS\)/);
    // The alert's email copy: what the policy decided and why, with no SMS of its own.
    const email = messages.find((m) => m.type === 'new_device_login' && m.channel === 'email');
    assert.deepEqual([email?.status, email?.reason, email?.sms], ['skipped', 'no_email_address', null]);
    // The status the simulator reported comes back to the history.
    const delivered = await eventually(async () => {
      const one = (await get(`/api/messages/${latest?.id}`, anaPhone)).json<{ message: MessageView }>().message;
      return one.sms?.status === 'delivered' ? one : undefined;
    }, 10_000, 'the code SMS delivered');
    assert.ok(delivered.sms?.deliveredAt);
    assert.ok(delivered.sms.sentAt);

    const bobs = await settledMessages(bob);
    assert.deepEqual([...new Set(bobs.map((m) => `${m.type}/${m.channel}`))].sort(), ['new_device_login/email', 'new_device_login/sms', 'two_factor_code/sms']);
    assert.ok(bobs.every((m) => m.sms === null || m.sms.toLast4 === '8102'), "bob's are his own");
    assert.ok(messages.every((m) => m.sms === null || m.sms.toLast4 === '8101'), "ana's are her own");
    const bobIds = new Set(bobs.map((m) => m.id));
    assert.ok(!messages.some((m) => bobIds.has(m.id)));
  });

  it("answers another customer's message exactly like a missing one", async () => {
    const [bobs] = await allMessages(bob);
    assert.ok(bobs);
    assert.equal((await get(`/api/messages/${bobs.id}`, bob)).statusCode, 200);
    const theirs = await get(`/api/messages/${bobs.id}`, anaPhone);
    const random = await get('/api/messages/5b0ae0a4-7c6c-4f43-9a1a-2b1f0e0c9d11', anaPhone);
    const garbage = await get('/api/messages/not-an-id', anaPhone);
    for (const res of [theirs, random, garbage]) assert.equal(res.statusCode, 404);
    assert.equal(theirs.body, random.body);
    assert.equal(theirs.body, garbage.body);
  });

  it('pages newest first by the createdAt cursor, through notifications of the same instant, without gaps or repeats', async () => {
    const all = await allMessages(anaPhone);
    assert.ok(all.length >= 8, `enough to page: ${all.length}`);
    const instants = all.map((m) => m.createdAt);
    assert.deepEqual(instants, [...instants].sort().reverse(), 'newest first');
    assert.ok(new Set(instants).size < instants.length, 'some share an instant (a code and its alert under a held clock)');

    const paged: MessageView[] = [];
    let url = '/api/messages?limit=3';
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 20, 'the pages end');
      const page = (await get(url, anaPhone)).json<Page>();
      assert.ok(page.messages.length <= 3);
      paged.push(...page.messages);
      if (!page.nextBefore) break;
      url = `/api/messages?limit=3&before=${encodeURIComponent(page.nextBefore)}`;
    }
    assert.deepEqual(paged.map((m) => m.id), all.map((m) => m.id));

    // A plain instant as `before`: everything strictly older.
    const cut = all[Math.floor(all.length / 2)]?.createdAt ?? '';
    const older = (await get(`/api/messages?before=${encodeURIComponent(cut)}`, anaPhone)).json<Page>().messages;
    assert.deepEqual(older.map((m) => m.id), all.filter((m) => m.createdAt < cut).map((m) => m.id));
  });

  it('refuses bad input with 400 and a message saying what to send', async () => {
    const cases: [string, RegExp][] = [
      ['limit=0', /limit: at least 1/],
      ['limit=201', /limit: at most 200/],
      ['limit=two', /limit: a whole number/],
      ['limit=1.5', /limit: a whole number/],
      ['before=yesterday', /before: the nextBefore of the previous page, or an ISO 8601 instant/],
      ['before=2026-11-25T15:00:00Z~not-a-uuid', /before: the nextBefore/],
      ['before=2026-13-45T99:00:00Z', /before: the nextBefore/],
      ['page=2', /page/],
    ];
    for (const [query, message] of cases) {
      const res = await get(`/api/messages?${query}`, anaPhone);
      assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
      const error = res.json<{ error: string; message: string }>();
      assert.equal(error.error, 'validation_failed');
      assert.match(error.message, message, query);
    }
  });
});
