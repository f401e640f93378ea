// How a CLI command reaches the data: with DATABASE_URL it opens PostgreSQL itself; on the
// embedded database it asks the running server (which owns the data directory) when there is one,
// and opens the directory itself when there is not.
import type { Config } from '../config.ts';
import type { AppContext } from '../context.ts';
import { readLockOwner } from '../db/embedded-lock.ts';
import { AppError, type AppErrorCode } from '../errors.ts';
import { ADMIN_CLI_PREFIX } from '../http/admin-cli.ts';
import { readAdminToken } from './admin-token.ts';

export interface RunningServer {
  url: string;
  pid: number;
  token: string;
}

/**
 * The server that owns the embedded database, or undefined when the CLI may open it itself.
 * Throws AppError 'database_locked' when another process holds it and cannot be asked.
 */
export function findRunningServer(config: Config): RunningServer | undefined {
  if (config.databaseUrl) return undefined;
  const owner = readLockOwner(config.dataDir);
  if (!owner) return undefined;
  const token = readAdminToken(config.dataDir);
  if (!owner.serverUrl || !token) {
    throw new AppError(
      'database_locked',
      `The embedded database in ${config.dataDir} is in use by process ${owner.pid} (started ${owner.startedAt}), which does not answer CLI requests ` +
        '(a worker, or a server still starting). Wait a few seconds and run the command again, or stop that process.',
    );
  }
  return { url: owner.serverUrl, pid: owner.pid, token };
}

const KNOWN_CODES: ReadonlySet<string> = new Set<AppErrorCode>([
  'config_invalid', 'invalid_phone_number', 'country_not_allowed', 'not_found', 'no_phone_number', 'weak_password', 'conflict',
  'database_locked', 'validation_failed', 'sms_authentication', 'sms_invalid_recipient', 'sms_opted_out', 'sms_insufficient_funds',
  'sms_rate_limited', 'sms_transient', 'sms_permanent', 'unavailable',
]);

/** POSTs a command to the running server; its domain errors come back as the same AppErrors. */
export async function callServer<T>(server: RunningServer, path: string, body: unknown, timeoutMs: number): Promise<T> {
  const url = `${server.url}${ADMIN_CLI_PREFIX}${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new AppError('unavailable', `The server (process ${server.pid}) owns the embedded database but did not answer at ${server.url}: ${(error as Error).message}. Is it still starting or stuck? Check its output.`, { cause: error });
  }
  const payload = (await response.json().catch(() => ({}))) as { error?: string; message?: string };
  if (response.ok) return payload as T;
  const message = payload.message ?? `HTTP ${response.status}`;
  if (payload.error && KNOWN_CODES.has(payload.error)) throw new AppError(payload.error as AppErrorCode, message);
  if (response.status === 403) throw new AppError('unavailable', `The server at ${server.url} refused the CLI's token (${message}). Restart the server so it writes a fresh DATA_DIR/admin.token.`);
  throw new AppError('unavailable', `The server at ${server.url} failed to run the command (${message}); its log has the details.`);
}

/**
 * Runs a command where the data is: on the running server that owns the embedded database (its
 * admin route `path` answers with the same result), or here, on a runtime opened for the command.
 */
export async function performCommand<T>(config: Config, command: { path: string; body: unknown; timeoutMs: number }, local: (ctx: AppContext) => Promise<T>): Promise<T> {
  const server = findRunningServer(config);
  if (server) return callServer<T>(server, command.path, command.body, command.timeoutMs);
  const { openLocalRun } = await import('./local-runtime.ts');
  let run;
  try {
    run = await openLocalRun(config, { worker: false, simulator: false });
  } catch (error) {
    if (error instanceof AppError) throw error;
    const where = config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `the embedded database in ${config.dataDir}`;
    throw new AppError('unavailable', `Could not open ${where}: ${(error as Error).message}. Check that it is running and reachable.`, { cause: error });
  }
  try {
    return await local(run.runtime);
  } finally {
    await run.close();
  }
}
