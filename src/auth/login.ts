// Signing in: the password, then a 6-digit code by SMS bound to that sign-in, then a session.
// Wrong passwords and wrong codes count toward the lockout; a code may be sent again after 30
// seconds, at most 3 times in 10 minutes per user and per phone number.
import { randomUUID } from 'node:crypto';
import { and, count, eq, gt, isNull, min } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { isUuid } from '../db/ids.ts';
import { loginChallenges, otpChallenges, userProfiles, users } from '../db/schema.ts';
import { AppError, RetryLaterError } from '../errors.ts';
import { CodeLimitError, notifyUser, recordRefusedCode } from '../notifications/send.ts';
import { otpCheckError } from '../otp/check-errors.ts';
import { hashPassword, verifyPassword } from '../users/passwords.ts';
import { normaliseUserPhone, requirePhoneNumber, findUserById } from '../users/users.ts';
import { lockedError, recordLoginFailure, requireNotLocked } from './lockout.ts';
import { createSession, rememberDevice, type Device } from './sessions.ts';
import { checkLoginCode, createLoginChallenge } from './two-factor.ts';

export const RESEND_POLICY = { cooldownMs: 30_000, maxResends: 3, windowMs: 10 * 60_000 } as const;

type LoginContext = Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'>;

/** Where the code went; the challenge id is what the code is checked against. */
export interface LoginStarted {
  challengeId: string;
  /** Last four digits only, e.g. ***2671. */
  destination: string;
  expiresAt: Date;
}

export interface LoginCompleted {
  token: string;
  expiresAt: Date;
  user: { id: string; username: string; isStaff: boolean };
  newDevice: boolean;
}

const AGAIN = 'Sign in again to get a new one.';

const wrongCredentials = () => new AppError('unauthenticated', 'Wrong username or password.');

// Compared against when the username is unknown, so the answer takes as long as a real check.
let dummyHash: Promise<string> | undefined;

/** Checks the password and sends a login code to the customer's phone. */
export async function startLogin(
  ctx: LoginContext,
  input: { username: string; password: string; device: Device; ip: string },
): Promise<LoginStarted> {
  const [user] = await ctx.db
    .select({ id: users.id, passwordHash: users.passwordHash, isActive: users.isActive, phoneNumber: userProfiles.phoneNumber })
    .from(users)
    .leftJoin(userProfiles, eq(userProfiles.userId, users.id))
    .where(eq(users.username, input.username));
  if (!user) {
    dummyHash ??= hashPassword('not a real password, only a timing decoy');
    await verifyPassword(input.password, await dummyHash);
    throw wrongCredentials();
  }
  await requireNotLocked(ctx.db, user.id, ctx.clock.now());
  if (!(await verifyPassword(input.password, user.passwordHash))) {
    const until = await recordLoginFailure(ctx, user.id, 'password');
    throw until ? lockedError(until) : wrongCredentials();
  }
  if (!user.isActive) {
    throw new AppError('account_inactive', 'Account not active yet: confirm your phone number with the code we sent when you registered.');
  }
  return sendCode(ctx, user.id, { loginId: randomUUID(), isResend: false, device: input.device, ip: input.ip });
}

async function sendCode(
  ctx: LoginContext, userId: string, login: { loginId: string; isResend: boolean; device: Device; ip: string }, replaces?: string,
): Promise<LoginStarted> {
  const user = await findUserById(ctx.db, userId);
  if (!user) throw new AppError('not_found', 'No such user.');
  const destination = normaliseUserPhone(ctx.config, requirePhoneNumber(user));
  const now = ctx.clock.now();
  try {
    return await sendCodeIn(ctx, userId, destination, now, login, replaces);
  } catch (error) {
    if (error instanceof CodeLimitError) await recordRefusedCode(ctx.db, { userId, type: 'two_factor_code', error, now });
    throw error;
  }
}

function sendCodeIn(
  ctx: LoginContext, userId: string, destination: string, now: Date,
  login: { loginId: string; isResend: boolean; device: Device; ip: string }, replaces: string | undefined,
): Promise<LoginStarted> {
  return ctx.db.transaction(async (tx) => {
    if (replaces) {
      // Only one of two resends racing for the same code wins; the other is told to use the newer code.
      const [won] = await tx
        .update(loginChallenges)
        .set({ supersededAt: now })
        .where(and(eq(loginChallenges.challengeId, replaces), isNull(loginChallenges.supersededAt)))
        .returning({ id: loginChallenges.challengeId });
      if (!won) throw new AppError('code_used', 'A newer code was sent for this sign-in: use the code of the latest SMS.');
      await tx.update(otpChallenges).set({ consumedAt: now }).where(and(eq(otpChallenges.id, replaces), isNull(otpChallenges.consumedAt)));
    }
    const sent = await createLoginChallenge(ctx, tx, { userId, destination, now, ip: login.ip });
    await tx.insert(loginChallenges).values({
      challengeId: sent.challengeId, loginId: login.loginId, userId, destination, isResend: login.isResend,
      deviceFingerprint: login.device.fingerprint, deviceLabel: login.device.label, ip: login.ip, createdAt: now,
    });
    return { challengeId: sent.challengeId, destination: sent.destination, expiresAt: sent.expiresAt };
  });
}

