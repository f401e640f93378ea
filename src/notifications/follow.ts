// Follows one notification while someone waits for it (an operator's test): until the policy
// step has decided it, e.g. queued its SMS (then follow that in the message log), held or moved it.
import { eq } from 'drizzle-orm';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppContext } from '../context.ts';
import { notifications } from '../db/schema.ts';
import type { NotificationRow } from './records.ts';

/** Statuses the worker has not finished deciding or sending yet. */
const UNDECIDED: ReadonlySet<string> = new Set(['pending', 'sending']);

export interface FollowedNotification {
  row: NotificationRow;
  /** Still undecided when the wait ran out: no worker took its job. */
  timedOut: boolean;
}

export async function waitForNotification(ctx: Pick<AppContext, 'db'>, id: string, options: { timeoutMs: number; pollMs?: number }): Promise<FollowedNotification> {
  const started = Date.now();
  for (;;) {
    const [row] = await ctx.db.select().from(notifications).where(eq(notifications.id, id));
    if (!row) throw new Error(`notification ${id} does not exist`);
    if (!UNDECIDED.has(row.status)) return { row, timedOut: false };
    if (Date.now() - started >= options.timeoutMs) return { row, timedOut: true };
    await sleep(options.pollMs ?? 50);
  }
}
