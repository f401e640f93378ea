// Alerts a money movement raises about an account, written as bank events in the movement's own
// transaction: low balance once per crossing of the customer's threshold (the account remembers
// it alerted until the balance is back at or above the threshold), and large transactions.
// Whether each reaches the customer, and how, is their preference for its notification type.
import { eq } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { accounts } from '../db/schema.ts';
import { recordEvent } from '../events/events.ts';
import type { AccountRow } from './accounts.ts';

type AlertContext = Pick<AppContext, 'jobs' | 'config' | 'clock'>;

/**
 * After a movement took `account` (as locked, before the movement) to `balanceAfterMinor`: raises
 * the low-balance alert when the balance went from at or above the threshold to below it, and
 * clears the mark when the balance is back at or above it, so the next crossing alerts again.
 */
export async function checkLowBalance(
  ctx: AlertContext, tx: Queryable, input: { account: AccountRow; balanceAfterMinor: number; transactionId: string; now: Date },
): Promise<void> {
  const { account, balanceAfterMinor: after } = input;
  const threshold = account.lowBalanceThresholdMinor;
  if (threshold === null || !account.userId) return;
  if (after >= threshold) {
    if (account.lowBalanceAlertedAt) await tx.update(accounts).set({ lowBalanceAlertedAt: null }).where(eq(accounts.id, account.id));
    return;
  }
  if (account.balanceMinor < threshold || account.lowBalanceAlertedAt) return;
  await tx.update(accounts).set({ lowBalanceAlertedAt: input.now }).where(eq(accounts.id, account.id));
  await recordEvent(ctx, tx, {
    userId: account.userId,
    type: 'balance.low',
    payload: { accountId: account.id, transactionId: input.transactionId, balanceMinor: after, thresholdMinor: threshold, currency: account.currency },
    notify: [{
      type: 'low_balance',
      values: {
        balance: { minorUnits: after, currency: account.currency },
        account_last4: account.number,
        threshold: { minorUnits: threshold, currency: account.currency },
      },
    }],
  });
}

/**
 * Raises the large-transaction alert when a movement of at least the account's threshold left it
 * (transfers, withdrawals) or came into it (deposits). `signedAmountMinor` is negative when leaving.
 */
export async function checkLargeTransaction(
  ctx: AlertContext, tx: Queryable, input: { account: AccountRow; signedAmountMinor: number; merchant: string; transactionId: string },
): Promise<void> {
  const { account, signedAmountMinor } = input;
  const threshold = account.largeTransactionThresholdMinor;
  if (threshold === null || !account.userId || Math.abs(signedAmountMinor) < threshold) return;
  await recordEvent(ctx, tx, {
    userId: account.userId,
    type: 'transaction.large',
    payload: {
      accountId: account.id, transactionId: input.transactionId, amountMinor: signedAmountMinor,
      currency: account.currency, thresholdMinor: threshold, description: input.merchant,
    },
    notify: [{
      type: 'large_transaction',
      values: { amount: { minorUnits: signedAmountMinor, currency: account.currency }, merchant: input.merchant, account_last4: account.number },
    }],
  });
}
