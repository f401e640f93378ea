// The daily digest: customers who chose it get their transaction alerts as one summary SMS a day
// instead of one SMS each. Alerts are held in notification_digest_items under the customer's
// local date; building and marking the summary is here, scheduling it is the job scheduler's.
import { and, eq, inArray, isNull, lte } from 'drizzle-orm';
import type { Queryable } from '../db/connection.ts';
import { notificationDigestItems } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { analyseSmsBody } from '../sms/segments.ts';
import { BANK_NAME, notificationType, type Money } from './catalogue.ts';
import { formatDate, formatMoney, languageOf } from './templates/format.ts';

/** One held transaction alert: its signed amount (negative when money left the account). */
export interface DigestEntry {
  amount: Money;
  merchant?: string;
}

export interface DigestOptions {
  language: string;
  locale: string;
  /** The customer's local date the summary covers, YYYY-MM-DD. */
  digestDate: string;
}

/** Two segments at most: a summary costs no more than two alerts would. */
export const MAX_DIGEST_SEGMENTS = 2;

const WORDS: Record<string, {
  title: string; one: string; many: string; debits: string; credits: string; more: (n: number) => string; tail: string;
}> = {
  en: {
    title: 'daily summary', one: 'transaction', many: 'transactions', debits: 'out', credits: 'in',
    more: (n) => `+${n} more ${n === 1 ? 'currency' : 'currencies'}`, tail: 'Details in the app. Reply STOP to opt out.',
  },
  // GSM-7 only: é is in the alphabet, á í ó ú are not (see templates/spanish.ts).
  es: {
    title: 'resumen diario', one: 'movimiento', many: 'movimientos', debits: 'salidas', credits: 'entradas',
    more: (n) => (n === 1 ? 'y otra moneda' : `y otras ${n} monedas`),
    tail: 'Detalles en la app. Responda STOP para darse de baja.',
  },
};

interface Totals {
  currency: string;
  debits: bigint;
  credits: bigint;
}

function totalsByCurrency(entries: readonly DigestEntry[]): Totals[] {
  const totals = new Map<string, Totals>();
  for (const { amount } of entries) {
    const currency = amount.currency.toUpperCase();
    const total = totals.get(currency) ?? { currency, debits: 0n, credits: 0n };
    const minor = BigInt(amount.minorUnits);
    if (minor < 0n) total.debits -= minor;
    else total.credits += minor;
    totals.set(currency, total);
  }
  return [...totals.values()];
}

/**
 * One summary SMS for a day's held transaction alerts: count, and money out and in per currency,
 * e.g. "DominionTrust daily summary Nov 25: 5 transactions, out $120.00, in $1,200.00. ...".
 * Past MAX_DIGEST_SEGMENTS, the later currencies are left out and counted instead.
 */
export function buildDigestSms(entries: readonly DigestEntry[], options: DigestOptions): string {
  if (entries.length === 0) throw new Error('a digest needs at least one entry');
  const words = WORDS[languageOf(options.language)] ?? WORDS.en!;
  const day = formatDate(`${options.digestDate}T12:00:00Z`, 'day', options.locale, 'UTC');
  const head = `${BANK_NAME} ${words.title} ${day}: ${entries.length} ${entries.length === 1 ? words.one : words.many}`;
  const totals = totalsByCurrency(entries);
  const money = (minor: bigint, currency: string) => formatMoney(minor, currency, options.locale);
  const sum = (shown: Totals[], pick: 'debits' | 'credits') => shown.filter((t) => t[pick] > 0n).map((t) => money(t[pick], t.currency)).join(' + ');
  let body = '';
  for (let shown = totals.length; shown >= 1; shown--) {
    const list = totals.slice(0, shown);
    const parts = [head];
    const debits = sum(list, 'debits');
    const credits = sum(list, 'credits');
    if (debits) parts.push(`${words.debits} ${debits}`);
    if (credits) parts.push(`${words.credits} ${credits}`);
    if (shown < totals.length) parts.push(words.more(totals.length - shown));
    body = `${parts.join(', ')}. ${words.tail}`;
    if (analyseSmsBody(body, { pricePerSegment: 0 }).segments <= MAX_DIGEST_SEGMENTS) break;
  }
  return body;
}

/** What is stored per held alert: money as a string of minor units, exact in JSON. */
interface StoredEntry {
  amount: { minorUnits: string; currency: string };
  merchant?: string;
}

/** Holds a transaction alert for the customer's digest of `digestDate` (their local date). */
export async function holdForDigest(
  db: Queryable,
  item: { userId: string; type: string; entry: DigestEntry; digestDate: string; now: Date },
): Promise<string> {
  const spec = notificationType(item.type);
  if (!spec.digestible) throw new AppError('validation_failed', `${spec.title} alerts are never held for the daily digest.`);
  const payload: StoredEntry = {
    amount: { minorUnits: BigInt(item.entry.amount.minorUnits).toString(), currency: item.entry.amount.currency.toUpperCase() },
    ...(item.entry.merchant !== undefined && { merchant: item.entry.merchant }),
  };
  const [row] = await db
    .insert(notificationDigestItems)
    .values({ userId: item.userId, type: spec.id, payload, digestDate: item.digestDate, createdAt: item.now })
    .returning({ id: notificationDigestItems.id });
  if (!row) throw new Error('insert returned no row');
  return row.id;
}

export interface HeldDigest {
  /** Ids of the items, to mark sent with the summary. */
  itemIds: string[];
  entries: DigestEntry[];
}

/**
 * A customer's unsent held alerts up to and including `digestDate`, oldest first: a day whose
 * summary was never sent is carried into the next one rather than lost.
 */
export async function collectDigest(db: Queryable, userId: string, digestDate: string): Promise<HeldDigest> {
  const rows = await db
    .select()
    .from(notificationDigestItems)
    .where(and(eq(notificationDigestItems.userId, userId), lte(notificationDigestItems.digestDate, digestDate), isNull(notificationDigestItems.sentAt)))
    .orderBy(notificationDigestItems.digestDate, notificationDigestItems.createdAt, notificationDigestItems.id);
  return {
    itemIds: rows.map((r) => r.id),
    entries: rows.map((r) => {
      const stored = r.payload as StoredEntry;
      return { amount: { minorUnits: BigInt(stored.amount.minorUnits), currency: stored.amount.currency }, ...(stored.merchant !== undefined && { merchant: stored.merchant }) };
    }),
  };
}

/** Marks held items as sent with a summary; call in the transaction that queues that SMS. */
export async function markDigestSent(db: Queryable, itemIds: readonly string[], sentAt: Date): Promise<number> {
  if (!itemIds.length) return 0;
  const rows = await db
    .update(notificationDigestItems)
    .set({ sentAt })
    .where(and(inArray(notificationDigestItems.id, [...itemIds]), isNull(notificationDigestItems.sentAt)))
    .returning({ id: notificationDigestItems.id });
  return rows.length;
}
