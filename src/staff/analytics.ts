// The analytics page's figures over a chosen UTC date range: SMS per day and per type, delivery
// rate, failures by Twilio error code, segments and estimated cost per day and per month against
// SMS_DAILY_SPEND_CAP_USD, the top recipients, opt-outs, and codes sent against codes used (the
// conversion Twilio Verify sells). One query per table; every table is also a CSV (csv.ts).
import { sql } from 'drizzle-orm';
import type { SmsLimits } from '../config.ts';
import { rawRows, type Queryable } from '../db/connection.ts';
import { NOTIFICATION_TYPE_IDS, notificationType } from '../notifications/catalogue.ts';
import { maskPhoneNumber } from '../sms/phone.ts';
import { explainTwilioError } from '../sms/twilio-errors.ts';
import type { CsvValue } from './csv.ts';

export const MAX_ANALYTICS_DAYS = 366;
const DAY_MS = 86_400_000;

export interface AnalyticsRange {
  /** First UTC day, included. */
  from: Date;
  /** Last UTC day, included. */
  to: Date;
}

export interface AnalyticsTable {
  columns: string[];
  rows: CsvValue[][];
}

export const ANALYTICS_TABLES = ['days', 'types', 'errors', 'months', 'recipients', 'optouts', 'codes'] as const;
export type AnalyticsTableName = (typeof ANALYTICS_TABLES)[number];

const CODE_TYPES = NOTIFICATION_TYPE_IDS.filter((id) => notificationType(id).carriesCode);

const n = (v: unknown) => Number(v ?? 0);
const rate = (part: number, whole: number) => (whole ? Math.round((part / whole) * 10_000) / 10_000 : null);
const usd = (v: unknown) => Math.round(n(v) * 100_000) / 100_000;

function bounds(range: AnalyticsRange) {
  return { from: range.from.toISOString(), to: new Date(range.to.getTime() + DAY_MS).toISOString() };
}

