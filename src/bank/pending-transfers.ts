// Strong confirmation of large transfers (PSD2 strong customer authentication with dynamic
// linking): a transfer at or above the from-account's confirmation threshold moves no money at
// first; it is kept as a pending transfer and an SMS code bound to its amount and payee is sent
// (the text shows both). Only that code, within 5 minutes, runs the transfer, exactly once; the
// code of one pending transfer confirms no other.
import { and, desc, eq, isNull, ne } from 'drizzle-orm';
import type { Queryable } from '../db/connection.ts';
import { isUuid } from '../db/ids.ts';
import { accounts, moneyTransactions, otpChallenges, pendingTransfers } from '../db/schema.ts';
import { AppError, RetryLaterError } from '../errors.ts';
import { recordEvent } from '../events/events.ts';
import { CodeLimitError, recordRefusedCode } from '../notifications/send.ts';
import { isCodeOfChallenge, OTP_POLICY, verifyOtpCode, type OtpCheck } from '../otp/challenges.ts';
import { otpCheckError } from '../otp/check-errors.ts';
import { checkPhoneCoolingOff } from './cooling-off.ts';
import { queueCodeChallenge } from '../otp/send-code.ts';
import { awaitCodeSms, describeCodeDelivery, phoneCodeProblem, type CodeDelivery } from '../auth/code-delivery.ts';
import { preferredCodeDelivery } from '../notifications/choices.ts';
import { createOtpChallenge } from '../otp/challenges.ts';
import { queueCodeCall } from '../voice/code-call.ts';
import { maskPhoneNumber } from '../sms/phone.ts';
import { findUserById, normaliseUserPhone, requirePhoneNumber } from '../users/users.ts';
import {
  claimIdempotencyKey, formatMinor, recordRefusal, recordResponse, REMEMBERED_REFUSALS, requestHash,
} from './ledger.ts';
import {
  checkTransferRequest, lockTransferAccounts, payeeLabel, postTransfer, transfer,
  type BankContext, type MovementResult, type TransferRequest,
} from './transfers.ts';
import { dataKeyFor } from '../auth/data-key.ts';

/** A new code for the same pending transfer may be asked for this long after the last one. */
export const RESEND_COOLDOWN_MS = 30_000;

type PendingRow = typeof pendingTransfers.$inferSelect;

/** What the customer sees of a transfer waiting for its code. */
export interface PendingTransferView {
  id: string;
  /** awaiting_confirmation, confirmed, expired, cancelled or refused. */
  status: string;
  fromAccountId: string;
  toAccountId: string;
  amountMinor: number;
  currency: string;
  /** How the code SMS named the payee, e.g. "account ending 4821". */
  payee: string;
  /** Where the code went: the phone's last four digits only, e.g. ***2671. */
  destination: string | null;
  expiresAt: string;
  createdAt: string;
  confirmedAt: string | null;
  /** What became of the code (sent by SMS, refused, read by a call, withheld) and the choices when it will not arrive. */
  delivery?: CodeDelivery;
}

/** A transfer request's outcome: moved at once (below the threshold), or waiting for its code. */
export type TransferStarted =
  | { movement: MovementResult; pending?: undefined }
  | { pending: PendingTransferView; replayed: boolean; movement?: undefined };

const NEW_TRANSFER = 'Send the transfer again with a new Idempotency-Key to get a new code.';

function pendingNotFound(): AppError {
  return new AppError('not_found', 'No such transfer among yours waiting for confirmation. Check the id that POST /api/transfers answered.');
}

/** `now` shows a transfer whose code ran out as expired, even before anything marked it so. */
async function viewOf(db: Queryable, row: PendingRow, now: Date): Promise<PendingTransferView> {
  const [challenge] = row.otpChallengeId
    ? await db.select({ destination: otpChallenges.destination }).from(otpChallenges).where(eq(otpChallenges.id, row.otpChallengeId))
    : [];
  return {
    id: row.id,
    status: row.status === 'awaiting_confirmation' && row.expiresAt <= now ? 'expired' : row.status,
    fromAccountId: row.fromAccountId, toAccountId: row.toAccountId,
    amountMinor: row.amountMinor, currency: row.currency, payee: row.payeeLabel,
    destination: challenge ? maskPhoneNumber(challenge.destination) : null,
    expiresAt: row.expiresAt.toISOString(), createdAt: row.createdAt.toISOString(), confirmedAt: row.confirmedAt?.toISOString() ?? null,
  };
}

