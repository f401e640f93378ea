// Sends one email notification, run by the worker for its job. A claim (status 'sending') keeps
// two runs of the job from sending it twice; a temporary refusal (SMTP 4xx, server unreachable)
// is retried with backoff, a permanent one (5xx) recorded as failed with the server's answer.
// SMTP has no idempotency key: a worker that dies after the server accepted the message and
// before recording it sends it again on the retry (at least once, never silently lost).
// A critical alert whose email cannot go (refused for good, or no address any more) goes by SMS
// instead, unless its event already has an SMS (which may itself have moved here).
import { and, eq, lt, or, sql } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { notifications } from '../db/schema.ts';
import { EmailDeliveryError } from '../email/mailer.ts';
import { retryDelayMs } from '../sms/delivery.ts';
import { findUserById } from '../users/users.ts';
import { notificationType } from './catalogue.ts';
import { composeMessage } from './compose.ts';
import { enqueueNotification, insertNotification, storedValues, updateNotification, type NotificationRow, type NotificationStatus } from './records.ts';

/** Sends tried per email before it is marked failed. */
export const MAX_EMAIL_ATTEMPTS = 5;
/** An email left 'sending' this long by a crashed worker may be claimed again (the job expires at 60 s). */
const STALE_CLAIM_MS = 30_000;

type EmailContext = Pick<AppContext, 'db' | 'jobs' | 'clock' | 'mailer' | 'logger'> & Partial<Pick<AppContext, 'metrics'>>;

async function claim(db: Queryable, id: string, now: Date): Promise<NotificationRow | undefined> {
  const [row] = await db
    .update(notifications)
    .set({ status: 'sending', attempts: sql`${notifications.attempts} + 1`, updatedAt: now })
    .where(and(
      eq(notifications.id, id),
      eq(notifications.channel, 'email'),
      or(
        eq(notifications.status, 'pending'),
        and(eq(notifications.status, 'held'), sql`coalesce(${notifications.holdUntil} <= ${now.toISOString()}::timestamptz, true)`),
        and(eq(notifications.status, 'sending'), lt(notifications.updatedAt, new Date(now.getTime() - STALE_CLAIM_MS))),
      ),
    ))
    .returning();
  return row;
}

/** Runs the job of one email notification; returns where it ended up (undefined: not ours to send now). */
export async function sendEmailNotification(ctx: EmailContext, id: string): Promise<NotificationStatus | undefined> {
  const now = ctx.clock.now();
  const row = await claim(ctx.db, id, now);
  if (!row) return undefined; // sent, decided, or being sent by another worker
  const log = ctx.logger.child({ notificationId: id, type: row.type });
  const count = (outcome: 'sent' | 'held' | 'skipped' | 'failed') => ctx.metrics?.notifications.inc({ type: row.type, channel: 'email', outcome });
  const finish = async (status: 'sent' | 'skipped' | 'failed', reason: string | null) => {
    await ctx.db.transaction(async (tx) => {
      await updateNotification(tx, id, { status, reason, holdUntil: null, updatedAt: ctx.clock.now() });
      if (status !== 'sent' && reason) await fallBackToSms(ctx, tx, row, reason);
    });
    count(status);
    return status;
  };
  let message: { to: string; subject: string; text: string };
  try {
    const user = await findUserById(ctx.db, row.userId);
    if (!user?.email) return await finish('skipped', 'no_email_address');
    const composed = await composeMessage(ctx.db, notificationType(row.type), 'email', user.id, storedValues(row));
    message = { to: user.email, subject: composed.subject ?? '', text: composed.body };
  } catch (error) {
    // A bug or a database failure: put it back and let the job queue retry it.
    await updateNotification(ctx.db, id, { status: 'pending', updatedAt: ctx.clock.now() }).catch(() => undefined);
    throw error;
  }
  try {
    await ctx.mailer.send(message);
    log.info({ attempt: row.attempts }, 'email notification sent');
    return await finish('sent', row.reason);
  } catch (error) {
    if (!(error instanceof EmailDeliveryError)) throw error;
    if (!error.retryable || row.attempts >= MAX_EMAIL_ATTEMPTS) {
      log.error({ err: error, attempt: row.attempts }, 'email notification failed');
      return await finish('failed', `email_failed: ${error.userMessage}`);
    }
    const retryAt = new Date(ctx.clock.now().getTime() + retryDelayMs(row.attempts, null));
    await ctx.db.transaction(async (tx) => {
      // A reason it already had (moved_to_email: ...) says more than the retry, which is logged.
      await updateNotification(tx, id, { status: 'held', holdUntil: retryAt, reason: row.reason ?? `email_retry: ${error.userMessage}`, updatedAt: ctx.clock.now() });
      await enqueueNotification(ctx, tx, row, notificationType(row.type), retryAt);
    });
    log.warn({ err: error, attempt: row.attempts, retryAt }, 'email notification refused for now; retrying');
    count('held');
    return 'held';
  }
}

/** A critical alert the email could not carry: an SMS for the same event, once. */
async function fallBackToSms(ctx: Pick<AppContext, 'jobs' | 'clock'>, tx: Queryable, row: NotificationRow, why: string): Promise<void> {
  const spec = notificationType(row.type);
  if (!spec.critical || !spec.channels.includes('sms')) return;
  const now = ctx.clock.now();
  const sms = await insertNotification(tx, {
    userId: row.userId, type: row.type, eventKey: row.eventKey, channel: 'sms', values: row.values,
    sendBefore: row.sendBefore, reason: `moved_to_sms: ${why.split(':')[0]}`, createdAt: now, updatedAt: now,
  });
  if (sms) await enqueueNotification(ctx, tx, sms, spec);
}
