// A process killed in the middle of writing leaves the embedded database usable, with every
// transaction it reported committed still there.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { count } from 'drizzle-orm';
import { openDatabase } from '../../src/db/connection.ts';
import { users } from '../../src/db/schema.ts';
import { AppError } from '../../src/errors.ts';
import { ROOT } from '../helpers/process.ts';

describe('embedded database', () => {
  it('survives SIGKILL during writes and keeps every committed row', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dominion-crash-'));
    try {
      const child = spawn(process.execPath, [join(ROOT, 'test/fixtures/pglite-writer.ts'), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      let committed = 0;
      child.stdout.on('data', (d: Buffer) => {
        const last = /committed (\d+)\s*$/.exec(d.toString());
        if (last) committed = Number(last[1]);
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      while (committed < 200) {
        if (child.exitCode !== null) assert.fail('writer exited early');
        await new Promise((r) => setTimeout(r, 50));
      }
      child.kill('SIGKILL');
      await exited;
      const seen = committed;

      const reopened = await openDatabase({ engine: 'pglite', dataDir: dir });
      try {
        const [row] = await reopened.db.select({ n: count() }).from(users);
        assert.ok((row?.n ?? 0) >= seen, `rows ${row?.n} >= reported committed ${seen}`);
        await reopened.db.insert(users).values({ username: 'after-crash', passwordHash: 'x' });
        assert.equal(await reopened.pendingMigrations(), 0);
      } finally {
        await reopened.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a second opener in the same process gets database_locked, not a corrupted directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dominion-lock-'));
    const first = await openDatabase({ engine: 'pglite', dataDir: dir });
    try {
      await assert.rejects(openDatabase({ engine: 'pglite', dataDir: dir }), (error: unknown) =>
        error instanceof AppError && error.code === 'database_locked' && /in use by process/.test(error.userMessage));
      await first.migrate();
    } finally {
      await first.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
