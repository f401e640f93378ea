// The status sweep: follows sent messages until their status is final, without a job per message.
// A message still followed carries when it is next checked (sms_messages.status_check_at, on the
// database's clock, as pg-boss's start_after is), written by the transaction that records its
// send, so no check is ever lost. Every worker sweeps: one
// statement claims a batch of due messages (SKIP LOCKED, so workers never take the same one) and
// moves each one's next check on by its backoff in the same statement, which is also its lease: a
// worker that dies mid-sweep leaves its checks due again at their next step. Then Twilio is asked
// about each concurrently and one transaction records what moved.
import { and, eq, inArray, isNotNull, isNull, lte, sql, type SQL } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import { smsMessages } from '../db/schema.ts';
import { BILLED, fromDatabaseNow, isFinalStatus, recordProviderStatus } from './delivery.ts';
import { CircuitOpenError } from './provider-breaker.ts';
import type { MessageStatus, SentMessage } from './provider.ts';

/** Status checks per sent message before it is left unsettled (it stays in the message log as sent). */
export const MAX_STATUS_CHECKS = 12;
/** Messages claimed by one sweep statement; a full batch is followed at once by the next. */
export const SWEEP_BATCH = 64;
/** How often each worker looks for due checks when the last sweep found fewer than a batch. */
export const SWEEP_INTERVAL_MS = 1_000;

type SmsRow = typeof smsMessages.$inferSelect;

/**
 * Claims up to `limit` due checks (or the named messages, due or not, while they are followed) and
 * makes them; returns how many were claimed, so a full sweep can be followed by the next at once.
 */
export async function sweepStatusChecks(ctx: AppContext, options: { limit?: number; only?: readonly string[] } = {}): Promise<number> {
  const limit = options.limit ?? SWEEP_BATCH;
  const due: SQL = options.only
    ? and(inArray(smsMessages.id, [...options.only]), isNotNull(smsMessages.statusCheckAt))!
    : lte(smsMessages.statusCheckAt, sql`now()`);
  // Check n (counted from 1) is followed by the next 2^n s later, at most a minute.
  const claimed = await ctx.db.update(smsMessages).set({
    statusChecks: sql`${smsMessages.statusChecks} + 1`,
    statusCheckAt: sql`case when ${smsMessages.statusChecks} + 1 >= ${MAX_STATUS_CHECKS} then null
      else now() + least(60, power(2, ${smsMessages.statusChecks} + 1)) * interval '1 second' end`,
  }).where(inArray(smsMessages.id, ctx.db.select({ id: smsMessages.id }).from(smsMessages).where(due)
    .orderBy(smsMessages.statusCheckAt).limit(limit).for('update', { skipLocked: true })))
    .returning();
  if (claimed.length) await checkStatuses(ctx, claimed);
  return claimed.length;
}

async function checkStatuses(ctx: AppContext, rows: readonly SmsRow[]): Promise<void> {
  const fetched: { row: SmsRow; sent: SentMessage }[] = [];
  const done: string[] = [];
  const parked: string[] = [];
  let parkedForMs = 0;
  await Promise.all(rows.map(async (row) => {
    try {
      if (!row.twilioSid) {
        done.push(row.id);
      } else if (isFinalStatus(row.status)) {
        // Settled already (by a callback, which carries no price): read the charge once, and stop.
        if (row.price === null && BILLED.has(row.status)) await recordCharge(ctx, row.id, row.twilioSid);
        done.push(row.id);
      } else {
        fetched.push({ row, sent: await ctx.provider.fetchMessage(row.twilioSid) });
      }
    } catch (error) {
      if (error instanceof CircuitOpenError) {
        parked.push(row.id);
        parkedForMs = Math.max(parkedForMs, error.retryAfterMs ?? 0);
      } else {
        // Asked again at its next step, already set by the claim.
        ctx.logger.warn({ err: error, smsMessageId: row.id }, 'status check failed; it is tried again at its next step');
      }
    }
  }));
  if (parked.length) {
    // The account's open circuit refused them: asked again after it, not counted as checks.
    await ctx.db.update(smsMessages).set({
      statusCheckAt: fromDatabaseNow(Math.max(1, parkedForMs / 1000)),
      statusChecks: sql`greatest(0, ${smsMessages.statusChecks} - 1)`,
    }).where(inArray(smsMessages.id, parked));
  }
  if (fetched.length) {
    await ctx.db.transaction(async (tx) => {
      const now = ctx.clock.now();
      for (const { row, sent } of fetched) {
        await recordProviderStatus(ctx, tx, row, sent, now, 'status_check');
        if (isFinalStatus(sent.status)) done.push(row.id);
      }
      if (done.length) await tx.update(smsMessages).set({ statusCheckAt: null }).where(inArray(smsMessages.id, done));
    });
  } else if (done.length) {
    await ctx.db.update(smsMessages).set({ statusCheckAt: null }).where(inArray(smsMessages.id, done));
  }
}

/** Reads the charge Twilio billed for a settled message whose status came by callback. */
async function recordCharge(ctx: AppContext, messageId: string, sid: string): Promise<void> {
  const billed = await ctx.provider.fetchMessage(sid);
  if (billed.price === null) return;
  await ctx.db.update(smsMessages).set({ price: billed.price.toFixed(5), priceUnit: billed.priceUnit, segments: billed.segments })
    .where(and(eq(smsMessages.id, messageId), isNull(smsMessages.price)));
}

/** Checks one followed message now, due or not (the CLI and tests); its status afterwards, if it has a SID. */
export async function checkStatusNow(ctx: AppContext, messageId: string): Promise<MessageStatus | undefined> {
  await sweepStatusChecks(ctx, { only: [messageId] });
  const [row] = await ctx.db.select({ status: smsMessages.status, sid: smsMessages.twilioSid }).from(smsMessages).where(eq(smsMessages.id, messageId));
  return row?.sid ? row.status as MessageStatus : undefined;
}
