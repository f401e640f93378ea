// The staff message log: every SMS (sms_messages) and every email (notifications on the email
// channel), newest first, filtered by customer, type, status, lane, date range and Twilio error
// code, in keyset pages on (created_at, id) so a page costs the same at row 10 and at row
// 10,000,000. Each message opens its timeline: created, the policy decision with its reason and
// limit, each provider attempt, each status with what reported it (callback, status check, the
// send's answer, a lost send's recovery), and the error with its meaning and fix. Bodies are the logged ones (codes already masked as ******).
import { and, asc, eq, sql, type SQL } from 'drizzle-orm';
import type { Config } from '../config.ts';
import { rawRows, type Queryable } from '../db/connection.ts';
import { isUuid } from '../db/ids.ts';
import { notifications, smsDeliveryAttempts, smsMessages, smsStatusHistory, users } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import type { SmsLane } from '../jobs/registry.ts';
import { NOTIFICATION_TYPE_IDS, isNotificationType, notificationType } from '../notifications/catalogue.ts';
import { maskPhoneNumber } from '../sms/phone.ts';
import { STATUS_SOURCE_LABELS, type StatusSource } from '../sms/status-source.ts';
import { explainTwilioError } from '../sms/twilio-errors.ts';

export const MAX_MESSAGE_PAGE = 200;
export const MESSAGE_LANES = ['sms.critical', 'sms.standard', 'sms.bulk', 'email'] as const;
export type MessageLane = (typeof MESSAGE_LANES)[number];

export interface MessageFilter {
  /** Username of the customer. */
  customer?: string;
  type?: string;
  status?: string;
  lane?: MessageLane;
  from?: Date;
  to?: Date;
  errorCode?: number;
  /** An opaque cursor from an earlier page: messages strictly older than its last one. */
  before?: string;
  limit: number;
}

export interface MessageView {
  id: string;
  channel: 'sms' | 'email';
  type: string;
  lane: string;
  customer: string | null;
  /** SMS: the number's last 4; email: null (the customer's address on file). */
  destination: string | null;
  status: string;
  errorCode: number | null;
  /** SMS: Twilio's error text; email: the notification's reason. */
  detail: string | null;
  segments: number | null;
  estimatedCostUsd: number | null;
  createdAt: string;
}

function laneOf(channel: string, type: string): string {
  if (channel === 'email') return 'email';
  return isNotificationType(type) ? notificationType(type).lane : 'sms.standard';
}

function typesOfLane(lane: SmsLane): string[] {
  return NOTIFICATION_TYPE_IDS.filter((id) => notificationType(id).lane === lane);
}

export function encodeCursor(at: string, id: string): string {
  return Buffer.from(JSON.stringify([at, id])).toString('base64url');
}

function decodeCursor(cursor: string): { at: string; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof at === 'string' && typeof id === 'string' && isUuid(id) && !Number.isNaN(Date.parse(at))) return { at, id };
  } catch { /* answered below */ }
  throw new AppError('validation_failed', 'before: not a cursor this server gave; use the nextCursor of the previous page, or leave it out for the newest messages.');
}

interface LogRow {
  id: string;
  channel: 'sms' | 'email';
  type: string;
  username: string | null;
  destination: string | null;
  status: string;
  error_code: number | null;
  detail: string | null;
  segments: number | null;
  price_estimate: string | null;
  created_at: string | Date;
  cursor_at: string;
}

