// Simulator storms, each driven from a test and seen through the official SDK (the bank's Twilio
// provider): 429 with Retry-After and Twilio's 20429 body, 5xx, slow answers past the client's
// timeout, connection resets; for a number of requests, a period or a fraction; messages left
// silent (no status callback); the same through the HTTP control endpoint and the CLI flags.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import { smsDeliveryAttempts, smsMessages } from '../../src/db/schema.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { startSimulator, type Simulator } from '../../src/simulator/index.ts';
import { SmsProviderError, type SmsProvider } from '../../src/sms/provider.ts';
import { queueSms } from '../../src/sms/outbox.ts';
import { createTwilioProvider } from '../../src/sms/twilio-provider.ts';
import { createTestContext, eventually, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, TEST_SENDER } from '../helpers/context.ts';
import { freePort, startDominion } from '../helpers/process.ts';

const TO = '+14155552671';
let sim: Simulator;
let provider: SmsProvider;
/** The random numbers the simulator draws, so fractions decide hits the same way every run. */
let draws: number[] = [];

before(async () => {
  sim = await startSimulator({ accountSid: TEST_ACCOUNT_SID, authToken: TEST_AUTH_TOKEN, phoneNumbers: [TEST_SENDER], statusStepMs: 5, random: () => draws.shift() ?? 0.99 });
  provider = createTwilioProvider({ accountSid: TEST_ACCOUNT_SID, auth: { kind: 'token', authToken: TEST_AUTH_TOKEN }, apiBaseUrl: sim.url, timeoutMs: 300 });
});
after(() => sim.close());

async function refusal(promise: Promise<unknown>): Promise<SmsProviderError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SmsProviderError, String(error));
    return error;
  }
  assert.fail('expected the request to fail');
}

const send = () => provider.send({ to: TO, from: TEST_SENDER, body: 'storm test' });

describe('storm modes through the SDK', () => {
  it('rate_limit: 429 with Retry-After and the 20429 body, for the requests asked, then calm', async () => {
    sim.storm({ mode: 'rate_limit', requests: 2, retryAfterSeconds: 7 });
    for (let i = 0; i < 2; i++) {
      const error = await refusal(send());
      assert.deepEqual([error.kind, error.twilioCode, error.httpStatus, error.retryAfterMs], ['rate_limited', 20429, 429, 7000]);
      assert.match(error.userMessage, /^Rate limited: Too Many Requests/);
    }
    assert.match((await send()).sid, /^SM/, 'the storm ended after 2 hits');
    assert.equal(sim.faults().storm, null);
  });

  it('server_error: 503 is Twilio 20503 and 500 is 20500, both transient', async () => {
    sim.storm({ mode: 'server_error', requests: 1 });
    const unavailable = await refusal(send());
    assert.deepEqual([unavailable.kind, unavailable.twilioCode, unavailable.httpStatus], ['transient', 20503, 503]);
    sim.storm({ mode: 'server_error', status: 500, requests: 1 });
    const internal = await refusal(provider.fetchBalance());
    assert.deepEqual([internal.kind, internal.twilioCode, internal.httpStatus], ['transient', 20500, 500]);
  });

  it('slow: an answer later than TWILIO_TIMEOUT_MS is a timeout', async () => {
    sim.storm({ mode: 'slow', delayMs: 1000, requests: 1 });
    const error = await refusal(provider.fetchAccount());
    assert.equal(error.kind, 'transient');
    assert.match(error.userMessage, /no answer within 300 ms \(timeout\)/);
    sim.storm({ mode: 'slow', delayMs: 50, requests: 1 });
    assert.equal((await provider.fetchAccount()).sid, TEST_ACCOUNT_SID, 'slow but within the timeout still answers');
  });

  it('reset: the connection is dropped without an answer', async () => {
    sim.storm({ mode: 'reset', requests: 1 });
    const before = sim.messages().length;
    const error = await refusal(send());
    assert.equal(error.kind, 'transient');
    assert.match(error.userMessage, /connection reset|socket hang up/);
    assert.equal(sim.messages().length, before, 'the dropped send created no message');
    assert.match((await send()).sid, /^SM/, 'the next request is answered');
  });

  it('fraction: only that share of requests is hit (decided by the simulator\'s random source)', async () => {
    sim.storm({ mode: 'server_error', fraction: 0.5 });
    draws = [0.1, 0.9, 0.4, 0.7];
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) outcomes.push(await provider.fetchBalance().then(() => 'ok', (e: SmsProviderError) => String(e.twilioCode)));
    sim.calm();
    assert.deepEqual(outcomes, ['20503', 'ok', '20503', 'ok']);
  });

  it('durationMs: the storm ends by itself after its period', async () => {
    sim.storm({ mode: 'rate_limit', durationMs: 150 });
    await refusal(provider.fetchBalance());
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(typeof (await provider.fetchBalance()).balance, 'number');
    assert.equal(sim.faults().storm, null);
  });
});

