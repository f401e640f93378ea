// POST /api/phone and /api/phone/verify: the code goes to the NEW number; the right code switches
// the profile to it, verified; the change is announced by SMS to the new number AND to the old one.
// A number another customer has verified is refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { bankEvents, userProfiles } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { createTestContext, HeldClock, type TestContext } from '../helpers/context.ts';
import { codeIn, customer, inbox, nextSms, PASSWORD, wrong } from '../helpers/customers.ts';

const clock = new HeldClock('2026-11-25T15:00:00Z');
let t: TestContext;
let app: FastifyInstance;

before(async () => {
  t = await createTestContext({ clock, env: { CODE_IP_LIMIT: '0' } });
  await startWorker(t.ctx);
  app = buildApp(t.ctx);
});
after(() => t.close());

const post = (url: string, payload: object, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, payload, headers: { 'user-agent': 'DominionApp/1.0', ...headers } });

async function profileOf(userId: string) {
  const [row] = await t.ctx.db.select().from(userProfiles).where(eq(userProfiles.userId, userId));
  return row;
}

describe('POST /api/phone, /api/phone/verify', () => {
  it('sends the code to the new number, switches on the right code, and tells both numbers', async () => {
    const OLD = '+14155559001';
    const NEW = '+14155559002';
    const c = await customer(t, 'rita', OLD);
    const started = await post('/api/phone', { phoneNumber: '(415) 555-9002', currentPassword: PASSWORD }, c.auth);
    assert.equal(started.statusCode, 202, started.body);
    assert.equal(started.json<{ destination: string }>().destination, '***9002');
    const code = codeIn(await nextSms(t, NEW, 0, /verify this phone/, 'the code to the new number'));
    assert.equal(inbox(t, OLD).length, 0, 'the old number gets no code');

    const bad = await post('/api/phone/verify', { code: wrong(code) }, c.auth);
    assert.equal(bad.statusCode, 400);
    assert.equal((await profileOf(c.user.id))?.phoneNumber, OLD, 'nothing changes on a wrong code');

    const done = await post('/api/phone/verify', { code }, c.auth);
    assert.equal(done.statusCode, 200, done.body);
    assert.equal(done.json<{ phoneNumber: string }>().phoneNumber, '***9002');
    const profile = await profileOf(c.user.id);
    assert.equal(profile?.phoneNumber, NEW);
    assert.deepEqual(profile?.phoneVerifiedAt, clock.now());

    const expected = /^DominionTrust: your phone number was changed to one ending 9002 on .+\. Not you\? Call the number on your card now\.$/;
    assert.match(await nextSms(t, NEW, 1, /phone number was changed/, 'the notice to the new number'), expected);
    assert.match(await nextSms(t, OLD, 0, /phone number was changed/, 'the notice to the old number'), expected);
    const counted = await t.ctx.metrics.registry.getSingleMetricAsString('dominion_notifications_total');
    assert.match(counted, /dominion_notifications_total\{type="phone_changed",channel="sms",outcome="sent"\} 2/, 'both notices counted');
    const events = await t.ctx.db.select().from(bankEvents).where(eq(bankEvents.userId, c.user.id));
    assert.deepEqual(events.map((e) => [e.type, e.payload]), [['phone.changed', { phoneLast4: '9002', previousLast4: '9001', previousNumberTold: true }]]);

    const again = await post('/api/phone/verify', { code }, c.auth);
    assert.equal(again.statusCode, 400, 'no phone change is waiting any more');
  });

  it('refuses a number another customer has verified, its own number, and bad input', async () => {
    await customer(t, 'sam', '+14155559003');
    await t.ctx.db.update(userProfiles).set({ phoneVerifiedAt: clock.now() }).where(eq(userProfiles.phoneNumber, '+14155559003'));
    const c = await customer(t, 'tom', '+14155559004');
    const taken = await post('/api/phone', { phoneNumber: '+14155559003', currentPassword: PASSWORD }, c.auth);
    assert.equal(taken.statusCode, 409);
    assert.match(taken.json<{ message: string }>().message, /already verified by another customer/);
    assert.equal(inbox(t, '+14155559003').length, 0, 'the other customer gets nothing');
    await t.ctx.db.update(userProfiles).set({ phoneVerifiedAt: clock.now() }).where(eq(userProfiles.userId, c.user.id));
    const own = await post('/api/phone', { phoneNumber: '+14155559004', currentPassword: PASSWORD }, c.auth);
    assert.equal(own.statusCode, 409);
    assert.match(own.json<{ message: string }>().message, /already the verified number on your account/);
    const invalid = await post('/api/phone', { phoneNumber: 'not a number', currentPassword: PASSWORD }, c.auth);
    assert.equal(invalid.statusCode, 400);
    assert.equal((await post('/api/phone', {}, c.auth)).statusCode, 400);
    const guessed = await post('/api/phone', { phoneNumber: '+14155559005', currentPassword: 'a guess from a stolen session' }, c.auth);
    assert.equal(guessed.statusCode, 403, 'a session alone cannot move the codes to another phone');
    assert.equal((await post('/api/phone', { phoneNumber: '+14155559005', currentPassword: PASSWORD })).statusCode, 401);
    const none = await post('/api/phone/verify', { code: '123456' }, c.auth);
    assert.equal(none.statusCode, 400);
    assert.match(none.json<{ message: string }>().message, /No phone change is waiting for a code/);
  });

  it('refuses the switch when another customer verified the number meanwhile', async () => {
    const c = await customer(t, 'uma', '+14155559006');
    assert.equal((await post('/api/phone', { phoneNumber: '+14155559007', currentPassword: PASSWORD }, c.auth)).statusCode, 202);
    const code = codeIn(await nextSms(t, '+14155559007', 0, /verify this phone/, 'the code'));
    await customer(t, 'val', '+14155559007');
    await t.ctx.db.update(userProfiles).set({ phoneVerifiedAt: clock.now() }).where(eq(userProfiles.phoneNumber, '+14155559007'));
    const res = await post('/api/phone/verify', { code }, c.auth);
    assert.equal(res.statusCode, 409);
    assert.equal((await profileOf(c.user.id))?.phoneNumber, '+14155559006');
  });
});
