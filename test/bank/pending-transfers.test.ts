// Strong confirmation of large transfers (PSD2 dynamic linking) through the HTTP API: a transfer
// at or above the from-account's confirmation threshold answers 202 and moves nothing; the SMS
// code, whose text names the amount and the payee, confirms that transfer only, once. Wrong,
// expired, reused and sixth codes are refused like the login code; the funds are checked again at
// confirmation; another customer's pending transfer is 404.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { and, count, eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { bankEvents, ledgerEntries, otpChallenges, pendingTransfers } from '../../src/db/schema.ts';
import { setAlertThresholds } from '../../src/bank/accounts.ts';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { createTestContext, HeldClock, type TestContext } from '../helpers/context.ts';
import { assertLedgerWhole, customer, inbox, nextSms, wrong, type Customer } from '../helpers/customers.ts';

const clock = new HeldClock('2026-11-25T15:00:00Z');
let t: TestContext;
let app: FastifyInstance;
let ana: Customer;
let ben: Customer;
let staff: Customer;
let anaMain: Account;
let benMain: Account;
let keys = 0;

interface Account { id: string; number: string; balanceMinor: number }
interface Pending { id: string; status: string; amountMinor: number; currency: string; payee: string; destination: string; expiresAt: string }
interface Movement { transactionId: string; accounts: { id: string; balanceMinor: number }[] }
interface Refusal { error: string; message: string }

const newKey = () => `k-${++keys}`;

async function open(who: Customer): Promise<Account> {
  const res = await app.inject({ method: 'POST', url: '/api/accounts', headers: who.auth, payload: { currency: 'USD' } });
  return res.json<{ account: Account }>().account;
}

async function balance(who: Customer, account: Account): Promise<number> {
  const res = await app.inject({ url: `/api/accounts/${account.id}`, headers: who.auth });
  return res.json<{ account: Account }>().account.balanceMinor;
}

async function deposit(account: Account, amountMinor: number): Promise<void> {
  const res = await app.inject({
    method: 'POST', url: `/api/accounts/${account.id}/deposits`, headers: { ...staff.auth, 'idempotency-key': newKey() }, payload: { amountMinor, currency: 'USD' },
  });
  assert.equal(res.statusCode, 201, res.body);
}

function send(who: Customer, key: string, payload: Record<string, unknown>) {
  return app.inject({ method: 'POST', url: '/api/transfers', headers: { ...who.auth, 'idempotency-key': key }, payload });
}

function confirm(who: Customer, id: string, key: string, code: string) {
  return app.inject({ method: 'POST', url: `/api/transfers/${id}/confirm`, headers: { ...who.auth, 'idempotency-key': key }, payload: { code } });
}

/** The code in a transfer-confirmation SMS. */
function codeOf(body: string): string {
  const code = /code (\d{6}) confirms/.exec(body)?.[1];
  assert.ok(code, `no 6-digit code in "${body}"`);
  return code;
}

/** Asks for a large transfer from Ana to Ben; returns the pending transfer and the SMS that carries its code. */
async function pendingTransfer(amountMinor: number, key = newKey()): Promise<{ pending: Pending; sms: string; code: string }> {
  const seen = inbox(t, ana.phone).length;
  const res = await send(ana, key, { fromAccountId: anaMain.id, toAccountId: benMain.id, amountMinor, currency: 'USD' });
  assert.equal(res.statusCode, 202, res.body);
  // Matched by amount: the code SMS of an earlier transfer may still be on its way.
  const dollars = (amountMinor / 100).toLocaleString('en-US', { style: 'currency', currency: 'USD' }).replace(/[$.]/g, '\\$&');
  const sms = await nextSms(t, ana.phone, seen, new RegExp(`confirms your transfer of ${dollars} `), 'the transfer confirmation code');
  return { pending: res.json<Pending>(), sms, code: codeOf(sms) };
}

async function eventsOf(userId: string, type: string): Promise<number> {
  const [row] = await t.ctx.db.select({ n: count() }).from(bankEvents).where(and(eq(bankEvents.userId, userId), eq(bankEvents.type, type)));
  return row?.n ?? 0;
}

