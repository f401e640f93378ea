// Creates a one-time code challenge and queues its code SMS, in the caller's transaction: the one
// way every code (login, phone verification, phone change) is started. The worker mints the code at send time.
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { notifyUser, type NotificationQueued } from '../notifications/send.ts';
import { createOtpChallenge, OTP_POLICY, type OtpChallenge } from './challenges.ts';

export async function queueCodeChallenge(
  ctx: Pick<AppContext, 'jobs' | 'config' | 'clock'>,
  tx: Queryable,
  input: { userId: string; purpose: 'login' | 'phone_verification' | 'phone_change'; destination: string; now: Date; ip: string | undefined },
): Promise<{ challenge: OtpChallenge; queued: NotificationQueued }> {
  const challenge = await createOtpChallenge(tx, { userId: input.userId, purpose: input.purpose, destination: input.destination, now: input.now });
  // The text is the type's template in the customer's language. The code goes to `destination`:
  // for a phone change that is the new number, not yet the profile's.
  const queued = await notifyUser(ctx, tx, {
    to: input.destination,
    userId: input.userId,
    type: input.purpose === 'login' ? 'two_factor_code' : 'phone_verification_code',
    values: { minutes: String(OTP_POLICY.ttlMs / 60_000) },
    otpChallengeId: challenge.id,
    sendBefore: challenge.expiresAt,
    ip: input.ip,
  });
  return { challenge, queued };
}
