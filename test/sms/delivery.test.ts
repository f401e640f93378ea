// The message path end to end: queueSms writes the log row and its job; the worker sends through
// the real Twilio SDK to the simulator; outcomes land in the message log.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eq, inArray, sql } from 'drizzle-orm';
import { rawRows } from '../../src/db/connection.ts';
import { smsMessages } from '../../src/db/schema.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { CODE_RETRY_BASE_MS, deliverSms, resumeWaitingCodes, retryDelayMs } from '../../src/sms/delivery.ts';
import { queueSms } from '../../src/sms/outbox.ts';
import { createTestContext, eventually, type TestContext } from '../helpers/context.ts';

const CUSTOMER = '+14155552671';

async function messageRow(t: TestContext, id: string) {
  const [row] = await t.ctx.db.select().from(smsMessages).where(eq(smsMessages.id, id));
  assert.ok(row, 'message row exists');
  return row;
}

describe('SMS delivery through the worker', () => {
  let t: TestContext;
  before(async () => {
    t = await createTestContext({ simulator: { failedNumbers: ['+14155550199'] } });
    await startWorker(t.ctx);
  });
  after(() => t.close());

  it('sends a queued message once, records SID, segments and price, and follows it to delivered', async () => {
    const queued = await t.ctx.db.transaction((tx) =>
      queueSms(t.ctx, tx, { type: 'test_message', lane: 'sms.standard', to: CUSTOMER, country: 'US', body: 'DominionTrust: hello' }));
    assert.equal(queued.segments, 1);
    assert.equal(queued.estimatedPrice, 0.0075);
    const row = await eventually(async () => {
      const r = await messageRow(t, queued.id);
      return r.status === 'delivered' ? r : undefined;
    }, 20_000, 'delivered status');
    assert.match(row.twilioSid ?? '', /^SM[0-9a-f]{32}$/);
    assert.equal(row.fromNumber, '+15005550006');
    assert.equal(row.price, '0.00750');
    const atSimulator = t.sim.messages().filter((m) => m.sid === row.twilioSid);
    assert.equal(atSimulator.length, 1);
    assert.equal(atSimulator[0]?.body, 'DominionTrust: hello');
    const metrics = await t.ctx.metrics.registry.metrics();
    assert.match(metrics, /dominion_sms_sent_total\{type="test_message",status="queued"\} 1/);
    assert.match(metrics, /dominion_sms_estimated_cost_usd_total\{type="test_message"\} 0.0075/);
    assert.match(metrics, /dominion_sms_send_duration_seconds_count\{outcome="accepted"\} 1/);
  });

  it('a replayed send job does not send twice', async () => {
    const queued = await t.ctx.db.transaction((tx) =>
      queueSms(t.ctx, tx, { type: 'test_message', lane: 'sms.critical', to: CUSTOMER, body: 'DominionTrust: replay' }));
    await eventually(async () => ((await messageRow(t, queued.id)).twilioSid ? true : undefined));
    await deliverSms(t.ctx, 'sms.critical', queued.id);
    await deliverSms(t.ctx, 'sms.critical', queued.id);
    assert.equal(t.sim.messages().filter((m) => m.body === 'DominionTrust: replay').length, 1);
    assert.equal((await messageRow(t, queued.id)).attempts, 1);
  });

  it('a permanent failure (opted-out recipient, 21610) is recorded and not retried', async () => {
    const queued = await t.ctx.db.transaction((tx) =>
      queueSms(t.ctx, tx, { type: 'test_message', lane: 'sms.standard', to: '+15005550004', body: 'DominionTrust: opted out' }));
    const row = await eventually(async () => {
      const r = await messageRow(t, queued.id);
      return r.status === 'failed' ? r : undefined;
    });
    assert.equal(row.errorCode, 21610);
    assert.equal(row.attempts, 1);
    assert.match(row.errorMessage ?? '', /opt|STOP/i);
  });

  it('a message the carrier fails ends failed with the carrier code', async () => {
    const queued = await t.ctx.db.transaction((tx) =>
      queueSms(t.ctx, tx, { type: 'test_message', lane: 'sms.standard', to: '+14155550199', body: 'DominionTrust: will fail' }));
    const row = await eventually(async () => {
      const r = await messageRow(t, queued.id);
      return r.status === 'failed' ? r : undefined;
    }, 20_000);
    assert.equal(row.errorCode, 30008);
  });

  it('a code message that can no longer arrive in time is not sent late', async () => {
    const past = new Date(Date.now() - 1000);
    const queued = await t.ctx.db.transaction(async (tx) => {
      const q = await queueSms(t.ctx, tx, { type: 'test_message', lane: 'sms.critical', to: CUSTOMER, body: 'DominionTrust: too late', sendBefore: past });
      return q;
    });
    const row = await eventually(async () => {
      const r = await messageRow(t, queued.id);
      return r.status === 'expired' ? r : undefined;
    });
    assert.equal(row.twilioSid, null);
    assert.equal(t.sim.messages().filter((m) => m.body === 'DominionTrust: too late').length, 0);
  });

  it('insufficient funds is retryable: the message waits for a retry and is sent after a top-up', async () => {
    t.sim.setBalance(0);
    const queued = await t.ctx.db.transaction((tx) =>
      queueSms(t.ctx, tx, { type: 'test_message', lane: 'sms.critical', to: CUSTOMER, body: 'DominionTrust: after top-up' }));
    const waiting = await eventually(async () => {
      const r = await messageRow(t, queued.id);
      return r.status === 'retrying' ? r : undefined;
    });
    assert.equal(waiting.errorCode, 20005);
    t.sim.setBalance(15);
    const sent = await eventually(async () => {
      const r = await messageRow(t, queued.id);
      return r.twilioSid ? r : undefined;
    }, 20_000, 'retry after top-up');
    assert.equal(sent.attempts, 2);
  });
});

