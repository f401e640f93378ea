// Every JSON response the simulator serves must match the schema Twilio's OpenAPI document gives
// for that path, method and status (tightened: all documented fields present, none extra), and
// every error must be Twilio's error shape. Also proves the validator rejects broken bodies.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import {
  AUTH_HEADER, BASE, CUSTOMER, OWNED_NUMBER, buildTestApp, createMessage, get, json, waitFor,
} from './fixture.ts';
import { OpenApiValidator, TWILIO_ERROR_SCHEMA } from './openapi-validator.ts';

const validator = new OpenApiValidator();

interface Operation {
  name: string;
  /** The path template as written in Twilio's OpenAPI document. */
  path: string;
  /** The same route as the simulator registers it. */
  route: string;
  method: 'get' | 'post';
  status: number;
}

const OPERATIONS: Operation[] = [
  { name: 'account fetch', path: '/2010-04-01/Accounts/{Sid}.json', route: '/2010-04-01/Accounts/:AccountSid.json', method: 'get', status: 200 },
  { name: 'balance fetch', path: '/2010-04-01/Accounts/{AccountSid}/Balance.json', route: '/2010-04-01/Accounts/:AccountSid/Balance.json', method: 'get', status: 200 },
  { name: 'incoming phone number list', path: '/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json', route: '/2010-04-01/Accounts/:AccountSid/IncomingPhoneNumbers.json', method: 'get', status: 200 },
  { name: 'message create', path: '/2010-04-01/Accounts/{AccountSid}/Messages.json', route: '/2010-04-01/Accounts/:AccountSid/Messages.json', method: 'post', status: 201 },
  { name: 'message list', path: '/2010-04-01/Accounts/{AccountSid}/Messages.json', route: '/2010-04-01/Accounts/:AccountSid/Messages.json', method: 'get', status: 200 },
  { name: 'message fetch', path: '/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json', route: '/2010-04-01/Accounts/:AccountSid/Messages/:MessageSid.json', method: 'get', status: 200 },
  { name: 'call create', path: '/2010-04-01/Accounts/{AccountSid}/Calls.json', route: '/2010-04-01/Accounts/:AccountSid/Calls.json', method: 'post', status: 201 },
  { name: 'call fetch', path: '/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json', route: '/2010-04-01/Accounts/:AccountSid/Calls/:CallSid.json', method: 'get', status: 200 },
];

function operation(name: string): Operation {
  const found = OPERATIONS.find((o) => o.name === name);
  if (!found) throw new Error(`no operation ${name}`);
  return found;
}

function assertValid(op: Operation, response: LightMyRequestResponse): void {
  assert.equal(response.statusCode, op.status, `${op.name}: ${response.body}`);
  assert.match(String(response.headers['content-type']), /^application\/json/);
  const validate = validator.compile(validator.responseSchema(op.path, op.method, op.status));
  assert.deepEqual(validator.errorsFor(validate, response.json()), [], `${op.name} body does not match Twilio's schema`);
}

const validateError = validator.compile(TWILIO_ERROR_SCHEMA);

function assertTwilioError(response: LightMyRequestResponse, status: number, code: number): void {
  assert.equal(response.statusCode, status, response.body);
  assert.match(String(response.headers['content-type']), /^application\/json/);
  const body = response.json<{ code: number; status: number; more_info: string }>();
  assert.deepEqual(validator.errorsFor(validateError, body), [], `not Twilio's error shape: ${response.body}`);
  assert.equal(body.code, code);
  assert.equal(body.status, status);
  assert.equal(body.more_info, `https://www.twilio.com/docs/errors/${code}`);
}

