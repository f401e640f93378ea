// The service as an operator runs it: `dominion start` comes up ready on the embedded database
// with the in-process simulator, stops cleanly on SIGTERM, refuses a second opener of its data
// directory, and survives being killed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, startDominion, waitForHttp } from './helpers/process.ts';

describe('dominion start (embedded)', () => {
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dominion-server-'));
    env = { DATA_DIR: join(dir, 'data'), LOG_DIR: join(dir, 'logs'), PORT: String(await freePort()), SIMULATOR_PORT: String(await freePort()) };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('comes up ready with the simulator, announces it, and exits 0 on SIGTERM', async () => {
    const proc = startDominion(['start'], env);
    const ready = await waitForHttp(`http://127.0.0.1:${env.PORT}/readyz`, proc);
    const body = (await ready.json()) as { checks: { provider: { detail: string } } };
    assert.match(body.checks.provider.detail, /^simulator at http:\/\/127\.0\.0\.1:/);
    assert.match(proc.output(), /SMS_PROVIDER=simulator: no real SMS will be sent/);
    const inbox = await fetch(`http://127.0.0.1:${env.SIMULATOR_PORT}/inbox.json`);
    assert.equal(inbox.status, 200);
    proc.child.kill('SIGTERM');
    const { code } = await proc.exited;
    assert.equal(code, 0, proc.output());
    assert.match(proc.output(), /shutting down/);
  });

  it('refuses a second process on the same data directory with a clear error', async () => {
    const first = startDominion(['start'], env);
    await waitForHttp(`http://127.0.0.1:${env.PORT}/readyz`, first);
    const second = startDominion(['migrate'], env);
    const { code } = await second.exited;
    assert.equal(code, 12, second.output());
    assert.match(second.output(), /embedded database in .* is in use by process \d+/);
    assert.match(second.output(), /DATABASE_URL/);
    // The first is unharmed.
    assert.equal((await fetch(`http://127.0.0.1:${env.PORT}/readyz`)).status, 200);
    first.child.kill('SIGKILL');
    await first.exited;
  });

  it('after a SIGKILL, the next start finds the data directory usable', async () => {
    // The previous test killed its server too: this start takes over a stale lock.
    const proc = startDominion(['start'], env);
    const ready = await waitForHttp(`http://127.0.0.1:${env.PORT}/readyz`, proc);
    assert.equal(ready.status, 200);
    proc.child.kill('SIGKILL'); // no shutdown: lock file left behind, database not closed
    await proc.exited;
    const migrate = startDominion(['migrate', '--json'], env);
    const { code } = await migrate.exited;
    assert.equal(code, 0, migrate.output());
    assert.deepEqual(JSON.parse(migrate.output().trim().split('\n').pop() ?? '{}'), { engine: 'pglite', applied: 0, pending: 0 });
  });
});