describe('retry delay', () => {
  it('grows exponentially with jitter and honours Retry-After', () => {
    assert.equal(retryDelayMs(1, null, () => 0), 1000);
    assert.equal(retryDelayMs(1, null, () => 1), 2000);
    assert.equal(retryDelayMs(3, null, () => 0), 4000);
    assert.equal(retryDelayMs(20, null, () => 1), 60_000);
    assert.equal(retryDelayMs(1, 7000, () => 0), 7000);
  });

  it('is 4x shorter for a code, which a customer is waiting on, but never shorter than Retry-After', () => {
    assert.equal(retryDelayMs(1, null, () => 0, CODE_RETRY_BASE_MS), 250);
    assert.equal(retryDelayMs(1, null, () => 1, CODE_RETRY_BASE_MS), 500);
    assert.equal(retryDelayMs(3, null, () => 1, CODE_RETRY_BASE_MS), 2000);
    assert.equal(retryDelayMs(1, 3000, () => 0, CODE_RETRY_BASE_MS), 3000);
  });
});

describe('the retry of a failed send', () => {
  let t: TestContext;
  before(async () => {
    t = await createTestContext(); // no worker: the test runs the sends and reads their retry jobs
  });
  after(() => t.close());

  it('comes 4x sooner for a code (critical lane) than for an alert', async () => {
    t.sim.setBalance(0); // 20005, retryable, no Retry-After
    const dueIn = async (lane: 'sms.critical' | 'sms.standard') => {
      const queued = await t.ctx.db.transaction((tx) => queueSms(t.ctx, tx, { type: 'test_message', lane, to: CUSTOMER, body: `DominionTrust: retry on ${lane}` }));
      await deliverSms(t.ctx, lane, queued.id);
      assert.equal((await messageRow(t, queued.id)).status, 'retrying');
      const [job] = await rawRows<{ due: number }>(t.ctx.db, sql`
        select extract(epoch from start_after - created_on)::float * 1000 as due from pgboss.job
        where name = ${lane} and state = 'created' and start_after > created_on and data->>'messageId' = ${queued.id}`);
      assert.ok(job, `a retry job on ${lane}`);
      return job.due;
    };
    const code = await dueIn('sms.critical');
    const alert = await dueIn('sms.standard');
    assert.ok(code >= 240 && code <= 600, `a code's first retry in 250-500 ms: ${code} ms`);
    assert.ok(alert >= 990 && alert <= 2100, `an alert's first retry in 1-2 s: ${alert} ms`);
    t.sim.setBalance(15);
  });

  it('after a storm, resumes the codes waiting out a backoff or parked unsent now, but not those refused for an empty balance', async () => {
    const queue = (body: string) => t.ctx.db.transaction((tx) => queueSms(t.ctx, tx, {
      type: 'two_factor_code', lane: 'sms.critical', to: CUSTOMER, body, sendBefore: new Date(t.ctx.clock.now().getTime() + 300_000),
    }));
    const stormed = await queue('DominionTrust: code met a 500');
    const broke = await queue('DominionTrust: code met an empty balance');
    // Parked while the circuit was open: still 'pending', its job due after the open period.
    const parked = await queue('DominionTrust: code parked while the circuit was open');
    const alert = await t.ctx.db.transaction((tx) => queueSms(t.ctx, tx, { type: 'test_message', lane: 'sms.standard', to: CUSTOMER, body: 'DominionTrust: alert met a 500' }));
    await t.ctx.db.update(smsMessages).set({ status: 'retrying', errorCode: 20500 }).where(inArray(smsMessages.id, [stormed.id, alert.id]));
    await t.ctx.db.update(smsMessages).set({ status: 'retrying', errorCode: 20005 }).where(eq(smsMessages.id, broke.id));
    const jobsNow = async (id: string) => (await rawRows<{ n: number }>(t.ctx.db, sql`
      select count(*)::int as n from pgboss.job where name = 'sms.critical' and state = 'created' and start_after <= now() and data->>'messageId' = ${id}`))[0]?.n;
    const before = { stormed: await jobsNow(stormed.id), broke: await jobsNow(broke.id), parked: await jobsNow(parked.id) };
    assert.ok((await resumeWaitingCodes(t.ctx)) >= 2);
    assert.equal(await jobsNow(stormed.id), (before.stormed ?? 0) + 1, 'the stormed code has a job due now');
    assert.equal(await jobsNow(parked.id), (before.parked ?? 0) + 1, 'the parked code has a job due now');
    assert.equal(await jobsNow(broke.id), before.broke, 'the code refused for funds keeps its backoff');
    assert.equal(await jobsNow(alert.id), 0, 'an alert is not a code');
  });
});