void describe("responses match Twilio's OpenAPI document", () => {
  let app: FastifyInstance;

  before(async () => {
    app = buildTestApp({ failedNumbers: ['+14155559999'] });
    await app.ready();
  });
  after(() => app.close());

  void test('the test covers every API route the simulator serves, and each is in the document', () => {
    const served = app.printRoutes({ commonPrefix: false })
      .split('\n')
      .map((line) => /(\/2010-04-01\/\S+) \(([^)]+)\)/.exec(line))
      .filter((m) => m !== null)
      .flatMap((m) => m[2]!.split(', ').filter((verb) => verb !== 'HEAD').map((verb) => `${verb.toLowerCase()} ${m[1]}`));
    assert.deepEqual(served.sort(), OPERATIONS.map((o) => `${o.method} ${o.route}`).sort());
    for (const op of OPERATIONS) assert.ok(validator.responseSchema(op.path, op.method, op.status));
  });

  void test('account fetch', async () => {
    assertValid(operation('account fetch'), await get(app, `${BASE}.json`));
  });

  void test('balance fetch', async () => {
    assertValid(operation('balance fetch'), await get(app, `${BASE}/Balance.json`));
  });

  void test('incoming phone number list, unfiltered, filtered and empty', async () => {
    const op = operation('incoming phone number list');
    assertValid(op, await get(app, `${BASE}/IncomingPhoneNumbers.json`));
    assertValid(op, await get(app, `${BASE}/IncomingPhoneNumbers.json?PhoneNumber=${encodeURIComponent(OWNED_NUMBER)}&PageSize=1`));
    assertValid(op, await get(app, `${BASE}/IncomingPhoneNumbers.json?PhoneNumber=%2B19998887777`));
  });

  void test('message create: from a number, and through a Messaging Service', async () => {
    const op = operation('message create');
    assertValid(op, await createMessage(app, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'Your code is 123456' }));
    assertValid(op, await createMessage(app, {
      To: CUSTOMER, MessagingServiceSid: `MG${'0'.repeat(32)}`, Body: 'Card ending 4242 used: $12.00 😀',
      StatusCallback: 'http://127.0.0.1:9/status', ValidityPeriod: '600',
    }));
  });

  void test('call create and fetch: queued, then completed with duration and price; a failed call; refusals in Twilio\'s error shape', async () => {
    const place = (params: Record<string, string>) => app.inject({
      method: 'POST', url: `${BASE}/Calls.json`, headers: { authorization: AUTH_HEADER, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(params).toString(),
    });
    const twiml = '<Response><Say language="en-US">Your code is 1, 2, 3.</Say></Response>';
    const created = await place({ To: CUSTOMER, From: OWNED_NUMBER, Twiml: twiml });
    assertValid(operation('call create'), created);
    assert.equal(json(created).status, 'queued');
    const fetch = operation('call fetch');
    const done = await waitFor(async () => {
      const r = await get(app, `${BASE}/Calls/${String(json(created).sid)}.json`);
      return json(r).status === 'completed' ? r : undefined;
    });
    assertValid(fetch, done);
    assert.equal(json(done).price, '-0.01400');
    assert.equal(json(done).duration, '20');
    const failing = json(await place({ To: '+14155559999', From: OWNED_NUMBER, Twiml: twiml }));
    const failed = await waitFor(async () => {
      const r = await get(app, `${BASE}/Calls/${String(failing.sid)}.json`);
      return json(r).status === 'failed' ? r : undefined;
    });
    assertValid(fetch, failed);
    assertTwilioError(await place({ To: 'not a number', From: OWNED_NUMBER, Twiml: twiml }), 400, 21211);
    assertTwilioError(await place({ To: CUSTOMER, From: '+19998887777', Twiml: twiml }), 400, 21210);
    assertTwilioError(await place({ To: CUSTOMER, From: OWNED_NUMBER }), 400, 21205);
    assertTwilioError(await get(app, `${BASE}/Calls/CA${'0'.repeat(32)}.json`), 404, 20404);
  });

  void test('message fetch: queued, delivered (price and date_sent set) and failed (error code)', async () => {
    const op = operation('message fetch');
    const ok = json(await createMessage(app, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'hello' }));
    const bad = json(await createMessage(app, { To: '+14155559999', From: OWNED_NUMBER, Body: 'hello' }));
    assertValid(op, await get(app, `${BASE}/Messages/${String(ok.sid)}.json`));
    const delivered = await waitFor(async () => {
      const r = await get(app, `${BASE}/Messages/${String(ok.sid)}.json`);
      return json(r).status === 'delivered' ? r : undefined;
    });
    assertValid(op, delivered);
    assert.equal(json(delivered).price, '-0.00750');
    const failed = await waitFor(async () => {
      const r = await get(app, `${BASE}/Messages/${String(bad.sid)}.json`);
      return json(r).status === 'failed' ? r : undefined;
    });
    assertValid(op, failed);
    assert.equal(json(failed).error_code, 30008);
  });

  void test('message list: first page, next page, filtered and empty', async () => {
    const op = operation('message list');
    const first = await get(app, `${BASE}/Messages.json?PageSize=2`);
    assertValid(op, first);
    const next = json(first).next_page_uri;
    assert.equal(typeof next, 'string');
    assertValid(op, await get(app, String(next)));
    assertValid(op, await get(app, `${BASE}/Messages.json?To=${encodeURIComponent(CUSTOMER)}&DateSent%3E=2020-01-01`));
    assertValid(op, await get(app, `${BASE}/Messages.json?To=%2B19998887777`));
  });

  void test('errors are Twilio-shaped: auth, unknown account/message/path, validation, bad URL, JSON and oversized bodies', async () => {
    assertTwilioError(await get(app, `${BASE}.json`, 'Basic bm9wZTpub3Bl'), 401, 20003);
    assertTwilioError(await get(app, `${BASE}.json`, ''), 401, 20003);
    assertTwilioError(await get(app, `/2010-04-01/Accounts/AC${'f'.repeat(32)}/Messages.json`), 404, 20404);
    assertTwilioError(await get(app, `${BASE}/Messages/SM${'0'.repeat(32)}.json`), 404, 20404);
    assertTwilioError(await get(app, `${BASE}/Calls.json`), 404, 20404);
    assertTwilioError(await get(app, '/no/such/path'), 404, 20404);
    assertTwilioError(await createMessage(app, { From: OWNED_NUMBER, Body: 'x' }), 400, 21604);
    assertTwilioError(await get(app, `${BASE}/Messages/%E0%A4%A.json`), 400, 20400);
    assertTwilioError(await app.inject({
      method: 'POST', url: `${BASE}/Messages.json`, headers: { authorization: AUTH_HEADER, 'content-type': 'application/json' }, payload: '{"To":',
    }), 400, 21604);
    assertTwilioError(await app.inject({
      method: 'POST', url: `${BASE}/Messages.json`, headers: { authorization: AUTH_HEADER, 'content-type': 'application/x-www-form-urlencoded' },
      payload: `To=${'1'.repeat(2 * 1024 * 1024)}`,
    }), 413, 20413);
  });
});

