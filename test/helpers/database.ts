// A fresh, migrated database per test file, on the engine the run is for (TEST_ENGINE):
// PGlite in memory, started from a cached migrated dump so each file boots in well under a second,
// or a new database on the machine's PostgreSQL, dropped afterwards.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { MIGRATIONS_FOLDER, openDatabase, type Database } from '../../src/db/connection.ts';

export type TestEngine = 'pglite' | 'postgres';

export const TEST_ENGINE: TestEngine = process.env.TEST_ENGINE === 'postgres' ? 'postgres' : 'pglite';
export const TEST_POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const CACHE_DIR = join(import.meta.dirname, '../../.tmp');

function migrationsHash(): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(MIGRATIONS_FOLDER).filter((f) => f.endsWith('.sql')).sort()) {
    hash.update(file).update(readFileSync(join(MIGRATIONS_FOLDER, file)));
  }
  return hash.digest('hex').slice(0, 16);
}

/** A dump of a migrated PGlite with pg-boss installed, built once per migration set. */
async function pgliteTemplate(): Promise<Blob> {
  const path = join(CACHE_DIR, `pglite-template-${migrationsHash()}.tar.gz`);
  if (existsSync(path)) return new Blob([readFileSync(path)]);
  const database = await openDatabase({ engine: 'pglite' });
  await database.migrate();
  const boss = new PgBoss(database.bossOptions);
  await boss.start();
  await boss.stop({ graceful: false, close: false });
  const dump = await database.pglite!.dumpDataDir('gzip');
  await database.close();
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
  renameSync(tmp, path); // atomic: parallel test processes never read a half-written file
  return dump;
}

export interface TestDatabase extends Database {
  /** Closes and removes the database. */
  drop(): Promise<void>;
  /** postgres only: the URL of this test's database (for child processes). */
  readonly url: string | undefined;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  if (TEST_ENGINE === 'pglite') {
    const database = await openDatabase({ engine: 'pglite', loadDataDir: await pgliteTemplate() });
    await database.migrate();
    return Object.assign(database, { drop: () => database.close(), url: undefined });
  }
  const name = `dominion_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  const database = await openDatabase({ engine: 'postgres', url: url.toString() });
  await database.migrate();
  return Object.assign(database, {
    url: url.toString(),
    drop: async () => {
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
