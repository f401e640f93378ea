// Twilio's rules as the simulator enforces them: authentication, request validation codes, the
// magic test numbers, segment counting and the balance.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { SegmentedMessage } from 'sms-segments-calculator';
import { simulatorStateOf } from '../../src/simulator/index.ts';
import { GSM7_BASIC_CHARACTERS, countSegments } from '../../src/simulator/rules.ts';
import {
  ACCOUNT_SID, API_KEY, AUTH_TOKEN, BASE, CUSTOMER, OWNED_NUMBER, SECOND_NUMBER,
  basicAuth, buildTestApp, createMessage, get, json, waitFor,
} from './fixture.ts';

function assertError(response: LightMyRequestResponse, status: number, code: number, message?: string): void {
  assert.equal(response.statusCode, status, response.body);
  const body = json(response);
  assert.equal(body.code, code, response.body);
  assert.equal(body.status, status);
  if (message !== undefined) assert.equal(body.message, message);
}

void describe('authentication', () => {
  void test('a wrong auth token gets 401 with code 20003 "Authenticate"', async () => {
    const app = buildTestApp();
    const response = await createMessage(app, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'x' }, basicAuth(ACCOUNT_SID, 'wrong'));
    assert.deepEqual(json(response), {
      code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401,
    });
    assert.equal(response.statusCode, 401);
    assert.equal(simulatorStateOf(app).messages().length, 0, 'nothing was sent');
    await app.close();
  });

  void test('missing, malformed and foreign credentials are refused the same way', async () => {
    const app = buildTestApp();
    for (const authorization of ['', 'Bearer abc', 'Basic !!!', basicAuth(`AC${'f'.repeat(32)}`, AUTH_TOKEN), basicAuth(API_KEY.sid, AUTH_TOKEN)]) {
      assertError(await get(app, `${BASE}/Balance.json`, authorization), 401, 20003, 'Authenticate');
    }
    await app.close();
  });

  void test('an API key SID and secret work for Basic auth; the auth token is only shown to its holder', async () => {
    const app = buildTestApp();
    const keyAuth = basicAuth(API_KEY.sid, API_KEY.secret);
    const created = await createMessage(app, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'via key' }, keyAuth);
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(json(await get(app, `${BASE}.json`, keyAuth)).auth_token, null);
    assert.equal(json(await get(app, `${BASE}.json`)).auth_token, AUTH_TOKEN);
    await app.close();
  });

  void test('another account in the path is 404 20404 even with valid credentials', async () => {
    const app = buildTestApp();
    const other = `/2010-04-01/Accounts/AC${'e'.repeat(32)}/Messages.json`;
    assertError(await get(app, other), 404, 20404, `The requested resource ${other} was not found`);
    await app.close();
  });
});

