// The worker's policy step carries the SMS it queues on its own lane on to the send, in the same
// job: no send job is written for them. A worker that dies between the two leaves the notification
// job to run again, and the rerun finds the SMS unsent and carries it on: sent once, never lost.
// Run here without a worker, so each step is called by the test: the "crash" is not calling the send.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eq, inArray, sql } from 'drizzle-orm';
import { rawRows } from '../../src/db/connection.ts';
import { notifications, smsMessages } from '../../src/db/schema.ts';
import { dispatchNotificationBatch } from '../../src/notifications/dispatch-batch.ts';
import { deliverSmsBatch } from '../../src/sms/delivery-batch.ts';
import { addCustomer, notify, openPipeline, smsAt, type PipelineFixture } from './pipeline-fixture.ts';

describe('the policy step carrying its SMS on to the send', () => {
  let f: PipelineFixture;
  before(async () => {
    f = await openPipeline({ worker: false });
  });
  after(() => f.close());

  /** Send jobs (any SMS lane) written for these messages. */
  const sendJobsOf = async (messageIds: readonly string[]) => (await rawRows<{ n: number }>(f.t.ctx.db, sql`
    select count(*)::int as n from pgboss.job where name like 'sms.%'
    and data->>'messageId' in (select jsonb_array_elements_text(${JSON.stringify(messageIds)}::jsonb))`))[0]!.n;
  const messageIdsOf = async (notificationIds: readonly string[]) => (await f.t.ctx.db.select({ id: notifications.id, messageId: notifications.smsMessageId })
    .from(notifications).where(inArray(notifications.id, [...notificationIds]))).map((r) => r.messageId!);

  it('queues the batch\'s SMS without send jobs and hands them to the caller, each with its notification', async () => {
    const { t } = f;
    const customers = await Promise.all(Array.from({ length: 4 }, () => addCustomer(t)));
    const ids: string[] = [];
    for (const c of customers) ids.push((await notify(t, c.id, 'transfer_sent')).notifications.find((n) => n.channel === 'sms')!.id);
    const { errors, carried } = await dispatchNotificationBatch(t.ctx, ids, { carriedLane: 'sms.standard' });
    assert.equal(errors.size, 0);
    const messageIds = await messageIdsOf(ids);
    assert.equal(messageIds.length, 4);
    assert.deepEqual([...carried].sort(), messageIds.map((m, i) => [m, ids[i]!] as [string, string]).sort(), 'each SMS carried, with its notification');
    assert.equal(await sendJobsOf(messageIds), 0, 'no send job written for a carried SMS');
    const errorsOfSend = await deliverSmsBatch(t.ctx, 'sms.standard', [...carried.keys()]);
    assert.equal(errorsOfSend.size, 0);
    for (const c of customers) assert.equal(smsAt(t, c.phone).length, 1, `one SMS to ${c.phone}`);
  });

  it('one notification alone is carried too; an SMS of another lane gets its send job', async () => {
    const { t } = f;
    const c = await addCustomer(t);
    const [alone] = (await notify(t, c.id, 'transfer_sent')).notifications.filter((n) => n.channel === 'sms').map((n) => n.id);
    const one = await dispatchNotificationBatch(t.ctx, [alone!], { carriedLane: 'sms.standard' });
    assert.equal(one.carried.size, 1);
    const [other] = (await notify(t, c.id, 'transfer_received')).notifications.filter((n) => n.channel === 'sms').map((n) => n.id);
    const elsewhere = await dispatchNotificationBatch(t.ctx, [other!], { carriedLane: 'sms.bulk' });
    assert.equal(elsewhere.carried.size, 0, 'a standard-lane SMS is not carried by a bulk-lane job');
    assert.equal(await sendJobsOf(await messageIdsOf([other!])), 1, 'it has its send job');
    await deliverSmsBatch(t.ctx, 'sms.standard', [...one.carried.keys()]);
  });

  it('a rerun after a worker died before the send carries the unsent SMS on: sent once, and a third run sends nothing', async () => {
    const { t } = f;
    const customers = await Promise.all(Array.from({ length: 3 }, () => addCustomer(t)));
    const ids: string[] = [];
    for (const c of customers) ids.push((await notify(t, c.id, 'transfer_sent')).notifications.find((n) => n.channel === 'sms')!.id);
    // The first run decides and queues, then its worker dies: the send never happens.
    const first = await dispatchNotificationBatch(t.ctx, ids, { carriedLane: 'sms.standard' });
    assert.equal(first.carried.size, 3);
    for (const c of customers) assert.equal(smsAt(t, c.phone).length, 0);
    // pg-boss runs the expired job again: the notifications are queued, their SMS unsent.
    const rerun = await dispatchNotificationBatch(t.ctx, ids, { carriedLane: 'sms.standard' });
    assert.deepEqual([...rerun.carried.keys()].sort(), [...first.carried.keys()].sort(), 'the rerun carries the same SMS, no new ones');
    assert.equal((await f.t.ctx.db.select().from(smsMessages).where(inArray(smsMessages.userId, customers.map((c) => c.id)))).length, 3, 'no second SMS queued');
    // A rerun of one of them, alone (another batch's shape), also finds it.
    const alone = await dispatchNotificationBatch(t.ctx, [ids[0]!], { carriedLane: 'sms.standard' });
    assert.equal(alone.carried.size, 1);
    // Two runs sending at once (a rerun while the first worker still lives): one send each.
    await Promise.all([deliverSmsBatch(t.ctx, 'sms.standard', [...rerun.carried.keys()]), deliverSmsBatch(t.ctx, 'sms.standard', [...alone.carried.keys()])]);
    const third = await dispatchNotificationBatch(t.ctx, ids, { carriedLane: 'sms.standard' });
    assert.equal(third.carried.size, 0, 'nothing left to carry once sent');
    for (const c of customers) assert.equal(smsAt(t, c.phone).length, 1, `exactly one SMS to ${c.phone}`);
    const sent = await f.t.ctx.db.select({ sid: smsMessages.twilioSid }).from(smsMessages).where(eq(smsMessages.userId, customers[0]!.id));
    assert.ok(sent[0]?.sid, 'its acceptance recorded');
  });

  it('a rerun after a worker died mid-send follows the dead claim up: a send job for when it is stale, nothing sent twice', async () => {
    const { t } = f;
    const c = await addCustomer(t);
    const [id] = (await notify(t, c.id, 'transfer_sent')).notifications.filter((n) => n.channel === 'sms').map((n) => n.id);
    const first = await dispatchNotificationBatch(t.ctx, [id!], { carriedLane: 'sms.standard' });
    const [messageId] = [...first.carried.keys()];
    // Its worker claimed the SMS and died before recording anything: 'sending', no SID.
    await t.ctx.db.update(smsMessages).set({ status: 'sending', attempts: 1, updatedAt: t.ctx.clock.now() }).where(eq(smsMessages.id, messageId!));
    const rerun = await dispatchNotificationBatch(t.ctx, [id!], { carriedLane: 'sms.standard' });
    assert.deepEqual([...rerun.carried.keys()], [messageId], 'the rerun carries the claimed, unsent SMS on');
    assert.equal(await sendJobsOf([messageId!]), 0);
    await deliverSmsBatch(t.ctx, 'sms.standard', [...rerun.carried.keys()]);
    assert.equal(smsAt(t, c.phone).length, 0, 'not sent while the dead claim is fresh (its request may be at Twilio)');
    const [job] = await rawRows<{ due: boolean }>(t.ctx.db, sql`
      select start_after > now() + interval '20 seconds' as due from pgboss.job where name = 'sms.standard' and data->>'messageId' = ${messageId}`);
    assert.equal(job?.due, true, 'a send job waits for the claim to turn stale, then looks for it at the provider');
  });
});
