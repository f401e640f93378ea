// Registration through the HTTP endpoints: an inactive customer, a code SMS to verify the mobile
// number, then the account is active and the welcome SMS arrives. A number another customer has
// verified is refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { bankEvents } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { findUserByUsername } from '../../src/users/users.ts';
import { createTestContext, HeldClock, type TestContext } from '../helpers/context.ts';
import { codeIn, inbox, nextSms, PASSWORD, wrong } from '../helpers/customers.ts';

const clock = new HeldClock('2026-11-25T15:00:00Z');
let t: TestContext;
let app: FastifyInstance;

before(async () => {
  t = await createTestContext({ clock, env: { CODE_IP_LIMIT: '0', REGISTER_IP_LIMIT: '0' } });
  await startWorker(t.ctx);
  app = buildApp(t.ctx);
});
after(() => t.close());

function register(username: string, phone: string) {
  return app.inject({ method: 'POST', url: '/api/register', payload: { username, email: `${username}@example.com`, password: PASSWORD, phone } });
}

function verify(challengeId: string, code: string) {
  return app.inject({ method: 'POST', url: '/api/register/verify', payload: { challengeId, code } });
}

/** Registers and returns the challenge and the code the phone received. */
async function registered(username: string, phone: string): Promise<{ challengeId: string; code: string; sms: string }> {
  const seen = inbox(t, phone).length;
  const res = await register(username, phone);
  assert.equal(res.statusCode, 201, res.body);
  const sms = await nextSms(t, phone, seen, /verify this phone/, 'the verification code');
  return { challengeId: res.json<{ challengeId: string }>().challengeId, code: codeIn(sms), sms };
}

describe('POST /api/register and /api/register/verify', () => {
  it('creates an inactive customer, verifies the phone by SMS code, activates and welcomes them', async () => {
    const phone = '+14155553001';
    const res = await register('ana', '(415) 555-3001');
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json<{ userId: string; challengeId: string; destination: string; expiresAt: string }>();
    assert.equal(body.destination, '***3001');
    assert.equal(new Date(body.expiresAt).getTime() - clock.now().getTime(), 5 * 60_000);
    assert.equal((await findUserByUsername(t.ctx.db, 'ana'))?.isActive, false);

    const sms = await nextSms(t, phone, 0, /verify this phone/, 'the verification code');
    assert.match(sms, /^DominionTrust: your code to verify this phone is \d{6}\. It expires in 5 minutes\. We will never ask you for this code\.$/);

    const early = await app.inject({ method: 'POST', url: '/api/login', payload: { username: 'ana', password: PASSWORD } });
    assert.equal(early.statusCode, 403);
    assert.match(early.json<{ message: string }>().message, /not active yet: confirm your phone number/);

    const bad = await verify(body.challengeId, wrong(codeIn(sms)));
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(bad.json(), { error: 'code_rejected', message: 'Wrong code: 4 attempts left. Check the latest SMS from DominionTrust.' });

    const ok = await verify(body.challengeId, codeIn(sms));
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json(), { userId: body.userId, username: 'ana', isActive: true });
    const user = await findUserByUsername(t.ctx.db, 'ana');
    assert.equal(user?.isActive, true);
    assert.ok(user?.phoneVerifiedAt);

    const welcome = await nextSms(t, phone, 1, /welcome/, 'the welcome SMS');
    assert.equal(welcome, 'DominionTrust: welcome, ana! Your account is active. Reply HELP for help, STOP to opt out.');
    const events = await t.ctx.db.select().from(bankEvents).where(eq(bankEvents.userId, body.userId));
    assert.deepEqual(events.map((e) => [e.type, e.payload]), [['registration.completed', { username: 'ana' }]]);

    const login = await app.inject({ method: 'POST', url: '/api/login', payload: { username: 'ana', password: PASSWORD } });
    assert.equal(login.statusCode, 200, login.body);
  });

  it('refuses a number another customer has verified (409) and sends it nothing', async () => {
    const { challengeId, code } = await registered('bea', '+14155553002');
    assert.equal((await verify(challengeId, code)).statusCode, 200);
    await nextSms(t, '+14155553002', 1, /welcome/, 'the welcome SMS');
    const seen = inbox(t, '+14155553002').length;
    const res = await register('bea2', '+1 415 555 3002');
    assert.equal(res.statusCode, 409);
    assert.match(res.json<{ message: string }>().message, /already verified by another customer/);
    assert.equal(await findUserByUsername(t.ctx.db, 'bea2'), undefined);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(inbox(t, '+14155553002').length, seen);
  });

  it('lets a second registration of an unverified number through, but only the first to verify keeps it', async () => {
    const first = await registered('cai', '+14155553003');
    const second = await registered('cai2', '+14155553003');
    assert.equal((await verify(second.challengeId, second.code)).statusCode, 200);
    const res = await verify(first.challengeId, first.code);
    assert.equal(res.statusCode, 409);
    assert.equal((await findUserByUsername(t.ctx.db, 'cai'))?.isActive, false);
  });

  it('refuses a reused code (410) and an expired code (410)', async () => {
    const used = await registered('dan', '+14155553004');
    assert.equal((await verify(used.challengeId, used.code)).statusCode, 200);
    const again = await verify(used.challengeId, used.code);
    assert.equal(again.statusCode, 410);
    assert.equal(again.json<{ error: string }>().error, 'code_used');

    const late = await registered('eve', '+14155553005');
    clock.advance(5 * 60_000);
    const res = await verify(late.challengeId, late.code);
    assert.equal(res.statusCode, 410);
    assert.match(res.json<{ message: string }>().message, /^Code expired: a code is valid for 5 minutes\./);
    assert.equal((await findUserByUsername(t.ctx.db, 'eve'))?.isActive, false);
  });

  it('refuses a taken username, a weak password and a missing phone with a message to act on', async () => {
    const taken = await register('ana', '+14155553006');
    assert.equal(taken.statusCode, 409);
    assert.match(taken.body, /already exists/);
    const weak = await app.inject({ method: 'POST', url: '/api/register', payload: { username: 'fay', email: 'fay@example.com', password: 'short', phone: '+14155553007' } });
    assert.equal(weak.statusCode, 400);
    assert.match(weak.body, /at least 12/);
    const noPhone = await app.inject({ method: 'POST', url: '/api/register', payload: { username: 'fay', email: 'fay@example.com', password: PASSWORD } });
    assert.equal(noPhone.statusCode, 400);
    assert.match(noPhone.body, /phone/);
  });
});
