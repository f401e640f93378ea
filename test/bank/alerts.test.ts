// Alerts from money through the HTTP API: the customer's thresholds (PATCH /api/accounts/:id/alerts),
// low balance once per crossing, large transactions, the events each movement writes in its own
// transaction (a refused movement writes none), the customer's choice for the `transaction` alert,
// and GET /api/events (own events only, newest first).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { and, count, eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { accounts, bankEvents, notifications, users } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { setPreference } from '../../src/notifications/preferences.ts';
import { createTestContext, eventually, HeldClock, type TestContext } from '../helpers/context.ts';
import { assertLedgerWhole, customer, inbox, nextSms, type Customer } from '../helpers/customers.ts';

// 10:00 in New York, outside the default quiet hours: alerts go at once.
const clock = new HeldClock('2026-11-25T15:00:00Z');
let t: TestContext;
let app: FastifyInstance;
let ana: Customer;
let ben: Customer;
let cat: Customer;
let staff: Customer;
let keys = 0;

interface Alerts { lowBalanceThresholdMinor: number | null; largeTransactionThresholdMinor: number | null; confirmationThresholdMinor: number }
interface Account { id: string; number: string; balanceMinor: number; alerts: Alerts }
interface Movement { transactionId: string }
interface Refusal { error: string; message: string }
interface EventView { id: string; type: string; payload: Record<string, unknown>; createdAt: string }

const newKey = () => `a-${++keys}`;
const last4 = (account: Account) => account.number.slice(-4);

async function open(who: Customer): Promise<Account> {
  const res = await app.inject({ method: 'POST', url: '/api/accounts', headers: who.auth, payload: { currency: 'USD' } });
  return res.json<{ account: Account }>().account;
}

function setAlerts(who: Customer, account: { id: string }, payload: unknown) {
  return app.inject({ method: 'PATCH', url: `/api/accounts/${account.id}/alerts`, headers: who.auth, payload: payload as Record<string, unknown> });
}

