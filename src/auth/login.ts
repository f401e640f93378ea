// Signing in: the password, then a 6-digit code by SMS bound to that sign-in (or, without signal,
// an authenticator app code or a backup code), then a session. Wrong passwords and wrong codes
// count toward the lockout; a code may be sent again after 30 seconds, at most 3 times in 10
// minutes per user and per phone number.
import { randomUUID } from 'node:crypto';
import { and, count, eq, gt, isNull, min, sql } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { isUuid } from '../db/ids.ts';
import { loginChallenges, otpChallenges, userProfiles, users } from '../db/schema.ts';
import { AppError, RetryLaterError } from '../errors.ts';
import { recordEvent } from '../events/events.ts';
import { CodeLimitError, recordRefusedCode } from '../notifications/send.ts';
import { claimOtpAttempt, consumeOtpChallenge, createOtpChallenge } from '../otp/challenges.ts';
import { otpCheckError } from '../otp/check-errors.ts';
import { hashPassword, needsRehash, verifyPassword } from '../users/passwords.ts';
import { normaliseUserPhone, requirePhoneNumber, findUserById } from '../users/users.ts';
import { lockedError, recordLoginFailure, requireNotLocked } from './lockout.ts';
import { useBackupCode } from './backup-codes.ts';
import { createSession, rememberDevice, type Device } from './sessions.ts';
import { checkLoginCountry } from './suspicious.ts';
import { checkTotpForLogin } from './totp.ts';
import { checkLoginCode, createLoginChallenge } from './two-factor.ts';
import { awaitCodeSms, describeCodeDelivery, phoneCodeProblem, type CodeChannel, type CodeDelivery } from './code-delivery.ts';
import { preferredCodeDelivery } from '../notifications/choices.ts';
import { maskPhoneNumber } from '../sms/phone.ts';
import { queueCodeCall } from '../voice/code-call.ts';

export const RESEND_POLICY = { cooldownMs: 30_000, maxResends: 3, windowMs: 10 * 60_000 } as const;

type LoginContext = Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'>;

/** Where the code went; the challenge id is what the code is checked against. */
export interface LoginStarted {
  challengeId: string;
  /** Last four digits only, e.g. ***2671; absent when no code was sent (see startLogin). */
  destination?: string;
  /**
   * True only while the code SMS is on its way: false when the customer chose another factor, when
   * the number cannot take SMS (opted out, unreachable) or when Twilio refused it.
   */
  smsSent: boolean;
  /** How the code travels: sms, voice (a call reads it), or none. */
  channel: CodeChannel;
  expiresAt: Date;
  /** What became of the code and, when it will not arrive, what to do instead. */
  delivery: CodeDelivery;
}

export interface LoginCompleted {
  token: string;
  expiresAt: Date;
  user: { id: string; username: string; isStaff: boolean };
  newDevice: boolean;
  method: SecondFactor;
  /** After a backup code: how many unused ones are left. */
  backupCodesRemaining?: number;
}

const AGAIN = 'Sign in again to get a new one.';

const wrongCredentials = () => new AppError('unauthenticated', 'Wrong username or password.');

// Compared against when the username is unknown, so the answer takes as long as a real check
// (one per hash cost, so the decoy costs what a stored hash costs).
const dummyHashes = new Map<number, Promise<string>>();

/**
 * Checks the password and sends a login code to the customer's phone; or, when the customer said
 * they will answer with their authenticator or a backup code (`secondFactor`), opens the sign-in
 * without an SMS they may not receive (a resend still sends one).
 */
