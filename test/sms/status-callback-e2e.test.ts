// The dev setup end to end, over real sockets: the server listens, the worker sends through the
// Twilio SDK to the simulator with StatusCallback=<PUBLIC_BASE_URL>/webhooks/twilio/status, and
// the simulator's signed callbacks settle the message. Status checks are off in this worker, so
// 'delivered' can only have come from a callback. A customer reply typed at the simulator
// (POST /dev/reply) reaches the inbound webhook: STOP opts them out at the bank and at "Twilio",
// START opts them back in, HELP is texted back.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { phoneStatus, smsDeliveryAttempts, smsMessages } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { CALLBACK_GRACE_SECONDS } from '../../src/sms/delivery.ts';
import { checkStatusNow } from '../../src/sms/status-sweep.ts';
import { HELP_TEXT } from '../../src/sms/inbound.ts';
import { queueSms } from '../../src/sms/outbox.ts';
import { TWILIO_OPT_IN_REPLY, TWILIO_OPT_OUT_REPLY } from '../../src/simulator/replies.ts';
import { createTestContext, eventually, TEST_SENDER, type TestContext } from '../helpers/context.ts';

const CUSTOMER = '+14155552671';

/** A port free right now, for a server whose URL must be in its config before it listens. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('status callbacks and replies in simulator mode, end to end', () => {
  let t: TestContext;
  let app: FastifyInstance;
  let serverUrl: string;
  before(async () => {
    const port = await freePort();
    serverUrl = `http://127.0.0.1:${port}`;
    t = await createTestContext({
      env: { PUBLIC_BASE_URL: serverUrl },
      simulator: { statusStepMs: 100, inboundWebhookUrl: `${serverUrl}/webhooks/twilio/inbound` },
    });
    app = buildApp(t.ctx);
    await app.listen({ port, host: '127.0.0.1' });
    await startWorker(t.ctx, { statusChecks: false });
  });
  after(async () => {
    await app.close();
    await t.close();
  });

  async function send(body: string) {
    return t.ctx.db.transaction((tx) => queueSms(t.ctx, tx, { type: 'test_message', lane: 'sms.standard', to: CUSTOMER, country: 'US', body }));
  }

  it('a sent message becomes delivered through the signed status callback, with no status check run', async () => {
    const queued = await send('DominionTrust: callback test');
    const row = await eventually(async () => {
      const [r] = await t.ctx.db.select().from(smsMessages).where(eq(smsMessages.id, queued.id));
      return r?.status === 'delivered' ? r : undefined;
    }, 15_000, 'delivered by callback');
    assert.ok(row.deliveredAt);
    const atSimulator = t.sim.messages().find((m) => m.sid === row.twilioSid);
    assert.equal(atSimulator?.statusCallback, `${serverUrl}/webhooks/twilio/status`);
    // The fallback check was set for after the callback's grace, and never ran: no worker sweeps here.
    assert.equal(row.statusChecks, 0);
    const accepted = await t.ctx.db.select().from(smsDeliveryAttempts).where(eq(smsDeliveryAttempts.smsMessageId, queued.id));
    const grace = row.statusCheckAt!.getTime() - accepted[0]!.finishedAt.getTime();
    assert.ok(Math.abs(grace - CALLBACK_GRACE_SECONDS * 1000) < 1_000, `first check ${grace} ms after the send`);
    assert.match(await t.readLog(), /"status":"delivered","applied":true,"msg":"status callback"/);
    // The callback carries no price: the fallback check, when it runs, reads the charge once.
    assert.equal(row.price, null);
    assert.equal(await checkStatusNow(t.ctx, queued.id), 'delivered');
    const [priced] = await t.ctx.db.select().from(smsMessages).where(eq(smsMessages.id, queued.id));
    assert.equal(priced?.price, '0.00750');
    assert.equal(priced?.status, 'delivered');
    // Settled and priced: no longer followed.
    assert.deepEqual([priced?.statusCheckAt, priced?.statusChecks], [null, 1]);
  });

  it('a customer texting STOP at the simulator is opted out at the bank; START lifts it; HELP is texted back', async () => {
    await send('DominionTrust: before STOP');
    await eventually(() => t.sim.messages().find((m) => m.to === CUSTOMER && m.body === 'DominionTrust: before STOP'));

    const stop = await fetch(`${t.sim.url}/dev/reply`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ From: CUSTOMER, Body: 'STOP' }).toString(),
    });
    assert.equal(stop.status, 201);
    const answer = await stop.json() as { to: string; webhook: { status: number }; replies: string[] };
    assert.equal(answer.to, TEST_SENDER, 'the reply goes to the number that texted the customer');
    assert.equal(answer.webhook.status, 200, 'the bank accepted the signed webhook');
    assert.deepEqual(answer.replies, [TWILIO_OPT_OUT_REPLY], "only Twilio's own confirmation");
    const [marked] = await t.ctx.db.select().from(phoneStatus).where(eq(phoneStatus.phoneNumber, CUSTOMER));
    assert.ok(marked?.optedOutAt);
    assert.equal(marked.reason, 'replied STOP');

    // "Twilio" now refuses that sender for this customer (21610), as the real one does.
    const refused = await send('DominionTrust: after STOP');
    const failed = await eventually(async () => {
      const [r] = await t.ctx.db.select().from(smsMessages).where(eq(smsMessages.id, refused.id));
      return r?.status === 'failed' ? r : undefined;
    }, 15_000, 'the send after STOP to fail');
    assert.equal(failed.errorCode, 21610);

    const reply = async (body: string) => (await fetch(`${t.sim.url}/dev/reply`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ From: CUSTOMER, To: TEST_SENDER, Body: body }).toString(),
    })).json() as Promise<{ replies: string[]; webhook: { status: number } }>;
    assert.deepEqual((await reply('Start')).replies, [TWILIO_OPT_IN_REPLY]);
    assert.equal((await t.ctx.db.select().from(phoneStatus).where(eq(phoneStatus.phoneNumber, CUSTOMER))).length, 0, 'START lifted the opt-out');
    assert.deepEqual((await reply('help')).replies, [HELP_TEXT.en]);
    await eventually(() => t.sim.messages().find((m) => m.to === CUSTOMER && m.body === HELP_TEXT.en), 5000, 'the HELP text in the inbox');
    assert.ok(t.sim.replies().some((r) => r.body === 'help' && r.webhookStatus === 200));
  });
});
