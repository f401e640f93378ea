// What staff see of the SMS traffic: per-day counts, delivery rates and costs from the message
// log, failures by Twilio error code, spend against the daily cap, and the notifications the
// pipeline held, skipped or failed, with their reasons. Read-only queries, one function each.
import { and, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { SmsLimits } from '../config.ts';
import { rawRows, type Queryable } from '../db/connection.ts';
import { notifications, userProfiles, users } from '../db/schema.ts';
import { maskPhoneNumber } from '../sms/phone.ts';
import { roundUsd } from '../sms/segments.ts';
import { DAY_MS, SPEND_UNITS_PER_USD, windowOf } from './limits.ts';

/** Message counts and money of one slice of the message log (a day, a type, the whole period). */
export interface SmsCounts {
  /** Messages queued: every row of the message log. */
  queued: number;
  /** Accepted by Twilio (it gave the message a SID). */
  sent: number;
  delivered: number;
  /** Refused by Twilio at send time, or failed by the carrier afterwards. */
  failed: number;
  undelivered: number;
  /** Codes not sent because they could only have arrived after expiring. */
  expired: number;
  /** Accepted and not yet delivered, undelivered or failed (or still waiting to be sent). */
  inFlight: number;
  /** Segments of the messages Twilio accepted: what it bills. */
  segments: number;
  /** Estimated USD of the messages Twilio accepted (segments x configured price). */
  estimatedCostUsd: number;
  /** USD Twilio reported, for the messages priced so far. */
  actualCostUsd: number;
  /** Messages Twilio has reported a price for. */
  pricedMessages: number;
  /** delivered / (delivered + undelivered + failed); null while none has a final status. */
  deliveryRate: number | null;
}

export interface SmsDayStats extends SmsCounts {
  /** UTC date, YYYY-MM-DD: the spend cap's day. */
  day: string;
}

export interface SmsTypeStats extends SmsCounts {
  type: string;
}

export interface SmsErrorStats {
  /** Twilio error code, e.g. 30003; null for a failure Twilio gave no code for. */
  errorCode: number | null;
  count: number;
  /** The latest message recorded with it, e.g. "Unreachable destination handset". */
  errorMessage: string | null;
}

export interface SmsSpend {
  /** SMS_DAILY_SPEND_CAP_USD; 0 means no cap. */
  dailyCapUsd: number;
  /** Estimated USD the cap has counted today (UTC), codes included. */
  todayUsd: number;
  /** todayUsd / dailyCapUsd; null without a cap. */
  todayFractionOfCap: number | null;
  /** Estimated USD of all SMS queued in the last 7 UTC days, today included. */
  last7DaysUsd: number;
  /** The same 7 days' cap: 7 x dailyCapUsd. */
  last7DaysCapUsd: number;
}

export interface SmsStats {
  from: string;
  to: string;
  days: SmsDayStats[];
  byType: SmsTypeStats[];
  totals: SmsCounts;
  errors: SmsErrorStats[];
  spend: SmsSpend;
}

/** The most days one request may ask for. */
export const MAX_STATS_DAYS = 90;

interface CountsRow {
  key: string | null;
  queued: string;
  sent: string;
  delivered: string;
  failed: string;
  undelivered: string;
  expired: string;
  segments: string | null;
  estimated: string | null;
  actual: string | null;
  priced: string;
}

const COUNT_COLUMNS = sql`
  count(*) as queued,
  count(*) filter (where twilio_sid is not null) as sent,
  count(*) filter (where status = 'delivered') as delivered,
  count(*) filter (where status = 'failed') as failed,
  count(*) filter (where status = 'undelivered') as undelivered,
  count(*) filter (where status = 'expired') as expired,
  sum(segments) filter (where twilio_sid is not null) as segments,
  sum(price_estimate) filter (where twilio_sid is not null) as estimated,
  sum(price) as actual,
  count(price) as priced`;

function counts(row: CountsRow | undefined): SmsCounts {
  const n = (v: string | null | undefined) => Number(v ?? 0);
  const delivered = n(row?.delivered);
  const failed = n(row?.failed);
  const undelivered = n(row?.undelivered);
  const queued = n(row?.queued);
  const expired = n(row?.expired);
  const settled = delivered + failed + undelivered;
  return {
    queued, sent: n(row?.sent), delivered, failed, undelivered, expired,
    inFlight: queued - settled - expired,
    segments: n(row?.segments),
    estimatedCostUsd: roundUsd(n(row?.estimated)),
    actualCostUsd: roundUsd(n(row?.actual)),
    pricedMessages: n(row?.priced),
    deliveryRate: settled ? delivered / settled : null,
  };
}

function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/**
 * The message log of the last `days` UTC days up to `now` (today included): per day (days without
 * messages included, as zeros), per type, in total, and failures by Twilio error code; and the
 * spend against the daily cap.
 */
export async function smsStats(db: Queryable, input: { days: number; now: Date; limits: Pick<SmsLimits, 'dailySpendCapUsd'> }): Promise<SmsStats> {
  const days = Math.min(Math.max(Math.trunc(input.days), 1), MAX_STATS_DAYS);
  const today = windowOf(input.now, DAY_MS).start;
  const from = new Date(today.getTime() - (days - 1) * DAY_MS);
  const to = new Date(today.getTime() + DAY_MS);
  const period = sql`created_at >= ${from.toISOString()}::timestamptz and created_at < ${to.toISOString()}::timestamptz`;

  const perDay = await rawRows<CountsRow>(db, sql`
    select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD') as key, ${COUNT_COLUMNS}
    from sms_messages where ${period} group by 1`);
  const perType = await rawRows<CountsRow>(db, sql`
    select type as key, ${COUNT_COLUMNS} from sms_messages where ${period} group by type order by count(*) desc, type`);
  const [total] = await rawRows<CountsRow>(db, sql`select null as key, ${COUNT_COLUMNS} from sms_messages where ${period}`);
  const errors = await rawRows<{ error_code: number | null; count: string; error_message: string | null }>(db, sql`
    select error_code, count(*) as count,
      (array_agg(error_message order by updated_at desc) filter (where error_message is not null))[1] as error_message
    from sms_messages where ${period} and status in ('failed', 'undelivered')
    group by error_code order by count(*) desc, error_code`);

  const byDay = new Map(perDay.map((row) => [row.key, row]));
  const dayList: SmsDayStats[] = [];
  for (let d = from.getTime(); d < to.getTime(); d += DAY_MS) {
    const day = utcDay(new Date(d));
    dayList.push({ day, ...counts(byDay.get(day)) });
  }
  return {
    from: utcDay(from),
    to: utcDay(today),
    days: dayList,
    byType: perType.map((row) => ({ type: row.key ?? '', ...counts(row) })),
    totals: counts(total),
    errors: errors.map((e) => ({ errorCode: e.error_code === null ? null : Number(e.error_code), count: Number(e.count), errorMessage: e.error_message })),
    spend: await smsSpend(db, input.now, input.limits),
  };
}

/** Today's spend as the daily cap counts it (rate_limit_counters), and the last 7 days' estimate. */
export async function smsSpend(db: Queryable, now: Date, limits: Pick<SmsLimits, 'dailySpendCapUsd'>): Promise<SmsSpend> {
  const today = windowOf(now, DAY_MS);
  const [counted] = await rawRows<{ amount: string }>(db, sql`
    select amount from rate_limit_counters where key = 'sms:spend:day' and window_start = ${today.start.toISOString()}::timestamptz`);
  const weekStart = new Date(today.start.getTime() - 6 * DAY_MS);
  const [week] = await rawRows<{ usd: string | null }>(db, sql`
    select sum(price_estimate) as usd from sms_messages
    where created_at >= ${weekStart.toISOString()}::timestamptz and created_at < ${today.end.toISOString()}::timestamptz`);
  const cap = limits.dailySpendCapUsd;
  const todayUsd = roundUsd(Number(counted?.amount ?? 0) / SPEND_UNITS_PER_USD);
  return {
    dailyCapUsd: cap,
    todayUsd,
    todayFractionOfCap: cap > 0 ? todayUsd / cap : null,
    last7DaysUsd: roundUsd(Number(week?.usd ?? 0)),
    last7DaysCapUsd: roundUsd(cap * 7),
  };
}

export type StoppedStatus = 'held' | 'skipped' | 'failed';
export const STOPPED_STATUSES: readonly StoppedStatus[] = ['held', 'skipped', 'failed'];

/** A notification the pipeline did not send (yet), as staff see it: never a full phone number. */
export interface StoppedNotification {
  id: string;
  type: string;
  channel: string;
  status: StoppedStatus;
  /** Why: quiet_hours, user_hourly_limit, moved_to_email: opted_out, expired, ... */
  reason: string | null;
  /** While held: when the pipeline looks at it again. */
  holdUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
  customer: { username: string; phone: string | null };
}

/** Held, skipped and failed notifications, latest first; `phone` is masked to its last 4 digits. */
export async function listStoppedNotifications(
  db: Queryable, filter: { statuses?: readonly StoppedStatus[]; type?: string; limit: number },
): Promise<StoppedNotification[]> {
  const conditions: SQL[] = [inArray(notifications.status, [...(filter.statuses?.length ? filter.statuses : STOPPED_STATUSES)])];
  if (filter.type) conditions.push(eq(notifications.type, filter.type));
  const rows = await db
    .select({
      id: notifications.id, type: notifications.type, channel: notifications.channel, status: notifications.status,
      reason: notifications.reason, holdUntil: notifications.holdUntil, createdAt: notifications.createdAt, updatedAt: notifications.updatedAt,
      username: users.username, phoneNumber: userProfiles.phoneNumber,
    })
    .from(notifications)
    .innerJoin(users, eq(users.id, notifications.userId))
    .leftJoin(userProfiles, eq(userProfiles.userId, notifications.userId))
    .where(and(...conditions))
    .orderBy(desc(notifications.updatedAt), desc(notifications.id))
    .limit(filter.limit);
  return rows.map(({ username, phoneNumber, status, ...row }) => ({
    ...row,
    status: status as StoppedStatus,
    customer: { username, phone: phoneNumber ? maskPhoneNumber(phoneNumber) : null },
  }));
}
