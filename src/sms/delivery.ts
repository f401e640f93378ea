// Sends one logged SMS through the provider and records the outcome. Safe to run twice for the
// same message (a replayed job finds it claimed or sent and does nothing); retryable failures are
// rescheduled with backoff and jitter, honouring Twilio's Retry-After; a code that could only
// arrive after it expires is never sent, and a send a crashed worker left unrecorded is looked for
// at the provider before it is sent again. Every provider call is recorded in sms_delivery_attempts,
// in the transaction that records its outcome; a failure that says the number cannot take SMS (or
// its owner refuses it) marks the number in phone_status.
import { and, eq, inArray, isNull, lt, sql, type SQL } from 'drizzle-orm';
import type { Config } from '../config.ts';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { persistThroughOutage } from '../db/availability.ts';
import { smsDeliveryAttempts, smsMessages } from '../db/schema.ts';
import type { SmsLane } from '../jobs/registry.ts';
import { followSmsOutcome } from '../notifications/records.ts';
import { CODE_MASK, mintOtpCode } from '../otp/challenges.ts';
import { findLostSend, NO_ANSWER, unansweredBefore } from './lost-sends.ts';
import { CircuitOpenError } from './provider-breaker.ts';
import { clearPhoneStatus, markPhoneFromFailure } from './phone-status.ts';
import { SmsProviderError, type SentMessage } from './provider.ts';
import { SenderBusyError, senderPreference, slotMissed, type SenderSlot } from './sender-throttle.ts';
import { setStatusSource, type StatusSource } from './status-source.ts';
import { describeTwilioError } from './twilio-errors.ts';
import { dataKeyFor } from '../auth/data-key.ts';

/** Sends tried per message before it is marked failed. */
export const MAX_SEND_ATTEMPTS = 5;
/** A message left 'sending' this long by a crashed worker may be claimed again. */
export const STALE_CLAIM_MS = 30_000;
/** Where status callbacks arrive (src/http/twilio-webhooks.ts), under PUBLIC_BASE_URL. */
export const STATUS_CALLBACK_PATH = '/webhooks/twilio/status';
/** With callbacks on, the first status check waits this long for a callback to settle the message. */
export const CALLBACK_GRACE_SECONDS = 30;

/** Final statuses Twilio charges for (it does not bill failed messages). */
export const BILLED: ReadonlySet<string> = new Set(['delivered', 'undelivered']);
const FINAL: ReadonlySet<string> = new Set(['delivered', 'undelivered', 'failed', 'canceled', 'expired']);
const RANK: Record<string, number> = {
  pending: 0, retrying: 0, sending: 1, accepted: 2, scheduled: 2, queued: 3, sent: 4,
  delivered: 5, undelivered: 5, failed: 5, canceled: 5, expired: 5,
};

export function isFinalStatus(status: string): boolean {
  return FINAL.has(status);
}

export type SmsRow = typeof smsMessages.$inferSelect;
export type Attempt = Omit<typeof smsDeliveryAttempts.$inferInsert, 'smsMessageId' | 'attempt' | 'startedAt' | 'finishedAt'>;

function recordAttempt(db: Queryable, row: SmsRow, startedAt: Date, finishedAt: Date, attempt: Attempt) {
  return db.insert(smsDeliveryAttempts).values({ smsMessageId: row.id, attempt: row.attempts, startedAt, finishedAt, ...attempt });
}

/**
 * First retry delay of a code (the critical lane): a customer is waiting on it and it expires in
 * minutes, so it retries 4x sooner than an alert; Retry-After still holds, and while Twilio
 * storms the circuit breaker, not the backoff, keeps the requests away.
 */
export const CODE_RETRY_BASE_MS = 250;

/** Delay before retry `attempt` (1-based): exponential from `baseMs` with full jitter, at least Retry-After. */
export function retryDelayMs(attempt: number, retryAfterMs: number | null, random: () => number = Math.random, baseMs = 1_000): number {
  const ceiling = Math.min(60_000, baseMs * 2 ** attempt);
  return Math.max(retryAfterMs ?? 0, Math.round(ceiling / 2 + (random() * ceiling) / 2));
}