describe('silent messages', () => {
  it('a silenced number gets no status callback; others do', async () => {
    const posts: string[] = [];
    const receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        posts.push(new URLSearchParams(body).get('To') ?? '');
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const callback = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/status`;
    try {
      sim.silence('+14155550177');
      const quiet = await provider.send({ to: '+14155550177', from: TEST_SENDER, body: 'quiet', statusCallback: callback });
      await provider.send({ to: '+14155550178', from: TEST_SENDER, body: 'loud', statusCallback: callback });
      await eventually(() => (posts.filter((to) => to === '+14155550178').length >= 3 ? true : undefined), 5000, 'callbacks for the loud number');
      assert.equal((await provider.fetchMessage(quiet.sid)).status, 'delivered', 'the silent message is still delivered');
      assert.equal(posts.filter((to) => to === '+14155550177').length, 0);
    } finally {
      await new Promise((r) => receiver.close(r));
    }
  });
});

describe('the HTTP control endpoint', () => {
  const post = (path: string, form: Record<string, string>) =>
    fetch(`${sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });

  it('starts, shows and calms a storm; refuses a bad mode with a 400 naming it', async () => {
    const started = await post('/dev/faults/storm', { mode: 'rate_limit', retryAfterSeconds: '3', requests: '1' });
    assert.equal(started.status, 200);
    assert.deepEqual((await started.json() as { storm: { mode: string; retryAfterSeconds: number } }).storm.retryAfterSeconds, 3);
    const error = await refusal(send());
    assert.deepEqual([error.twilioCode, error.retryAfterMs], [20429, 3000]);

    await post('/dev/faults/storm', { mode: 'reset' });
    assert.equal((await (await fetch(`${sim.url}/dev/faults`)).json() as { storm: { mode: string } }).storm.mode, 'reset');
    assert.equal((await fetch(`${sim.url}/dev/faults/storm`, { method: 'DELETE' })).status, 200);
    assert.match((await send()).sid, /^SM/);

    const bad = await post('/dev/faults/storm', { mode: 'hurricane' });
    assert.equal(bad.status, 400);
    assert.match((await bad.json() as { message: string }).message, /^mode: /);
  });

  it('refuses, fails delivery and silences chosen numbers; DELETE /dev/faults clears all', async () => {
    assert.equal((await post('/dev/faults/refuse', { to: '+14155550190', code: '21614' })).status, 200);
    const refused = await refusal(provider.send({ to: '+14155550190', from: TEST_SENDER, body: 'x' }));
    assert.deepEqual([refused.twilioCode, refused.httpStatus], [21614, 400]);
    await post('/dev/faults/undeliver', { to: '+14155550191', code: '30006' });
    const sent = await provider.send({ to: '+14155550191', from: TEST_SENDER, body: 'y' });
    const ended = await eventually(async () => {
      const m = await provider.fetchMessage(sent.sid);
      return m.status === 'undelivered' ? m : undefined;
    }, 5000, 'the message to end undelivered');
    assert.equal(ended.errorCode, 30006);
    assert.equal((await post('/dev/faults/silence', { target: 'nobody' })).status, 400);
    await fetch(`${sim.url}/dev/faults`, { method: 'DELETE' });
    assert.deepEqual(sim.faults(), { storm: null, refusals: [], undeliveries: [], silent: [] });
    assert.match((await provider.send({ to: '+14155550190', from: TEST_SENDER, body: 'x' })).sid, /^SM/);
  });
});

describe('a storm rehearsed end to end', () => {
  it('the worker waits out a rate-limit storm (Retry-After honoured) and the message is delivered', async () => {
    const t = await createTestContext();
    try {
      t.sim.storm({ mode: 'rate_limit', requests: 1, retryAfterSeconds: 1 });
      await startWorker(t.ctx);
      const queued = await t.ctx.db.transaction((tx) => queueSms(t.ctx, tx, { type: 'test_message', lane: 'sms.standard', to: TO, country: 'US', body: 'after the storm' }));
      const row = await eventually(async () => {
        const [r] = await t.ctx.db.select().from(smsMessages).where(eq(smsMessages.id, queued.id));
        return r?.twilioSid ? r : undefined;
      }, 20_000, 'the message to be accepted after the storm');
      const attempts = await t.ctx.db.select().from(smsDeliveryAttempts).where(eq(smsDeliveryAttempts.smsMessageId, row.id)).orderBy(smsDeliveryAttempts.attempt);
      assert.deepEqual(attempts.map((a) => [a.outcome, a.twilioCode]), [['retry', 20429], ['accepted', null]]);
      assert.ok(attempts[1]!.startedAt.getTime() - attempts[0]!.finishedAt.getTime() >= 1000, 'waited at least Retry-After');
    } finally {
      await t.close();
    }
  });
});

describe('dominion twilio-sim flags', () => {
  it('--help documents every storm mode, the control endpoint and the test API', async () => {
    const help = startDominion(['twilio-sim', '--help'], {});
    assert.equal((await help.exited).code, 0);
    const stdout = help.output();
    for (const text of ['--storm rate_limit', '--storm server_error', '--storm slow', '--storm reset', '--storm-fraction', '--storm-duration',
      '--storm-requests', '--retry-after', '--error-status', '--slow-ms', '--silent', '/dev/faults/storm', '/dev/faults/refuse', '/dev/faults/undeliver',
      '/dev/faults/silence', 'sim.storm(']) assert.ok(stdout.includes(text), `--help mentions ${text}`);
  });

  it('--storm rate_limit --storm-requests 1 --retry-after 4: the first request gets 429, the next passes', async () => {
    const port = await freePort();
    const proc = startDominion(['twilio-sim', '--port', String(port), '--account-sid', TEST_ACCOUNT_SID, '--auth-token', TEST_AUTH_TOKEN,
      '--storm', 'rate_limit', '--storm-requests', '1', '--retry-after', '4'], {});
    try {
      await eventually(() => (proc.output().includes('listening') ? true : undefined), 30_000, 'the simulator to start');
      assert.match(proc.output(), /Storm: rate_limit on 100% of API requests/);
      const cli = createTwilioProvider({ accountSid: TEST_ACCOUNT_SID, auth: { kind: 'token', authToken: TEST_AUTH_TOKEN }, apiBaseUrl: `http://127.0.0.1:${port}` });
      const error = await refusal(cli.fetchBalance());
      assert.deepEqual([error.twilioCode, error.retryAfterMs], [20429, 4000]);
      assert.equal((await cli.fetchBalance()).balance, 15);
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
  });
});
