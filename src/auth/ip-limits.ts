// Per-IP limits on the two doors credential stuffing and fake sign-ups knock on: POST /api/login
// and POST /api/register, counted per 10-minute window in rate_limit_counters (shared by every
// server process, like the SMS limits). Every request counts, right or wrong, before any work.
import type { AppContext } from '../context.ts';
import { RetryLaterError } from '../errors.ts';
import { consumeLimits, LimitReached, type LimitRule } from '../notifications/limits.ts';

export const IP_LIMIT_WINDOW_MS = 10 * 60_000;

export type GuardedDoor = 'login' | 'register';

/** Counts one request from `ip`; throws RetryLaterError (429, Retry-After) past the limit. */
export async function countRequestFromIp(ctx: Pick<AppContext, 'db' | 'config' | 'clock'>, door: GuardedDoor, ip: string): Promise<void> {
  const limit = door === 'login' ? ctx.config.security.loginIpLimit : ctx.config.security.registerIpLimit;
  if (limit <= 0) return;
  const rule: LimitRule = { name: `${door}_ip_limit`, key: `${door}:ip:${ip}`, limit, windowMs: IP_LIMIT_WINDOW_MS, amount: 1 };
  const now = ctx.clock.now();
  try {
    await consumeLimits(ctx.db, [rule], now);
  } catch (error) {
    if (!(error instanceof LimitReached)) throw error;
    const seconds = Math.max(1, Math.ceil((error.resetsAt.getTime() - now.getTime()) / 1000));
    const what = door === 'login' ? 'sign-in attempts' : 'registrations';
    throw new RetryLaterError(`Too many ${what} from this network: at most ${limit} in 10 minutes. Try again in ${Math.ceil(seconds / 60)} minutes.`, seconds);
  }
}
