// Migrations are forward-only and idempotent: applying them twice changes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { rawRows } from '../../src/db/connection.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

async function schemaShape(database: TestDatabase): Promise<string> {
  const rows = await rawRows<{ table_name: string; column_name: string; data_type: string; is_nullable: string }>(database.db, sql`
    select table_name, column_name, data_type, is_nullable from information_schema.columns
    where table_schema = 'public' order by table_name, column_name`);
  return JSON.stringify(rows);
}

describe('migrations', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(() => database.drop());

  it('leave nothing pending and change nothing when applied again', async () => {
    assert.equal(await database.pendingMigrations(), 0);
    const first = await schemaShape(database);
    assert.match(first, /sms_messages/);
    assert.match(first, /user_profiles/);
    await database.migrate();
    await database.migrate();
    assert.equal(await schemaShape(database), first);
    const [applied] = await rawRows<{ n: number }>(database.db, sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    assert.ok(applied && applied.n >= 1);
    await database.migrate();
    const [again] = await rawRows<{ n: number }>(database.db, sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    assert.equal(again?.n, applied.n);
  });

  it('build the whole schema on an empty database (what the cloned template skips)', async () => {
    const empty = await createTestDatabase({ migrated: false });
    try {
      assert.ok((await empty.pendingMigrations()) >= 1);
      await empty.migrate();
      assert.equal(await empty.pendingMigrations(), 0);
      assert.equal(await schemaShape(empty), await schemaShape(database));
    } finally {
      await empty.drop();
    }
  });
});
