// Sends a batch of logged SMS set-based: one statement claims them all, the sends go out
// concurrently, one transaction records every acceptance (one UPDATE, one attempts INSERT, one
// insert of their status checks). Per message, as in deliverSms: a send a crashed worker left
// unrecorded is looked for at the provider first, a code that could only arrive late is not sent,
// a failure is recorded (and retried or settled) on its own, so one failing send never holds back
// the others. A worker killed mid-batch leaves its claimed messages 'sending' without a SID: the
// next claim after STALE_CLAIM_MS looks for each at the provider before sending it again. While
// the account's circuit is open the whole batch waits, unclaimed (delivery.ts).
import { and, eq, inArray, isNull, lt, sql } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import { persistThroughOutage } from '../db/availability.ts';
import { insertRows } from '../db/bulk.ts';
import type { Queryable } from '../db/connection.ts';
import { smsDeliveryAttempts, smsMessages } from '../db/schema.ts';
import type { SmsLane } from '../jobs/registry.ts';
import { CODE_MASK, mintOtpCode } from '../otp/challenges.ts';
import {
  deliverSms, expireLateCode, firstStatusCheckIn, followOpenClaims, fromSent, hasSid, parkWhileCircuitOpen, recordAccepted, recordFailure,
  STALE_CLAIM_MS, statusCallbackUrl, type SmsRow,
} from './delivery.ts';
import { findLostSend, unansweredBefore } from './lost-sends.ts';
import type { SentMessage } from './provider.ts';
import { setStatusSource } from './status-source.ts';
import { dataKeyFor } from '../auth/data-key.ts';

/**
 * Runs the send jobs of `messageIds` (one lane); returns the error of each message whose job
 * should be retried by the queue (a bug or a database failure), by message id.
 */
export async function deliverSmsBatch(ctx: AppContext, lane: SmsLane, messageIds: readonly string[]): Promise<Map<string, unknown>> {
  const errors = new Map<string, unknown>();
  const { messagingServiceSid, phoneNumbers, senderMps } = ctx.config.twilio;
  const paused = ctx.twilioCircuit.waitMs();
  if (paused > 0) {
    await parkWhileCircuitOpen(ctx, lane, messageIds, paused);
    return errors;
  }
  // A throttled sender books a slot per message (and several numbers pick one per customer):
  // rate-bound, so the per-message path costs nothing that matters.
  if (messageIds.length < 2 || senderMps > 0 || (!messagingServiceSid && phoneNumbers.length > 1)) {
    await Promise.all(messageIds.map(async (id) => {
      try {
        await deliverSms(ctx, lane, id);
      } catch (error) {
        errors.set(id, error);
      }
    }));
    return errors;
  }
  const from = messagingServiceSid ? undefined : phoneNumbers[0];
  const now = ctx.clock.now();
  const claimed = await claimBatch(ctx.db, messageIds, now);
  const taken = new Set([...claimed.fresh, ...claimed.lost].map((row) => row.id));
  await followOpenClaims(ctx, lane, messageIds.filter((id) => !taken.has(id)), now);
  // Those a dead worker left, and those whose last request went unanswered: maybe at Twilio already.
  const unanswered = await unansweredBefore(ctx.db, claimed.fresh);
  const fresh = claimed.fresh.filter((row) => !unanswered.has(row.id));
  const lost = [...claimed.lost, ...claimed.fresh.filter((row) => unanswered.has(row.id))];
  const toSend: SmsRow[] = [];
  for (const row of lost) {
    let found;
    try {
      found = await findLostSend(ctx, row);
    } catch (error) {
      try {
        await recordFailure(ctx, lane, row, now, error, { unanswered: true });
      } catch (recordError) {
        errors.set(row.id, recordError);
      }
      continue;
    }
    if (found) {
      await recordAccepted(ctx, row, found, now, { errorKind: 'recovered', errorMessage: 'accepted by Twilio before the worker that sent it was lost' });
      ctx.logger.warn({ messageId: row.id, sid: found.sid }, 'sms sent by a lost worker found at the provider; not sent again');
    } else {
      toSend.push(row);
    }
  }
  for (const row of fresh) toSend.push(row);

  const accepted: { row: SmsRow; sent: SentMessage }[] = [];
  await Promise.all(toSend.map(async (row) => {
    try {
      if (row.sendBefore && now >= row.sendBefore) {
        await expireLateCode(ctx, row, now);
        return;
      }
      const body = row.otpChallengeId ? row.bodyRedacted.replace(CODE_MASK, await mintOtpCode(ctx.db, dataKeyFor(ctx.config), row.otpChallengeId)) : row.bodyRedacted;
      const stopTimer = ctx.metrics.smsSendDuration.startTimer();
      let sent: SentMessage;
      try {
        sent = await ctx.provider.send({
          to: row.toNumber, from, messagingServiceSid, body, statusCallback: statusCallbackUrl(ctx.config),
          validityPeriodSeconds: row.sendBefore ? Math.max(1, Math.ceil((row.sendBefore.getTime() - now.getTime()) / 1000)) : undefined,
        });
      } catch (error) {
        stopTimer({ outcome: 'error' });
        await recordFailure(ctx, lane, row, now, error);
        return;
      }
      stopTimer({ outcome: 'accepted' });
      accepted.push({ row, sent });
    } catch (error) {
      errors.set(row.id, error);
    }
  }));
  if (accepted.length) {
    try {
      // Twilio has them: the records must land, through a database outage too (never sent twice).
      await persistThroughOutage(ctx.logger, `${accepted.length} sent messages' records`, () => recordAcceptedBatch(ctx, accepted, now), {
        done: async () => (await Promise.all(accepted.map(({ row }) => hasSid(ctx.db, row.id)))).every(Boolean),
      });
    } catch (error) {
      // Sent but not recorded: left 'sending', so the retried jobs find them at the provider.
      for (const { row } of accepted) errors.set(row.id, error);
    }
  }
  return errors;
}

