// Sign-in through the HTTP endpoints: password, then the 6-digit code the phone received, then a
// session token. Each refusal a customer can meet, the lockout and its SMS, and the new-device alert.
import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { users } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { createUser } from '../../src/users/users.ts';
import { createTestContext, eventually, HeldClock, type TestContext } from '../helpers/context.ts';
import { codeIn, inbox, nextSms, PASSWORD, signIn, wrong } from '../helpers/customers.ts';

const clock = new HeldClock('2026-11-25T15:00:00Z');
let t: TestContext;
let app: FastifyInstance;
let phoneSeq = 4000;

before(async () => {
  t = await createTestContext({ clock, env: { CODE_IP_LIMIT: '0', LOGIN_IP_LIMIT: '0' } });
  await startWorker(t.ctx);
  app = buildApp(t.ctx);
});
after(() => t.close());

/** A new active customer with a phone of their own. */
async function newCustomer(username: string): Promise<string> {
  const phone = `+1415555${phoneSeq++}`;
  await createUser(t.ctx, { username, password: PASSWORD, phone });
  return phone;
}

const post = (url: string, payload: object, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, payload, headers: { 'user-agent': 'DominionApp/1.0', ...headers } });

/** Password step; returns the challenge and the code the phone received. */
async function passwordStep(username: string, phone: string, deviceId?: string): Promise<{ challengeId: string; code: string }> {
  const seen = inbox(t, phone).length;
  const res = await post('/api/login', { username, password: PASSWORD, deviceId });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json<{ challengeId: string; destination: string; expiresAt: string }>();
  assert.equal(body.destination, `***${phone.slice(-4)}`);
  const sms = await nextSms(t, phone, seen, /login code is/, 'the login code');
  assert.match(sms, /^DominionTrust: your login code is \d{6}\. It expires in 5 minutes\. We will never ask you for this code\./);
  return { challengeId: body.challengeId, code: codeIn(sms) };
}

