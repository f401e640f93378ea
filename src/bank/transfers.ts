// Money movements: transfers between accounts, and deposits and withdrawals against the bank's
// cash account. Each runs in one database transaction: claim the Idempotency-Key, lock the
// accounts in id order, check, post balanced ledger entries, record the events (which queue the
// alerts), store the answer.
import type { AppContext } from '../context.ts';
import type { Queryable, Tx } from '../db/connection.ts';
import { AppError } from '../errors.ts';
import { recordAudit } from '../audit/audit.ts';
import { checkLargeTransferAfterPasswordChange } from '../auth/suspicious.ts';
import { recordEvent } from '../events/events.ts';
import { findUserById } from '../users/users.ts';
import { accountNotFound, cashAccountId, checkCurrency, lockAccounts, type AccountRow } from './accounts.ts';
import { checkLargeTransaction, checkLowBalance } from './alerts.ts';
import { checkPhoneCoolingOff } from './cooling-off.ts';
import {
  checkAmount, claimIdempotencyKey, formatMinor, post, recordRefusal, recordResponse, REMEMBERED_REFUSALS, type MoneyMovement, type MoneyTransactionKind,
} from './ledger.ts';

export type BankContext = Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'>;

export interface TransferRequest {
  fromAccountId: string;
  toAccountId: string;
  amountMinor: number;
  currency: string;
}

export interface CashRequest {
  accountId: string;
  amountMinor: number;
  currency: string;
}

/** The answer, and whether it is the stored answer of an earlier request with the same key. */
export interface MovementResult {
  movement: MoneyMovement;
  replayed: boolean;
}

function checkCurrencyOf(account: AccountRow, currency: string): void {
  if (account.currency !== currency) {
    throw new AppError('validation_failed', `Currency mismatch: account ending ${account.number.slice(-4)} holds ${account.currency}, the request is in ${currency}.`);
  }
}

function checkFunds(account: AccountRow, amountMinor: number): void {
  if (account.balanceMinor < amountMinor) {
    throw new AppError(
      'insufficient_funds',
      `Insufficient Funds: account ending ${account.number.slice(-4)} holds ${formatMinor(account.balanceMinor, account.currency)}, ` +
        `less than the ${formatMinor(amountMinor, account.currency)} asked for. Nothing was moved.`,
    );
  }
}

async function movement(
  ctx: BankContext,
  input: { kind: MoneyTransactionKind; userId: string; key: string; request: Record<string, string | number> },
  body: (tx: Tx, transactionId: string, now: Date) => Promise<MoneyMovement>,
): Promise<MovementResult> {
  const now = ctx.clock.now();
  const outcome = await ctx.db.transaction(async (tx): Promise<MovementResult | { refused: AppError }> => {
    const claim = await claimIdempotencyKey(tx, { ...input, now });
    if (claim.replay) return { movement: claim.replay, replayed: true };
    const transactionId = claim.transactionId;
    try {
      // A savepoint: a refusal undoes whatever the movement wrote, but keeps the claimed key.
      const result = await tx.transaction((inner) => body(inner, transactionId, now));
      await recordResponse(tx, result);
      return { movement: result, replayed: false };
    } catch (error) {
      if (!(error instanceof AppError && REMEMBERED_REFUSALS.has(error.code))) throw error;
      await recordRefusal(tx, transactionId, error);
      return { refused: error };
    }
  });
  if ('refused' in outcome) throw outcome.refused;
  return outcome;
}

/** The checks a transfer request passes before any account is read. */
export function checkTransferRequest(request: TransferRequest): void {
  checkAmount(request.amountMinor);
  checkCurrency(request.currency);
  if (request.fromAccountId === request.toAccountId) {
    throw new AppError('validation_failed', 'A transfer needs two different accounts: fromAccountId and toAccountId are the same.');
  }
}

/** How texts name the payee: only the last four digits of the account, "your" when it is the sender's own. */
export function payeeLabel(userId: string, to: AccountRow): string {
  return `${to.userId === userId ? 'your ' : ''}account ending ${to.number.slice(-4)}`;
}

