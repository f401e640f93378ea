// A signed-in customer changes their password: the current one is checked (a wrong one counts
// toward the lockout, so a stolen session cannot guess it), the new one must be strong, every
// other session is signed out, and the customer is told (password.changed -> password_changed).
// password_changed_at feeds the 'large transfer after a password change' rule.
import { eq } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import { users } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { recordEvent } from '../events/events.ts';
import { confirmCurrentPassword } from '../auth/reauthenticate.ts';
import { revokeUserSessions } from '../auth/sessions.ts';
import { checkPasswordStrength, hashPassword } from './passwords.ts';

export interface PasswordChanged {
  passwordChangedAt: Date;
  /** Sessions on other devices that were signed out. */
  otherSessionsRevoked: number;
}

export async function changePassword(
  ctx: Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'>,
  input: { userId: string; sessionId: string; currentPassword: string; newPassword: string },
): Promise<PasswordChanged> {
  const user = await confirmCurrentPassword(ctx, input.userId, input.currentPassword);
  if (input.newPassword === input.currentPassword) {
    throw new AppError('weak_password', 'The new password is the same as the current one: choose a different one.');
  }
  checkPasswordStrength(input.newPassword, { username: user.username });
  const passwordHash = await hashPassword(input.newPassword, ctx.config.security.passwordHashCost);
  const now = ctx.clock.now();
  return ctx.db.transaction(async (tx) => {
    await tx.update(users).set({ passwordHash, passwordChangedAt: now }).where(eq(users.id, input.userId));
    const otherSessionsRevoked = await revokeUserSessions(tx, input.userId, now, input.sessionId);
    await recordEvent(ctx, tx, {
      userId: input.userId, type: 'password.changed', payload: { otherSessionsRevoked },
      notify: [{ type: 'password_changed', values: { time: now } }],
    });
    return { passwordChangedAt: now, otherSessionsRevoked };
  });
}