void describe('message create validation', () => {
  const cases: [string, Record<string, string>, number, string][] = [
    ['missing To', { From: OWNED_NUMBER, Body: 'x' }, 21604, "A 'To' phone number is required."],
    ['To not E.164', { To: '415-555-2671', From: OWNED_NUMBER, Body: 'x' }, 21211, "The 'To' number 415-555-2671 is not a valid phone number."],
    ['missing Body', { To: CUSTOMER, From: OWNED_NUMBER }, 21602, 'A text message body or media urls must be specified.'],
    ['Body over 1,600 characters', { To: CUSTOMER, From: OWNED_NUMBER, Body: 'a'.repeat(1601) }, 21617, 'The concatenated message body exceeds the 1600 character limit.'],
    ['no From and no MessagingServiceSid', { To: CUSTOMER, Body: 'x' }, 21603, "A 'From' phone number is required."],
    ['From not owned', { To: CUSTOMER, From: '+14155550999', Body: 'x' }, 21606, 'The From phone number +14155550999 is not a valid, SMS-capable inbound phone number or short code for your account.'],
    ['From not a phone number', { To: CUSTOMER, From: 'not a number', Body: 'x' }, 21212, "The 'From' number not a number is not a valid phone number, shortcode, or alphanumeric sender ID."],
    ['malformed MessagingServiceSid', { To: CUSTOMER, MessagingServiceSid: 'MG123', Body: 'x' }, 21701, 'The Messaging Service Sid MG123 is invalid.'],
    ['StatusCallback not a URL', { To: CUSTOMER, From: OWNED_NUMBER, Body: 'x', StatusCallback: 'not a url' }, 21609, 'The StatusCallback URL not a url is not a valid URL.'],
    ['ValidityPeriod 0', { To: CUSTOMER, From: OWNED_NUMBER, Body: 'x', ValidityPeriod: '0' }, 90007, 'The ValidityPeriod 0 is invalid: use whole seconds between 1 and 36000.'],
    ['ValidityPeriod over 10 hours', { To: CUSTOMER, From: OWNED_NUMBER, Body: 'x', ValidityPeriod: '36001' }, 90007, 'The ValidityPeriod 36001 is invalid: use whole seconds between 1 and 36000.'],
  ];
  for (const [what, form, code, message] of cases) {
    void test(`${what} -> 400 ${code}`, async () => {
      const app = buildTestApp();
      assertError(await createMessage(app, form), 400, code, message);
      assert.equal(simulatorStateOf(app).balance(), 15, 'a refused message costs nothing');
      await app.close();
    });
  }

  void test('exactly 1,600 characters is accepted (10+ segments)', async () => {
    const app = buildTestApp();
    const response = await createMessage(app, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'a'.repeat(1600) });
    assert.equal(response.statusCode, 201, response.body);
    assert.equal(json(response).num_segments, '11');
    await app.close();
  });

  void test('a Messaging Service SID sends from the first owned number and starts "accepted"', async () => {
    const app = buildTestApp();
    const service = `MG${'a'.repeat(32)}`;
    const body = json(await createMessage(app, { To: CUSTOMER, MessagingServiceSid: service, Body: 'x' }));
    assert.equal(body.from, OWNED_NUMBER);
    assert.equal(body.messaging_service_sid, service);
    assert.equal(body.status, 'accepted');
    const withFrom = json(await createMessage(app, { To: CUSTOMER, MessagingServiceSid: service, From: SECOND_NUMBER, Body: 'x' }));
    assert.equal(withFrom.from, SECOND_NUMBER);
    await app.close();
  });

  void test('a created message looks like Twilio\'s: SM sid, queued, string segments, null price', async () => {
    const app = buildTestApp();
    const response = await createMessage(app, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'Your code is 123456' });
    assert.equal(response.statusCode, 201);
    const body = json(response);
    assert.match(String(body.sid), /^SM[0-9a-f]{32}$/);
    assert.equal(body.status, 'queued');
    assert.equal(body.num_segments, '1');
    assert.equal(body.price, null);
    assert.equal(body.direction, 'outbound-api');
    assert.equal(body.api_version, '2010-04-01');
    assert.equal(body.uri, `${BASE}/Messages/${String(body.sid)}.json`);
    assert.match(String(body.date_created), /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
    await app.close();
  });
});

void describe('magic test numbers', () => {
  void test('From +15005550006 is accepted even though the account does not list it', async () => {
    const app = buildTestApp();
    const response = await createMessage(app, { To: CUSTOMER, From: '+15005550006', Body: 'x' });
    assert.equal(response.statusCode, 201, response.body);
    await app.close();
  });

  const fromCases: [string, number][] = [['+15005550001', 21212], ['+15005550007', 21606], ['+15005550008', 21611]];
  for (const [from, code] of fromCases) {
    void test(`From ${from} -> ${code}`, async () => {
      const app = buildTestApp({ phoneNumbers: [OWNED_NUMBER, from] });
      assertError(await createMessage(app, { To: CUSTOMER, From: from, Body: 'x' }), 400, code);
      await app.close();
    });
  }

  const toCases: [string, number][] = [
    ['+15005550001', 21211], ['+15005550002', 21612], ['+15005550003', 21408], ['+15005550004', 21610], ['+15005550009', 21614],
  ];
  for (const [to, code] of toCases) {
    void test(`To ${to} -> ${code}`, async () => {
      const app = buildTestApp();
      assertError(await createMessage(app, { To: to, From: '+15005550006', Body: 'x' }), 400, code);
      await app.close();
    });
  }

  void test('other +1500555 destinations are accepted and delivered', async () => {
    const app = buildTestApp();
    const response = await createMessage(app, { To: '+15005550005', From: '+15005550006', Body: 'x' });
    assert.equal(response.statusCode, 201);
    await waitFor(() => (simulatorStateOf(app).messages()[0]?.status === 'delivered' ? true : undefined));
    await app.close();
  });
});