/**
 * Claims a message for one send. `lost` is set when the claim takes over from a worker that died
 * while sending it: its request may have reached Twilio (see lost-sends.ts).
 */
async function claim(db: Queryable, messageId: string, now: Date): Promise<{ row: SmsRow; lost: boolean } | undefined> {
  const claimWhere = (status: SQL | undefined) => db
    .update(smsMessages)
    .set({ status: 'sending', attempts: sql`${smsMessages.attempts} + 1`, updatedAt: now })
    .where(and(eq(smsMessages.id, messageId), isNull(smsMessages.twilioSid), status))
    .returning();
  const [row] = await claimWhere(inArray(smsMessages.status, ['pending', 'retrying']));
  if (row) return { row, lost: false };
  const [stale] = await claimWhere(and(eq(smsMessages.status, 'sending'), lt(smsMessages.updatedAt, new Date(now.getTime() - STALE_CLAIM_MS))));
  return stale && { row: stale, lost: true };
}

/** Twilio's "Insufficient Funds": a retryable failure that a closing circuit says nothing about. */
const INSUFFICIENT_FUNDS = 20005;
/** Codes looked at when the circuit closes: none lives longer (OTP_POLICY.ttlMs is minutes). */
const CODE_LOOK_BACK_MS = 60 * 60_000;

/**
 * After a storm (the account's circuit closed again): the codes waiting out a retry backoff, and
 * those parked unsent while the circuit was open (still 'pending', their job due when the open
 * period or the probe's wait was to end), go now, on the critical lane, instead of at that time,
 * when the backlog the storm held back is already going. Twilio's Retry-After is past: the
 * circuit stayed open for it. Returns how many were resumed; their old jobs find them sent and stop.
 */
export async function resumeWaitingCodes(ctx: Pick<AppContext, 'db' | 'jobs' | 'clock'>): Promise<number> {
  const now = ctx.clock.now();
  const waiting = await ctx.db.select({ id: smsMessages.id }).from(smsMessages).where(and(
    sql`${smsMessages.createdAt} > ${new Date(now.getTime() - CODE_LOOK_BACK_MS).toISOString()}::timestamptz`,
    inArray(smsMessages.status, ['pending', 'retrying']), isNull(smsMessages.twilioSid),
    sql`${smsMessages.sendBefore} > ${now.toISOString()}::timestamptz`,
    // An empty balance (20005) is no storm: the account still has none, so those keep their backoff.
    sql`${smsMessages.errorCode} is distinct from ${INSUFFICIENT_FUNDS}`,
  ));
  await ctx.jobs.sendMany(undefined, 'sms.critical', waiting.map(({ id }) => ({ messageId: id })));
  return waiting.length;
}

/**
 * Of messages a claim could not take, those still 'sending' without a SID get a job for when their
 * claim turns stale. Usually a live worker is sending them and the job finds them sent; but a claim
 * whose answer the database lost in an outage (it committed, the worker saw an error and ran the
 * job again) or a duplicate job replayed before the claim was stale would otherwise leave nothing
 * to send the message: its job completed, and no sweep looks at 'sending'.
 */
export async function followOpenClaims(ctx: Pick<AppContext, 'db' | 'jobs'>, lane: SmsLane, messageIds: readonly string[], now: Date): Promise<number> {
  if (!messageIds.length) return 0;
  const open = await ctx.db.select({ id: smsMessages.id, updatedAt: smsMessages.updatedAt }).from(smsMessages)
    .where(and(inArray(smsMessages.id, [...messageIds]), eq(smsMessages.status, 'sending'), isNull(smsMessages.twilioSid)));
  const byDelay = new Map<number, string[]>();
  for (const row of open) {
    // Seconds until the claim is stale by the app's clock, run by the database's (as every retry).
    const seconds = Math.max(1, Math.ceil((row.updatedAt.getTime() + STALE_CLAIM_MS - now.getTime()) / 1000) + 1);
    byDelay.set(seconds, [...(byDelay.get(seconds) ?? []), row.id]);
  }
  for (const [startAfter, ids] of byDelay) await ctx.jobs.sendMany(undefined, lane, ids.map((messageId) => ({ messageId })), { startAfter });
  return open.length;
}