async function findPendingByKey(db: Queryable, userId: string, key: string): Promise<PendingRow | undefined> {
  const [row] = await db.select().from(pendingTransfers).where(and(eq(pendingTransfers.userId, userId), eq(pendingTransfers.idempotencyKey, key)));
  return row;
}

/** The customer's own pending transfer, locked until the caller's transaction ends; 404 for anyone else's. */
async function lockOwnPending(db: Queryable, userId: string, id: string): Promise<PendingRow> {
  if (!isUuid(id)) throw pendingNotFound();
  const [row] = await db.select().from(pendingTransfers).where(and(eq(pendingTransfers.id, id), eq(pendingTransfers.userId, userId))).for('update');
  if (!row) throw pendingNotFound();
  return row;
}

async function replayPending(db: Queryable, row: PendingRow, hash: string, now: Date): Promise<TransferStarted> {
  if (row.requestHash !== hash) {
    throw new AppError(
      'idempotency_key_reused',
      'This Idempotency-Key was already used for a different transfer request. A retry must repeat the first request exactly; a new request needs a new key.',
    );
  }
  return { pending: await viewOf(db, row, now), replayed: true };
}

/**
 * POST /api/transfers: below the from-account's confirmation threshold the transfer runs at once
 * (transfer()); at or above it, the request is checked (accounts, currency, funds), kept as a
 * pending transfer and its code SMS queued, in one transaction. A retry with the same key and
 * request answers the same pending transfer and sends no second code.
 */
export async function startTransfer(
  ctx: BankContext, userId: string, key: string, request: TransferRequest, options: { ip?: string } = {},
): Promise<TransferStarted> {
  checkTransferRequest(request);
  const fields = { ...request };
  const hash = requestHash('transfer', fields);
  const now = ctx.clock.now();
  let outcome: TransferStarted | { refused: AppError } | undefined;
  try {
    outcome = await ctx.db.transaction(async (tx): Promise<typeof outcome> => {
      const earlier = await findPendingByKey(tx, userId, key);
      if (earlier) return replayPending(tx, earlier, hash, now);
      // A key the ledger knows: it answers (replay, remembered refusal or key reused).
      const [moved] = await tx.select({ id: moneyTransactions.id }).from(moneyTransactions)
        .where(and(eq(moneyTransactions.userId, userId), eq(moneyTransactions.idempotencyKey, key)));
      if (moved) return undefined;
      const [from] = isUuid(request.fromAccountId) ? await tx.select().from(accounts).where(eq(accounts.id, request.fromAccountId)) : [];
      if (!from || from.userId !== userId || request.amountMinor < from.confirmationThresholdMinor) return undefined;

      let to;
      try {
        // Checked now so no code is sent for a transfer that cannot run (and again at confirmation).
        ({ to } = await lockTransferAccounts(tx, userId, request));
      } catch (error) {
        if (!(error instanceof AppError && REMEMBERED_REFUSALS.has(error.code))) throw error;
        // Remembered under the key like the ledger's refusals, so a retry is refused the same way.
        const claim = await claimIdempotencyKey(tx, { kind: 'transfer', userId, key, request: fields, now });
        if (claim.transactionId) await recordRefusal(tx, claim.transactionId, error);
        return { refused: error };
      }
      // Before any code is sent: a large transfer waits out the cooling-off after a phone change.
      await checkPhoneCoolingOff(tx, ctx.config, { userId, from, to, amountMinor: request.amountMinor, now });
      const payee = payeeLabel(userId, to);
      const [row] = await tx.insert(pendingTransfers).values({
        userId, idempotencyKey: key, requestHash: hash, fromAccountId: request.fromAccountId, toAccountId: request.toAccountId,
        amountMinor: request.amountMinor, currency: request.currency, payeeLabel: payee, createdAt: now,
        expiresAt: new Date(now.getTime() + OTP_POLICY.ttlMs),
      }).onConflictDoNothing().returning();
      if (!row) {
        // The same key raced in: answer as its retry.
        const raced = await findPendingByKey(tx, userId, key);
        if (!raced) throw new Error('pending transfer key conflict without a row');
        return replayPending(tx, raced, hash, now);
      }
      return { pending: await sendConfirmationCode(ctx, tx, row, { now, ip: options.ip, first: true }), replayed: false };
    });
  } catch (error) {
    if (error instanceof CodeLimitError) await recordRefusedCode(ctx, { userId, type: 'transfer_confirmation_code', error, now });
    throw error;
  }
  if (outcome === undefined) return { movement: await transfer(ctx, userId, key, request) };
  if ('refused' in outcome) throw outcome.refused;
  if (outcome.pending) return { ...outcome, pending: await withTransferDelivery(ctx, userId, outcome.pending) };
  return outcome;
}

