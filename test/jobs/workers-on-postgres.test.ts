// Scale-out: `dominion worker` processes on one PostgreSQL share the queue; every message a
// separate process queued is sent exactly once, as the simulator counts it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { count, eq } from 'drizzle-orm';
import { smsMessages } from '../../src/db/schema.ts';
import { queueSms } from '../../src/sms/outbox.ts';
import { eventually } from '../helpers/context.ts';
import { POSTGRES_ONLY, useWorkerFleet } from '../helpers/worker-fleet.ts';

describe('several worker processes on PostgreSQL', POSTGRES_ONLY, () => {
  const fleet = useWorkerFleet();

  it('send each of 60 messages exactly once', async () => {
    const t = fleet.t;
    const workers = fleet.start(2, { WORKER_CONCURRENCY: '4' });
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