/** Runs the send job of one message. */
export async function deliverSms(ctx: AppContext, lane: SmsLane, messageId: string): Promise<void> {
  // Twilio is storming: the message waits, untouched, until the circuit lets a request through.
  const paused = ctx.twilioCircuit.waitMs();
  if (paused > 0) {
    await parkWhileCircuitOpen(ctx, lane, [messageId], paused);
    return;
  }
  // Wait for a send slot of the sender first, holding no claim while waiting: a worker that dies
  // here leaves the message untouched for the next one.
  let booked: { from: string | undefined; slot: SenderSlot };
  try {
    booked = await bookSender(ctx, lane, async () => {
      const [message] = await ctx.db.select({ to: smsMessages.toNumber }).from(smsMessages).where(eq(smsMessages.id, messageId));
      return message?.to ?? '';
    });
  } catch (error) {
    if (!(error instanceof SenderBusyError)) throw error;
    await ctx.jobs.send(undefined, lane, { messageId }, { startAfter: 1 });
    return;
  }
  const now = ctx.clock.now();
  const claimed = await claim(ctx.db, messageId, now);
  if (!claimed) {
    // Already sent or settled; or claimed and not sent yet: looked at again once that claim is stale.
    await followOpenClaims(ctx, lane, [messageId], now);
    return;
  }
  const { row } = claimed;
  const log = ctx.logger.child({ messageId, type: row.type });
  if (claimed.lost || (await unansweredBefore(ctx.db, [row])).has(row.id)) {
    let found;
    try {
      found = await findLostSend(ctx, row);
    } catch (error) {
      await recordFailure(ctx, lane, row, now, error, { unanswered: true });
      return;
    }
    if (found) {
      await recordAccepted(ctx, row, found, now, { errorKind: 'recovered', errorMessage: 'accepted by Twilio before the worker that sent it was lost' });
      log.warn({ sid: found.sid }, 'sms sent by a lost worker found at the provider; not sent again');
      return;
    }
  }

  if (row.sendBefore && now >= row.sendBefore) {
    await expireLateCode(ctx, row, now);
    return;
  }

  const body = row.otpChallengeId
    ? row.bodyRedacted.replace(CODE_MASK, await mintOtpCode(ctx.db, dataKeyFor(ctx.config), row.otpChallengeId))
    : row.bodyRedacted;
  const slot = await keepSlot(ctx, lane, row, booked);
  if (slot === 'busy') return;
  const { from } = slot;
  const stopTimer = ctx.metrics.smsSendDuration.startTimer();
  let sent: SentMessage;
  try {
    sent = await ctx.provider.send({
      to: row.toNumber,
      from,
      messagingServiceSid: ctx.config.twilio.messagingServiceSid,
      body,
      statusCallback: statusCallbackUrl(ctx.config),
      validityPeriodSeconds: row.sendBefore ? Math.max(1, Math.ceil((row.sendBefore.getTime() - now.getTime()) / 1000)) : undefined,
    });
  } catch (error) {
    stopTimer({ outcome: 'error' });
    await recordFailure(ctx, lane, row, now, error);
    return;
  }
  stopTimer({ outcome: 'accepted' });
  // Twilio has it: the record must land, through a database outage too (never sent twice).
  await persistThroughOutage(ctx.logger, 'a sent message\'s record', () => recordAccepted(ctx, row, sent, now, {}), { done: () => hasSid(ctx.db, row.id) });
  log.info({ sid: sent.sid, status: sent.status, segments: sent.segments }, 'sms accepted by provider');
}

/** Whether the message's acceptance is recorded (a write whose answer was lost may have committed). */
export async function hasSid(db: Queryable, id: string): Promise<boolean> {
  const [row] = await db.select({ sid: smsMessages.twilioSid }).from(smsMessages).where(eq(smsMessages.id, id));
  return Boolean(row?.sid);
}

