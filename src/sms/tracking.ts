// Follows one message of the message log while someone waits for it (an operator's test): until
// the worker has handed it to Twilio or given up, and optionally until Twilio's status is final.
import { and, eq, inArray, sql } from 'drizzle-orm';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppContext } from '../context.ts';
import { smsMessages } from '../db/schema.ts';
import { followSmsOutcome } from '../notifications/records.ts';
import { isFinalStatus, recordProviderStatus } from './delivery.ts';
import { explainTwilioError } from './twilio-errors.ts';

export type SmsLogEntry = typeof smsMessages.$inferSelect;

/** Statuses of a message the worker has not finished with yet. */
const UNSENT: ReadonlySet<string> = new Set(['pending', 'sending', 'retrying']);
/** How long past the timeout a send already in flight is waited for. */
const SEND_GRACE_MS = 15_000;

export interface WaitOptions {
  /** Give up after this long (wall-clock time, whatever the context's clock says). */
  timeoutMs: number;
  /** Keep going after Twilio accepted the message, until delivered / undelivered / failed. */
  untilFinal: boolean;
  pollMs?: number;
  /** Called when the status changes, and every few seconds while it does not. */
  onProgress?: (entry: SmsLogEntry, elapsedMs: number) => void;
}

export interface WaitResult {
  entry: SmsLogEntry;
  /** The wait ran out before the message got where it was asked to. */
  timedOut: boolean;
  /**
   * The worker will retry, but not soon enough to be worth waiting for: the failure needs a
   * person (e.g. the balance ran out).
   */
  needsAction: boolean;
}

export async function readSmsLogEntry(db: AppContext['db'], messageId: string): Promise<SmsLogEntry> {
  const [entry] = await db.select().from(smsMessages).where(eq(smsMessages.id, messageId));
  if (!entry) throw new Error(`message ${messageId} is not in the message log`);
  return entry;
}

/** True for a retry that only a person can make succeed (the worker's own retries cannot). */
function waitsForAPerson(entry: SmsLogEntry): boolean {
  if (entry.status !== 'retrying' || entry.errorCode === null) return false;
  return explainTwilioError(entry.errorCode)?.kind === 'insufficient_funds';
}

export async function waitForSms(ctx: Pick<AppContext, 'db' | 'provider' | 'clock' | 'metrics' | 'config' | 'jobs'>, messageId: string, options: WaitOptions): Promise<WaitResult> {
  const started = Date.now();
  const pollMs = options.pollMs ?? 100;
  let lastStatus = '';
  let lastReport = started;
  for (;;) {
    let entry = await readSmsLogEntry(ctx.db, messageId);
    if (!UNSENT.has(entry.status) && options.untilFinal && !isFinalStatus(entry.status) && entry.twilioSid) {
      // Ask Twilio directly rather than wait for the worker's next status check or a callback.
      const sent = await ctx.provider.fetchMessage(entry.twilioSid);
      // Recorded as a status check would: the number's marks and the notification follow it too.
      await ctx.db.transaction((tx) => recordProviderStatus(ctx, tx, entry, sent, ctx.clock.now(), 'status_check'));
      entry = await readSmsLogEntry(ctx.db, messageId);
    }
    const elapsed = Date.now() - started;
    if (entry.status !== lastStatus || Date.now() - lastReport >= 5_000) {
      options.onProgress?.(entry, elapsed);
      lastStatus = entry.status;
      lastReport = Date.now();
    }
    const done = UNSENT.has(entry.status) ? false : !options.untilFinal || isFinalStatus(entry.status);
    if (done) return { entry, timedOut: false, needsAction: false };
    if (waitsForAPerson(entry)) return { entry, timedOut: false, needsAction: true };
    // A send in flight is let finish (it is bounded by the provider's timeout), so the caller
    // sees its outcome and can still withdraw a retry it would schedule.
    const inFlight = entry.status === 'sending' && elapsed < options.timeoutMs + SEND_GRACE_MS;
    if (elapsed >= options.timeoutMs && !inFlight) return { entry, timedOut: true, needsAction: false };
    await sleep(inFlight ? pollMs : Math.min(pollMs, Math.max(1, options.timeoutMs - elapsed)));
  }
}

/**
 * Withdraws a message the worker has not sent yet, so a test that was already reported as failed
 * is not sent hours later. Returns false when the worker got to it first.
 */
export async function withdrawUnsentSms(ctx: Pick<AppContext, 'db' | 'clock'>, messageId: string, reason: string): Promise<boolean> {
  const withdrawn = await ctx.db
    .update(smsMessages)
    .set({ status: 'canceled', errorMessage: sql`coalesce(${smsMessages.errorMessage}, ${reason})`, updatedAt: ctx.clock.now() })
    .where(and(eq(smsMessages.id, messageId), inArray(smsMessages.status, ['pending', 'retrying'])))
    .returning({ id: smsMessages.id });
  if (withdrawn.length > 0) await followSmsOutcome(ctx.db, messageId, { status: 'canceled', reason }, ctx.clock.now());
  return withdrawn.length > 0;
}