/** One page of the log, newest first, and the cursor of the next page (null on the last). */
export async function listMessages(db: Queryable, filter: MessageFilter): Promise<{ messages: MessageView[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(1, filter.limit), MAX_MESSAGE_PAGE);
  const common = (table: 'm' | 'n'): SQL[] => {
    const t = sql.raw(table);
    const out: SQL[] = [];
    if (filter.from) out.push(sql`${t}.created_at >= ${filter.from.toISOString()}::timestamptz`);
    if (filter.to) out.push(sql`${t}.created_at < ${filter.to.toISOString()}::timestamptz`);
    if (filter.type) out.push(sql`${t}.type = ${filter.type}`);
    if (filter.status) out.push(sql`${t}.status = ${filter.status}`);
    if (filter.customer) out.push(sql`${t}.user_id = (select id from users where username = ${filter.customer})`);
    if (filter.before) {
      const { at, id } = decodeCursor(filter.before);
      out.push(sql`(${t}.created_at, ${t}.id) < (${at}::timestamptz, ${id}::uuid)`);
    }
    return out;
  };
  const wantSms = filter.lane !== 'email';
  const wantEmail = (filter.lane === undefined || filter.lane === 'email') && filter.errorCode === undefined;
  const branches: SQL[] = [];
  if (wantSms) {
    const where = common('m');
    if (filter.lane) where.push(sql`m.type in (${sql.join(typesOfLane(filter.lane as SmsLane).map((t) => sql`${t}`), sql`, `)})`);
    if (filter.errorCode !== undefined) where.push(sql`m.error_code = ${filter.errorCode}`);
    branches.push(sql`(select m.id, 'sms' as channel, m.type, m.user_id, m.to_number as destination, m.status, m.error_code,
      m.error_message as detail, m.segments, m.price_estimate, m.created_at from sms_messages m
      ${where.length ? sql`where ${sql.join(where, sql` and `)}` : sql``} order by m.created_at desc, m.id desc limit ${limit + 1})`);
  }
  if (wantEmail) {
    const where = [sql`n.channel = 'email'`, ...common('n')];
    branches.push(sql`(select n.id, 'email' as channel, n.type, n.user_id, null::text as destination, n.status, null::integer as error_code,
      n.reason as detail, null::integer as segments, null::numeric as price_estimate, n.created_at from notifications n
      where ${sql.join(where, sql` and `)} order by n.created_at desc, n.id desc limit ${limit + 1})`);
  }
  const rows = await rawRows<LogRow>(db, sql`
    select x.id, x.channel, x.type, u.username, x.destination, x.status, x.error_code, x.detail, x.segments, x.price_estimate,
      x.created_at, x.created_at::text as cursor_at
    from (${sql.join(branches, sql` union all `)}) x left join users u on u.id = x.user_id
    order by x.created_at desc, x.id desc limit ${limit + 1}`);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    nextCursor: rows.length > limit && last ? encodeCursor(last.cursor_at, last.id) : null,
    messages: page.map((r) => ({
      id: r.id, channel: r.channel, type: r.type, lane: laneOf(r.channel, r.type), customer: r.username,
      destination: r.destination ? maskPhoneNumber(r.destination) : null, status: r.status,
      errorCode: r.error_code === null ? null : Number(r.error_code), detail: r.detail,
      segments: r.segments === null ? null : Number(r.segments),
      estimatedCostUsd: r.price_estimate === null ? null : Number(r.price_estimate),
      createdAt: new Date(r.created_at).toISOString(),
    })),
  };
}

export interface TimelineStep {
  at: string;
  /** created, policy, attempt, status, error */
  kind: string;
  title: string;
  detail: string | null;
  /** For a status step: what reported it (callback, status_check, send_answer, lost_send_recovery); null for the worker's own steps. */
  source?: StatusSource | null;
}

export interface MessageTimeline {
  message: MessageView & { body: string | null; twilioSid: string | null; attempts: number };
  steps: TimelineStep[];
  /** The final error's meaning and fix, from the Twilio error table. */
  error: { code: number; title: string; fix: string } | null;
}

/** What a limit in a reason means with this deployment's numbers, e.g. "10 SMS per customer per hour". */
function limitMeaning(reason: string, config: Pick<Config, 'limits'>): string | null {
  const l = config.limits;
  const known: Record<string, string> = {
    user_hourly_limit: `SMS_USER_HOURLY_LIMIT: ${l.userHourly} SMS per customer per hour`,
    user_daily_limit: `SMS_USER_DAILY_LIMIT: ${l.userDaily} SMS per customer per day`,
    global_hourly_limit: `SMS_GLOBAL_HOURLY_LIMIT: ${l.globalHourly} SMS per hour for the bank`,
    daily_spend_cap: `SMS_DAILY_SPEND_CAP_USD: $${l.dailySpendCapUsd} a day`,
    quiet_hours: "the customer's quiet hours",
  };
  const name = Object.keys(known).find((k) => reason.includes(k));
  return name ? known[name] ?? null : null;
}

function decision(row: { status: string; reason: string | null; holdUntil: Date | null }, config: Pick<Config, 'limits'>): { title: string; detail: string | null } {
  const reason = row.reason;
  const limit = reason ? limitMeaning(reason, config) : null;
  const why = reason ? `${reason}${limit ? ` (limit: ${limit})` : ''}` : null;
  if (row.status === 'held') return { title: `held until ${row.holdUntil?.toISOString() ?? 'the limit resets'}`, detail: why };
  if (row.status === 'skipped' && reason?.startsWith('moved_to_email')) return { title: 'moved to email', detail: why };
  if (row.status === 'skipped') return { title: 'skipped', detail: why };
  if (reason?.startsWith('moved_to_sms')) return { title: 'moved to SMS', detail: why };
  if (reason === 'explicit_number') return { title: 'sent now, to the number named (past the policy step)', detail: why };
  return { title: reason ? 'sent now, after waiting' : 'sent now', detail: why };
}

const STEP_ORDER = ['created', 'policy', 'attempt', 'status', 'error'];
const STATUS_ORDER = ['pending', 'queued', 'sending', 'retrying', 'sent', 'delivered', 'undelivered', 'failed', 'expired', 'canceled'];

