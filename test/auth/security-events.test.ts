// Security events: the lockout signs out every session; the suspicious-activity rules each alert
// once and stay quiet on normal behaviour: (a) wrong codes from new devices, (b) a sign-in from a
// new country (from the trusted GEO_COUNTRY_HEADER), (c) a large transfer soon after a password
// change; and the per-IP limits of POST /api/login and /api/register answer 429 with Retry-After.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { and, eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { checkLargeTransferAfterPasswordChange } from '../../src/auth/suspicious.ts';
import { bankEvents, loginCountries, smsMessages, userProfiles, users } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { createTestContext, HeldClock, type TestContext } from '../helpers/context.ts';
import { codeIn, customer, inbox, nextSms, PASSWORD, signIn, wrong, type Customer } from '../helpers/customers.ts';

const clock = new HeldClock('2026-11-25T15:00:00Z');
let t: TestContext;
let app: FastifyInstance;
let phoneSeq = 7100;

before(async () => {
  t = await createTestContext({
    clock,
    env: { CODE_IP_LIMIT: '0', CODE_NUMBER_LIMIT: '0', LOGIN_IP_LIMIT: '3', REGISTER_IP_LIMIT: '2', GEO_COUNTRY_HEADER: 'CF-IPCountry' },
  });
  await startWorker(t.ctx);
  app = buildApp(t.ctx);
});
after(() => t.close());

// Each test signs in from its own address, so the per-IP limit of 3 is only met where it is tested.
let ipSeq = 1;
const nextIp = () => `198.51.100.${ipSeq++}`;

async function login(c: Customer, input: { deviceId: string; ip?: string; country?: string }): Promise<{ challengeId: string; code: string; headers: Record<string, string> }> {
  const headers: Record<string, string> = { 'user-agent': 'DominionApp/3.1', ...(input.country && { 'cf-ipcountry': input.country }) };
  const seen = inbox(t, c.phone).length;
  const res = await app.inject({ method: 'POST', url: '/api/login', headers, remoteAddress: input.ip ?? nextIp(), payload: { username: c.user.username, password: PASSWORD, deviceId: input.deviceId } });
  assert.equal(res.statusCode, 200, res.body);
  const code = codeIn(await nextSms(t, c.phone, seen, /login code is|clave para ingresar/, 'the login code'));
  return { challengeId: res.json<{ challengeId: string }>().challengeId, code, headers };
}

const verify = (started: { challengeId: string; headers: Record<string, string> }, code: string) =>
  app.inject({ method: 'POST', url: '/api/login/verify', headers: started.headers, payload: { challengeId: started.challengeId, code } });

async function suspiciousEvents(userId: string) {
  return t.ctx.db.select().from(bankEvents).where(and(eq(bankEvents.userId, userId), eq(bankEvents.type, 'login.suspicious')));
}

const newCustomer = (name: string) => customer(t, name, `+1415555${phoneSeq++}`);
const accounts = (c: Customer) => app.inject({ url: '/api/accounts', headers: c.auth });

describe('lockout', () => {
  it('signs out every session of the locked customer', async () => {
    const c = await newCustomer('abe');
    assert.equal((await accounts(c)).statusCode, 200);
    for (let i = 1; i <= 5; i++) {
      await app.inject({ method: 'POST', url: '/api/login', remoteAddress: nextIp(), payload: { username: 'abe', password: 'a wrong password here' } });
    }
    const res = await accounts(c);
    assert.equal(res.statusCode, 401, 'the session stolen or not, it no longer opens the account');
    const events = await t.ctx.db.select().from(bankEvents).where(eq(bankEvents.userId, c.user.id));
    assert.deepEqual(events.map((e) => e.type), ['login.locked']);
    assert.equal((events[0]?.payload as { sessionsRevoked: number }).sessionsRevoked, 1);
  });
});

