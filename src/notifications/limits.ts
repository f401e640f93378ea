// The SMS limits: per customer (hour, day), for the whole bank (hour), the daily spend cap, and
// the stricter limits of one-time codes against SMS pumping (per number, per IP, per number
// prefix). Each is a counter per fixed window in rate_limit_counters, moved by one atomic
// insert-or-increment that refuses to pass the limit, so a limit holds across every worker
// process on one PostgreSQL without locks held between statements.
//
// Windows are fixed and aligned to the Unix epoch: an hourly limit counts per UTC clock hour, a
// daily one per UTC day. A fixed window lets a burst of up to twice the limit straddle a boundary;
// in exchange a refused message knows exactly when its window ends, which is when it is held until.
import { parsePhoneNumberWithError } from 'libphonenumber-js/max';
import { lt, sql } from 'drizzle-orm';
import type { SmsLimits } from '../config.ts';
import { rawRows, type Queryable } from '../db/connection.ts';
import { rateLimitCounters } from '../db/schema.ts';

export type LimitName =
  | 'user_hourly_limit' | 'user_daily_limit' | 'global_hourly_limit' | 'daily_spend_cap'
  | 'code_number_limit' | 'code_ip_limit' | 'code_prefix_limit'
  | 'login_ip_limit' | 'register_ip_limit';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
const TEN_MINUTES_MS = 600_000;
/** Spend is counted in hundred-thousandths of a US dollar: Twilio prices have 5 decimals. */
export const SPEND_UNITS_PER_USD = 100_000;

export interface LimitRule {
  name: LimitName;
  /** The counter, without its window, e.g. sms:user:<id>:hour. */
  key: string;
  /** Largest amount a window may reach; Infinity counts without ever refusing. */
  limit: number;
  windowMs: number;
  /** What this send adds: 1 message, or its estimated price in spend units. */
  amount: number;
}

export interface LimitWindow {
  start: Date;
  end: Date;
}

export function windowOf(now: Date, windowMs: number): LimitWindow {
  const start = Math.floor(now.getTime() / windowMs) * windowMs;
  return { start: new Date(start), end: new Date(start + windowMs) };
}

/** A send a limit refused: which limit, and when its window ends. */
export class LimitReached extends Error {
  readonly rule: LimitRule;
  readonly resetsAt: Date;
  constructor(rule: LimitRule, resetsAt: Date) {
    super(`${rule.name} reached (${rule.limit} per ${rule.windowMs / 60_000} minutes) until ${resetsAt.toISOString()}`);
    this.name = 'LimitReached';
    this.rule = rule;
    this.resetsAt = resetsAt;
  }
}

/**
 * Adds the rule's amount to its counter of the current window unless that would pass the limit;
 * true when counted. Concurrent callers queue on the counter row, and each re-checks the limit
 * against the amount the one before it committed.
 */
export async function consumeLimit(db: Queryable, rule: LimitRule, now: Date): Promise<boolean> {
  if (rule.amount > rule.limit) return false;
  const { start } = windowOf(now, rule.windowMs);
  const enforce = Number.isFinite(rule.limit);
  const rows = await rawRows<{ amount: string }>(db, sql`
    insert into rate_limit_counters as c (key, window_start, amount)
    values (${rule.key}, ${start.toISOString()}::timestamptz, ${rule.amount})
    on conflict (key, window_start) do update set amount = c.amount + excluded.amount
    ${enforce ? sql`where c.amount + excluded.amount <= ${rule.limit}` : sql``}
    returning amount`);
  return rows.length > 0;
}

/**
 * Counts one send against every rule, in order, in one statement; throws LimitReached naming the
 * first rule that refuses. Each counter's upsert waits for the one before it (a chain of CTEs),
 * so every sender locks counter rows in the same order and two can never deadlock. Call it in the
 * transaction that queues the send: a refusal rolls back the counts already made, and a crash
 * before commit counts nothing.
 */
