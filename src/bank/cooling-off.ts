// The cooling-off period after a phone number change (PHONE_CHANGE_COOLING_OFF, default 24 h):
// whoever moved the number (a SIM swap, an insider, the customer), the codes now reach the new
// phone, so large transfers (at or above the account's confirmation threshold) and transfers to a
// payee never paid before the change wait until the period is over, as banks do against SIM swaps.
import { and, eq, lt, sql } from 'drizzle-orm';
import type { Config } from '../config.ts';
import type { Queryable } from '../db/connection.ts';
import { ledgerEntries, moneyTransactions, userProfiles } from '../db/schema.ts';
import { RetryLaterError } from '../errors.ts';
import { formatMinor } from './ledger.ts';

export interface CoolingOffCheck {
  userId: string;
  from: { confirmationThresholdMinor: number; currency: string };
  to: { id: string; userId: string | null; number: string };
  amountMinor: number;
  now: Date;
}

/** When the customer's cooling-off period ends, or undefined when none is running. */
export async function coolingOffUntil(db: Queryable, config: Pick<Config, 'security'>, userId: string, now: Date): Promise<Date | undefined> {
  const period = config.security.phoneChangeCoolingOffMs;
  if (period <= 0) return undefined;
  const [profile] = await db.select({ changedAt: userProfiles.phoneChangedAt }).from(userProfiles).where(eq(userProfiles.userId, userId));
  if (!profile?.changedAt) return undefined;
  const until = new Date(profile.changedAt.getTime() + period);
  return until > now ? until : undefined;
}

/** True when the user paid this account before `before` (a payee they already had). */
async function paidBefore(db: Queryable, userId: string, accountId: string, before: Date): Promise<boolean> {
  const rows = await db.select({ one: sql`1` }).from(moneyTransactions)
    .innerJoin(ledgerEntries, eq(ledgerEntries.transactionId, moneyTransactions.id))
    .where(and(eq(moneyTransactions.userId, userId), eq(moneyTransactions.kind, 'transfer'), eq(ledgerEntries.accountId, accountId),
      sql`${ledgerEntries.amountMinor} > 0`, lt(moneyTransactions.createdAt, before)))
    .limit(1);
  return rows.length > 0;
}

/**
 * Throws RetryLaterError (HTTP 429 with Retry-After; nothing is remembered under the
 * Idempotency-Key, so the same request works once the period is over) for a large transfer or a
 * new payee during the cooling-off period. Transfers between the customer's own accounts pass.
 */
export async function checkPhoneCoolingOff(db: Queryable, config: Pick<Config, 'security'>, input: CoolingOffCheck): Promise<void> {
  if (input.to.userId === input.userId) return;
  const until = await coolingOffUntil(db, config, input.userId, input.now);
  if (!until) return;
  const changedAt = new Date(until.getTime() - config.security.phoneChangeCoolingOffMs);
  const large = input.amountMinor >= input.from.confirmationThresholdMinor;
  const newPayee = !large && !(await paidBefore(db, input.userId, input.to.id, changedAt));
  if (!large && !newPayee) return;
  const what = large
    ? `Transfers of ${formatMinor(input.from.confirmationThresholdMinor, input.from.currency)} or more`
    : `Transfers to a payee you have not paid before (account ending ${input.to.number.slice(-4)})`;
  const seconds = Math.ceil((until.getTime() - input.now.getTime()) / 1000);
  throw new RetryLaterError(
    `${what} wait until ${until.toISOString().slice(0, 16).replace('T', ' ')} UTC: the phone number on this account changed less than ` +
      `${Math.round(config.security.phoneChangeCoolingOffMs / 3_600_000)} hours ago, and this protects you if someone else moved it. ` +
      'Nothing was moved; send the same request again after that time. Not you? Call the number on your card now.',
    seconds,
  );
}
