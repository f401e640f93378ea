// Several sender numbers (TWILIO_PHONE_NUMBER=+1...,+1...): measured at the simulator, two
// numbers at TWILIO_SENDER_MPS=1 carry about two messages a second, each number within its own
// rate, in one worker and across two worker processes on PostgreSQL; a customer hears from their
// own number while it is free. The settings and setup checks show every number.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { sql } from 'drizzle-orm';
import { rawRows } from '../../src/db/connection.ts';
import { smsMessages } from '../../src/db/schema.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { deliverSms } from '../../src/sms/delivery.ts';
import { queueSmsMany } from '../../src/sms/outbox.ts';
import { senderPreference } from '../../src/sms/sender-throttle.ts';
import { runTwilioSetup } from '../../src/twilio-setup/run.ts';
import type { SimulatedMessage } from '../../src/simulator/index.ts';
import { createTestContext, eventually, TEST_SENDER, type TestContext } from '../helpers/context.ts';
import { POSTGRES_ONLY, useWorkerFleet, workersStarted } from '../helpers/worker-fleet.ts';

const SECOND_SENDER = '+14155550100';
const SENDERS = [TEST_SENDER, SECOND_SENDER];
const MESSAGES = 10;

/** Checks the arrivals: each number at most 1 per second, both together about 2 per second. */
function checkSpread(sent: readonly SimulatedMessage[]): void {
  const arrivals = sent.map((m) => ({ from: m.from, at: new Date(m.dateCreated).getTime() })).sort((a, b) => a.at - b.at);
  const span = arrivals.at(-1)!.at - arrivals[0]!.at;
  console.log(`two senders at 1 MPS: ${arrivals.length} messages over ${span} ms (${arrivals.map((a) => a.from.slice(-4)).join(' ')})`);
  for (const sender of SENDERS) {
    const times = arrivals.filter((a) => a.from === sender).map((a) => a.at);
    assert.ok(times.length >= MESSAGES / 2 - 1, `${sender} carried ${times.length} of ${MESSAGES}`);
    // Slots are booked exactly 1 s apart (test/sms/sender-throttle.test.ts); what reaches the
    // simulator also carries each request's own latency (the first through a cold SDK more), so
    // the rate is checked over two-second windows with one message of tolerance.
    let busiest = 0;
    for (const start of times) busiest = Math.max(busiest, times.filter((a) => a >= start && a < start + 2000).length);
    assert.ok(busiest <= 3, `${sender} sent ${busiest} messages within two seconds`);
  }
  // One number alone needs 9 s for 10 messages; two need about 4 s.
  assert.ok(span >= 3500 && span < 6500, `${MESSAGES} messages took ${span} ms`);
}

function burst(t: TestContext, tag: string) {
  return t.ctx.db.transaction((tx) => queueSmsMany(t.ctx, tx, 'sms.standard',
    Array.from({ length: MESSAGES }, (_, i) => ({ type: 'transaction', to: `+1415555${String(3100 + i)}`, body: `${tag} ${i}` }))));
}

async function arrived(t: TestContext, tag: string): Promise<SimulatedMessage[]> {
  return eventually(() => {
    const sent = t.sim.messages().filter((m) => m.body.startsWith(`${tag} `));
    return sent.length >= MESSAGES ? sent : undefined;
  }, 30_000, `${MESSAGES} messages`);
}

describe('several sender numbers', () => {
  let t: TestContext;
  before(async () => {
    t = await createTestContext({ env: { TWILIO_PHONE_NUMBER: SENDERS.join(', '), TWILIO_SENDER_MPS: '1' } });
    await startWorker(t.ctx);
  });
  after(() => t.close());

  it('two numbers at 1 MPS each carry about 2 messages per second', async () => {
    // A first message warms the SDK and its connection, whose first request is slower.
    await t.ctx.db.transaction((tx) => queueSmsMany(t.ctx, tx, 'sms.standard', [{ type: 'transaction', to: '+14155553099', body: 'warm-up' }]));
    await eventually(() => t.sim.messages().find((m) => m.body === 'warm-up'));
    await new Promise((r) => setTimeout(r, 1100)); // every number free
    await burst(t, 'spread');
    checkSpread(await arrived(t, 'spread'));
  });

  it('a customer hears from their own number while it is free', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const customers = ['+14155553201', '+14155553202', '+14155553203', '+14155553204'];
    for (const to of customers) {
      await t.ctx.db.transaction((tx) => queueSmsMany(t.ctx, tx, 'sms.standard', [{ type: 'transaction', to, body: `own ${to}` }]));
      const sent = await eventually(() => t.sim.messages().find((m) => m.body === `own ${to}`));
      assert.equal(sent.from, senderPreference(SENDERS, to)[0], `${to} got their own number`);
      await new Promise((r) => setTimeout(r, 1100));
    }
  });

  it('a Messaging Service stays one pool: no From, one throttle row for the service', async () => {
    const service = 'MG0123456789abcdef0123456789abcdef';
    const ctx = { ...t.ctx, config: { ...t.config, twilio: { ...t.config.twilio, messagingServiceSid: service } } };
    // A row without a job: only this call sends it.
    const [row] = await t.ctx.db.insert(smsMessages).values({
      type: 'test_message', toNumber: '+14155553401', bodyRedacted: 'via service', encoding: 'GSM-7', segments: 1, priceEstimate: '0.00750',
    }).returning();
    await deliverSms(ctx, 'sms.standard', row!.id);
    const sent = t.sim.messages().find((m) => m.body === 'via service');
    assert.equal(sent?.messagingServiceSid, service);
    const slots = await rawRows<{ sender: string }>(t.ctx.db, sql`select sender from sender_throttle order by sender`);
    assert.ok(slots.some((s) => s.sender === service));
  });

  it('setup checks and the number listing show every configured sender', async () => {
    const report = await runTwilioSetup(t.ctx, { checkSetup: true, phoneNumbers: true });
    const sender = report.checks.find((c) => c.name === 'twilio.sender');
    assert.ok(sender?.ok, JSON.stringify(sender));
    for (const n of SENDERS) assert.match(sender.detail, new RegExp(`\\${n}`));
    assert.deepEqual(report.phoneNumbers?.filter((n) => n.isSender).map((n) => n.phoneNumber).sort(), [...SENDERS].sort());
  });
});

