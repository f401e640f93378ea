// Ten single-use backup codes, for signing in when neither the phone nor the authenticator app is
// at hand. Shown once when made (a new set replaces the old), stored only as scrypt hashes. One
// salt per set, so checking a typed code costs one scrypt however many codes are left; each
// stored hash is then compared in constant time.
import { randomBytes, randomInt, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { and, count, eq, isNull } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { backupCodes } from '../db/schema.ts';
import { recordEvent } from '../events/events.ts';
import { confirmCurrentPassword } from './reauthenticate.ts';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

export const BACKUP_CODE_POLICY = { count: 10, length: 8 } as const;

/** No 0/o, 1/l/i: a code copied by hand from paper must read back the same (40 bits per code). */
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

export interface BackupCodeSet {
  /** The codes as the customer writes them down, e.g. k7qm-x3tz. Shown this once only. */
  codes: string[];
  createdAt: Date;
}

function newCode(): string {
  let code = '';
  for (let i = 0; i < BACKUP_CODE_POLICY.length; i++) code += ALPHABET[randomInt(ALPHABET.length)];
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** What is hashed: lower case, no dash or spaces, so "K7QM X3TZ" and "k7qm-x3tz" are one code. */
function canonical(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '');
}

async function hashWith(salt: Buffer, code: string): Promise<Buffer> {
  return scrypt(canonical(code), salt, 32);
}

/** Makes a new set of codes, replacing any old one (used or not); raises two_factor.backup_codes_created. */
export async function createBackupCodes(ctx: Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'>, userId: string, currentPassword: string): Promise<BackupCodeSet> {
  await confirmCurrentPassword(ctx, userId, currentPassword);
  const codes = Array.from({ length: BACKUP_CODE_POLICY.count }, newCode);
  const salt = randomBytes(16);
  const hashes = await Promise.all(codes.map(async (code) => `scrypt$${salt.toString('base64')}$${(await hashWith(salt, code)).toString('base64')}`));
  const now = ctx.clock.now();
  await ctx.db.transaction(async (tx) => {
    await tx.delete(backupCodes).where(eq(backupCodes.userId, userId));
    await tx.insert(backupCodes).values(hashes.map((codeHash) => ({ userId, codeHash, createdAt: now })));
    await recordEvent(ctx, tx, {
      userId, type: 'two_factor.backup_codes_created', payload: { count: codes.length },
      notify: [{ type: 'two_factor_changed', values: { time: now } }],
    });
  });
  return { codes, createdAt: now };
}

export type BackupCodeCheck = { result: 'ok'; remaining: number } | { result: 'wrong_code' | 'none_left' };

/**
 * Uses a backup code at sign-in, in the caller's transaction: the user's unused codes are locked,
 * so a code raced from two requests signs in once.
 */
export async function useBackupCode(tx: Queryable, userId: string, typed: string, now: Date): Promise<BackupCodeCheck> {
  const unused = await tx.select({ id: backupCodes.id, codeHash: backupCodes.codeHash }).from(backupCodes)
    .where(and(eq(backupCodes.userId, userId), isNull(backupCodes.usedAt))).for('update');
  const first = unused[0];
  if (!first) return { result: 'none_left' };
  const [, saltB64] = first.codeHash.split('$');
  const actual = await hashWith(Buffer.from(saltB64 ?? '', 'base64'), canonical(typed).length === BACKUP_CODE_POLICY.length ? typed : '');
  let match: string | undefined;
  for (const row of unused) {
    const expected = Buffer.from(row.codeHash.split('$')[2] ?? '', 'base64');
    if (expected.length === actual.length && timingSafeEqual(expected, actual) && match === undefined) match = row.id;
  }
  if (!match) return { result: 'wrong_code' };
  await tx.update(backupCodes).set({ usedAt: now }).where(eq(backupCodes.id, match));
  const [left] = await tx.select({ n: count() }).from(backupCodes).where(and(eq(backupCodes.userId, userId), isNull(backupCodes.usedAt)));
  return { result: 'ok', remaining: left?.n ?? 0 };
}
