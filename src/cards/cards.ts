// Debit cards: issuing one on a customer's own account, listing, blocking and unblocking. The card
// number (PAN) exists only in memory while the card is issued: the bank keeps its last 4 digits and
// an opaque token the card processor knows it by, so no table, log or answer ever holds it in full.
import { randomBytes, randomInt } from 'node:crypto';
import { and, asc, eq, gte } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { isUuid } from '../db/ids.ts';
import { cards } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { recordEvent } from '../events/events.ts';
import { requireOwnAccount } from '../bank/accounts.ts';
import { luhnValid } from './luhn.ts';

export { luhnValid };

export type CardRow = typeof cards.$inferSelect;
export type CardStatus = 'active' | 'blocked' | 'expired';

type CardsContext = Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'>;

/** The bank's issuer identification number: the first six digits of every card it issues. */
export const DOMINION_BIN = '490351';

/** Years a new card is valid for; it expires at the end of that month. */
export const CARD_VALIDITY_YEARS = 3;

/** What a customer sees of a card: never its number or its token. */
export interface CardView {
  id: string;
  accountId: string;
  last4: string;
  status: CardStatus;
  blockedReason: string | null;
  /** The last day the card is valid, YYYY-MM-DD. */
  expiresOn: string;
  createdAt: string;
  updatedAt: string;
}

export function cardView(row: CardRow): CardView {
  return {
    id: row.id, accountId: row.accountId, last4: row.last4, status: row.status as CardStatus, blockedReason: row.blockedReason,
    expiresOn: row.expiresOn, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString(),
  };
}

/** One message for "not yours" and "does not exist", so an answer never tells which. */
export function cardNotFound(): AppError {
  return new AppError('not_found', 'No such card among yours. Check the card id (GET /api/cards lists your cards).');
}

/** A fresh 16-digit card number on `bin`: random account digits (CSPRNG), then the Luhn check digit. */
export function generatePan(bin: string = DOMINION_BIN): string {
  if (!/^\d{6,8}$/.test(bin)) throw new Error(`a BIN is 6 to 8 digits, not "${bin}"`);
  let body = bin;
  while (body.length < 15) body += String(randomInt(10));
  for (let check = 0; check < 10; check++) {
    if (luhnValid(body + check)) return body + check;
  }
  throw new Error('unreachable: one check digit always passes Luhn');
}

/** The last day of the month `years` after `now` (UTC), as YYYY-MM-DD. */
export function expiryDate(now: Date, years: number = CARD_VALIDITY_YEARS): string {
  // Day 0 of the next month is the last day of this one.
  return new Date(Date.UTC(now.getUTCFullYear() + years, now.getUTCMonth() + 1, 0)).toISOString().slice(0, 10);
}

/** Today's date (UTC) as YYYY-MM-DD: a card is valid through its expires_on day. */
export function cardDay(now: Date): string {
  return now.toISOString().slice(0, 10);
}

/** The card's processor token: random and opaque, it tells nothing about the number. */
function newCardToken(): string {
  return `ctok_${randomBytes(24).toString('base64url')}`;
}

/**
 * Issues a debit card on one of the customer's own accounts, with its card.created event and
 * `card_created` notice, in one transaction. Throws AppError 'not_found' for an account that is
 * not the customer's (or does not exist).
 */
export async function issueCard(ctx: CardsContext, userId: string, accountId: string): Promise<CardView> {
  const now = ctx.clock.now();
  return ctx.db.transaction(async (tx) => {
    const account = await requireOwnAccount(tx, userId, accountId);
    // The number would go to the card printer and the processor, which answers with the token;
    // here it stops existing when this function returns.
    const last4 = generatePan().slice(-4);
    const [row] = await tx.insert(cards).values({
      userId, accountId: account.id, last4, token: newCardToken(), status: 'active',
      expiresOn: expiryDate(now), createdAt: now, updatedAt: now,
    }).returning();
    if (!row) throw new Error('cards insert returned no row');
    await recordEvent(ctx, tx, {
      userId, type: 'card.created',
      payload: { cardId: row.id, accountId: account.id, last4, expiresOn: row.expiresOn },
      notify: [{ type: 'card_created', values: { card_last4: last4 } }],
    });
    return cardView(row);
  });
}