describe('several sender numbers across worker processes', POSTGRES_ONLY, () => {
  const fleet = useWorkerFleet();

  it('two workers keep each of two numbers within 1 MPS', async () => {
    const { t } = fleet;
    await workersStarted(fleet.start(2, { TWILIO_PHONE_NUMBER: SENDERS.join(','), TWILIO_SENDER_MPS: '1', WORKER_CONCURRENCY: '4' })); // so they compete from the start
    await t.ctx.db.transaction((tx) => queueSmsMany(t.ctx, tx, 'sms.standard',
      Array.from({ length: MESSAGES }, (_, i) => ({ type: 'transaction', to: `+1415555${String(3300 + i)}`, body: `fleet ${i}` }))));
    checkSpread(await arrived(t, 'fleet'));
  });
});

describe('TWILIO_PHONE_NUMBER with several numbers', () => {
  const noFile = join(tmpdir(), 'dominion-no-such.env');

  it('reads a comma-separated list, the first as the main number', () => {
    const config = loadConfig({ SMS_PROVIDER: 'simulator', TWILIO_PHONE_NUMBER: ' +14155550100 , +14155550101,+14155550100 ' }, noFile);
    assert.deepEqual(config.twilio.phoneNumbers, ['+14155550100', '+14155550101']);
    assert.equal(config.twilio.phoneNumber, '+14155550100');
  });

  it('names a bad number in the list and says how to write it', () => {
    assert.throws(() => loadConfig({ SMS_PROVIDER: 'simulator', TWILIO_PHONE_NUMBER: '+14155550100,4155550101' }, noFile), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /TWILIO_PHONE_NUMBER: must be in E\.164 format.*separate several numbers with commas \(got "\+14155550100,4155550101"\)/);
      return true;
    });
  });

  it('PUBLIC_BASE_URL: defaults to the local server in simulator mode, off on request, needs the auth token with Twilio', () => {
    assert.equal(loadConfig({ SMS_PROVIDER: 'simulator', PORT: '8123', HOST: '0.0.0.0' }, noFile).publicBaseUrl, 'http://127.0.0.1:8123');
    assert.equal(loadConfig({ SMS_PROVIDER: 'simulator', PUBLIC_BASE_URL: 'off' }, noFile).publicBaseUrl, undefined);
    assert.equal(loadConfig({ SMS_PROVIDER: 'simulator', PUBLIC_BASE_URL: 'https://bank.example.com/' }, noFile).publicBaseUrl, 'https://bank.example.com');
    assert.throws(() => loadConfig({ SMS_PROVIDER: 'simulator', PUBLIC_BASE_URL: 'bank.example.com' }, noFile), /PUBLIC_BASE_URL: must be the http\(s\) URL/);
    assert.throws(() => loadConfig({ SMS_PROVIDER: 'simulator', PUBLIC_BASE_URL: 'https://bank.example.com/api' }, noFile), /PUBLIC_BASE_URL: must be the origin only/);
    const live = {
      TWILIO_ACCOUNT_SID: 'AC0123456789abcdef0123456789abcdef', TWILIO_API_KEY_SID: 'SK0123456789abcdef0123456789abcdef',
      TWILIO_API_KEY_SECRET: 'secret', TWILIO_PHONE_NUMBER: '+14155550100', PUBLIC_BASE_URL: 'https://bank.example.com',
    };
    assert.throws(() => loadConfig(live, noFile), /TWILIO_AUTH_TOKEN: required when PUBLIC_BASE_URL is set/);
    assert.equal(loadConfig({ ...live, PUBLIC_BASE_URL: '' }, noFile).publicBaseUrl, undefined, 'no callbacks with Twilio unless asked');
  });
});