async function requireLoginChallenge(db: Queryable, challengeId: string) {
  const [row] = isUuid(challengeId) ? await db.select().from(loginChallenges).where(eq(loginChallenges.challengeId, challengeId)) : [];
  if (!row) throw new AppError('code_rejected', 'No sign-in is waiting for a code with this challengeId: sign in again.');
  if (row.supersededAt) throw new AppError('code_used', 'A newer code was sent for this sign-in: use the code of the latest SMS.');
  return row;
}

/** Sends a new code for a sign-in waiting for one; the previous code stops working. */
export async function resendLoginCode(ctx: LoginContext, input: { challengeId: string; ip: string }): Promise<LoginStarted> {
  const row = await requireLoginChallenge(ctx.db, input.challengeId);
  const now = ctx.clock.now();
  await requireNotLocked(ctx.db, row.userId, now);
  const wait = row.createdAt.getTime() + RESEND_POLICY.cooldownMs - now.getTime();
  if (wait > 0) {
    const seconds = Math.ceil(wait / 1000);
    throw new RetryLaterError(`Code sent moments ago: you can ask for another in ${seconds} seconds.`, seconds);
  }
  const since = new Date(now.getTime() - RESEND_POLICY.windowMs);
  for (const [scope, where] of [
    ['your account', eq(loginChallenges.userId, row.userId)],
    ['this phone number', eq(loginChallenges.destination, row.destination)],
  ] as const) {
    const [recent] = await ctx.db
      .select({ n: count(), oldest: min(loginChallenges.createdAt) })
      .from(loginChallenges)
      .where(and(where, eq(loginChallenges.isResend, true), gt(loginChallenges.createdAt, since)));
    if ((recent?.n ?? 0) >= RESEND_POLICY.maxResends && recent?.oldest) {
      const seconds = Math.ceil((recent.oldest.getTime() + RESEND_POLICY.windowMs - now.getTime()) / 1000);
      throw new RetryLaterError(`Too many codes sent again for ${scope}: at most ${RESEND_POLICY.maxResends} in 10 minutes. Try again in ${Math.ceil(seconds / 60)} minutes.`, seconds);
    }
  }
  const device = { fingerprint: row.deviceFingerprint, label: row.deviceLabel };
  return sendCode(ctx, row.userId, { loginId: row.loginId, isResend: true, device, ip: input.ip }, row.challengeId);
}

/**
 * Checks the code of a sign-in and opens a session. A wrong code costs one of the code's 5
 * attempts and counts toward the lockout; a device this user never signed in from gets an alert.
 */
export async function completeLogin(ctx: LoginContext, input: { challengeId: string; code: string }): Promise<LoginCompleted> {
  const row = await requireLoginChallenge(ctx.db, input.challengeId);
  const [challenge] = await ctx.db.select().from(otpChallenges).where(eq(otpChallenges.id, row.challengeId));
  // Told before the lockout, and whatever the code: says nothing about whether a code is right.
  if (challenge && challenge.attempts >= challenge.maxAttempts && !challenge.consumedAt) {
    throw otpCheckError('too_many_attempts', { attemptsLeft: 0, again: AGAIN });
  }
  await requireNotLocked(ctx.db, row.userId, ctx.clock.now());
  const result = await checkLoginCode(ctx, row.userId, row.challengeId, input.code);
  if (result === 'wrong_code') {
    const until = await recordLoginFailure(ctx, row.userId, 'code');
    if (until) throw lockedError(until);
  }
  const [after] = await ctx.db.select({ attempts: otpChallenges.attempts, max: otpChallenges.maxAttempts }).from(otpChallenges).where(eq(otpChallenges.id, row.challengeId));
  const refused = otpCheckError(result, { attemptsLeft: after ? after.max - after.attempts : 0, again: AGAIN });
  if (refused) throw refused;
  const now = ctx.clock.now();
  const device = { fingerprint: row.deviceFingerprint, label: row.deviceLabel };
  return ctx.db.transaction(async (tx) => {
    const session = await createSession(tx, row.userId, device, now);
    const newDevice = await rememberDevice(tx, row.userId, device, now);
    if (newDevice) {
      await notifyUser(ctx, tx, {
        userId: row.userId, type: 'new_device_login', eventKey: `new_device_login:${row.challengeId}`,
        values: { device: device.label, location: row.ip, time: now },
      });
    }
    const [user] = await tx.select({ id: users.id, username: users.username, isStaff: users.isStaff }).from(users).where(eq(users.id, row.userId));
    if (!user) throw new AppError('not_found', 'No such user.');
    return { token: session.token, expiresAt: session.expiresAt, user, newDevice };
  });
}