export async function listCards(db: Queryable, userId: string): Promise<CardView[]> {
  const rows = await db.select().from(cards).where(eq(cards.userId, userId)).orderBy(asc(cards.createdAt), asc(cards.id));
  return rows.map(cardView);
}

/** The user's own card, or AppError 'not_found' (the same for another customer's card). */
export async function requireOwnCard(db: Queryable, userId: string, cardId: string): Promise<CardRow> {
  if (!isUuid(cardId)) throw cardNotFound();
  const [row] = await db.select().from(cards).where(and(eq(cards.id, cardId), eq(cards.userId, userId)));
  if (!row) throw cardNotFound();
  return row;
}

export interface CardChange {
  card: CardView;
  /** False when the card already was in the state asked for: nothing was written or sent. */
  changed: boolean;
}

/**
 * The customer's reason for a block, as stored and put in the event. A customer reporting a lost
 * card may well type its number into the reason; refusing it keeps the number out of every table.
 */
export function checkBlockReason(reason: string): string {
  if (/\d(?:[\s.-]?\d){11,}/.test(reason)) {
    throw new AppError('validation_failed', 'reason: leave the card number out; say only why, e.g. "lost", "stolen" or "suspected fraud".');
  }
  return reason;
}

/**
 * Blocks the customer's card (lost, stolen, suspected fraud), with its card.blocked event and
 * `card_blocked` notice. Blocking a blocked card changes nothing and sends nothing. Throws
 * AppError 'not_found', 'validation_failed' (a card number in the reason), or 'conflict' for an expired card.
 */
export async function blockCard(ctx: CardsContext, userId: string, cardId: string, reason: string): Promise<CardChange> {
  checkBlockReason(reason);
  const now = ctx.clock.now();
  return ctx.db.transaction(async (tx) => {
    const card = await requireOwnCard(tx, userId, cardId);
    // Conditional on the status, so of two blocks at once only one writes the event and notice.
    const [blocked] = await tx.update(cards).set({ status: 'blocked', blockedReason: reason, updatedAt: now })
      .where(and(eq(cards.id, card.id), eq(cards.status, 'active'))).returning();
    if (!blocked) {
      const current = await requireOwnCard(tx, userId, cardId);
      if (current.status === 'blocked') return { card: cardView(current), changed: false };
      throw new AppError('conflict', `Card ending ${current.last4} expired on ${current.expiresOn} and can no longer be used; there is nothing to block.`);
    }
    await recordEvent(ctx, tx, {
      userId, type: 'card.blocked', payload: { cardId: blocked.id, last4: blocked.last4, reason },
      notify: [{ type: 'card_blocked', values: { card_last4: blocked.last4 } }],
    });
    return { card: cardView(blocked), changed: true };
  });
}

/**
 * Unblocks the customer's blocked card, with its card.unblocked event. Unblocking an active card
 * changes nothing. Throws AppError 'not_found', or 'conflict' for a card past its expiry date
 * (whether or not the daily job has marked it expired yet): it needs a new card instead.
 */
export async function unblockCard(ctx: CardsContext, userId: string, cardId: string): Promise<CardChange> {
  const now = ctx.clock.now();
  const today = cardDay(now);
  return ctx.db.transaction(async (tx) => {
    const card = await requireOwnCard(tx, userId, cardId);
    // Conditional on status and date, so a race with the expiry job cannot revive an expired card.
    const [unblocked] = await tx.update(cards).set({ status: 'active', blockedReason: null, updatedAt: now })
      .where(and(eq(cards.id, card.id), eq(cards.status, 'blocked'), gte(cards.expiresOn, today))).returning();
    if (!unblocked) {
      const current = await requireOwnCard(tx, userId, cardId);
      if (current.status === 'expired' || current.expiresOn < today) {
        throw new AppError('conflict', `Card ending ${current.last4} expired on ${current.expiresOn} and cannot be unblocked. Ask for a new card instead: POST /api/cards with the accountId.`);
      }
      return { card: cardView(current), changed: false };
    }
    await recordEvent(ctx, tx, { userId, type: 'card.unblocked', payload: { cardId: unblocked.id, last4: unblocked.last4 } });
    return { card: cardView(unblocked), changed: true };
  });
}
