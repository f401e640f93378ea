// Codes that always arrive: a customer who texted STOP signs in and is told so, with the choices;
// asking for a call has the simulator read the code by voice (the real SDK, the Calls API, signed
// call status callbacks back to a listening app); the code works once; wrong codes lock as with
// SMS; a forged call callback is refused. A code Twilio refuses after the sign-in answered (21610
// at send time, or a failure reported later) is told truthfully, then and on asking again.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import twilio from 'twilio';
import { voiceCalls } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { createUser } from '../../src/users/users.ts';
import { createTestContext, eventually, HeldClock, TEST_AUTH_TOKEN, TEST_SENDER, type TestContext } from '../helpers/context.ts';
import { PASSWORD, wrong } from '../helpers/customers.ts';

const clock = new HeldClock('2026-11-25T15:00:00Z');
const FAILING = '+14155553333';
let t: TestContext;
let app: FastifyInstance;
let publicUrl: string;
let seq = 2000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

before(async () => {
  const port = await freePort();
  publicUrl = `http://127.0.0.1:${port}`;
  t = await createTestContext({ clock, env: { CODE_IP_LIMIT: '0', LOGIN_IP_LIMIT: '0', PUBLIC_BASE_URL: publicUrl, CODE_SEND_WAIT_MS: '1500' }, // Status steps slow enough that the bank has recorded a send before its first callback arrives.
  simulator: { failedNumbers: [FAILING], statusStepMs: 200 } });
  await startWorker(t.ctx);
  app = buildApp(t.ctx);
  await app.listen({ port, host: '127.0.0.1' });
});
after(async () => {
  await app.close();
  await t.close();
});

const post = (url: string, payload: object) => app.inject({ method: 'POST', url, payload, headers: { 'user-agent': 'DominionApp/1.0' } });

function signed(url: string, params: Record<string, string>, token = TEST_AUTH_TOKEN) {
  return app.inject({
    method: 'POST', url, payload: new URLSearchParams(params).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilio.getExpectedTwilioSignature(token, `${publicUrl}${url}`, params) },
  });
}

async function newCustomer(name: string, phone = `+1415557${seq++}`): Promise<{ username: string; phone: string }> {
  const username = `${name}${seq}`;
  await createUser(t.ctx, { username, password: PASSWORD, phone });
  return { username, phone };
}

/** The customer texts STOP to the bank's number: Twilio blocks it and tells the bank (inbound webhook). */
async function textStop(phone: string): Promise<void> {
  const res = await signed('/webhooks/twilio/inbound', { MessageSid: `SM${String(seq++).padStart(32, '0')}`, From: phone, To: TEST_SENDER, Body: 'STOP' });
  assert.equal(res.statusCode, 200, res.body);
}

interface Started {
  challengeId: string;
  smsSent: boolean;
  channel: string;
  destination?: string;
  delivery: { channel: string; status: string; problem: string | null; twilioCode: number | null; message: string; choices: string[] };
}

async function login(username: string): Promise<Started> {
  const res = await post('/api/login', { username, password: PASSWORD });
  assert.equal(res.statusCode, 200, res.body);
  return res.json<Started>();
}

/** The code the simulator's call to `phone` spoke, read from the words of its <Say> verbs. */
async function spokenCode(phone: string, seen = 0): Promise<{ code: string; spoken: string[]; language: string | null }> {
  const call = await eventually(() => t.sim.calls().filter((c) => c.to === phone).reverse()[seen], 10_000, `a call to ${phone}`);
  const readings = call.spoken.map((line) => /^(\d(?:, \d){5})\.$/.exec(line)?.[1]).filter((d) => d !== undefined);
  assert.equal(readings.length, 2, `the digits are read twice: ${call.spoken.join(' | ')}`);
  assert.equal(readings[0], readings[1]);
  return { code: readings[0]!.replace(/, /g, ''), spoken: call.spoken, language: call.language };
}

