// The one way a customer's phone number changes, whoever changes it: the customer (after proving
// the new number with a code, src/users/phone-change.ts), staff on the console's profile page, or
// an operator with `dominion users set-phone`. A number moved silently is how a SIM swap or an
// insider takes an account, so every change here, in the transaction that makes it: tells the old
// number and the email at once (phone.changed -> phone_changed), is audited, marks a number set by
// anyone but its owner unverified, and starts the cooling-off period during which large transfers
// and new payees wait (PHONE_CHANGE_COOLING_OFF, src/bank/cooling-off.ts).
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { otpChallenges, userProfiles } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { recordEvent } from '../events/events.ts';
import { notifyUser } from '../notifications/send.ts';
import { maskPhoneNumber, normalisePhoneNumber } from '../sms/phone.ts';
import { phonePolicyFor } from '../sms/phone-policy.ts';
import { phoneVerifiedByOther } from './registration.ts';
import { findUserById, normaliseUserPhone, requireUserByUsername, type UserSummary } from './users.ts';

type PhoneNumberContext = Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'>;

export const NUMBER_TAKEN = 'This mobile number is already verified by another customer: use a number of their own for each customer.';

export interface PhoneNumberChange {
  userId: string;
  /** E.164, normalised by the caller; null removes the number. */
  phoneNumber: string | null;
  /** True only when the customer proved the number with a code sent to it. */
  verified: boolean;
  actor: Actor;
}

export interface PhoneNumberChanged {
  user: UserSummary;
  previous: string | null;
  changed: boolean;
  /** Whether the number it replaced was sent the notice. */
  previousNumberTold: boolean;
}

/** False for an old number the bank may no longer text (its country since taken off the list). */
function textable(config: PhoneNumberContext['config'], e164: string): boolean {
  try {
    normalisePhoneNumber(e164, phonePolicyFor(config));
    return true;
  } catch {
    return false;
  }
}

const last4 = (e164: string | null) => (e164 ? maskPhoneNumber(e164) : null);

/** Changes the number in `tx` (see the file comment). Setting the same number again changes nothing. */
export async function changePhoneNumber(ctx: PhoneNumberContext, tx: Queryable, input: PhoneNumberChange): Promise<PhoneNumberChanged> {
  const now = ctx.clock.now();
  const next = input.phoneNumber;
  if (next) {
    // The lock registration takes too: two customers claiming one number at once see each other.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`verified-phone:${next}`}, 0))`);
    if (await phoneVerifiedByOther(tx, next, input.userId)) throw new AppError('conflict', NUMBER_TAKEN);
  }
  const [profile] = await tx.select().from(userProfiles).where(eq(userProfiles.userId, input.userId)).for('update');
  const user = await findUserById(tx, input.userId);
  if (!user) throw new AppError('not_found', 'No such customer.');
  const previous = profile?.phoneNumber ?? null;
  const wasVerified = Boolean(profile?.phoneVerifiedAt);
  if (previous === next && (wasVerified || !input.verified)) return { user, previous, changed: false, previousNumberTold: false };

  const phoneVerifiedAt = input.verified ? now : null;
  const changedAt = previous === next ? profile?.phoneChangedAt ?? null : now;
  await tx.insert(userProfiles).values({ userId: input.userId, phoneNumber: next, phoneVerifiedAt, phoneChangedAt: changedAt, updatedAt: now })
    .onConflictDoUpdate({ target: userProfiles.userId, set: { phoneNumber: next, phoneVerifiedAt, phoneChangedAt: changedAt, updatedAt: now } });
  // A code on its way to a number for a change in progress no longer proves anything.
  await tx.update(otpChallenges).set({ consumedAt: now })
    .where(and(eq(otpChallenges.userId, input.userId), eq(otpChallenges.purpose, 'phone_change'), isNull(otpChallenges.consumedAt)));

  let previousNumberTold = false;
  if (previous !== next && next) {
    const values = { phone_last4: next.slice(-4), time: now };
    previousNumberTold = previous !== null && textable(ctx.config, previous);
    // The profile now holds the new number: this notice goes there and by email (the customer's channels).
    const event = await recordEvent(ctx, tx, {
      userId: input.userId, type: 'phone.changed',
      payload: { phoneLast4: next.slice(-4), previousLast4: previous ? previous.slice(-4) : null, previousNumberTold },
      notify: [{ type: 'phone_changed', values }],
    });
    // The old number is no longer the profile's: addressed explicitly, under its own key.
    if (previousNumberTold && previous) {
      await notifyUser(ctx, tx, { userId: input.userId, type: 'phone_changed', values, to: previous, eventKey: `event:${event.id}:previous-number` });
    }
  }
  await recordAudit(tx, {
    actor: input.actor, action: 'phone.changed', subject: `user:${user.username}`, subjectUserId: user.id, at: now,
    before: { phone: last4(previous), verified: wasVerified },
    after: { phone: last4(next), verified: input.verified, previousNumberTold },
  });
  return { user: { ...user, phoneNumber: next, phoneVerifiedAt }, previous, changed: true, previousNumberTold };
}

/**
 * Staff and the CLI: sets (or, with null or "", removes) a customer's number as typed, normalised
 * as everywhere (region, allowed countries). The new number is unverified until the customer
 * confirms a code sent to it.
 */
export async function setPhoneNumber(
  ctx: PhoneNumberContext, who: { username: string } | { userId: string }, input: string | null, actor: Actor,
): Promise<UserSummary> {
  const phoneNumber = input === null || input.trim() === '' ? null : normaliseUserPhone(ctx.config, input);
  return ctx.db.transaction(async (tx) => {
    const user = 'username' in who ? await requireUserByUsername(tx, who.username) : await findUserById(tx, who.userId);
    if (!user) throw new AppError('not_found', 'No customer with this id.');
    return (await changePhoneNumber(ctx, tx, { userId: user.id, phoneNumber, verified: false, actor })).user;
  });
}