describe('suspicious activity (a): wrong codes from new devices', () => {
  it('alerts once when 3 wrong codes come from a device new to the customer within 15 minutes', async () => {
    const c = await newCustomer('bob');
    const started = await login(c, { deviceId: 'stranger-1' });
    for (let i = 1; i <= 3; i++) assert.equal((await verify(started, wrong(started.code))).statusCode, 400);
    const alert = await nextSms(t, c.phone, 0, /we noticed/, 'the suspicious-activity SMS');
    assert.match(alert, /^DominionTrust: we noticed 3 wrong sign-in codes from a device you have not used before on .+\. Not you\? Call the number on the back of your card now\.$/);
    assert.equal((await verify(started, wrong(started.code))).statusCode, 400, 'a fourth');
    assert.equal((await suspiciousEvents(c.user.id)).length, 1, 'once per window');
  });

  it('stays quiet for 2 wrong codes from a new device, and for wrong codes from a known device', async () => {
    const c = await newCustomer('cid');
    const fresh = await login(c, { deviceId: 'stranger-2' });
    for (let i = 1; i <= 2; i++) assert.equal((await verify(fresh, wrong(fresh.code))).statusCode, 400);
    assert.equal((await verify(fresh, fresh.code)).statusCode, 200, 'the customer then types the right code');
    clock.advance(16 * 60_000);
    const known = await login(c, { deviceId: 'stranger-2' }); // known now
    for (let i = 1; i <= 4; i++) assert.equal((await verify(known, wrong(known.code))).statusCode, 400);
    assert.deepEqual(await suspiciousEvents(c.user.id), []);
    assert.equal(inbox(t, c.phone).some((b) => b.includes('we noticed')), false);
  });
});

describe('suspicious activity (b): sign-in from a new country', () => {
  it('remembers the first country silently, alerts on a new one once, and not on a known one', async () => {
    const c = await newCustomer('dee');
    const signInFrom = async (country: string | undefined) => {
      const started = await login(c, { deviceId: 'dee-phone', country });
      const res = await verify(started, started.code);
      assert.equal(res.statusCode, 200, res.body);
    };
    await signInFrom('us');
    await signInFrom('US');
    await signInFrom(undefined);
    await signInFrom('XX');
    assert.deepEqual(await suspiciousEvents(c.user.id), []);
    await signInFrom('FR');
    const alert = await nextSms(t, c.phone, 0, /we noticed/, 'the new-country alert');
    assert.match(alert, /^DominionTrust: we noticed a sign-in from France on .+\. Not you\?/);
    await signInFrom('FR');
    await signInFrom('US');
    const events = await suspiciousEvents(c.user.id);
    assert.equal(events.length, 1);
    assert.deepEqual((events[0]?.payload as { rule: string; country: string }).country, 'FR');
    const countries = await t.ctx.db.select({ country: loginCountries.country }).from(loginCountries).where(eq(loginCountries.userId, c.user.id));
    assert.deepEqual(countries.map((r) => r.country).sort(), ['FR', 'US']);
  });
});

describe('suspicious activity in the customer\'s language', () => {
  it('tells a Spanish-speaking customer in Spanish, within GSM-7 (Perú loses its accent), and keeps English for staff', async () => {
    const c = await newCustomer('paz');
    await t.ctx.db.update(userProfiles).set({ language: 'es' }).where(eq(userProfiles.userId, c.user.id));
    for (const country of ['US', 'PE']) {
      const started = await login(c, { deviceId: 'paz-phone', country });
      assert.equal((await verify(started, started.code)).statusCode, 200);
    }
    const alert = await nextSms(t, c.phone, 0, /detectamos/, 'the Spanish alert');
    assert.match(alert, /^DominionTrust: detectamos un ingreso desde Peru el 25 nov 2026, \d{1,2}:\d\d [ap]\.m\. ¿No fue usted\? Llame ya al teléfono de su tarjeta\.$/);
    const [logged] = await t.ctx.db.select({ encoding: smsMessages.encoding, segments: smsMessages.segments }).from(smsMessages)
      .where(and(eq(smsMessages.userId, c.user.id), eq(smsMessages.type, 'suspicious_activity')));
    assert.deepEqual(logged, { encoding: 'GSM-7', segments: 1 });
    const [event] = await suspiciousEvents(c.user.id);
    assert.equal((event?.payload as { activity: string }).activity, 'a sign-in from Peru');
  });
});