/** Where Twilio posts this server's status callbacks; undefined when PUBLIC_BASE_URL is unset. */
export function statusCallbackUrl(config: Pick<Config, 'publicBaseUrl'>): string | undefined {
  return config.publicBaseUrl === undefined ? undefined : `${config.publicBaseUrl}${STATUS_CALLBACK_PATH}`;
}

/**
 * Books a send slot: the number to send from (undefined for a Messaging Service, one pool that
 * Twilio spreads) and the slot. With several numbers the customer's own number is preferred.
 */
async function bookSender(ctx: AppContext, lane: SmsLane, toNumber: () => Promise<string>): Promise<{ from: string | undefined; slot: SenderSlot }> {
  const { messagingServiceSid, phoneNumbers } = ctx.config.twilio;
  const urgent = lane === 'sms.critical';
  if (messagingServiceSid) return { from: undefined, slot: await ctx.senderThrottle.acquire(messagingServiceSid, urgent) };
  if (phoneNumbers.length < 2) return { from: phoneNumbers[0], slot: await ctx.senderThrottle.acquire(phoneNumbers[0] ?? 'default', urgent) };
  const slot = await ctx.senderThrottle.acquireAny(senderPreference(phoneNumbers, await toNumber()), urgent);
  return { from: slot.sender, slot };
}

/**
 * A send that missed its slot (the process stalled, or the claim and the code took longer than
 * one slot) books the next one rather than landing in another sender's slot: the rate holds at
 * the provider, not only in the database. The claim is held meanwhile; when no slot comes within
 * the throttle's patience the claim is given back and the job runs again shortly.
 */
async function keepSlot(ctx: AppContext, lane: SmsLane, row: SmsRow, booked: { from: string | undefined; slot: SenderSlot }): Promise<{ from: string | undefined } | 'busy'> {
  let current = booked;
  for (let tries = 0; slotMissed(current.slot); tries++) {
    ctx.metrics.smsSlotsMissed.inc();
    try {
      current = await bookSender(ctx, lane, async () => row.toNumber);
    } catch (error) {
      if (!(error instanceof SenderBusyError) || tries > 0) throw error;
      await ctx.db.transaction(async (tx) => {
        await settle(tx, row.id, { status: 'retrying', attempts: row.attempts - 1, updatedAt: ctx.clock.now() });
        await ctx.jobs.send(tx, lane, { messageId: row.id }, { startAfter: 1 });
      });
      return 'busy';
    }
  }
  return { from: current.from };
}

/**
 * When the status sweep (src/sms/status-sweep.ts) first asks Twilio about a message accepted just
 * now: seconds from now, the fallback for a callback that never comes, so with callbacks it waits
 * longer; null when the answer was final already.
 */
export function firstStatusCheckIn(config: AppContext['config'], status: string): number | null {
  if (isFinalStatus(status)) return null;
  return statusCallbackUrl(config) ? CALLBACK_GRACE_SECONDS : 2;
}

/** `seconds` from the database's now, as a timestamp for a column (null stays null). */
export function fromDatabaseNow(seconds: number | null): SQL | null {
  return seconds === null ? null : sql`now() + ${seconds} * interval '1 second'`;
}

export async function recordAccepted(ctx: AppContext, row: SmsRow, sent: SentMessage, startedAt: Date, note: Omit<Attempt, 'outcome'>): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    await setStatusSource(tx, note.errorKind === 'recovered' ? 'lost_send_recovery' : 'send_answer');
    const now = ctx.clock.now();
    await tx.update(smsMessages).set({
      ...fromSent(sent), sentAt: sent.dateCreated ?? startedAt, updatedAt: now, statusCheckAt: fromDatabaseNow(firstStatusCheckIn(ctx.config, sent.status)), statusChecks: 0,
    }).where(eq(smsMessages.id, row.id));
    await recordAttempt(tx, row, startedAt, now, { outcome: 'accepted', ...note });
  });
  ctx.metrics.smsSent.inc({ type: row.type, status: sent.status });
  ctx.metrics.smsEstimatedCost.inc({ type: row.type }, Number(row.priceEstimate));
}

