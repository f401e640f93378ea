// A bulk campaign in one call: queueSmsMany chunks its inserts under PostgreSQL's 65,535
// bind-parameter limit, so 20,000 messages (well past the ~5,000 one INSERT can carry) are queued
// whole, in order, each with its send job, in the caller's one transaction.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { rawRows } from '../../src/db/connection.ts';
import { BULK_INSERT_ROWS, MAX_BIND_PARAMETERS } from '../../src/db/bulk.ts';
import { queueSmsMany } from '../../src/sms/outbox.ts';
import { createTestContext, type TestContext } from '../helpers/context.ts';

const ROWS = 20_000;

describe('queueSmsMany with a campaign past the bind-parameter limit', () => {
  let t: TestContext;
  before(async () => {
    t = await createTestContext(); // no worker: the jobs stay queued to be counted
  });
  after(() => t.close());

  it('queues 20,000 messages in one call, each with its job, ids in request order', async () => {
    assert.ok(ROWS * 11 > MAX_BIND_PARAMETERS && BULK_INSERT_ROWS < ROWS / 3, 'past the limit as one INSERT, and several chunks');
    const requests = Array.from({ length: ROWS }, (_, i) => ({ type: 'card_expiring', to: '+14155552671', body: `DominionTrust: campaign ${i}` }));
    const ids = await t.ctx.db.transaction((tx) => queueSmsMany(t.ctx, tx, 'sms.bulk', requests));
    assert.equal(ids.length, ROWS);
    assert.equal(new Set(ids).size, ROWS);
    const rows = await rawRows<{ id: string; body_redacted: string }>(t.ctx.db, sql`select id, body_redacted from sms_messages where status = 'pending'`);
    assert.equal(rows.length, ROWS);
    const bodyOf = new Map(rows.map((r) => [r.id, r.body_redacted]));
    for (const i of [0, 1, 5_000, 9_999, ROWS - 1]) assert.equal(bodyOf.get(ids[i] ?? ''), `DominionTrust: campaign ${i}`);
    const [jobs] = await rawRows<{ n: number; distinct_messages: number }>(t.ctx.db, sql`
      select count(*)::int as n, count(distinct data->>'messageId')::int as distinct_messages from pgboss.job where name = 'sms.bulk'`);
    assert.equal(jobs?.n, ROWS);
    assert.equal(jobs?.distinct_messages, ROWS);
  });

  it('a campaign whose transaction rolls back leaves no message and no job', async () => {
    const before = await rawRows<{ n: number }>(t.ctx.db, sql`select count(*)::int as n from sms_messages`);
    await assert.rejects(t.ctx.db.transaction(async (tx) => {
      await queueSmsMany(t.ctx, tx, 'sms.bulk', Array.from({ length: 12_000 }, (_, i) => ({ type: 'card_expiring', to: '+14155552671', body: `rolled back ${i}` })));
      throw new Error('campaign aborted');
    }), /campaign aborted/);
    const afterRows = await rawRows<{ n: number }>(t.ctx.db, sql`select count(*)::int as n from sms_messages`);
    assert.equal(afterRows[0]?.n, before[0]?.n);
    const [jobs] = await rawRows<{ n: number }>(t.ctx.db, sql`select count(*)::int as n from pgboss.job where name = 'sms.bulk'`);
    assert.equal(jobs?.n, ROWS);
  });
});
