// Customer accounts and the bank's cash accounts: opening, finding (a customer only ever finds
// their own), and locking rows for a money movement. Balances are integer minor units.
import { randomInt } from 'node:crypto';
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Queryable } from '../db/connection.ts';
import { isUuid } from '../db/ids.ts';
import { accounts } from '../db/schema.ts';
import { AppError } from '../errors.ts';

export type AccountRow = typeof accounts.$inferSelect;

/** What a customer sees of an account. */
export interface AccountView {
  id: string;
  /** Ten digits. */
  number: string;
  currency: string;
  balanceMinor: number;
  /** The customer's alert and confirmation thresholds, in the account's minor units. */
  alerts: AlertThresholds;
  createdAt: string;
}

export interface AlertThresholds {
  /** Low-balance alert when the balance goes below this; null: none. */
  lowBalanceThresholdMinor: number | null;
  /** Large-transaction alert for a movement of at least this; null: none. */
  largeTransactionThresholdMinor: number | null;
  /** Transfers out of at least this wait for an SMS code bound to amount and payee. */
  confirmationThresholdMinor: number;
}

/**
 * The bank's ceiling for the confirmation threshold (and its default): a customer may ask for SMS
 * confirmation of smaller transfers, never skip it for larger ones, so a stolen session cannot
 * switch strong confirmation off.
 */
export const MAX_CONFIRMATION_THRESHOLD_MINOR = 100_000;

const CURRENCY = /^[A-Z]{3}$/;
const SUPPORTED_CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

export function accountView(row: AccountRow): AccountView {
  return {
    id: row.id, number: row.number, currency: row.currency, balanceMinor: row.balanceMinor,
    alerts: {
      lowBalanceThresholdMinor: row.lowBalanceThresholdMinor,
      largeTransactionThresholdMinor: row.largeTransactionThresholdMinor,
      confirmationThresholdMinor: row.confirmationThresholdMinor,
    },
    createdAt: row.createdAt.toISOString(),
  };
}

/** One message for "not yours" and "does not exist", so an answer never tells which. */
export function accountNotFound(): AppError {
  return new AppError('not_found', 'No such account among yours. Check the account id (GET /api/accounts lists your accounts).');
}

export function checkCurrency(currency: string): string {
  if (!CURRENCY.test(currency) || !SUPPORTED_CURRENCIES.has(currency)) {
    throw new AppError('validation_failed', `Unknown currency "${currency}": use an ISO 4217 code in capitals, e.g. USD.`);
  }
  return currency;
}

/** Opens a customer account with a zero balance and a fresh ten-digit number. */
export async function openAccount(db: Queryable, userId: string, currency: string, now: Date): Promise<AccountView> {
  checkCurrency(currency);
  for (let attempt = 0; attempt < 5; attempt++) {
    const number = String(randomInt(1_000_000_000, 10_000_000_000));
    const [row] = await db
      .insert(accounts)
      .values({ userId, kind: 'customer', number, currency, createdAt: now })
      .onConflictDoNothing()
      .returning();
    if (row) return accountView(row);
  }
  throw new Error('could not draw an unused account number in 5 tries');
}

export async function listAccounts(db: Queryable, userId: string): Promise<AccountView[]> {
  const rows = await db.select().from(accounts).where(eq(accounts.userId, userId)).orderBy(asc(accounts.createdAt), asc(accounts.id));
  return rows.map(accountView);
}

/** The user's own account, or AppError 'not_found' (the same for another customer's account). */
export async function requireOwnAccount(db: Queryable, userId: string, accountId: string): Promise<AccountRow> {
  if (!isUuid(accountId)) throw accountNotFound();
  const [row] = await db.select().from(accounts).where(and(eq(accounts.id, accountId), eq(accounts.userId, userId)));
  if (!row) throw accountNotFound();
  return row;
}

/** The bank's cash account of a currency, created on first use. */
export async function cashAccountId(db: Queryable, currency: string, now: Date): Promise<string> {
  await db.insert(accounts).values({ userId: null, kind: 'cash', number: `cash-${currency}`, currency, createdAt: now }).onConflictDoNothing();
  const [row] = await db.select({ id: accounts.id }).from(accounts).where(and(eq(accounts.kind, 'cash'), eq(accounts.currency, currency)));
  if (!row) throw new Error(`no cash account for ${currency}`);
  return row.id;
}

/**
 * Locks the accounts for a movement, always in id order so two movements over the same accounts
 * wait for each other instead of deadlocking. Missing ids are simply absent from the map.
 */
export async function lockAccounts(db: Queryable, ids: readonly string[]): Promise<Map<string, AccountRow>> {
  const valid = [...new Set(ids)].filter(isUuid).sort();
  if (!valid.length) return new Map();
  const rows = await db.select().from(accounts).where(inArray(accounts.id, valid)).orderBy(asc(accounts.id)).for('update');
  return new Map(rows.map((r) => [r.id, r]));
}

/**
 * Sets some of an account's alert thresholds (fields left out stay as they are). A changed
 * low-balance threshold forgets the last low-balance alert, so the next crossing of the new
 * level alerts. Another customer's account is 'not_found'.
 */
export async function setAlertThresholds(db: Queryable, userId: string, accountId: string, change: Partial<AlertThresholds>): Promise<AccountView> {
  const confirmation = change.confirmationThresholdMinor;
  // A security rule, not an input format: a stolen session must not switch strong confirmation off.
  if (confirmation !== undefined && !(Number.isInteger(confirmation) && confirmation >= 1 && confirmation <= MAX_CONFIRMATION_THRESHOLD_MINOR)) {
    throw new AppError('validation_failed',
      `confirmationThresholdMinor: at most ${MAX_CONFIRMATION_THRESHOLD_MINOR}: the bank asks for an SMS code for every transfer of that many minor units or more; you may only lower it.`);
  }
  if (!isUuid(accountId)) throw accountNotFound();
  const [row] = await db.update(accounts).set({
    ...change,
    ...(change.lowBalanceThresholdMinor !== undefined ? { lowBalanceAlertedAt: null } : {}),
  }).where(and(eq(accounts.id, accountId), eq(accounts.userId, userId))).returning();
  if (!row) throw accountNotFound();
  return accountView(row);
}
