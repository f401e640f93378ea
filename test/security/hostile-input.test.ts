// Hostile input on every route: fast-check builds requests from the OpenAPI document the app
// serves (each /api operation, signed in as who may call it) and for both Twilio webhooks (signed,
// so they get past the signature check): malformed and deeply nested JSON, wrong content types,
// bodies over the limit, wrong types, missing and extra fields, unicode tricks, SQL and template
// injection in every string, odd phone formats, hostile money amounts, non-id path parameters.
// Never a 500, never a stack trace or SQL in a body; a refusal is a 4xx whose message says what
// to fix. Prints the count of requests per status. HOSTILE_RUNS sets requests per operation.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import twilio from 'twilio';
import { sql } from 'drizzle-orm';
import { createSession, deviceOf } from '../../src/auth/sessions.ts';
import { rawRows } from '../../src/db/connection.ts';
import { buildApp } from '../../src/http/app.ts';
import { createTestContext, HeldClock, TEST_AUTH_TOKEN, type TestContext } from '../helpers/context.ts';
import { customer, type Customer } from '../helpers/customers.ts';
import { operations, validExample, type JsonSchema, type Operation } from './openapi-walk.ts';

const RUNS = Number(process.env.HOSTILE_RUNS ?? 40);
const SEED = Number(process.env.HOSTILE_SEED ?? Date.now() % 2 ** 31);
const PUBLIC_URL = 'https://bank.example.com';

let t: TestContext;
let app: FastifyInstance;
let client: Customer;
let staff: Customer;
let accountId: string;

before(async () => {
  t = await createTestContext({
    clock: new HeldClock('2026-11-25T15:00:00Z'),
    // Limits would turn later requests into 429s and hide what the input does.
    env: { PUBLIC_BASE_URL: PUBLIC_URL, LOGIN_IP_LIMIT: '0', REGISTER_IP_LIMIT: '0', CODE_IP_LIMIT: '0', CODE_NUMBER_LIMIT: '0', CODE_COUNTRY_HOURLY_LIMIT: '0' },
  });
  app = buildApp(t.ctx);
  client = await customer(t, 'fuzzy', '+14155550190');
  staff = await customer(t, 'fuzzstaff', '+14155550191', { isStaff: true });
  accountId = (await app.inject({ method: 'POST', url: '/api/accounts', headers: client.auth, payload: { currency: 'USD' } })).json<{ account: { id: string } }>().account.id;
});
after(async () => {
  await app.close();
  await t.close();
});

/**
 * Fresh sessions, unlocked: hostile bodies with a wrong current password lock the account (and
 * revoke its sessions) like any attacker's, which would turn every later request into a 401.
 */
async function signInAgain(): Promise<void> {
  for (const who of [client, staff]) {
    await rawRows(t.ctx.db, sql`delete from login_lockouts where user_id = ${who.user.id}`);
    await rawRows(t.ctx.db, sql`delete from login_failures where user_id = ${who.user.id}`);
    const { token } = await createSession(t.ctx.db, who.user.id, deviceOf('fuzz', who.user.username), t.ctx.clock.now());
    who.auth.authorization = `Bearer ${token}`;
  }
}

// ---- hostile values ----

const UNICODE_TRICKS = ['\u202Eevil\u202C', 'a\u200Bb\u200Dc\uFEFF', 'nul\u0000byte', '\uD800', 'lone \uDFFF low', '\u0000', 'e\u0301\u0301\u0301', '𝕌𝕟𝕚𝕔𝕠𝕕𝕖', '\u0085\u2028\u2029', 'İıſK'];
const INJECTION = [
  "' OR '1'='1", "'; DROP TABLE users; --", '" OR 1=1 --', "1; select pg_sleep(5)", "\\'; --", 'admin\'--',
  '{{7*7}}', '${7*7}', '#{7*7}', '<%= 7*7 %>', '{amount}{code}', '<script>alert(1)</script>', '%s%s%n', '../../../../etc/passwd',
  '{"$ne": null}', '__proto__', 'constructor', 'null', 'undefined', 'NaN',
];
const PHONES = ['+1 (415) 555-0100', '00 1 415 555 0100', '+', '++14155550100', 'tel:+14155550100', '+1415555010O', '１４１５５５５０１００', '٤١٥٥٥٥٠١٠٠', '+999999999999999999', '+447911123456', '415-555-01', '+1 415 555 0100 ext. 5', ''];
const AMOUNTS: unknown[] = [-1, 0, -0, 0.5, 1.0000001, 1e308, -1e308, 2 ** 53 + 2, 1e12 + 1, '100', '1e3', null, true, [], {}];
const ID_LIKE = ['-1', '0', '1e9', '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffffff', '%00', '..', '*', 'null', "' OR 1=1 --", 'x'.repeat(300), '😀', 'SM' + '0'.repeat(32)];

