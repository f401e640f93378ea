// The real Twilio provider (the official SDK over HTTP) against the Twilio-compatible simulator:
// every success path of the port, and every error class Twilio's magic numbers can produce.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startSimulator } from '../../src/simulator/index.ts';
import { SmsProviderError } from '../../src/sms/provider.ts';
import type { SmsErrorKind, SmsProvider } from '../../src/sms/provider.ts';
import { createTwilioProvider } from '../../src/sms/twilio-provider.ts';

const accountSid = `AC${randomBytes(16).toString('hex')}`;
const authToken = randomBytes(16).toString('hex');
const apiKey = { sid: `SK${randomBytes(16).toString('hex')}`, secret: randomBytes(16).toString('hex') };
const SENDER = '+14155550100';
const CUSTOMER = '+14155552671';
const STARTING_BALANCE = 15;

let sim: Awaited<ReturnType<typeof startSimulator>>;
let provider: SmsProvider;

before(async () => {
  sim = await startSimulator({
    port: 0, accountSid, authToken, phoneNumbers: ['+15005550006', SENDER], startingBalance: STARTING_BALANCE,
    statusStepMs: 5, apiKeys: [apiKey], undeliverableNumbers: ['+14155550199'], failedNumbers: ['+14155550198'],
  });
  provider = createTwilioProvider({ accountSid, auth: { kind: 'token', authToken }, apiBaseUrl: sim.url, timeoutMs: 5000 });
});

after(async () => {
  await sim.close();
});

