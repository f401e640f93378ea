// A send a crashed worker left unrecorded: the message is 'sending' with no SID. The worker that
// takes it over looks for it at the provider first: found (Twilio had accepted it), it is recorded
// and not sent again; not found (the request never got there), it is sent, once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eq, sql } from 'drizzle-orm';
import { rawRows } from '../../src/db/connection.ts';
import { smsDeliveryAttempts, smsMessages, smsStatusHistory } from '../../src/db/schema.ts';
import { deliverSms } from '../../src/sms/delivery.ts';
import { queueSms } from '../../src/sms/outbox.ts';
import { createTestContext, type TestContext } from '../helpers/context.ts';

describe('sends lost with their worker', () => {
  let t: TestContext;
  before(async () => {
    // No worker: the test plays the crashed one. The simulator's messages stay 'queued': one that
    // had stepped on to 'sending' (5 ms steps, a loaded machine) would match the row's own status,
    // and the recovery would leave no step of its own in the timeline to check.
    t = await createTestContext({ simulator: { statusStepMs: 60_000 } });
  });
  after(() => t.close());

  /** A queued message as a worker killed mid-send leaves it: claimed a minute ago, no SID. */
  async function lostMessage(body: string, reachedTwilio: boolean) {
    const queued = await t.ctx.db.transaction((tx) => queueSms(t.ctx, tx, { type: 'transaction', lane: 'sms.standard', to: '+14155552671', body }));
    if (reachedTwilio) await t.ctx.provider.send({ to: '+14155552671', from: '+15005550006', body });
    await t.ctx.db.update(smsMessages).set({ status: 'sending', attempts: 1, updatedAt: new Date(Date.now() - 60_000) }).where(eq(smsMessages.id, queued.id));
    return queued.id;
  }

  it('finds a send Twilio accepted and records it instead of texting the customer again', async () => {
    const id = await lostMessage('DominionTrust: lost after Twilio accepted it', true);
    await deliverSms(t.ctx, 'sms.standard', id);
    assert.equal(t.sim.messages().filter((m) => m.body === 'DominionTrust: lost after Twilio accepted it').length, 1);
    const [row] = await t.ctx.db.select().from(smsMessages).where(eq(smsMessages.id, id));
    assert.match(row?.twilioSid ?? '', /^SM/);
    assert.equal(row?.attempts, 2);
    const attempts = await t.ctx.db.select().from(smsDeliveryAttempts).where(eq(smsDeliveryAttempts.smsMessageId, id));
    assert.deepEqual(attempts.map((a) => [a.attempt, a.outcome, a.errorKind]), [[2, 'accepted', 'recovered']]);
    // The timeline credits the status to the recovery, not to an answer to a send.
    assert.deepEqual(await sourcesOf(id), [['sending', null], [row?.status, 'lost_send_recovery']]);
  });

  it('sends a message whose request never reached Twilio, once; an identical body already recorded is not mistaken for it', async () => {
    const first = await lostMessage('DominionTrust: same words', true);
    await deliverSms(t.ctx, 'sms.standard', first); // recorded: its SID is taken
    const second = await lostMessage('DominionTrust: same words', false);
    await deliverSms(t.ctx, 'sms.standard', second);
    assert.equal(t.sim.messages().filter((m) => m.body === 'DominionTrust: same words').length, 2);
    const rows = await t.ctx.db.select().from(smsMessages).where(eq(smsMessages.bodyRedacted, 'DominionTrust: same words'));
    assert.equal(new Set(rows.map((r) => r.twilioSid)).size, 2);
    assert.deepEqual((await sourcesOf(second)).at(-1)?.[1], 'send_answer');
  });

  it('leaves a job for a message whose claim is too fresh to take over, and sends nothing meanwhile', async () => {
    const queued = await t.ctx.db.transaction((tx) => queueSms(t.ctx, tx, { type: 'transaction', lane: 'sms.standard', to: '+14155552671', body: 'DominionTrust: claimed, answer lost' }));
    // As a claim whose answer a database outage lost leaves it: committed 10 s ago, the worker unaware.
    await t.ctx.db.update(smsMessages).set({ status: 'sending', attempts: 1, updatedAt: new Date(t.ctx.clock.now().getTime() - 10_000) }).where(eq(smsMessages.id, queued.id));
    await deliverSms(t.ctx, 'sms.standard', queued.id);
    assert.equal(t.sim.messages().filter((m) => m.body === 'DominionTrust: claimed, answer lost').length, 0, 'not sent while the claim may be alive');
    const [job] = await rawRows<{ due: number }>(t.ctx.db, sql`
      select extract(epoch from start_after - now())::float as due from pgboss.job
      where name = 'sms.standard' and state = 'created' and start_after > now() and data->>'messageId' = ${queued.id}`);
    assert.ok(job && job.due > 15 && job.due <= 21, `a job due when the claim turns stale (in 20 s): ${JSON.stringify(job)}`);
  });

  /** Each status of a message's history and what reported it, oldest first. */
  async function sourcesOf(id: string) {
    const history = await t.ctx.db.select().from(smsStatusHistory).where(eq(smsStatusHistory.smsMessageId, id)).orderBy(smsStatusHistory.at);
    return history.map((h) => [h.status, h.source]);
  }
});
