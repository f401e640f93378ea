// The one entry point every alert and code goes through: notifyUser writes the notification into
// the outbox, in the caller's transaction, so the bank change, its notifications and their jobs
// commit (or vanish) together. One row per channel the customer gets the type on (their
// preferences over the catalogue's defaults, never under its floor), keyed by the event so a
// replayed change notifies once. The worker's policy step (dispatch.ts) decides the rest.
//
// Codes skip that hop: the caller waits for the message (a login screen), and a code that
// waited for quiet hours or a digest would be useless. Their limits (per number, IP, prefix) are
// checked here and their SMS is queued here, in the same transaction; a refused code fails the
// caller's change with AppError 'sms_rate_limited' rather than being sent late.
import { randomUUID } from 'node:crypto';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { AppError } from '../errors.ts';
import type { SmsLane } from '../jobs/registry.ts';
import { queueSms } from '../sms/outbox.ts';
import { maskPhoneNumber, normalisePhoneNumber } from '../sms/phone.ts';
import { phonePolicyFor } from '../sms/phone-policy.ts';
import { findUserById, requirePhoneNumber, type UserSummary } from '../users/users.ts';
import { notificationType, type Channel, type NotificationTypeId, type NotificationTypeSpec } from './catalogue.ts';
import { composeMessage } from './compose.ts';
import { codeLimits, consumeLimits, LimitReached, notificationSmsLimits, numberPrefix, type LimitName } from './limits.ts';
import { getPreferences } from './preferences.ts';
import {
  enqueueNotification, findNotificationOfEvent, insertNotification, toStoredValues, updateNotification,
  type NotificationInsert, type NotificationRow,
} from './records.ts';
import type { TemplateValues } from './templates/render.ts';

export interface Notification {
  userId: string;
  type: NotificationTypeId;
  /** Values of the type's template variables (see `dominion notifications types`). */
  values: TemplateValues;
  /**
   * The event notified of, e.g. `transfer:<id>`: notifying the same event again (a retried
   * request, a replayed job) writes nothing new. Default: a new random key, i.e. always notify.
   */
  eventKey?: string;
  /** For code types: the challenge whose code the worker mints into the message. */
  otpChallengeId?: string;
  /** Not sent after this instant (a code's expiry). */
  sendBefore?: Date;
  /** Code types: the IP address that asked for the code, for its per-IP limit. */
  ip?: string;
  /**
   * E.164 number to text instead of the profile's: a code to a number being verified, or the
   * notice of a phone change to the number it replaced. Such a notification is SMS only and is
   * queued here at once, past the policy step, whose choices (preferences, quiet hours, digest)
   * belong to the customer's own number; it counts toward the limits without being refused by them.
   */
  to?: string;
}

export interface QueuedNotification {
  id: string;
  channel: Channel;
  status: string;
  reason: string | null;
}

export interface NotificationQueued {
  eventKey: string;
  /** One per channel, in the order sms, email; the existing rows when the event was notified before. */
  notifications: QueuedNotification[];
  /**
   * Code types: the message-log row of the code SMS, written in this transaction. Other types:
   * undefined; the policy step writes it (see waitForNotification in follow.ts).
   */
  messageId: string | undefined;
  /** Last four digits of the customer's phone, when they have one. */
  destination: string | undefined;
  lane: SmsLane;
}

/** A code the limits refused: which limit, and when it may be asked for again. */
export class CodeLimitError extends AppError {
  readonly limit: LimitName;
  readonly retryAt: Date;
  constructor(limit: LimitName, retryAt: Date, message: string) {
    super('sms_rate_limited', message);
    this.name = 'CodeLimitError';
    this.limit = limit;
    this.retryAt = retryAt;
  }
}

// Metrics are optional so callers with a narrow context (a CLI command, a test) need not build them.
type SendContext = Pick<AppContext, 'jobs' | 'config' | 'clock'> & Partial<Pick<AppContext, 'metrics'>>;

/**
 * Writes a notification for every channel the customer gets this type on, with the jobs that
 * take them further, in `tx`. Throws AppError 'not_found' (no such user); for code types also
 * 'no_phone_number', the phone number's own errors, and 'sms_rate_limited' (CodeLimitError).
 */
