// What permanent delivery failures taught us about a phone number: its owner opted out (replied
// STOP to us, or blocks us) or it cannot receive SMS at all. Notifications for a marked number go
// by email instead of being sent to fail again. An opt-out is marked at the first refusal (Twilio
// will refuse every further message); 'cannot receive SMS' only after SMS_UNREACHABLE_AFTER such
// failures in a row, since one carrier answer can be wrong. The moment a number is marked
// unreachable, a job is queued in the same transaction that emails its owner, once, how to fix it. Kept per number, not per customer, so a customer
// who changes their number starts clean; a later delivered message lifts a mark learnt from a
// failure (they texted START, or the carrier fixed it). An opt-out the customer texted us (STOP,
// see src/sms/inbound.ts) is their explicit wish: only their START lifts it, never a delivery
// (codes still go to an opted-out number, and with several sender numbers one may still deliver).
import { and, eq, isNull, not, or, sql } from 'drizzle-orm';
import type { Config } from '../config.ts';
import type { AppContext } from '../context.ts';
import { rawRows, type Queryable } from '../db/connection.ts';
import { phoneStatus } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { normalisePhoneNumber, type NormalisedPhoneNumber } from './phone.ts';
import { phonePolicyFor } from './phone-policy.ts';
import { describeTwilioError } from './twilio-errors.ts';

/** Refused by the recipient: 21610 replied STOP, 30004 blocked by them or their carrier. */
const OPTED_OUT: ReadonlySet<number> = new Set([21610, 30004]);
/**
 * The number cannot take SMS: invalid, not mobile, unknown to the carrier, landline. 30003
 * (handset off or out of coverage) is left out on purpose: it passes when the phone is back.
 */
const UNREACHABLE: ReadonlySet<number> = new Set([21211, 21217, 21407, 21421, 21612, 21614, 30005, 30006]);

export type PhoneProblem = 'opted_out' | 'unreachable';

/** The reason of an opt-out the customer texted, e.g. "replied STOP". */
const REPLY_REASON_PREFIX = 'replied ';
/** The reason of an opt-out the customer chose in the app (the SMS preference): as explicit as a STOP. */
export const CHOSEN_OPT_OUT_REASON = 'chose no SMS in the app';
/** Opt-outs the customer asked for themselves: only their own opt-in lifts them, never a delivery. */
const explicitReason = () => sql`(${phoneStatus.reason} like ${`${REPLY_REASON_PREFIX}%`} or ${phoneStatus.reason} = ${CHOSEN_OPT_OUT_REASON})`;

export interface PhoneStatus {
  phoneNumber: string;
  optedOutAt: Date | null;
  /** Marked unreachable (after SMS_UNREACHABLE_AFTER failures in a row); null while not. */
  unreachableAt: Date | null;
  reason: string | null;
  /** Failures in a row that say the number cannot take SMS; a delivery resets them. */
  permanentFailures?: number;
}

export function phoneProblemOf(twilioCode: number | null): PhoneProblem | undefined {
  if (twilioCode === null) return undefined;
  if (OPTED_OUT.has(twilioCode)) return 'opted_out';
  if (UNREACHABLE.has(twilioCode)) return 'unreachable';
  return undefined;
}

/** What marking a number needs: the threshold, and the queue for the owner's email. */
export type MarkContext = Pick<AppContext, 'config' | 'jobs'>;

/**
 * Counts a failure that says something lasting about the number and marks it when that holds:
 * an opt-out at once, 'unreachable' at the SMS_UNREACHABLE_AFTER-th failure in a row. Returns
 * the problem the number is now marked with, if any.
 */
export async function markPhoneFromFailure(
  ctx: MarkContext, db: Queryable, phoneNumber: string, twilioCode: number | null, now: Date,
): Promise<PhoneProblem | undefined> {
  const problem = phoneProblemOf(twilioCode);
  if (!problem) return undefined;
  const reason = describeTwilioError(twilioCode!);
  // A texted STOP keeps its reason, so that a later delivery cannot mistake it for a failure mark.
  const keepReply = sql`case when ${explicitReason()} then ${phoneStatus.reason} else excluded.reason end`;
  if (problem === 'opted_out') {
    const set = { optedOutAt: now, reason, updatedAt: now };
    await db.insert(phoneStatus).values({ phoneNumber, ...set }).onConflictDoUpdate({ target: phoneStatus.phoneNumber, set: { ...set, reason: keepReply } });
    return problem;
  }
  // One statement counts the failure and marks the number at the threshold; the row lock makes
  // concurrent failures count one by one, so exactly one of them marks it (and queues the email).
  const after = ctx.config.smsUnreachableAfter;
  const stamp = now.toISOString();
  const [row] = await rawRows<{ unreachable_at: string | Date | null; newly: boolean }>(db, sql`
    insert into phone_status (phone_number, reason, updated_at, permanent_failures, unreachable_at)
    values (${phoneNumber}, ${reason}, ${stamp}::timestamptz, 1, case when 1 >= ${after}::int then ${stamp}::timestamptz end)
    on conflict (phone_number) do update set
      permanent_failures = phone_status.permanent_failures + 1,
      updated_at = excluded.updated_at,
      reason = case when phone_status.reason like ${`${REPLY_REASON_PREFIX}%`} or phone_status.reason = ${CHOSEN_OPT_OUT_REASON}
        then phone_status.reason else excluded.reason end,
      unreachable_at = coalesce(phone_status.unreachable_at,
        case when phone_status.permanent_failures + 1 >= ${after}::int then excluded.updated_at end)
    returning unreachable_at, (unreachable_at = ${stamp}::timestamptz and unreachable_notified_at is null) as newly`);
  if (!row?.unreachable_at) return undefined;
  if (row.newly) await ctx.jobs.send(db, 'phone.unreachable', { phoneNumber, markedAt: stamp });
  return 'unreachable';
}

