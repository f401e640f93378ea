// Opens the database: embedded PGlite in a data directory (the default), or PostgreSQL at
// DATABASE_URL. Both give the same Drizzle API and a pg-boss database port, so the rest of the
// code never asks which engine it runs on.
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { sql, type SQL } from 'drizzle-orm';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import type { ExtractTablesWithRelations } from 'drizzle-orm';
import pg from 'pg';
import { fromPglite, type ConstructorOptions } from 'pg-boss';
import { isDatabaseUnavailable } from './availability.ts';
import { schema, type Schema } from './schema.ts';
import { acquireEmbeddedLock, type EmbeddedLock } from './embedded-lock.ts';
import { assertRoomToStart, DatabaseFullError, fenceOnDiskFull, freeBytes, isDiskFull, MIN_FREE_BYTES } from './embedded-disk.ts';

export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
/** Anything queries can run on: the database or a transaction. */
export type Queryable = Db | Tx;

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url));

export interface Database {
  readonly engine: 'pglite' | 'postgres';
  readonly db: Db;
  /** Options that point pg-boss at this same database. */
  readonly bossOptions: ConstructorOptions;
  /** Present on the embedded engine: the lock held on its data directory. */
  readonly lock: EmbeddedLock | undefined;
  /** Present on the embedded engine: the PGlite instance itself. */
  readonly pglite: PGlite | undefined;
  /** Applies pending migrations; safe to call any number of times, from any number of processes. */
  migrate(): Promise<void>;
  /** Number of migrations in the repository not yet applied here. */
  pendingMigrations(): Promise<number>;
  ping(): Promise<void>;
  /**
   * Calls `listener` when the database stops being usable while open (the embedded engine's disk
   * filled up): the process should stop, since nothing more can be stored.
   */
  onFailure(listener: (error: DatabaseFullError) => void): void;
  close(): Promise<void>;
}

export type DatabaseTarget =
  | { engine: 'postgres'; url: string }
  /** dataDir undefined: in memory (tests). loadDataDir: start from a dump (tests). */
  | { engine: 'pglite'; dataDir?: string; loadDataDir?: Blob };

const BOSS_SCHEMA = 'pgboss';
/** How long opening a PostgreSQL connection may take before the caller is told the database is away. */
const CONNECT_TIMEOUT_MS = 5000;
/** Serialises migrations between processes sharing one PostgreSQL. */
const MIGRATION_LOCK_KEY = 7_460_031;

export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  return target.engine === 'postgres' ? openPostgres(target.url) : openPglite(target.dataDir, target.loadDataDir);
}

async function openPglite(dataDir: string | undefined, loadDataDir: Blob | undefined): Promise<Database> {
  // Before anything is written, even the lock file: a full disk is told as such, and left as it is.
  if (dataDir) assertRoomToStart(dataDir);
  const lock = dataDir ? acquireEmbeddedLock(dataDir) : undefined;
  let client: PGlite;
  try {
    client = new PGlite({ dataDir, loadDataDir });
    await client.waitReady;
  } catch (error) {
    lock?.release();
    // PGlite says only "failed to initialize properly" when its start-up could not write.
    if (dataDir && !(error instanceof DatabaseFullError) && (isDiskFull(error) || (freeBytes(dataDir) ?? Infinity) < 2 * MIN_FREE_BYTES)) {
      throw new DatabaseFullError(dataDir, error);
    }
    throw error;
  }
  const listeners: ((error: DatabaseFullError) => void)[] = [];
  const fence = dataDir
    ? fenceOnDiskFull(client, dataDir, (error) => {
      for (const listener of listeners) listener(error);
    })
    : undefined;
  yieldBeforeEachCall(client);
  const db = drizzlePglite({ client, schema }) as unknown as Db;
  return {
    engine: 'pglite',
    db,
    bossOptions: { db: fromPglite(client), backend: 'pglite', schema: BOSS_SCHEMA },
    lock,
    pglite: client,
    migrate: () => migratePglite(db as never, { migrationsFolder: MIGRATIONS_FOLDER }),
    pendingMigrations: () => countPending(db),
    ping: async () => {
      await client.query('select 1');
    },
    onFailure: (listener) => {
      listeners.push(listener);
    },
    close: async () => {
      try {
        // A fenced instance is not closed: closing runs the backend, which after a PANIC never
        // returns. What it committed is in the WAL; the next start recovers it.
        if (!fence?.failure) await client.close();
      } finally {
        lock?.release();
      }
    },
  };
}