/** One table of the range, rows ready for the page or a CSV. */
export async function analyticsTable(db: Queryable, limits: Pick<SmsLimits, 'dailySpendCapUsd'>, range: AnalyticsRange, name: AnalyticsTableName): Promise<AnalyticsTable> {
  const { from, to } = bounds(range);
  const period = sql`created_at >= ${from}::timestamptz and created_at < ${to}::timestamptz`;
  const settled = (r: Record<string, unknown>) => n(r.delivered) + n(r.failed) + n(r.undelivered);
  switch (name) {
    case 'days': {
      const rows = await rawRows<Record<string, unknown>>(db, sql`
        select to_char(d, 'YYYY-MM-DD') as day, count(m.id) as messages,
          count(*) filter (where m.status = 'delivered') as delivered, count(*) filter (where m.status = 'failed') as failed,
          count(*) filter (where m.status = 'undelivered') as undelivered,
          coalesce(sum(m.segments) filter (where m.twilio_sid is not null), 0) as segments,
          coalesce(sum(m.price_estimate) filter (where m.twilio_sid is not null), 0) as cost
        from generate_series(${from}::timestamptz, ${to}::timestamptz - interval '1 day', interval '1 day') d
        left join sms_messages m on m.created_at >= d and m.created_at < d + interval '1 day'
        group by d order by d`);
      return {
        columns: ['day', 'messages', 'delivered', 'failed', 'undelivered', 'delivery_rate', 'segments', 'estimated_cost_usd', 'daily_cap_usd'],
        rows: rows.map((r) => [r.day as string, n(r.messages), n(r.delivered), n(r.failed), n(r.undelivered), rate(n(r.delivered), settled(r)), n(r.segments), usd(r.cost), limits.dailySpendCapUsd || null]),
      };
    }
    case 'types': {
      const rows = await rawRows<Record<string, unknown>>(db, sql`
        select type, count(*) as messages, count(*) filter (where status = 'delivered') as delivered,
          count(*) filter (where status = 'failed') as failed, count(*) filter (where status = 'undelivered') as undelivered,
          coalesce(sum(segments) filter (where twilio_sid is not null), 0) as segments,
          coalesce(sum(price_estimate) filter (where twilio_sid is not null), 0) as cost
        from sms_messages where ${period} group by type order by count(*) desc, type`);
      return {
        columns: ['type', 'messages', 'delivered', 'failed', 'undelivered', 'delivery_rate', 'segments', 'estimated_cost_usd'],
        rows: rows.map((r) => [r.type as string, n(r.messages), n(r.delivered), n(r.failed), n(r.undelivered), rate(n(r.delivered), settled(r)), n(r.segments), usd(r.cost)]),
      };
    }
    case 'errors': {
      const rows = await rawRows<Record<string, unknown>>(db, sql`
        select error_code, count(*) as messages from sms_messages
        where ${period} and status in ('failed', 'undelivered') group by error_code order by count(*) desc, error_code`);
      return {
        columns: ['error_code', 'meaning', 'messages', 'fix'],
        rows: rows.map((r) => {
          const code = r.error_code === null ? null : n(r.error_code);
          const known = code === null ? undefined : explainTwilioError(code);
          return [code, known?.title ?? (code === null ? 'no code given' : 'unknown code'), n(r.messages), known?.fix ?? null];
        }),
      };
    }
    case 'months': {
      const rows = await rawRows<Record<string, unknown>>(db, sql`
        select to_char(date_trunc('month', created_at at time zone 'UTC'), 'YYYY-MM') as month, count(*) as messages,
          coalesce(sum(segments) filter (where twilio_sid is not null), 0) as segments,
          coalesce(sum(price_estimate) filter (where twilio_sid is not null), 0) as cost
        from sms_messages where ${period} group by 1 order by 1`);
      return {
        columns: ['month', 'messages', 'segments', 'estimated_cost_usd', 'monthly_cap_usd'],
        rows: rows.map((r) => {
          const [year, month] = String(r.month).split('-').map(Number);
          const days = new Date(Date.UTC(year ?? 1970, month ?? 1, 0)).getUTCDate();
          return [r.month as string, n(r.messages), n(r.segments), usd(r.cost), limits.dailySpendCapUsd ? limits.dailySpendCapUsd * days : null];
        }),
      };
    }
    case 'recipients': {
      const rows = await rawRows<Record<string, unknown>>(db, sql`
        select m.to_number, u.username, count(*) as messages, coalesce(sum(m.segments), 0) as segments, coalesce(sum(m.price_estimate), 0) as cost
        from sms_messages m left join users u on u.id = m.user_id
        where m.created_at >= ${from}::timestamptz and m.created_at < ${to}::timestamptz
        group by m.to_number, u.username order by count(*) desc, m.to_number limit 20`);
      return {
        columns: ['number', 'customer', 'messages', 'segments', 'estimated_cost_usd'],
        rows: rows.map((r) => [maskPhoneNumber(String(r.to_number)), (r.username as string | null) ?? null, n(r.messages), n(r.segments), usd(r.cost)]),
      };
    }
    case 'optouts': {
      const rows = await rawRows<Record<string, unknown>>(db, sql`
        select to_char(received_at at time zone 'UTC', 'YYYY-MM-DD') as day,
          count(*) filter (where keyword = 'opt_out') as opt_outs, count(*) filter (where keyword = 'opt_in') as opt_ins
        from sms_inbound where received_at >= ${from}::timestamptz and received_at < ${to}::timestamptz
        group by 1 order by 1`);
      return { columns: ['day', 'stop_replies', 'start_replies'], rows: rows.map((r) => [r.day as string, n(r.opt_outs), n(r.opt_ins)]) };
    }
    case 'codes': {
      // A code is used when its challenge was consumed and no newer code for the same purpose
      // replaced it at that moment (a resend consumes the code it replaces).
      const rows = await rawRows<Record<string, unknown>>(db, sql`
        select o.purpose, count(*) filter (where o.code_hash is not null) as sent,
          count(*) filter (where o.consumed_at is not null and o.code_hash is not null and not exists (
            select 1 from otp_challenges r where r.user_id = o.user_id and r.purpose = o.purpose and r.created_at > o.created_at and r.created_at <= o.consumed_at)) as used
        from otp_challenges o where o.created_at >= ${from}::timestamptz and o.created_at < ${to}::timestamptz
        group by o.purpose order by o.purpose`);
      return {
        columns: ['purpose', 'codes_sent', 'codes_used', 'conversion'],
        rows: rows.map((r) => [r.purpose as string, n(r.sent), n(r.used), rate(n(r.used), n(r.sent))]),
      };
    }
  }
}

/** Every table of the range, and the totals the page's cards show. */
export async function analytics(db: Queryable, limits: Pick<SmsLimits, 'dailySpendCapUsd'>, range: AnalyticsRange) {
  const tables = Object.fromEntries(await Promise.all(ANALYTICS_TABLES.map(async (name) => [name, await analyticsTable(db, limits, range, name)] as const))) as Record<AnalyticsTableName, AnalyticsTable>;
  const days = tables.days.rows;
  const sum = (i: number) => days.reduce((s, r) => s + n(r[i]), 0);
  const delivered = sum(2);
  const settledTotal = delivered + sum(3) + sum(4);
  return {
    from: range.from.toISOString().slice(0, 10),
    to: range.to.toISOString().slice(0, 10),
    codeTypes: CODE_TYPES,
    totals: { messages: sum(1), delivered, deliveryRate: rate(delivered, settledTotal), segments: sum(6), estimatedCostUsd: usd(days.reduce((s, r) => s + n(r[7]), 0)) },
    tables,
  };
}