describe('suspicious activity (c): checkLargeTransferAfterPasswordChange', () => {
  it('alerts for a transfer at or above SUSPICIOUS_TRANSFER_MINOR within 24 hours of a password change, only then', async () => {
    const c = await newCustomer('eve');
    const check = (amountMinor: number, now = clock.now()) =>
      t.ctx.db.transaction((tx) => checkLargeTransferAfterPasswordChange(t.ctx, tx, { userId: c.user.id, amountMinor, currency: 'USD', now }));
    assert.equal(await check(5_000_000), false, 'no password change: no alert');
    const changedAt = clock.now();
    await t.ctx.db.update(users).set({ passwordChangedAt: changedAt }).where(eq(users.id, c.user.id));
    assert.equal(await check(99_999), false, 'below the threshold');
    assert.equal(await check(100_000, new Date(changedAt.getTime() + 24 * 3600_000 + 1)), false, 'more than 24 hours later');
    assert.equal(await check(100_000, new Date(changedAt.getTime() + 3600_000)), true);
    const alert = await nextSms(t, c.phone, 0, /we noticed/, 'the alert');
    assert.match(alert, /^DominionTrust: we noticed a transfer of \$1,000\.00 soon after a password change on .+\. Not you\?/);
    const events = await t.ctx.db.select().from(bankEvents).where(eq(bankEvents.userId, c.user.id));
    assert.deepEqual(events.map((e) => [e.type, (e.payload as { rule: string }).rule]), [['suspicious.activity', 'large_transfer_after_password_change']]);
  });
});

describe('per-IP limits', () => {
  it('answers 429 with Retry-After past 3 sign-in attempts from one IP in 10 minutes; other IPs go on', async () => {
    const c = await newCustomer('fay');
    const attempt = (ip: string) => app.inject({ method: 'POST', url: '/api/login', remoteAddress: ip, payload: { username: 'nobody-here', password: 'whatever it is' } });
    for (let i = 1; i <= 3; i++) assert.equal((await attempt('203.0.113.9')).statusCode, 401);
    const refused = await attempt('203.0.113.9');
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.json<{ error: string }>().error, 'too_many_requests');
    assert.match(refused.json<{ message: string }>().message, /^Too many sign-in attempts from this network: at most 3 in 10 minutes\./);
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(retryAfter > 0 && retryAfter <= 600, `Retry-After ${retryAfter}`);
    const right = await app.inject({ method: 'POST', url: '/api/login', remoteAddress: '203.0.113.9', payload: { username: c.user.username, password: PASSWORD } });
    assert.equal(right.statusCode, 429, 'even the right password waits');
    assert.equal((await attempt('203.0.113.10')).statusCode, 401, 'another address is not affected');
    clock.advance(retryAfter * 1000);
    assert.equal((await attempt('203.0.113.9')).statusCode, 401, 'the next window opens');
  });

  it('answers 429 past 2 registrations from one IP in 10 minutes', async () => {
    const register = (n: number) => app.inject({
      method: 'POST', url: '/api/register', remoteAddress: '203.0.113.20',
      payload: { username: `reg${n}`, email: `reg${n}@example.com`, password: PASSWORD, phone: `+1415555${7900 + n}` },
    });
    assert.equal((await register(1)).statusCode, 201);
    assert.equal((await register(2)).statusCode, 201);
    const third = await register(3);
    assert.equal(third.statusCode, 429);
    assert.match(third.json<{ message: string }>().message, /^Too many registrations from this network: at most 2 in 10 minutes\./);
    assert.ok(Number(third.headers['retry-after']) > 0);
  });
});

describe('sign-in alerts through recordEvent', () => {
  it('records login.new_device with the new-device SMS', async () => {
    const c = await newCustomer('gil');
    await signIn(t, app, { username: 'gil', phone: c.phone, deviceId: 'gil-phone' });
    await nextSms(t, c.phone, 0, /new sign-in/, 'the new-device alert');
    const events = await t.ctx.db.select().from(bankEvents).where(eq(bankEvents.userId, c.user.id));
    assert.deepEqual(events.map((e) => e.type), ['login.new_device']);
  });
});
