// The daily card job ('cards.expiring'): marks cards past their expiry date as expired, and tells
// each customer once, 30 days ahead, that an active card is about to expire. Each batch claims its
// cards with FOR UPDATE SKIP LOCKED and changes them with an update conditional on the state it
// found, in the transaction that writes their events, so two workers running the job at once (or a
// replayed job) never expire a card twice nor send a second 'card expiring' notice.
import { and, asc, eq, gte, inArray, isNull, lt, lte } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import { cards } from '../db/schema.ts';
import { recordEvent } from '../events/events.ts';
import { cardDay } from './cards.ts';

/** How far ahead of its expiry date a card's customer is told. */
export const EXPIRING_NOTICE_DAYS = 30;

/** Cards changed per transaction: keeps each transaction, and the rows it locks, small. */
const BATCH = 200;

type ExpiryContext = Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'>;

export interface CardExpiryResult {
  /** Cards marked expired by this run. */
  expired: number;
  /** 'card expiring' notices raised by this run. */
  notified: number;
}

function addDays(day: string, days: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** Marks one batch of cards past their expiry date as expired, with a card.expired event each. */
async function expireBatch(ctx: ExpiryContext, now: Date): Promise<number> {
  const today = cardDay(now);
  const due = and(inArray(cards.status, ['active', 'blocked']), lt(cards.expiresOn, today));
  return ctx.db.transaction(async (tx) => {
    const claimed = tx.select({ id: cards.id }).from(cards).where(due).orderBy(asc(cards.expiresOn)).limit(BATCH).for('update', { skipLocked: true });
    const expired = await tx.update(cards).set({ status: 'expired', updatedAt: now }).where(and(inArray(cards.id, claimed), due)).returning();
    for (const card of expired) {
      await recordEvent(ctx, tx, { userId: card.userId, type: 'card.expired', payload: { cardId: card.id, last4: card.last4, expiresOn: card.expiresOn } });
    }
    return expired.length;
  });
}

/** Raises one batch of 'card expiring' notices, marking each card so it is told once. */
async function noticeBatch(ctx: ExpiryContext, now: Date): Promise<number> {
  const today = cardDay(now);
  const due = and(
    eq(cards.status, 'active'), isNull(cards.expiringNotifiedAt),
    gte(cards.expiresOn, today), lte(cards.expiresOn, addDays(today, EXPIRING_NOTICE_DAYS)),
  );
  return ctx.db.transaction(async (tx) => {
    const claimed = tx.select({ id: cards.id }).from(cards).where(due).orderBy(asc(cards.expiresOn)).limit(BATCH).for('update', { skipLocked: true });
    const expiring = await tx.update(cards).set({ expiringNotifiedAt: now, updatedAt: now }).where(and(inArray(cards.id, claimed), due)).returning();
    for (const card of expiring) {
      await recordEvent(ctx, tx, {
        userId: card.userId, type: 'card.expiring', payload: { cardId: card.id, last4: card.last4, expiresOn: card.expiresOn },
        // Noon UTC: the same calendar day in every time zone the bank's customers live in.
        notify: [{ type: 'card_expiring', values: { card_last4: card.last4, expires: new Date(`${card.expiresOn}T12:00:00Z`) } }],
      });
    }
    return expiring.length;
  });
}

/** The daily job: every card due, batch by batch, as of ctx.clock. */
export async function runCardExpiryJob(ctx: ExpiryContext & Pick<AppContext, 'logger'>): Promise<CardExpiryResult> {
  const now = ctx.clock.now();
  const result: CardExpiryResult = { expired: 0, notified: 0 };
  for (let n = BATCH; n === BATCH;) {
    n = await expireBatch(ctx, now);
    result.expired += n;
  }
  for (let n = BATCH; n === BATCH;) {
    n = await noticeBatch(ctx, now);
    result.notified += n;
  }
  ctx.logger.info(result, 'card expiry job done');
  return result;
}
