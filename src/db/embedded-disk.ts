// The embedded database (PGlite) on a full disk. PostgreSQL answers a write it cannot store with
// SQLSTATE 53100; when the write was WAL, inside a critical section, that is a PANIC and the
// PGlite backend is gone: the next statement spins forever at 100% CPU in PGlite's synchronous
// protocol loop and blocks the event loop (the behaviour of electric-sql/pglite#1058 and #1084),
// so no timer can rescue the process. Hence: the first disk-full answer fences the instance
// (nothing reaches PGlite again, every later statement fails at once with DatabaseFullError), the
// process is told (`onFull`) and stops; committed transactions are in the WAL already, and the
// next start, once there is space, recovers them as after a crash.
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { AppError } from '../errors.ts';

/**
 * Free space below which the embedded database is not opened: PGlite creates its WAL in 16 MiB
 * segments and a start after a crash writes a new one, so less than two segments is a disk that
 * will fill within minutes.
 */
export const MIN_FREE_BYTES = 32 * 1024 * 1024;

/** Emscripten's errno for ENOSPC, as PGlite's filesystem layer throws it (not Node's -28). */
const EMSCRIPTEN_ENOSPC = 51;

export class DatabaseFullError extends AppError {
  readonly dataDir: string;

  constructor(dataDir: string, cause?: unknown) {
    super('database_full', diskFullMessage(dataDir), { cause });
    this.name = 'DatabaseFullError';
    this.dataDir = dataDir;
  }
}

/**
 * Bytes an unprivileged writer may still use on the disk that holds (or will hold) `dir`: of its
 * nearest existing ancestor. Undefined if unknown.
 */
export function freeBytes(dir: string): number | undefined {
  for (let at = dir; ; at = dirname(at)) {
    try {
      const stats = statfsSync(at);
      return stats.bavail * stats.bsize;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(at) === at) return undefined;
    }
  }
}

function diskFullMessage(dataDir: string): string {
  const free = freeBytes(dataDir);
  const figure = free === undefined ? '' : ` (${(free / 1024 / 1024).toFixed(1)} MiB free, at least ${MIN_FREE_BYTES / 1024 / 1024} MiB needed)`;
  return `The bank's embedded database has no disk space left${figure}: free space on the disk of ${dataDir} ` +
    '(or move DATA_DIR to a larger disk) and restart. Every committed change is kept; the write that met the full disk was not made.';
}

/** Whether `error` (or an error it wraps) says the disk is full. */
export function isDiskFull(error: unknown): boolean {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof DatabaseFullError) return true;
    const { code, errno, message } = e as { code?: unknown; errno?: unknown; message?: unknown };
    if (code === '53100' || code === 'ENOSPC') return true;
    if ((e as { name?: unknown }).name === 'ErrnoError' && errno === EMSCRIPTEN_ENOSPC) return true;
    if (typeof message === 'string' && /No space left on device/i.test(message)) return true;
  }
  return false;
}

/** The DatabaseFullError in `error`'s causes (Drizzle wraps what the driver throws). */
export function databaseFullIn(error: unknown): DatabaseFullError | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 6; e = e.cause, depth++) {
    if (e instanceof DatabaseFullError) return e;
  }
  return undefined;
}

/** Refuses to open a data directory on a disk without room for the database to run. */
export function assertRoomToStart(dataDir: string): void {
  const free = freeBytes(dataDir);
  if (free !== undefined && free < MIN_FREE_BYTES) throw new DatabaseFullError(dataDir);
}

export interface DiskFence {
  /** Set once a statement met the full disk; from then on nothing reaches PGlite. */
  readonly failure: DatabaseFullError | undefined;
}

/**
 * Wraps the instance's protocol entry points: every statement, transaction step and close goes
 * through execProtocolRawSync, so fencing it there keeps PGlite from ever running again.
 */
export function fenceOnDiskFull(client: PGlite, dataDir: string, onFull: (error: DatabaseFullError) => void): DiskFence {
  let failure: DatabaseFullError | undefined;
  const target = client as unknown as Record<string, (...args: unknown[]) => unknown>;
  const rawSync = target.execProtocolRawSync!.bind(client);
  target.execProtocolRawSync = (...args: unknown[]) => {
    if (failure) throw failure;
    return rawSync(...args);
  };
  for (const name of ['execProtocol', 'execProtocolStream', 'execProtocolRaw', 'execProtocolRawStream']) {
    const method = target[name]!.bind(client) as (...args: unknown[]) => Promise<unknown>;
    target[name] = async (...args: unknown[]) => {
      if (failure) throw failure;
      try {
        return await method(...args);
      } catch (error) {
        if (failure || !isDiskFull(error)) throw error;
        failure = new DatabaseFullError(dataDir, error);
        onFull(failure);
        throw failure;
      }
    };
  }
  return {
    get failure() {
      return failure;
    },
  };
}
