// A notification sent as SMS follows its message to the end: refused by Twilio (21211) or
// undelivered (30003) it is 'failed' with the reason, so the staff "failed" view lists what the
// SMS statistics count; delivered it is 'sent'. Real worker, real SDK, simulator, staff API.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { createTestContext, eventually, HeldClock, type TestContext } from '../helpers/context.ts';
import { customer, type Customer } from '../helpers/customers.ts';
import { addCustomer, notificationsOf, notify } from './pipeline-fixture.ts';

let t: TestContext;
let app: FastifyInstance;
let staff: Customer;

before(async () => {
  t = await createTestContext({ clock: new HeldClock('2026-11-25T15:00:00Z') });
  await startWorker(t.ctx);
  app = buildApp(t.ctx);
  staff = await customer(t, 'stella', '+14155557001', { isStaff: true });
});
after(() => t.close());

async function finalNotification(userId: string) {
  return eventually(async () => {
    const [row] = await notificationsOf(t, userId);
    return row && !['pending', 'sending', 'queued'].includes(row.status) ? row : undefined;
  }, 20_000, 'the notification to settle');
}

describe('a notification follows its SMS', () => {
  it('refused by Twilio (21211): failed with the reason; undelivered (30003): failed; delivered: sent; the staff view and the stats agree', async () => {
    const refused = await addCustomer(t, { phone: '+14155556101' });
    const undelivered = await addCustomer(t, { phone: '+14155556102' });
    const delivered = await addCustomer(t, { phone: '+14155556103' });
    t.sim.refuse({ to: refused.phone!, code: 21211 });
    t.sim.undeliver({ to: undelivered.phone!, code: 30003 });
    for (const c of [refused, undelivered, delivered]) await notify(t, c.id, 'transfer_sent');

    const a = await finalNotification(refused.id);
    assert.deepEqual([a.status, a.reason], ['failed', "sms_failed: 21211 Invalid 'To' Phone Number (Invalid Phone Number)"]);
    const b = await finalNotification(undelivered.id);
    assert.deepEqual([b.status, b.reason], ['failed', 'sms_undelivered: 30003 Unreachable destination handset (Message Delivery Failed)']);
    const c = await finalNotification(delivered.id);
    assert.deepEqual([c.status, c.reason], ['sent', null]);

    const failedView = await app.inject({ url: '/api/staff/notifications?status=failed', headers: staff.auth });
    assert.equal(failedView.statusCode, 200);
    const listed = failedView.json<{ notifications: { reason: string; customer: { phone: string | null } }[] }>().notifications;
    assert.deepEqual(listed.map((n) => [n.customer.phone, n.reason]).sort(), [
      ['***6101', "sms_failed: 21211 Invalid 'To' Phone Number (Invalid Phone Number)"],
      ['***6102', 'sms_undelivered: 30003 Unreachable destination handset (Message Delivery Failed)'],
    ]);

    const stats = await app.inject({ url: '/api/staff/sms/stats?days=1', headers: staff.auth });
    const day = stats.json<{ days: { failed: number; undelivered: number }[] }>().days.at(-1)!;
    assert.equal(day.failed + day.undelivered, listed.length, 'the stats count as many failures as the failed view lists');
  });
});