before(async () => {
  // The code and SMS limits have tests of their own; here one customer gets many codes.
  t = await createTestContext({ clock, env: { CODE_NUMBER_LIMIT: '0', CODE_IP_LIMIT: '0', SMS_USER_HOURLY_LIMIT: '0', SMS_USER_DAILY_LIMIT: '0', CODE_SEND_WAIT_MS: '1500' } });
  await startWorker(t.ctx);
  app = buildApp(t.ctx);
  ana = await customer(t, 'ana', '+14155557101');
  ben = await customer(t, 'ben', '+14155557102');
  staff = await customer(t, 'teller', '+14155557103', { isStaff: true });
  anaMain = await open(ana);
  benMain = await open(ben);
  await deposit(anaMain, 1_000_000);
});
after(() => t.close());

describe('a transfer at or above the confirmation threshold', () => {
  it('waits (202, nothing moved) and texts a code naming the amount and payee; the code moves the money once', async () => {
    const before = { ana: await balance(ana, anaMain), ben: await balance(ben, benMain) };
    const seenBen = inbox(t, ben.phone).length;
    const key = newKey();
    const { pending, sms, code } = await pendingTransfer(150_000, key);
    assert.equal(pending.status, 'awaiting_confirmation');
    assert.equal(pending.amountMinor, 150_000);
    assert.equal(pending.currency, 'USD');
    assert.equal(pending.payee, `account ending ${benMain.number.slice(-4)}`);
    assert.equal(pending.destination, '***7101');
    assert.equal(new Date(pending.expiresAt).getTime(), clock.now().getTime() + 5 * 60_000);
    assert.equal(sms, `DominionTrust: code ${code} confirms your transfer of $1,500.00 to account ending ${benMain.number.slice(-4)}. Expires in 5 min. We will never ask you for this code.`);
    assert.equal(await balance(ana, anaMain), before.ana, 'nothing moved before the code');

    const [challenge] = await t.ctx.db.select().from(otpChallenges).innerJoin(pendingTransfers, eq(pendingTransfers.otpChallengeId, otpChallenges.id)).where(eq(pendingTransfers.id, pending.id));
    assert.equal(challenge?.otp_challenges.purpose, 'transfer_confirmation');
    assert.ok(challenge?.otp_challenges.codeHash?.startsWith('hmac1$') && !challenge.otp_challenges.codeHash.includes(code), 'the code is stored hashed');

    const confirmKey = newKey();
    const done = await confirm(ana, pending.id, confirmKey, code);
    assert.equal(done.statusCode, 201, done.body);
    const movement = done.json<Movement>();
    assert.deepEqual(movement.accounts, [{ id: anaMain.id, balanceMinor: before.ana - 150_000 }]);
    assert.equal(await balance(ben, benMain), before.ben + 150_000);
    const received = await nextSms(t, ben.phone, seenBen, /you received/, 'the transfer_received SMS');
    assert.equal(received, `DominionTrust: you received $1,500.00 from ana in account ending ${benMain.number.slice(-4)}. Reply STOP to opt out.`);

    // The same confirmation again (same Idempotency-Key): the first answer, no second movement.
    const retry = await confirm(ana, pending.id, confirmKey, code);
    assert.equal(retry.statusCode, 201);
    assert.equal(retry.body, done.body);
    assert.equal(retry.headers['idempotent-replayed'], 'true');
    // The used code under a new key: refused like a reused login code.
    const reused = await confirm(ana, pending.id, newKey(), code);
    assert.equal(reused.statusCode, 410);
    assert.equal(reused.json<Refusal>().error, 'code_used');
    assert.match(reused.json<Refusal>().message, /^Code already used: each code works once\./);

    assert.equal(await balance(ana, anaMain), before.ana - 150_000, 'moved exactly once');
    const [postings] = await t.ctx.db.select({ n: count() }).from(ledgerEntries).where(eq(ledgerEntries.transactionId, movement.transactionId));
    assert.equal(postings?.n, 2);
    const view = await app.inject({ url: `/api/transfers/${pending.id}`, headers: ana.auth });
    assert.equal(view.json<Pending>().status, 'confirmed');
    // The POST retried after all this still answers its pending transfer, and sends no code.
    const seen = inbox(t, ana.phone).length;
    const again = await send(ana, key, { fromAccountId: anaMain.id, toAccountId: benMain.id, amountMinor: 150_000, currency: 'USD' });
    assert.equal(again.statusCode, 202);
    assert.equal(again.json<Pending>().id, pending.id);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(inbox(t, ana.phone).slice(seen).filter((b) => b.includes('confirms your transfer')).length, 0);
  });

  it('answers a POST retried with the same Idempotency-Key with the same pending transfer and no second code; another body is 422', async () => {
    const key = newKey();
    const body = { fromAccountId: anaMain.id, toAccountId: benMain.id, amountMinor: 120_000, currency: 'USD' };
    const { pending } = await pendingTransfer(120_000, key);
    const retry = await send(ana, key, body);
    assert.equal(retry.statusCode, 202);
    assert.equal(retry.headers['idempotent-replayed'], 'true');
    assert.deepEqual(retry.json<Pending>(), pending);
    const [codes] = await t.ctx.db.select({ n: count() }).from(pendingTransfers).innerJoin(otpChallenges, eq(otpChallenges.id, pendingTransfers.otpChallengeId)).where(eq(pendingTransfers.idempotencyKey, key));
    assert.equal(codes?.n, 1);
    const [challenges] = await t.ctx.db.select({ n: count() }).from(otpChallenges).where(and(eq(otpChallenges.userId, ana.user.id), eq(otpChallenges.purpose, 'transfer_confirmation')));
    const different = await send(ana, key, { ...body, amountMinor: 120_001 });
    assert.equal(different.statusCode, 422);
    assert.equal(different.json<Refusal>().error, 'idempotency_key_reused');
    const small = await send(ana, key, { ...body, amountMinor: 100 });
    assert.equal(small.json<Refusal>().error, 'idempotency_key_reused', 'a key used for a pending transfer cannot move money at once either');
    const [after] = await t.ctx.db.select({ n: count() }).from(otpChallenges).where(and(eq(otpChallenges.userId, ana.user.id), eq(otpChallenges.purpose, 'transfer_confirmation')));
    assert.equal(after?.n, challenges?.n, 'no second code');
  });

  it('refuses the code of another transfer, moving nothing; each code still confirms its own transfer', async () => {
    const first = await pendingTransfer(110_000);
    const second = await pendingTransfer(220_000);
    const before = await balance(ana, anaMain);
    const crossed = await confirm(ana, first.pending.id, newKey(), second.code);
    assert.equal(crossed.statusCode, 400);
    assert.equal(crossed.json<Refusal>().error, 'code_rejected');
    assert.equal(crossed.json<Refusal>().message,
      `This is the code for another transfer ($2,200.00 to account ending ${benMain.number.slice(-4)}): a code confirms only the transfer its SMS names. ` +
      `Nothing was moved. Type the code from the SMS for $1,100.00 to account ending ${benMain.number.slice(-4)}; 4 attempts left.`);
    assert.equal(await balance(ana, anaMain), before, 'nothing moved');
    // Telling which transfer a code belongs to costs that transfer an attempt too: several pending
    // transfers give no more guesses at any one code.
    const [other] = await t.ctx.db.select({ attempts: otpChallenges.attempts }).from(otpChallenges)
      .innerJoin(pendingTransfers, eq(pendingTransfers.otpChallengeId, otpChallenges.id)).where(eq(pendingTransfers.id, second.pending.id));
    assert.equal(other?.attempts, 1);

    assert.equal((await confirm(ana, second.pending.id, newKey(), second.code)).statusCode, 201, 'the second code was not used up');
    assert.equal((await confirm(ana, first.pending.id, newKey(), first.code)).statusCode, 201);
    assert.equal(await balance(ana, anaMain), before - 330_000);
  });

  it('refuses wrong codes with the attempts left, and the sixth attempt even with the right code', async () => {
    const { pending, code } = await pendingTransfer(130_000);
    const before = await balance(ana, anaMain);
    const first = await confirm(ana, pending.id, newKey(), wrong(code));
    assert.equal(first.statusCode, 400);
    assert.deepEqual(first.json(), { error: 'code_rejected', message: 'Wrong code: 4 attempts left. Check the latest SMS from DominionTrust.' });
    for (let i = 0; i < 4; i++) assert.equal((await confirm(ana, pending.id, newKey(), wrong(code))).statusCode, 400);
    const sixth = await confirm(ana, pending.id, newKey(), code);
    assert.equal(sixth.statusCode, 429);
    assert.equal(sixth.json<Refusal>().error, 'too_many_requests');
    assert.match(sixth.json<Refusal>().message, /^Too many wrong codes: this code no longer works after 5 attempts\./);
    assert.equal(await balance(ana, anaMain), before);
  });

  it('refuses the right code after 5 minutes (410) and marks the transfer expired', async () => {
    const { pending, code } = await pendingTransfer(140_000);
    const before = await balance(ana, anaMain);
    clock.advance(5 * 60_000);
    const late = await confirm(ana, pending.id, newKey(), code);
    assert.equal(late.statusCode, 410);
    assert.equal(late.json<Refusal>().error, 'code_expired');
    assert.match(late.json<Refusal>().message, /^Code expired: a code is valid for 5 minutes\. Send the transfer again/);
    assert.equal(await balance(ana, anaMain), before);
    assert.equal((await app.inject({ url: `/api/transfers/${pending.id}`, headers: ana.auth })).json<Pending>().status, 'expired');
  });

  it('checks the funds again at confirmation: Insufficient Funds then, nothing moved, the same on retry', async () => {
    const poor = await open(ana);
    await deposit(poor, 200_000);
    const seen = inbox(t, ana.phone).length;
    const res = await send(ana, newKey(), { fromAccountId: poor.id, toAccountId: benMain.id, amountMinor: 150_000, currency: 'USD' });
    assert.equal(res.statusCode, 202, res.body);
    const code = codeOf(await nextSms(t, ana.phone, seen, /confirms your transfer/));
    const out = await app.inject({
      method: 'POST', url: `/api/accounts/${poor.id}/withdrawals`, headers: { ...ana.auth, 'idempotency-key': newKey() }, payload: { amountMinor: 60_000, currency: 'USD' },
    });
    assert.equal(out.statusCode, 201, out.body);
    const sentBefore = await eventsOf(ana.user.id, 'transfer.sent');

    const key = newKey();
    const refused = await confirm(ana, res.json<Pending>().id, key, code);
    assert.equal(refused.statusCode, 422);
    assert.equal(refused.json<Refusal>().message, `Insufficient Funds: account ending ${poor.number.slice(-4)} holds $1,400.00, less than the $1,500.00 asked for. Nothing was moved.`);
    assert.equal(await balance(ana, poor), 140_000);
    assert.equal(await eventsOf(ana.user.id, 'transfer.sent'), sentBefore, 'a refused movement writes no event');
    const retry = await confirm(ana, res.json<Pending>().id, key, code);
    assert.equal(retry.statusCode, 422);
    assert.equal(retry.body, refused.body);
    assert.equal((await app.inject({ url: `/api/transfers/${res.json<Pending>().id}`, headers: ana.auth })).json<Pending>().status, 'refused');
  });

  it('refuses a large transfer beyond the balance at once, sending no code', async () => {
    const seen = inbox(t, ana.phone).length;
    const key = newKey();
    const body = { fromAccountId: anaMain.id, toAccountId: benMain.id, amountMinor: 100_000_000, currency: 'USD' };
    const res = await send(ana, key, body);
    assert.equal(res.statusCode, 422);
    assert.match(res.json<Refusal>().message, /^Insufficient Funds/);
    assert.equal((await send(ana, key, body)).body, res.body, 'a retry is refused the same way');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(inbox(t, ana.phone).length, seen);
  });

  it("answers another customer's pending transfer with the same 404 as a nonexistent one, and leaves it alone", async () => {
    const { pending, code } = await pendingTransfer(105_000);
    const missing = '6f1c2f0e-1111-4aaa-8bbb-123456789abc';
    for (const [method, path, payload] of [
      ['GET', '', undefined], ['POST', '/confirm', { code }], ['POST', '/resend', undefined], ['DELETE', '', undefined],
    ] as const) {
      const headers = { ...ben.auth, 'idempotency-key': newKey() };
      const theirs = await app.inject({ method, url: `/api/transfers/${pending.id}${path}`, headers, payload });
      const nowhere = await app.inject({ method, url: `/api/transfers/${missing}${path}`, headers: { ...headers, 'idempotency-key': newKey() }, payload });
      assert.equal(theirs.statusCode, 404, `${method} ${path}: ${theirs.body}`);
      assert.equal(theirs.body, nowhere.body);
    }
    assert.equal((await confirm(ana, pending.id, newKey(), code)).statusCode, 201, 'still waiting for its owner, code unused');
  });

  it('sends a new code after 30 seconds, not before; the old code stops working', async () => {
    const { pending, code: oldCode } = await pendingTransfer(115_000);
    const tooSoon = await app.inject({ method: 'POST', url: `/api/transfers/${pending.id}/resend`, headers: ana.auth });
    assert.equal(tooSoon.statusCode, 429);
    assert.equal(tooSoon.headers['retry-after'], '30');
    assert.match(tooSoon.json<Refusal>().message, /^Code sent moments ago: you can ask for another in 30 seconds\./);
    clock.advance(30_000);
    const seen = inbox(t, ana.phone).length;
    const resent = await app.inject({ method: 'POST', url: `/api/transfers/${pending.id}/resend`, headers: ana.auth });
    assert.equal(resent.statusCode, 200, resent.body);
    assert.equal(new Date(resent.json<Pending>().expiresAt).getTime(), clock.now().getTime() + 5 * 60_000);
    const newCode = codeOf(await nextSms(t, ana.phone, seen, /confirms your transfer of \$1,150\.00/));
    if (newCode !== oldCode) {
      assert.equal((await confirm(ana, pending.id, newKey(), oldCode)).json<Refusal>().error, 'code_rejected');
    }
    assert.equal((await confirm(ana, pending.id, newKey(), newCode)).statusCode, 201);
  });

  it('cancels a pending transfer: its code then moves nothing', async () => {
    const { pending, code } = await pendingTransfer(125_000);
    const before = await balance(ana, anaMain);
    const cancelled = await app.inject({ method: 'DELETE', url: `/api/transfers/${pending.id}`, headers: ana.auth });
    assert.equal(cancelled.statusCode, 200);
    assert.equal(cancelled.json<Pending>().status, 'cancelled');
    const late = await confirm(ana, pending.id, newKey(), code);
    assert.equal(late.statusCode, 409);
    assert.match(late.json<Refusal>().message, /^This transfer was cancelled and moved nothing\./);
    assert.equal(await balance(ana, anaMain), before);
  });

  it('asks for a code below the default once the customer lowers the threshold, and refuses raising it above the bank\'s', async () => {
    const lowered = await app.inject({ method: 'PATCH', url: `/api/accounts/${anaMain.id}/alerts`, headers: ana.auth, payload: { confirmationThresholdMinor: 5_000 } });
    assert.equal(lowered.statusCode, 200, lowered.body);
    assert.equal(lowered.json<{ account: { alerts: { confirmationThresholdMinor: number } } }>().account.alerts.confirmationThresholdMinor, 5_000);
    const small = await send(ana, newKey(), { fromAccountId: anaMain.id, toAccountId: benMain.id, amountMinor: 5_000, currency: 'USD' });
    assert.equal(small.statusCode, 202);
    const below = await send(ana, newKey(), { fromAccountId: anaMain.id, toAccountId: benMain.id, amountMinor: 4_999, currency: 'USD' });
    assert.equal(below.statusCode, 201);
    const raised = await app.inject({ method: 'PATCH', url: `/api/accounts/${anaMain.id}/alerts`, headers: ana.auth, payload: { confirmationThresholdMinor: 100_001 } });
    assert.equal(raised.statusCode, 400);
    assert.match(raised.json<Refusal>().message, /^confirmationThresholdMinor: .*at most 100000/);
    // The domain holds the rule too, whatever calls it.
    await assert.rejects(setAlertThresholds(t.ctx.db, ana.user.id, anaMain.id, { confirmationThresholdMinor: 10_000_000 }), /confirmationThresholdMinor: at most 100000/);
  });

  it('moves the money once when the right code arrives many times at once (PostgreSQL: really in parallel)', async () => {
    const { pending, code } = await pendingTransfer(160_000);
    const before = await balance(ana, anaMain);
    const shared = newKey();
    const confirmKeys = [shared, newKey(), shared, newKey(), shared, newKey(), shared, newKey()];
    const answers = await Promise.all(confirmKeys.map((key) => confirm(ana, pending.id, key, code)));
    const moved = answers.filter((a) => a.statusCode === 201);
    assert.ok(moved.length >= 1, answers.map((a) => a.body).join('\n'));
    assert.equal(new Set(moved.map((a) => a.json<Movement>().transactionId)).size, 1, 'one money transaction');
    assert.ok(answers.every((a) => a.statusCode === 201 || a.json<Refusal>().error === 'code_used'), answers.map((a) => a.body).join('\n'));
    assert.equal(await balance(ana, anaMain), before - 160_000);
  });

  it('keeps the ledger whole', async () => {
    await assertLedgerWhole(t);
  });
});
