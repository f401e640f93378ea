// The policy step of an SMS notification, run by the worker for its dispatch job: whether, when
// and how it goes. In order: a phone that can take SMS (else email, or recorded why not), the
// daily digest, quiet hours, then render, queue and count against the limits. Everything for one
// notification happens in one transaction around its locked row, so a replayed or concurrent job
// finds it decided and does nothing, and a crash part-way leaves it pending for the retry.
//
// A limit refuses inside that transaction (the counts are made last, so shared counter rows are
// locked only until commit); the refusal rolls everything back and a second transaction records
// the outcome: email when the type allows it and the customer has an address, otherwise held
// until the limit's window ends, or, past the daily spend cap, skipped unless critical.
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { notificationOutcome } from '../metrics.ts';
import { queueSms, type QueuedSms } from '../sms/outbox.ts';
import { usablePhoneNumber } from '../sms/phone-status.ts';
import { notificationType, type Money, type NotificationTypeSpec } from './catalogue.ts';
import { composeMessage } from './compose.ts';
import { holdForDigest } from './digest.ts';
import { consumeLimits, LimitReached, notificationSmsLimits } from './limits.ts';
import { localDate, nextSendTime } from './quiet-hours.ts';
import { loadRecipient, type Recipient } from './recipient.ts';
import {
  enqueueNotification, holdNotification, insertNotification, isDue, lockNotification, storedValues, updateNotification,
  type NotificationRow, type NotificationStatus,
} from './records.ts';

export interface DispatchOutcome {
  status: NotificationStatus | 'missing';
  reason: string | null;
  smsMessageId: string | null;
}

type DispatchContext = Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock' | 'logger' | 'metrics'>;

// Metrics are counted after the transaction commits, so a rolled-back decision (a limit's refusal)
// is not counted: outcomes that only report an earlier decision are remembered here, and the SMS a
// decision queued, for its segments and cost.
const undecided = new WeakSet<DispatchOutcome>();
const queuedSms = new WeakMap<DispatchOutcome, QueuedSms>();

/** Runs the policy step of one SMS notification; does nothing for one already decided. */
export async function dispatchNotification(ctx: DispatchContext, notificationId: string): Promise<DispatchOutcome> {
  const now = ctx.clock.now();
  let type: string | undefined;
  let result: DispatchOutcome;
  try {
    result = await ctx.db.transaction((tx) => decide(ctx, tx, notificationId, now, (t) => (type = t)));
  } catch (error) {
    if (!(error instanceof LimitReached)) throw error;
    result = await ctx.db.transaction((tx) => applyLimit(ctx, tx, notificationId, error, now, (t) => (type = t)));
  }
  countDecision(ctx, type, result);
  return result;
}

function countDecision(ctx: Pick<AppContext, 'metrics'>, type: string | undefined, result: DispatchOutcome): void {
  const decided = type === undefined || undecided.has(result) ? undefined : notificationOutcome(result.status, result.reason);
  if (!type || !decided) return;
  ctx.metrics.notifications.inc({ type, channel: 'sms', outcome: decided });
  const sms = queuedSms.get(result);
  if (sms) {
    ctx.metrics.smsQueuedSegments.inc({ type }, sms.segments);
    ctx.metrics.smsQueuedCost.inc({ type }, sms.estimatedPrice);
  }
}

function outcome(row: Pick<NotificationRow, 'status' | 'reason' | 'smsMessageId'>): DispatchOutcome {
  const unchanged: DispatchOutcome = { status: row.status as NotificationStatus, reason: row.reason, smsMessageId: row.smsMessageId };
  undecided.add(unchanged);
  return unchanged;
}

async function settle(ctx: DispatchContext, tx: Queryable, row: NotificationRow, status: NotificationStatus, reason: string | null): Promise<DispatchOutcome> {
  await updateNotification(tx, row.id, { status, reason, holdUntil: null, updatedAt: ctx.clock.now() });
  ctx.logger.info({ notificationId: row.id, type: row.type, status, reason }, 'notification decided');
  return { status, reason, smsMessageId: null };
}