void describe('segments, counted with Twilio\'s calculator', () => {
  const cases: [string, string, string][] = [
    ['160 GSM-7 characters', 'a'.repeat(160), '1'],
    ['161 GSM-7 characters (153 per part)', 'a'.repeat(161), '2'],
    ['306 GSM-7 characters', 'a'.repeat(306), '2'],
    ['307 GSM-7 characters', 'a'.repeat(307), '3'],
    ['one emoji (UCS-2)', '😀', '1'],
    ['an emoji turns 100 characters into UCS-2 (67 per part)', `${'a'.repeat(99)}😀`, '2'],
    ['70 Cyrillic characters', 'ж'.repeat(70), '1'],
    ['71 Cyrillic characters', 'ж'.repeat(71), '2'],
    ['80 euro signs (2 septets each = 160)', '€'.repeat(80), '1'],
    ['one euro sign and 159 letters (161 septets)', `€${'a'.repeat(159)}`, '2'],
  ];
  for (const [what, body, segments] of cases) {
    void test(`${what} -> ${segments}`, async () => {
      const app = buildTestApp();
      const response = await createMessage(app, { To: CUSTOMER, From: OWNED_NUMBER, Body: body });
      assert.equal(json(response).num_segments, segments);
      assert.equal(simulatorStateOf(app).messages()[0]?.encoding, /^[a-z€]+$/.test(body) ? 'GSM-7' : 'UCS-2');
      await app.close();
    });
  }
});

void describe('the plain GSM-7 shortcut agrees with Twilio\'s calculator', () => {
  void test('every shortcut character is one GSM-7 septet to the calculator', () => {
    for (const c of GSM7_BASIC_CHARACTERS) {
      const fits = new SegmentedMessage(c.repeat(160));
      assert.equal(fits.encodingName, 'GSM-7', JSON.stringify(c));
      assert.equal(fits.segmentsCount, 1, JSON.stringify(c));
      assert.equal(new SegmentedMessage(c.repeat(161)).segmentsCount, 2, JSON.stringify(c));
    }
  });

  void test('300 seeded random bodies get the same count and encoding both ways', () => {
    let seed = 20261125;
    const random = () => {
      // mulberry32: a small seeded generator, so a failure can be replayed.
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const rare = ['€', '[', '~', '\r', '😀', 'ж', '’', '\f'];
    for (let i = 0; i < 300; i++) {
      const length = 1 + Math.floor(random() * 480);
      let body = '';
      for (let j = 0; j < length; j++) {
        body += random() < 0.004 ? rare[Math.floor(random() * rare.length)] : GSM7_BASIC_CHARACTERS[Math.floor(random() * GSM7_BASIC_CHARACTERS.length)];
      }
      const library = new SegmentedMessage(body);
      assert.deepEqual(countSegments(body), { numSegments: library.segmentsCount, encoding: library.encodingName }, JSON.stringify(body));
    }
  });
});

void describe('balance', () => {
  void test('each accepted message debits segments x price; Balance.json shows it as a string', async () => {
    const app = buildTestApp();
    assert.deepEqual(json(await get(app, `${BASE}/Balance.json`)), { account_sid: ACCOUNT_SID, balance: '15.00', currency: 'USD' });
    await createMessage(app, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'one segment' });
    assert.equal(json(await get(app, `${BASE}/Balance.json`)).balance, '14.9925');
    await createMessage(app, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'a'.repeat(400) });
    assert.equal(json(await get(app, `${BASE}/Balance.json`)).balance, '14.97');
    assert.equal(simulatorStateOf(app).balance(), 14.97);
    await app.close();
  });

  void test('a delivered message shows its price as Twilio does: negative, 5 decimals, USD', async () => {
    const app = buildTestApp({ pricePerSegment: 0.0079 });
    const sid = String(json(await createMessage(app, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'a'.repeat(200) })).sid);
    const sent = await waitFor(async () => {
      const body = json(await get(app, `${BASE}/Messages/${sid}.json`));
      return body.status === 'delivered' ? body : undefined;
    });
    assert.equal(sent.price, '-0.01580');
    assert.equal(sent.price_unit, 'USD');
    await app.close();
  });

  void test('when the balance cannot cover a message it is refused with 20005 "Account not active"', async () => {
    const app = buildTestApp();
    const state = simulatorStateOf(app);
    state.setBalance(0.01);
    assertError(await createMessage(app, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'a'.repeat(161) }), 401, 20005, 'Account not active');
    assert.equal(state.balance(), 0.01, 'nothing debited');
    assert.equal((await createMessage(app, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'short' })).statusCode, 201);
    assert.equal(json(await get(app, `${BASE}/Balance.json`)).balance, '0.0025');
    assertError(await createMessage(app, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'short' }), 401, 20005);
    assert.equal(state.messages().length, 1);
    await app.close();
  });
});