/**
 * PGlite runs each statement synchronously on this process's thread and answers at once, so
 * callers that chain statements (the bank's transactions, pg-boss, the workers) pass the turn to
 * one another as promise continuations and the event loop never reaches its timers and sockets:
 * a burst of 3,000 bank events held it 8.4 s, and every send in flight timed out (10 s) and opened
 * the Twilio circuit. Every statement and transaction first waits one turn of the loop
 * (setImmediate), so answers from Twilio and HTTP requests are read between them.
 */
function yieldBeforeEachCall(client: PGlite): void {
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  const query = client.query.bind(client);
  const exec = client.exec.bind(client);
  const transaction = client.transaction.bind(client);
  client.query = async (...args: Parameters<PGlite['query']>) => {
    await turn();
    return query(...args);
  };
  client.exec = async (...args: Parameters<PGlite['exec']>) => {
    await turn();
    return exec(...args);
  };
  client.transaction = async <T>(callback: (tx: Transaction) => Promise<T>): Promise<T> => {
    await turn();
    return transaction(callback);
  };
}

/**
 * Session settings of pg-boss's own connections (its fetch, complete and maintenance; not our
 * transactions). Its fetch takes the next jobs in (priority, created_on) order, LIMIT a batch. On
 * statistics taken while a queue was small, which is every burst (a campaign of 100,000 alerts
 * lands in seconds, autoanalyze comes a minute later at best), PostgreSQL plans a bitmap scan of
 * every ready job and a sort of them all for each batch of 8: 14 ms a fetch behind 50,000 jobs, and
 * growing with the backlog. Without bitmap scans it walks pg-boss's own fetch index (job_i11, in
 * that order) and stops after the batch: 1.3 ms at any backlog (measured on this machine).
 */
const BOSS_SESSION_OPTIONS = '-c enable_bitmapscan=off';

/** The `options` a DATABASE_URL already carries (?options=-c ...), kept beside ours. */
function connectionOptionsOf(url: string): string | undefined {
  try {
    return new URL(url).searchParams.get('options') ?? undefined;
  } catch {
    return undefined;
  }
}