/** The message and its timeline; an unknown id is 404. */
export async function messageTimeline(db: Queryable, config: Pick<Config, 'limits'>, id: string): Promise<MessageTimeline> {
  const missing = new AppError('not_found', 'No message with this id. The message log lists them.');
  if (!isUuid(id)) throw missing;
  const [sms] = await db.select().from(smsMessages).where(eq(smsMessages.id, id));
  const steps: TimelineStep[] = [];
  const at = (d: Date) => d.toISOString();
  if (!sms) {
    const [email] = await db.select().from(notifications).where(and(eq(notifications.id, id), eq(notifications.channel, 'email')));
    if (!email) throw missing;
    const [owner] = await db.select({ username: users.username }).from(users).where(eq(users.id, email.userId));
    steps.push({ at: at(email.createdAt), kind: 'created', title: `email notification ${email.type} created`, detail: null });
    const d = decision(email, config);
    steps.push({ at: at(email.updatedAt), kind: 'policy', title: `${email.status}: ${d.title}`, detail: d.detail ?? (email.attempts ? `${email.attempts} send attempt(s)` : null) });
    return {
      message: {
        id: email.id, channel: 'email', type: email.type, lane: 'email', customer: owner?.username ?? null, destination: null,
        status: email.status, errorCode: null, detail: email.reason, segments: null, estimatedCostUsd: null, createdAt: at(email.createdAt),
        body: null, twilioSid: null, attempts: email.attempts,
      },
      steps,
      error: null,
    };
  }
  const [owner] = sms.userId ? await db.select({ username: users.username }).from(users).where(eq(users.id, sms.userId)) : [];
  const [notice] = await db.select().from(notifications).where(eq(notifications.smsMessageId, id)).limit(1);
  const attempts = await db.select().from(smsDeliveryAttempts).where(eq(smsDeliveryAttempts.smsMessageId, id)).orderBy(asc(smsDeliveryAttempts.attempt));
  const history = await db.select().from(smsStatusHistory).where(eq(smsStatusHistory.smsMessageId, id)).orderBy(asc(smsStatusHistory.at), asc(smsStatusHistory.id));

  steps.push({ at: at(sms.createdAt), kind: 'created', title: `queued on ${laneOf('sms', sms.type)}`, detail: `${sms.segments} segment(s), ${sms.encoding}, estimated $${Number(sms.priceEstimate).toFixed(4)}` });
  if (notice) {
    const d = decision(notice, config);
    steps.push({ at: at(notice.createdAt), kind: 'policy', title: d.title, detail: d.detail });
  } else if (sms.otpChallengeId) {
    steps.push({ at: at(sms.createdAt), kind: 'policy', title: 'sent now: a one-time code goes at once (its limits were checked when it was asked for)', detail: sms.sendBefore ? `not sent after ${at(sms.sendBefore)}` : null });
  } else {
    steps.push({ at: at(sms.createdAt), kind: 'policy', title: 'sent now: an operator or test message, past the policy step', detail: null });
  }
  for (const a of attempts) {
    const code = a.twilioCode === null ? '' : ` (Twilio ${a.twilioCode})`;
    steps.push({ at: at(a.startedAt), kind: 'attempt', title: `attempt ${a.attempt}: ${a.outcome}${code}`, detail: a.errorMessage ?? `answered in ${a.finishedAt.getTime() - a.startedAt.getTime()} ms` });
  }
  for (const h of history) {
    if (['sending', 'retrying'].includes(h.status)) continue;
    const code = h.errorCode === null ? '' : ` (error ${h.errorCode})`;
    const source = h.source !== null && h.source in STATUS_SOURCE_LABELS ? h.source as StatusSource : null;
    const from = h.previousStatus ? `from ${h.previousStatus}` : null;
    const by = source ? `reported by ${STATUS_SOURCE_LABELS[source]}` : h.previousStatus ? 'set by our worker' : null;
    steps.push({ at: at(h.at), kind: 'status', title: `status ${h.status}${code}`, detail: [from, by].filter(Boolean).join(', ') || null, source });
  }
  const explained = sms.errorCode === null ? undefined : explainTwilioError(sms.errorCode);
  const error = sms.errorCode === null ? null : { code: sms.errorCode, title: explained?.title ?? sms.errorMessage ?? 'Unknown error', fix: explained?.fix ?? 'No explanation on file for this code: look it up at twilio.com/docs/api/errors.' };
  if (error) steps.push({ at: at(sms.updatedAt), kind: 'error', title: `error ${error.code}: ${error.title}`, detail: error.fix });
  // Steps of one instant (a held test clock, a fast simulator) in the order they happen.
  const order = (step: TimelineStep) => STEP_ORDER.indexOf(step.kind) * 100 + STATUS_ORDER.findIndex((status) => step.kind === 'status' && step.title.startsWith(`status ${status}`));
  steps.sort((a, b) => a.at.localeCompare(b.at) || order(a) - order(b));
  return {
    message: {
      id: sms.id, channel: 'sms', type: sms.type, lane: laneOf('sms', sms.type), customer: owner?.username ?? null,
      destination: maskPhoneNumber(sms.toNumber), status: sms.status, errorCode: sms.errorCode, detail: sms.errorMessage,
      segments: sms.segments, estimatedCostUsd: Number(sms.priceEstimate), createdAt: at(sms.createdAt),
      body: sms.bodyRedacted, twilioSid: sms.twilioSid, attempts: sms.attempts,
    },
    steps,
    error,
  };
}

