// SMS statistics for staff, against messages sent through the real pipeline (notifyUser, the
// worker, the Twilio SDK, the simulator's delivery outcomes) on two days of a held clock: per-day
// counts, segments, estimated and billed cost, delivery rate, per type, failures by Twilio error
// code, spend against the daily cap, and the same sends counted in /metrics.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { inArray } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { createSession, deviceOf } from '../../src/auth/sessions.ts';
import { smsMessages } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import type { SmsStats } from '../../src/notifications/stats.ts';
import { createUser } from '../../src/users/users.ts';
import { createTestContext, eventually, HeldClock, type TestContext } from '../helpers/context.ts';
import { PASSWORD } from '../helpers/customers.ts';
import { addCustomer, notify, setClock } from '../notifications/pipeline-fixture.ts';

const GOOD = '+14155556001';
const UNREACHABLE = '+14155556002';
const FAILING = '+14155556003';

let t: TestContext;
let app: FastifyInstance;
const clock = new HeldClock('2026-11-27T15:00:00Z');

before(async () => {
  t = await createTestContext({ clock, env: { SMS_DAILY_SPEND_CAP_USD: '0.05' }, simulator: { undeliverableNumbers: [UNREACHABLE], failedNumbers: [FAILING] } });
  await startWorker(t.ctx);
  app = buildApp(t.ctx);
});
after(() => t.close());

/** Waits until every SMS of the message log has a final status. */
async function allFinal(count: number): Promise<void> {
  await eventually(async () => {
    const rows = await t.ctx.db.select({ status: smsMessages.status }).from(smsMessages)
      .where(inArray(smsMessages.status, ['delivered', 'undelivered', 'failed']));
    return rows.length === count ? true : undefined;
  }, 20_000, `${count} SMS with a final status`);
}

describe('GET /api/staff/sms/stats', () => {
  it('counts per day, per type and per error code what the pipeline really sent', async () => {
    const good = await addCustomer(t, { phone: GOOD });
    const unreachable = await addCustomer(t, { phone: UNREACHABLE });
    const failing = await addCustomer(t, { phone: FAILING });
    // Day 1: two delivered, one undelivered (30003, still billed).
    await notify(t, good.id, 'test_message');
    await notify(t, good.id, 'test_message');
    await notify(t, unreachable.id, 'test_message');
    await allFinal(3);
    // Day 2: one delivered, one failed by the carrier (30008, refunded).
    setClock(clock, '2026-11-28T15:00:00Z');
    await notify(t, good.id, 'test_message');
    await notify(t, failing.id, 'test_message');
    await allFinal(5);

    const user = await createUser(t.ctx, { username: 'stats.staff', password: PASSWORD, isStaff: true });
    const { token } = await createSession(t.ctx.db, user.id, deviceOf('test', undefined), clock.now());
    const res = await app.inject({ url: '/api/staff/sms/stats?days=3', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.statusCode, 200, res.body);
    const stats = res.json<SmsStats>();
    assert.deepEqual([stats.from, stats.to], ['2026-11-26', '2026-11-28']);
    const [empty, day1, day2] = stats.days;
    assert.deepEqual(stats.days.map((d) => d.day), ['2026-11-26', '2026-11-27', '2026-11-28']);
    assert.deepEqual(
      { queued: empty?.queued, segments: empty?.segments, deliveryRate: empty?.deliveryRate },
      { queued: 0, segments: 0, deliveryRate: null }, 'a day without messages is there, as zeros',
    );
    assert.deepEqual(day1, {
      day: '2026-11-27', queued: 3, sent: 3, delivered: 2, failed: 0, undelivered: 1, expired: 0, inFlight: 0,
      segments: 3, estimatedCostUsd: 0.0225, actualCostUsd: 0.0225, pricedMessages: 3, deliveryRate: 2 / 3,
    });
    assert.deepEqual(day2, {
      day: '2026-11-28', queued: 2, sent: 2, delivered: 1, failed: 1, undelivered: 0, expired: 0, inFlight: 0,
      segments: 2, estimatedCostUsd: 0.015, actualCostUsd: 0.0075, pricedMessages: 1, deliveryRate: 0.5,
    });
    assert.deepEqual(stats.byType.map((x) => [x.type, x.queued, x.delivered, x.segments]), [['test_message', 5, 3, 5]]);
    assert.equal(stats.totals.deliveryRate, 3 / 5);
    assert.deepEqual(stats.errors, [
      { errorCode: 30003, count: 1, errorMessage: '30003 Unreachable destination handset (Message Delivery Failed)' },
      { errorCode: 30008, count: 1, errorMessage: '30008 Unknown error (Message Delivery Failed)' },
    ]);
    // Today's spend as the cap counts it: two SMS of one segment against a $0.05 cap.
    assert.deepEqual(stats.spend, { dailyCapUsd: 0.05, todayUsd: 0.015, todayFractionOfCap: 0.3, last7DaysUsd: 0.0375, last7DaysCapUsd: 0.35 });

    const metrics = (await app.inject({ url: '/metrics' })).body;
    assert.match(metrics, /dominion_notifications_total\{type="test_message",channel="sms",outcome="sent"\} 5/);
    assert.match(metrics, /dominion_sms_queued_segments_total\{type="test_message"\} 5/);
    assert.match(metrics, /dominion_sms_queued_estimated_cost_usd_total\{type="test_message"\} 0\.0375/);
  });

  it('refuses a period it cannot show', async () => {
    const user = await createUser(t.ctx, { username: 'stats.staff2', password: PASSWORD, isStaff: true });
    const { token } = await createSession(t.ctx.db, user.id, deviceOf('test', undefined), clock.now());
    for (const days of ['0', '91', 'week']) {
      const res = await app.inject({ url: `/api/staff/sms/stats?days=${days}`, headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.statusCode, 400, days);
      assert.match(res.json<{ message: string }>().message, /^days: /);
    }
  });
});