export async function consumeLimits(db: Queryable, rules: readonly LimitRule[], now: Date): Promise<void> {
  const tooBig = rules.find((rule) => rule.amount > rule.limit);
  if (tooBig) throw new LimitReached(tooBig, windowOf(now, tooBig.windowMs).end);
  if (!rules.length) return;
  const name = (i: number) => sql.raw(`counted_${i}`);
  const steps = rules.map((rule, i) => {
    const after = i === 0 ? sql`` : sql` where exists (select 1 from ${name(i - 1)})`;
    const within = Number.isFinite(rule.limit) ? sql` where c.amount + excluded.amount <= ${rule.limit}` : sql``;
    return sql`${name(i)} as (
      insert into rate_limit_counters as c (key, window_start, amount)
      select ${rule.key}, ${windowOf(now, rule.windowMs).start.toISOString()}::timestamptz, ${rule.amount}::bigint${after}
      on conflict (key, window_start) do update set amount = c.amount + excluded.amount${within}
      returning 1)`;
  });
  const results = rules.map((_, i) => sql`exists (select 1 from ${name(i)}) as ${sql.raw(`ok_${i}`)}`);
  const [row] = await rawRows<Record<string, boolean>>(db, sql`with ${sql.join(steps, sql`, `)} select ${sql.join(results, sql`, `)}`);
  const refused = rules.find((_, i) => !row?.[`ok_${i}`]);
  if (refused) throw new LimitReached(refused, windowOf(now, refused.windowMs).end);
}

export function spendUnits(estimatedPriceUsd: number): number {
  return Math.round(estimatedPriceUsd * SPEND_UNITS_PER_USD);
}

/** The day's spend, counted for codes too (never refused: codes have their own limits). */
function spendRule(limits: SmsLimits, estimatedPriceUsd: number, enforce: boolean): LimitRule {
  const cap = limits.dailySpendCapUsd > 0 && enforce ? Math.round(limits.dailySpendCapUsd * SPEND_UNITS_PER_USD) : Infinity;
  return { name: 'daily_spend_cap', key: 'sms:spend:day', limit: cap, windowMs: DAY_MS, amount: spendUnits(estimatedPriceUsd) };
}

/** A limit of 0 is switched off. */
function rule(name: LimitName, key: string, limit: number, windowMs: number): LimitRule[] {
  return limit > 0 ? [{ name, key, limit, windowMs, amount: 1 }] : [];
}

/**
 * The limits of one notification SMS, narrowest first (so the reason recorded is the customer's
 * own limit when several are reached); the hot bank-wide counters come last, so their rows are
 * locked for the shortest time.
 */
export function notificationSmsLimits(limits: SmsLimits, userId: string, estimatedPriceUsd: number): LimitRule[] {
  return [
    ...rule('user_hourly_limit', `sms:user:${userId}:hour`, limits.userHourly, HOUR_MS),
    ...rule('user_daily_limit', `sms:user:${userId}:day`, limits.userDaily, DAY_MS),
    ...rule('global_hourly_limit', 'sms:global:hour', limits.globalHourly, HOUR_MS),
    spendRule(limits, estimatedPriceUsd, true),
  ];
}

/**
 * The prefix pumping is counted by: country calling code and the next three digits (+1415,
 * +44 7 911 -> +44791). With the calling code alone, all of the US and Canada would share one
 * counter, too low for the bank's own logins or too high to notice a pumped range abroad.
 */
export function numberPrefix(e164: string): string {
  try {
    const parsed = parsePhoneNumberWithError(e164);
    return `+${parsed.countryCallingCode}${parsed.nationalNumber.slice(0, 3)}`;
  } catch {
    return e164.slice(0, 5);
  }
}

/** The limits of one code SMS: per number, per IP (when known), per prefix, and its spend. */
export function codeLimits(limits: SmsLimits, input: { to: string; ip?: string; estimatedPriceUsd: number }): LimitRule[] {
  return [
    ...rule('code_number_limit', `code:number:${input.to}`, limits.codeNumber, TEN_MINUTES_MS),
    ...(input.ip ? rule('code_ip_limit', `code:ip:${input.ip}`, limits.codeIp, TEN_MINUTES_MS) : []),
    ...rule('code_prefix_limit', `code:prefix:${numberPrefix(input.to)}`, limits.codeCountryHourly, HOUR_MS),
    spendRule(limits, input.estimatedPriceUsd, false),
  ];
}

/** Deletes the counters of windows that have ended (the longest window is a day); returns how many. */
export async function pruneLimitCounters(db: Queryable, now: Date): Promise<number> {
  const rows = await db.delete(rateLimitCounters)
    .where(lt(rateLimitCounters.windowStart, new Date(now.getTime() - DAY_MS)))
    .returning({ key: rateLimitCounters.key });
  return rows.length;
}
