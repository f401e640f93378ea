// Finding a send a crashed worker left unrecorded. A worker killed while its request to Twilio was
// in flight (or after Twilio answered, before the answer was stored) leaves the message 'sending'
// with no SID; Twilio's Messages API has no idempotency key, so sending again could text the
// customer twice. Before sending such a message again, the worker looks for it among the latest
// messages to the number: the same body (a code's digits aside) under a SID no other row of the
// message log has. Found: it is recorded as sent. Not found: the request never reached Twilio.
// The same holds for a send whose request went unanswered (a timeout, a reset: 'no_answer').
import { desc, inArray } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { smsDeliveryAttempts, smsMessages } from '../db/schema.ts';
import { CODE_MASK } from '../otp/challenges.ts';
import type { ListedMessage } from './provider.ts';

/** Messages to the number looked at: far more than one customer gets in the 30 s before a reclaim. */
const LOOK_BACK = 50;

function bodyPattern(bodyRedacted: string): RegExp {
  const escaped = bodyRedacted.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escaped.replace(CODE_MASK.replace(/\*/g, '\\*'), '\\d{6}')}$`);
}

export async function findLostSend(
  ctx: Pick<AppContext, 'db' | 'provider'>,
  row: Pick<typeof smsMessages.$inferSelect, 'toNumber' | 'bodyRedacted'>,
): Promise<ListedMessage | undefined> {
  const pattern = bodyPattern(row.bodyRedacted);
  const candidates = (await ctx.provider.listMessagesTo(row.toNumber, LOOK_BACK)).filter((m) => pattern.test(m.body));
  if (!candidates.length) return undefined;
  const known = await ctx.db.select({ sid: smsMessages.twilioSid }).from(smsMessages).where(inArray(smsMessages.twilioSid, candidates.map((m) => m.sid)));
  const recorded = new Set(known.map((k) => k.sid));
  // Oldest unrecorded first: identical bodies lost together are matched one to one, in order.
  return candidates.filter((m) => !recorded.has(m.sid)).at(-1);
}

/** Of these claimed messages, those whose previous attempt went unanswered: they may be at Twilio already. */
export async function unansweredBefore(db: Queryable, rows: readonly Pick<typeof smsMessages.$inferSelect, 'id' | 'attempts'>[]): Promise<Set<string>> {
  const retried = rows.filter((r) => r.attempts > 1);
  if (!retried.length) return new Set();
  const found = await db.selectDistinctOn([smsDeliveryAttempts.smsMessageId], { id: smsDeliveryAttempts.smsMessageId, kind: smsDeliveryAttempts.errorKind })
    .from(smsDeliveryAttempts)
    .where(inArray(smsDeliveryAttempts.smsMessageId, retried.map((r) => r.id)))
    .orderBy(smsDeliveryAttempts.smsMessageId, desc(smsDeliveryAttempts.attempt));
  return new Set(found.filter((f) => f.kind === NO_ANSWER).map((f) => f.id));
}

/** The error kind of an attempt whose request may have reached Twilio unanswered. */
export const NO_ANSWER = 'no_answer';