export async function findPhoneStatus(db: Queryable, phoneNumber: string): Promise<PhoneStatus | undefined> {
  const [row] = await db.select().from(phoneStatus).where(eq(phoneStatus.phoneNumber, phoneNumber));
  return row;
}

/** The problem that stops notification SMS to this number, if any. */
export function problemOf(status: PhoneStatus | undefined): PhoneProblem | undefined {
  if (status?.optedOutAt) return 'opted_out';
  if (status?.unreachableAt) return 'unreachable';
  return undefined;
}

/** A message reached the number: marks learnt from failures no longer hold; a texted STOP does. */
export async function clearPhoneStatus(db: Queryable, phoneNumber: string): Promise<void> {
  const texted = and(eq(phoneStatus.phoneNumber, phoneNumber), explicitReason());
  await db.delete(phoneStatus).where(and(eq(phoneStatus.phoneNumber, phoneNumber), or(isNull(phoneStatus.reason), not(explicitReason()))));
  await db.update(phoneStatus).set({ unreachableAt: null, permanentFailures: 0, unreachableNotifiedAt: null }).where(texted);
}

/** The customer texted an opt-out keyword: no notification SMS to this number until they opt in. */
export async function recordTextedOptOut(db: Queryable, phoneNumber: string, keyword: string, now: Date): Promise<void> {
  const set = { optedOutAt: now, reason: `${REPLY_REASON_PREFIX}${keyword}`, updatedAt: now };
  await db.insert(phoneStatus).values({ phoneNumber, ...set }).onConflictDoUpdate({ target: phoneStatus.phoneNumber, set });
}

/**
 * The customer texted an opt-in keyword (START): any opt-out lifts, whether texted or learnt from
 * 21610, since Twilio lifts its block on the same keyword. An unreachable mark stays.
 */
export async function recordTextedOptIn(db: Queryable, phoneNumber: string, now: Date): Promise<void> {
  await db.delete(phoneStatus).where(and(eq(phoneStatus.phoneNumber, phoneNumber), isNull(phoneStatus.unreachableAt)));
  await db.update(phoneStatus).set({ optedOutAt: null, updatedAt: now }).where(eq(phoneStatus.phoneNumber, phoneNumber));
}

/** The customer switched SMS off in the app: like a STOP, only their own opt-in lifts it. */
export async function recordChosenOptOut(db: Queryable, phoneNumber: string, now: Date): Promise<void> {
  const set = { optedOutAt: now, reason: CHOSEN_OPT_OUT_REASON, updatedAt: now };
  await db.insert(phoneStatus).values({ phoneNumber, ...set }).onConflictDoUpdate({ target: phoneStatus.phoneNumber, set });
}

/** Whether an opt-out was texted (STOP) or learnt from Twilio refusing the number (21610): only a START reply lifts those at Twilio. */
export function optOutNeedsStartReply(status: PhoneStatus | undefined): boolean {
  return Boolean(status?.optedOutAt) && status?.reason !== CHOSEN_OPT_OUT_REASON;
}

/** Why a customer's phone cannot take a notification SMS now. */
export type UnusablePhone = 'no_phone_number' | 'phone_not_allowed' | 'phone_opted_out' | 'phone_unreachable';

/**
 * The customer's number normalised, if it may be texted now; else why not. `known` is the number's
 * phone_status row when the caller already read it (undefined: none), saving the read.
 */
export async function usablePhoneNumber(
  db: Queryable, config: Config, phoneNumber: string | null, known?: { status: PhoneStatus | undefined },
): Promise<NormalisedPhoneNumber | UnusablePhone> {
  if (!phoneNumber) return 'no_phone_number';
  let phone: NormalisedPhoneNumber;
  try {
    // Re-checked at each send: a number stored before the allowed countries changed is refused.
    phone = normalisePhoneNumber(phoneNumber, phonePolicyFor(config));
  } catch (error) {
    if (error instanceof AppError) return 'phone_not_allowed';
    throw error;
  }
  const status = known && phone.e164 === phoneNumber ? known.status : await findPhoneStatus(db, phone.e164);
  const problem = problemOf(status);
  return problem ? `phone_${problem}` : phone;
}
