// The daily 'cards.expiring' job with a held clock: 30 days ahead each active card's customer gets
// one 'card expiring' SMS, even when the job runs twice at once and again later; blocked cards are
// not reminded; cards past their date become expired (card.expired), and the worker runs the job
// from its queue.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { and, eq, inArray } from 'drizzle-orm';
import { openAccount } from '../../src/bank/accounts.ts';
import { blockCard, issueCard, unblockCard, type CardView } from '../../src/cards/cards.ts';
import { runCardExpiryJob } from '../../src/cards/expiry-job.ts';
import { bankEvents, cards } from '../../src/db/schema.ts';
import { AppError } from '../../src/errors.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { createTestContext, eventually, HeldClock, type TestContext } from '../helpers/context.ts';
import { customer, inbox, nextSms, type Customer } from '../helpers/customers.ts';

const clock = new HeldClock('2026-11-25T15:00:00Z');
let t: TestContext;
let ana: Customer;
let ben: Customer;

function setClock(iso: string): void {
  clock.advance(new Date(iso).getTime() - clock.now().getTime());
}

async function newCard(who: Customer, at: string): Promise<CardView> {
  setClock(at);
  const account = await openAccount(t.ctx.db, who.user.id, 'USD', clock.now());
  return issueCard(t.ctx, who.user.id, account.id);
}

function expiringSms(who: Customer): string[] {
  return inbox(t, who.phone).filter((body) => body.includes(' expires '));
}

async function eventsOf(type: 'card.expiring' | 'card.expired', cardIds: string[]) {
  const rows = await t.ctx.db.select().from(bankEvents).where(eq(bankEvents.type, type));
  return rows.filter((r) => cardIds.includes((r.payload as { cardId: string }).cardId));
}

before(async () => {
  t = await createTestContext({ clock });
  await startWorker(t.ctx);
  ana = await customer(t, 'ana', '+14155557101');
  ben = await customer(t, 'ben', '+14155557102');
});
after(() => t.close());

describe('card expiry job', () => {
  let a: CardView;
  let b: CardView;
  let c: CardView;
  let blocked: CardView;
  let e: CardView;

  before(async () => {
    a = await newCard(ana, '2026-11-25T15:00:00Z');
    b = await newCard(ben, '2026-11-25T15:00:00Z');
    blocked = await newCard(ana, '2026-11-25T15:00:00Z');
    await blockCard(t.ctx, ana.user.id, blocked.id, 'lost');
    c = await newCard(ana, '2026-12-10T15:00:00Z');
    e = await newCard(ben, '2027-01-10T15:00:00Z');
    assert.deepEqual([a, b, blocked, c, e].map((x) => x.expiresOn), ['2029-11-30', '2029-11-30', '2029-11-30', '2029-12-31', '2030-01-31']);
  });

  it('sends nothing while no card is within 30 days of expiry', async () => {
    setClock('2029-10-30T15:00:00Z'); // 31 days before 2029-11-30
    assert.deepEqual(await runCardExpiryJob(t.ctx), { expired: 0, notified: 0 });
  });

  it('30 days ahead, sends each active card one notice even when two runs overlap and it runs again', async () => {
    setClock('2029-10-31T15:00:00Z'); // 10:00 in New York, 30 days before 2029-11-30
    const runs = await Promise.all([runCardExpiryJob(t.ctx), runCardExpiryJob(t.ctx)]);
    assert.equal(runs[0].notified + runs[1].notified, 2, 'cards a and b, once each');
    assert.deepEqual(await runCardExpiryJob(t.ctx), { expired: 0, notified: 0 });

    const anaSms = await nextSms(t, ana.phone, 0, / expires /, "ana's card-expiring SMS");
    assert.equal(anaSms, `DominionTrust: card ending ${a.last4} expires 11/2029. Watch for your replacement in the mail. Reply STOP to opt out.`);
    const benSms = await nextSms(t, ben.phone, 0, / expires /, "ben's card-expiring SMS");
    assert.equal(benSms, `DominionTrust: card ending ${b.last4} expires 11/2029. Watch for your replacement in the mail. Reply STOP to opt out.`);

    const events = await eventsOf('card.expiring', [a.id, b.id, blocked.id, c.id, e.id]);
    assert.deepEqual(events.map((x) => (x.payload as { cardId: string }).cardId).sort(), [a.id, b.id].sort());
    const marked = await t.ctx.db.select().from(cards).where(inArray(cards.id, [a.id, b.id]));
    assert.ok(marked.every((r) => r.expiringNotifiedAt?.toISOString() === '2029-10-31T15:00:00.000Z'));

    setClock('2029-11-15T15:00:00Z');
    assert.deepEqual(await runCardExpiryJob(t.ctx), { expired: 0, notified: 0 }, 'no second notice on a later day');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(expiringSms(ana), [anaSms], 'one notice for ana: the blocked card is not reminded');
    assert.deepEqual(expiringSms(ben), [benSms]);
  });

  it('marks cards past their date expired (card.expired), notices the next ones, and refuses to unblock them', async () => {
    setClock('2029-12-01T15:00:00Z');
    const runs = await Promise.all([runCardExpiryJob(t.ctx), runCardExpiryJob(t.ctx)]);
    assert.equal(runs[0].expired + runs[1].expired, 3, 'a, b and the blocked card');
    assert.equal(runs[0].notified + runs[1].notified, 1, 'c expires 2029-12-31');
    const rows = await t.ctx.db.select().from(cards).where(inArray(cards.id, [a.id, b.id, blocked.id, c.id]));
    assert.deepEqual(new Map(rows.map((r) => [r.id, r.status])), new Map([[a.id, 'expired'], [b.id, 'expired'], [blocked.id, 'expired'], [c.id, 'active']]));
    assert.equal((await eventsOf('card.expired', [a.id, b.id, blocked.id, c.id])).length, 3);

    const cSms = await nextSms(t, ana.phone, 0, new RegExp(`ending ${c.last4} expires`), 'the notice of card c');
    assert.equal(cSms, `DominionTrust: card ending ${c.last4} expires 12/2029. Watch for your replacement in the mail. Reply STOP to opt out.`);

    await assert.rejects(unblockCard(t.ctx, ana.user.id, blocked.id), (error: unknown) => error instanceof AppError && error.code === 'conflict');
  });

  it('runs from its queue in the worker', async () => {
    setClock('2030-01-02T15:00:00Z');
    const seen = inbox(t, ben.phone).length;
    await t.ctx.jobs.send(undefined, 'cards.expiring', {});
    const sms = await nextSms(t, ben.phone, seen, / expires /, "ben's notice from the queued job");
    assert.equal(sms, `DominionTrust: card ending ${e.last4} expires 01/2030. Watch for your replacement in the mail. Reply STOP to opt out.`);
    await eventually(async () => {
      const [row] = await t.ctx.db.select().from(cards).where(and(eq(cards.id, c.id), eq(cards.status, 'expired')));
      return row;
    }, 10_000, 'card c marked expired by the queued job');
  });
});