async function cash(kind: 'deposits' | 'withdrawals', account: Account, amountMinor: number): Promise<Movement> {
  const who = kind === 'deposits' ? staff : ana;
  const res = await app.inject({
    method: 'POST', url: `/api/accounts/${account.id}/${kind}`, headers: { ...who.auth, 'idempotency-key': newKey() }, payload: { amountMinor, currency: 'USD' },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json<Movement>();
}

async function events(userId: string, type?: string): Promise<number> {
  const where = type ? and(eq(bankEvents.userId, userId), eq(bankEvents.type, type)) : eq(bankEvents.userId, userId);
  const [row] = await t.ctx.db.select({ n: count() }).from(bankEvents).where(where);
  return row?.n ?? 0;
}

/** Lets the worker send what it has, then the phone's messages since `seen` that match. */
async function settled(phone: string, seen: number, match: RegExp): Promise<string[]> {
  await new Promise((r) => setTimeout(r, 400));
  return inbox(t, phone).slice(seen).filter((b) => match.test(b));
}

before(async () => {
  // The SMS limits have tests of their own; here one customer gets many alerts.
  t = await createTestContext({ clock, env: { SMS_USER_HOURLY_LIMIT: '0', SMS_USER_DAILY_LIMIT: '0', SUSPICIOUS_TRANSFER_MINOR: '50000' } });
  await startWorker(t.ctx);
  app = buildApp(t.ctx);
  ana = await customer(t, 'ana', '+14155557201');
  ben = await customer(t, 'ben', '+14155557202');
  cat = await customer(t, 'cat', '+14155557204');
  staff = await customer(t, 'teller', '+14155557203', { isStaff: true });
});
after(() => t.close());

describe('PATCH /api/accounts/:id/alerts', () => {
  it('sets the thresholds, shown by GET /api/accounts/:id; null switches an alert off', async () => {
    const account = await open(ana);
    assert.deepEqual(account.alerts, { lowBalanceThresholdMinor: null, largeTransactionThresholdMinor: null, confirmationThresholdMinor: 100_000 });
    const res = await setAlerts(ana, account, { lowBalanceThresholdMinor: 10_000, largeTransactionThresholdMinor: 50_000, confirmationThresholdMinor: 80_000 });
    assert.equal(res.statusCode, 200, res.body);
    const shown = await app.inject({ url: `/api/accounts/${account.id}`, headers: ana.auth });
    assert.deepEqual(shown.json<{ account: Account }>().account.alerts, { lowBalanceThresholdMinor: 10_000, largeTransactionThresholdMinor: 50_000, confirmationThresholdMinor: 80_000 });
    const off = await setAlerts(ana, account, { largeTransactionThresholdMinor: null });
    assert.deepEqual(off.json<{ account: Account }>().account.alerts, { lowBalanceThresholdMinor: 10_000, largeTransactionThresholdMinor: null, confirmationThresholdMinor: 80_000 });
  });

  it('refuses bad thresholds with 400 saying what to send', async () => {
    const account = await open(ana);
    const cases: [unknown, RegExp][] = [
      [{}, /give at least one of lowBalanceThresholdMinor/],
      [{ lowBalanceThresholdMinor: -1 }, /^lowBalanceThresholdMinor: /],
      [{ largeTransactionThresholdMinor: 12.5 }, /^largeTransactionThresholdMinor: /],
      [{ largeTransactionThresholdMinor: 0 }, /^largeTransactionThresholdMinor: /],
      [{ confirmationThresholdMinor: null }, /^confirmationThresholdMinor: /],
      [{ lowBalanceThresholdMinor: '100' }, /^lowBalanceThresholdMinor: /],
      [{ overdraft: 5 }, /overdraft/],
    ];
    for (const [payload, message] of cases) {
      const res = await setAlerts(ana, account, payload);
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.equal(res.json<Refusal>().error, 'validation_failed');
      assert.match(res.json<Refusal>().message, message);
    }
  });

  it("answers another customer's account with the same 404 as a nonexistent one, changing nothing", async () => {
    const account = await open(ana);
    const theirs = await setAlerts(ben, account, { lowBalanceThresholdMinor: 1 });
    const nowhere = await setAlerts(ben, { id: '6f1c2f0e-1111-4aaa-8bbb-123456789abc' }, { lowBalanceThresholdMinor: 1 });
    assert.equal(theirs.statusCode, 404);
    assert.equal(theirs.body, nowhere.body);
    const [row] = await t.ctx.db.select().from(accounts).where(eq(accounts.id, account.id));
    assert.equal(row?.lowBalanceThresholdMinor, null);
  });
});

describe('low-balance alert', () => {
  it('alerts once per crossing: two debits below make one alert; back above, then below again, a second', async () => {
    const account = await open(ana);
    assert.equal((await setAlerts(ana, account, { lowBalanceThresholdMinor: 10_000 })).statusCode, 200);
    await cash('deposits', account, 30_000);
    const seen = inbox(t, ana.phone).length;

    await cash('withdrawals', account, 25_000);
    const alert = await nextSms(t, ana.phone, seen, /below your/, 'the low-balance SMS');
    assert.equal(alert, `DominionTrust: account ending ${last4(account)} is at $50.00, below your $100.00 alert. Reply STOP to opt out.`);
    await cash('withdrawals', account, 1_000);
    await cash('withdrawals', account, 1_000);
    assert.equal((await settled(ana.phone, seen, /below your/)).length, 1, 'no alert for further debits below the threshold');
    assert.equal(await events(ana.user.id, 'balance.low'), 1);

    await cash('deposits', account, 20_000); // 23_000: back above, the mark is cleared
    const [row] = await t.ctx.db.select().from(accounts).where(eq(accounts.id, account.id));
    assert.equal(row?.lowBalanceAlertedAt, null);
    await cash('withdrawals', account, 20_000); // 3_000: a new crossing
    const second = await eventually(() => settled(ana.phone, seen, /below your/).then((a) => (a.length === 2 ? a : undefined)));
    assert.equal(second[1], `DominionTrust: account ending ${last4(account)} is at $30.00, below your $100.00 alert. Reply STOP to opt out.`);
    assert.equal(await events(ana.user.id, 'balance.low'), 2);
  });

  it('alerts on a transfer that takes the sender below the threshold', async () => {
    const from = await open(ana);
    const to = await open(ben);
    await setAlerts(ana, from, { lowBalanceThresholdMinor: 5_000 });
    await cash('deposits', from, 6_000);
    const seen = inbox(t, ana.phone).length;
    const res = await app.inject({
      method: 'POST', url: '/api/transfers', headers: { ...ana.auth, 'idempotency-key': newKey() },
      payload: { fromAccountId: from.id, toAccountId: to.id, amountMinor: 2_000, currency: 'USD' },
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(await nextSms(t, ana.phone, seen, /below your/), `DominionTrust: account ending ${last4(from)} is at $40.00, below your $50.00 alert. Reply STOP to opt out.`);
  });
});

describe('large-transaction alert', () => {
  it('alerts the debited customer on withdrawals and transfers, the credited one on deposits, at or above the threshold only', async () => {
    const account = await open(ana);
    const payee = await open(ben);
    await setAlerts(ana, account, { largeTransactionThresholdMinor: 50_000 });
    const seen = inbox(t, ana.phone).length;
    await cash('deposits', account, 100_010);
    await cash('withdrawals', account, 50_000);
    await cash('withdrawals', account, 49_999);
    const transfer = await app.inject({
      method: 'POST', url: '/api/transfers', headers: { ...ana.auth, 'idempotency-key': newKey() },
      payload: { fromAccountId: account.id, toAccountId: payee.id, amountMinor: 1, currency: 'USD' },
    });
    assert.equal(transfer.statusCode, 201);
    await setAlerts(ana, account, { largeTransactionThresholdMinor: 1 });
    const big = await app.inject({
      method: 'POST', url: '/api/transfers', headers: { ...ana.auth, 'idempotency-key': newKey() },
      payload: { fromAccountId: account.id, toAccountId: payee.id, amountMinor: 1, currency: 'USD' },
    });
    assert.equal(big.statusCode, 201);

    const alerts = await eventually(() => settled(ana.phone, seen, /large transaction/).then((a) => (a.length >= 3 ? a : undefined)));
    const tail = `account ending ${last4(account)}. Not you? Call the number on your card. Reply STOP to opt out.`;
    assert.deepEqual(alerts.sort(), [
      `DominionTrust: large transaction $1,000.10, Deposit, ${tail}`,
      `DominionTrust: large transaction -$0.01, Transfer to account ending ${last4(payee)}, ${tail}`,
      `DominionTrust: large transaction -$500.00, Cash withdrawal, ${tail}`,
    ].sort());
    assert.equal(await events(ana.user.id, 'transaction.large'), 3);
    assert.equal(await events(ben.user.id, 'transaction.large'), 0, "the payee's account has no threshold");
  });
});

describe('events of a movement', () => {
  it('are written in the movement\'s transaction with their notifications; a refused movement writes none', async () => {
    const account = await open(cat);
    await setAlerts(cat, account, { lowBalanceThresholdMinor: 100_000, largeTransactionThresholdMinor: 1 });
    const movement = await cash('deposits', account, 20_000);
    // Read straight after the answer: nothing but the request's own transaction wrote these.
    const rows = await t.ctx.db.select().from(bankEvents).where(eq(bankEvents.userId, cat.user.id));
    assert.deepEqual(rows.map((r) => r.type).sort(), ['transaction.large', 'transaction.posted']);
    assert.ok(rows.every((r) => (r.payload as { transactionId?: string }).transactionId === movement.transactionId));
    for (const row of rows) {
      const [queued] = await t.ctx.db.select({ n: count() }).from(notifications).where(eq(notifications.eventKey, `event:${row.id}`));
      assert.ok((queued?.n ?? 0) >= 1, `a notification for ${row.type}`);
    }

    const before = await events(cat.user.id);
    const res = await app.inject({
      method: 'POST', url: `/api/accounts/${account.id}/withdrawals`, headers: { ...cat.auth, 'idempotency-key': newKey() }, payload: { amountMinor: 20_001, currency: 'USD' },
    });
    assert.equal(res.statusCode, 422);
    assert.equal(await events(cat.user.id), before, 'no event for a refused movement');
  });

  it("send no 'transaction' SMS when the customer switched that alert off, but still record the event", async () => {
    const account = await open(cat);
    await setPreference(t.ctx.db, cat.user.id, 'transaction', { sms: false, email: false });
    const seen = inbox(t, cat.phone).length;
    const before = await events(cat.user.id, 'transaction.posted');
    await cash('deposits', account, 700);
    assert.equal(await events(cat.user.id, 'transaction.posted'), before + 1);
    assert.deepEqual(await settled(cat.phone, seen, /transaction \$7\.00/), []);
    await setPreference(t.ctx.db, cat.user.id, 'transaction', { sms: true, email: false });
    await cash('deposits', account, 800);
    assert.equal(await nextSms(t, cat.phone, seen, /^DominionTrust: transaction \$8\.00/), `DominionTrust: transaction $8.00, Deposit, account ending ${last4(account)}. Balance $15.00. Reply STOP to opt out.`);
    // The $8.00 alert was queued after the $7.00 one would have been: its arrival shows none was sent.
    assert.equal(inbox(t, cat.phone).slice(seen).filter((b) => b.includes('transaction $7.00')).length, 0);
  });
});

describe('GET /api/events', () => {
  it("lists the customer's own events, newest first, filtered by type when asked", async () => {
    const account = await open(ben);
    await cash('deposits', account, 1_000);
    clock.advance(1_000);
    await cash('deposits', account, 2_000);
    const res = await app.inject({ url: '/api/events?type=transaction.posted', headers: ben.auth });
    assert.equal(res.statusCode, 200, res.body);
    const list = res.json<{ events: EventView[] }>().events;
    assert.deepEqual(list.slice(0, 2).map((e) => e.payload.amountMinor), [2_000, 1_000]);
    assert.ok(list.every((e) => e.type === 'transaction.posted'));

    const all = (await app.inject({ url: '/api/events', headers: ben.auth })).json<{ events: EventView[] }>().events;
    assert.ok(all.some((e) => e.type === 'transfer.received'), 'transfers to Ben are his events too');
    const [anaEvent] = await t.ctx.db.select({ id: bankEvents.id }).from(bankEvents).where(eq(bankEvents.userId, ana.user.id)).limit(1);
    assert.ok(anaEvent && !all.some((e) => e.id === anaEvent.id), "no other customer's events");
    const dates = all.map((e) => e.createdAt);
    assert.deepEqual(dates, [...dates].sort().reverse());

    const bad = await app.inject({ url: '/api/events?type=DROP&limit=0', headers: ben.auth });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json<Refusal>().message, /type: an event type such as transfer\.sent/);
    assert.equal((await app.inject({ url: '/api/events' })).statusCode, 401);
  });

  it('keeps the ledger whole', async () => {
    await assertLedgerWhole(t);
  });
});

describe('suspicious activity: a large transfer soon after a password change', () => {
  it('alerts the payer once for that transfer, and not for the same transfer without a recent password change', async () => {
    const from = await open(cat);
    const to = await open(ben);
    await cash('deposits', from, 200_000);
    const transferOut = async () => {
      const res = await app.inject({
        method: 'POST', url: '/api/transfers', headers: { ...cat.auth, 'idempotency-key': newKey() },
        payload: { fromAccountId: from.id, toAccountId: to.id, amountMinor: 60_000, currency: 'USD' },
      });
      assert.equal(res.statusCode, 201, res.body);
    };
    const seen = inbox(t, cat.phone).length;
    await transferOut();
    assert.deepEqual(await settled(cat.phone, seen, /we noticed/), [], 'no password change: no alert');
    assert.equal(await events(cat.user.id, 'suspicious.activity'), 0);

    await t.ctx.db.update(users).set({ passwordChangedAt: new Date(clock.now().getTime() - 2 * 3600_000) }).where(eq(users.id, cat.user.id));
    const before = inbox(t, cat.phone).length;
    await transferOut();
    const alert = await nextSms(t, cat.phone, before, /we noticed/, 'the suspicious-activity alert');
    assert.match(alert, /^DominionTrust: we noticed a transfer of \$600\.00 soon after a password change on Nov 25, 2026, 10:00 AM\. Not you\?/);
    assert.equal(await events(cat.user.id, 'suspicious.activity'), 1);
  });
});
