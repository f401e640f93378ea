// A signed-in customer changes their mobile number: a code goes to the NEW number, and only the
// right code switches the profile to it (verified). The change is announced to the new number and
// to the old one, which otherwise would never learn its account moved (phone.changed ->
// phone_changed). A number another customer has verified is refused.
import { and, desc, eq, isNull } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import { isUuid } from '../db/ids.ts';
import { otpChallenges } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { confirmCurrentPassword } from '../auth/reauthenticate.ts';
import { CodeLimitError, recordRefusedCode } from '../notifications/send.ts';
import { verifyOtpCode } from '../otp/challenges.ts';
import { otpCheckError } from '../otp/check-errors.ts';
import { queueCodeChallenge } from '../otp/send-code.ts';
import { maskPhoneNumber } from '../sms/phone.ts';
import { changePhoneNumber } from './phone-number.ts';
import { phoneVerifiedByOther } from './registration.ts';
import { findUserById, normaliseUserPhone } from './users.ts';
import { dataKeyFor } from '../auth/data-key.ts';

type PhoneChangeContext = Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'>;

const TAKEN = 'This mobile number is already verified by another customer: use a number of your own.';
const AGAIN = 'Ask for a new code with POST /api/phone.';

export interface PhoneChangeStarted {
  challengeId: string;
  /** The new number, last four digits only. */
  destination: string;
  expiresAt: Date;
}

export interface PhoneChanged {
  /** The new number, last four digits only. */
  phoneNumber: string;
  changedAt: Date;
}

/** Sends a code to the new number; an earlier code for a phone change stops working. */
export async function startPhoneChange(ctx: PhoneChangeContext, input: { userId: string; phoneNumber: string; currentPassword: string; ip?: string }): Promise<PhoneChangeStarted> {
  await confirmCurrentPassword(ctx, input.userId, input.currentPassword);
  const phone = normaliseUserPhone(ctx.config, input.phoneNumber);
  const user = await findUserById(ctx.db, input.userId);
  if (!user) throw new AppError('not_found', 'No such user.');
  if (user.phoneNumber === phone && user.phoneVerifiedAt) throw new AppError('conflict', 'This is already the verified number on your account.');
  if (await phoneVerifiedByOther(ctx.db, phone, input.userId)) throw new AppError('conflict', TAKEN);
  const now = ctx.clock.now();
  try {
    return await ctx.db.transaction(async (tx) => {
      await tx.update(otpChallenges).set({ consumedAt: now })
        .where(and(eq(otpChallenges.userId, input.userId), eq(otpChallenges.purpose, 'phone_change'), isNull(otpChallenges.consumedAt)));
      const { challenge } = await queueCodeChallenge(ctx, tx, { userId: input.userId, purpose: 'phone_change', destination: phone, now, ip: input.ip });
      return { challengeId: challenge.id, destination: maskPhoneNumber(phone), expiresAt: challenge.expiresAt };
    });
  } catch (error) {
    if (error instanceof CodeLimitError) await recordRefusedCode(ctx, { userId: input.userId, type: 'phone_verification_code', error, now });
    throw error;
  }
}

/** Checks the code sent to the new number and switches the profile to it; tells both numbers. */
export async function completePhoneChange(ctx: PhoneChangeContext, input: { userId: string; code: string; challengeId?: string }): Promise<PhoneChanged> {
  const mine = and(eq(otpChallenges.userId, input.userId), eq(otpChallenges.purpose, 'phone_change'));
  const [challenge] = input.challengeId
    ? (isUuid(input.challengeId) ? await ctx.db.select().from(otpChallenges).where(and(mine, eq(otpChallenges.id, input.challengeId))) : [])
    : await ctx.db.select().from(otpChallenges).where(and(mine, isNull(otpChallenges.consumedAt))).orderBy(desc(otpChallenges.createdAt)).limit(1);
  if (!challenge) throw new AppError('code_rejected', `No phone change is waiting for a code. ${AGAIN}`);
  const now = ctx.clock.now();
  const result = await verifyOtpCode(ctx.db, dataKeyFor(ctx.config), challenge.id, input.code, now, { purpose: 'phone_change', userId: input.userId });
  const refused = otpCheckError(result, { attemptsLeft: challenge.maxAttempts - challenge.attempts - 1, again: AGAIN });
  if (refused) throw refused;
  const next = challenge.destination;
  return ctx.db.transaction(async (tx) => {
    // The one path of every number change: notices to both numbers and the email, audit, cooling-off.
    await changePhoneNumber(ctx, tx, { userId: input.userId, phoneNumber: next, verified: true, actor: { kind: 'customer', userId: input.userId } });
    return { phoneNumber: maskPhoneNumber(next), changedAt: now };
  });
}