async function decide(ctx: DispatchContext, tx: Queryable, id: string, now: Date, typeIs: (type: string) => void): Promise<DispatchOutcome> {
  const row = await lockNotification(tx, id);
  if (!row) return { status: 'missing', reason: null, smsMessageId: null };
  if (row.channel !== 'sms' || !isDue(row, now)) return outcome(row);
  typeIs(row.type);
  const spec = notificationType(row.type);
  if (row.sendBefore && now >= row.sendBefore) return settle(ctx, tx, row, spec.critical ? 'failed' : 'skipped', 'expired');
  const user = await loadRecipient(tx, row.userId);
  if (!user) return settle(ctx, tx, row, 'skipped', 'no_such_user');

  const phone = await usablePhoneNumber(tx, ctx.config, user.phoneNumber, { status: user.phoneStatus });
  if (typeof phone === 'string') return redirect(ctx, tx, row, spec, user, phone);

  const { settings } = user;
  const values = storedValues(row);
  if (spec.digestible && settings.digestTransactions) {
    const amount = values.amount as Money;
    const merchant = (values.merchant ?? values.payer) as string | undefined;
    await holdForDigest(tx, { userId: user.userId, type: spec.id, entry: { amount, ...(merchant !== undefined && { merchant }) }, digestDate: localDate(now, settings.timeZone), now });
    return settle(ctx, tx, row, 'digested', 'daily_digest');
  }
  const sendAt = nextSendTime(now, settings.timeZone, settings.quietHours, spec);
  if (sendAt > now) {
    await holdNotification(ctx, tx, row, spec, sendAt, 'quiet_hours');
    return { status: 'held', reason: 'quiet_hours', smsMessageId: null };
  }

  const { body } = await composeMessage(tx, spec, 'sms', user.userId, values, { language: user.language, timeZone: settings.timeZone });
  const queued = await queueSms(ctx, tx, {
    type: spec.id, lane: spec.lane, userId: user.userId, to: phone.e164, country: phone.country, body,
    sendBefore: row.sendBefore ?? undefined,
  });
  // A reason from an earlier hold (quiet_hours, a limit) stays: it says why the SMS went late.
  await updateNotification(tx, row.id, { status: 'queued', smsMessageId: queued.id, holdUntil: null, updatedAt: now });
  await consumeLimits(tx, notificationSmsLimits(ctx.config.limits, user.userId, queued.estimatedPrice), now);
  const result: DispatchOutcome = { status: 'queued', reason: row.reason, smsMessageId: queued.id };
  queuedSms.set(result, queued);
  return result;
}

function canEmail(spec: NotificationTypeSpec, user: Pick<Recipient, 'email'> | undefined): boolean {
  return spec.channels.includes('email') && Boolean(user?.email);
}

/**
 * The SMS cannot go: email instead when possible (once per event: an email already written for it
 * counts); otherwise recorded as skipped, or failed for a critical type, so it is never silent.
 */
async function redirect(
  ctx: DispatchContext, tx: Queryable, row: NotificationRow, spec: NotificationTypeSpec, user: Pick<Recipient, 'email'> | undefined, why: string,
): Promise<DispatchOutcome> {
  if (!canEmail(spec, user)) return settle(ctx, tx, row, spec.critical ? 'failed' : 'skipped', why);
  const reason = `moved_to_email: ${why}`;
  const now = ctx.clock.now();
  const email = await insertNotification(tx, {
    userId: row.userId, type: row.type, eventKey: row.eventKey, channel: 'email', values: row.values,
    sendBefore: row.sendBefore, reason, createdAt: now, updatedAt: now,
  });
  if (email) await enqueueNotification(ctx, tx, email, spec);
  return settle(ctx, tx, row, 'skipped', reason);
}

/** Records what a refusing limit means for the notification (see the file's opening comment). */
async function applyLimit(
  ctx: DispatchContext, tx: Queryable, id: string, limit: LimitReached, now: Date, typeIs: (type: string) => void,
): Promise<DispatchOutcome> {
  const row = await lockNotification(tx, id);
  if (!row || !isDue(row, now)) return row ? outcome(row) : { status: 'missing', reason: null, smsMessageId: null };
  typeIs(row.type);
  const spec = notificationType(row.type);
  const user = await loadRecipient(tx, row.userId);
  const name = limit.rule.name;
  ctx.logger.warn({ notificationId: id, type: row.type, limit: name, resetsAt: limit.resetsAt }, 'sms limit reached');
  if (canEmail(spec, user)) return redirect(ctx, tx, row, spec, user, name);
  if (name === 'daily_spend_cap' && !spec.critical) return settle(ctx, tx, row, 'skipped', name);
  await holdNotification(ctx, tx, row, spec, limit.resetsAt, name);
  return { status: 'held', reason: name, smsMessageId: null };
}
