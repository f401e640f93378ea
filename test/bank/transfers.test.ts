// Transfers through POST /api/transfers: double-entry postings, an SMS to the sender and to the
// receiver, Idempotency-Key replay (same request: the first answer, money moved once; different
// request: 422), insufficient funds, and another customer's account as 404.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { count, eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { ledgerEntries } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { createTestContext, DaytimeClock, type TestContext } from '../helpers/context.ts';
import { assertLedgerWhole, customer, inbox, nextSms, type Customer } from '../helpers/customers.ts';

let t: TestContext;
let app: FastifyInstance;
let ana: Customer;
let ben: Customer;
let anaMain: Account;
let anaSavings: Account;
let benMain: Account;

interface Account { id: string; number: string; balanceMinor: number }
interface Movement { transactionId: string; accounts: { id: string; balanceMinor: number }[] }

async function open(who: Customer, currency = 'USD'): Promise<Account> {
  const res = await app.inject({ method: 'POST', url: '/api/accounts', headers: who.auth, payload: { currency } });
  return res.json<{ account: Account }>().account;
}

async function balance(who: Customer, account: Account): Promise<number> {
  const res = await app.inject({ url: `/api/accounts/${account.id}`, headers: who.auth });
  return res.json<{ account: Account }>().account.balanceMinor;
}

function send(who: Customer, key: string | undefined, payload: Record<string, unknown>) {
  return app.inject({ method: 'POST', url: '/api/transfers', headers: { ...who.auth, ...(key ? { 'idempotency-key': key } : {}) }, payload });
}

before(async () => {
  // Transaction alerts wait for the morning in quiet hours: the suite must pass at any hour.
  t = await createTestContext({ clock: new DaytimeClock() });
  await startWorker(t.ctx);
  app = buildApp(t.ctx);
  ana = await customer(t, 'ana', '+14155557001');
  ben = await customer(t, 'ben', '+14155557002');
  const staff = await customer(t, 'teller', '+14155557003', { isStaff: true });
  anaMain = await open(ana);
  anaSavings = await open(ana);
  benMain = await open(ben);
  const deposit = await app.inject({
    method: 'POST', url: `/api/accounts/${anaMain.id}/deposits`,
    headers: { ...staff.auth, 'idempotency-key': 'seed' }, payload: { amountMinor: 100_000, currency: 'USD' },
  });
  assert.equal(deposit.statusCode, 201, deposit.body);
});
after(() => t.close());

