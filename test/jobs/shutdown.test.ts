// Graceful shutdown: stopping the worker lets a send already talking to Twilio finish and be recorded.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import { smsMessages } from '../../src/db/schema.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { queueSms } from '../../src/sms/outbox.ts';
import { createTestContext, eventually } from '../helpers/context.ts';

describe('graceful shutdown', () => {
  it('waits for an in-flight send and records its SID before closing', async () => {
    const t = await createTestContext({ simulator: { latencyMs: 1500 } });
    try {
      await startWorker(t.ctx);
      const queued = await t.ctx.db.transaction((tx) =>
        queueSms(t.ctx, tx, { type: 'test_message', lane: 'sms.critical', to: '+14155552671', body: 'in flight at shutdown' }));
      await eventually(async () => {
        const [row] = await t.ctx.db.select().from(smsMessages).where(eq(smsMessages.id, queued.id));
        return row?.status === 'sending' ? true : undefined;
      }, 10_000, 'send in flight');
      await t.ctx.jobs.stop(10_000); // what SIGTERM does
      const [row] = await t.ctx.db.select().from(smsMessages).where(eq(smsMessages.id, queued.id));
      assert.match(row?.twilioSid ?? '', /^SM/, 'the in-flight send finished and was recorded');
      assert.equal(t.sim.messages().filter((m) => m.body === 'in flight at shutdown').length, 1);
    } finally {
      await t.close();
    }
  });
});
