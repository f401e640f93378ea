// The policy step for a batch of SMS notifications, set-based: one transaction locks the batch,
// reads its customers in one query and each template once, queues every SMS with one insert,
// marks the notifications queued with one UPDATE and counts the limits with one statement, each
// counter the batch touches (a customer's hour and day, the bank's hour, the day's spend) added to
// once. The counts are exact: when the batch's total would pass any limit, nothing of the batch
// is counted or queued (the transaction rolls back) and each notification goes through the
// one-at-a-time policy step (dispatch.ts), which refuses exactly the ones past the limit.
// Notifications the batch does not decide by itself (a phone that cannot take SMS, a digest,
// quiet hours, an expired code) go that way too, after the batch commits.
//
// Run by the worker, the step carries its SMS of the worker's lane on to the send, in the same
// job: no send job is written, fetched and completed for them (a third of pg-boss's work per
// alert). The notification job completes only after their sends; a worker that dies between the
// two leaves it active, pg-boss runs it again when it expires, and the rerun finds the
// notification queued with its SMS unsent and carries that on (the send's claim keeps it once).
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import { rawRows, type Queryable } from '../db/connection.ts';
import { notifications, smsMessages } from '../db/schema.ts';
import type { SmsLane } from '../jobs/registry.ts';
import { notificationOutcome } from '../metrics.ts';
import { queueSmsEach, type QueuedSms, type SmsRequest } from '../sms/outbox.ts';
import { usablePhoneNumber } from '../sms/phone-status.ts';
import { notificationType } from './catalogue.ts';
import { renderComposed } from './compose.ts';
import { dispatchNotification } from './dispatch.ts';
import { notificationSmsLimits, windowOf, type LimitRule } from './limits.ts';
import { nextSendTime } from './quiet-hours.ts';
import { loadRecipients } from './recipient.ts';
import { isDue, storedValues, type NotificationRow } from './records.ts';
import { activeTemplate, type ActiveTemplate } from './templates/store.ts';

type DispatchContext = Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock' | 'logger' | 'metrics'>;

/** The batch's total passes a limit: roll it back and decide one at a time. */
class BatchOverLimit extends Error {}

interface Decided {
  row: NotificationRow;
  sms: QueuedSms & { lane: SmsLane };
}

export interface DispatchedBatch {
  /** The error of each notification whose job should be retried, by notification id. */
  errors: Map<string, unknown>;
  /** With `carriedLane`: the SMS queued without a job, which the caller sends now, by message id, each with its notification's id. */
  carried: Map<string, string>;
}

/**
 * Runs the policy step of a batch of SMS notifications. `carriedLane` (the worker's lane): the
 * SMS of that lane are queued without a send job and returned in `carried` for the caller to
 * send in the same job, with those an earlier run of the job queued and left unsent.
 */
export async function dispatchNotificationBatch(ctx: DispatchContext, ids: readonly string[], options: { carriedLane?: SmsLane } = {}): Promise<DispatchedBatch> {
  let oneByOne: readonly string[] = ids;
  let decided: Decided[] = [];
  const carried = new Map<string, string>();
  const unknown = new Map<string, unknown>();
  // Carried, one notification goes the batch's way too: its SMS then needs no send job either.
  if (ids.length > 1 || options.carriedLane) {
    try {
      const result = await ctx.db.transaction((tx) => decideBatch(ctx, tx, ids, options.carriedLane));
      decided = result.decided;
      oneByOne = result.rest;
      for (const [messageId, id] of result.unsent) carried.set(messageId, id);
    } catch (error) {
      // Over a limit, or a failure of the batch (a deadlock, a bad row): each on its own decides exactly.
      if (!(error instanceof BatchOverLimit)) ctx.logger.warn({ err: error, count: ids.length }, 'notification batch failed; deciding one at a time');
      oneByOne = ids;
      if (options.carriedLane) {
        // What an earlier run left unsent; not knowing it, every job of the batch runs again.
        await unsentOf(ctx.db, ids).then(
          (unsent) => { for (const [messageId, id] of unsent) carried.set(messageId, id); },
          (lookError: unknown) => { for (const id of ids) unknown.set(id, lookError); },
        );
      }
    }
  }
  for (const { row, sms } of decided) if (sms.lane === options.carriedLane) carried.set(sms.id, row.id);
  for (const { row, sms } of decided) {
    const outcome = notificationOutcome('queued', row.reason);
    if (outcome) ctx.metrics.notifications.inc({ type: row.type, channel: 'sms', outcome });
    ctx.metrics.smsQueuedSegments.inc({ type: row.type }, sms.segments);
    ctx.metrics.smsQueuedCost.inc({ type: row.type }, sms.estimatedPrice);
  }
  const errors = unknown;
  await Promise.all(oneByOne.map(async (id) => {
    try {
      await dispatchNotification(ctx, id);
    } catch (error) {
      errors.set(id, error);
    }
  }));
  return { errors, carried };
}

/**
 * Of notifications already queued, those whose SMS is still unsent (no SID): by message id. An
 * earlier run of their job queued them and did not live to send them (pending), died sending them
 * (sending: the send follows the dead claim up once it is stale, looking for it at Twilio first),
 * or its send failed in a way that asked for the job to run again (retrying).
 */
