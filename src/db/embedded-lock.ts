// One process at a time may open an embedded (PGlite) data directory: two openers would corrupt it.
// The lock is a file created exclusively, holding the owner's pid; a lock left by a killed
// process (pid no longer alive) is taken over, so a crash never blocks the next start.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../errors.ts';

export interface LockOwner {
  pid: number;
  host: string;
  startedAt: string;
  /** Loopback URL of the owner's HTTP server, when it runs one (lets the CLI ask it instead). */
  serverUrl?: string;
}

export interface EmbeddedLock {
  readonly path: string;
  /** Records extra facts about the owner (e.g. its server URL) in the lock file. */
  update(extra: Partial<LockOwner>): void;
  release(): void;
}

export const LOCK_FILE = 'dominion.lock';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readLockOwner(dataDir: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8')) as LockOwner;
    return owner.host === hostname() && !isAlive(owner.pid) ? undefined : owner;
  } catch {
    return undefined;
  }
}

export function acquireEmbeddedLock(dataDir: string): EmbeddedLock {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, LOCK_FILE);
  let owner: LockOwner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  const write = () => {
    const fd = openSync(path, 'wx');
    try {
      writeSync(fd, JSON.stringify(owner));
    } finally {
      closeSync(fd);
    }
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      write();
      let released = false;
      return {
        path,
        update(extra) {
          owner = { ...owner, ...extra };
          rmSync(path, { force: true });
          write();
        },
        release() {
          if (released) return;
          released = true;
          rmSync(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const current = readLockOwner(dataDir);
      if (current) {
        throw new AppError(
          'database_locked',
          `The embedded database in ${dataDir} is in use by process ${current.pid} on ${current.host} (started ${current.startedAt}). ` +
            'Only one process may open it. Stop that process, or run the server and workers against PostgreSQL (set DATABASE_URL).',
        );
      }
      // Stale lock from a process that no longer runs: take it over.
      rmSync(path, { force: true });
    }
  }
  throw new AppError('database_locked', `Could not lock ${path}; remove it if no dominion process is running.`);
}