/** Creates a code challenge for the pending transfer and queues its SMS, naming the amount and payee. */
async function sendConfirmationCode(
  ctx: BankContext, tx: Queryable, row: PendingRow, input: { now: Date; ip: string | undefined; first: boolean; voice?: boolean },
): Promise<PendingTransferView> {
  const user = await findUserById(tx, row.userId);
  if (!user) throw new AppError('not_found', 'No such user.');
  const destination = normaliseUserPhone(ctx.config, requirePhoneNumber(user));
  const event = input.first
    ? await recordEvent(ctx, tx, {
      userId: row.userId,
      type: 'transfer.pending_confirmation',
      payload: { pendingTransferId: row.id, fromAccountId: row.fromAccountId, toAccountId: row.toAccountId, amountMinor: row.amountMinor, currency: row.currency, payee: row.payeeLabel },
    })
    : undefined;
  // "Call me instead", or a number SMS cannot reach: the same challenge, read by a call or withheld.
  const voice = input.voice || (await preferredCodeDelivery(tx, row.userId)) === 'voice';
  const withheld = voice ? undefined : await phoneCodeProblem(tx, destination);
  let challenge: { id: string; expiresAt: Date };
  if (voice || withheld) {
    challenge = await createOtpChallenge(tx, { userId: row.userId, purpose: 'transfer_confirmation', destination, now: input.now });
    if (voice) {
      await queueCodeCall(ctx, tx, {
        userId: row.userId, type: 'transfer_confirmation_code', to: destination, otpChallengeId: challenge.id, sendBefore: challenge.expiresAt, ip: input.ip,
        about: { amount: formatMinor(row.amountMinor, row.currency), payee: row.payeeLabel },
      });
    }
  } else {
    ({ challenge } = await queueCodeChallenge(ctx, tx, {
      userId: row.userId, purpose: 'transfer_confirmation', destination, now: input.now, ip: input.ip,
      values: { amount: { minorUnits: row.amountMinor, currency: row.currency }, payee: row.payeeLabel },
      eventKey: event ? `event:${event.id}` : undefined,
    }));
  }
  const [updated] = await tx.update(pendingTransfers).set({ otpChallengeId: challenge.id, expiresAt: challenge.expiresAt })
    .where(eq(pendingTransfers.id, row.id)).returning();
  if (!updated) throw new Error('pending transfer vanished');
  return viewOf(tx, updated, input.now);
}

/** Why a pending transfer can take no code now; undefined while it waits for one. Marks it expired when its time is up. */
async function notAwaiting(tx: Queryable, row: PendingRow, now: Date): Promise<AppError | undefined> {
  switch (row.status) {
    case 'confirmed':
      return otpCheckError('already_used', { attemptsLeft: 0, again: 'This transfer was confirmed already; nothing moved a second time.' });
    case 'cancelled':
      return new AppError('conflict', `This transfer was cancelled and moved nothing. ${NEW_TRANSFER}`);
    case 'refused':
      return new AppError('conflict', `This transfer was refused when it was confirmed and moved nothing. ${NEW_TRANSFER}`);
    case 'expired':
      return otpCheckError('expired', { attemptsLeft: 0, again: NEW_TRANSFER });
  }
  if (row.expiresAt <= now) {
    await tx.update(pendingTransfers).set({ status: 'expired' }).where(eq(pendingTransfers.id, row.id));
    return otpCheckError('expired', { attemptsLeft: 0, again: NEW_TRANSFER });
  }
  return undefined;
}

/**
 * A refused code, told as the login code is; a code that belongs to another of the customer's
 * pending transfers is named as such (it still cost this transfer an attempt).
 */
