// The ledger: every movement of money is one money transaction with postings that sum to zero,
// written with the balance updates in the caller's database transaction. Each money transaction
// is claimed under the requester's Idempotency-Key first, so a retry answers with the first
// result instead of moving money again.
import { createHash } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { Queryable } from '../db/connection.ts';
import { accounts, ledgerEntries, moneyTransactions } from '../db/schema.ts';
import { AppError, type AppErrorCode } from '../errors.ts';

export type MoneyTransactionKind = 'deposit' | 'withdrawal' | 'transfer';

/** What a money-moving request answers, first time and on every retry (JSON-safe). */
export interface MoneyMovement {
  transactionId: string;
  kind: MoneyTransactionKind;
  amountMinor: number;
  currency: string;
  /** Customer accounts touched, with their balance right after this movement. */
  accounts: { id: string; balanceMinor: number }[];
  fromAccountId: string | null;
  toAccountId: string | null;
  createdAt: string;
}

export interface Posting {
  accountId: string;
  /** Signed minor units: negative leaves the account. */
  amountMinor: number;
}

/** The most one movement may carry, well inside exact integers (2^53) when summed. */
export const MAX_AMOUNT_MINOR = 1_000_000_000_000;

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export function checkIdempotencyKey(key: string | undefined): string {
  if (key === undefined || key === '') {
    throw new AppError('validation_failed', 'Missing Idempotency-Key header: send a unique key (e.g. a UUID) with every request that moves money, and the same key when you retry it.');
  }
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new AppError('validation_failed', 'Invalid Idempotency-Key header: use 1-255 printable ASCII characters without spaces, e.g. a UUID.');
  }
  return key;
}

export function checkAmount(amountMinor: number): number {
  if (!Number.isSafeInteger(amountMinor) || amountMinor <= 0 || amountMinor > MAX_AMOUNT_MINOR) {
    throw new AppError('validation_failed', `Invalid amount ${amountMinor}: give a whole number of minor units (cents) from 1 to ${MAX_AMOUNT_MINOR}.`);
  }
  return amountMinor;
}

/** A request's fingerprint under its Idempotency-Key: a retry must repeat it exactly. */
export function requestHash(kind: MoneyTransactionKind, request: Record<string, string | number>): string {
  const canonical = JSON.stringify(Object.keys(request).sort().map((k) => [k, request[k]]));
  return createHash('sha256').update(`${kind}\n${canonical}`).digest('hex');
}

export type Claim = { transactionId: string; replay?: undefined } | { replay: MoneyMovement; transactionId?: undefined };

/** A refusal kept under the key like an answer: a retry is refused the same way, even if it could pass now. */
interface StoredRefusal {
  refused: { code: AppErrorCode; message: string };
}

/** Refusals that depend on the request and the accounts' state, answered the same on every retry. */
export const REMEMBERED_REFUSALS: ReadonlySet<AppErrorCode> = new Set(['insufficient_funds', 'not_found', 'validation_failed']);

/**
 * Claims an Idempotency-Key for a request. A first claim returns the new transaction's id; a
 * retry of the same request returns the first answer; the same key with a different request is
 * AppError 'idempotency_key_reused'; a key whose first request was refused is refused again with the
 * same error. A concurrent claim of the same key waits for the first to
 * commit (the unique index), then sees its answer.
 */
export async function claimIdempotencyKey(
  tx: Queryable,
  input: { kind: MoneyTransactionKind; userId: string; key: string; request: Record<string, string | number>; now: Date },
): Promise<Claim> {
  const hash = requestHash(input.kind, input.request);
  const [row] = await tx
    .insert(moneyTransactions)
    .values({ kind: input.kind, userId: input.userId, idempotencyKey: input.key, requestHash: hash, createdAt: input.now })
    .onConflictDoNothing()
    .returning({ id: moneyTransactions.id });
  if (row) return { transactionId: row.id };
  const [first] = await tx
    .select()
    .from(moneyTransactions)
    .where(and(eq(moneyTransactions.userId, input.userId), eq(moneyTransactions.idempotencyKey, input.key)));
  if (!first) throw new Error('idempotency key conflict without a row');
  if (first.requestHash !== hash) {
    throw new AppError(
      'idempotency_key_reused',
      `This Idempotency-Key was already used for a different ${first.kind} request. A retry must repeat the first request exactly; a new request needs a new key.`,
    );
  }
  if (first.response === null) throw new Error('idempotency key claimed without a stored response');
  const stored = first.response as MoneyMovement | StoredRefusal;
  if ('refused' in stored) throw new AppError(stored.refused.code, stored.refused.message);
  return { replay: movementOf(stored) };
}

/** The stored answer in the first answer's key order (jsonb keeps its own), so a retry reads the same. */
function movementOf(m: MoneyMovement): MoneyMovement {
  return {
    transactionId: m.transactionId, kind: m.kind, amountMinor: m.amountMinor, currency: m.currency,
    accounts: m.accounts.map((a) => ({ id: a.id, balanceMinor: a.balanceMinor })),
    fromAccountId: m.fromAccountId, toAccountId: m.toAccountId, createdAt: m.createdAt,
  };
}

/**
 * Writes a transaction's postings and applies them to the balances of the (already locked)
 * accounts; returns each account's new balance. Throws unless the postings sum to zero.
 */
export async function post(tx: Queryable, transactionId: string, postings: readonly Posting[], now: Date): Promise<Map<string, number>> {
  const total = postings.reduce((sum, p) => sum + p.amountMinor, 0);
  if (postings.length < 2 || total !== 0) throw new Error(`unbalanced postings for ${transactionId}: they sum to ${total}`);
  await tx.insert(ledgerEntries).values(postings.map((p) => ({ transactionId, accountId: p.accountId, amountMinor: p.amountMinor, createdAt: now })));
  const balances = new Map<string, number>();
  for (const p of postings) {
    const [row] = await tx
      .update(accounts)
      .set({ balanceMinor: sql`${accounts.balanceMinor} + ${p.amountMinor}` })
      .where(eq(accounts.id, p.accountId))
      .returning({ balance: accounts.balanceMinor });
    if (!row) throw new Error(`posting to missing account ${p.accountId}`);
    balances.set(p.accountId, row.balance);
  }
  return balances;
}

/** Stores a refusal under the transaction's Idempotency-Key, for retries (it moved nothing). */
export async function recordRefusal(tx: Queryable, transactionId: string, error: AppError): Promise<void> {
  const refusal: StoredRefusal = { refused: { code: error.code, message: error.userMessage } };
  await tx.update(moneyTransactions).set({ response: refusal }).where(eq(moneyTransactions.id, transactionId));
}

/** Stores the answer under the transaction's Idempotency-Key, for retries. */
export async function recordResponse(tx: Queryable, movement: MoneyMovement): Promise<void> {
  await tx.update(moneyTransactions).set({ response: movement }).where(eq(moneyTransactions.id, movement.transactionId));
}

/** Formats minor units for a message, e.g. "$12.50" (messages only; never parsed back). */
export function formatMinor(amountMinor: number, currency: string): string {
  const format = new Intl.NumberFormat('en-US', { style: 'currency', currency });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(amountMinor / 10 ** digits);
}
