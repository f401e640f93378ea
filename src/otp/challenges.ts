// One-time codes sent by SMS. A challenge is created with the change that needs it; the code is
// minted only by the worker that sends it, so it exists in plain text nowhere but in that SMS.
// Stored as a salted scrypt hash, checked in constant time, single use, limited attempts.
import { randomInt, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Queryable } from '../db/connection.ts';
import { otpChallenges } from '../db/schema.ts';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

/** Policy of the references (PSD2 RTS, NIST 800-63B): 6 digits, 5 minutes, 5 attempts. */
export const OTP_POLICY = { digits: 6, ttlMs: 5 * 60_000, maxAttempts: 5 } as const;

/** What a code looks like in the message log and anywhere else but the SMS itself. */
export const CODE_MASK = '******';

export type OtpPurpose = 'login' | 'phone_verification' | 'phone_change' | 'transfer_confirmation' | 'test';

export type OtpCheck = 'ok' | 'wrong_code' | 'expired' | 'too_many_attempts' | 'already_used' | 'not_sent' | 'not_found';

export interface OtpChallenge {
  id: string;
  expiresAt: Date;
}

export async function createOtpChallenge(
  db: Queryable,
  input: { userId: string; purpose: OtpPurpose; destination: string; now: Date },
): Promise<OtpChallenge> {
  const expiresAt = new Date(input.now.getTime() + OTP_POLICY.ttlMs);
  const [row] = await db
    .insert(otpChallenges)
    .values({
      userId: input.userId,
      purpose: input.purpose,
      destination: input.destination,
      maxAttempts: OTP_POLICY.maxAttempts,
      expiresAt,
      createdAt: input.now,
    })
    .returning({ id: otpChallenges.id, expiresAt: otpChallenges.expiresAt });
  if (!row) throw new Error('insert returned no row');
  return row;
}

async function hashCode(code: string, salt: Buffer): Promise<string> {
  const key = await scrypt(code, salt, 32);
  return `scrypt$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Creates the code for a challenge and stores its hash; returns the code for the SMS only. */
export async function mintOtpCode(db: Queryable, challengeId: string, draw: (max: number) => number = randomInt): Promise<string> {
  const code = String(draw(10 ** OTP_POLICY.digits)).padStart(OTP_POLICY.digits, '0');
  const codeHash = await hashCode(code, randomBytes(16));
  await db.update(otpChallenges).set({ codeHash }).where(and(eq(otpChallenges.id, challengeId), isNull(otpChallenges.consumedAt)));
  return code;
}

/** Whose code and what for: a code is only ever checked for the purpose and user it was sent for. */
export interface OtpExpectation {
  purpose: OtpPurpose;
  userId: string;
}

/**
 * Counts one attempt at a challenge (atomically, so parallel guesses cannot exceed the limit) and
 * returns its code hash to check against; or why no attempt may be made. A challenge of another
 * purpose or user is 'not_found' and costs it no attempt.
 */
export async function claimOtpAttempt(
  db: Queryable, challengeId: string, now: Date, expect: OtpExpectation,
): Promise<{ codeHash: string | null } | Exclude<OtpCheck, 'ok' | 'wrong_code' | 'not_sent'>> {
  const owned = and(eq(otpChallenges.id, challengeId), eq(otpChallenges.purpose, expect.purpose), eq(otpChallenges.userId, expect.userId));
  const [row] = await db
    .update(otpChallenges)
    .set({ attempts: sql`${otpChallenges.attempts} + 1` })
    .where(and(
      owned,
      isNull(otpChallenges.consumedAt),
      sql`${otpChallenges.attempts} < ${otpChallenges.maxAttempts}`,
      sql`${otpChallenges.expiresAt} > ${now.toISOString()}`,
    ))
    .returning({ codeHash: otpChallenges.codeHash });
  if (row) return row;
  const [current] = await db.select().from(otpChallenges).where(owned);
  if (!current) return 'not_found';
  if (current.consumedAt) return 'already_used';
  if (current.expiresAt <= now) return 'expired';
  return 'too_many_attempts';
}

/** Marks a challenge used; false when something else used it first. */
export async function consumeOtpChallenge(db: Queryable, challengeId: string, now: Date): Promise<boolean> {
  const consumed = await db
    .update(otpChallenges)
    .set({ consumedAt: now })
    .where(and(eq(otpChallenges.id, challengeId), isNull(otpChallenges.consumedAt)))
    .returning({ id: otpChallenges.id });
  return consumed.length > 0;
}

/** Whether `code` is the one a stored hash was made from, compared in constant time. */
async function codeMatches(codeHash: string, code: string): Promise<boolean> {
  const typed = code.trim();
  if (!/^\d+$/.test(typed)) return false;
  const [, saltB64, keyB64] = codeHash.split('$');
  const expected = Buffer.from(keyB64 ?? '', 'base64');
  const actual = await scrypt(typed, Buffer.from(saltB64 ?? '', 'base64'), 32);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * Checks a code. Each check counts as an attempt (claimOtpAttempt); a right code consumes the
 * challenge. A challenge of another purpose or user is 'not_found' and costs it no attempt.
 */
export async function verifyOtpCode(db: Queryable, challengeId: string, code: string, now: Date, expect: OtpExpectation): Promise<OtpCheck> {
  const claimed = await claimOtpAttempt(db, challengeId, now, expect);
  if (typeof claimed === 'string') return claimed;
  if (!claimed.codeHash) return 'not_sent';
  if (!(await codeMatches(claimed.codeHash, code))) return 'wrong_code';
  return (await consumeOtpChallenge(db, challengeId, now)) ? 'ok' : 'already_used';
}

/**
 * Whether `code` is the live code of a challenge, without consuming it: only to tell a customer
 * which of their codes they typed (e.g. one sent for another transfer). It costs that challenge an
 * attempt like any check, so asking it of several challenges gives no more guesses at any code.
 */
export async function isCodeOfChallenge(db: Queryable, challengeId: string, code: string, now: Date, expect: OtpExpectation): Promise<boolean> {
  const claimed = await claimOtpAttempt(db, challengeId, now, expect);
  return typeof claimed !== 'string' && claimed.codeHash !== null && codeMatches(claimed.codeHash, code);
}
