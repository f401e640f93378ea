// Reading back: message paging and filters, incoming phone numbers, message fetch, the
// developer inbox, and the added latency.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { simulatorStateOf } from '../../src/simulator/index.ts';
import { BASE, CUSTOMER, OWNED_NUMBER, SECOND_NUMBER, buildTestApp, createMessage, get, json, waitFor } from './fixture.ts';

interface MessagePage {
  messages: { sid: string; to: string; from: string; body: string; status: string }[];
  next_page_uri: string | null;
  previous_page_uri: string | null;
  first_page_uri: string;
  uri: string;
  page: number;
  page_size: number;
  start: number;
  end: number;
}

async function page(app: FastifyInstance, path: string): Promise<MessagePage> {
  const response = await get(app, path);
  assert.equal(response.statusCode, 200, response.body);
  return response.json<MessagePage>();
}

async function sendAll(app: FastifyInstance, forms: Record<string, string>[]): Promise<string[]> {
  const sids: string[] = [];
  for (const form of forms) sids.push(String(json(await createMessage(app, form)).sid));
  return sids;
}

async function allDelivered(app: FastifyInstance): Promise<void> {
  await waitFor(() => (simulatorStateOf(app).messages().every((m) => m.status === 'delivered') ? true : undefined));
}

void describe('message list paging', () => {
  void test('PageSize walks 7 messages over 3 pages, newest first, following next_page_uri', async () => {
    const app = buildTestApp();
    const sids = await sendAll(app, Array.from({ length: 7 }, (_, i) => ({ To: CUSTOMER, From: OWNED_NUMBER, Body: `message ${i}` })));
    const first = await page(app, `${BASE}/Messages.json?PageSize=3`);
    assert.equal(first.page, 0);
    assert.equal(first.page_size, 3);
    assert.equal(first.start, 0);
    assert.equal(first.end, 2);
    assert.equal(first.previous_page_uri, null);
    assert.equal(first.first_page_uri, `${BASE}/Messages.json?PageSize=3&Page=0`);
    assert.equal(first.uri, `${BASE}/Messages.json?PageSize=3&Page=0`);
    assert.ok(first.next_page_uri?.startsWith(`${BASE}/Messages.json?PageSize=3&Page=1&PageToken=PA`));

    const second = await page(app, first.next_page_uri ?? '');
    assert.equal(second.page, 1);
    assert.equal(second.start, 3);
    assert.ok(second.previous_page_uri);
    const third = await page(app, second.next_page_uri ?? '');
    assert.equal(third.page, 2);
    assert.equal(third.next_page_uri, null, 'no next page after the last');

    const seen = [...first.messages, ...second.messages, ...third.messages].map((m) => m.sid);
    assert.deepEqual([first.messages.length, second.messages.length, third.messages.length], [3, 3, 1]);
    assert.deepEqual(seen, [...sids].reverse(), 'every message once, newest first');

    const back = await page(app, second.previous_page_uri ?? '');
    assert.deepEqual(back.messages.map((m) => m.sid), first.messages.map((m) => m.sid));
    await app.close();
  });

  void test('paging by token stays stable when new messages arrive between pages', async () => {
    const app = buildTestApp();
    const sids = await sendAll(app, Array.from({ length: 4 }, () => ({ To: CUSTOMER, From: OWNED_NUMBER, Body: 'x' })));
    const first = await page(app, `${BASE}/Messages.json?PageSize=2`);
    await sendAll(app, [{ To: CUSTOMER, From: OWNED_NUMBER, Body: 'late arrival' }]);
    const second = await page(app, first.next_page_uri ?? '');
    assert.deepEqual(second.messages.map((m) => m.sid), [sids[1], sids[0]]);
    await app.close();
  });

  void test('PageSize is clamped to 1..1000 and Page without a token counts from the start', async () => {
    const app = buildTestApp();
    await sendAll(app, Array.from({ length: 3 }, () => ({ To: CUSTOMER, From: OWNED_NUMBER, Body: 'x' })));
    assert.equal((await page(app, `${BASE}/Messages.json?PageSize=0`)).page_size, 50);
    assert.equal((await page(app, `${BASE}/Messages.json?PageSize=5000`)).page_size, 1000);
    assert.equal((await page(app, `${BASE}/Messages.json?PageSize=abc`)).page_size, 50);
    assert.equal((await page(app, `${BASE}/Messages.json?PageSize=1&Page=2`)).messages.length, 1);
    assert.equal((await page(app, `${BASE}/Messages.json?PageSize=1&Page=3`)).messages.length, 0);
    await app.close();
  });
});