void describe('the validator is not vacuous', () => {
  const messageSchema = validator.compile(validator.responseSchema(operation('message fetch').path, 'get', 200));
  const listSchema = validator.compile(validator.responseSchema(operation('message list').path, 'get', 200));
  let good: Record<string, unknown>;
  let goodList: Record<string, unknown>;

  before(async () => {
    const app = buildTestApp();
    good = json(await createMessage(app, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'hi' }));
    goodList = json(await get(app, `${BASE}/Messages.json`));
    await app.close();
  });

  void test("Twilio's own create example passes", () => {
    const example = validator.document.paths['/2010-04-01/Accounts/{AccountSid}/Messages.json']?.post as
      { responses: Record<string, { content: Record<string, { examples: Record<string, { value: unknown }> }> }> };
    const value = example.responses['201']?.content['application/json']?.examples.create?.value;
    assert.ok(value);
    assert.deepEqual(validator.errorsFor(messageSchema, value), []);
  });

  const broken: [string, (m: Record<string, unknown>) => void][] = [
    ['a required field is missing', (m) => delete m.sid],
    ['num_segments is a number, not a string', (m) => (m.num_segments = 1)],
    ['a date is ISO 8601, not RFC 2822', (m) => (m.date_created = new Date().toISOString())],
    ['the status is not one of Twilio\'s', (m) => (m.status = 'lost')],
    ['the SID has the wrong prefix', (m) => (m.sid = `XX${'0'.repeat(32)}`)],
    ['an undocumented field is added', (m) => (m.extra = true)],
    ['error_code is a string', (m) => (m.error_code = '30003')],
  ];
  for (const [what, breakIt] of broken) {
    void test(`rejects a message when ${what}`, () => {
      assert.deepEqual(validator.errorsFor(messageSchema, good), [], 'the unbroken body should pass');
      const copy = structuredClone(good);
      breakIt(copy);
      assert.notDeepEqual(validator.errorsFor(messageSchema, copy), []);
    });
  }

  void test('rejects a list without next_page_uri or with a broken message inside', () => {
    assert.deepEqual(validator.errorsFor(listSchema, goodList), []);
    const missing = structuredClone(goodList);
    delete missing.next_page_uri;
    assert.notDeepEqual(validator.errorsFor(listSchema, missing), []);
    const inner = structuredClone(goodList) as { messages: Record<string, unknown>[] };
    inner.messages[0]!.price_unit = 12;
    assert.notDeepEqual(validator.errorsFor(listSchema, inner), []);
  });

  void test('rejects error bodies that are not Twilio-shaped', () => {
    assert.equal(validateError({ code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 }), true);
    assert.equal(validateError({ statusCode: 401, error: 'Unauthorized', message: 'x' }), false);
    assert.equal(validateError({ code: '20003', message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 }), false);
  });
});
