// The staff profile pages' API and the one phone-number change behind every path: staff find a
// customer by the last 4 of the phone, change the number (invalid and foreign numbers refused
// inline, national forms accepted), the old number, the new number and the email are told, the
// number is unverified, the change is audited in its own transaction (a refused change leaves no
// entry), the audit log cannot be changed, and large transfers and new payees wait out the
// cooling-off. Customers and anonymous callers reach none of it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { and, eq, sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { auditLog, notifications, phoneStatus, userProfiles } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { setPhoneNumber } from '../../src/users/phone-number.ts';
import { createTestContext, eventually, HeldClock, type TestContext } from '../helpers/context.ts';
import { customer, inbox, nextSms, type Customer } from '../helpers/customers.ts';

const clock = new HeldClock('2026-11-25T15:00:00Z');
let t: TestContext;
let app: FastifyInstance;
let staff: Customer;
let rosa: Customer;

before(async () => {
  // Six hours, so the period ends within the sessions the test signed in with: the staff one made
  // to last 11 hours and idle 7 here (test/auth/staff-sessions.test.ts tests the defaults).
  t = await createTestContext({ clock, env: { PHONE_CHANGE_COOLING_OFF: '6h', STAFF_SESSION_MAX_HOURS: '11', STAFF_SESSION_IDLE_MINUTES: '420' } });
  await startWorker(t.ctx);
  app = buildApp(t.ctx);
  staff = await customer(t, 'olga', '+14155558100', { isStaff: true });
  rosa = await customer(t, 'rosa', '+14155558101');
});
after(() => t.close());

const api = (method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'PATCH', url: string, who: Customer | null = staff, payload?: object) =>
  app.inject({ method, url, headers: who ? who.auth : {}, ...(payload ? { payload } : {}) });

const auditOf = (userId: string) => t.ctx.db.select().from(auditLog).where(eq(auditLog.subjectUserId, userId));

