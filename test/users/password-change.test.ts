// POST /api/password: the current password is checked, the new one must be strong; every other
// session is signed out, the one that changed it stays; the customer gets the password_changed
// SMS; password_changed_at is set; the old password stops working.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { createSession, deviceOf } from '../../src/auth/sessions.ts';
import { bankEvents, users } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { createTestContext, HeldClock, type TestContext } from '../helpers/context.ts';
import { customer, inbox, nextSms, PASSWORD } from '../helpers/customers.ts';

const clock = new HeldClock('2026-11-25T15:00:00Z');
const NEW_PASSWORD = 'purple elephant ladder';
let t: TestContext;
let app: FastifyInstance;

before(async () => {
  t = await createTestContext({ clock, env: { CODE_IP_LIMIT: '0', LOGIN_IP_LIMIT: '0' } });
  await startWorker(t.ctx);
  app = buildApp(t.ctx);
});
after(() => t.close());

const post = (url: string, payload: object, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, payload, headers: { 'user-agent': 'DominionApp/1.0', ...headers } });
const accounts = (token: string) => app.inject({ url: '/api/accounts', headers: { authorization: `Bearer ${token}` } });

describe('POST /api/password', () => {
  it('changes the password, signs out the other sessions, keeps this one, and texts the customer', async () => {
    const c = await customer(t, 'pam', '+14155558001');
    const other = await createSession(t.ctx.db, c.user.id, deviceOf('OtherBrowser/1', 'laptop'), clock.now());
    assert.equal((await accounts(other.token)).statusCode, 200);

    const res = await post('/api/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, c.auth);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { passwordChangedAt: clock.now().toISOString(), otherSessionsRevoked: 1 });

    assert.equal((await accounts(other.token)).statusCode, 401, 'the other session is signed out');
    assert.equal((await accounts(c.token)).statusCode, 200, 'the session that changed it stays');
    const [row] = await t.ctx.db.select({ changedAt: users.passwordChangedAt }).from(users).where(eq(users.id, c.user.id));
    assert.deepEqual(row?.changedAt, clock.now());
    const sms = await nextSms(t, c.phone, 0, /password was changed/, 'the password_changed SMS');
    assert.match(sms, /^DominionTrust: your password was changed on .+\. Not you\? Call the number on the back of your card now\. Reply STOP to opt out\.$/);
    const events = await t.ctx.db.select().from(bankEvents).where(eq(bankEvents.userId, c.user.id));
    assert.deepEqual(events.map((e) => e.type), ['password.changed']);

    assert.equal((await post('/api/login', { username: 'pam', password: PASSWORD })).statusCode, 401, 'the old password no longer signs in');
    assert.equal((await post('/api/login', { username: 'pam', password: NEW_PASSWORD })).statusCode, 200);
  });

  it('refuses a wrong current password (403, counted toward the lockout) and a weak new one (400), changing nothing', async () => {
    const c = await customer(t, 'quin', '+14155558002');
    const wrong = await post('/api/password', { currentPassword: 'not my password at all', newPassword: NEW_PASSWORD }, c.auth);
    assert.equal(wrong.statusCode, 403);
    assert.match(wrong.json<{ message: string }>().message, /^Wrong current password/);
    const weak = await post('/api/password', { currentPassword: PASSWORD, newPassword: 'short' }, c.auth);
    assert.equal(weak.statusCode, 400);
    assert.equal(weak.json<{ error: string }>().error, 'weak_password');
    const same = await post('/api/password', { currentPassword: PASSWORD, newPassword: PASSWORD }, c.auth);
    assert.equal(same.statusCode, 400);
    assert.match(same.json<{ message: string }>().message, /same as the current one/);
    assert.equal((await post('/api/password', { currentPassword: PASSWORD }, c.auth)).statusCode, 400);
    assert.equal((await post('/api/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD })).statusCode, 401);
    const [row] = await t.ctx.db.select({ changedAt: users.passwordChangedAt }).from(users).where(eq(users.id, c.user.id));
    assert.equal(row?.changedAt, null);

    for (let i = 2; i <= 4; i++) assert.equal((await post('/api/password', { currentPassword: `guess number ${i} wrong`, newPassword: NEW_PASSWORD }, c.auth)).statusCode, 403);
    const fifth = await post('/api/password', { currentPassword: 'guess number 5 wrong', newPassword: NEW_PASSWORD }, c.auth);
    assert.equal(fifth.statusCode, 423, 'a session cannot be used to guess the password');
    assert.equal((await accounts(c.token)).statusCode, 401, 'the lockout signed the session out');
    assert.equal(inbox(t, c.phone).some((b) => b.includes('password was changed')), false);
  });
});
