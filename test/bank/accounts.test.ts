// Accounts through the HTTP endpoints: a customer opens and sees only their own; another
// customer's account answers exactly like one that does not exist. Deposits are for staff;
// withdrawals cannot take a balance below zero.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { createTestContext, DaytimeClock, type TestContext } from '../helpers/context.ts';
import { customer, inbox, nextSms, type Customer } from '../helpers/customers.ts';

let t: TestContext;
let app: FastifyInstance;
let ana: Customer;
let ben: Customer;
let staff: Customer;

before(async () => {
  // Transaction alerts wait for the morning in quiet hours: the suite must pass at any hour.
  t = await createTestContext({ clock: new DaytimeClock() });
  await startWorker(t.ctx);
  app = buildApp(t.ctx);
  ana = await customer(t, 'ana', '+14155556001');
  ben = await customer(t, 'ben', '+14155556002');
  staff = await customer(t, 'teller', '+14155556003', { isStaff: true });
});
after(() => t.close());

interface Account { id: string; number: string; currency: string; balanceMinor: number }

async function open(who: Customer, currency = 'USD'): Promise<Account> {
  const res = await app.inject({ method: 'POST', url: '/api/accounts', headers: who.auth, payload: { currency } });
  assert.equal(res.statusCode, 201, res.body);
  return res.json<{ account: Account }>().account;
}

function cash(kind: 'deposits' | 'withdrawals', who: Customer, accountId: string, amountMinor: number, key: string) {
  return app.inject({
    method: 'POST', url: `/api/accounts/${accountId}/${kind}`,
    headers: { ...who.auth, 'idempotency-key': key }, payload: { amountMinor, currency: 'USD' },
  });
}

describe('accounts', () => {
  it('opens an account with a zero balance and lists only the customer\'s own', async () => {
    const mine = await open(ana);
    assert.match(mine.number, /^\d{10}$/);
    assert.equal(mine.balanceMinor, 0);
    await open(ben);
    const list = await app.inject({ url: '/api/accounts', headers: ana.auth });
    assert.deepEqual(list.json<{ accounts: Account[] }>().accounts.map((a) => a.id), [mine.id]);
    const one = await app.inject({ url: `/api/accounts/${mine.id}`, headers: ana.auth });
    assert.equal(one.json<{ account: Account }>().account.id, mine.id);
  });

  it("answers another customer's account with the same 404 as a nonexistent one", async () => {
    const bens = await open(ben);
    const other = await app.inject({ url: `/api/accounts/${bens.id}`, headers: ana.auth });
    const missing = await app.inject({ url: '/api/accounts/6f1c2f0e-1111-4aaa-8bbb-123456789abc', headers: ana.auth });
    const malformed = await app.inject({ url: '/api/accounts/not-an-id', headers: ana.auth });
    assert.equal(other.statusCode, 404);
    assert.equal(other.body, missing.body);
    assert.equal(other.body, malformed.body);
    assert.doesNotMatch(other.body, new RegExp(bens.number));
    const withdraw = await cash('withdrawals', ana, bens.id, 100, 'w-other');
    assert.equal(withdraw.statusCode, 404);
    assert.equal(withdraw.body, missing.body);
  });

  it('refuses unknown currencies and unauthenticated requests', async () => {
    const bad = await app.inject({ method: 'POST', url: '/api/accounts', headers: ana.auth, payload: { currency: 'XYZ' } });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json<{ message: string }>().message, /^Unknown currency "XYZ"/);
    assert.equal((await app.inject({ method: 'POST', url: '/api/accounts', payload: { currency: 'USD' } })).statusCode, 401);
  });

  it('lets staff deposit (and customers not); a withdrawal beyond the balance is 422 Insufficient Funds', async () => {
    const account = await open(ana);
    const refused = await cash('deposits', ana, account.id, 10_000, 'd-self');
    assert.equal(refused.statusCode, 403);

    const seen = inbox(t, ana.phone).length;
    const deposit = await cash('deposits', staff, account.id, 10_000, 'd-1');
    assert.equal(deposit.statusCode, 201, deposit.body);
    assert.deepEqual(deposit.json<{ accounts: unknown }>().accounts, [{ id: account.id, balanceMinor: 10_000 }]);
    const alert = await nextSms(t, ana.phone, seen, /Deposit/, 'the deposit alert');
    assert.equal(alert, `DominionTrust: transaction $100.00, Deposit, account ending ${account.number.slice(-4)}. Balance $100.00. Reply STOP to opt out.`);

    const withdrawal = await cash('withdrawals', ana, account.id, 2_500, 'w-1');
    assert.equal(withdrawal.statusCode, 201, withdrawal.body);
    const tooMuch = await cash('withdrawals', ana, account.id, 7_501, 'w-2');
    assert.equal(tooMuch.statusCode, 422);
    assert.deepEqual(tooMuch.json(), {
      error: 'insufficient_funds',
      message: `Insufficient Funds: account ending ${account.number.slice(-4)} holds $75.00, less than the $75.01 asked for. Nothing was moved.`,
    });
    const now = await app.inject({ url: `/api/accounts/${account.id}`, headers: ana.auth });
    assert.equal(now.json<{ account: Account }>().account.balanceMinor, 7_500);
  });

  it('needs an Idempotency-Key on every money movement (400 without)', async () => {
    const account = await open(ana);
    const res = await app.inject({ method: 'POST', url: `/api/accounts/${account.id}/withdrawals`, headers: ana.auth, payload: { amountMinor: 1, currency: 'USD' } });
    assert.equal(res.statusCode, 400);
    assert.match(res.json<{ message: string }>().message, /^Missing Idempotency-Key header/);
  });
});
