// Twilio's own published signature test vectors, run through the webhook guard the bank's routes
// use (src/http/twilio-webhooks.ts guardTwilioWebhooks: body parsing, PUBLIC_BASE_URL + path,
// form parameters or bodySHA256), with real HTTP requests (inject) and the real database.
//
// Source of every vector: twilio/twilio-node, spec/validation.spec.js ("Request validation"),
// https://github.com/twilio/twilio-node/blob/main/spec/validation.spec.js (auth token "12345",
// URL https://mycompany.com/myapp.php?foo=1&bar=2, the CallSid/Caller/Digits/From/To form).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from '../../src/config.ts';
import { guardTwilioWebhooks } from '../../src/http/twilio-webhooks.ts';
import { createTestContext, type TestContext } from '../helpers/context.ts';

const TOKEN = '12345';
const PATH = '/myapp.php?foo=1&bar=2';
const FORM = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234', From: '+14158675309', To: '+18005551212' };
const FORM_SIGNATURE = 'RSOYDt4T1cUTdK1PDd93/VVr8B8=';
const JSON_BODY = '{"property": "value", "boolean": true}';
const JSON_SHA = '0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620';
const EMPTY_SHA = '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

interface Vector {
  name: string;
  publicBaseUrl: string;
  path: string;
  signature: string;
  form?: Record<string, string | string[]>;
  json?: string;
  accepted: boolean;
}

const VECTORS: Vector[] = [
  { name: 'the documented form signature', publicBaseUrl: 'https://mycompany.com', path: PATH, form: FORM, signature: FORM_SIGNATURE, accepted: true },
  { name: 'a wrong signature', publicBaseUrl: 'https://mycompany.com', path: PATH, form: FORM, signature: 'WRONG_SIGNATURE', accepted: false },
  { name: 'a JSON body with bodySHA256', publicBaseUrl: 'https://mycompany.com', path: `${PATH}&bodySHA256=${JSON_SHA}`, json: JSON_BODY, signature: 'a9nBmqA0ju/hNViExpshrM61xv4=', accepted: true },
  { name: 'an empty JSON body with bodySHA256', publicBaseUrl: 'https://mycompany.com', path: `${PATH}&bodySHA256=${EMPTY_SHA}`, json: '{}', signature: 'Ldidvp12m26NI7eqEvxnEpkd9Hc=', accepted: true },
  { name: 'a JSON body with bodySHA256 as the only query parameter', publicBaseUrl: 'https://mycompany.com', path: `/myapp.php?bodySHA256=${JSON_SHA}`, json: JSON_BODY, signature: 'y77kIzt2vzLz71DgmJGsen2scGs=', accepted: true },
  { name: 'a JSON body whose hash does not match (bodySHA256 cut short)', publicBaseUrl: 'https://mycompany.com', path: `${PATH}&bodySHA256=${JSON_SHA.slice(0, -1)}`, json: JSON_BODY, signature: 'a9nBmqA0ju/hNViExpshrM61xv4=', accepted: false },
  { name: 'a JSON body without bodySHA256', publicBaseUrl: 'https://mycompany.com', path: PATH, json: JSON_BODY, signature: FORM_SIGNATURE, accepted: false },
  { name: 'an https URL with a port (signed without it)', publicBaseUrl: 'https://mycompany.com:1234', path: PATH, form: FORM, signature: FORM_SIGNATURE, accepted: true },
  { name: 'an http URL with a port', publicBaseUrl: 'http://mycompany.com:1234', path: PATH, form: FORM, signature: 'Zmvh+3yNM1Phv2jhDCwEM3q5ebU=', accepted: true },
  { name: 'an https URL signed with :443', publicBaseUrl: 'https://mycompany.com', path: PATH, form: FORM, signature: 'kvajT1Ptam85bY51eRf/AJRuM3w=', accepted: true },
  { name: 'an http URL signed with :80', publicBaseUrl: 'http://mycompany.com', path: PATH, form: FORM, signature: '0ZXoZLH/DfblKGATFgpif+LLRf4=', accepted: true },
  { name: "a query string with special characters (It's+amazing)", publicBaseUrl: 'https://mycompany.com', path: `${PATH}&Body=It's+amazing`, form: FORM, signature: 'dsq4Ehbj6cs+KdTkpF5sSSplOWw=', accepted: true },
  { name: 'a repeated form parameter', publicBaseUrl: 'https://mycompany.com', path: PATH, form: { 'MessagingBinding.Address': ['+1325xxxxxxx', '+1415xxxxxxx'] }, signature: '83O6e2vORAoJHUNzJjDWN1jz+BA=', accepted: true },
  { name: 'a repeated form parameter in another order', publicBaseUrl: 'https://mycompany.com', path: PATH, form: { 'MessagingBinding.Address': ['+1415xxxxxxx', '+1325xxxxxxx'] }, signature: '83O6e2vORAoJHUNzJjDWN1jz+BA=', accepted: true },
  { name: 'several parameters and values', publicBaseUrl: 'https://mycompany.com', path: PATH, form: { Sid: 'CA123', SidAccount: 'AC123', Digits: ['5678', '1234', '1234'] }, signature: 'IK+Dwps556ElfBT0I3Rgjkr1wJU=', accepted: true },
  { name: 'an extra query parameter the signature does not cover', publicBaseUrl: 'https://mycompany.com', path: `${PATH}&somethingUnexpected=true`, form: FORM, signature: FORM_SIGNATURE, accepted: false },
];