/**
 * Locks the two accounts of a transfer and checks it can run: the sender's own account, a
 * customer account to send to, one currency, the funds. Throws the refusal otherwise.
 */
export async function lockTransferAccounts(tx: Queryable, userId: string, request: TransferRequest): Promise<{ from: AccountRow; to: AccountRow }> {
  const locked = await lockAccounts(tx, [request.fromAccountId, request.toAccountId]);
  const from = locked.get(request.fromAccountId);
  if (!from || from.userId !== userId) throw accountNotFound();
  const to = locked.get(request.toAccountId);
  if (!to || to.kind !== 'customer') throw new AppError('not_found', 'No account to send to with this id. Check the payee account id.');
  checkCurrencyOf(from, request.currency);
  checkCurrencyOf(to, request.currency);
  checkFunds(from, request.amountMinor);
  return { from, to };
}

/**
 * Runs a transfer inside a movement's transaction: checks, balanced postings, the events (sent,
 * received, low balance, large transaction) and their notifications. `confirmed` says the customer
 * typed the SMS code bound to it; without it a transfer at or above the account's confirmation
 * threshold is refused, so no path moves such an amount unconfirmed.
 */
export async function postTransfer(
  ctx: BankContext, tx: Tx, input: { userId: string; transactionId: string; request: TransferRequest; now: Date; confirmed: boolean },
): Promise<MoneyMovement> {
  const { userId, transactionId, request, now } = input;
  const { from, to } = await lockTransferAccounts(tx, userId, request);
  await checkPhoneCoolingOff(tx, ctx.config, { userId, from, to, amountMinor: request.amountMinor, now });
  if (!input.confirmed && request.amountMinor >= from.confirmationThresholdMinor) {
    // Reached only when the threshold was lowered between routing and locking: asking again routes it to confirmation.
    throw new AppError('conflict', `Transfers of ${formatMinor(from.confirmationThresholdMinor, from.currency)} or more need an SMS code: send the request again with a new Idempotency-Key.`);
  }
  const balances = await post(tx, transactionId, [
    { accountId: from.id, amountMinor: -request.amountMinor },
    { accountId: to.id, amountMinor: request.amountMinor },
  ], now);
  const amount = { minorUnits: request.amountMinor, currency: request.currency };
  const payee = payeeLabel(userId, to);
  await recordEvent(ctx, tx, {
    userId,
    type: 'transfer.sent',
    payload: { transactionId, fromAccountId: from.id, toAccountId: to.id, amountMinor: request.amountMinor, currency: request.currency, payee },
    notify: [{ type: 'transfer_sent', values: { amount, payee, account_last4: from.number } }],
  });
  if (to.userId && to.userId !== userId) {
    // The payee's own event: what they see of it is theirs (the sender's account stays hidden).
    const payer = (await findUserById(tx, userId))?.username ?? 'another customer';
    await recordEvent(ctx, tx, {
      userId: to.userId,
      type: 'transfer.received',
      payload: { transactionId, toAccountId: to.id, amountMinor: request.amountMinor, currency: request.currency, payer },
      notify: [{ type: 'transfer_received', values: { amount, payer, account_last4: to.number } }],
    });
  }
  await checkLargeTransaction(ctx, tx, { account: from, signedAmountMinor: -request.amountMinor, merchant: `Transfer to ${payee}`, transactionId });
  // Account takeover's usual shape: change the password, then move the money out.
  await checkLargeTransferAfterPasswordChange(ctx, tx, { userId, amountMinor: request.amountMinor, currency: request.currency, now });
  for (const account of [from, to]) {
    await checkLowBalance(ctx, tx, { account, balanceAfterMinor: balances.get(account.id) ?? account.balanceMinor, transactionId, now });
  }
  // The payee's balance is theirs to see: only the sender's own accounts are shown.
  const shown = [from, ...(to.userId === userId ? [to] : [])].map((a) => ({ id: a.id, balanceMinor: balances.get(a.id) ?? a.balanceMinor }));
  return {
    transactionId, kind: 'transfer', amountMinor: request.amountMinor, currency: request.currency,
    accounts: shown, fromAccountId: from.id, toAccountId: to.id, createdAt: now.toISOString(),
  };
}

