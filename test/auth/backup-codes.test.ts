// Backup codes: ten made at once, shown once, stored only as hashes; each signs in once in place of
// the SMS code, the answer says how many are left, and a used code never works again. A new set
// replaces the old one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { backupCodes, bankEvents, notifications } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { createTestContext, HeldClock, type TestContext } from '../helpers/context.ts';
import { customer, PASSWORD, type Customer } from '../helpers/customers.ts';

const clock = new HeldClock('2026-11-25T15:00:00Z');
let t: TestContext;
let app: FastifyInstance;

before(async () => {
  t = await createTestContext({ clock, env: { CODE_IP_LIMIT: '0', CODE_NUMBER_LIMIT: '0', CODE_COUNTRY_HOURLY_LIMIT: '0', LOGIN_IP_LIMIT: '0' } });
  app = buildApp(t.ctx);
});
after(() => t.close());

const post = (url: string, payload: object, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, payload, headers: { 'user-agent': 'DominionApp/1.0', ...headers } });

async function makeCodes(c: Customer): Promise<string[]> {
  const res = await post('/api/2fa/backup-codes', { currentPassword: PASSWORD }, c.auth);
  assert.equal(res.statusCode, 201, res.body);
  assert.equal(res.headers['cache-control'], 'no-store');
  return res.json<{ codes: string[] }>().codes;
}

async function signInWithBackupCode(username: string, code: string) {
  const started = await post('/api/login', { username, password: PASSWORD });
  assert.equal(started.statusCode, 200, started.body);
  return post('/api/login/verify', { challengeId: started.json<{ challengeId: string }>().challengeId, code, method: 'backup_code' });
}

describe('POST /api/2fa/backup-codes and sign-in with method "backup_code"', () => {
  it('makes 10 distinct codes, stores only their hashes, and records the event', async () => {
    const c = await customer(t, 'bea', '+14155557001');
    const codes = await makeCodes(c);
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    for (const code of codes) assert.match(code, /^[a-z2-9]{4}-[a-z2-9]{4}$/);
    const rows = await t.ctx.db.select().from(backupCodes).where(eq(backupCodes.userId, c.user.id));
    assert.equal(rows.length, 10);
    const stored = JSON.stringify(rows);
    for (const code of codes) {
      assert.ok(!stored.includes(code) && !stored.includes(code.replace('-', '')), 'no code in clear');
    }
    const events = await t.ctx.db.select().from(bankEvents).where(eq(bankEvents.userId, c.user.id));
    assert.deepEqual(events.map((e) => [e.type, e.payload]), [['two_factor.backup_codes_created', { count: 10 }]]);
    const notices = await t.ctx.db.select().from(notifications).where(eq(notifications.userId, c.user.id));
    assert.deepEqual(notices.map((n) => [n.type, n.channel]).sort(), [['two_factor_changed', 'email'], ['two_factor_changed', 'sms']]);
    assert.equal((await post('/api/2fa/backup-codes', { currentPassword: PASSWORD })).statusCode, 401);
    const guessed = await post('/api/2fa/backup-codes', { currentPassword: 'a guess from a stolen session' }, c.auth);
    assert.equal(guessed.statusCode, 403);
    assert.equal((await t.ctx.db.select().from(backupCodes).where(eq(backupCodes.userId, c.user.id))).length, 10, 'the set is unchanged');
  });

  it('signs in once per code, saying how many are left; the 11th sign-in with a used code is refused', async () => {
    const c = await customer(t, 'cal', '+14155557002');
    const codes = await makeCodes(c);
    for (const [i, code] of codes.entries()) {
      // Typed as a customer might: upper case, a space for the dash.
      const typed = i % 2 ? code.toUpperCase().replace('-', ' ') : code;
      const res = await signInWithBackupCode('cal', typed);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json<{ token: string; method: string; backupCodesRemaining: number }>();
      assert.equal(body.method, 'backup_code');
      assert.equal(body.backupCodesRemaining, 9 - i);
      assert.equal((await app.inject({ url: '/api/accounts', headers: { authorization: `Bearer ${body.token}` } })).statusCode, 200);
    }
    const eleventh = await signInWithBackupCode('cal', codes[0]!);
    assert.equal(eleventh.statusCode, 409);
    assert.match(eleventh.json<{ message: string }>().message, /^You have no unused backup codes/);
  });

  it('refuses a used code while others are left, counting it as a wrong code', async () => {
    const c = await customer(t, 'dot', '+14155557003');
    const codes = await makeCodes(c);
    assert.equal((await signInWithBackupCode('dot', codes[3]!)).statusCode, 200);
    const reused = await signInWithBackupCode('dot', codes[3]!);
    assert.equal(reused.statusCode, 400);
    assert.equal(reused.json<{ message: string }>().message, 'Wrong backup code: 4 attempts left. Each backup code works once: type one you have not used yet.');
    const ok = await signInWithBackupCode('dot', codes[4]!);
    assert.equal(ok.json<{ backupCodesRemaining: number }>().backupCodesRemaining, 8);
  });

  it('a new set replaces the old one', async () => {
    const c = await customer(t, 'eli', '+14155557004');
    const first = await makeCodes(c);
    const second = await makeCodes(c);
    assert.equal((await signInWithBackupCode('eli', first[0]!)).statusCode, 400);
    const ok = await signInWithBackupCode('eli', second[0]!);
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json<{ backupCodesRemaining: number }>().backupCodesRemaining, 9);
  });
});
