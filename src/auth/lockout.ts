// Online-banking lockout: 5 wrong passwords or 5 wrong login codes within 15 minutes lock the
// account for 15 minutes, and the customer gets an SMS saying so (account_lockout).
import { and, count, desc, eq, gt, sql } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { loginFailures, loginLockouts, users } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { notifyUser } from '../notifications/send.ts';

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
 * failure). Returns the end of the lockout when this failure locked the account.
 */
export async function recordLoginFailure(ctx: Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'>, userId: string, kind: LoginFailureKind): Promise<Date | undefined> {
  const now = ctx.clock.now();
  return ctx.db.transaction(async (tx) => {
    // One failure at a time per user, so parallel guesses cannot skip the lockout or lock twice.
    await tx.select({ id: users.id }).from(users).where(eq(users.id, userId)).for('update');
    await tx.insert(loginFailures).values({ userId, kind, createdAt: now });
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
    const [lockout] = await tx.insert(loginLockouts).values({ userId, lockedUntil: until, createdAt: now }).returning({ id: loginLockouts.id });
    await notifyUser(ctx, tx, { userId, type: 'account_lockout', values: {}, eventKey: `account_lockout:${lockout?.id ?? until.toISOString()}` });
    return until;
  });
}