void describe('message list filters', () => {
  void test('To and From select exact numbers, and are echoed in the page URIs', async () => {
    const app = buildTestApp();
    await sendAll(app, [
      { To: CUSTOMER, From: OWNED_NUMBER, Body: 'a' },
      { To: '+14155552672', From: OWNED_NUMBER, Body: 'b' },
      { To: CUSTOMER, From: SECOND_NUMBER, Body: 'c' },
    ]);
    const toCustomer = await page(app, `${BASE}/Messages.json?To=${encodeURIComponent(CUSTOMER)}`);
    assert.deepEqual(toCustomer.messages.map((m) => m.body), ['c', 'a']);
    assert.equal(toCustomer.uri, `${BASE}/Messages.json?To=%2B14155552671&PageSize=50&Page=0`);
    const fromSecond = await page(app, `${BASE}/Messages.json?From=${encodeURIComponent(SECOND_NUMBER)}`);
    assert.deepEqual(fromSecond.messages.map((m) => m.body), ['c']);
    const both = await page(app, `${BASE}/Messages.json?To=${encodeURIComponent(CUSTOMER)}&From=${encodeURIComponent(OWNED_NUMBER)}`);
    assert.deepEqual(both.messages.map((m) => m.body), ['a']);
    await app.close();
  });

  void test('DateSent, DateSent< and DateSent> select by send date (day or instant); unsent messages never match', async () => {
    const app = buildTestApp();
    await sendAll(app, [{ To: CUSTOMER, From: OWNED_NUMBER, Body: 'a' }, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'b' }]);
    await allDelivered(app);
    const slow = buildTestApp({ statusStepMs: 10_000 });
    await sendAll(slow, [{ To: CUSTOMER, From: OWNED_NUMBER, Body: 'queued' }]);

    // Days are taken from the send time itself, so the test holds across midnight UTC.
    const sentAt = simulatorStateOf(app).messages()[0]!.dateSent!.getTime();
    const day = (offsetDays: number) => new Date(sentAt + offsetDays * 86_400_000).toISOString().slice(0, 10);
    const [yesterday, today, tomorrow] = [day(-1), day(0), day(1)];
    const count = async (target: FastifyInstance, query: string) => (await page(target, `${BASE}/Messages.json?${query}`)).messages.length;

    assert.equal(await count(app, `DateSent=${today}`), 2);
    assert.equal(await count(app, `DateSent=${yesterday}`), 0);
    assert.equal(await count(app, `DateSent%3C=${yesterday}`), 0);
    assert.equal(await count(app, `DateSent%3C=${today}`), 2);
    assert.equal(await count(app, `DateSent%3E=${today}`), 2);
    assert.equal(await count(app, `DateSent%3E=${tomorrow}`), 0);
    const hourAgo = new Date(sentAt - 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const inAnHour = new Date(sentAt + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    assert.equal(await count(app, `DateSent%3E=${hourAgo}&DateSent%3C=${inAnHour}`), 2);
    assert.equal(await count(app, `DateSent%3C=${hourAgo}`), 0);
    assert.equal(await count(slow, `DateSent=${today}`), 0, 'a queued message has no date_sent');
    assert.equal(await count(slow, ''), 1);

    const echoed = await page(app, `${BASE}/Messages.json?DateSent%3E=${today}`);
    assert.equal(echoed.uri, `${BASE}/Messages.json?DateSent%3E=${today}&PageSize=50&Page=0`);
    const bad = await get(app, `${BASE}/Messages.json?DateSent=last-tuesday`);
    assert.equal(bad.statusCode, 400);
    assert.equal(json(bad).code, 20400);
    await app.close();
    await slow.close();
  });
});

void describe('incoming phone numbers', () => {
  void test('lists the owned numbers with PN SIDs and SMS/MMS/voice capabilities; PhoneNumber filters', async () => {
    const app = buildTestApp();
    const all = json(await get(app, `${BASE}/IncomingPhoneNumbers.json`)) as {
      incoming_phone_numbers: { sid: string; phone_number: string; friendly_name: string; capabilities: Record<string, boolean> }[];
    };
    assert.deepEqual(all.incoming_phone_numbers.map((n) => n.phone_number), [OWNED_NUMBER, SECOND_NUMBER]);
    const first = all.incoming_phone_numbers[0]!;
    assert.match(first.sid, /^PN[0-9a-f]{32}$/);
    assert.equal(first.friendly_name, '(415) 555-0100');
    assert.deepEqual(first.capabilities, { voice: true, sms: true, mms: true, fax: false });

    const exact = json(await get(app, `${BASE}/IncomingPhoneNumbers.json?PhoneNumber=${encodeURIComponent(SECOND_NUMBER)}`));
    assert.deepEqual((exact.incoming_phone_numbers as { phone_number: string }[]).map((n) => n.phone_number), [SECOND_NUMBER]);
    const partial = json(await get(app, `${BASE}/IncomingPhoneNumbers.json?PhoneNumber=555010*`));
    assert.equal((partial.incoming_phone_numbers as unknown[]).length, 2);
    const none = json(await get(app, `${BASE}/IncomingPhoneNumbers.json?PhoneNumber=%2B12125550000`));
    assert.deepEqual(none.incoming_phone_numbers, []);
    await app.close();
  });
});

void describe('message fetch and the developer inbox', () => {
  void test('fetch returns the message; an unknown SID is 404 20404', async () => {
    const app = buildTestApp();
    const [sid] = await sendAll(app, [{ To: CUSTOMER, From: OWNED_NUMBER, Body: 'fetch me' }]);
    assert.equal(json(await get(app, `${BASE}/Messages/${sid}.json`)).body, 'fetch me');
    const missing = await get(app, `${BASE}/Messages/SM${'0'.repeat(32)}.json`);
    assert.equal(missing.statusCode, 404);
    assert.equal(json(missing).code, 20404);
    await app.close();
  });

  void test('/inbox shows messages newest first as escaped HTML; /inbox.json as Twilio messages, filterable by to; no auth', async () => {
    const app = buildTestApp();
    await sendAll(app, [
      { To: CUSTOMER, From: OWNED_NUMBER, Body: 'first' },
      { To: CUSTOMER, From: OWNED_NUMBER, Body: '<script>alert(1)</script> second' },
    ]);
    const html = await app.inject({ url: '/inbox' });
    assert.equal(html.statusCode, 200);
    assert.match(String(html.headers['content-type']), /^text\/html/);
    assert.ok(!html.body.includes('<script>alert'), 'bodies are escaped');
    assert.ok(html.body.indexOf('&lt;script&gt;') < html.body.indexOf('<td>first</td>'), 'newest first');
    assert.ok(html.body.includes(CUSTOMER) && html.body.includes('1 GSM-7'));

    const inbox = (await app.inject({ url: '/inbox.json' })).json<{ balance: string; messages: { body: string; num_segments: string }[] }>();
    assert.deepEqual(inbox.messages.map((m) => m.body), ['<script>alert(1)</script> second', 'first']);
    assert.equal(inbox.balance, '14.985');
    await sendAll(app, [{ To: '+14155550199', From: OWNED_NUMBER, Body: 'Your code is 111222' }]);
    const latest = (await app.inject({ url: '/inbox.json?to=%2B14155550199&limit=1' })).json<{ messages: { body: string }[] }>();
    assert.deepEqual(latest.messages.map((m) => m.body), ['Your code is 111222']);
    await app.close();
  });
});

void test('latencyMs delays every API response, errors included', async () => {
  const app = buildTestApp({ latencyMs: 60 });
  for (const authorization of [undefined, 'Basic bad']) {
    const started = Date.now();
    const response = await get(app, `${BASE}/Balance.json`, authorization);
    assert.ok(Date.now() - started >= 55, `took ${Date.now() - started} ms`);
    assert.equal(response.statusCode, authorization ? 401 : 200);
  }
  await app.close();
});

void describe('memory', () => {
  void test('keeps at most maxMessages: the oldest are forgotten (404 on fetch), the newest stay', async () => {
    const app = buildTestApp({ maxMessages: 10 });
    const sids = await sendAll(app, Array.from({ length: 25 }, (_, i) => ({ To: CUSTOMER, From: OWNED_NUMBER, Body: `message ${i}` })));
    const kept = simulatorStateOf(app).messages();
    assert.ok(kept.length <= 10 && kept.length >= 9, `kept ${kept.length}`);
    assert.equal(kept[0]?.sid, sids[24], 'the newest is kept');
    assert.equal((await get(app, `${BASE}/Messages/${sids[0]}.json`)).statusCode, 404);
    assert.equal((await get(app, `${BASE}/Messages/${sids[24]}.json`)).statusCode, 200);
    await app.close();
  });
});
