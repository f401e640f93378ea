// PostgreSQL out of disk space, for real: the ledger's table moves to a tablespace on a small tmpfs
// the test mounts and fills, so the next deposit's INSERT meets SQLSTATE 53100 ("could not extend
// file ... No space left on device") from the machine's own server. The deposit is answered 503
// with Retry-After and a message to act on (never a 500, never SQL), nothing of it is kept, and
// once there is space the same request with its Idempotency-Key is made once.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { rawRows } from '../../src/db/connection.ts';
import { buildApp } from '../../src/http/app.ts';
import { createTestContext, DaytimeClock } from '../helpers/context.ts';
import { customer } from '../helpers/customers.ts';
import { TEST_ENGINE, TEST_POSTGRES_URL } from '../helpers/database.ts';
import { fillDisk, mountTmpfs, unmount } from '../helpers/tmpfs.ts';

describe('PostgreSQL out of disk space', { skip: TEST_ENGINE !== 'postgres' && 'PostgreSQL only: the embedded database has its own full-disk test' }, () => {
  it('a deposit that meets 53100 is answered 503 with Retry-After, keeps nothing, and is made once when retried after space is freed', async (test) => {
    const mnt = mkdtempSync(join(tmpdir(), 'dominion-pg-full-'));
    const refused = mountTmpfs(mnt, 8);
    if (refused) {
      rmSync(mnt, { recursive: true, force: true });
      return test.skip(refused);
    }
    const tablespace = `dominion_full_${process.pid}`;
    const t = await createTestContext({ clock: new DaytimeClock(), env: { LOG_LEVEL: 'warn' } });
    let made = false;
    try {
      const app = buildApp(t.ctx);
      const ana = await customer(t, 'full-ana', '+14155550951');
      const teller = await customer(t, 'full-teller', '+14155550952', { isStaff: true });
      const opened = await app.inject({ method: 'POST', url: '/api/accounts', headers: ana.auth, payload: { currency: 'USD' } });
      assert.equal(opened.statusCode, 201, opened.body);
      const accountId = opened.json<{ account: { id: string } }>().account.id;
      const deposit = () => app.inject({
        method: 'POST', url: `/api/accounts/${accountId}/deposits`,
        headers: { ...teller.auth, 'idempotency-key': 'full-disk-1' }, payload: { amountMinor: 2500, currency: 'USD' },
      });
      const balance = async () => (await app.inject({ url: `/api/accounts/${accountId}`, headers: ana.auth })).json<{ account: { balanceMinor: number } }>().account.balanceMinor;

      const dir = join(mnt, 'pg');
      mkdirSync(dir);
      execFileSync('chown', ['postgres:postgres', dir], { stdio: 'pipe' });
      await t.ctx.db.execute(sql.raw(`create tablespace ${tablespace} location '${dir}'`));
      made = true;
      await t.ctx.db.execute(sql.raw(`alter table ledger_entries set tablespace ${tablespace}`));
      const filler = fillDisk(join(mnt, 'filler'));

      const refused = await deposit();
      console.log(`postgres full disk: ${filler} bytes filled; the deposit answered ${refused.statusCode} (retry-after ${refused.headers['retry-after']}): ${refused.body}`);
      assert.equal(refused.statusCode, 503, refused.body);
      assert.equal(refused.headers['retry-after'], '5');
      const body = refused.json<{ error: string; message: string }>();
      assert.equal(body.error, 'unavailable');
      assert.match(body.message, /Try again in a few seconds; a request with an Idempotency-Key is safe to repeat/);
      assert.doesNotMatch(refused.body, /extend file|No space|ledger_entries|insert |53100/i, 'no SQL or server text in the answer');
      assert.equal(await balance(), 0, 'nothing of the refused deposit was kept');
      const [kept] = await rawRows<{ n: number }>(t.ctx.db, sql`select count(*)::int as n from money_transactions where idempotency_key = 'full-disk-1'`);
      assert.equal(kept?.n, 0);

      rmSync(join(mnt, 'filler'));
      const made1 = await deposit();
      assert.equal(made1.statusCode, 201, made1.body);
      const replay = await deposit();
      assert.equal(replay.statusCode, 201, replay.body);
      assert.equal(replay.headers['idempotent-replayed'], 'true');
      assert.equal(await balance(), 2500, 'made once');
      console.log(`postgres full disk: after freeing the space the deposit was made (201) and its retry replayed; balance ${await balance()}`);
      await app.close();
    } finally {
      // The database first (its table files are in the tablespace), then the tablespace, then the disk.
      await t.close();
      if (made) {
        // A plain connection to the server: the tablespace outlives the test's own database.
        const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
        await admin.connect();
        await admin.query(`drop tablespace if exists ${tablespace}`).finally(() => admin.end());
      }
      unmount(mnt);
      rmSync(mnt, { recursive: true, force: true });
    }
  });
});
