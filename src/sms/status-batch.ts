// Status checks of sent messages, a batch at a time: one read of the batch's messages, the
// provider asked about each concurrently, one transaction recording what moved (each still a
// conditional UPDATE, so statuses never go backwards) and one insert of the next checks.
import { inArray } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import { smsMessages } from '../db/schema.ts';
import { isFinalStatus, recordProviderStatus, refreshSmsStatus } from './delivery.ts';
import { CircuitOpenError } from './provider-breaker.ts';
import type { SentMessage } from './provider.ts';

/** Status checks per sent message before leaving it to the reconciler (as in delivery.ts). */
const MAX_STATUS_CHECKS = 12;

export interface StatusCheck {
  jobId: string;
  messageId: string;
  attempt: number;
}

/** Runs a batch of status jobs; returns the error of each job that should be retried, by job id. */
export async function refreshSmsStatusBatch(ctx: AppContext, checks: readonly StatusCheck[]): Promise<Map<string, unknown>> {
  const errors = new Map<string, unknown>();
  if (!checks.length) return errors;
  const rows = await ctx.db.select().from(smsMessages).where(inArray(smsMessages.id, checks.map((c) => c.messageId)));
  const byId = new Map(rows.map((r) => [r.id, r]));
  const fetched: { check: StatusCheck; row: typeof smsMessages.$inferSelect; sent: SentMessage }[] = [];
  // Checks the account's open circuit refused: asked again after it, not counted as failures.
  const parked: StatusCheck[] = [];
  let parkedForMs = 0;
  await Promise.all(checks.map(async (check) => {
    const row = byId.get(check.messageId);
    if (!row?.twilioSid) return;
    try {
      // Settled already (by a callback): only its charge may be missing; the single path reads it.
      if (isFinalStatus(row.status)) await refreshSmsStatus(ctx, check.messageId, check.attempt);
      else fetched.push({ check, row, sent: await ctx.provider.fetchMessage(row.twilioSid) });
    } catch (error) {
      if (error instanceof CircuitOpenError) {
        parked.push(check);
        parkedForMs = Math.max(parkedForMs, error.retryAfterMs ?? 0);
      } else {
        errors.set(check.jobId, error);
      }
    }
  }));
  if (parked.length) {
    try {
      await ctx.jobs.sendMany(undefined, 'sms.status', parked.map(({ messageId, attempt }) => ({ messageId, attempt })), { startAfter: Math.max(1, parkedForMs / 1000) });
    } catch (error) {
      for (const check of parked) errors.set(check.jobId, error);
    }
  }
  if (!fetched.length) return errors;
  try {
    await ctx.db.transaction(async (tx) => {
      const now = ctx.clock.now();
      const next = new Map<number, { messageId: string; attempt: number }[]>();
      for (const { check, row, sent } of fetched) {
        await recordProviderStatus(ctx, tx, row, sent, now, 'status_check');
        if (!isFinalStatus(sent.status) && check.attempt < MAX_STATUS_CHECKS) {
          const delay = Math.min(60, 2 ** check.attempt);
          next.set(delay, [...(next.get(delay) ?? []), { messageId: check.messageId, attempt: check.attempt + 1 }]);
        }
      }
      for (const [startAfter, jobs] of next) await ctx.jobs.sendMany(tx, 'sms.status', jobs, { startAfter });
    });
  } catch (error) {
    for (const { check } of fetched) errors.set(check.jobId, error);
  }
  return errors;
}