async function failure(promise: Promise<unknown>, kind: SmsErrorKind, twilioCode: number | null): Promise<SmsProviderError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SmsProviderError, `expected SmsProviderError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    assert.equal(error.twilioCode, twilioCode, error.message);
    for (const secret of [authToken, apiKey.secret]) {
      assert.ok(!error.message.includes(secret), 'a credential leaked into the message');
      assert.ok(!JSON.stringify(error).includes(secret), 'a credential leaked into the error object');
      assert.ok(!String(error.cause).includes(secret), 'a credential leaked into the cause');
    }
    return error;
  }
  assert.fail(`expected a ${kind} failure`);
}

async function waitForFinalStatus(sid: string) {
  for (let i = 0; i < 200; i++) {
    const message = await provider.fetchMessage(sid);
    if (['delivered', 'undelivered', 'failed'].includes(message.status)) return message;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`message ${sid} never reached a final status`);
}

describe('Twilio provider against the simulator: success', () => {
  it('sends a message and follows it to delivered', async () => {
    const sent = await provider.send({ to: CUSTOMER, from: SENDER, body: 'DominionTrust: your code is 123456', validityPeriodSeconds: 300 });
    assert.match(sent.sid, /^SM[0-9a-f]{32}$/);
    assert.ok(['accepted', 'queued'].includes(sent.status), sent.status);
    assert.deepEqual([sent.to, sent.from, sent.segments], [CUSTOMER, SENDER, 1]);
    assert.ok(sent.dateCreated instanceof Date);
    assert.ok(sim.messages().some((m) => m.sid === sent.sid));

    const delivered = await waitForFinalStatus(sent.sid);
    assert.equal(delivered.status, 'delivered');
    assert.equal(delivered.errorCode, null);
    assert.ok(delivered.price !== null && delivered.price > 0, `price ${String(delivered.price)} should be a positive charge`);
    assert.equal(delivered.priceUnit, 'USD');
    assert.ok(delivered.dateSent instanceof Date);
  });

  it('counts segments as Twilio does (161 GSM-7 characters: 2)', async () => {
    const sent = await provider.send({ to: CUSTOMER, from: SENDER, body: 'a'.repeat(161) });
    assert.equal(sent.segments, 2);
  });

  it('sends from the magic +15005550006', async () => {
    const sent = await provider.send({ to: CUSTOMER, from: '+15005550006', body: 'Hello' });
    assert.match(sent.sid, /^SM/);
  });

  it('reports an undeliverable handset on the message, not as a thrown error', async () => {
    const sent = await provider.send({ to: '+14155550199', from: SENDER, body: 'Hello' });
    const final = await waitForFinalStatus(sent.sid);
    assert.deepEqual([final.status, final.errorCode], ['undelivered', 30003]);
    const failed = await waitForFinalStatus((await provider.send({ to: '+14155550198', from: SENDER, body: 'Hello' })).sid);
    assert.deepEqual([failed.status, failed.errorCode], ['failed', 30008]);
  });

  it('fetches the account', async () => {
    const account = await provider.fetchAccount();
    assert.equal(account.sid, accountSid);
    assert.equal(account.status, 'active');
    assert.ok(['Trial', 'Full'].includes(account.type));
    assert.ok(account.friendlyName.length > 0);
    assert.ok(account.dateCreated instanceof Date);
  });

  it('fetches the balance, lowered by what was sent', async () => {
    const balance = await provider.fetchBalance();
    assert.equal(balance.currency, 'USD');
    assert.ok(balance.balance > 0 && balance.balance < STARTING_BALANCE, `balance ${balance.balance}`);
  });

  it('lists the sender numbers with their capabilities', async () => {
    const senders = await provider.listSenderNumbers();
    const numbers = senders.map((s) => s.phoneNumber).sort();
    assert.deepEqual(numbers, ['+14155550100', '+15005550006']);
    for (const sender of senders) {
      assert.match(sender.sid, /^PN[0-9a-f]{32}$/);
      assert.equal(sender.capabilities.sms, true);
    }
  });

  it('authenticates with an API key and secret', async () => {
    const withKey = createTwilioProvider({
      accountSid, auth: { kind: 'apiKey', apiKeySid: apiKey.sid, apiKeySecret: apiKey.secret }, apiBaseUrl: sim.url,
    });
    assert.equal((await withKey.fetchAccount()).sid, accountSid);
    assert.match((await withKey.send({ to: CUSTOMER, from: SENDER, body: 'Hello' })).sid, /^SM/);
  });
});

describe('Twilio provider against the simulator: errors', () => {
  it('authentication: a wrong auth token', async () => {
    const wrong = createTwilioProvider({ accountSid, auth: { kind: 'token', authToken: 'f'.repeat(32) }, apiBaseUrl: sim.url });
    const error = await failure(wrong.send({ to: CUSTOMER, from: SENDER, body: 'Hello' }), 'authentication', 20003);
    assert.equal(error.httpStatus, 401);
    assert.match(error.message, /^Authentication Error/);
    assert.match(error.message, /TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN in \.env/);
    assert.ok(!error.message.includes('f'.repeat(32)));
    assert.equal(error.retryable, false);
  });

  it('authentication: a wrong API key secret', async () => {
    const secret = randomBytes(16).toString('hex');
    const wrong = createTwilioProvider({ accountSid, auth: { kind: 'apiKey', apiKeySid: apiKey.sid, apiKeySecret: secret }, apiBaseUrl: sim.url });
    const error = await failure(wrong.fetchAccount(), 'authentication', 20003);
    assert.ok(!error.message.includes(secret));
  });

  const recipients: [string, number, RegExp][] = [
    ['+15005550001', 21211, /not a valid phone number/],
    ['+15005550002', 21612, /cannot route/],
    ['+15005550003', 21408, /Geo permissions/],
    ['+15005550009', 21614, /not a mobile number/],
  ];
  for (const [to, code, explanation] of recipients) {
    it(`invalid_recipient: To ${to} gives ${code}`, async () => {
      const error = await failure(provider.send({ to, from: '+15005550006', body: 'Hello' }), 'invalid_recipient', code);
      assert.equal(error.httpStatus, 400);
      assert.match(error.message, explanation);
      assert.match(error.message, new RegExp(`https://www\\.twilio\\.com/docs/errors/${code}`));
    });
  }

  it('opted_out: To +15005550004 gives 21610', async () => {
    const error = await failure(provider.send({ to: '+15005550004', from: '+15005550006', body: 'Hello' }), 'opted_out', 21610);
    assert.match(error.message, /STOP/);
    assert.equal(error.retryable, false);
  });

  it('insufficient_funds: an empty balance', async () => {
    sim.setBalance(0);
    try {
      const error = await failure(provider.send({ to: CUSTOMER, from: SENDER, body: 'Hello' }), 'insufficient_funds', 20005);
      assert.match(error.message, /^Insufficient Funds/);
      assert.match(error.message, /Twilio console \(Billing\)/);
      assert.equal(error.retryable, true);
    } finally {
      sim.setBalance(STARTING_BALANCE);
    }
  });

  it('permanent: a From number the account does not own (21606)', async () => {
    const error = await failure(provider.send({ to: CUSTOMER, from: '+14155559999', body: 'Hello' }), 'permanent', 21606);
    assert.match(error.message, /^Phone number not configured: The 'From' phone number provided is not a valid message-capable/);
    assert.match(error.message, /not owned by this account or not SMS-capable/);
  });

  it('permanent: From +15005550007 (21606) and From +15005550001 (21212)', async () => {
    await failure(provider.send({ to: CUSTOMER, from: '+15005550007', body: 'Hello' }), 'permanent', 21606);
    const error = await failure(provider.send({ to: CUSTOMER, from: '+15005550001', body: 'Hello' }), 'permanent', 21212);
    assert.match(error.message, /^Phone number not configured: Invalid 'From' Phone Number/);
  });

  it('permanent: a body over 1,600 characters (21617) and an unknown message (20404)', async () => {
    await failure(provider.send({ to: CUSTOMER, from: SENDER, body: 'a'.repeat(1601) }), 'permanent', 21617);
    const error = await failure(provider.fetchMessage(`SM${'0'.repeat(32)}`), 'permanent', 20404);
    assert.equal(error.httpStatus, 404);
  });

  it('rate_limited: From +15005550008 has a full queue (21611)', async () => {
    const error = await failure(provider.send({ to: CUSTOMER, from: '+15005550008', body: 'Hello' }), 'rate_limited', 21611);
    assert.equal(error.retryable, true);
    assert.equal(error.retryAfterMs, null);
  });

  it('transient: the simulator is gone', async () => {
    const closed = await startSimulator({ port: 0, accountSid, authToken, phoneNumbers: [SENDER] });
    const url = closed.url.replace(/\/+$/, '');
    await closed.close();
    const gone = createTwilioProvider({ accountSid, auth: { kind: 'token', authToken }, apiBaseUrl: url });
    const error = await failure(gone.fetchBalance(), 'transient', null);
    assert.match(error.message, new RegExp(`^Could not reach Twilio at ${url}/2010-04-01/Accounts/${accountSid}/Balance\\.json: connection refused`));
  });
});
