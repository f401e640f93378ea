// A fresh, migrated database per test file, on the engine the run is for (TEST_ENGINE):
// PGlite in memory, started from a cached migrated dump so each file boots in well under a second,
// or a new database on the machine's PostgreSQL cloned from a migrated template, dropped afterwards.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { MIGRATIONS_FOLDER, openDatabase, type Database } from '../../src/db/connection.ts';
import { recordUsersOf } from './recorder.ts';

export type TestEngine = 'pglite' | 'postgres';

export const TEST_ENGINE: TestEngine = process.env.TEST_ENGINE === 'postgres' ? 'postgres' : 'pglite';
export const TEST_POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const CACHE_DIR = join(import.meta.dirname, '../../.tmp');
/** Serialises building the PostgreSQL template between test processes. */
const TEMPLATE_LOCK_KEY = 7_460_032;

function migrationsHash(): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(MIGRATIONS_FOLDER).filter((f) => f.endsWith('.sql')).sort()) {
    hash.update(file).update(readFileSync(join(MIGRATIONS_FOLDER, file)));
  }
  return hash.digest('hex').slice(0, 16);
}

/** A dump of a migrated PGlite with pg-boss installed, built once per migration set. */
async function pgliteTemplate(): Promise<Blob> {
  const path = join(CACHE_DIR, `pglite-template-${migrationsHash()}-sb16.tar.gz`);
  if (existsSync(path)) return new Blob([readFileSync(path)]);
  const database = await openDatabase({ engine: 'pglite' });
  await database.migrate();
  const boss = new PgBoss(database.bossOptions);
  await boss.start();
  await boss.stop({ graceful: false, close: false });
  // Each test file's PGlite starts from this dump: 16 MB of shared buffers instead of 128 MB spares
  // 0.7 s of CPU per start (a test database is a few MB).
  await database.pglite!.exec(`alter system set shared_buffers = '16MB'`);
  const dump = await database.pglite!.dumpDataDir('gzip');
  await database.close();
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
  renameSync(tmp, path); // atomic: parallel test processes never read a half-written file
  return dump;
}

function databaseUrl(name: string): string {
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * The name of a migrated PostgreSQL database with pg-boss installed, built once per migration set
 * and cloned for each test (`create database ... template`): 0.2 s instead of running every
 * migration again. Test processes running at once build it once: the first takes an advisory
 * lock and builds under a temporary name, renamed when complete, so a template that exists is whole.
 */
async function postgresTemplate(): Promise<string> {
  const name = `dominion_template_${migrationsHash()}`;
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  try {
    const exists = async () => (await admin.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1;
    if (await exists()) return name;
    await admin.query('select pg_advisory_lock($1)', [TEMPLATE_LOCK_KEY]);
    try {
      if (await exists()) return name;
      const building = `${name}_${process.pid}`;
      await admin.query(`drop database if exists ${building} with (force)`);
      await admin.query(`create database ${building}`);
      const database = await openDatabase({ engine: 'postgres', url: databaseUrl(building) });
      try {
        await database.migrate();
        const boss = new PgBoss(database.bossOptions);
        await boss.start();
        await boss.stop({ graceful: false });
      } finally {
        await database.close();
      }
      // No session may stay on a template (cloning needs it alone); pg-boss's pool may linger.
      await admin.query(`alter database ${building} rename to ${name}`).catch(async () => {
        await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [building]);
        await admin.query(`alter database ${building} rename to ${name}`);
      });
      await admin.query(`alter database ${name} is_template true`);
      return name;
    } finally {
      await admin.query('select pg_advisory_unlock($1)', [TEMPLATE_LOCK_KEY]);
    }
  } finally {
    await admin.end();
  }
}

export interface TestDatabase extends Database {
  /** Closes and removes the database. */
  drop(): Promise<void>;
  /** postgres only: the URL of this test's database (for child processes). */
  readonly url: string | undefined;
}

export interface TestDatabaseOptions {
  /** false: an empty database, nothing migrated (for tests of migrating itself). Default true. */
  migrated?: boolean;
}

export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const migrated = options.migrated ?? true;
  if (TEST_ENGINE === 'pglite') {
    const database = await openDatabase({ engine: 'pglite', loadDataDir: migrated ? await pgliteTemplate() : undefined });
    if (migrated) await database.migrate();
    const forget = recordUsersOf(database);
    return Object.assign(database, { drop: () => (forget(), database.close()), url: undefined });
  }
  const name = `dominion_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const template = migrated ? await postgresTemplate() : 'template1';
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`create database ${name} template ${template}`);
  } finally {
    await admin.end();
  }
  const url = databaseUrl(name);
  const database = await openDatabase({ engine: 'postgres', url });
  if (migrated) await database.migrate(); // nothing left to apply: proves the template is complete
  const forget = recordUsersOf(database);
  return Object.assign(database, {
    url,
    drop: async () => {
      forget();
      await database.close();
      const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  });
}
