// The second factor of a login: a one-time code sent by SMS to the phone on the user's profile.
// The login endpoint and `dominion test_twilio_sms --test-2fa` both call sendLoginCode, so an
// operator's test exercises exactly what a customer's login does.
import type { AppContext } from '../context.ts';
import { createOtpChallenge, OTP_POLICY, verifyOtpCode, type OtpCheck } from '../otp/challenges.ts';
import { notifyUser } from '../notifications/send.ts';
import { normalisePhoneNumber } from '../sms/phone.ts';
import { phonePolicyFor } from '../sms/phone-policy.ts';
import { findUserById, requirePhoneNumber } from '../users/users.ts';
import { AppError } from '../errors.ts';

export interface LoginCodeSent {
  challengeId: string;
  /** The message-log row of the code SMS. */
  messageId: string;
  /** Only the last four digits, e.g. ***2671. */
  destination: string;
  expiresAt: Date;
  maxAttempts: number;
}

/**
 * Starts a login challenge for a user: creates it and queues its code SMS in one transaction.
 * The code itself is minted by the worker at send time and stored only as a hash.
 * Throws AppError 'not_found' (no such user) or 'no_phone_number'.
 */
export async function sendLoginCode(ctx: Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'>, userId: string): Promise<LoginCodeSent> {
  const user = await findUserById(ctx.db, userId);
  if (!user) throw new AppError('not_found', `No user with id ${userId}.`);
  // Re-checked at each send: a number stored before the allowed countries changed is refused.
  const phone = normalisePhoneNumber(requirePhoneNumber(user), phonePolicyFor(ctx.config));
  const now = ctx.clock.now();
  return ctx.db.transaction(async (tx) => {
    const challenge = await createOtpChallenge(tx, { userId, purpose: 'login', destination: phone.e164, now });
    // The text is the two_factor_code template in the customer's language; the worker mints the code.
    const queued = await notifyUser(ctx, tx, {
      userId,
      type: 'two_factor_code',
      values: { minutes: String(OTP_POLICY.ttlMs / 60_000) },
      otpChallengeId: challenge.id,
      sendBefore: challenge.expiresAt,
    });
    return {
      challengeId: challenge.id,
      messageId: queued.messageId,
      destination: queued.destination,
      expiresAt: challenge.expiresAt,
      maxAttempts: OTP_POLICY.maxAttempts,
    };
  });
}

/** Checks the code a user typed for a login challenge (each check is one of the 5 attempts). */
export function checkLoginCode(ctx: Pick<AppContext, 'db' | 'clock'>, challengeId: string, code: string): Promise<OtpCheck> {
  return verifyOtpCode(ctx.db, challengeId, code, ctx.clock.now());
}
