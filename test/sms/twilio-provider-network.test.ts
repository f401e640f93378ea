// The Twilio provider against real local HTTP servers that misbehave in ways the simulator does
// not: 429 with Retry-After, 5xx, a closed port, a server that never answers, a dropped socket,
// and multi-page lists (to prove next_page_uri goes through the base-URL override).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SmsProviderError } from '../../src/sms/provider.ts';
import { createTwilioProvider } from '../../src/sms/twilio-provider.ts';

const accountSid = `AC${randomBytes(16).toString('hex')}`;
const authToken = randomBytes(16).toString('hex');
const servers: http.Server[] = [];

/** Starts a local server on 127.0.0.1 port 0 and returns its base URL. */
async function serve(handler: http.RequestListener): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function providerAt(url: string, timeoutMs = 5000) {
  return createTwilioProvider({ accountSid, auth: { kind: 'token', authToken }, apiBaseUrl: url, timeoutMs });
}

async function failure(promise: Promise<unknown>): Promise<SmsProviderError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SmsProviderError, `expected SmsProviderError, got ${String(error)}`);
    assert.ok(!error.message.includes(authToken), 'the auth token leaked into the message');
    assert.ok(!String(error.cause).includes(authToken), 'the auth token leaked into the cause');
    assert.ok(!JSON.stringify(error).includes(authToken), 'the auth token leaked into the error object');
    return error;
  }
  assert.fail('expected the call to fail');
}

const SEND = { to: '+14155552671', from: '+14155550100', body: 'Hello' };

after(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => {
    s.closeAllConnections();
    s.close(resolve);
  })));
});

