// What the notification tests need from the outside world: a fresh database on the run's engine
// (test/helpers/database.ts), the default configuration (price 0.0075 a segment), a held clock,
// and customers inserted directly (their passwords do not matter here).
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadConfig, type Config } from '../../src/config.ts';
import type { Db } from '../../src/db/connection.ts';
import { userProfiles, users } from '../../src/db/schema.ts';
import { HeldClock } from '../helpers/context.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

export interface NotificationsFixture {
  db: Db;
  config: Config;
  clock: HeldClock;
  database: TestDatabase;
  /** Inserts a customer (with a profile when a time zone or language is given); returns the id. */
  addUser(username: string, profile?: { timeZone?: string; language?: string }): Promise<string>;
  close(): Promise<void>;
}

export async function openNotificationsFixture(): Promise<NotificationsFixture> {
  const database = await createTestDatabase();
  const config = loadConfig({ SMS_PROVIDER: 'simulator' }, join(tmpdir(), 'dominion-no-such.env'));
  return {
    db: database.db,
    config,
    clock: new HeldClock(),
    database,
    async addUser(username, profile) {
      const [row] = await database.db.insert(users).values({ username, passwordHash: 'not-a-real-hash' }).returning({ id: users.id });
      if (!row) throw new Error('no user inserted');
      if (profile) await database.db.insert(userProfiles).values({ userId: row.id, ...profile });
      return row.id;
    },
    close: () => database.drop(),
  };
}