export async function startLogin(
  ctx: LoginContext,
  input: { username: string; password: string; device: Device; ip: string; secondFactor?: SecondFactor },
): Promise<LoginStarted> {
  const [user] = await ctx.db
    .select({ id: users.id, passwordHash: users.passwordHash, isActive: users.isActive, phoneNumber: userProfiles.phoneNumber })
    .from(users)
    .leftJoin(userProfiles, eq(userProfiles.userId, users.id))
    .where(eq(users.username, input.username));
  if (!user) {
    const cost = ctx.config.security.passwordHashCost;
    const decoy = dummyHashes.get(cost) ?? hashPassword('not a real password, only a timing decoy', cost);
    dummyHashes.set(cost, decoy);
    await verifyPassword(input.password, await decoy);
    throw wrongCredentials();
  }
  await requireNotLocked(ctx.db, user.id, ctx.clock.now());
  if (!(await verifyPassword(input.password, user.passwordHash))) {
    const until = await recordLoginFailure(ctx, user.id, 'password', input.device);
    throw until ? lockedError(until) : wrongCredentials();
  }
  if (!user.isActive) {
    throw new AppError('account_inactive', 'Account not active yet: confirm your phone number with the code we sent when you registered.');
  }
  // "Call me instead": a customer who chose voice gets their codes read by a call.
  const channel: CodeChannel = (input.secondFactor ?? 'sms') !== 'sms' ? 'none' : (await preferredCodeDelivery(ctx.db, user.id)) === 'voice' ? 'voice' : 'sms';
  const started = await sendCode(ctx, user.id, { loginId: randomUUID(), isResend: false, device: input.device, ip: input.ip, channel });
  // After the code is on its way, so the upgrade never delays it.
  await upgradePasswordHash(ctx, user.id, input.password, user.passwordHash);
  return started;
}

/**
 * Replaces a stored hash weaker than today's (scrypt from before argon2id, or a lower cost) with a
 * new one of the password just checked. Only if the row still holds the hash that was checked, so
 * a password changed meanwhile stays changed; not a password change (sessions and
 * passwordChangedAt are untouched).
 */
async function upgradePasswordHash(ctx: LoginContext, userId: string, password: string, checked: string): Promise<void> {
  const cost = ctx.config.security.passwordHashCost;
  if (!needsRehash(checked, cost)) return;
  const passwordHash = await hashPassword(password, cost);
  await ctx.db.update(users).set({ passwordHash }).where(and(eq(users.id, userId), eq(users.passwordHash, checked)));
}

interface LoginAttempt {
  loginId: string;
  isResend: boolean;
  device: Device;
  ip: string;
  /** none: the challenge is made without a code message (another factor will answer it). */
  channel: CodeChannel;
}

/** The route that asks for a sign-in code by call. */
const CALL_ROUTE = 'POST /api/login/call';

async function sendCode(
  ctx: LoginContext, userId: string, login: LoginAttempt, replaces?: string,
): Promise<LoginStarted> {
  const user = await findUserById(ctx.db, userId);
  if (!user) throw new AppError('not_found', 'No such user.');
  const destination = normaliseUserPhone(ctx.config, requirePhoneNumber(user));
  const now = ctx.clock.now();
  // A number that is opted out or unreachable gets no code SMS that Twilio would refuse; the
  // answer says so and offers the other ways.
  const withheld = login.channel === 'sms' ? await phoneCodeProblem(ctx.db, destination) : undefined;
  const attempt = withheld ? { ...login, channel: 'none' as const } : login;
  let started: Omit<LoginStarted, 'delivery' | 'smsSent'>;
  try {
    started = await sendCodeIn(ctx, userId, destination, now, attempt, replaces);
  } catch (error) {
    if (error instanceof CodeLimitError) await recordRefusedCode(ctx, { userId, type: 'two_factor_code', error, now });
    throw error;
  }
  if (attempt.channel === 'sms') await awaitCodeSms(ctx.db, started.challengeId, ctx.config.voice.codeSendWaitMs);
  const delivery = await describeCodeDelivery(ctx, ctx.db, { challengeId: started.challengeId, userId, destination, withheld, callRoute: CALL_ROUTE });
  return {
    ...started,
    ...(login.channel !== 'none' && { destination: maskPhoneNumber(destination) }),
    smsSent: delivery.channel === 'sms' && delivery.problem === null,
    delivery,
  };
}