describe('POST /api/transfers', () => {
  it('moves money between customers, posts balanced entries and texts both of them', async () => {
    const seenAna = inbox(t, ana.phone).length;
    const seenBen = inbox(t, ben.phone).length;
    const res = await send(ana, 't-1', { fromAccountId: anaMain.id, toAccountId: benMain.id, amountMinor: 12_550, currency: 'USD' });
    assert.equal(res.statusCode, 201, res.body);
    const movement = res.json<Movement>();
    assert.deepEqual(movement.accounts, [{ id: anaMain.id, balanceMinor: 87_450 }], "only the sender's own balance is shown");
    assert.equal(await balance(ana, anaMain), 87_450);
    assert.equal(await balance(ben, benMain), 12_550);

    const entries = await t.ctx.db.select().from(ledgerEntries).where(eq(ledgerEntries.transactionId, movement.transactionId));
    assert.deepEqual(entries.map((e) => e.amountMinor).sort((a, b) => a - b), [-12_550, 12_550]);

    const sent = await nextSms(t, ana.phone, seenAna, /you sent/, 'the transfer_sent SMS');
    assert.equal(sent, `DominionTrust: you sent $125.50 to account ending ${benMain.number.slice(-4)} from account ending ${anaMain.number.slice(-4)}. Not you? Call the number on your card. Reply STOP to opt out.`);
    const received = await nextSms(t, ben.phone, seenBen, /you received/, 'the transfer_received SMS');
    assert.equal(received, `DominionTrust: you received $125.50 from ana in account ending ${benMain.number.slice(-4)}. Reply STOP to opt out.`);
  });

  it('moves money between the same customer\'s accounts, texting only "sent"', async () => {
    const seen = inbox(t, ana.phone).length;
    const res = await send(ana, 't-own', { fromAccountId: anaMain.id, toAccountId: anaSavings.id, amountMinor: 450, currency: 'USD' });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json<Movement>().accounts.length, 2);
    const sent = await nextSms(t, ana.phone, seen, /you sent/, 'the transfer_sent SMS');
    assert.match(sent, new RegExp(`you sent \\$4\\.50 to your account ending ${anaSavings.number.slice(-4)}`));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(inbox(t, ana.phone).slice(seen).filter((b) => b.includes('you received')).length, 0);
  });

  it('answers a retry with the same Idempotency-Key with the first answer and moves the money once', async () => {
    const body = { fromAccountId: anaMain.id, toAccountId: benMain.id, amountMinor: 1_000, currency: 'USD' };
    const before = await balance(ana, anaMain);
    const first = await send(ana, 't-dup', body);
    const retry = await send(ana, 't-dup', body);
    assert.equal(first.statusCode, 201);
    assert.equal(retry.statusCode, 201);
    assert.equal(retry.body, first.body);
    assert.equal(retry.headers['idempotent-replayed'], 'true');
    assert.equal(await balance(ana, anaMain), before - 1_000);
    const [postings] = await t.ctx.db.select({ n: count() }).from(ledgerEntries).where(eq(ledgerEntries.transactionId, first.json<Movement>().transactionId));
    assert.equal(postings?.n, 2);

    const different = await send(ana, 't-dup', { ...body, amountMinor: 2_000 });
    assert.equal(different.statusCode, 422);
    assert.equal(different.json<{ error: string }>().error, 'idempotency_key_reused');
    assert.match(different.json<{ message: string }>().message, /already used for a different transfer request/);
    assert.equal(await balance(ana, anaMain), before - 1_000);
  });

  it('refuses a transfer beyond the balance with 422 Insufficient Funds, moving nothing, and so again on retry', async () => {
    const before = await balance(ana, anaMain);
    const res = await send(ana, 't-big', { fromAccountId: anaMain.id, toAccountId: benMain.id, amountMinor: before + 1, currency: 'USD' });
    assert.equal(res.statusCode, 422);
    assert.match(res.json<{ message: string }>().message, /^Insufficient Funds: account ending \d{4} holds \$[\d,.]+, less than the \$[\d,.]+ asked for\. Nothing was moved\.$/);
    assert.equal(await balance(ana, anaMain), before);

    // Money arrives; a retry of the refused request is still refused the same way: same key, same answer.
    assert.equal((await send(ana, 't-topup', { fromAccountId: anaSavings.id, toAccountId: anaMain.id, amountMinor: 100, currency: 'USD' })).statusCode, 201);
    const retry = await send(ana, 't-big', { fromAccountId: anaMain.id, toAccountId: benMain.id, amountMinor: before + 1, currency: 'USD' });
    assert.equal(retry.statusCode, 422);
    assert.equal(retry.body, res.body);
    assert.equal(await balance(ana, anaMain), before + 100);
  });

  it("answers a transfer from another customer's account with the same 404 as a nonexistent one", async () => {
    const fromOther = await send(ana, 't-steal', { fromAccountId: benMain.id, toAccountId: anaMain.id, amountMinor: 1, currency: 'USD' });
    const fromNowhere = await send(ana, 't-nowhere', { fromAccountId: '6f1c2f0e-1111-4aaa-8bbb-123456789abc', toAccountId: anaMain.id, amountMinor: 1, currency: 'USD' });
    assert.equal(fromOther.statusCode, 404);
    assert.equal(fromOther.body, fromNowhere.body);
  });

  it('refuses a missing Idempotency-Key (400), a currency mismatch and a bad amount', async () => {
    const body = { fromAccountId: anaMain.id, toAccountId: benMain.id, amountMinor: 1, currency: 'USD' };
    const noKey = await send(ana, undefined, body);
    assert.equal(noKey.statusCode, 400);
    assert.match(noKey.json<{ message: string }>().message, /^Missing Idempotency-Key header/);
    const euro = await send(ana, 't-eur', { ...body, currency: 'EUR' });
    assert.equal(euro.statusCode, 400);
    assert.match(euro.json<{ message: string }>().message, /^Currency mismatch/);
    assert.equal((await send(ana, 't-neg', { ...body, amountMinor: -5 })).statusCode, 400);
    assert.equal((await send(ana, 't-float', { ...body, amountMinor: 1.5 })).statusCode, 400);
  });

  it('keeps the ledger whole: every transaction sums to zero and every balance equals its entries', async () => {
    await assertLedgerWhole(t);
  });
});