/**
 * How long after the circuit lets requests through again a lane's sends are due: codes first
 * (the probe is most likely one), the rest spread over one more open period so the backlog does
 * not land on a recovering Twilio all at once.
 */
function resumeSpreadMs(ctx: AppContext, lane: SmsLane): number {
  const share = lane === 'sms.critical' ? 0 : lane === 'sms.standard' ? 0.5 : 1;
  return Math.round(Math.random() * share * ctx.twilioCircuit.openMs);
}

/**
 * Parks sends while the account's circuit is open (`waitMs` left): each job is rescheduled to
 * after the open period, no attempt counted; a code that could only go after it expires ends
 * 'expired' now. The messages are not claimed, so nothing is lost if this worker dies here.
 */
export async function parkWhileCircuitOpen(ctx: AppContext, lane: SmsLane, messageIds: readonly string[], waitMs: number): Promise<void> {
  const now = ctx.clock.now();
  const rows = await ctx.db.select({ id: smsMessages.id, sendBefore: smsMessages.sendBefore }).from(smsMessages).where(inArray(smsMessages.id, [...messageIds]));
  const late = new Set(rows.filter((r) => r.sendBefore && r.sendBefore.getTime() <= now.getTime() + waitMs).map((r) => r.id));
  for (const id of late) {
    const claimed = await claim(ctx.db, id, now);
    if (claimed) await expireLateCode(ctx, claimed.row, now);
  }
  const parked = messageIds.filter((id) => !late.has(id));
  for (const messageId of parked) {
    // Relative to the database's clock, as every retry: the app clock may be held or moved (tests).
    await ctx.jobs.send(undefined, lane, { messageId }, { startAfter: (waitMs + resumeSpreadMs(ctx, lane)) / 1000 });
  }
  ctx.twilioCircuit.shortCircuited('send', parked.length);
}

/**
 * Records a failed send and retries or settles it. `unanswered`: the failure was of the look for an
 * earlier unanswered request, whose fate is still unknown, so the next attempt looks again.
 */