export async function notifyUser(ctx: SendContext, tx: Queryable, notification: Notification): Promise<NotificationQueued> {
  const spec = notificationType(notification.type);
  if (spec.carriesCode !== Boolean(notification.otpChallengeId)) {
    throw new Error(`${spec.id} ${spec.carriesCode ? 'needs' : 'cannot take'} a one-time code challenge`);
  }
  const user = await findUserById(tx, notification.userId);
  if (!user) throw new AppError('not_found', `No user with id ${notification.userId}.`);
  const eventKey = notification.eventKey ?? randomUUID();
  const now = ctx.clock.now();
  const base = {
    userId: user.id, type: spec.id, eventKey, values: toStoredValues(spec, notification.values),
    otpChallengeId: notification.otpChallengeId ?? null, sendBefore: notification.sendBefore ?? null, createdAt: now, updatedAt: now,
  } satisfies Omit<NotificationInsert, 'channel'>;
  if (spec.carriesCode) return queueCode(ctx, tx, spec, user, base, notification);
  if (notification.to) return queueToNumber(ctx, tx, spec, user, base, notification, notification.to);

  const rows: NotificationRow[] = [];
  for (const planned of await plannedChannels(tx, spec, user)) {
    const inserted = await insertNotification(tx, { ...base, ...planned });
    if (inserted?.status === 'pending') await enqueueNotification(ctx, tx, inserted, spec);
    // Pending rows are counted by the policy step that decides them; an email skipped here is decided.
    if (inserted?.status === 'skipped') ctx.metrics?.notifications.inc({ type: spec.id, channel: planned.channel, outcome: 'skipped' });
    const row = inserted ?? (await findNotificationOfEvent(tx, { eventKey, userId: user.id, type: spec.id, channel: planned.channel }));
    if (row) rows.push(row);
  }
  return {
    eventKey,
    notifications: rows.map(summary),
    messageId: undefined,
    destination: user.phoneNumber ? maskPhoneNumber(user.phoneNumber) : undefined,
    lane: spec.lane,
  };
}

interface PlannedChannel {
  channel: Channel;
  status: 'pending' | 'skipped';
  reason: string | null;
}

/**
 * The rows to write: one per channel the customer chose. Email without an address is written as
 * skipped, so the record says why. A type with a floor never goes nowhere: a stored choice under
 * it (written before the floor existed, or by hand) is read as SMS, and a critical alert whose
 * only chosen channel is an email without an address goes by SMS instead.
 */
async function plannedChannels(tx: Queryable, spec: NotificationTypeSpec, user: UserSummary): Promise<PlannedChannel[]> {
  const preference = (await getPreferences(tx, user.id)).find((p) => p.type === spec.id);
  const wantsEmail = Boolean(preference?.email) && spec.channels.includes('email');
  const underFloor = spec.floor === 'one_channel' && !preference?.sms && !wantsEmail;
  const wantsSms = (Boolean(preference?.sms) || underFloor) && spec.channels.includes('sms');
  const planned: PlannedChannel[] = [];
  if (wantsEmail && !user.email && !wantsSms && spec.critical) {
    planned.push({ channel: 'sms', status: 'pending', reason: 'moved_to_sms: no_email_address' });
  } else if (wantsSms) {
    planned.push({ channel: 'sms', status: 'pending', reason: underFloor ? 'critical_floor' : null });
  }
  if (wantsEmail) planned.push(user.email ? { channel: 'email', status: 'pending', reason: null } : { channel: 'email', status: 'skipped', reason: 'no_email_address' });
  return planned;
}

function summary(row: NotificationRow): QueuedNotification {
  return { id: row.id, channel: row.channel as Channel, status: row.status, reason: row.reason };
}

/** A code: its limits, then its SMS in the message log, all in the caller's transaction. */
async function queueCode(
  ctx: SendContext, tx: Queryable, spec: NotificationTypeSpec, user: UserSummary,
  base: Omit<NotificationInsert, 'channel'>, notification: Notification,
): Promise<NotificationQueued> {
  // Re-checked at each send: a number stored before the allowed countries changed is refused.
  const phone = normalisePhoneNumber(notification.to ?? requirePhoneNumber(user), phonePolicyFor(ctx.config));
  const destination = maskPhoneNumber(phone.e164);
  const inserted = await insertNotification(tx, { ...base, channel: 'sms' });
  if (!inserted) {
    const existing = await findNotificationOfEvent(tx, { eventKey: base.eventKey, userId: user.id, type: spec.id, channel: 'sms' });
    return { eventKey: base.eventKey, notifications: existing ? [summary(existing)] : [], messageId: existing?.smsMessageId ?? undefined, destination, lane: spec.lane };
  }
  const { body } = await composeMessage(tx, spec, 'sms', user.id, notification.values);
  const queued = await queueSms(ctx, tx, {
    type: spec.id, lane: spec.lane, userId: user.id, to: phone.e164, country: phone.country, body,
    otpChallengeId: notification.otpChallengeId, sendBefore: notification.sendBefore,
  });
  await updateNotification(tx, inserted.id, { status: 'queued', smsMessageId: queued.id });
  // Last, so the shared counter rows stay locked only until the caller commits.
  const now = ctx.clock.now();
  try {
    await consumeLimits(tx, codeLimits(ctx.config.limits, { to: phone.e164, ip: notification.ip, estimatedPriceUsd: queued.estimatedPrice }), now);
  } catch (error) {
    if (!(error instanceof LimitReached)) throw error;
    throw codeLimitError(error, destination, phone.e164);
  }
  // Counted once its limits passed: a refused code is counted by recordRefusedCode instead.
  countQueuedSms(ctx, spec, queued);
  return {
    eventKey: base.eventKey,
    notifications: [{ id: inserted.id, channel: 'sms', status: 'queued', reason: null }],
    messageId: queued.id,
    destination,
    lane: spec.lane,
  };
}

