// Online-banking lockout: 5 wrong passwords or 5 wrong login codes (SMS, authenticator or backup
// code) within 15 minutes lock the account for 15 minutes, sign out every session, and tell the
// customer (login.locked -> account_lockout). A wrong code also feeds the new-device rule of
// src/auth/suspicious.ts.
import { and, count, desc, eq, gt, sql } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { loginFailures, loginLockouts, users } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { recordEvent } from '../events/events.ts';
import { isKnownDevice, revokeUserSessions } from './sessions.ts';
import { checkFailedCodesFromNewDevices } from './suspicious.ts';

export const LOCKOUT_POLICY = { maxFailures: 5, windowMs: 15 * 60_000, lockMs: 15 * 60_000 } as const;

export type LoginFailureKind = 'password' | 'code';

/** When the user's current lockout ends, or undefined when they are not locked out. */
export async function lockedUntil(db: Queryable, userId: string, now: Date): Promise<Date | undefined> {
  const [row] = await db
    .select({ until: loginLockouts.lockedUntil })
    .from(loginLockouts)
    .where(and(eq(loginLockouts.userId, userId), gt(loginLockouts.lockedUntil, now)))
    .orderBy(desc(loginLockouts.lockedUntil))
    .limit(1);
  return row?.until;
}

export function lockedError(until: Date): AppError {
  return new AppError(
    'account_locked',
    `Account locked: too many failed sign-in attempts. Try again after ${until.toISOString().slice(11, 16)} UTC, or call the number on the back of your card.`,
  );
}

/** Throws AppError 'account_locked' while the user is locked out. */
export async function requireNotLocked(db: Queryable, userId: string, now: Date): Promise<void> {
  const until = await lockedUntil(db, userId, now);
  if (until) throw lockedError(until);
}

/**
 * Records a failed password or code in its own transaction (it must outlive the request's
 * failure), with the device it came from when known. Returns the end of the lockout when this
 * failure locked the account.
 */
export async function recordLoginFailure(
  ctx: Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'>, userId: string, kind: LoginFailureKind, device?: { fingerprint: string },
): Promise<Date | undefined> {
  const now = ctx.clock.now();
  return ctx.db.transaction(async (tx) => {
    // One failure at a time per user, so parallel guesses cannot skip the lockout or lock twice.
    await tx.select({ id: users.id }).from(users).where(eq(users.id, userId)).for('update');
    const newDevice = device ? !(await isKnownDevice(tx, userId, device.fingerprint)) : false;
    await tx.insert(loginFailures).values({ userId, kind, deviceFingerprint: device?.fingerprint ?? null, newDevice, createdAt: now });
    if (kind === 'code' && newDevice) await checkFailedCodesFromNewDevices(ctx, tx, { userId, now });
    const [last] = await tx
      .select({ createdAt: loginLockouts.createdAt })
      .from(loginLockouts)
      .where(eq(loginLockouts.userId, userId))
      .orderBy(desc(loginLockouts.createdAt))
      .limit(1);
    // Failures before the last lockout have had their consequence already.
    const since = new Date(Math.max(now.getTime() - LOCKOUT_POLICY.windowMs, last ? last.createdAt.getTime() + 1 : 0));
    const [failures] = await tx
      .select({ n: count() })
      .from(loginFailures)
      .where(and(eq(loginFailures.userId, userId), eq(loginFailures.kind, kind), sql`${loginFailures.createdAt} >= ${since.toISOString()}`));
    if ((failures?.n ?? 0) < LOCKOUT_POLICY.maxFailures) return undefined;
    const until = new Date(now.getTime() + LOCKOUT_POLICY.lockMs);
    await tx.insert(loginLockouts).values({ userId, lockedUntil: until, createdAt: now });
    // Whoever is guessing may already hold a session (a stolen token): the lockout ends them all.
    const sessionsRevoked = await revokeUserSessions(tx, userId, now);
    await recordEvent(ctx, tx, {
      userId, type: 'login.locked', payload: { after: `${kind}_failures`, lockedUntil: until.toISOString(), sessionsRevoked },
      notify: [{ type: 'account_lockout', values: {} }],
    });
    return until;
  });
}