describe('staff profiles', () => {
  it('finds a customer by the last 4 of the phone, by name and by email, in bounded keyset pages', async () => {
    for (let i = 0; i < 5; i++) await customer(t, `zed${i}`, `+1415555820${i}`);
    const byPhone = await api('GET', '/api/staff/profiles?q=8101');
    assert.equal(byPhone.statusCode, 200, byPhone.body);
    const [found] = byPhone.json<{ profiles: { username: string; phone: string; phoneVerified: boolean }[] }>().profiles;
    assert.deepEqual([found?.username, found?.phone, found?.phoneVerified], ['rosa', '***8101', false]);
    assert.ok(!byPhone.body.includes('+14155558101'), 'the full number never leaves');
    assert.equal((await api('GET', '/api/staff/profiles?q=ROSA@EXAMPLE')).json<{ profiles: unknown[] }>().profiles.length, 1);

    const first = (await api('GET', '/api/staff/profiles?q=zed&limit=2')).json<{ profiles: { username: string }[]; nextAfter: string }>();
    assert.deepEqual(first.profiles.map((p) => p.username), ['zed0', 'zed1']);
    const second = (await api('GET', `/api/staff/profiles?q=zed&limit=2&after=${first.nextAfter}`)).json<{ profiles: { username: string }[] }>();
    assert.deepEqual(second.profiles.map((p) => p.username), ['zed2', 'zed3']);
    const tooMany = await api('GET', '/api/staff/profiles?limit=101');
    assert.equal(tooMany.statusCode, 400);
    assert.match(tooMany.json<{ message: string }>().message, /limit: at most 100/);
  });

  it('changes the number: inline refusals, then notices to old and new number and the email, unverified, audited', async () => {
    const url = `/api/staff/profiles/${rosa.user.id}/phone`;
    const invalid = await api('PUT', url, staff, { phoneNumber: '555-12' });
    assert.equal(invalid.statusCode, 400);
    assert.match(invalid.json<{ message: string }>().message, /Invalid Phone Number/);
    const foreign = await api('PUT', url, staff, { phoneNumber: '+33 6 12 34 56 78' });
    assert.equal(foreign.statusCode, 400);
    assert.match(foreign.json<{ message: string }>().message, /France/);
    assert.equal((await auditOf(rosa.user.id)).length, 0, 'a refused change leaves no audit entry');

    const changed = await api('PUT', url, staff, { phoneNumber: '(415) 555-8102' });
    assert.equal(changed.statusCode, 200, changed.body);
    const profile = changed.json<{ profile: { phone: string; phoneVerified: boolean; coolingOffUntil: string } }>().profile;
    assert.deepEqual([profile.phone, profile.phoneVerified, profile.coolingOffUntil], ['***8102', false, '2026-11-25T21:00:00.000Z']);
    const notice = /^DominionTrust: your phone number was changed to one ending 8102 on .+\. Not you\? Call the number on your card now\.$/;
    assert.match(await nextSms(t, '+14155558101', 0, /phone number was changed/, 'the notice to the old number'), notice);
    assert.match(await nextSms(t, '+14155558102', 0, /phone number was changed/, 'the notice to the new number'), notice);
    await eventually(async () => {
      const [mail] = await t.ctx.db.select().from(notifications)
        .where(and(eq(notifications.userId, rosa.user.id), eq(notifications.type, 'phone_changed'), eq(notifications.channel, 'email'), eq(notifications.status, 'sent')));
      return mail;
    }, 10_000, 'the email notice sent');

    const [entry, ...more] = await auditOf(rosa.user.id);
    assert.equal(more.length, 0);
    assert.deepEqual([entry?.actorKind, entry?.actorName, entry?.action, entry?.subject], ['staff', 'olga', 'phone.changed', 'user:rosa']);
    assert.deepEqual(entry?.before, { phone: '***8101', verified: false });
    assert.deepEqual(entry?.after, { phone: '***8102', verified: false, previousNumberTold: true });
    assert.ok(!JSON.stringify(entry).includes('4155558102'), 'no full number in the audit log');

    const audit = await api('GET', '/api/staff/audit?user=rosa');
    assert.equal(audit.json<{ entries: { action: string }[] }>().entries[0]?.action, 'phone.changed');
  });

  it('a change that fails leaves no entry: a number another customer verified', async () => {
    const sam = await customer(t, 'sam', '+14155558103');
    await t.ctx.db.update(userProfiles).set({ phoneVerifiedAt: clock.now() }).where(eq(userProfiles.userId, sam.user.id));
    const before = (await t.ctx.db.select().from(auditLog)).length;
    const taken = await api('PUT', `/api/staff/profiles/${rosa.user.id}/phone`, staff, { phoneNumber: '+14155558103' });
    assert.equal(taken.statusCode, 409);
    assert.equal((await t.ctx.db.select().from(auditLog)).length, before, 'no entry for a change that did not happen');
    const [profile] = await t.ctx.db.select().from(userProfiles).where(eq(userProfiles.userId, rosa.user.id));
    assert.equal(profile?.phoneNumber, '+14155558102');
  });

  it('the CLI path is the same function: audited as the operator, old number told', async () => {
    const vic = await customer(t, 'vic', '+14155558104');
    const user = await setPhoneNumber(t.ctx, { username: 'vic' }, '+1 415 555 8105', { kind: 'cli', name: 'ops' });
    assert.deepEqual([user.phoneNumber, user.phoneVerifiedAt], ['+14155558105', null]);
    assert.match(await nextSms(t, '+14155558104', 0, /phone number was changed/, 'the notice to the old number'), /ending 8105/);
    const [entry] = await auditOf(vic.user.id);
    assert.deepEqual([entry?.actorKind, entry?.actorName], ['cli', 'cli:ops']);
  });

  it('the audit log cannot be updated, deleted or truncated, and the API has no way to change it', async () => {
    const refused = (error: unknown) => /audit_log is append-only/.test(String((error as Error).cause ?? error));
    await assert.rejects(t.ctx.db.update(auditLog).set({ actorName: 'someone else' }), refused);
    await assert.rejects(t.ctx.db.delete(auditLog), refused);
    await assert.rejects(t.ctx.db.execute(sql`truncate audit_log`), refused);
    const [entry] = await auditOf(rosa.user.id);
    for (const method of ['PUT', 'DELETE', 'PATCH', 'POST'] as const) {
      const res = await api(method, `/api/staff/audit/${entry?.id}`, staff, {});
      assert.equal(res.statusCode, 404, `${method} /api/staff/audit/:id`);
    }
    const [still] = await auditOf(rosa.user.id);
    assert.equal(still?.actorName, 'olga');
  });

  it('large transfers and new payees wait out the cooling-off; own accounts and old payees do not', async () => {
    const pay = await customer(t, 'paula', '+14155558106');
    const open = async (who: Customer) => (await api('POST', '/api/accounts', who, { currency: 'USD' })).json<{ account: { id: string } }>().account.id;
    const main = await open(pay);
    const savings = await open(pay);
    const known = await open(rosa);
    const stranger = await open(staff);
    const deposit = await app.inject({ method: 'POST', url: `/api/accounts/${main}/deposits`, headers: { ...staff.auth, 'idempotency-key': 'dep-1' }, payload: { amountMinor: 500_000, currency: 'USD' } });
    assert.equal(deposit.statusCode, 201, deposit.body);
    const send = (key: string, to: string, amountMinor: number) => app.inject({ method: 'POST', url: '/api/transfers', headers: { ...pay.auth, 'idempotency-key': key }, payload: { fromAccountId: main, toAccountId: to, amountMinor, currency: 'USD' } });
    assert.equal((await send('t-1', known, 1000)).statusCode, 201, 'rosa is paid before the change');

    clock.advance(60_000);
    await setPhoneNumber(t.ctx, { username: 'paula' }, '+14155558107', { kind: 'cli' });
    const large = await send('t-2', known, 150_000);
    assert.equal(large.statusCode, 429, large.body);
    assert.match(large.json<{ message: string }>().message, /Transfers of \$1,000\.00 or more wait until 2026-11-25 21:01 UTC/);
    assert.ok(Number(large.headers['retry-after']) > 5 * 3600);
    const fresh = await send('t-3', stranger, 1000);
    assert.equal(fresh.statusCode, 429);
    assert.match(fresh.json<{ message: string }>().message, /payee you have not paid before/);
    assert.equal((await send('t-4', known, 1000)).statusCode, 201, 'a payee paid before the change');
    assert.equal((await send('t-5', savings, 150_000)).statusCode, 202, "the customer's own account: asks for its code as usual, not held");
    const [deposited] = await t.ctx.db.select().from(auditLog).where(eq(auditLog.action, 'deposit.made'));
    assert.deepEqual(deposited?.after, { balanceMinor: 500_000, amountMinor: 500_000, transactionId: (deposited?.after as { transactionId: string }).transactionId });

    clock.advance(6 * 3600_000);
    const later = await send('t-3', stranger, 1000);
    assert.equal(later.statusCode, 201, `the same request after the cooling-off: ${later.body}`);
  });

  it('clears an unreachable mark and sends a test SMS, both audited', async () => {
    await t.ctx.db.insert(phoneStatus).values({ phoneNumber: '+14155558102', unreachableAt: clock.now(), reason: '30005 Unknown Handset' });
    const marked = (await api('GET', `/api/staff/profiles/${rosa.user.id}`)).json<{ profile: { unreachableAt: string | null; phoneMarkReason: string } }>().profile;
    assert.equal(marked.phoneMarkReason, '30005 Unknown Handset');
    const cleared = await api('POST', `/api/staff/profiles/${rosa.user.id}/clear-unreachable`);
    assert.equal(cleared.statusCode, 200, cleared.body);
    assert.equal(cleared.json<{ profile: { unreachableAt: string | null } }>().profile.unreachableAt, null);
    assert.equal((await api('POST', `/api/staff/profiles/${rosa.user.id}/clear-unreachable`)).statusCode, 409, 'nothing left to clear');

    const seen = inbox(t, '+14155558102').length;
    const test = await api('POST', `/api/staff/profiles/${rosa.user.id}/test-sms`);
    assert.equal(test.statusCode, 202, test.body);
    assert.match(await nextSms(t, '+14155558102', seen, /test message/, 'the test SMS'), /If you can read this, SMS works/);
    const actions = (await auditOf(rosa.user.id)).map((e) => e.action).sort();
    assert.deepEqual(actions, ['phone.changed', 'test_sms.sent', 'unreachable.cleared']);
  });

  it('a customer or no session reaches no staff data', async () => {
    for (const url of ['/api/staff/profiles', `/api/staff/profiles/${rosa.user.id}`, '/api/staff/messages', '/api/staff/audit']) {
      assert.equal((await api('GET', url, rosa)).statusCode, 403, url);
      assert.equal((await api('GET', url, null)).statusCode, 401, url);
    }
    assert.equal((await api('PUT', `/api/staff/profiles/${rosa.user.id}/phone`, rosa, { phoneNumber: '+14155558199' })).statusCode, 403);
    assert.equal((await api('GET', '/api/staff/profiles/not-an-id')).statusCode, 404);
  });
});