function formBody(form: Record<string, string | string[]>): string {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(form)) for (const v of [value].flat()) body.append(name, v);
  return body.toString();
}

let t: TestContext;
before(async () => {
  t = await createTestContext();
});
after(() => t.close());

/** A server whose /myapp.php is guarded exactly as the bank's webhook routes are. */
async function guardedApp(publicBaseUrl: string): Promise<FastifyInstance> {
  const config: Config = { ...t.config, publicBaseUrl, twilio: { ...t.config.twilio, authToken: TOKEN, previousAuthToken: undefined } };
  const app = Fastify();
  await app.register(async (scope) => {
    guardTwilioWebhooks(scope, { config, db: t.ctx.db, clock: t.ctx.clock });
    scope.post('/myapp.php', async () => ({ accepted: true }));
  });
  return app;
}

describe("Twilio's signature vectors (twilio-node spec/validation.spec.js) through the webhook guard", () => {
  for (const vector of VECTORS) {
    it(`${vector.accepted ? 'accepts' : 'refuses'} ${vector.name}`, async () => {
      const app = await guardedApp(vector.publicBaseUrl);
      const res = await app.inject({
        method: 'POST',
        url: vector.path,
        headers: {
          'x-twilio-signature': vector.signature,
          'content-type': vector.json !== undefined ? 'application/json' : 'application/x-www-form-urlencoded',
        },
        payload: vector.json ?? formBody(vector.form ?? {}),
      });
      assert.equal(res.statusCode, vector.accepted ? 200 : 403, res.body);
      await app.close();
    });
  }
});

describe('behind a proxy', () => {
  it('checks against PUBLIC_BASE_URL, whatever Host and X-Forwarded-* the proxy passes on', async () => {
    const app = await guardedApp('https://mycompany.com');
    const send = (headers: Record<string, string>) => app.inject({
      method: 'POST', url: PATH, payload: formBody(FORM),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': FORM_SIGNATURE, ...headers },
    });
    // The proxy reaches the app over plain HTTP on an internal name and port: still Twilio's URL.
    assert.equal((await send({ host: '10.0.0.5:8000', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'internal.local' })).statusCode, 200);
    // A caller cannot make a signature for another URL count by claiming that host.
    const forged = await guardedApp('https://mycompany.com');
    const other = await forged.inject({
      method: 'POST', url: PATH, payload: formBody(FORM),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'Zmvh+3yNM1Phv2jhDCwEM3q5ebU=', host: 'mycompany.com:1234', 'x-forwarded-proto': 'http' },
    });
    assert.equal(other.statusCode, 403, 'a signature of http://mycompany.com:1234 is not one of https://mycompany.com');
    await app.close();
    await forged.close();
  });
});