const surrogates = fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 4 });
const hostileString = fc.oneof(
  fc.constantFrom(...UNICODE_TRICKS, ...INJECTION, ...PHONES, ...ID_LIKE),
  fc.string({ unit: 'binary', maxLength: 40 }),
  surrogates,
  fc.string({ maxLength: 5 }).map((s) => s.repeat(5000)),
);
const hostileScalar: fc.Arbitrary<unknown> = fc.oneof(hostileString, fc.constantFrom(...AMOUNTS), fc.double(), fc.integer(), fc.boolean(), fc.constant(null));
const hostileValue: fc.Arbitrary<unknown> = fc.oneof({ weight: 4, arbitrary: hostileScalar }, { weight: 1, arbitrary: fc.array(hostileScalar, { maxLength: 3 }) }, { weight: 1, arbitrary: fc.dictionary(hostileString, hostileScalar, { maxKeys: 3 }) });

/** A body for a schema: its valid example with fields replaced, dropped or added, or no object at all. */
function hostileBody(schema: JsonSchema | undefined): fc.Arbitrary<unknown> {
  const base = (schema ? validExample(schema) : {}) as Record<string, unknown>;
  const fields = Object.keys(schema?.properties ?? {});
  const mutated = fc.record({
    replace: fields.length ? fc.uniqueArray(fc.constantFrom(...fields), { maxLength: fields.length }) : fc.constant([] as string[]),
    values: fc.array(hostileValue, { minLength: fields.length, maxLength: fields.length }),
    drop: fields.length ? fc.option(fc.constantFrom(...fields), { nil: undefined }) : fc.constant(undefined),
    extra: fc.option(fc.tuple(hostileString, hostileValue), { nil: undefined }),
  }).map(({ replace, values, drop, extra }) => {
    const body: Record<string, unknown> = { ...base };
    replace.forEach((field, i) => { body[field] = values[i]; });
    if (drop) delete body[drop];
    if (extra) body[extra[0]] = extra[1];
    return body;
  });
  return fc.oneof({ weight: 6, arbitrary: mutated }, { weight: 1, arbitrary: hostileValue });
}

