// Re-authentication before a security change (password, authenticator, backup codes): a session
// alone is not enough, since a stolen one must not be able to make itself permanent. A wrong
// password counts toward the lockout like a wrong sign-in, so a stolen session cannot guess it.
import { eq } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import { users } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { verifyPassword } from '../users/passwords.ts';
import { lockedError, recordLoginFailure, requireNotLocked } from './lockout.ts';

/** Checks the signed-in customer's current password; throws 'forbidden' (wrong) or 'account_locked'. */
export async function confirmCurrentPassword(
  ctx: Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'>, userId: string, password: string,
): Promise<{ username: string }> {
  await requireNotLocked(ctx.db, userId, ctx.clock.now());
  const [user] = await ctx.db.select({ username: users.username, passwordHash: users.passwordHash }).from(users).where(eq(users.id, userId));
  if (!user) throw new AppError('not_found', 'No such user.');
  if (!(await verifyPassword(password, user.passwordHash))) {
    const until = await recordLoginFailure(ctx, userId, 'password');
    if (until) throw lockedError(until);
    throw new AppError('forbidden', 'Wrong current password: type the password you sign in with now. Forgotten it? Call the number on the back of your card.');
  }
  return { username: user.username };
}
