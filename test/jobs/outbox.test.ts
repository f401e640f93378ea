// The transactional outbox: a job exists exactly when the transaction that created it commits.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import { smsMessages } from '../../src/db/schema.ts';
import { queueSms } from '../../src/sms/outbox.ts';
import { createTestContext, type TestContext } from '../helpers/context.ts';

async function jobsFor(t: TestContext, messageId: string): Promise<number> {
  const jobs = await t.ctx.jobs.boss.findJobs<{ messageId: string }>('sms.bulk', { data: { messageId } });
  return jobs.length;
}

describe('transactional outbox', () => {
  let t: TestContext;
  before(async () => {
    t = await createTestContext(); // no worker: jobs stay queued for inspection
  });
  after(() => t.close());

  it('a rolled-back transaction leaves neither the message row nor its job', async () => {
    let messageId = '';
    await assert.rejects(t.ctx.db.transaction(async (tx) => {
      const queued = await queueSms(t.ctx, tx, { type: 'test_message', lane: 'sms.bulk', to: '+14155552671', body: 'rolled back' });
      messageId = queued.id;
      throw new Error('bank change failed');
    }), /bank change failed/);
    assert.ok(messageId);
    assert.equal((await t.ctx.db.select().from(smsMessages).where(eq(smsMessages.id, messageId))).length, 0);
    assert.equal(await jobsFor(t, messageId), 0);
  });

  it('a committed transaction leaves both', async () => {
    const queued = await t.ctx.db.transaction((tx) =>
      queueSms(t.ctx, tx, { type: 'test_message', lane: 'sms.bulk', to: '+14155552671', body: 'committed' }));
    assert.equal((await t.ctx.db.select().from(smsMessages).where(eq(smsMessages.id, queued.id))).length, 1);
    assert.equal(await jobsFor(t, queued.id), 1);
  });
});