/**
 * Moves money from one of the user's accounts to any customer account of the same currency, at
 * once: amounts below the account's confirmation threshold (see startTransfer for the rest).
 * Throws AppError 'not_found' (not the user's account, or no such payee account),
 * 'insufficient_funds', 'validation_failed' or 'idempotency_key_reused'.
 */
export function transfer(ctx: BankContext, userId: string, key: string, request: TransferRequest): Promise<MovementResult> {
  checkTransferRequest(request);
  return movement(ctx, { kind: 'transfer', userId, key, request: { ...request } }, (tx, transactionId, now) =>
    postTransfer(ctx, tx, { userId, transactionId, request, now, confirmed: false }));
}

/**
 * Cash in or out of a customer account, against the bank's cash account of its currency.
 * Deposits are made by staff (`actorId` is the staff member, any customer's account); withdrawals
 * by the owner of the account. Records a 'transaction.posted' event (the 'transaction' alert), and
 * the low-balance and large-transaction alerts when they apply.
 */
export function moveCash(ctx: BankContext, kind: 'deposit' | 'withdrawal', actorId: string, key: string, request: CashRequest): Promise<MovementResult> {
  checkAmount(request.amountMinor);
  checkCurrency(request.currency);
  return movement(ctx, { kind, userId: actorId, key, request: { ...request } }, async (tx, transactionId, now) => {
    const cashId = await cashAccountId(tx, request.currency, now);
    const locked = await lockAccounts(tx, [request.accountId, cashId]);
    const account = locked.get(request.accountId);
    if (!account || account.kind !== 'customer' || !account.userId || (kind === 'withdrawal' && account.userId !== actorId)) throw accountNotFound();
    checkCurrencyOf(account, request.currency);
    if (kind === 'withdrawal') checkFunds(account, request.amountMinor);
    const signed = kind === 'deposit' ? request.amountMinor : -request.amountMinor;
    const balances = await post(tx, transactionId, [
      { accountId: account.id, amountMinor: signed },
      { accountId: cashId, amountMinor: -signed },
    ], now);
    const balanceMinor = balances.get(account.id) ?? account.balanceMinor;
    const merchant = kind === 'deposit' ? 'Deposit' : 'Cash withdrawal';
    await recordEvent(ctx, tx, {
      userId: account.userId,
      type: 'transaction.posted',
      payload: { transactionId, kind, accountId: account.id, amountMinor: signed, currency: request.currency, balanceMinor },
      notify: [{
        type: 'transaction',
        values: {
          amount: { minorUnits: signed, currency: request.currency },
          merchant,
          account_last4: account.number,
          balance: { minorUnits: balanceMinor, currency: request.currency },
        },
      }],
    });
    await checkLargeTransaction(ctx, tx, { account, signedAmountMinor: signed, merchant, transactionId });
    await checkLowBalance(ctx, tx, { account, balanceAfterMinor: balanceMinor, transactionId, now });
    if (kind === 'deposit') {
      await recordAudit(tx, {
        actor: { kind: 'staff', userId: actorId }, action: 'deposit.made', subject: `account ending ${account.number.slice(-4)}`, subjectUserId: account.userId, at: now,
        before: { balanceMinor: account.balanceMinor, currency: request.currency }, after: { balanceMinor, amountMinor: request.amountMinor, transactionId },
      });
    }
    return {
      transactionId, kind, amountMinor: request.amountMinor, currency: request.currency,
      accounts: [{ id: account.id, balanceMinor }],
      fromAccountId: kind === 'withdrawal' ? account.id : null,
      toAccountId: kind === 'deposit' ? account.id : null,
      createdAt: now.toISOString(),
    };
  });
}