export async function recordFailure(ctx: AppContext, lane: SmsLane, row: SmsRow, startedAt: Date, error: unknown, options: { unanswered?: boolean } = {}): Promise<void> {
  const log = ctx.logger.child({ messageId: row.id, type: row.type });
  if (error instanceof CircuitOpenError) {
    // Claimed, then the circuit opened before its request went: no attempt, it waits like the rest.
    const waitMs = error.retryAfterMs ?? ctx.twilioCircuit.openMs;
    if (row.sendBefore && row.sendBefore.getTime() <= ctx.clock.now().getTime() + waitMs) {
      await expireLateCode(ctx, row, ctx.clock.now());
      return;
    }
    await ctx.db.transaction(async (tx) => {
      await tx.update(smsMessages).set({ status: 'retrying', attempts: sql`${smsMessages.attempts} - 1`, updatedAt: ctx.clock.now() })
        .where(and(eq(smsMessages.id, row.id), eq(smsMessages.status, 'sending'), isNull(smsMessages.twilioSid)));
      await ctx.jobs.send(tx, lane, { messageId: row.id }, { startAfter: (waitMs + resumeSpreadMs(ctx, lane)) / 1000 });
    });
    return;
  }
  if (!(error instanceof SmsProviderError)) {
    // A bug or a database failure: put the message back and let the job queue retry it.
    await ctx.db.transaction(async (tx) => {
      await settle(tx, row.id, { status: 'retrying', updatedAt: ctx.clock.now() });
      await recordAttempt(tx, row, startedAt, ctx.clock.now(), { outcome: 'retry', errorKind: 'internal', errorMessage: (error as Error).message });
    }).catch((recordError: unknown) => log.error({ err: recordError }, 'could not record the failed attempt'));
    throw error;
  }
  const now = ctx.clock.now();
  const attempt = { twilioCode: error.twilioCode, errorKind: error.mayHaveArrived || options.unanswered ? NO_ANSWER : error.kind, errorMessage: error.userMessage };
  const delay = retryDelayMs(row.attempts, error.retryAfterMs, Math.random, lane === 'sms.critical' ? CODE_RETRY_BASE_MS : 1_000);
  const retryAt = new Date(now.getTime() + delay);
  const canRetry = error.retryable && row.attempts < MAX_SEND_ATTEMPTS && (!row.sendBefore || retryAt < row.sendBefore);
  const failure = { errorCode: error.twilioCode, errorMessage: error.userMessage, updatedAt: now };
  if (!canRetry && error.retryable && row.attempts < MAX_SEND_ATTEMPTS && row.sendBefore) {
    // Only its expiry stops the retry: the code ends 'expired', as one that waited too long to start.
    await recordAttempt(ctx.db, row, startedAt, now, { outcome: 'failed', ...attempt });
    await expireLateCode(ctx, row, now);
    return;
  }
  if (canRetry) {
    await ctx.db.transaction(async (tx) => {
      await setStatusSource(tx, 'send_answer');
      await tx.update(smsMessages).set({ status: 'retrying', ...failure }).where(eq(smsMessages.id, row.id));
      await recordAttempt(tx, row, startedAt, now, { outcome: 'retry', ...attempt });
      // Relative to the database's clock: honours Retry-After however the app clock is held or moved.
      await ctx.jobs.send(tx, lane, { messageId: row.id }, { startAfter: delay / 1000 });
    });
    log.warn({ kind: error.kind, twilioCode: error.twilioCode, ...twilioErrorField(error.twilioCode), retryInMs: delay, attempt: row.attempts }, 'sms send failed; retrying');
    return;
  }
  const marked = await ctx.db.transaction(async (tx) => {
    await setStatusSource(tx, 'send_answer');
    await settle(tx, row.id, { status: 'failed', ...failure });
    await recordAttempt(tx, row, startedAt, now, { outcome: 'failed', ...attempt });
    await followSmsOutcome(tx, row.id, { status: 'failed', reason: error.twilioCode === null ? error.userMessage : describeTwilioError(error.twilioCode) }, now);
    return markPhoneFromFailure(ctx, tx, row.toNumber, error.twilioCode, now);
  });
  ctx.metrics.smsSent.inc({ type: row.type, status: 'failed' });
  log.error({ kind: error.kind, twilioCode: error.twilioCode, ...twilioErrorField(error.twilioCode), attempt: row.attempts, phoneMarked: marked }, 'sms send failed');
}

/** The log field naming a Twilio code by the error table, e.g. twilioError: "21211 Invalid 'To' Phone Number (Invalid Phone Number)". */
export function twilioErrorField(code: number | null): { twilioError?: string } {
  return code === null ? {} : { twilioError: describeTwilioError(code) };
}

/** A code that could only arrive after it expires is never sent: the message and its notification end 'expired'. */
export async function expireLateCode(ctx: AppContext, row: Pick<SmsRow, 'id' | 'type'>, now: Date): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    await settle(tx, row.id, { status: 'expired', errorMessage: 'Not sent: it could only arrive after the code expired.', updatedAt: now });
    await followSmsOutcome(tx, row.id, { status: 'expired', reason: 'it could only arrive after the code expired' }, now);
  });
  ctx.logger.warn({ messageId: row.id, type: row.type }, 'code message expired before it could be sent');
  ctx.metrics.smsSent.inc({ type: row.type, status: 'expired' });
}

export function settle(db: Queryable, id: string, values: Partial<typeof smsMessages.$inferInsert>) {
  return db.update(smsMessages).set(values).where(eq(smsMessages.id, id));
}

export function fromSent(sent: SentMessage): Partial<typeof smsMessages.$inferInsert> {
  return {
    twilioSid: sent.sid,
    status: sent.status,
    fromNumber: sent.from,
    segments: sent.segments,
    price: sent.price === null ? null : sent.price.toFixed(5),
    priceUnit: sent.priceUnit,
    errorCode: sent.errorCode,
    // The message log names a code by the error table, whichever way the status arrived.
    errorMessage: sent.errorCode === null ? sent.errorMessage : describeTwilioError(sent.errorCode),
  };
}

