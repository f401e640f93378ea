// The notifications table, one small named function per operation: write a notification and its
// job, lock one for its policy step, change its status. The send entry point (send.ts), the
// policy step (dispatch.ts), the email sender (email.ts) and the digest job share these.
import { and, eq } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { notifications } from '../db/schema.ts';
import { EMAIL_PRIORITY } from '../jobs/registry.ts';
import type { Channel, NotificationTypeSpec, TemplateValue } from './catalogue.ts';
import type { TemplateValues } from './templates/render.ts';

export type NotificationRow = typeof notifications.$inferSelect;
export type NotificationInsert = typeof notifications.$inferInsert;

export type NotificationStatus = 'pending' | 'held' | 'sending' | 'queued' | 'sent' | 'digested' | 'skipped' | 'failed';

type JobsContext = Pick<AppContext, 'jobs'>;

/**
 * Template values as stored in jsonb: JSON has no bigint or Date, so money keeps its minor units as
 * a decimal string and instants become ISO text (both of which the templates format as before).
 * A code is never stored: the worker mints it into the SMS at send time. A missing value is the
 * caller's bug, refused here in its own transaction rather than found by the worker later.
 */
export function toStoredValues(spec: NotificationTypeSpec, values: TemplateValues): Record<string, unknown> {
  const missing = spec.variables.filter((v) => v.kind !== 'code' && values[v.name] === undefined).map((v) => `{${v.name}}`);
  if (missing.length) throw new Error(`a ${spec.id} notification needs a value for ${missing.join(', ')}`);
  const kinds = new Map(spec.variables.map((v) => [v.name, v.kind]));
  const stored: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined || kinds.get(name) === 'code') continue;
    stored[name] = storedValue(value);
  }
  return stored;
}

function storedValue(value: TemplateValue): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return { minorUnits: BigInt(value.minorUnits).toString(), currency: value.currency };
  return value;
}

/** Stored values are valid template values as they are (see toStoredValues). */
export function storedValues(row: Pick<NotificationRow, 'values'>): TemplateValues {
  return row.values as TemplateValues;
}

/** Writes a notification; undefined when its event already has one on this channel (a replay). */
export async function insertNotification(db: Queryable, row: NotificationInsert): Promise<NotificationRow | undefined> {
  const [inserted] = await db.insert(notifications).values(row).onConflictDoNothing().returning();
  return inserted;
}

export async function findNotificationOfEvent(
  db: Queryable,
  key: { eventKey: string; userId: string; type: string; channel: Channel },
): Promise<NotificationRow | undefined> {
  const [row] = await db.select().from(notifications).where(and(
    eq(notifications.eventKey, key.eventKey), eq(notifications.userId, key.userId),
    eq(notifications.type, key.type), eq(notifications.channel, key.channel),
  ));
  return row;
}

/** Reads a notification and locks it until the transaction ends: its policy step runs once at a time. */
export async function lockNotification(db: Queryable, id: string): Promise<NotificationRow | undefined> {
  const [row] = await db.select().from(notifications).where(eq(notifications.id, id)).for('update');
  return row;
}

export async function updateNotification(db: Queryable, id: string, values: Partial<NotificationInsert>): Promise<void> {
  await db.update(notifications).set(values).where(eq(notifications.id, id));
}

/** Pending, or held and its time has come: the policy step should (re)consider it. */
export function isDue(row: Pick<NotificationRow, 'status' | 'holdUntil'>, now: Date): boolean {
  return row.status === 'pending' || (row.status === 'held' && (row.holdUntil === null || row.holdUntil <= now));
}

/**
 * Enqueues the job that takes a notification further, in `tx`: an SMS notification's policy step
 * on its type's lane, an email on the email queue at its lane's priority.
 */
export async function enqueueNotification(
  ctx: JobsContext, tx: Queryable, row: Pick<NotificationRow, 'id' | 'channel'>, spec: NotificationTypeSpec, startAfter?: Date,
): Promise<void> {
  const options = startAfter ? { startAfter } : {};
  if (row.channel === 'email') {
    await ctx.jobs.send(tx, 'notification.email', { notificationId: row.id }, { ...options, priority: EMAIL_PRIORITY[spec.lane] });
  } else {
    await ctx.jobs.send(tx, spec.lane, { notificationId: row.id }, options);
  }
}

/** Holds a notification until `until` (with the reason) and schedules its policy step for then. */
export async function holdNotification(
  ctx: JobsContext & Pick<AppContext, 'clock'>, tx: Queryable, row: NotificationRow, spec: NotificationTypeSpec, until: Date, reason: string,
): Promise<void> {
  await updateNotification(tx, row.id, { status: 'held', holdUntil: until, reason, updatedAt: ctx.clock.now() });
  await enqueueNotification(ctx, tx, row, spec, until);
}

/**
 * A notification sent as SMS follows its message to its final state: delivered -> sent; failed,
 * undelivered, expired or withdrawn -> failed, with the reason (e.g. "sms_failed: 21610 Attempt
 * to send to unsubscribed recipient (Recipient Opted Out)"), so the staff "failed" view shows
 * what the SMS statistics count. Only notifications still queued move.
 */
export async function followSmsOutcome(db: Queryable, smsMessageId: string, outcome: { status: string; reason: string | null }, now: Date): Promise<void> {
  const delivered = outcome.status === 'delivered';
  await db.update(notifications)
    .set({ status: delivered ? 'sent' : 'failed', ...(!delivered && { reason: `sms_${outcome.status}${outcome.reason ? `: ${outcome.reason}` : ''}` }), updatedAt: now })
    .where(and(eq(notifications.smsMessageId, smsMessageId), eq(notifications.status, 'queued')));
}