async function codeRefusal(tx: Queryable, dataKey: Buffer, row: PendingRow, check: Exclude<OtpCheck, 'ok'>, code: string, now: Date): Promise<AppError> {
  const challengeId = row.otpChallengeId ?? '';
  const [after] = await tx.select({ attempts: otpChallenges.attempts, max: otpChallenges.maxAttempts }).from(otpChallenges).where(eq(otpChallenges.id, challengeId));
  const attemptsLeft = after ? Math.max(0, after.max - after.attempts) : 0;
  if (check === 'wrong_code') {
    const others = await tx.select().from(pendingTransfers).where(and(
      eq(pendingTransfers.userId, row.userId), eq(pendingTransfers.status, 'awaiting_confirmation'), ne(pendingTransfers.id, row.id),
    )).orderBy(desc(pendingTransfers.createdAt)).limit(10);
    for (const other of others) {
      if (other.otpChallengeId && await isCodeOfChallenge(tx, dataKey, other.otpChallengeId, code, now, { purpose: 'transfer_confirmation', userId: row.userId })) {
        return new AppError(
          'code_rejected',
          `This is the code for another transfer (${formatMinor(other.amountMinor, other.currency)} to ${other.payeeLabel}): a code confirms only the transfer its SMS names. ` +
            `Nothing was moved. Type the code from the SMS for ${formatMinor(row.amountMinor, row.currency)} to ${row.payeeLabel}; ${attemptsLeft} ${attemptsLeft === 1 ? 'attempt' : 'attempts'} left.`,
        );
      }
    }
  }
  return otpCheckError(check, { attemptsLeft, again: 'Ask for a new code with POST /api/transfers/{id}/resend.' });
}

/**
 * POST /api/transfers/:id/confirm: checks the code and runs the transfer (funds checked again) in
 * one transaction, so the code is used up exactly when the money moves. Carries its own
 * Idempotency-Key: a retry answers the first result (or refusal) and moves nothing twice.
 */
export async function confirmTransfer(ctx: BankContext, userId: string, pendingId: string, key: string, code: string): Promise<MovementResult> {
  const now = ctx.clock.now();
  const outcome = await ctx.db.transaction(async (tx): Promise<MovementResult | { refused: AppError }> => {
    const row = await lockOwnPending(tx, userId, pendingId);
    const request = { confirmPendingTransfer: row.id };
    const [earlier] = await tx.select({ id: moneyTransactions.id }).from(moneyTransactions)
      .where(and(eq(moneyTransactions.userId, userId), eq(moneyTransactions.idempotencyKey, key)));
    if (earlier) {
      // Replays the first answer, repeats a remembered refusal, or refuses a key used for something else.
      const claim = await claimIdempotencyKey(tx, { kind: 'transfer', userId, key, request, now });
      if (claim.replay) return { movement: claim.replay, replayed: true };
    }
    const blocked = await notAwaiting(tx, row, now);
    if (blocked) return { refused: blocked };
    if (!row.otpChallengeId) throw new Error(`pending transfer ${row.id} has no code challenge`);
    // Committed even when refused: a wrong code costs one of the code's attempts.
    const dataKey = dataKeyFor(ctx.config);
    const check = await verifyOtpCode(tx, dataKey, row.otpChallengeId, code, now, { purpose: 'transfer_confirmation', userId });
    if (check !== 'ok') return { refused: await codeRefusal(tx, dataKey, row, check, code, now) };

    const claim = await claimIdempotencyKey(tx, { kind: 'transfer', userId, key, request, now });
    if (claim.replay) return { movement: claim.replay, replayed: true };
    const transfer = { fromAccountId: row.fromAccountId, toAccountId: row.toAccountId, amountMinor: row.amountMinor, currency: row.currency };
    try {
      // A savepoint: a refusal (e.g. the funds are gone) undoes the postings but keeps the used code and the key.
      const movement = await tx.transaction((inner) => postTransfer(ctx, inner, { userId, transactionId: claim.transactionId, request: transfer, now, confirmed: true }));
      await recordResponse(tx, movement);
      await tx.update(pendingTransfers).set({ status: 'confirmed', confirmedAt: now, moneyTransactionId: claim.transactionId }).where(eq(pendingTransfers.id, row.id));
      return { movement, replayed: false };
    } catch (error) {
      if (!(error instanceof AppError && REMEMBERED_REFUSALS.has(error.code))) throw error;
      await recordRefusal(tx, claim.transactionId, error);
      await tx.update(pendingTransfers).set({ status: 'refused', moneyTransactionId: claim.transactionId }).where(eq(pendingTransfers.id, row.id));
      return { refused: error };
    }
  });
  if ('refused' in outcome) throw outcome.refused;
  return outcome;
}