describe('Twilio provider over plain HTTP failures', () => {
  it('reads Retry-After from a 429 (20429) as retryAfterMs', async () => {
    const { url } = await serve((_req, res) => json(res, 429, {
      code: 20429, message: 'Too Many Requests', more_info: 'https://www.twilio.com/docs/errors/20429', status: 429,
    }, { 'retry-after': '2' }));
    const error = await failure(providerAt(url).send(SEND));
    assert.equal(error.kind, 'rate_limited');
    assert.equal(error.twilioCode, 20429);
    assert.equal(error.httpStatus, 429);
    assert.equal(error.retryAfterMs, 2000);
    assert.equal(error.retryable, true);
  });

  it('treats a bare 429 without a Twilio body or Retry-After as rate limited', async () => {
    const { url } = await serve((_req, res) => { res.writeHead(429); res.end('slow down'); });
    const error = await failure(providerAt(url).fetchBalance());
    assert.equal(error.kind, 'rate_limited');
    assert.equal(error.twilioCode, null);
    assert.equal(error.retryAfterMs, null);
  });

  it('treats a 503 as transient', async () => {
    const { url } = await serve((_req, res) => { res.writeHead(503, { 'content-type': 'text/html' }); res.end('<h1>down</h1>'); });
    const error = await failure(providerAt(url).fetchAccount());
    assert.equal(error.kind, 'transient');
    assert.equal(error.httpStatus, 503);
  });

  it('names the URL it tried when the port is closed', async () => {
    const { url } = await serve(() => undefined);
    const server = servers.pop();
    await new Promise((resolve) => server?.close(resolve));
    const error = await failure(providerAt(url).send(SEND));
    assert.equal(error.kind, 'transient');
    assert.equal(error.twilioCode, null);
    assert.equal(
      error.message,
      `Could not reach Twilio at ${url}/2010-04-01/Accounts/${accountSid}/Messages.json: connection refused. ` +
        'Check your network or TWILIO_API_BASE_URL.',
    );
  });

  it('gives up on a server that never answers after timeoutMs', async () => {
    const { url } = await serve(() => undefined);
    const started = Date.now();
    const error = await failure(providerAt(url, 200).fetchAccount());
    assert.equal(error.kind, 'transient');
    assert.match(error.message, /no answer within 200 ms \(timeout\)/);
    assert.match(error.message, new RegExp(`${url}/2010-04-01/Accounts/${accountSid}\\.json`));
    assert.ok(Date.now() - started < 3000, 'the timeout was not applied');
  });

  it('treats a dropped connection as transient', async () => {
    const { url } = await serve((req) => req.socket.destroy());
    const error = await failure(providerAt(url).fetchBalance());
    assert.equal(error.kind, 'transient');
    assert.match(error.message, /socket hang up|connection reset/);
  });

  it("passes on Twilio's message and link for a code it has no row for", async () => {
    const { url } = await serve((_req, res) => json(res, 400, {
      code: 21999, message: 'Something new', more_info: 'https://www.twilio.com/docs/errors/21999', status: 400,
    }));
    const error = await failure(providerAt(url).send(SEND));
    assert.equal(error.kind, 'permanent');
    assert.equal(error.twilioCode, 21999);
    assert.match(error.message, /Twilio said: "Something new"/);
    assert.match(error.message, /https:\/\/www\.twilio\.com\/docs\/errors\/21999/);
  });

  it('keeps Retry-After of concurrent calls apart', async () => {
    const { url } = await serve((req, res) => {
      if (req.url?.includes('Balance')) {
        setTimeout(() => json(res, 429, { code: 20429, message: 'slow', status: 429 }, { 'retry-after': '7' }), 30);
      } else {
        json(res, 429, { code: 20429, message: 'slow', status: 429 });
      }
    });
    const provider = providerAt(url);
    const [slow, fast] = await Promise.all([failure(provider.fetchBalance()), failure(provider.fetchAccount())]);
    assert.equal(slow.retryAfterMs, 7000);
    assert.equal(fast.retryAfterMs, null);
  });

  it('keeps the connection alive between calls', async () => {
    const { url } = await serve((_req, res) => json(res, 200, { account_sid: accountSid, balance: '12.5', currency: 'USD' }));
    const server = servers.at(-1);
    let connections = 0;
    server?.on('connection', () => { connections += 1; });
    const provider = providerAt(url);
    for (let i = 0; i < 3; i++) assert.deepEqual(await provider.fetchBalance(), { balance: 12.5, currency: 'USD' });
    assert.equal(connections, 1);
  });

  it('follows next_page_uri through the base-URL override', async () => {
    const base = `/2010-04-01/Accounts/${accountSid}/IncomingPhoneNumbers.json`;
    const number = (n: string) => ({
      sid: `PN${n.padStart(32, '0')}`, phone_number: `+1415555${n.padStart(4, '0')}`, friendly_name: n,
      capabilities: { sms: true, mms: false, voice: true, fax: false },
    });
    const { url, requests } = await serve((req, res) => {
      const page = new URL(req.url ?? '/', 'http://x').searchParams.get('Page') ?? '0';
      json(res, 200, page === '0'
        ? { incoming_phone_numbers: [number('1')], next_page_uri: `${base}?PageSize=100&Page=1&PageToken=PA1`, page: 0, page_size: 100 }
        : { incoming_phone_numbers: [number('2')], next_page_uri: null, page: 1, page_size: 100 });
    });
    const senders = await providerAt(url).listSenderNumbers();
    assert.deepEqual(senders.map((s) => s.phoneNumber), ['+14155550001', '+14155550002']);
    assert.deepEqual(senders[0]?.capabilities, { sms: true, mms: false, voice: true });
    assert.equal(requests.length, 2);
    assert.match(requests[1] ?? '', /Page=1/);
  });
});

describe('createTwilioProvider options', () => {
  it('refuses unusable configuration with a config_invalid error', () => {
    const bad = [
      { accountSid: 'ACnope', auth: { kind: 'token' as const, authToken } },
      { accountSid, auth: { kind: 'token' as const, authToken: '' } },
      { accountSid, auth: { kind: 'apiKey' as const, apiKeySid: 'AK1', apiKeySecret: 'x' } },
      { accountSid, auth: { kind: 'token' as const, authToken }, apiBaseUrl: 'ftp://example.com' },
      { accountSid, auth: { kind: 'token' as const, authToken }, timeoutMs: 0 },
    ];
    for (const options of bad) {
      assert.throws(() => createTwilioProvider(options), (error: unknown) =>
        error instanceof Error && 'code' in error && error.code === 'config_invalid' && !error.message.includes(authToken));
    }
  });
});
