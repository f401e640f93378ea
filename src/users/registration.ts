// Customer registration: an inactive user whose mobile number gets a verification code; the
// right code verifies the number, activates the account and sends the welcome message. A number
// another customer has already verified is refused.
import { and, eq, isNotNull, ne, sql } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { isUuid } from '../db/ids.ts';
import { otpChallenges, userProfiles, users } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { recordEvent } from '../events/events.ts';
import { recordConsent } from '../sms/consent.ts';
import { queueCodeChallenge } from '../otp/send-code.ts';
import { verifyOtpCode } from '../otp/challenges.ts';
import { otpCheckError } from '../otp/check-errors.ts';
import { checkNewUser, insertUser } from './users.ts';
import { dataKeyFor } from '../auth/data-key.ts';

type RegistrationContext = Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'>;

export interface NewCustomer {
  username: string;
  email: string;
  password: string;
  /** As typed; normalised here. */
  phone: string;
}

export interface RegistrationStarted {
  userId: string;
  /** The code's challenge: POST it back with the code. */
  challengeId: string;
  /** Last four digits only. */
  destination: string;
  expiresAt: Date;
}

export interface RegistrationCompleted {
  userId: string;
  username: string;
  isActive: true;
}

export const PHONE_TAKEN = 'This mobile number is already verified by another customer. Register with your own mobile number, or sign in to the account it belongs to.';

/** True when another customer (or anyone, without userId) has verified this number. */
export async function phoneVerifiedByOther(db: Queryable, e164: string, userId?: string): Promise<boolean> {
  const rows = await db
    .select({ userId: userProfiles.userId })
    .from(userProfiles)
    .where(and(eq(userProfiles.phoneNumber, e164), isNotNull(userProfiles.phoneVerifiedAt), userId ? ne(userProfiles.userId, userId) : undefined))
    .limit(1);
  return rows.length > 0;
}

/**
 * Creates the inactive customer and sends the code to their mobile, in one transaction. Throws
 * AppError 'validation_failed', 'weak_password', 'invalid_phone_number', 'conflict' (username,
 * email, or a number verified by another customer) or 'sms_rate_limited'.
 */
export async function startRegistration(ctx: RegistrationContext, input: NewCustomer, request: { ip?: string } = {}): Promise<RegistrationStarted> {
  const checked = await checkNewUser(ctx.config, { ...input, isStaff: false });
  if (!checked.email) throw new AppError('validation_failed', 'An email address is required to register.');
  const phone = checked.phoneNumber;
  if (!phone) throw new AppError('validation_failed', 'A mobile number is required to register: we send a code to it to verify it.');
  if (await phoneVerifiedByOther(ctx.db, phone)) throw new AppError('conflict', PHONE_TAKEN);
  const now = ctx.clock.now();
  return ctx.db.transaction(async (tx) => {
    const user = await insertUser(tx, checked, { isActive: false, now });
    const { challenge, queued } = await queueCodeChallenge(ctx, tx, { userId: user.id, purpose: 'phone_verification', destination: phone, now, ip: request.ip });
    return { userId: user.id, challengeId: challenge.id, destination: queued.destination ?? '', expiresAt: challenge.expiresAt };
  });
}

/**
 * Checks the registration code: verifies the number, activates the account and queues the
 * welcome message. Throws the code's AppError, or 'conflict' when another customer verified the
 * number first.
 */
export async function completeRegistration(ctx: RegistrationContext, input: { challengeId: string; code: string }): Promise<RegistrationCompleted> {
  const [challenge] = isUuid(input.challengeId)
    ? await ctx.db.select().from(otpChallenges).where(and(eq(otpChallenges.id, input.challengeId), eq(otpChallenges.purpose, 'phone_verification')))
    : [];
  const again = 'Register again to get a new code.';
  if (!challenge) throw new AppError('code_rejected', `No code is waiting with this challengeId. ${again}`);
  const now = ctx.clock.now();
  const result = await verifyOtpCode(ctx.db, dataKeyFor(ctx.config), challenge.id, input.code, now, { purpose: 'phone_verification', userId: challenge.userId });
  const refused = otpCheckError(result, { attemptsLeft: challenge.maxAttempts - challenge.attempts - 1, again });
  if (refused) throw refused;
  return ctx.db.transaction(async (tx) => {
    // Two customers verifying the same number at once: one waits for the other, then sees it.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`verified-phone:${challenge.destination}`}, 0))`);
    if (await phoneVerifiedByOther(tx, challenge.destination, challenge.userId)) throw new AppError('conflict', PHONE_TAKEN);
    await tx.update(userProfiles).set({ phoneVerifiedAt: now, updatedAt: now }).where(eq(userProfiles.userId, challenge.userId));
    const [user] = await tx.update(users).set({ isActive: true }).where(eq(users.id, challenge.userId)).returning({ username: users.username });
    if (!user) throw new AppError('not_found', 'No such registration.');
    // Registering with the number and proving it with its code is the customer's agreement to SMS.
    await recordConsent(tx, challenge.userId, {
      phoneNumber: challenge.destination, action: 'granted', method: 'registration', detail: 'gave and verified the number at registration', now,
    });
    await recordEvent(ctx, tx, {
      userId: challenge.userId, type: 'registration.completed', payload: { username: user.username },
      notify: [{ type: 'welcome', values: { first_name: user.username } }],
    });
    return { userId: challenge.userId, username: user.username, isActive: true };
  });
}