describe('POST /api/login, /api/login/verify, /api/logout', () => {
  it('signs in with password and SMS code; the token opens the API until logout', async () => {
    const phone = await newCustomer('gus');
    const { challengeId, code } = await passwordStep('gus', phone);
    const res = await post('/api/login/verify', { challengeId, code });
    assert.equal(res.statusCode, 200, res.body);
    const session = res.json<{ token: string; tokenType: string; expiresAt: string; user: { username: string } }>();
    assert.equal(session.tokenType, 'Bearer');
    assert.equal(Buffer.from(session.token, 'base64url').length, 32);
    assert.equal(new Date(session.expiresAt).getTime() - clock.now().getTime(), 12 * 3600_000);
    assert.equal(session.user.username, 'gus');

    const authorization = `Bearer ${session.token}`;
    assert.equal((await app.inject({ url: '/api/accounts', headers: { authorization } })).statusCode, 200);
    assert.equal((await app.inject({ method: 'POST', url: '/api/logout', headers: { authorization } })).statusCode, 204);
    const after = await app.inject({ url: '/api/accounts', headers: { authorization } });
    assert.equal(after.statusCode, 401);
    assert.equal(after.json<{ error: string }>().error, 'unauthenticated');
  });

  it('answers 401 without a token, with a bogus one, and with an expired session', async () => {
    assert.equal((await app.inject({ url: '/api/accounts' })).statusCode, 401);
    assert.equal((await app.inject({ url: '/api/accounts', headers: { authorization: 'Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } })).statusCode, 401);
    const phone = await newCustomer('hal');
    const { token } = await signIn(t, app, { username: 'hal', phone });
    clock.advance(12 * 3600_000);
    assert.equal((await app.inject({ url: '/api/accounts', headers: { authorization: `Bearer ${token}` } })).statusCode, 401);
  });

  it('refuses a wrong password and an unknown username alike (401)', async () => {
    await newCustomer('ida');
    const wrongPassword = await post('/api/login', { username: 'ida', password: 'not the password at all' });
    const unknown = await post('/api/login', { username: 'nobody', password: PASSWORD });
    assert.equal(wrongPassword.statusCode, 401);
    assert.deepEqual(unknown.json(), wrongPassword.json());
    assert.deepEqual(unknown.json(), { error: 'unauthenticated', message: 'Wrong username or password.' });
  });

  it('replaces a scrypt password hash from before argon2id at the next sign-in, keeping the session and the password', async () => {
    const phone = await newCustomer('ivo');
    const salt = randomBytes(16);
    const key = scryptSync(PASSWORD.normalize('NFKC'), salt, 32, { N: 2 ** 10, r: 8, p: 3 });
    const legacy = `$scrypt$ln=10,r=8,p=3$${salt.toString('base64url')}$${key.toString('base64url')}`;
    await t.ctx.db.update(users).set({ passwordHash: legacy }).where(eq(users.username, 'ivo'));
    const stored = async () => (await t.ctx.db.select({ hash: users.passwordHash, changedAt: users.passwordChangedAt }).from(users).where(eq(users.username, 'ivo')))[0]!;
    const before = await stored();
    // A wrong password leaves the old hash alone.
    assert.equal((await post('/api/login', { username: 'ivo', password: 'not the password at all' })).statusCode, 401);
    assert.equal((await stored()).hash, legacy);

    const { token } = await signIn(t, app, { username: 'ivo', phone });
    const upgraded = await stored();
    assert.match(upgraded.hash, /^\$argon2id\$v=19\$m=608,t=2,p=1\$/, 'argon2id at the configured cost');
    assert.deepEqual(upgraded.changedAt, before.changedAt, 'not a password change');
    assert.equal((await app.inject({ url: '/api/accounts', headers: { authorization: `Bearer ${token}` } })).statusCode, 200, 'the session stands');
    // The same password signs in against the new hash, which is then left as it is.
    await signIn(t, app, { username: 'ivo', phone });
    assert.equal((await stored()).hash, upgraded.hash);
  });

  it('refuses a wrong code (400, attempts left), an expired code and a reused code (410)', async () => {
    const phone = await newCustomer('jon');
    const first = await passwordStep('jon', phone);
    const bad = await post('/api/login/verify', { challengeId: first.challengeId, code: wrong(first.code) });
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(bad.json(), { error: 'code_rejected', message: 'Wrong code: 4 attempts left. Check the latest SMS from DominionTrust.' });
    assert.equal((await post('/api/login/verify', first)).statusCode, 200);
    const reused = await post('/api/login/verify', first);
    assert.equal(reused.statusCode, 410);
    assert.equal(reused.json<{ error: string }>().error, 'code_used');

    const second = await passwordStep('jon', phone);
    clock.advance(5 * 60_000);
    const expired = await post('/api/login/verify', second);
    assert.equal(expired.statusCode, 410);
    assert.match(expired.json<{ message: string }>().message, /^Code expired: a code is valid for 5 minutes\./);
  });

  it('refuses a challenge id no sign-in is waiting on', async () => {
    const res = await post('/api/login/verify', { challengeId: '00000000-0000-4000-8000-000000000000', code: '123456' });
    assert.equal(res.statusCode, 400);
    assert.match(res.json<{ message: string }>().message, /sign in again/);
  });

  it('locks the account after 5 wrong codes; the sixth attempt is refused even with the right code', async () => {
    const phone = await newCustomer('kim');
    const { challengeId, code } = await passwordStep('kim', phone);
    const seen = inbox(t, phone).length;
    for (let i = 1; i <= 4; i++) assert.equal((await post('/api/login/verify', { challengeId, code: wrong(code) })).statusCode, 400);
    const fifth = await post('/api/login/verify', { challengeId, code: wrong(code) });
    assert.equal(fifth.statusCode, 423);
    assert.match(fifth.json<{ message: string }>().message, /^Account locked: too many failed sign-in attempts\. Try again after \d\d:\d\d UTC/);
    const sixth = await post('/api/login/verify', { challengeId, code });
    assert.equal(sixth.statusCode, 429);
    assert.match(sixth.json<{ message: string }>().message, /no longer works after 5 attempts/);
    const lockout = await nextSms(t, phone, seen, /locked/, 'the lockout SMS');
    assert.equal(lockout, 'DominionTrust: online banking is locked after too many failed sign-in attempts. To unlock it, call the number on the back of your card.');
    assert.equal((await post('/api/login', { username: 'kim', password: PASSWORD })).statusCode, 423);
  });

  it('locks the account after 5 wrong passwords for 15 minutes, with one lockout SMS', async () => {
    const phone = await newCustomer('lee');
    for (let i = 1; i <= 4; i++) assert.equal((await post('/api/login', { username: 'lee', password: 'wrong password, not it' })).statusCode, 401);
    const fifth = await post('/api/login', { username: 'lee', password: 'wrong password, not it' });
    assert.equal(fifth.statusCode, 423);
    assert.equal(fifth.json<{ error: string }>().error, 'account_locked');
    assert.equal((await post('/api/login', { username: 'lee', password: PASSWORD })).statusCode, 423, 'the right password waits too');
    assert.equal(await nextSms(t, phone, 0, /locked/, 'the lockout SMS'), 'DominionTrust: online banking is locked after too many failed sign-in attempts. To unlock it, call the number on the back of your card.');

    clock.advance(15 * 60_000);
    await signIn(t, app, { username: 'lee', phone });
    assert.equal(inbox(t, phone).filter((b) => b.includes('locked')).length, 1);
  });

  it('alerts by SMS on a sign-in from a device not seen before, and only then', async () => {
    const phone = await newCustomer('max');
    const first = await signIn(t, app, { username: 'max', phone, deviceId: 'phone-1', userAgent: 'DominionApp/2.3 (iPhone)' });
    assert.equal(first.newDevice, true);
    const alert = await nextSms(t, phone, 0, /new sign-in/, 'the new-device alert');
    assert.match(alert, /^DominionTrust: new sign-in from DominionApp \(iOS\) near 127\.0\.0\.1 on .+\. Not you\? Call the number on the back of your card now\.$/);

    const again = await signIn(t, app, { username: 'max', phone, deviceId: 'phone-1', userAgent: 'DominionApp/2.3 (iPhone)' });
    assert.equal(again.newDevice, false);
    const other = await signIn(t, app, { username: 'max', phone, deviceId: 'tablet-7', userAgent: 'DominionApp/2.3 (iPad)' });
    assert.equal(other.newDevice, true);
    await eventually(() => (inbox(t, phone).filter((b) => b.includes('new sign-in')).length === 2 ? true : undefined), 10_000, 'the second alert');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(inbox(t, phone).filter((b) => b.includes('new sign-in')).length, 2, 'no alert for the known device');
  });
});

describe('POST /api/login/resend', () => {
  it('refuses a resend within 30 s (429, Retry-After); a resend replaces the code', async () => {
    const phone = await newCustomer('ned');
    const first = await passwordStep('ned', phone);
    const soon = await post('/api/login/resend', { challengeId: first.challengeId });
    assert.equal(soon.statusCode, 429);
    assert.equal(soon.headers['retry-after'], '30');
    assert.match(soon.json<{ message: string }>().message, /in 30 seconds/);

    clock.advance(30_000);
    const seen = inbox(t, phone).length;
    const res = await post('/api/login/resend', { challengeId: first.challengeId });
    assert.equal(res.statusCode, 200, res.body);
    const second = { challengeId: res.json<{ challengeId: string }>().challengeId, code: codeIn(await nextSms(t, phone, seen, /login code is/, 'the new code')) };
    assert.notEqual(second.challengeId, first.challengeId);
    const old = await post('/api/login/verify', first);
    assert.equal(old.statusCode, 410, 'the replaced code no longer works');
    assert.equal((await post('/api/login/verify', second)).statusCode, 200);
  });

  it('allows at most 3 resends in 10 minutes per user', async () => {
    const phone = await newCustomer('oli');
    let { challengeId } = await passwordStep('oli', phone);
    for (let i = 1; i <= 3; i++) {
      clock.advance(31_000);
      const res = await post('/api/login/resend', { challengeId });
      assert.equal(res.statusCode, 200, res.body);
      challengeId = res.json<{ challengeId: string }>().challengeId;
    }
    clock.advance(31_000);
    const fourth = await post('/api/login/resend', { challengeId });
    assert.equal(fourth.statusCode, 429);
    assert.match(fourth.json<{ message: string }>().message, /at most 3 in 10 minutes/);
    assert.ok(Number(fourth.headers['retry-after']) > 0);
  });

  it('allows at most 3 resends in 10 minutes per phone number, across users', async () => {
    clock.advance(10 * 60_000);
    const phone = `+1415555${phoneSeq++}`;
    await createUser(t.ctx, { username: 'pia', password: PASSWORD, phone });
    await createUser(t.ctx, { username: 'quin', password: PASSWORD, phone });
    const resend = async (username: string, times: number): Promise<number> => {
      let { challengeId } = await passwordStep(username, phone);
      let status = 0;
      for (let i = 0; i < times; i++) {
        clock.advance(31_000);
        const res = await post('/api/login/resend', { challengeId });
        status = res.statusCode;
        if (status !== 200) {
          assert.match(res.json<{ message: string }>().message, /for this phone number/);
          break;
        }
        challengeId = res.json<{ challengeId: string }>().challengeId;
      }
      return status;
    };
    assert.equal(await resend('pia', 2), 200);
    assert.equal(await resend('quin', 2), 429, "quin's second resend is the number's fourth");
  });
});
