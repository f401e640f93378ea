// Money movements: transfers between accounts, and deposits and withdrawals against the bank's
// cash account. Each runs in one database transaction: claim the Idempotency-Key, lock the
// accounts in id order, check, post balanced ledger entries, store the answer, queue the SMS.
import type { AppContext } from '../context.ts';
import type { Tx } from '../db/connection.ts';
import { AppError } from '../errors.ts';
import { notifyUser } from '../notifications/send.ts';
import { findUserById } from '../users/users.ts';
import { accountNotFound, cashAccountId, checkCurrency, lockAccounts, type AccountRow } from './accounts.ts';
import {
  checkAmount, claimIdempotencyKey, formatMinor, post, recordRefusal, recordResponse, REMEMBERED_REFUSALS, type MoneyMovement, type MoneyTransactionKind,
} from './ledger.ts';

type BankContext = Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'>;

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

/**
 * Moves money from one of the user's accounts to any customer account of the same currency.
 * Throws AppError 'not_found' (not the user's account, or no such payee account),
 * 'insufficient_funds', 'validation_failed' or 'idempotency_key_reused'.
 */
export function transfer(ctx: BankContext, userId: string, key: string, request: TransferRequest): Promise<MovementResult> {
  checkAmount(request.amountMinor);
  checkCurrency(request.currency);
  if (request.fromAccountId === request.toAccountId) {
    throw new AppError('validation_failed', 'A transfer needs two different accounts: fromAccountId and toAccountId are the same.');
  }
  return movement(ctx, { kind: 'transfer', userId, key, request: { ...request } }, async (tx, transactionId, now) => {
    const locked = await lockAccounts(tx, [request.fromAccountId, request.toAccountId]);
    const from = locked.get(request.fromAccountId);
    if (!from || from.userId !== userId) throw accountNotFound();
    const to = locked.get(request.toAccountId);
    if (!to || to.kind !== 'customer') throw new AppError('not_found', 'No account to send to with this id. Check the payee account id.');
    checkCurrencyOf(from, request.currency);
    checkCurrencyOf(to, request.currency);
    checkFunds(from, request.amountMinor);
    const balances = await post(tx, transactionId, [
      { accountId: from.id, amountMinor: -request.amountMinor },
      { accountId: to.id, amountMinor: request.amountMinor },
    ], now);
    const amount = { minorUnits: request.amountMinor, currency: request.currency };
    await notifyUser(ctx, tx, {
      userId,
      type: 'transfer_sent',
      values: { amount, payee: `${to.userId === userId ? 'your ' : ''}account ending ${to.number.slice(-4)}`, account_last4: from.number },
    });
    if (to.userId && to.userId !== userId) {
      const payer = await findUserById(tx, userId);
      await notifyUser(ctx, tx, { userId: to.userId, type: 'transfer_received', values: { amount, payer: payer?.username ?? 'another customer', account_last4: to.number } });
    }
    // The payee's balance is theirs to see: only the sender's own accounts are shown.
    const shown = [from, ...(to.userId === userId ? [to] : [])].map((a) => ({ id: a.id, balanceMinor: balances.get(a.id) ?? a.balanceMinor }));
    return {
      transactionId, kind: 'transfer', amountMinor: request.amountMinor, currency: request.currency,
      accounts: shown, fromAccountId: from.id, toAccountId: to.id, createdAt: now.toISOString(),
    };
  });
}

/**
 * Cash in or out of a customer account, against the bank's cash account of its currency.
 * Deposits are made by staff (`actorId` is the staff member, any customer's account); withdrawals
 * by the owner of the account. Sends the customer a 'transaction' alert.
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
    await notifyUser(ctx, tx, {
      userId: account.userId,
      type: 'transaction',
      values: {
        amount: { minorUnits: signed, currency: request.currency },
        merchant: kind === 'deposit' ? 'Deposit' : 'Cash withdrawal',
        account_last4: account.number,
        balance: { minorUnits: balanceMinor, currency: request.currency },
      },
    });
    return {
      transactionId, kind, amountMinor: request.amountMinor, currency: request.currency,
      accounts: [{ id: account.id, balanceMinor }],
      fromAccountId: kind === 'withdrawal' ? account.id : null,
      toAccountId: kind === 'deposit' ? account.id : null,
      createdAt: now.toISOString(),
    };
  });
}