async function openPostgres(url: string): Promise<Database> {
  // A database that does not answer fails a request in seconds (503), instead of holding it forever.
  const pool = new pg.Pool({ connectionString: url, max: 10, application_name: 'dominion', connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // A client losing its server must not crash the process: idle in the pool (the pool's 'error'),
  // or checked out between two statements of a transaction (the client's own 'error', which has
  // no listener otherwise). The statement in flight fails and is told as the database being away.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  releaseLostClients(pool);
  const db = drizzlePg({ client: pool, schema }) as unknown as Db;
  return {
    engine: 'postgres',
    db,
    bossOptions: {
      connectionString: url, schema: BOSS_SCHEMA, max: 10, application_name: 'dominion-jobs', connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      options: [connectionOptionsOf(url), BOSS_SESSION_OPTIONS].filter(Boolean).join(' '),
    },
    lock: undefined,
    pglite: undefined,
    migrate: async () => {
      const client = await pool.connect();
      try {
        await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
        await migratePg(drizzlePg({ client, schema }), { migrationsFolder: MIGRATIONS_FOLDER });
      } finally {
        await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
        client.release();
      }
    },
    pendingMigrations: () => countPending(db),
    ping: async () => {
      await pool.query('select 1');
    },
    // PostgreSQL on a full disk answers 53100 and stays up: an outage (503), not a reason to stop.
    onFailure: () => undefined,
    close: () => pool.end(),
  };
}

/**
 * drizzle-orm 0.45's node-postgres `transaction()` runs BEGIN before its try/finally, so a BEGIN
 * that fails on a lost connection never releases its client, and a client whose connection died
 * mid-transaction is released as healthy (drizzle-team/drizzle-orm#6241, #6114, open). Each such
 * outage moment would take one of the pool's 10 clients for good, and the pool then hangs. Until
 * upstream fixes it, the pool releases those clients itself: a failed BEGIN releases (and
 * destroys) its client at once, and a client that lost its connection is destroyed on release.
 */
function releaseLostClients(pool: pg.Pool): void {
  const guarded = new WeakSet<pg.PoolClient>();
  const lost = new WeakMap<pg.PoolClient, Error>();
  const guard = (client: pg.PoolClient): pg.PoolClient => {
    lost.delete(client);
    const release = client.release.bind(client);
    let released = false;
    client.release = (error?: Error | boolean) => {
      if (released) return;
      released = true;
      release(error ?? lost.get(client));
    };
    if (!guarded.has(client)) {
      guarded.add(client);
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as { query: unknown }).query = (...args: unknown[]) => {
        const result = query(...preparedBossStatement(args));
        if (!(result instanceof Promise)) return result;
        return result.catch((error: unknown) => {
          if (isDatabaseUnavailable(error)) {
            lost.set(client, error as Error);
            const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text;
            if (/^\s*begin\b/i.test(text ?? '')) client.release(); // drizzle will not
          }
          throw error;
        });
      };
    }
    return client;
  };
  const connect = pool.connect.bind(pool) as (callback?: (error: Error | undefined, client?: pg.PoolClient, done?: unknown) => void) => Promise<pg.PoolClient> | void;
  (pool as { connect: unknown }).connect = (callback?: (error: Error | undefined, client?: pg.PoolClient, done?: unknown) => void) => {
    if (callback) return connect((error, client, done) => callback(error, client && guard(client), done));
    return (connect() as Promise<pg.PoolClient>).then(guard);
  };
}

/** Names already given to pg-boss statement texts (a few dozen texts, fixed by pg-boss's code). */
const bossStatementNames = new Map<string, string>();

/**
 * pg-boss's own statements run in our transactions (a job enqueued with the change that caused
 * it) are long CTEs that PostgreSQL would parse and plan on every call: about half the cost of a
 * bank transaction that notifies. Named, each connection prepares one once and then only binds
 * and executes it: the bench's bank (recordEvent, 8 at a time, 2-core machine) went from about
 * 500 to 650-900 events/s, and a raw 7-statement transaction with pg-boss's send from 670 to 980.
 * Only pg-boss's texts: they are few and fixed, and pg-boss changes its schema only when it starts.
 */
function preparedBossStatement(args: unknown[]): unknown[] {
  const [config, values] = args as [unknown, unknown];
  if (typeof config !== 'object' || config === null || !Array.isArray(values) || values.length === 0) return args;
  const { text, name } = config as { text?: unknown; name?: unknown };
  if (name || typeof text !== 'string' || !text.includes(`${BOSS_SCHEMA}.`)) return args;
  let named = bossStatementNames.get(text);
  if (!named) {
    named = `boss_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    if (bossStatementNames.size < 500) bossStatementNames.set(text, named);
  }
  return [{ ...config, name: named }, ...args.slice(1)];
}

/** Runs raw SQL and returns its rows; both drivers answer with a `rows` array. */
export async function rawRows<T>(db: Queryable, query: SQL): Promise<T[]> {
  const result: unknown = await db.execute(query);
  return (result as { rows: T[] }).rows;
}

async function countPending(db: Db): Promise<number> {
  const { readMigrationFiles } = await import('drizzle-orm/migrator');
  const known = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER });
  const [exists] = await rawRows<{ ok: boolean }>(db, sql`select to_regclass('drizzle.__drizzle_migrations') is not null as ok`);
  if (!exists?.ok) return known.length;
  const applied = await rawRows<{ hash: string }>(db, sql`select hash from drizzle.__drizzle_migrations`);
  const hashes = new Set(applied.map((r) => r.hash));
  return known.filter((m) => !hashes.has(m.hash)).length;
}
