// The second factor of a login: a one-time code sent by SMS to the phone on the user's profile.
// The login endpoint and `dominion test_twilio_sms --test-2fa` both call sendLoginCode, so an
// operator's test exercises exactly what a customer's login does.
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { createOtpChallenge, OTP_POLICY, verifyOtpCode, type OtpCheck } from '../otp/challenges.ts';
import { queueCodeCall } from '../voice/code-call.ts';
import { queueCodeChallenge } from '../otp/send-code.ts';
import { CodeLimitError, recordRefusedCode } from '../notifications/send.ts';
import { normalisePhoneNumber } from '../sms/phone.ts';
import { phonePolicyFor } from '../sms/phone-policy.ts';
import { findUserById, requirePhoneNumber } from '../users/users.ts';
import { AppError } from '../errors.ts';
import { dataKeyFor } from './data-key.ts';

export interface LoginCodeSent {
  challengeId: string;
  /** The message-log row of the code SMS. */
  messageId: string;
  /** Only the last four digits, e.g. ***2671. */
  destination: string;
  expiresAt: Date;
  maxAttempts: number;
}

type LoginContext = Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'>;

/**
 * Starts a login challenge for a user: creates it and queues its code SMS in one transaction.
 * The code itself is minted by the worker at send time and stored only as a hash.
 * Throws AppError 'not_found' (no such user), 'no_phone_number', or 'sms_rate_limited' when a
 * code limit (per number, per IP, per number prefix) refuses it; the refusal is recorded.
 */
export async function sendLoginCode(ctx: LoginContext, userId: string, request: { ip?: string } = {}): Promise<LoginCodeSent> {
  const user = await findUserById(ctx.db, userId);
  if (!user) throw new AppError('not_found', `No user with id ${userId}.`);
  // Re-checked at each send: a number stored before the allowed countries changed is refused.
  const phone = normalisePhoneNumber(requirePhoneNumber(user), phonePolicyFor(ctx.config));
  const now = ctx.clock.now();
  try {
    return await ctx.db.transaction((tx) => createLoginChallenge(ctx, tx, { userId, destination: phone.e164, now, ip: request.ip }));
  } catch (error) {
    if (error instanceof CodeLimitError) await recordRefusedCode(ctx, { userId, type: 'two_factor_code', error, now });
    throw error;
  }
}

export interface LoginCallPlaced {
  challengeId: string;
  /** The call-log row (voice_calls). */
  callId: string;
  destination: string;
  expiresAt: Date;
  maxAttempts: number;
}

/**
 * sendLoginCode by voice call: the same challenge (purpose login, hashed, 5 minutes, 5 attempts)
 * and limits, the code read by a call instead of texted. What `test_twilio_sms --test-2fa --voice`
 * runs, and the path of POST /api/login/call.
 */
export async function callLoginCode(ctx: LoginContext, userId: string, request: { ip?: string } = {}): Promise<LoginCallPlaced> {
  const user = await findUserById(ctx.db, userId);
  if (!user) throw new AppError('not_found', `No user with id ${userId}.`);
  const phone = normalisePhoneNumber(requirePhoneNumber(user), phonePolicyFor(ctx.config));
  const now = ctx.clock.now();
  try {
    return await ctx.db.transaction(async (tx) => {
      const challenge = await createOtpChallenge(tx, { userId, purpose: 'login', destination: phone.e164, now });
      const call = await queueCodeCall(ctx, tx, { userId, type: 'two_factor_code', to: phone.e164, otpChallengeId: challenge.id, sendBefore: challenge.expiresAt, ip: request.ip });
      return { challengeId: challenge.id, callId: call.callId, destination: call.destination, expiresAt: challenge.expiresAt, maxAttempts: OTP_POLICY.maxAttempts };
    });
  } catch (error) {
    if (error instanceof CodeLimitError) await recordRefusedCode(ctx, { userId, type: 'two_factor_code', error, now });
    throw error;
  }
}

/**
 * The inside of sendLoginCode, in the caller's transaction: creates the challenge and queues its
 * code SMS to `destination` (E.164, already checked against the allowed countries).
 */
export async function createLoginChallenge(
  ctx: LoginContext, tx: Queryable, input: { userId: string; destination: string; now: Date; ip: string | undefined },
): Promise<LoginCodeSent> {
  const { challenge, queued } = await queueCodeChallenge(ctx, tx, { ...input, purpose: 'login' });
  if (!queued.messageId) throw new Error('a code notification is always queued with its SMS');
  return {
    challengeId: challenge.id,
    messageId: queued.messageId,
    destination: queued.destination ?? '',
    expiresAt: challenge.expiresAt,
    maxAttempts: OTP_POLICY.maxAttempts,
  };
}

/**
 * Checks the code a user typed for a login challenge (each check is one of the 5 attempts). Only a
 * login challenge of this user counts: any other challenge id is 'not_found'.
 */
export function checkLoginCode(ctx: Pick<AppContext, 'db' | 'clock' | 'config'>, userId: string, challengeId: string, code: string): Promise<OtpCheck> {
  return verifyOtpCode(ctx.db, dataKeyFor(ctx.config), challengeId, code, ctx.clock.now(), { purpose: 'login', userId });
}
