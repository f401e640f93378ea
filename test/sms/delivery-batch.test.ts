// Sending a batch of messages set-based (deliverSmsBatch): one failing send is recorded on its own
// while the others are recorded together, and a batch cut off mid-way (its worker gone after some
// sends reached Twilio, before any was recorded) is recovered with nothing lost and nothing sent
// twice. Real database, real Twilio SDK, real simulator; a held clock stands for the 30 s wait.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { inArray, sql } from 'drizzle-orm';
import { rawRows } from '../../src/db/connection.ts';
import { smsDeliveryAttempts, smsMessages } from '../../src/db/schema.ts';
import { deliverSmsBatch } from '../../src/sms/delivery-batch.ts';
import { queueSmsMany } from '../../src/sms/outbox.ts';
import type { SmsProvider } from '../../src/sms/provider.ts';
import { createTestContext, HeldClock, type TestContext } from '../helpers/context.ts';

const CUSTOMER = '+14155552671';
/** Twilio's magic number that is not a valid destination: 21211, a permanent failure. */
const INVALID = '+15005550001';

describe('a batch of sends', () => {
  let t: TestContext;
  const clock = new HeldClock();
  before(async () => {
    t = await createTestContext({ clock }); // no worker: the test runs the batches itself
  });
  after(() => t.close());

  async function queue(tag: string, to: string[]): Promise<string[]> {
    return t.ctx.db.transaction((tx) => queueSmsMany(t.ctx, tx, 'sms.standard', to.map((number, i) => ({ type: 'test_message', to: number, body: `DominionTrust: ${tag} ${i}` }))));
  }

  it('with one failing send records the failure and every other acceptance', async () => {
    const ids = await queue('batch', [CUSTOMER, CUSTOMER, INVALID, CUSTOMER, CUSTOMER]);
    const errors = await deliverSmsBatch(t.ctx, 'sms.standard', ids);
    assert.equal(errors.size, 0, 'a provider refusal is an outcome, not a job failure');
    const rows = await t.ctx.db.select().from(smsMessages).where(inArray(smsMessages.id, ids));
    const failed = rows.filter((r) => r.status === 'failed');
    const sent = rows.filter((r) => r.twilioSid !== null);
    assert.deepEqual(failed.map((r) => r.toNumber), [INVALID]);
    assert.equal(failed[0]?.errorCode, 21211);
    assert.equal(sent.length, 4);
    assert.ok(sent.every((r) => r.status === 'queued' && r.attempts === 1 && r.sentAt), JSON.stringify(sent.map((r) => r.status)));
    const attempts = await t.ctx.db.select().from(smsDeliveryAttempts).where(inArray(smsDeliveryAttempts.smsMessageId, ids));
    assert.deepEqual(attempts.map((a) => a.outcome).sort(), ['accepted', 'accepted', 'accepted', 'accepted', 'failed']);
    // The four acceptances were recorded by one statement: they share their finish instant.
    assert.equal(new Set(attempts.filter((a) => a.outcome === 'accepted').map((a) => a.finishedAt.getTime())).size, 1);
    const atSimulator = t.sim.messages().filter((m) => m.body.startsWith('DominionTrust: batch '));
    assert.equal(atSimulator.length, 4);
    // The four are followed by the status sweep, due 2 s after the batch's record (callbacks off
    // here; the database's clock), set by the same statement; no job each. The failed one is not followed.
    const due = await rawRows<{ checks: number; due_in: number | null }>(t.ctx.db, sql`
      select status_checks as checks, round(extract(epoch from status_check_at - now()))::int as due_in from sms_messages
      where id = any(${`{${sent.map((r) => r.id).join(',')}}`}::uuid[])`);
    assert.deepEqual(due, sent.map(() => ({ checks: 0, due_in: 2 })));
    assert.equal(failed[0]?.statusCheckAt, null);
    const [jobs] = await rawRows<{ n: number }>(t.ctx.db, sql`select count(*)::int as n from pgboss.job where name = 'sms.status'`);
    assert.equal(jobs?.n, 0);
  });

  it('cut off mid-batch: the sends that reached Twilio are found there, the others sent, each exactly once', async () => {
    const ids = await queue('cut', [CUSTOMER, CUSTOMER, CUSTOMER, CUSTOMER, CUSTOMER, CUSTOMER]);
    // The worker "dies": its first three requests reach Twilio, then nothing more happens in it
    // (no answer is recorded, the last three requests never leave), as after a SIGKILL.
    let calls = 0;
    const dying: SmsProvider = {
      ...t.ctx.provider,
      send: async (message) => {
        calls += 1;
        if (calls > 3) return new Promise<never>(() => {});
        await t.ctx.provider.send(message);
        return new Promise<never>(() => {});
      },
    };
    void deliverSmsBatch({ ...t.ctx, provider: dying }, 'sms.standard', ids);
    const cut = () => t.sim.messages().filter((m) => m.body.startsWith('DominionTrust: cut ')).length;
    for (let i = 0; i < 500 && (calls < 6 || cut() < 3); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(cut(), 3, 'three sends reached the simulator');
    const claimed = await t.ctx.db.select().from(smsMessages).where(inArray(smsMessages.id, ids));
    assert.ok(claimed.every((r) => r.status === 'sending' && r.twilioSid === null), 'all six claimed, none recorded');

    // The job comes back before the claim is stale: nothing is sent while the claim may be alive.
    assert.equal((await deliverSmsBatch(t.ctx, 'sms.standard', ids)).size, 0);
    assert.equal(cut(), 3);
    // But it leaves a job for each for when the claim is stale: a claim whose answer a database
    // outage lost (the worker ran the job again at once) has no other job to send it.
    const [followUps] = await rawRows<{ n: number; soonest: number; latest: number }>(t.ctx.db, sql`
      select count(*)::int as n, min(extract(epoch from start_after - now()))::float as soonest, max(extract(epoch from start_after - now()))::float as latest
      from pgboss.job where name = 'sms.standard' and state = 'created' and start_after > now()
        and (data->>'messageId')::uuid = any(${`{${ids.join(',')}}`}::uuid[])`);
    assert.equal(followUps?.n, 6, 'a follow-up job for each message claimed and unsent');
    assert.ok(followUps && followUps.soonest > 25 && followUps.latest <= 31, `due when the claim is stale (30 s): in ${followUps?.soonest}-${followUps?.latest} s`);
    clock.advance(31_000);
    assert.equal((await deliverSmsBatch(t.ctx, 'sms.standard', ids)).size, 0);

    const bodies = t.sim.messages().filter((m) => m.body.startsWith('DominionTrust: cut ')).map((m) => m.body).sort();
    assert.deepEqual(bodies, ids.map((_, i) => `DominionTrust: cut ${i}`).sort(), 'each of the six exactly once');
    const rows = await t.ctx.db.select().from(smsMessages).where(inArray(smsMessages.id, ids));
    assert.ok(rows.every((r) => r.twilioSid !== null), 'every message recorded with its SID');
    assert.equal(new Set(rows.map((r) => r.twilioSid)).size, 6);
    const bySid = new Map(t.sim.messages().map((m) => [m.sid, m.body]));
    for (const row of rows) assert.equal(bySid.get(row.twilioSid ?? ''), row.bodyRedacted, 'each row holds the SID of its own text');
    const attempts = await t.ctx.db.select().from(smsDeliveryAttempts).where(inArray(smsDeliveryAttempts.smsMessageId, ids));
    assert.equal(attempts.filter((a) => a.errorKind === 'recovered').length, 3, 'three found at the provider, not sent again');
    assert.equal(attempts.length, 6);
  });
});