describe('a customer who texted STOP signs in', () => {
  it('is told the SMS was not sent and why, with the choices; a call reads the code twice; the code works once', async () => {
    const c = await newCustomer('stella');
    await textStop(c.phone);
    const started = await login(c.username);
    assert.equal(started.smsSent, false);
    assert.equal(started.channel, 'none');
    assert.equal(started.destination, `***${c.phone.slice(-4)}`);
    assert.equal(started.delivery.problem, 'phone_opted_out');
    assert.deepEqual(started.delivery.choices, ['voice', 'text_start']);
    assert.match(started.delivery.message, /^We did not text your code: \*\*\*\d{4} has opted out of our texts\. You can ask for the code by voice call \(POST \/api\/login\/call\), or text START to \+15005550006 from \*\*\*\d{4} to get codes by SMS again\.$/);
    assert.equal(t.sim.messages().filter((m) => m.to === c.phone).length, 0, 'no SMS Twilio would refuse');

    const called = await post('/api/login/call', { challengeId: started.challengeId });
    assert.equal(called.statusCode, 200, called.body);
    const call = called.json<Started>();
    assert.equal(call.channel, 'voice');
    assert.equal(call.smsSent, false);
    assert.equal(call.delivery.status, 'calling');
    assert.notEqual(call.challengeId, started.challengeId);

    const { code, spoken, language } = await spokenCode(c.phone);
    assert.equal(language, 'en-US');
    assert.match(spoken[0]!, /^Hello, this is DominionTrust Bank\. Your code is$/);
    assert.match(spoken.at(-1)!, /We will never ask you for this code/);
    // The call log keeps the words without the code.
    const [logged] = await t.ctx.db.select().from(voiceCalls).where(eq(voiceCalls.toNumber, c.phone));
    assert.doesNotMatch(logged!.spokenRedacted, /\d, \d/);
    assert.match(logged!.spokenRedacted, /\*, \*, \*, \*, \*, \*/);
    // The simulator's signed callbacks reach the app: the call is settled, priced at one minute.
    const settled = await eventually(async () => {
      const [row] = await t.ctx.db.select().from(voiceCalls).where(eq(voiceCalls.id, logged!.id));
      return row?.status === 'completed' ? row : undefined;
    }, 10_000, 'the completed callback');
    assert.equal(settled.durationSeconds, 20);
    assert.equal(settled.priceEstimate, '0.01400');
    const status = await post('/api/login/status', { challengeId: call.challengeId });
    assert.equal(status.json<Started>().delivery.status, 'completed');

    // The old challenge no longer works; the spoken code works once.
    assert.equal((await post('/api/login/verify', { challengeId: started.challengeId, code })).statusCode, 410);
    const done = await post('/api/login/verify', { challengeId: call.challengeId, code });
    assert.equal(done.statusCode, 200, done.body);
    assert.ok(done.json<{ token: string }>().token);
    const again = await post('/api/login/verify', { challengeId: call.challengeId, code });
    assert.equal(again.statusCode, 410);
    assert.match(again.json<{ message: string }>().message, /already used/);
  });

  it('six wrong spoken codes lock as with SMS: the fifth locks the account, the sixth is refused even when right', async () => {
    const c = await newCustomer('ward');
    await textStop(c.phone);
    const started = await login(c.username);
    const { challengeId } = (await post('/api/login/call', { challengeId: started.challengeId })).json<Started>();
    const { code } = await spokenCode(c.phone);
    for (let i = 1; i <= 4; i++) assert.equal((await post('/api/login/verify', { challengeId, code: wrong(code) })).statusCode, 400);
    const fifth = await post('/api/login/verify', { challengeId, code: wrong(code) });
    assert.equal(fifth.statusCode, 423);
    assert.match(fifth.json<{ message: string }>().message, /^Account locked/);
    const sixth = await post('/api/login/verify', { challengeId, code });
    assert.equal(sixth.statusCode, 429);
    assert.match(sixth.json<{ message: string }>().message, /no longer works after 5 attempts/);
  });

  it('a forged call status callback is refused and changes nothing; a signed one is applied', async () => {
    const c = await newCustomer('fern');
    await textStop(c.phone);
    const started = await login(c.username);
    await post('/api/login/call', { challengeId: started.challengeId });
    await spokenCode(c.phone);
    const row = await eventually(async () => {
      const [r] = await t.ctx.db.select().from(voiceCalls).where(eq(voiceCalls.toNumber, c.phone));
      return r?.status === 'completed' ? r : undefined;
    });
    // Forged: signed with another token, or not signed at all, claiming the call failed.
    const params = { CallSid: row.twilioSid!, CallStatus: 'failed', To: c.phone, From: TEST_SENDER };
    assert.equal((await signed('/webhooks/twilio/call-status', params, 'not-the-auth-token-0123456789abc')).statusCode, 403);
    const unsigned = await app.inject({ method: 'POST', url: '/webhooks/twilio/call-status', payload: new URLSearchParams(params).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(unsigned.statusCode, 403);
    const [still] = await t.ctx.db.select().from(voiceCalls).where(eq(voiceCalls.id, row.id));
    assert.equal(still?.status, 'completed');
    // Signed but malformed is a 400; a signed report never moves a finished call backwards.
    assert.equal((await signed('/webhooks/twilio/call-status', { CallSid: 'CA123', CallStatus: 'completed' })).statusCode, 400);
    assert.equal((await signed('/webhooks/twilio/call-status', { ...params, CallStatus: 'ringing' })).statusCode, 204);
    const [same] = await t.ctx.db.select().from(voiceCalls).where(eq(voiceCalls.id, row.id));
    assert.equal(same?.status, 'completed');
  });

  it('"call me instead" as a preference: sign-in places the call at once, in Spanish for a Spanish-speaking customer', async () => {
    const c = await newCustomer('vera');
    const session = await signInBySms(c);
    const res = await app.inject({ method: 'PATCH', url: '/api/preferences', headers: { authorization: `Bearer ${session}` }, payload: { codeDelivery: 'voice', language: 'es' } });
    assert.equal(res.statusCode, 200, res.body);
    const before = t.sim.messages().filter((m) => m.to === c.phone && /login code/.test(m.body)).length;
    const started = await login(c.username);
    assert.equal(started.channel, 'voice');
    assert.equal(started.smsSent, false);
    const { code, language, spoken } = await spokenCode(c.phone);
    assert.equal(language, 'es-US');
    assert.match(spoken[0]!, /^Hola, le llama DominionTrust Bank/);
    assert.equal(t.sim.messages().filter((m) => m.to === c.phone && /login code/.test(m.body)).length, before, 'no code SMS');
    assert.equal((await post('/api/login/verify', { challengeId: started.challengeId, code })).statusCode, 200);
  });
});

/** Signs in with the SMS code (for a session to change preferences with). */
async function signInBySms(c: { username: string; phone: string }): Promise<string> {
  const seen = t.sim.messages().filter((m) => m.to === c.phone).length;
  const started = await login(c.username);
  assert.equal(started.smsSent, true);
  const sms = await eventually(() => t.sim.messages().filter((m) => m.to === c.phone).reverse().slice(seen).find((m) => /login code is/.test(m.body)));
  const code = /is (\d{6})\./.exec(sms.body)![1]!;
  const done = await post('/api/login/verify', { challengeId: started.challengeId, code });
  assert.equal(done.statusCode, 200, done.body);
  return done.json<{ token: string }>().token;
}

describe('a code Twilio refuses after the sign-in', () => {
  it('21610 at send time (the bank never heard of the STOP): the answer says the SMS was refused, not smsSent: true', async () => {
    const c = await newCustomer('otto');
    // STOP texted to Twilio only: the bank's inbound webhook never heard of it.
    const stop = await fetch(`${t.sim.url}/dev/reply`, { method: 'POST', body: new URLSearchParams({ From: c.phone, To: TEST_SENDER, Body: 'STOP' }) });
    assert.equal(stop.status, 201);
    const started = await login(c.username);
    assert.equal(started.smsSent, false);
    assert.equal(started.delivery.status, 'refused');
    assert.equal(started.delivery.twilioCode, 21610);
    assert.equal(started.delivery.problem, 'phone_opted_out');
    assert.match(started.delivery.message, /^Your code SMS to \*\*\*\d{4} was refused \(21610 [^)]+\): it will not arrive\. You can ask for the code by voice call/);
    assert.ok(started.delivery.choices.includes('text_start'));
  });

  it('a failure reported after the answer: the status the client polls turns from sent to refused, and a call needs no wait', async () => {
    const c = await newCustomer('iris', FAILING);
    const started = await login(c.username);
    assert.equal(started.smsSent, true, 'accepted by Twilio when the sign-in answered');
    const refused = await eventually(async () => {
      const res = await post('/api/login/status', { challengeId: started.challengeId });
      assert.equal(res.statusCode, 200, res.body);
      const { delivery } = res.json<Started>();
      return delivery.status === 'refused' ? delivery : undefined;
    }, 20_000, 'the refusal');
    assert.equal(refused.twilioCode, 30008);
    assert.equal(refused.problem, 'sms_refused');
    assert.match(refused.message, /voice call/);
    const called = await post('/api/login/call', { challengeId: started.challengeId });
    assert.equal(called.statusCode, 200, called.body);
  });

  it('a call while the SMS is on its way waits 30 seconds, like a resend', async () => {
    const c = await newCustomer('pia');
    const started = await login(c.username);
    const res = await post('/api/login/call', { challengeId: started.challengeId });
    assert.equal(res.statusCode, 429);
    assert.ok(Number(res.headers['retry-after']) > 0);
  });
});