describe('a send that missed its sender slot', () => {
  let t: TestContext;
  before(async () => {
    t = await createTestContext({ env: { TWILIO_SENDER_MPS: '5' } }); // 200 ms slots; no worker: the test runs the job
  });
  after(() => t.close());

  it('books the next slot instead of landing in another sender\'s, and still sends once', async () => {
    // The process stalled past its slot (here: the first slot handed out has already ended), as a
    // loaded worker does between booking and sending.
    let bookings = 0;
    const throttle = t.ctx.senderThrottle;
    const stalled: typeof t.ctx = {
      ...t.ctx,
      senderThrottle: {
        acquire: async (sender, urgent) => {
          const slot = await throttle.acquire(sender, urgent);
          return bookings++ === 0 ? { ...slot, endsAt: performance.now() - 1 } : slot;
        },
        acquireAny: (senders, urgent) => throttle.acquireAny(senders, urgent),
      },
    };
    const queued = await t.ctx.db.transaction((tx) =>
      queueSms(t.ctx, tx, { type: 'test_message', lane: 'sms.standard', to: CUSTOMER, body: 'DominionTrust: late slot' }));
    await deliverSms(stalled, 'sms.standard', queued.id);
    assert.equal(bookings, 2, 'a second slot was booked for the late send');
    assert.equal(t.sim.messages().filter((m) => m.body === 'DominionTrust: late slot').length, 1);
    assert.match(await t.ctx.metrics.registry.metrics(), /dominion_sms_sender_slots_missed_total 1/);
  });
});