/** POST /api/transfers/:id/resend: a new code (the previous one stops working), at most every 30 seconds. */
export async function resendTransferCode(ctx: BankContext, userId: string, pendingId: string, options: { ip?: string; voice?: boolean } = {}): Promise<PendingTransferView> {
  const now = ctx.clock.now();
  try {
    const outcome = await ctx.db.transaction(async (tx): Promise<PendingTransferView | { refused: AppError }> => {
      const row = await lockOwnPending(tx, userId, pendingId);
      if (row.status === 'confirmed') return { refused: new AppError('conflict', 'This transfer was confirmed already: it needs no code.') };
      const blocked = await notAwaiting(tx, row, now);
      if (blocked) return { refused: blocked };
      const [last] = row.otpChallengeId ? await tx.select().from(otpChallenges).where(eq(otpChallenges.id, row.otpChallengeId)) : [];
      const wait = last ? last.createdAt.getTime() + RESEND_COOLDOWN_MS - now.getTime() : 0;
      // A call for a code that could not arrive (withheld, or refused by Twilio) need not wait.
      const lastDelivery = last && options.voice ? await describeCodeDelivery(ctx, tx, { challengeId: last.id, userId, destination: last.destination, callRoute: '' }) : undefined;
      const lastArriving = !lastDelivery || (lastDelivery.problem === null && lastDelivery.channel !== 'none');
      if (wait > 0 && lastArriving) {
        const seconds = Math.ceil(wait / 1000);
        throw new RetryLaterError(`Code sent moments ago: you can ask for another in ${seconds} seconds.`, seconds);
      }
      if (last) await tx.update(otpChallenges).set({ consumedAt: now }).where(and(eq(otpChallenges.id, last.id), isNull(otpChallenges.consumedAt)));
      return sendConfirmationCode(ctx, tx, row, { now, ip: options.ip, first: false, voice: options.voice });
    });
    if ('refused' in outcome) throw outcome.refused;
    return withTransferDelivery(ctx, userId, outcome);
  } catch (error) {
    if (error instanceof CodeLimitError) await recordRefusedCode(ctx, { userId, type: 'transfer_confirmation_code', error, now });
    throw error;
  }
}

/** DELETE /api/transfers/:id: the transfer will never run and its code stops working. Cancelling twice answers the same. */
export async function cancelTransfer(ctx: BankContext, userId: string, pendingId: string): Promise<PendingTransferView> {
  const now = ctx.clock.now();
  return ctx.db.transaction(async (tx) => {
    const row = await lockOwnPending(tx, userId, pendingId);
    if (row.status === 'confirmed') throw new AppError('conflict', 'This transfer was confirmed already and the money has moved: it can no longer be cancelled.');
    if (row.status !== 'awaiting_confirmation') return viewOf(tx, row, now);
    if (row.otpChallengeId) await tx.update(otpChallenges).set({ consumedAt: now }).where(and(eq(otpChallenges.id, row.otpChallengeId), isNull(otpChallenges.consumedAt)));
    const [updated] = await tx.update(pendingTransfers).set({ status: 'cancelled' }).where(eq(pendingTransfers.id, row.id)).returning();
    return viewOf(tx, updated ?? row, now);
  });
}

/**
 * The view with what became of its code: after the transaction that queued it, waiting briefly
 * for Twilio's answer to the code SMS so a refusal (21610) is told in this very answer.
 */
export async function withTransferDelivery(ctx: Pick<BankContext, 'db' | 'config'>, userId: string, view: PendingTransferView): Promise<PendingTransferView> {
  if (view.status !== 'awaiting_confirmation') return view;
  const [row] = await ctx.db.select({ challengeId: pendingTransfers.otpChallengeId }).from(pendingTransfers).where(eq(pendingTransfers.id, view.id));
  const [challenge] = row?.challengeId ? await ctx.db.select().from(otpChallenges).where(eq(otpChallenges.id, row.challengeId)) : [];
  if (!challenge) return view;
  await awaitCodeSms(ctx.db, challenge.id, ctx.config.voice.codeSendWaitMs);
  const delivery = await describeCodeDelivery(ctx, ctx.db, {
    challengeId: challenge.id, userId, destination: challenge.destination,
    withheld: await phoneCodeProblem(ctx.db, challenge.destination), callRoute: `POST /api/transfers/${view.id}/call`,
  });
  return { ...view, delivery: delivery.channel === 'none' || delivery.problem ? delivery : { ...delivery, problem: null } };
}

/** GET /api/transfers/:id: one of the customer's pending transfers. */
export async function getPendingTransfer(db: Queryable, userId: string, pendingId: string, now: Date): Promise<PendingTransferView> {
  if (!isUuid(pendingId)) throw pendingNotFound();
  const [row] = await db.select().from(pendingTransfers).where(and(eq(pendingTransfers.id, pendingId), eq(pendingTransfers.userId, userId)));
  if (!row) throw pendingNotFound();
  return viewOf(db, row, now);
}