async function unsentOf(db: Queryable, ids: readonly string[]): Promise<Map<string, string>> {
  const rows = await db.select({ id: notifications.id, messageId: smsMessages.id }).from(notifications)
    .innerJoin(smsMessages, eq(smsMessages.id, notifications.smsMessageId))
    .where(and(inArray(notifications.id, [...ids]), eq(notifications.status, 'queued'),
      inArray(smsMessages.status, ['pending', 'sending', 'retrying']), isNull(smsMessages.twilioSid)));
  return new Map(rows.map((r) => [r.messageId, r.id]));
}

async function decideBatch(ctx: DispatchContext, tx: Queryable, ids: readonly string[], carriedLane: SmsLane | undefined): Promise<{ decided: Decided[]; rest: string[]; unsent: Map<string, string> }> {
  const now = ctx.clock.now();
  // Locked in id order, so two batches sharing notifications (a replayed job) queue, never deadlock.
  const rows = await tx.select().from(notifications).where(inArray(notifications.id, [...ids])).orderBy(notifications.id).for('update');
  // A rerun of the job after its worker died: the SMS it queued may be unsent (looked up only then).
  const unsent = carriedLane && rows.some((r) => r.status === 'queued') ? await unsentOf(tx, rows.filter((r) => r.status === 'queued').map((r) => r.id)) : new Map<string, string>();
  const due = rows.filter((r) => r.channel === 'sms' && isDue(r, now));
  const recipients = await loadRecipients(tx, due.map((r) => r.userId));
  const templates = new Map<string, ActiveTemplate>();
  const rest: string[] = [];
  const plain: { row: NotificationRow; request: SmsRequest }[] = [];
  for (const row of due) {
    const spec = notificationType(row.type);
    const user = recipients.get(row.userId);
    const phone = user && (await usablePhoneNumber(tx, ctx.config, user.phoneNumber, { status: user.phoneStatus }));
    if (!user || !phone || typeof phone === 'string' || (row.sendBefore && now >= row.sendBefore)
      || (spec.digestible && user.settings.digestTransactions)
      || nextSendTime(now, user.settings.timeZone, user.settings.quietHours, spec) > now) {
      rest.push(row.id);
      continue;
    }
    const key = `${spec.id}/${user.language}`;
    let template = templates.get(key);
    if (!template) templates.set(key, (template = await activeTemplate(tx, spec.id, user.language, 'sms')));
    const { body } = renderComposed(spec, template, storedValues(row), user.settings.timeZone);
    plain.push({ row, request: {
      type: spec.id, lane: spec.lane, userId: user.userId, to: phone.e164, country: phone.country, body, sendBefore: row.sendBefore ?? undefined,
    } });
  }
  if (!plain.length) return { decided: [], rest, unsent };
  const queued = await queueSmsEach(ctx, tx, plain.map((p) => p.request), { carriedLane });
  const decided = plain.map((p, i) => ({ row: p.row, sms: queued[i]! }));
  // A reason from an earlier hold (quiet_hours, a limit) stays: it says why the SMS went late.
  await tx.execute(sql`
    update notifications n set status = 'queued', sms_message_id = x.sms_message_id, hold_until = null, updated_at = ${now.toISOString()}::timestamptz
    from json_to_recordset(${JSON.stringify(decided.map((d) => ({ id: d.row.id, sms_message_id: d.sms.id })))}::json) as x (id uuid, sms_message_id uuid)
    where n.id = x.id`);
  await consumeBatchLimits(tx, decided.map((d) => notificationSmsLimits(ctx.config.limits, d.row.userId, d.sms.estimatedPrice)), now);
  return { decided, rest, unsent };
}

/**
 * Adds each counter's total for the batch in one statement, or throws BatchOverLimit when any
 * total would pass its limit. Counters are upserted customers first (by id, hour before day), then
 * the bank-wide ones in the order the one-at-a-time step takes them, so every sender locks counter
 * rows in one order and none can deadlock another.
 */
async function consumeBatchLimits(tx: Queryable, perNotification: readonly LimitRule[][], now: Date): Promise<void> {
  const totals = new Map<string, { rule: LimitRule; windowStart: string; amount: number; order: string }>();
  for (const rules of perNotification) {
    rules.forEach((rule, position) => {
      const windowStart = windowOf(now, rule.windowMs).start.toISOString();
      const id = `${rule.key}@${windowStart}`;
      const customer = rule.key.startsWith('sms:user:');
      const order = `${customer ? '0' : '1'}|${customer ? rule.key.split(':')[2] : ''}|${position}`;
      const total = totals.get(id) ?? { rule, windowStart, amount: 0, order };
      total.amount += rule.amount;
      totals.set(id, total);
    });
  }
  const input = [...totals.values()].sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0)).map((t, ord) => ({
    ord, key: t.rule.key, window_start: t.windowStart, amount: t.amount, lim: Number.isFinite(t.rule.limit) ? t.rule.limit : null,
  }));
  if (input.some((i) => i.lim !== null && i.amount > i.lim)) throw new BatchOverLimit();
  const [counted] = await rawRows<{ n: number }>(tx, sql`
    with input as (
      select * from json_to_recordset(${JSON.stringify(input)}::json) as x (ord int, key text, window_start timestamptz, amount bigint, lim bigint)
    ), counted as (
      insert into rate_limit_counters as c (key, window_start, amount)
      select key, window_start, amount from input order by ord
      on conflict (key, window_start) do update set amount = c.amount + excluded.amount
        where c.amount + excluded.amount <= coalesce(
          (select i.lim from input i where i.key = excluded.key and i.window_start = excluded.window_start), c.amount + excluded.amount)
      returning 1
    )
    select count(*)::int as n from counted`);
  if ((counted?.n ?? 0) < input.length) throw new BatchOverLimit();
}
