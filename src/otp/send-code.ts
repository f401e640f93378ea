// Creates a one-time code challenge and queues its code SMS, in the caller's transaction: the one
// way every code (login, phone verification, phone change, transfer confirmation) is started. The
// worker mints the code at send time.
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import type { NotificationTypeId } from '../notifications/catalogue.ts';
import { notifyUser, type NotificationQueued } from '../notifications/send.ts';
import type { TemplateValues } from '../notifications/templates/render.ts';
import { createOtpChallenge, OTP_POLICY, type OtpChallenge } from './challenges.ts';

type CodePurpose = 'login' | 'phone_verification' | 'phone_change' | 'transfer_confirmation';

const CODE_TYPE: Record<CodePurpose, NotificationTypeId> = {
  login: 'two_factor_code',
  phone_verification: 'phone_verification_code',
  phone_change: 'phone_verification_code',
  transfer_confirmation: 'transfer_confirmation_code',
};

export async function queueCodeChallenge(
  ctx: Pick<AppContext, 'jobs' | 'config' | 'clock'>,
  tx: Queryable,
  input: {
    userId: string; purpose: CodePurpose; destination: string; now: Date; ip: string | undefined;
    /** What else the text shows, e.g. a transfer's amount and payee (dynamic linking). */
    values?: TemplateValues;
    /** The event the code is for (`event:<id>`), when one was recorded. */
    eventKey?: string;
  },
): Promise<{ challenge: OtpChallenge; queued: NotificationQueued }> {
  const challenge = await createOtpChallenge(tx, { userId: input.userId, purpose: input.purpose, destination: input.destination, now: input.now });
  // The text is the type's template in the customer's language. The code goes to `destination`:
  // for a phone change that is the new number, not yet the profile's.
  const queued = await notifyUser(ctx, tx, {
    to: input.destination,
    userId: input.userId,
    type: CODE_TYPE[input.purpose],
    values: { ...input.values, minutes: String(OTP_POLICY.ttlMs / 60_000) },
    otpChallengeId: challenge.id,
    sendBefore: challenge.expiresAt,
    ip: input.ip,
    eventKey: input.eventKey,
  });
  return { challenge, queued };
}
