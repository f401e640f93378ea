// Queues an SMS: one message-log row and its send job, written in the caller's transaction so the
// change that caused the message, the message and its job commit (or vanish) together.
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { randomUUID } from 'node:crypto';
import { insertRows } from '../db/bulk.ts';
import { smsMessages } from '../db/schema.ts';
import type { SmsLane } from '../jobs/registry.ts';
import { CODE_MASK } from '../otp/challenges.ts';
import { analyseSmsBody } from './segments.ts';

/** Placeholder a code message's body carries where the worker puts the freshly minted code. */
export const CODE_PLACEHOLDER = '{code}';

export interface SmsRequest {
  /** Notification type, a catalogue id, e.g. two_factor_code, new_device_login, test_message. */
  type: string;
  lane: SmsLane;
  userId?: string | null;
  /** E.164, already normalised and allowed. */
  to: string;
  /** ISO country of `to`, for per-country prices. */
  country?: string;
  /** The text; for code messages it contains CODE_PLACEHOLDER once. */
  body: string;
  /** Set for code messages: the challenge whose code the worker mints into the body. */
  otpChallengeId?: string;
  /** Not sent after this instant (a code's expiry). */
  sendBefore?: Date;
}

export interface QueuedSms {
  id: string;
  segments: number;
  encoding: string;
  estimatedPrice: number;
}

type OutboxContext = Pick<AppContext, 'jobs' | 'config' | 'clock'>;

function messageRow(ctx: OutboxContext, request: SmsRequest, now: Date) {
  if (request.otpChallengeId && !request.body.includes(CODE_PLACEHOLDER)) {
    throw new Error(`a code message body must contain ${CODE_PLACEHOLDER}`);
  }
  const bodyRedacted = request.body.replace(CODE_PLACEHOLDER, CODE_MASK);
  // A code is as long as its mask, so the mask gives the true segment count.
  const analysis = analyseSmsBody(bodyRedacted.replace(CODE_MASK, '000000'), ctx.config.pricing, request.country);
  const row = {
    type: request.type,
    userId: request.userId ?? null,
    toNumber: request.to,
    bodyRedacted,
    encoding: analysis.encoding,
    segments: analysis.segments,
    priceEstimate: analysis.estimatedPrice.toFixed(5),
    otpChallengeId: request.otpChallengeId ?? null,
    sendBefore: request.sendBefore ?? null,
    createdAt: now,
    updatedAt: now,
  } satisfies typeof smsMessages.$inferInsert;
  return { row, analysis };
}

export async function queueSms(ctx: OutboxContext, tx: Queryable, request: SmsRequest): Promise<QueuedSms> {
  const { row: values, analysis } = messageRow(ctx, request, ctx.clock.now());
  const [row] = await tx.insert(smsMessages).values(values).returning({ id: smsMessages.id });
  if (!row) throw new Error('insert returned no row');
  await ctx.jobs.send(tx, request.lane, { messageId: row.id });
  return { id: row.id, segments: analysis.segments, encoding: analysis.encoding, estimatedPrice: analysis.estimatedPrice };
}

/**
 * Queues many messages of one lane (digests, bulk alerts): rows in chunks of one parameter each
 * (insertRows: any size passes PostgreSQL's bind-parameter limit), their jobs in one insert
 * (pg-boss passes them as one JSON parameter too). Ids come back in the order of `requests`.
 */
export async function queueSmsMany(ctx: OutboxContext, tx: Queryable, lane: SmsLane, requests: Omit<SmsRequest, 'lane'>[]): Promise<string[]> {
  if (!requests.length) return [];
  const now = ctx.clock.now();
  const values = requests.map((r) => ({ id: randomUUID(), ...messageRow(ctx, { ...r, lane }, now).row }));
  await insertRows(tx, smsMessages, values);
  const ids = values.map((v) => v.id);
  await ctx.jobs.sendMany(tx, lane, ids.map((id) => ({ messageId: id })));
  return ids;
}

/**
 * Queues messages of any lanes (a batch of policy steps): rows in bulk, their jobs one insert per
 * lane; the result is in the order of `requests`, each with its lane.
 *
 * `carriedLane`: messages of that lane get no job, the caller sends them itself. Only a job that
 * is still running and that runs again if its worker dies may carry them (the worker's policy
 * step, src/notifications/dispatch-batch.ts): its rerun sends what a crash left unsent.
 */
export async function queueSmsEach(ctx: OutboxContext, tx: Queryable, requests: readonly SmsRequest[], options: { carriedLane?: SmsLane } = {}): Promise<(QueuedSms & { lane: SmsLane })[]> {
  if (!requests.length) return [];
  const now = ctx.clock.now();
  const built = requests.map((r) => ({ lane: r.lane, ...messageRow(ctx, r, now), id: randomUUID() }));
  await insertRows(tx, smsMessages, built.map((b) => ({ id: b.id, ...b.row })));
  const lanes = new Map<SmsLane, { messageId: string }[]>();
  for (const b of built) {
    if (b.lane !== options.carriedLane) lanes.set(b.lane, [...(lanes.get(b.lane) ?? []), { messageId: b.id }]);
  }
  for (const [lane, jobs] of lanes) await ctx.jobs.sendMany(tx, lane, jobs);
  return built.map((b) => ({ id: b.id, lane: b.lane, segments: b.analysis.segments, encoding: b.analysis.encoding, estimatedPrice: b.analysis.estimatedPrice }));
}