function sendCodeIn(
  ctx: LoginContext, userId: string, destination: string, now: Date,
  login: LoginAttempt, replaces: string | undefined,
): Promise<Omit<LoginStarted, 'delivery' | 'smsSent'>> {
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
    if (login.isResend) await checkResendLimits(tx, { userId, destination, now });
    const sent = login.channel === 'sms'
      ? await createLoginChallenge(ctx, tx, { userId, destination, now, ip: login.ip })
      : await createOtpChallenge(tx, { userId, purpose: 'login', destination, now }).then((c) => ({ challengeId: c.id, destination: undefined, expiresAt: c.expiresAt }));
    if (login.channel === 'voice') {
      await queueCodeCall(ctx, tx, { userId, type: 'two_factor_code', to: destination, otpChallengeId: sent.challengeId, sendBefore: sent.expiresAt, ip: login.ip });
    }
    await tx.insert(loginChallenges).values({
      challengeId: sent.challengeId, loginId: login.loginId, userId, destination, isResend: login.isResend,
      deviceFingerprint: login.device.fingerprint, deviceLabel: login.device.label, ip: login.ip, createdAt: now,
    });
    return { challengeId: sent.challengeId, channel: login.channel, expiresAt: sent.expiresAt };
  });
}

async function requireLoginChallenge(db: Queryable, challengeId: string) {
  const [row] = isUuid(challengeId) ? await db.select().from(loginChallenges).where(eq(loginChallenges.challengeId, challengeId)) : [];
  if (!row) throw new AppError('code_rejected', 'No sign-in is waiting for a code with this challengeId: sign in again.');
  if (row.supersededAt) throw new AppError('code_used', 'A newer code was sent for this sign-in: use the code of the latest SMS.');
  return row;
}

/**
 * At most RESEND_POLICY.maxResends resends per user and per number in the window, counted in the
 * resend's own transaction under transaction locks on the user and the number (always in that
 * order), so resends racing from several sign-ins cannot both see room for one more.
 */
async function checkResendLimits(tx: Queryable, input: { userId: string; destination: string; now: Date }): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`login-resend:user:${input.userId}`}))`);
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`login-resend:number:${input.destination}`}))`);
  const since = new Date(input.now.getTime() - RESEND_POLICY.windowMs);
  for (const [scope, where] of [
    ['your account', eq(loginChallenges.userId, input.userId)],
    ['this phone number', eq(loginChallenges.destination, input.destination)],
  ] as const) {
    const [recent] = await tx
      .select({ n: count(), oldest: min(loginChallenges.createdAt) })
      .from(loginChallenges)
      .where(and(where, eq(loginChallenges.isResend, true), gt(loginChallenges.createdAt, since)));
    if ((recent?.n ?? 0) >= RESEND_POLICY.maxResends && recent?.oldest) {
      const seconds = Math.ceil((recent.oldest.getTime() + RESEND_POLICY.windowMs - input.now.getTime()) / 1000);
      throw new RetryLaterError(`Too many codes sent again for ${scope}: at most ${RESEND_POLICY.maxResends} in 10 minutes. Try again in ${Math.ceil(seconds / 60)} minutes.`, seconds);
    }
  }
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
  const device = { fingerprint: row.deviceFingerprint, label: row.deviceLabel };
  return sendCode(ctx, row.userId, { loginId: row.loginId, isResend: true, device, ip: input.ip, channel: 'sms' }, row.challengeId);
}

/**
 * "Call me instead": a new code for a sign-in waiting for one, read by a voice call; the previous
 * code stops working. It counts as a resend (the same limits), but a sign-in whose code could not
 * arrive (no SMS sent, or Twilio refused it) need not wait the 30 seconds first.
 */
