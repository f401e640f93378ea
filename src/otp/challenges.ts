// One-time codes sent by SMS. A challenge is created with the change that needs it; the code is
// minted only by the worker that sends it, so it exists in plain text nowhere but in that SMS.
// Stored as an HMAC-SHA256 keyed with a key derived from the data key and bound to the challenge,
// checked in constant time, single use, limited attempts.
import { createHmac, hkdfSync, randomInt, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Queryable } from '../db/connection.ts';
import { otpChallenges } from '../db/schema.ts';

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

const codeKeys = new WeakMap<Buffer, Buffer>();

/**
 * The key code hashes are made with, derived from the data key (never the data key itself). A
 * 6-digit code has only 10^6 values: a slow salted hash of it (scrypt, 50-80 ms a code) falls to
 * 10^6 guesses offline from a copy of the database; an HMAC under a key the database does not
 * hold cannot be tried at all without that key, and costs microseconds on the send path.
 */
function codeKeyOf(dataKey: Buffer): Buffer {
  let key = codeKeys.get(dataKey);
  if (!key) {
    key = Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), 'dominion one-time code hash v1', 32));
    codeKeys.set(dataKey, key);
  }
  return key;
}

/** `hmac1$<base64>`: the code's HMAC, bound to its challenge so a hash copied to another challenge does not match. */
function hashCode(dataKey: Buffer, challengeId: string, code: string): string {
  return `${HMAC_FORMAT}$${codeHmac(dataKey, challengeId, code).toString('base64')}`;
}

function codeHmac(dataKey: Buffer, challengeId: string, code: string): Buffer {
  return createHmac('sha256', codeKeyOf(dataKey)).update(`${challengeId}:${code}`).digest();
}

const HMAC_FORMAT = 'hmac1';
/** Hashes of codes minted before the HMAC (a code lives 5 minutes): still checked, never made. */
const legacyScrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

/** Creates the code for a challenge and stores its hash; returns the code for the SMS only. */
export async function mintOtpCode(db: Queryable, dataKey: Buffer, challengeId: string, draw: (max: number) => number = randomInt): Promise<string> {
  const code = String(draw(10 ** OTP_POLICY.digits)).padStart(OTP_POLICY.digits, '0');
  const codeHash = hashCode(dataKey, challengeId, code);
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

/** Whether `code` is the one a stored hash of this challenge was made from, compared in constant time. */
async function codeMatches(dataKey: Buffer, challengeId: string, codeHash: string, code: string): Promise<boolean> {
  const typed = code.trim();
  if (!/^\d+$/.test(typed)) return false;
  const [format, first, second] = codeHash.split('$');
  const [expected, actual] = format === HMAC_FORMAT
    ? [Buffer.from(first ?? '', 'base64'), codeHmac(dataKey, challengeId, typed)]
    : [Buffer.from(second ?? '', 'base64'), await legacyScrypt(typed, Buffer.from(first ?? '', 'base64'), 32)];
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * Checks a code. Each check counts as an attempt (claimOtpAttempt); a right code consumes the
 * challenge. A challenge of another purpose or user is 'not_found' and costs it no attempt.
 */
export async function verifyOtpCode(db: Queryable, dataKey: Buffer, challengeId: string, code: string, now: Date, expect: OtpExpectation): Promise<OtpCheck> {
  const claimed = await claimOtpAttempt(db, challengeId, now, expect);
  if (typeof claimed === 'string') return claimed;
  if (!claimed.codeHash) return 'not_sent';
  if (!(await codeMatches(dataKey, challengeId, claimed.codeHash, code))) return 'wrong_code';
  return (await consumeOtpChallenge(db, challengeId, now)) ? 'ok' : 'already_used';
}

/**
 * Whether `code` is the live code of a challenge, without consuming it: only to tell a customer
 * which of their codes they typed (e.g. one sent for another transfer). It costs that challenge an
 * attempt like any check, so asking it of several challenges gives no more guesses at any code.
 */
export async function isCodeOfChallenge(db: Queryable, dataKey: Buffer, challengeId: string, code: string, now: Date, expect: OtpExpectation): Promise<boolean> {
  const claimed = await claimOtpAttempt(db, challengeId, now, expect);
  return typeof claimed !== 'string' && claimed.codeHash !== null && codeMatches(dataKey, challengeId, claimed.codeHash, code);
}