/** An SMS queued here, past the policy step (which counts its own): in the notification metrics. */
function countQueuedSms(ctx: SendContext, spec: NotificationTypeSpec, queued: { segments: number; estimatedPrice: number }): void {
  ctx.metrics?.notifications.inc({ type: spec.id, channel: 'sms', outcome: 'sent' });
  ctx.metrics?.smsQueuedSegments.inc({ type: spec.id }, queued.segments);
  ctx.metrics?.smsQueuedCost.inc({ type: spec.id }, queued.estimatedPrice);
}

/** A notice to an explicit number (see Notification.to): its SMS queued in the caller's transaction. */
async function queueToNumber(
  ctx: SendContext, tx: Queryable, spec: NotificationTypeSpec, user: UserSummary,
  base: Omit<NotificationInsert, 'channel'>, notification: Notification, to: string,
): Promise<NotificationQueued> {
  const phone = normalisePhoneNumber(to, phonePolicyFor(ctx.config));
  const destination = maskPhoneNumber(phone.e164);
  const inserted = await insertNotification(tx, { ...base, channel: 'sms', reason: 'explicit_number' });
  if (!inserted) {
    const existing = await findNotificationOfEvent(tx, { eventKey: base.eventKey, userId: user.id, type: spec.id, channel: 'sms' });
    return { eventKey: base.eventKey, notifications: existing ? [summary(existing)] : [], messageId: existing?.smsMessageId ?? undefined, destination, lane: spec.lane };
  }
  const { body } = await composeMessage(tx, spec, 'sms', user.id, notification.values);
  const queued = await queueSms(ctx, tx, { type: spec.id, lane: spec.lane, userId: user.id, to: phone.e164, country: phone.country, body });
  await updateNotification(tx, inserted.id, { status: 'queued', smsMessageId: queued.id });
  // Counted, never refused: the change it reports has happened, and this is its one warning.
  const counted = notificationSmsLimits(ctx.config.limits, user.id, queued.estimatedPrice).map((rule) => ({ ...rule, limit: Infinity }));
  await consumeLimits(tx, counted, ctx.clock.now());
  countQueuedSms(ctx, spec, queued);
  return {
    eventKey: base.eventKey,
    notifications: [{ id: inserted.id, channel: 'sms', status: 'queued', reason: 'explicit_number' }],
    messageId: queued.id,
    destination,
    lane: spec.lane,
  };
}

/** The customer's words for a code limit that refused a code (SMS or call). */
export function codeLimitError(error: LimitReached, destination: string, e164: string): CodeLimitError {
  const { limit, windowMs } = error.rule;
  const minutes = windowMs / 60_000;
  const per = minutes === 60 ? 'an hour' : `${minutes} minutes`;
  const when = `${error.resetsAt.toISOString().slice(11, 16)} UTC`;
  const message = {
    code_number_limit: `Too many codes were sent to ${destination}: at most ${limit} in ${per}. Try again after ${when}.`,
    code_ip_limit: `Too many codes were asked for from this network: at most ${limit} in ${per}. Try again after ${when}.`,
    code_prefix_limit: `Too many codes went to numbers starting ${numberPrefix(e164)} (at most ${limit} in ${per}); they are paused as a protection against SMS fraud. Try again after ${when}.`,
  }[error.rule.name as 'code_number_limit' | 'code_ip_limit' | 'code_prefix_limit'] ?? `Too many codes: try again after ${when}.`;
  return new CodeLimitError(error.rule.name, error.resetsAt, message);
}

/**
 * Records a code the limits refused, after the caller's transaction rolled back with it, so what a
 * limit stops is on record with its reason.
 */
export async function recordRefusedCode(
  ctx: Pick<AppContext, 'db'> & Partial<Pick<AppContext, 'metrics'>>, input: { userId: string; type: NotificationTypeId; error: CodeLimitError; now: Date },
): Promise<void> {
  await insertNotification(ctx.db, {
    userId: input.userId, type: input.type, eventKey: randomUUID(), channel: 'sms', values: {},
    status: 'skipped', reason: input.error.limit, createdAt: input.now, updatedAt: input.now,
  });
  ctx.metrics?.notifications.inc({ type: input.type, channel: 'sms', outcome: 'skipped' });
}
