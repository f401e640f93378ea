// Customer replies at the simulator: POST /dev/reply posts a signed inbound webhook (checked
// here with the SDK's validateRequest, as a real receiver would), texts back the TwiML
// <Message>, and handles STOP / START as Twilio does on long codes (21610 in between).
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import twilio from 'twilio';
import { simulatorStateOf } from '../../src/simulator/index.ts';
import { TWILIO_OPT_IN_REPLY, TWILIO_OPT_OUT_REPLY, twimlMessages } from '../../src/simulator/replies.ts';
import { AUTH_TOKEN, buildTestApp, createMessage, CUSTOMER, OWNED_NUMBER, SECOND_NUMBER } from './fixture.ts';

interface Received {
  params: Record<string, string>;
  signatureValid: boolean;
}

async function readBody(request: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of request) body += String(chunk);
  return body;
}

describe('customer replies at the simulator', () => {
  const received: Received[] = [];
  let answer = '<Response/>';
  let webhookUrl = '';
  const receiver = createServer((request, response) => {
    void readBody(request).then((body) => {
      const params = Object.fromEntries(new URLSearchParams(body));
      const signature = String(request.headers['x-twilio-signature'] ?? '');
      received.push({ params, signatureValid: twilio.validateRequest(AUTH_TOKEN, signature, webhookUrl, params) });
      response.writeHead(200, { 'content-type': 'text/xml' }).end(answer);
    });
  });
  before(async () => {
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/twilio/inbound?source=sim`;
  });
  after(() => new Promise((resolve) => receiver.close(resolve)));

  function reply(app: ReturnType<typeof buildTestApp>, form: Record<string, string>, accept = 'application/json') {
    return app.inject({
      method: 'POST', url: '/dev/reply',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept },
      payload: new URLSearchParams(form).toString(),
    });
  }

  it('posts a signed webhook and texts back the TwiML message', async () => {
    const app = buildTestApp({ inboundWebhookUrl: webhookUrl });
    answer = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Balance &amp; help: call us</Message></Response>';
    const response = await reply(app, { From: CUSTOMER, To: SECOND_NUMBER, Body: 'Hello bank' });
    assert.equal(response.statusCode, 201);
    const body = response.json<{ sid: string; webhook: { status: number }; replies: string[] }>();
    assert.equal(body.webhook.status, 200);
    assert.deepEqual(body.replies, ['Balance & help: call us']);
    const last = received.at(-1);
    assert.ok(last?.signatureValid, 'X-Twilio-Signature validates over the URL (query included) and the parameters');
    assert.equal(last.params.From, CUSTOMER);
    assert.equal(last.params.To, SECOND_NUMBER);
    assert.equal(last.params.Body, 'Hello bank');
    assert.equal(last.params.MessageSid, body.sid);
    assert.match(body.sid, /^SM[0-9a-f]{32}$/);
    const texted = simulatorStateOf(app).messages()[0];
    assert.equal(texted?.to, CUSTOMER);
    assert.equal(texted?.from, SECOND_NUMBER);
    assert.equal(texted?.body, 'Balance & help: call us');
    await app.close();
  });

  it('STOP blocks that number for the customer with 21610 until START; Twilio confirms both', async () => {
    const app = buildTestApp({ inboundWebhookUrl: webhookUrl });
    answer = '<Response/>';
    const first = await createMessage(app, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'DominionTrust: alert' });
    assert.equal(first.statusCode, 201);
    // Without To, the reply goes to the number that last texted the customer.
    const stop = await reply(app, { From: CUSTOMER, Body: ' stop ' });
    assert.deepEqual(stop.json<{ to: string; replies: string[] }>(), { ...stop.json(), to: OWNED_NUMBER, replies: [TWILIO_OPT_OUT_REPLY] });
    assert.equal(received.at(-1)?.params.Body, ' stop ', 'the bank still gets the STOP');
    const blocked = await createMessage(app, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'DominionTrust: blocked' });
    assert.equal(blocked.statusCode, 400);
    assert.equal(blocked.json<{ code: number }>().code, 21610);
    // Opt-outs are per sender number, as on Twilio.
    assert.equal((await createMessage(app, { To: CUSTOMER, From: SECOND_NUMBER, Body: 'DominionTrust: other number' })).statusCode, 201);
    const start = await reply(app, { From: CUSTOMER, To: OWNED_NUMBER, Body: 'START' });
    assert.deepEqual(start.json<{ replies: string[] }>().replies, [TWILIO_OPT_IN_REPLY]);
    assert.equal((await createMessage(app, { To: CUSTOMER, From: OWNED_NUMBER, Body: 'DominionTrust: again' })).statusCode, 201);
    await app.close();
  });

  it('refuses bad input with what to fix, and works without a webhook', async () => {
    const app = buildTestApp();
    const noFrom = await reply(app, { From: '4155552671', Body: 'hi' });
    assert.equal(noFrom.statusCode, 400);
    assert.match(noFrom.json<{ message: string }>().message, /E\.164/);
    const notOurs = await reply(app, { From: CUSTOMER, To: '+14155559999', Body: 'hi' });
    assert.equal(notOurs.statusCode, 400);
    assert.match(notOurs.json<{ message: string }>().message, /one of the account's numbers/);
    assert.equal((await reply(app, { From: CUSTOMER, Body: '  ' })).statusCode, 400);
    const kept = await reply(app, { From: CUSTOMER, Body: 'anyone there?' });
    assert.equal(kept.statusCode, 201);
    assert.match(kept.json<{ webhook: { error: string } }>().webhook.error, /no inbound webhook URL/);
    assert.equal(simulatorStateOf(app).replies()[0]?.body, 'anyone there?');
    // curl -d From=+1... sends the plus unencoded, which a form reads as a space.
    const unencoded = await app.inject({
      method: 'POST', url: '/dev/reply', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'From=+14155552671&Body=STOP',
    });
    assert.equal(unencoded.statusCode, 201);
    assert.equal(unencoded.json<{ from: string }>().from, CUSTOMER);
    await app.close();
  });

  it('the inbox has a reply box, lists replies, and a form post returns to it', async () => {
    const app = buildTestApp({ inboundWebhookUrl: webhookUrl });
    answer = '<Response/>';
    const posted = await reply(app, { From: CUSTOMER, Body: 'HELP <me>' }, 'text/html,application/xhtml+xml');
    assert.equal(posted.statusCode, 303);
    assert.equal(posted.headers.location, '/inbox');
    const html = (await app.inject({ url: '/inbox' })).body;
    assert.match(html, /<form method="post" action="\/dev\/reply"/);
    assert.match(html, /HELP &lt;me&gt;/);
    assert.match(html, /webhook 200/);
    await app.close();
  });

  it('reads <Message> texts from TwiML, nested <Body> included', () => {
    assert.deepEqual(twimlMessages('<Response><Message to="+1"><Body>one</Body></Message><Message>two &lt;3</Message><Message/></Response>'), ['one', 'two <3']);
    assert.deepEqual(twimlMessages('<Response></Response>'), []);
  });
});