/**
 * Claims the batch's sendable messages in one statement; those already claimed are claimed again
 * only when their claim is stale (a worker died sending them: `lost`, see lost-sends.ts).
 */
async function claimBatch(db: Queryable, ids: readonly string[], now: Date): Promise<{ fresh: SmsRow[]; lost: SmsRow[] }> {
  const claim = (ofIds: readonly string[], status: ReturnType<typeof and>) => db
    .update(smsMessages)
    .set({ status: 'sending', attempts: sql`${smsMessages.attempts} + 1`, updatedAt: now })
    .where(and(inArray(smsMessages.id, [...ofIds]), isNull(smsMessages.twilioSid), status))
    .returning();
  const fresh = await claim(ids, inArray(smsMessages.status, ['pending', 'retrying']));
  const claimed = new Set(fresh.map((r) => r.id));
  const rest = ids.filter((id) => !claimed.has(id));
  if (!rest.length) return { fresh, lost: [] };
  // Most are replays of messages already sent; the stale claim costs one statement for the rest.
  const lost = await claim(rest, and(eq(smsMessages.status, 'sending'), lt(smsMessages.updatedAt, new Date(now.getTime() - STALE_CLAIM_MS))));
  return { fresh, lost };
}

/** Records a batch of acceptances in one transaction: one UPDATE (which also sets each one's first status check) and one INSERT of attempts. */
async function recordAcceptedBatch(ctx: AppContext, accepted: readonly { row: SmsRow; sent: SentMessage }[], startedAt: Date): Promise<void> {
  const finishedAt = ctx.clock.now();
  const updates = accepted.map(({ row, sent }) => {
    const v = fromSent(sent);
    return {
      id: row.id, twilio_sid: v.twilioSid, status: v.status, from_number: v.fromNumber ?? null, segments: v.segments, price: v.price ?? null,
      price_unit: v.priceUnit ?? null, error_code: v.errorCode ?? null, error_message: v.errorMessage ?? null,
      sent_at: (sent.dateCreated ?? startedAt).toISOString(),
      // The fallback for callbacks that never come: the status sweep's first look, in seconds.
      status_check_in: firstStatusCheckIn(ctx.config, sent.status),
    };
  });
  await ctx.db.transaction(async (tx) => {
    await setStatusSource(tx, 'send_answer');
    await tx.execute(sql`
      update sms_messages m set twilio_sid = x.twilio_sid, status = x.status, from_number = x.from_number, segments = x.segments,
        price = x.price, price_unit = x.price_unit, error_code = x.error_code, error_message = x.error_message,
        sent_at = x.sent_at, updated_at = ${finishedAt.toISOString()}::timestamptz, status_check_at = now() + x.status_check_in * interval '1 second', status_checks = 0
      from json_to_recordset(${JSON.stringify(updates)}::json) as x (
        id uuid, twilio_sid text, status text, from_number text, segments int, price numeric, price_unit text,
        error_code int, error_message text, sent_at timestamptz, status_check_in int)
      where m.id = x.id`);
    await insertRows(tx, smsDeliveryAttempts, accepted.map(({ row }) => ({
      smsMessageId: row.id, attempt: row.attempts, startedAt, finishedAt, outcome: 'accepted', twilioCode: null, errorKind: null, errorMessage: null,
    })));
  });
  for (const { row, sent } of accepted) {
    ctx.metrics.smsSent.inc({ type: row.type, status: sent.status });
    ctx.metrics.smsEstimatedCost.inc({ type: row.type }, Number(row.priceEstimate));
  }
  ctx.logger.info({ count: accepted.length }, 'sms batch accepted by provider');
}