export async function callLoginCode(ctx: LoginContext, input: { challengeId: string; ip: string }): Promise<LoginStarted> {
  const row = await requireLoginChallenge(ctx.db, input.challengeId);
  const now = ctx.clock.now();
  await requireNotLocked(ctx.db, row.userId, now);
  const before = await describeCodeDelivery(ctx, ctx.db, { challengeId: row.challengeId, userId: row.userId, destination: row.destination, callRoute: CALL_ROUTE });
  const arriving = before.channel !== 'none' && before.problem === null;
  const wait = row.createdAt.getTime() + RESEND_POLICY.cooldownMs - now.getTime();
  if (arriving && wait > 0) {
    const seconds = Math.ceil(wait / 1000);
    throw new RetryLaterError(`A code is on its way already: you can ask for a call in ${seconds} seconds.`, seconds);
  }
  const device = { fingerprint: row.deviceFingerprint, label: row.deviceLabel };
  return sendCode(ctx, row.userId, { loginId: row.loginId, isResend: true, device, ip: input.ip, channel: 'voice' }, row.challengeId);
}

/** What became of a sign-in's code: the client asks while an SMS is on its way, since a refusal comes later. */
export async function loginCodeStatus(ctx: LoginContext, challengeId: string): Promise<{ challengeId: string; delivery: CodeDelivery }> {
  const row = await requireLoginChallenge(ctx.db, challengeId);
  const withheld = (await describeCodeDelivery(ctx, ctx.db, { challengeId, userId: row.userId, destination: row.destination, callRoute: CALL_ROUTE }));
  if (withheld.channel !== 'none') return { challengeId, delivery: withheld };
  // No code message: say why again, from what is known of the number now.
  const problem = await phoneCodeProblem(ctx.db, row.destination);
  return { challengeId, delivery: await describeCodeDelivery(ctx, ctx.db, { challengeId, userId: row.userId, destination: row.destination, withheld: problem, callRoute: CALL_ROUTE }) };
}

/** How the customer proves the sign-in: the SMS code, an authenticator app code, or a backup code. */
export type SecondFactor = 'sms' | 'totp' | 'backup_code';

export interface LoginCode {
  challengeId: string;
  code: string;
  /** Default 'sms'. */
  method?: SecondFactor;
  /** ISO country of the client as a trusted proxy named it (GEO_COUNTRY_HEADER), if any. */
  country?: string;
}

type LoginChallengeRow = Awaited<ReturnType<typeof requireLoginChallenge>>;

/**
 * Checks the second factor of a sign-in and opens a session. A wrong code costs one of the
 * sign-in's 5 attempts and counts toward the lockout, whichever kind of code it was; a device this
 * user never signed in from gets an alert, and so does a new country.
 */
export async function completeLogin(ctx: LoginContext, input: LoginCode): Promise<LoginCompleted> {
  const row = await requireLoginChallenge(ctx.db, input.challengeId);
  const [challenge] = await ctx.db.select().from(otpChallenges).where(eq(otpChallenges.id, row.challengeId));
  // Told before the lockout, and whatever the code: says nothing about whether a code is right.
  if (challenge && challenge.attempts >= challenge.maxAttempts && !challenge.consumedAt) {
    throw otpCheckError('too_many_attempts', { attemptsLeft: 0, again: AGAIN });
  }
  await requireNotLocked(ctx.db, row.userId, ctx.clock.now());
  if (input.method === 'totp' || input.method === 'backup_code') return completeWithoutSms(ctx, row, input.method, input);
  const device = { fingerprint: row.deviceFingerprint, label: row.deviceLabel };
  const result = await checkLoginCode(ctx, row.userId, row.challengeId, input.code);
  if (result === 'wrong_code') {
    const until = await recordLoginFailure(ctx, row.userId, 'code', device);
    if (until) throw lockedError(until);
  }
  const refused = otpCheckError(result, { attemptsLeft: await attemptsLeft(ctx.db, row.challengeId), again: AGAIN });
  if (refused) throw refused;
  const now = ctx.clock.now();
  return ctx.db.transaction((tx) => openSession(ctx, tx, row, now, { method: 'sms', country: input.country }));
}

async function attemptsLeft(db: Queryable, challengeId: string): Promise<number> {
  const [after] = await db.select({ attempts: otpChallenges.attempts, max: otpChallenges.maxAttempts }).from(otpChallenges).where(eq(otpChallenges.id, challengeId));
  return after ? after.max - after.attempts : 0;
}

