// Telling a database that went away (PostgreSQL restarting, a network cut, a failover) from a bug:
// such errors are answered 503 with Retry-After by the HTTP layer, never 500, and the worker waits
// for the database to come back and runs the jobs again instead of failing them, so an outage
// delays messages but loses and duplicates none.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { isDiskFull } from './embedded-disk.ts';

/** Node socket errors of a connection that cannot be made or was cut. */
const SOCKET_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** PostgreSQL SQLSTATEs of a server that is going away or not taking connections. */
const SERVER_CODES: ReadonlySet<string> = new Set(['57P01', '57P02', '57P03', '53300']);
/** node-postgres reports a lost or unobtainable connection in words, not codes. */
const LOST = /Connection terminated|connection error and is not queryable|timeout exceeded when trying to connect|Client was closed and is not queryable|the database system is (starting up|shutting down)/i;

/**
 * Whether `error` (or an error it wraps, as Drizzle does) says the database cannot be reached. An
 * embedded database on a full disk counts: its jobs wait for the restart instead of failing.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (isDiskFull(error)) return true;
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (SOCKET_CODES.has(code) || SERVER_CODES.has(code) || code.startsWith('08'))) return true;
    if (LOST.test(e.message)) return true;
  }
  return false;
}

/** What a caller is told while the database is away. */
export const DATABASE_UNAVAILABLE_MESSAGE =
  'The service is briefly unavailable: its database cannot be reached. Try again in a few seconds; a request with an Idempotency-Key is safe to repeat.';

/** Seconds a client should wait before trying again. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/**
 * Runs `write` and, while the database is unreachable, tries again with backoff for up to
 * `patienceMs`: for a record that must not be lost, such as a send Twilio already accepted.
 * `done` says whether an earlier try committed although its answer was lost.
 */
export async function persistThroughOutage<T>(
  logger: Logger, what: string, write: () => Promise<T>, options: { patienceMs?: number; done?: () => Promise<boolean> } = {},
): Promise<T | undefined> {
  const deadline = Date.now() + (options.patienceMs ?? 45_000);
  for (let attempt = 0; ; attempt++) {
    try {
      if (attempt > 0 && (await options.done?.())) return undefined;
      return await write();
    } catch (error) {
      if (!isDatabaseUnavailable(error) || Date.now() >= deadline) throw error;
      if (attempt === 0) logger.warn({ err: error }, `database unreachable; holding ${what} until it is back`);
      await sleep(Math.min(2000, 100 * 2 ** attempt));
    }
  }
}

/** Waits until `ping` succeeds, up to `patienceMs`; returns whether the database is back. */
export async function awaitDatabase(ping: () => Promise<void>, patienceMs: number): Promise<boolean> {
  const deadline = Date.now() + patienceMs;
  for (let attempt = 0; ; attempt++) {
    try {
      await ping();
      return true;
    } catch {
      if (Date.now() >= deadline) return false;
      await sleep(Math.min(2000, 100 * 2 ** attempt));
    }
  }
}
