// The official twilio SDK, unchanged except for its base URL, against a listening simulator:
// what the bank's provider does in simulator mode.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import twilio from 'twilio';
import { startSimulator } from '../../src/simulator/index.ts';
import type { Simulator } from '../../src/simulator/index.ts';
import { ACCOUNT_SID, API_KEY, CUSTOMER, OWNED_NUMBER, SECOND_NUMBER, sdkClient, testOptions, waitFor } from './fixture.ts';

void describe('the twilio SDK against startSimulator', () => {
  let sim: Simulator;
  let client: twilio.Twilio;

  before(async () => {
    sim = await startSimulator({ ...testOptions(), port: 0 });
    client = sdkClient(sim.url);
  });
  after(() => sim.close());

  void test('listens on 127.0.0.1 at a random port, URL without trailing slash', () => {
    assert.match(sim.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  void test('messages.create, then fetch until delivered; the inbox and balance follow', async () => {
    const created = await client.messages.create({ to: CUSTOMER, from: OWNED_NUMBER, body: 'Your DominionTrust code is 482913' });
    assert.match(created.sid, /^SM[0-9a-f]{32}$/);
    assert.equal(created.status, 'queued');
    assert.equal(created.numSegments, '1');
    assert.ok(created.dateCreated instanceof Date && !Number.isNaN(created.dateCreated.getTime()), 'SDK parses the RFC 2822 date');
    const delivered = await waitFor(async () => {
      const m = await client.messages(created.sid).fetch();
      return m.status === 'delivered' ? m : undefined;
    });
    assert.equal(delivered.price, '-0.00750');
    assert.ok(delivered.dateSent instanceof Date);
    assert.equal(sim.messages()[0]?.sid, created.sid);
    assert.equal(sim.messages()[0]?.body, 'Your DominionTrust code is 482913');
    const balance = await client.balance.fetch();
    assert.equal(Number(balance.balance), sim.balance());
    assert.equal(balance.currency, 'USD');
  });

  void test('list() follows next_page_uri across pages; filters reach the simulator', async () => {
    for (let i = 0; i < 5; i++) await client.messages.create({ to: '+14155550123', from: SECOND_NUMBER, body: `bulk ${i}` });
    const listed = await client.messages.list({ to: '+14155550123', pageSize: 2 });
    assert.deepEqual(listed.map((m) => m.body), ['bulk 4', 'bulk 3', 'bulk 2', 'bulk 1', 'bulk 0']);
    const limited = await client.messages.list({ from: SECOND_NUMBER, pageSize: 2, limit: 3 });
    assert.equal(limited.length, 3);
    await waitFor(() => (sim.messages().every((m) => m.status === 'delivered') ? true : undefined));
    const sentRecently = await client.messages.list({ dateSentAfter: new Date(Date.now() - 60_000), to: '+14155550123' });
    assert.equal(sentRecently.length, 5);
  });

  void test('account, incoming phone numbers and errors come through as the SDK expects', async () => {
    const account = await client.api.v2010.accounts(ACCOUNT_SID).fetch();
    assert.equal(account.status, 'active');
    assert.equal(account.friendlyName, 'DominionTrust Simulator');
    const numbers = await client.incomingPhoneNumbers.list({ phoneNumber: OWNED_NUMBER });
    assert.deepEqual(numbers.map((n) => [n.phoneNumber, n.capabilities.sms]), [[OWNED_NUMBER, true]]);

    await assert.rejects(client.messages.create({ to: 'not-a-number', from: OWNED_NUMBER, body: 'x' }), (error: unknown) => {
      assert.ok(error instanceof twilio.RestException);
      assert.equal(error.status, 400);
      assert.equal(error.code, 21211);
      assert.equal(error.moreInfo, 'https://www.twilio.com/docs/errors/21211');
      return true;
    });
    await assert.rejects(sdkClient(sim.url, ACCOUNT_SID, 'wrong-token').balance.fetch(), { status: 401, code: 20003 });
    await assert.rejects(client.messages(`SM${'0'.repeat(32)}`).fetch(), { status: 404, code: 20404 });
  });

  void test('an API key client (key SID + secret, account SID given) can send', async () => {
    const keyClient = sdkClient(sim.url, API_KEY.sid, API_KEY.secret);
    const message = await keyClient.messages.create({ to: CUSTOMER, messagingServiceSid: `MG${'2'.repeat(32)}`, body: 'via API key' });
    assert.equal(message.from, OWNED_NUMBER);
    assert.equal(message.status, 'accepted');
  });

  void test('setBalance empties the account; the SDK then sees 20005', async () => {
    sim.setBalance(0);
    await assert.rejects(client.messages.create({ to: CUSTOMER, from: OWNED_NUMBER, body: 'x' }), { code: 20005 });
    sim.setBalance(15);
  });
});

void test('close() is safe to call twice and frees the port', async () => {
  const sim = await startSimulator({ ...testOptions(), port: 0 });
  await sim.close();
  await sim.close();
  await assert.rejects(fetch(`${sim.url}/inbox.json`));
});
