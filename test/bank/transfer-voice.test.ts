// Transfer confirmation when SMS cannot reach the customer: the 202 answer says the code was not
// texted and why, with the choices; a call reads the code with the amount and payee it confirms
// (dynamic linking, as the SMS would), and that code moves the money once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import twilio from 'twilio';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { createTestContext, eventually, HeldClock, TEST_AUTH_TOKEN, TEST_SENDER, type TestContext } from '../helpers/context.ts';
import { customer, type Customer } from '../helpers/customers.ts';

const PUBLIC_URL = 'https://bank.example.test';
let t: TestContext;
let app: FastifyInstance;
let ana: Customer;
let ben: Customer;
let keys = 0;

interface Delivery { channel: string; status: string; problem: string | null; message: string; choices: string[] }
interface Pending { id: string; status: string; delivery: Delivery }

const auth = (c: Customer, extra: Record<string, string> = {}) => ({ ...c.auth, 'idempotency-key': `tv-${++keys}`, ...extra });

async function open(who: Customer): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/api/accounts', headers: who.auth, payload: { currency: 'USD' } });
  return res.json<{ account: { id: string } }>().account.id;
}

before(async () => {
  t = await createTestContext({ clock: new HeldClock('2026-11-25T15:00:00Z'), env: { CODE_IP_LIMIT: '0', PUBLIC_BASE_URL: PUBLIC_URL } });
  await startWorker(t.ctx);
  app = buildApp(t.ctx);
  ana = await customer(t, 'anavoice', '+14155558101');
  ben = await customer(t, 'benvoice', '+14155558102');
});
after(() => t.close());

describe('a large transfer for a customer who texted STOP', () => {
  it('answers 202 saying the code was not texted, and a call reads the code with the amount and payee; the code confirms it once', async () => {
    const staff = await customer(t, 'tellervoice', '+14155558103', { isStaff: true });
    const from = await open(ana);
    const to = await open(ben);
    assert.equal((await app.inject({ method: 'POST', url: `/api/accounts/${from}/deposits`, headers: auth(staff), payload: { amountMinor: 500_000, currency: 'USD' } })).statusCode, 201);
    const params = { MessageSid: `SM${'1'.repeat(32)}`, From: ana.phone, To: TEST_SENDER, Body: 'STOP' };
    const stop = await app.inject({
      method: 'POST', url: '/webhooks/twilio/inbound', payload: new URLSearchParams(params).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, `${PUBLIC_URL}/webhooks/twilio/inbound`, params) },
    });
    assert.equal(stop.statusCode, 200);

    const res = await app.inject({ method: 'POST', url: '/api/transfers', headers: auth(ana), payload: { fromAccountId: from, toAccountId: to, amountMinor: 250_000, currency: 'USD' } });
    assert.equal(res.statusCode, 202, res.body);
    const pending = res.json<Pending>();
    assert.equal(pending.delivery.channel, 'none');
    assert.equal(pending.delivery.problem, 'phone_opted_out');
    assert.match(pending.delivery.message, new RegExp(`ask for the code by voice call \\(POST /api/transfers/${pending.id}/call\\), or text START to \\${TEST_SENDER}`));
    assert.equal(t.sim.messages().filter((m) => m.to === ana.phone && /confirms your transfer/.test(m.body)).length, 0, 'no code SMS');

    const called = await app.inject({ method: 'POST', url: `/api/transfers/${pending.id}/call`, headers: ana.auth });
    assert.equal(called.statusCode, 200, called.body);
    assert.equal(called.json<Pending>().delivery.channel, 'voice');
    const call = await eventually(() => t.sim.calls().find((c) => c.to === ana.phone), 10_000, 'the call');
    assert.ok(call.spoken.some((l) => /^This code confirms your transfer of \$2,500\.00 to account ending \d{4}\.$/.test(l)), call.spoken.join(' | '));
    const code = call.spoken.map((l) => /^(\d(?:, \d){5})\.$/.exec(l)?.[1]).find(Boolean)!.replace(/, /g, '');
    const confirmed = await app.inject({ method: 'POST', url: `/api/transfers/${pending.id}/confirm`, headers: auth(ana), payload: { code } });
    assert.equal(confirmed.statusCode, 201, confirmed.body);
    const again = await app.inject({ method: 'POST', url: `/api/transfers/${pending.id}/confirm`, headers: auth(ana), payload: { code } });
    assert.ok(again.statusCode >= 400, again.body);
  });
});
