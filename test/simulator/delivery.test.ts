// Simulated delivery: status progression over time, planned failures, ValidityPeriod expiry,
// refunds, and signed status callbacks received by a real local HTTP server.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import twilio from 'twilio';
import type { FastifyInstance } from 'fastify';
import { simulatorStateOf } from '../../src/simulator/index.ts';
import type { SimulatedMessage, SimulatorOptions } from '../../src/simulator/index.ts';
import { ACCOUNT_SID, AUTH_TOKEN, CUSTOMER, OWNED_NUMBER, buildTestApp, createMessage, json } from './fixture.ts';

async function sendAndSettle(
  overrides: Partial<SimulatorOptions>,
  form: Record<string, string> = { To: CUSTOMER, From: OWNED_NUMBER, Body: 'hello' },
): Promise<{ app: FastifyInstance; message: SimulatedMessage }> {
  const app = buildTestApp(overrides);
  const response = await createMessage(app, form);
  assert.equal(response.statusCode, 201, response.body);
  const final = new Set(['delivered', 'undelivered', 'failed']);
  const deadline = Date.now() + 3000;
  for (;;) {
    const message = simulatorStateOf(app).messages()[0];
    if (message && final.has(message.status)) return { app, message };
    if (Date.now() > deadline) throw new Error(`message stuck in ${message?.status}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function history(message: SimulatedMessage): string {
  return message.statusHistory.map((h) => h.status).join(' > ');
}

void describe('status progression', () => {
  void test('queued > sending > sent > delivered, with date_sent and price set when sent', async () => {
    const { app, message } = await sendAndSettle({});
    assert.equal(history(message), 'queued > sending > sent > delivered');
    assert.ok(message.dateSent);
    assert.equal(message.price, -0.0075);
    assert.equal(message.errorCode, null);
    // Three steps of statusStepMs (5 ms); timers may fire a little early by the wall clock.
    const span = message.statusHistory.at(-1)!.at.getTime() - message.statusHistory[0]!.at.getTime();
    assert.ok(span >= 10, `steps spread over simulated time, took ${span} ms`);
    await app.close();
  });

  void test('an undeliverable number ends undelivered with 30003 and is still charged', async () => {
    const { app, message } = await sendAndSettle({ undeliverableNumbers: [CUSTOMER] });
    assert.equal(history(message), 'queued > sending > sent > undelivered');
    assert.equal(message.errorCode, 30003);
    assert.equal(message.errorMessage, 'Unreachable destination handset');
    assert.equal(simulatorStateOf(app).balance(), 14.9925);
    await app.close();
  });

  void test('a failed number ends failed with 30008, and the charge is refunded', async () => {
    const { app, message } = await sendAndSettle({ failedNumbers: [CUSTOMER] });
    assert.equal(history(message), 'queued > sending > failed');
    assert.equal(message.errorCode, 30008);
    assert.equal(message.price, null);
    assert.equal(message.dateSent, null);
    assert.equal(simulatorStateOf(app).balance(), 15);
    await app.close();
  });

  void test('failureRate uses the injected random: below the rate fails (30003 or 30005), above delivers', async () => {
    const draws = [0.1, 0.2];
    const first = await sendAndSettle({ failureRate: 0.5, random: () => draws.shift() ?? 0.9 });
    assert.equal(first.message.status, 'undelivered');
    assert.equal(first.message.errorCode, 30003);
    await first.app.close();
    const secondDraws = [0.1, 0.7];
    const second = await sendAndSettle({ failureRate: 0.5, random: () => secondDraws.shift() ?? 0.9 });
    assert.equal(second.message.errorCode, 30005);
    await second.app.close();
    const third = await sendAndSettle({ failureRate: 0.5, random: () => 0.6 });
    assert.equal(third.message.status, 'delivered');
    await third.app.close();
  });

  void test('a Messaging Service message goes accepted > queued > ... > delivered', async () => {
    const { app, message } = await sendAndSettle({}, { To: CUSTOMER, MessagingServiceSid: `MG${'1'.repeat(32)}`, Body: 'x' });
    assert.equal(history(message), 'accepted > queued > sending > sent > delivered');
    await app.close();
  });

  void test('a message still queued after its ValidityPeriod fails with 30036 and is refunded', async () => {
    const { app, message } = await sendAndSettle({ statusStepMs: 1100 }, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'code 123456', ValidityPeriod: '1' });
    assert.equal(history(message), 'queued > failed');
    assert.equal(message.errorCode, 30036);
    assert.equal(message.errorMessage, 'Validity Period Expired');
    assert.equal(simulatorStateOf(app).balance(), 15);
    await app.close();
  });

  void test('close() stops simulated time: a queued message stays queued', async () => {
    const app = buildTestApp({ statusStepMs: 20 });
    await createMessage(app, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'x' });
    const state = simulatorStateOf(app);
    await app.close();
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal(state.messages()[0]?.status, 'queued');
  });
});

interface ReceivedCallback {
  url: string;
  signature: string;
  params: Record<string, string>;
}

void describe('status callbacks', () => {
  const received: ReceivedCallback[] = [];
  let statusCode = 204;
  const server = createServer((request, response) => {
    let raw = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (raw += chunk));
    request.on('end', () => {
      const { port } = server.address() as AddressInfo;
      received.push({
        url: `http://127.0.0.1:${port}${request.url ?? ''}`,
        signature: String(request.headers['x-twilio-signature'] ?? ''),
        params: Object.fromEntries(new URLSearchParams(raw)),
      });
      response.statusCode = statusCode;
      response.end();
    });
  });
  let callbackUrl = '';

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    callbackUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/twilio/status?tenant=dominion`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  void test('one signed, form-encoded POST per status change, verifiable with twilio.validateRequest', async () => {
    received.length = 0;
    const { app, message } = await sendAndSettle({}, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'hi', StatusCallback: callbackUrl });
    const statuses = await (async () => {
      const deadline = Date.now() + 2000;
      while (received.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      return received.map((r) => r.params.MessageStatus).sort();
    })();
    assert.deepEqual(statuses, ['delivered', 'sending', 'sent']);
    for (const callback of received) {
      assert.equal(callback.url, callbackUrl);
      assert.ok(twilio.validateRequest(AUTH_TOKEN, callback.signature, callback.url, callback.params), 'signature verifies');
      assert.deepEqual(Object.keys(callback.params).sort(), ['AccountSid', 'ApiVersion', 'From', 'MessageSid', 'MessageStatus', 'SmsSid', 'SmsStatus', 'To']);
      assert.equal(callback.params.MessageSid, message.sid);
      assert.equal(callback.params.SmsSid, message.sid);
      assert.equal(callback.params.SmsStatus, callback.params.MessageStatus);
      assert.equal(callback.params.AccountSid, ACCOUNT_SID);
      assert.equal(callback.params.From, OWNED_NUMBER);
      assert.equal(callback.params.To, CUSTOMER);
      assert.equal(callback.params.ApiVersion, '2010-04-01');
    }
    const tampered = { ...received[0]!.params, MessageStatus: 'delivered', To: '+19999999999' };
    assert.equal(twilio.validateRequest(AUTH_TOKEN, received[0]!.signature, callbackUrl, tampered), false, 'a changed parameter breaks the signature');
    assert.equal(twilio.validateRequest('another-token', received[0]!.signature, callbackUrl, received[0]!.params), false);
    await app.close();
  });

  void test('an undelivered callback carries ErrorCode', async () => {
    received.length = 0;
    const { app } = await sendAndSettle({ undeliverableNumbers: [CUSTOMER] }, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'hi', StatusCallback: callbackUrl });
    const last = await (async () => {
      const deadline = Date.now() + 2000;
      for (;;) {
        const found = received.find((r) => r.params.MessageStatus === 'undelivered');
        if (found || Date.now() > deadline) return found;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    assert.ok(last);
    assert.equal(last.params.ErrorCode, '30003');
    assert.ok(twilio.validateRequest(AUTH_TOKEN, last.signature, last.url, last.params));
    await app.close();
  });

  void test('a failing or unreachable receiver never stops delivery or crashes the simulator', async () => {
    statusCode = 500;
    const failing = await sendAndSettle({}, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'hi', StatusCallback: callbackUrl });
    assert.equal(failing.message.status, 'delivered');
    await failing.app.close();
    statusCode = 204;
    const unreachable = await sendAndSettle({}, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'hi', StatusCallback: 'http://127.0.0.1:9/nobody-listens' });
    assert.equal(unreachable.message.status, 'delivered');
    assert.equal(json(await createMessage(unreachable.app, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'still works' })).status, 'queued');
    await unreachable.app.close();
  });
});
