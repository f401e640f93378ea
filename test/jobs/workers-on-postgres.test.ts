// Scale-out: `dominion worker` processes on one PostgreSQL share the queue; every message a
// separate process queued is sent exactly once, as the simulator counts it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { count, eq } from 'drizzle-orm';
import { smsMessages } from '../../src/db/schema.ts';
import { queueSms } from '../../src/sms/outbox.ts';
import { createTestContext, eventually, testEnv, type TestContext } from '../helpers/context.ts';
import { startDominion, type RunningProcess } from '../helpers/process.ts';
import { TEST_ENGINE } from '../helpers/database.ts';

describe('several worker processes on PostgreSQL', { skip: TEST_ENGINE !== 'postgres' && 'runs in the PostgreSQL pass: embedded PGlite has one opener' }, () => {
  let t: TestContext;
  const workers: RunningProcess[] = [];
  before(async () => {
    t = await createTestContext();
  });
  after(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await t.close();
  });

  it('send each of 60 messages exactly once', async () => {
    const env = testEnv(t.sim.url, t.logDir, { DATABASE_URL: t.database.url ?? '', WORKER_CONCURRENCY: '4' });
    for (let i = 0; i < 2; i++) workers.push(startDominion(['worker'], env));
    await t.ctx.db.transaction(async (tx) => {
      for (let i = 0; i < 60; i++) {
        await queueSms(t.ctx, tx, { type: 'test_message', lane: 'sms.standard', to: '+14155552671', body: `scale-out ${i}` });
      }
    });
    await eventually(async () => {
      const [row] = await t.ctx.db.select({ n: count() }).from(smsMessages).where(eq(smsMessages.status, 'pending'));
      return row?.n === 0 && t.sim.messages().length >= 60 ? true : undefined;
    }, 60_000, 'all 60 sent');
    const bodies = t.sim.messages().map((m) => m.body);
    assert.equal(bodies.length, 60, 'no duplicates');
    assert.equal(new Set(bodies).size, 60);
    assert.ok(workers.every((w) => w.child.exitCode === null), 'workers still running');
  });
});