/**
 * The sign-in completed with an authenticator or backup code instead of the SMS: the attempt is
 * one of the sign-in's 5, and the SMS code is used up with it so it cannot open a second session.
 */
async function completeWithoutSms(ctx: LoginContext, row: LoginChallengeRow, method: 'totp' | 'backup_code', input: LoginCode): Promise<LoginCompleted> {
  const now = ctx.clock.now();
  const claimed = await claimOtpAttempt(ctx.db, row.challengeId, now, { purpose: 'login', userId: row.userId });
  if (typeof claimed === 'string') throw otpCheckError(claimed, { attemptsLeft: 0, again: AGAIN });
  type Outcome = { session: LoginCompleted } | { refused: 'wrong_code' | 'replayed' | 'not_enrolled' | 'none_left' };
  const outcome = await ctx.db.transaction(async (tx): Promise<Outcome> => {
    let remaining: number | undefined;
    if (method === 'totp') {
      const check = await checkTotpForLogin(ctx, tx, row.userId, input.code);
      if (check !== 'ok') return { refused: check };
    } else {
      const check = await useBackupCode(tx, row.userId, input.code, now);
      if (check.result !== 'ok') return { refused: check.result };
      remaining = check.remaining;
    }
    if (!(await consumeOtpChallenge(tx, row.challengeId, now))) throw otpCheckError('already_used', { attemptsLeft: 0, again: AGAIN });
    return { session: await openSession(ctx, tx, row, now, { method, country: input.country, backupCodesRemaining: remaining }) };
  });
  if ('session' in outcome) return outcome.session;
  switch (outcome.refused) {
    case 'not_enrolled':
      throw new AppError('conflict', 'No authenticator app is active on your account: use the code we sent by SMS, or a backup code (method "backup_code").');
    case 'none_left':
      throw new AppError('conflict', 'You have no unused backup codes: use the code we sent by SMS, or your authenticator app (method "totp").');
    default: {
      const until = await recordLoginFailure(ctx, row.userId, 'code', { fingerprint: row.deviceFingerprint });
      if (until) throw lockedError(until);
      const left = await attemptsLeft(ctx.db, row.challengeId);
      const attempts = `${left} ${left === 1 ? 'attempt' : 'attempts'} left`;
      if (outcome.refused === 'replayed') {
        throw new AppError('code_used', `This authenticator code was already used: wait for the next one (a new code every 30 seconds). ${attempts}.`);
      }
      throw new AppError('code_rejected', method === 'totp'
        ? `Wrong authenticator code: ${attempts}. Type the 6-digit code your app shows now for DominionTrust.`
        : `Wrong backup code: ${attempts}. Each backup code works once: type one you have not used yet.`);
    }
  }
}

/** The session of a completed sign-in, its device (alert if new) and its country (alert if new). */
async function openSession(
  ctx: LoginContext, tx: Queryable, row: LoginChallengeRow, now: Date,
  how: { method: SecondFactor; country: string | undefined; backupCodesRemaining?: number },
): Promise<LoginCompleted> {
  const device = { fingerprint: row.deviceFingerprint, label: row.deviceLabel };
  const [user] = await tx.select({ id: users.id, username: users.username, isStaff: users.isStaff }).from(users).where(eq(users.id, row.userId));
  if (!user) throw new AppError('not_found', 'No such user.');
  const session = await createSession(tx, row.userId, device, now, user.isStaff ? ctx.config.security.staffSession : undefined);
  const newDevice = await rememberDevice(tx, row.userId, device, now);
  if (newDevice) {
    await recordEvent(ctx, tx, {
      userId: row.userId, type: 'login.new_device', payload: { device: device.label, ip: row.ip, method: how.method },
      notify: [{ type: 'new_device_login', values: { device: device.label, location: row.ip, time: now } }],
    });
  }
  await checkLoginCountry(ctx, tx, { userId: row.userId, country: how.country, now });
  return {
    token: session.token, expiresAt: session.expiresAt, user, newDevice, method: how.method,
    ...(how.backupCodesRemaining !== undefined && { backupCodesRemaining: how.backupCodesRemaining }),
  };
}
