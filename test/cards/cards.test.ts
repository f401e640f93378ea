// Debit cards through the HTTP endpoints: issuing one on an own account (and the card-created SMS),
// blocking (idempotent: one SMS however often) and unblocking, another customer's card answering
// like a missing one, and the card number never in a reply, a table or the log.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { and, eq, sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { DOMINION_BIN, expiryDate, generatePan, luhnValid } from '../../src/cards/cards.ts';
import { rawRows } from '../../src/db/connection.ts';
import { bankEvents, cards, notifications, userProfiles } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { createTestContext, HeldClock, type TestContext } from '../helpers/context.ts';
import { customer, inbox, nextSms, type Customer } from '../helpers/customers.ts';

/** A run of digits as long as a card number (13 to 19): none may appear anywhere. */
const PAN_LIKE = /\d{13,19}/;

let t: TestContext;
let app: FastifyInstance;
let ana: Customer;
let ben: Customer;

before(async () => {
  t = await createTestContext({ clock: new HeldClock('2026-11-25T15:00:00Z') });
  await startWorker(t.ctx);
  app = buildApp(t.ctx);
  ana = await customer(t, 'ana', '+14155557001');
  ben = await customer(t, 'ben', '+14155557002');
});
after(() => t.close());

interface Card { id: string; accountId: string; last4: string; status: string; blockedReason: string | null; expiresOn: string }

async function openAccount(who: Customer): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/api/accounts', headers: who.auth, payload: { currency: 'USD' } });
  assert.equal(res.statusCode, 201, res.body);
  return res.json<{ account: { id: string } }>().account.id;
}

async function issue(who: Customer, accountId?: string): Promise<Card> {
  const res = await app.inject({ method: 'POST', url: '/api/cards', headers: who.auth, payload: { accountId: accountId ?? await openAccount(who) } });
  assert.equal(res.statusCode, 201, res.body);
  assert.doesNotMatch(res.body, PAN_LIKE);
  return res.json<{ card: Card }>().card;
}

function post(who: Customer, url: string, payload?: object) {
  return app.inject({ method: 'POST', url, headers: who.auth, ...(payload ? { payload } : {}) });
}

async function smsRowsOf(userId: string, type: string) {
  return t.ctx.db.select().from(notifications).where(and(eq(notifications.userId, userId), eq(notifications.type, type), eq(notifications.channel, 'sms')));
}

describe('card numbers', () => {
  it('are 16 digits on the bank BIN and pass the Luhn check', () => {
    for (let i = 0; i < 200; i++) {
      const pan = generatePan();
      assert.match(pan, /^\d{16}$/);
      assert.ok(pan.startsWith(DOMINION_BIN), pan);
      assert.ok(luhnValid(pan), pan);
    }
    assert.equal(luhnValid('4111111111111111'), true);
    assert.equal(luhnValid('4111111111111112'), false);
  });

  it('expire at the end of the month three years ahead', () => {
    assert.equal(expiryDate(new Date('2026-11-25T15:00:00Z')), '2029-11-30');
    assert.equal(expiryDate(new Date('2027-02-01T00:00:00Z')), '2030-02-28');
    assert.equal(expiryDate(new Date('2025-02-10T00:00:00Z')), '2028-02-29');
    assert.equal(expiryDate(new Date('2026-12-31T23:59:00Z')), '2029-12-31');
  });
});