/** Raw payloads: JSON that does not parse, nested far too deep, over the body limit, or not JSON at all. */
const rawPayload = fc.oneof(
  fc.constantFrom('{', '{"a":', '[1,2', '{"a":1}}', 'nul', '\u0000', '{"__proto__":{"isStaff":true}}', '{"constructor":{"prototype":{"x":1}}}', '1e400', '"\\ud800"', '{"a":"\\u0000"}'),
  fc.integer({ min: 1_000, max: 100_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc.integer({ min: 1_000, max: 20_000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
  fc.constant(`{"body":"${'x'.repeat(70 * 1024)}"}`),
);
const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/json; charset=latin1');

function pathWith(op: Operation, value: (name: string) => string): string {
  return op.path.replace(/\{([a-zA-Z]+)\}/g, (_m, name: string) => value(name));
}

/** A request for one operation: hostile body (JSON or raw), path parameters, query and Idempotency-Key. */
function hostileRequest(op: Operation): fc.Arbitrary<InjectOptions> {
  const pathNames = op.parameters.filter((p) => p.in === 'path').map((p) => p.name);
  const queryNames = op.parameters.filter((p) => p.in === 'query').map((p) => p.name);
  return fc.record({
    params: fc.array(fc.oneof(fc.constantFrom(...ID_LIKE, accountId), hostileString), { minLength: pathNames.length, maxLength: pathNames.length }),
    query: fc.array(fc.option(hostileScalar, { nil: undefined }), { minLength: queryNames.length, maxLength: queryNames.length }),
    body: op.body || op.method !== 'GET' ? fc.oneof({ weight: 5, arbitrary: hostileBody(op.body).map((b) => ({ json: b })) }, { weight: 2, arbitrary: fc.tuple(rawPayload, contentType).map(([raw, type]) => ({ raw, type })) }) : fc.constant(undefined),
    key: fc.oneof(fc.uuid(), hostileString, fc.constant(undefined)),
  }).map(({ params, query, body, key }) => {
    const url = new URL(`http://x${pathWith(op, (name) => encodeURIComponent(toText(params[pathNames.indexOf(name)])))}`);
    queryNames.forEach((name, i) => { if (query[i] !== undefined) url.searchParams.set(name, toText(query[i])); });
    const options: InjectOptions = { method: op.method, url: `${url.pathname}${url.search}`, headers: {} };
    if (key !== undefined) options.headers!['idempotency-key'] = latin1(key);
    if (body && 'json' in body) {
      options.payload = JSON.stringify(body.json) ?? 'null';
      options.headers!['content-type'] = 'application/json';
    } else if (body) {
      options.payload = body.raw;
      options.headers!['content-type'] = body.type;
    }
    return options;
  });
}

/** Header values are bytes: a string that cannot be one is sent as its UTF-8 bytes read as latin1. */
function latin1(value: string): string {
  return Buffer.from(value, 'utf8').toString('latin1').replace(/[\r\n\0]/g, ' ');
}

function toText(value: unknown): string {
  if (typeof value === 'string') return value.isWellFormed() ? value : value.toWellFormed();
  return JSON.stringify(value) ?? 'undefined';
}

/** Webhook forms, signed with the auth token over the public URL, so they reach the handlers. */
function hostileWebhook(path: string): fc.Arbitrary<InjectOptions> {
  const sid = fc.oneof(fc.constantFrom('SM' + 'a'.repeat(32), 'MM' + '0'.repeat(32)), hostileString);
  return fc.record({
    MessageSid: fc.option(sid, { nil: undefined }),
    MessageStatus: fc.option(fc.oneof(fc.constantFrom('delivered', 'failed', 'read', 'undelivered'), hostileString), { nil: undefined }),
    ErrorCode: fc.option(fc.oneof(fc.constantFrom('30003', '-1', '1e99', '99999999999999999999'), hostileString), { nil: undefined }),
    From: fc.option(fc.oneof(fc.constantFrom(...PHONES), hostileString), { nil: undefined }),
    To: fc.option(fc.oneof(fc.constantFrom('+15005550006', ...PHONES), hostileString), { nil: undefined }),
    Body: fc.option(fc.oneof(fc.constantFrom('STOP', 'start', 'HELP', ' stop\u200B', 'ＳＴＯＰ'), hostileString), { nil: undefined }),
    OptOutType: fc.option(fc.oneof(fc.constantFrom('STOP', 'START', 'HELP'), hostileString), { nil: undefined }),
    signed: fc.boolean(),
  }).map(({ signed, ...fields }) => {
    const params: Record<string, string> = {};
    for (const [name, value] of Object.entries(fields)) if (value !== undefined) params[name] = toText(value);
    const signature = signed ? twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, `${PUBLIC_URL}${path}`, params) : 'bogus';
    return { method: 'POST' as const, url: path, payload: new URLSearchParams(params).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature } };
  });
}

// ---- what every answer must look like ----

const STACK = /\n\s+at |\.ts:\d+|node:internal|file:\/\//;
// A statement's keywords stand within a clause of each other; prose in a listing (an "update on
// your identity check" and a "from" three templates later) is not SQL.
const SQL = /\b(select|insert|update|delete)\b[\s\S]{0,120}?\b(from|into|set|where)\b|syntax error|violates|duplicate key|relation "|column "|invalid byte sequence|invalid input syntax/i;
/** The database's libraries named in a refusal betray an internal error; a staff setup report names its engine on purpose. */
const DATABASE_INTERNALS = /drizzle|pg-boss|PGlite/i;

function problemWith(status: number, body: string, type: string): string | undefined {
  if (status >= 500) return `status ${status}`;
  if (STACK.test(body)) return 'a stack trace in the body';
  if (SQL.test(body) && !type.includes('xml')) return 'SQL or database text in the body';
  if (status >= 400 && DATABASE_INTERNALS.test(body)) return 'database internals named in a refusal';
  if (status >= 400) {
    let parsed: { error?: unknown; message?: unknown };
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      return 'a refusal that is not JSON';
    }
    if (typeof parsed.error !== 'string' || typeof parsed.message !== 'string' || parsed.message.length < 10) return 'a refusal without { error, message } saying what to fix';
  }
  return undefined;
}

/** Sends requests as who may call each route, and counts answers per status and every bad one. */
class Attack {
  readonly perStatus = new Map<number, number>();
  readonly failures: string[] = [];
  sent = 0;

  async send(name: string, auth: Operation['auth'] | undefined, request: InjectOptions): Promise<void> {
    if (auth === 'session' || auth === 'staff') {
      await signInAgain();
      request.headers = { ...request.headers, ...(auth === 'staff' ? staff.auth : client.auth) };
    }
    const res = await app.inject(request);
    this.sent++;
    this.perStatus.set(res.statusCode, (this.perStatus.get(res.statusCode) ?? 0) + 1);
    const problem = problemWith(res.statusCode, res.body, String(res.headers['content-type'] ?? ''));
    if (problem && this.failures.length < 20) {
      const url = typeof request.url === 'string' ? request.url : '';
      const payload = typeof request.payload === 'string' ? request.payload : JSON.stringify(request.payload ?? '');
      this.failures.push(`${name}: ${problem}\n    ${request.method} ${url} ${String(request.headers?.['content-type'] ?? '')} ${payload.slice(0, 200)}\n    -> ${res.statusCode} ${res.body.slice(0, 300)}`);
    }
  }

  report(what: string): void {
    const counts = [...this.perStatus].sort(([a], [b]) => a - b).map(([status, n]) => `${status}: ${n}`).join(', ');
    console.log(`${what}: ${this.sent} requests; per status ${counts}`);
    assert.deepEqual(this.failures, [], `${this.failures.length} bad answers (HOSTILE_SEED=${SEED} repeats them)`);
    assert.ok([...this.perStatus.keys()].some((s) => s >= 400 && s < 500), 'the hostile input was refused somewhere');
  }
}

/** Every trick in every field, one at a time: what random sampling could miss. */
const SWEEP = ['nul\u0000byte', '\uD800', '\u202Eevil', 'zero\u200Bwidth', "' OR '1'='1' --", '{{7*7}}${7*7}', 'x'.repeat(10_000)];

describe('hostile input on every route', () => {
  it(`random requests from the OpenAPI document: never a 500, a stack trace or SQL; 4xx that say what to fix (${RUNS} per operation, seed ${SEED})`, async () => {
    const ops = (await operations(app)).filter((op) => op.path.startsWith('/api/'));
    assert.ok(ops.length >= 40, `the OpenAPI document lists ${ops.length} /api operations`);
    const targets: { name: string; auth?: Operation['auth']; requests: fc.Arbitrary<InjectOptions> }[] = [
      ...ops.map((op) => ({ name: `${op.method} ${op.path}`, auth: op.auth, requests: hostileRequest(op) })),
      { name: 'POST /webhooks/twilio/status', requests: hostileWebhook('/webhooks/twilio/status') },
      { name: 'POST /webhooks/twilio/inbound', requests: hostileWebhook('/webhooks/twilio/inbound') },
    ];
    const attack = new Attack();
    for (const [i, target] of targets.entries()) {
      for (const request of fc.sample(target.requests, { numRuns: RUNS, seed: SEED + i })) await attack.send(target.name, target.auth, request);
    }
    attack.report(`hostile input, random: ${targets.length} operations, seed ${SEED}`);
  });

  it('each trick in each body field, path and query parameter and webhook field, one at a time', async () => {
    const attack = new Attack();
    for (const op of (await operations(app)).filter((o) => o.path.startsWith('/api/'))) {
      const base = (op.body ? validExample(op.body) : undefined) as Record<string, unknown> | undefined;
      const path = pathWith(op, (name) => (name === 'id' ? accountId : name === 'language' ? 'en' : name === 'channel' ? 'sms' : 'transaction'));
      const fields = Object.keys(op.body?.properties ?? {});
      for (const value of SWEEP) {
        for (const field of fields) {
          await attack.send(`${op.method} ${op.path} ${field}`, op.auth, { method: op.method, url: path, headers: { 'idempotency-key': crypto.randomUUID() }, payload: { ...base, [field]: value } });
        }
        for (const param of op.parameters.filter((p) => p.in !== 'header')) {
          const url = param.in === 'path'
            ? pathWith(op, (name) => encodeURIComponent((name === param.name ? value : 'x').toWellFormed()))
            : `${path}?${new URLSearchParams({ [param.name]: value.toWellFormed() }).toString()}`;
          await attack.send(`${op.method} ${op.path} ${param.name}`, op.auth, { method: op.method, url, headers: { 'idempotency-key': crypto.randomUUID() }, ...(base ? { payload: base } : {}) });
        }
      }
    }
    for (const path of ['/webhooks/twilio/status', '/webhooks/twilio/inbound']) {
      for (const value of SWEEP) {
        for (const field of ['MessageSid', 'MessageStatus', 'ErrorCode', 'From', 'To', 'Body', 'OptOutType']) {
          const params: Record<string, string> = { MessageSid: `SM${'b'.repeat(32)}`, MessageStatus: 'delivered', From: '+14155550190', To: '+15005550006', Body: 'HELP', [field]: value.toWellFormed() };
          const signature = twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, `${PUBLIC_URL}${path}`, params);
          await attack.send(`POST ${path} ${field}`, undefined, { method: 'POST', url: path, payload: new URLSearchParams(params).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature } });
        }
      }
    }
    attack.report(`hostile input, every field: ${SWEEP.length} tricks`);
  });
});