/** A status change as Twilio reports it: by a status check (all fields) or a callback (status and error). */
export type ProviderStatusUpdate = Pick<SentMessage, 'status' | 'errorCode'> & Partial<SentMessage>;

/**
 * Applies a status the provider reported, never moving a message backwards: one conditional
 * UPDATE, so a callback and a status check racing (or callbacks out of order) end in the
 * highest-ranked status whatever order they commit in. `tx` must be a transaction: the timeline
 * records `source` from it. Returns whether the row changed.
 */
export async function applyProviderStatus(tx: Queryable, messageId: string, sent: ProviderStatusUpdate, now: Date, source: StatusSource): Promise<boolean> {
  const ranksBelow = Object.entries(RANK).filter(([, r]) => r < (RANK[sent.status] ?? 0)).map(([s]) => s);
  if (!ranksBelow.length) return false;
  await setStatusSource(tx, source);
  const values: Partial<typeof smsMessages.$inferInsert> = 'sid' in sent && sent.sid !== undefined
    ? fromSent(sent as SentMessage)
    : { status: sent.status, errorCode: sent.errorCode, ...(sent.errorCode !== null && { errorMessage: describeTwilioError(sent.errorCode) }) };
  const changed = await tx
    .update(smsMessages)
    .set({
      ...values,
      deliveredAt: sent.status === 'delivered' ? (sent.dateUpdated ?? now) : undefined,
      updatedAt: now,
    })
    .where(and(eq(smsMessages.id, messageId), inArray(smsMessages.status, ranksBelow)))
    .returning({ id: smsMessages.id });
  return changed.length > 0;
}

/**
 * Records a reported status and what it says about the number (a delivery lifts a failure mark,
 * a lasting failure sets one). Only the report that moved the message does this, so a status
 * reported by both a callback and a check is counted once.
 */
export async function recordProviderStatus(
  ctx: Pick<AppContext, 'metrics' | 'config' | 'jobs'>, tx: Queryable, row: Pick<SmsRow, 'id' | 'type' | 'toNumber'>, sent: ProviderStatusUpdate, now: Date,
  source: StatusSource,
): Promise<boolean> {
  const changed = await applyProviderStatus(tx, row.id, sent, now, source);
  if (!changed) return false;
  if (sent.status === 'delivered') await clearPhoneStatus(tx, row.toNumber);
  else if (isFinalStatus(sent.status)) await markPhoneFromFailure(ctx, tx, row.toNumber, sent.errorCode, now);
  if (isFinalStatus(sent.status)) {
    await followSmsOutcome(tx, row.id, { status: sent.status, reason: sent.errorCode === null ? null : describeTwilioError(sent.errorCode) }, now);
  }
  if (isFinalStatus(sent.status) && sent.status !== 'delivered') ctx.metrics.smsSent.inc({ type: row.type, status: sent.status });
  return true;
}

/**
 * Applies a status callback to the message Twilio names. 'unknown' when no message has that SID
 * (another app on the account, or a callback faster than our record of the send, which the status
 * check settles); otherwise whether the status moved the message.
 */
export async function recordStatusCallback(
  ctx: Pick<AppContext, 'db' | 'metrics' | 'clock' | 'config' | 'jobs'>, messageSid: string, update: ProviderStatusUpdate,
): Promise<'unknown' | { messageId: string; changed: boolean }> {
  const [row] = await ctx.db.select({ id: smsMessages.id, type: smsMessages.type, toNumber: smsMessages.toNumber })
    .from(smsMessages).where(eq(smsMessages.twilioSid, messageSid));
  if (!row) return 'unknown';
  const changed = await ctx.db.transaction((tx) => recordProviderStatus(ctx, tx, row, update, ctx.clock.now(), 'callback'));
  return { messageId: row.id, changed };
}