describe('cards', () => {
  it('issues a card on an own account, sends "card ending NNNN" to the phone, and stores no card number', async () => {
    const seen = inbox(t, ana.phone).length;
    const accountId = await openAccount(ana);
    const card = await issue(ana, accountId);
    assert.match(card.last4, /^\d{4}$/);
    assert.deepEqual({ ...card, id: undefined, last4: undefined }, {
      id: undefined, last4: undefined, accountId, status: 'active', blockedReason: null, expiresOn: '2029-11-30',
      createdAt: '2026-11-25T15:00:00.000Z', updatedAt: '2026-11-25T15:00:00.000Z',
    });
    assert.ok(!('token' in card), 'the processor token is not shown either');

    const sms = await nextSms(t, ana.phone, seen, /new card/, 'the card-created SMS');
    assert.equal(sms, `DominionTrust: your new card ending ${card.last4} is ready. Reply HELP for help, STOP to opt out.`);

    const [row] = await rawRows<{ row: string }>(t.ctx.db, sql`select row_to_json(c)::text as row from cards c where id = ${card.id}`);
    assert.ok(row);
    assert.doesNotMatch(row.row, PAN_LIKE, 'no card number in the cards row');
    assert.match(row.row, /"token":"ctok_[A-Za-z0-9_-]{32}"/);
    const events = await rawRows<{ type: string; payload: string }>(t.ctx.db, sql`select type, payload::text from bank_events where user_id = ${ana.user.id}`);
    assert.deepEqual(events.map((e) => e.type), ['card.created']);
    for (const e of events) assert.doesNotMatch(e.payload, PAN_LIKE);
    const texts = await rawRows<{ body: string }>(t.ctx.db, sql`select body_redacted as body from sms_messages union all select values::text from notifications`);
    for (const r of texts) assert.doesNotMatch(r.body, PAN_LIKE);
    // The log carries hex SIDs and epoch milliseconds, so it is searched for this card's number shape.
    const log = await t.readLog();
    assert.doesNotMatch(log, new RegExp(`${DOMINION_BIN}\\d{10}`), 'no card number on the bank BIN in the log');
    assert.doesNotMatch(log, new RegExp(`\\d{12}${card.last4}`), 'no card number ending in its last 4 in the log');
  });

  it("texts a Spanish-speaking customer in Spanish", async () => {
    const seen = inbox(t, ben.phone).length;
    await t.ctx.db.update(userProfiles).set({ language: 'es' }).where(eq(userProfiles.userId, ben.user.id));
    try {
      const card = await issue(ben);
      const sms = await nextSms(t, ben.phone, seen, /nueva tarjeta/, 'the Spanish card-created SMS');
      assert.equal(sms, `DominionTrust: su nueva tarjeta terminada en ${card.last4} ha sido creada. Responda HELP para ayuda o STOP para darse de baja.`);
    } finally {
      await t.ctx.db.update(userProfiles).set({ language: 'en' }).where(eq(userProfiles.userId, ben.user.id));
    }
  });

  it('lists and shows only the customer\'s own cards; another customer\'s card is the same 404 as a missing one', async () => {
    const mine = await issue(ana);
    const bens = await issue(ben);
    const list = await app.inject({ url: '/api/cards', headers: ana.auth });
    assert.equal(list.statusCode, 200);
    const ids = list.json<{ cards: Card[] }>().cards.map((c) => c.id);
    assert.ok(ids.includes(mine.id));
    assert.ok(!ids.includes(bens.id));
    assert.doesNotMatch(list.body, PAN_LIKE);
    assert.equal((await app.inject({ url: `/api/cards/${mine.id}`, headers: ana.auth })).json<{ card: Card }>().card.id, mine.id);

    const other = await app.inject({ url: `/api/cards/${bens.id}`, headers: ana.auth });
    const missing = await app.inject({ url: '/api/cards/6f1c2f0e-1111-4aaa-8bbb-123456789abc', headers: ana.auth });
    const malformed = await app.inject({ url: '/api/cards/not-an-id', headers: ana.auth });
    assert.equal(other.statusCode, 404);
    assert.equal(other.body, missing.body);
    assert.equal(other.body, malformed.body);
    assert.doesNotMatch(other.body, new RegExp(bens.last4));
    for (const action of ['block', 'unblock']) {
      const res = await post(ana, `/api/cards/${bens.id}/${action}`, { reason: 'lost' });
      assert.equal(res.statusCode, 404, action);
      assert.equal(res.body, missing.body, action);
    }
    const bensCard = await app.inject({ url: `/api/cards/${bens.id}`, headers: ben.auth });
    assert.equal(bensCard.json<{ card: Card }>().card.status, 'active', "ana's block did nothing to ben's card");
  });

  it("refuses a card on another customer's account (404) and bad input (400), and needs a session (401)", async () => {
    const bensAccount = await openAccount(ben);
    const other = await post(ana, '/api/cards', { accountId: bensAccount });
    assert.equal(other.statusCode, 404);
    assert.match(other.json<{ message: string }>().message, /^No such account among yours/);
    assert.equal((await post(ana, '/api/cards', { accountId: 'nope' })).statusCode, 404);
    const empty = await post(ana, '/api/cards', {});
    assert.equal(empty.statusCode, 400);
    assert.match(empty.json<{ message: string }>().message, /^accountId: /);
    const extra = await post(ana, '/api/cards', { accountId: bensAccount, pan: '4111111111111111' });
    assert.equal(extra.statusCode, 400);
    assert.equal((await app.inject({ method: 'POST', url: '/api/cards', payload: { accountId: bensAccount } })).statusCode, 401);
    assert.equal((await app.inject({ url: '/api/cards' })).statusCode, 401);
    const cardsOfBen = await t.ctx.db.select().from(cards).where(eq(cards.accountId, bensAccount));
    assert.deepEqual(cardsOfBen, [], 'no card was issued on it');
  });

  it('blocks a card once: one SMS, one event; blocking again answers 200 and sends nothing', async () => {
    const card = await issue(ana);
    const seen = inbox(t, ana.phone).length;
    const noReason = await post(ana, `/api/cards/${card.id}/block`, {});
    assert.equal(noReason.statusCode, 400);
    assert.match(noReason.json<{ message: string }>().message, /^reason: /);

    const withNumber = await post(ana, `/api/cards/${card.id}/block`, { reason: 'lost my card 4903 5112 3456 7890' });
    assert.equal(withNumber.statusCode, 400);
    assert.match(withNumber.json<{ message: string }>().message, /^reason: leave the card number out/);

    const first = await post(ana, `/api/cards/${card.id}/block`, { reason: 'lost' });
    assert.equal(first.statusCode, 200, first.body);
    assert.deepEqual(first.json<{ card: Card; changed: boolean }>(), { card: { ...card, status: 'blocked', blockedReason: 'lost' }, changed: true });
    const sms = await nextSms(t, ana.phone, seen, /is blocked/, 'the card-blocked SMS');
    assert.equal(sms, `DominionTrust: card ending ${card.last4} is blocked. Not you? Call the number on your card. Reply STOP to opt out.`);

    const again = await post(ana, `/api/cards/${card.id}/block`, { reason: 'stolen' });
    assert.equal(again.statusCode, 200);
    assert.deepEqual(again.json<{ card: Card; changed: boolean }>(), { card: { ...card, status: 'blocked', blockedReason: 'lost' }, changed: false });
    const events = await t.ctx.db.select().from(bankEvents).where(and(eq(bankEvents.userId, ana.user.id), eq(bankEvents.type, 'card.blocked')));
    assert.equal(events.filter((e) => (e.payload as { cardId: string }).cardId === card.id).length, 1);
    assert.equal((await smsRowsOf(ana.user.id, 'card_blocked')).length, 1, 'one card-blocked notice');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(inbox(t, ana.phone).slice(seen).filter((b) => b.includes('is blocked')).length, 1);
  });

  it('two blocks at once write one event and one notice', async () => {
    const card = await issue(ben);
    const answers = await Promise.all([1, 2, 3].map(() => post(ben, `/api/cards/${card.id}/block`, { reason: 'stolen' })));
    assert.deepEqual(answers.map((a) => a.statusCode), [200, 200, 200]);
    assert.equal(answers.filter((a) => a.json<{ changed: boolean }>().changed).length, 1);
    assert.equal((await smsRowsOf(ben.user.id, 'card_blocked')).length, 1);
  });

  it('unblocks a blocked card (event card.unblocked); unblocking an active card changes nothing', async () => {
    const card = await issue(ana);
    assert.equal((await post(ana, `/api/cards/${card.id}/block`, { reason: 'misplaced' })).statusCode, 200);
    const res = await post(ana, `/api/cards/${card.id}/unblock`);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json<{ card: Card; changed: boolean }>(), { card: { ...card, status: 'active', blockedReason: null }, changed: true });
    const again = await post(ana, `/api/cards/${card.id}/unblock`);
    assert.equal(again.statusCode, 200);
    assert.equal(again.json<{ changed: boolean }>().changed, false);
    const events = await t.ctx.db.select().from(bankEvents).where(and(eq(bankEvents.userId, ana.user.id), eq(bankEvents.type, 'card.unblocked')));
    assert.deepEqual(events.map((e) => e.payload), [{ cardId: card.id, last4: card.last4 }]);
  });

  it('refuses to unblock a card past its expiry date with a clear message, whether or not it is marked expired yet', async () => {
    const card = await issue(ana);
    assert.equal((await post(ana, `/api/cards/${card.id}/block`, { reason: 'lost' })).statusCode, 200);
    await t.ctx.db.update(cards).set({ expiresOn: '2026-10-31' }).where(eq(cards.id, card.id));
    const refused = await post(ana, `/api/cards/${card.id}/unblock`);
    assert.equal(refused.statusCode, 409);
    assert.deepEqual(refused.json(), {
      error: 'conflict',
      message: `Card ending ${card.last4} expired on 2026-10-31 and cannot be unblocked. Ask for a new card instead: POST /api/cards with the accountId.`,
    });
    await t.ctx.db.update(cards).set({ status: 'expired' }).where(eq(cards.id, card.id));
    assert.equal((await post(ana, `/api/cards/${card.id}/unblock`)).statusCode, 409);
    const blockExpired = await post(ana, `/api/cards/${card.id}/block`, { reason: 'lost' });
    assert.equal(blockExpired.statusCode, 409);
    assert.match(blockExpired.json<{ message: string }>().message, /expired on 2026-10-31 and can no longer be used/);
    const shown = await app.inject({ url: `/api/cards/${card.id}`, headers: ana.auth });
    assert.equal(shown.json<{ card: Card }>().card.status, 'expired');
  });
});
