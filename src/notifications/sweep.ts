// The safety net under the notification jobs: every few minutes, notifications still open long
// after they were due (pending, held past their time, or left 'sending' by a dead worker) get a
// new job. Their jobs can be gone: pg-boss gives up on a job after its retries (a database outage
// longer than the backoff), and a queue's retention deletes old ones. Running a job twice is
// harmless (the policy step and the email sender both find a decided notification and stop).
import { and, asc, inArray, lt, sql } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import { notifications } from '../db/schema.ts';
import { notificationType } from './catalogue.ts';
import { enqueueNotification } from './records.ts';

/** Due this long ago and still open: its job is late or lost. Well past any queue's retries. */
export const OVERDUE_MS = 5 * 60_000;
/** Notifications re-enqueued per run; a larger backlog drains over the next runs. */
const BATCH = 1_000;

/** Re-enqueues overdue open notifications; returns how many. */
export async function sweepNotifications(ctx: Pick<AppContext, 'db' | 'jobs' | 'clock' | 'logger'>): Promise<number> {
  const cutoff = new Date(ctx.clock.now().getTime() - OVERDUE_MS);
  // The same expression as notifications_open_idx, so the scan reads only open notifications.
  const dueAt = sql`coalesce(${notifications.holdUntil}, ${notifications.updatedAt})`;
  const overdue = await ctx.db
    .select({ id: notifications.id, type: notifications.type, channel: notifications.channel })
    .from(notifications)
    .where(and(inArray(notifications.status, ['pending', 'held', 'sending']), lt(dueAt, cutoff)))
    .orderBy(asc(dueAt))
    .limit(BATCH);
  if (!overdue.length) return 0;
  await ctx.db.transaction(async (tx) => {
    for (const row of overdue) await enqueueNotification(ctx, tx, row, notificationType(row.type));
  });
  ctx.logger.warn({ count: overdue.length }, 'overdue notifications re-enqueued');
  return overdue.length;
}
