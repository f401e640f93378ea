// The attacks a bank is audited for, through the real HTTP layer on a real database with the real
// Twilio SDK talking to the simulator: guessing SMS codes, abusing resends, telling usernames
// apart, replaying a dead session, reaching another customer's data by id, staff routes with a
// customer token, the CLI's loopback endpoint from outside. Routes are walked from the served
// OpenAPI document, so a route added later is attacked too. Each test prints what it tried.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { createUser } from '../../src/users/users.ts';
import { createTestContext, eventually, HeldClock, type TestContext } from '../helpers/context.ts';
import { operations, validExample } from './openapi-walk.ts';
import { codeIn, customer, inbox, nextSms, PASSWORD, signIn, wrong, type Customer } from '../helpers/customers.ts';

const clock = new HeldClock('2026-11-25T15:00:00Z');
const ADMIN_TOKEN = 'auth-attacks-admin-token-0123456789abcdef';
let t: TestContext;
let app: FastifyInstance;
let phoneSeq = 6000;

before(async () => {
  // The per-IP limits are attacked in trust-proxy.test.ts; here one test client tries many accounts.
  // Passwords hashed at the production cost: the enumeration timing must be measured as deployed,
  // not at the suite's cheap test cost where database work outweighs the hash.
  t = await createTestContext({ clock, env: { CODE_IP_LIMIT: '0', LOGIN_IP_LIMIT: '0', CODE_NUMBER_LIMIT: '0', PASSWORD_HASH_COST: '15', CODE_SEND_WAIT_MS: '1500' } });
  await startWorker(t.ctx);
  app = buildApp(t.ctx, { adminToken: ADMIN_TOKEN });
});
after(async () => {
  await app.close();
  await t.close();
});

async function newCustomer(username: string): Promise<string> {
  const phone = `+1415555${phoneSeq++}`;
  await createUser(t.ctx, { username, password: PASSWORD, phone });
  return phone;
}

const post = (url: string, payload: object, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, payload, headers: { 'user-agent': 'DominionApp/1.0', ...headers } });

async function loginCode(username: string, phone: string): Promise<{ challengeId: string; code: string }> {
  const seen = inbox(t, phone).length;
  const res = await post('/api/login', { username, password: PASSWORD });
  assert.equal(res.statusCode, 200, res.body);
  return { challengeId: res.json<{ challengeId: string }>().challengeId, code: codeIn(await nextSms(t, phone, seen, /login code is/, 'the login code')) };
}

describe('SMS code attacks', () => {
  it('brute force: the 6th guess is refused even when right, the lockout SMS goes, and sign-in stays locked', async () => {
    const phone = await newCustomer('brutus');
    const { challengeId, code } = await loginCode('brutus', phone);
    const seen = inbox(t, phone).length;
    const statuses: number[] = [];
    for (let i = 1; i <= 5; i++) statuses.push((await post('/api/login/verify', { challengeId, code: wrong(code) })).statusCode);
    const sixth = await post('/api/login/verify', { challengeId, code });
    statuses.push(sixth.statusCode);
    console.log(`brute force: 5 wrong codes then the right one answered ${statuses.join(', ')}`);
    assert.deepEqual(statuses, [400, 400, 400, 400, 423, 429]);
    assert.equal(sixth.json<{ token?: string }>().token, undefined, 'no session for the sixth guess');
    assert.match(await nextSms(t, phone, seen, /locked/, 'the lockout SMS'), /^DominionTrust: online banking is locked/);
    assert.equal((await post('/api/login', { username: 'brutus', password: PASSWORD })).statusCode, 423);
  });

  it('resend abuse: nothing within 30 s, at most 3 resends in 10 minutes, each replacing the last code', async () => {
    const phone = await newCustomer('resendy');
    const { challengeId: firstChallenge, code: first } = await loginCode('resendy', phone);
    let challengeId = firstChallenge;
    const statuses: number[] = [(await post('/api/login/resend', { challengeId })).statusCode];
    for (let i = 0; i < 4; i++) {
      clock.advance(31_000);
      const res = await post('/api/login/resend', { challengeId });
      statuses.push(res.statusCode);
      if (res.statusCode === 200) challengeId = res.json<{ challengeId: string }>().challengeId;
    }
    const sent = await eventually(() => (inbox(t, phone).filter((b) => /login code is/.test(b)).length >= 4 ? inbox(t, phone).filter((b) => /login code is/.test(b)) : undefined), 10_000, '4 codes');
    console.log(`resend abuse: 5 resends answered ${statuses.join(', ')}; ${sent.length} code SMS in all`);
    assert.deepEqual(statuses, [429, 200, 200, 200, 429]);
    assert.equal(sent.length, 4, 'the first code and 3 resends, no more');
    const latest = codeIn(sent.at(-1)!);
    assert.equal((await post('/api/login/verify', { challengeId: firstChallenge, code: first })).statusCode, 410, 'the replaced code no longer works');
    assert.equal((await post('/api/login/verify', { challengeId, code: latest })).statusCode, 200);
  });
});

describe('username enumeration', () => {
  it('an unknown username and a wrong password get the same answer in similar time', async () => {
    // Each real account takes 4 wrong passwords (the 5th would lock it, a different answer).
    const names = ['enum0', 'enum1', 'enum2'];
    for (const name of names) await newCustomer(name);
    const time = async (username: string) => {
      const started = process.hrtime.bigint();
      const res = await post('/api/login', { username, password: 'not the password, surely' });
      return { ms: Number(process.hrtime.bigint() - started) / 1e6, status: res.statusCode, body: res.body };
    };
    await time('warm-up-unknown');
    const known: number[] = [];
    const unknown: number[] = [];
    const bodies = new Set<string>();
    for (let round = 0; round < 3; round++) {
      for (const name of names) {
        const a = await time(name);
        const b = await time(`${name}-nobody-${round}`);
        assert.equal(a.status, 401);
        assert.equal(b.status, 401);
        bodies.add(a.body).add(b.body);
        known.push(a.ms);
        unknown.push(b.ms);
      }
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const ratio = median(unknown) / median(known);
    console.log(`enumeration: ${known.length} wrong passwords, median ${median(known).toFixed(1)} ms; ${unknown.length} unknown users, median ${median(unknown).toFixed(1)} ms; ratio ${ratio.toFixed(2)}`);
    assert.equal(bodies.size, 1, 'one answer for both');
    assert.ok(ratio > 0.5 && ratio < 2, `an unknown username must take about as long as a wrong password (ratio ${ratio.toFixed(2)})`);
  });
});

describe('dead sessions', () => {
  it('a token stops working after logout, after a password change (other sessions), and after a lockout', async () => {
    const phone = await newCustomer('sessy');
    const loggedOut = (await signIn(t, app, { username: 'sessy', phone })).token;
    assert.equal((await app.inject({ method: 'POST', url: '/api/logout', headers: { authorization: `Bearer ${loggedOut}` } })).statusCode, 204);

    const stolen = (await signIn(t, app, { username: 'sessy', phone, deviceId: 'laptop' })).token;
    const own = (await signIn(t, app, { username: 'sessy', phone, deviceId: 'phone' })).token;
    const changed = await app.inject({ method: 'POST', url: '/api/password', headers: { authorization: `Bearer ${own}` }, payload: { currentPassword: PASSWORD, newPassword: 'a brand new passphrase 42' } });
    assert.equal(changed.statusCode, 200, changed.body);

    const lockedPhone = await newCustomer('locky');
    const beforeLock = (await signIn(t, app, { username: 'locky', phone: lockedPhone })).token;
    for (let i = 0; i < 5; i++) await post('/api/login', { username: 'locky', password: 'attacker guesses wrong' });

    const probe = async (token: string) => (await app.inject({ url: '/api/accounts', headers: { authorization: `Bearer ${token}` } })).statusCode;
    const results = { afterLogout: await probe(loggedOut), afterPasswordChange: await probe(stolen), changerOwn: await probe(own), afterLockout: await probe(beforeLock) };
    console.log(`dead sessions: ${JSON.stringify(results)}`);
    assert.deepEqual(results, { afterLogout: 401, afterPasswordChange: 401, changerOwn: 200, afterLockout: 401 });
  });
});

describe("another customer's resources", () => {
  let owner: Customer;
  let intruder: Customer;
  let staff: Customer;
  const ids: Record<string, string> = {};

  before(async () => {
    owner = await customer(t, 'owner', '+14155556901');
    intruder = await customer(t, 'intruder', '+14155556902');
    staff = await customer(t, 'teller', '+14155556903', { isStaff: true });
    const asOwner = (options: InjectOptions) => app.inject({ ...options, headers: { ...owner.auth, ...options.headers } });
    const account = (await asOwner({ method: 'POST', url: '/api/accounts', payload: { currency: 'USD' } })).json<{ account: { id: string } }>().account;
    const savings = (await asOwner({ method: 'POST', url: '/api/accounts', payload: { currency: 'USD' } })).json<{ account: { id: string } }>().account;
    ids.accounts = account.id;
    await app.inject({ method: 'POST', url: `/api/accounts/${account.id}/deposits`, headers: { ...staff.auth, 'idempotency-key': randomUUID() }, payload: { amountMinor: 500_000, currency: 'USD' } });
    const pending = await asOwner({ method: 'POST', url: '/api/transfers', headers: { 'idempotency-key': randomUUID() }, payload: { fromAccountId: account.id, toAccountId: savings.id, amountMinor: 200_000, currency: 'USD' } });
    assert.equal(pending.statusCode, 202, pending.body);
    ids.transfers = pending.json<{ id: string }>().id;
    ids.cards = (await asOwner({ method: 'POST', url: '/api/cards', payload: { accountId: account.id } })).json<{ card: { id: string } }>().card.id;
    const kyc = await asOwner({ method: 'POST', url: '/api/kyc', payload: { fullName: 'Owen Owner', dateOfBirth: '1980-01-02', documentType: 'passport', documentNumber: 'P1234567', address: '1 Main St, Springfield' } });
    ids.kyc = kyc.json<{ submission: { id: string } }>().submission.id;
    await signIn(t, app, { username: 'owner', phone: owner.phone, deviceId: 'owner-phone' });
    ids.devices = (await asOwner({ url: '/api/devices' })).json<{ devices: { id: string }[] }>().devices[0]!.id;
    ids.messages = await eventually(async () => (await asOwner({ url: '/api/messages' })).json<{ messages: { id: string }[] }>().messages[0]?.id, 10_000, "the owner's first message");
    for (const [kind, id] of Object.entries(ids)) assert.ok(id, `the owner has a ${kind} id`);
  });

  it('every customer route with an id answers the same 404 for the owner\'s id as for a missing one, and changes nothing', async () => {
    const routes = (await operations(app)).filter((op) => op.auth === 'session' && op.path.includes('{id}'));
    assert.ok(routes.length >= 12, `found ${routes.length} customer routes with an id`);
    const lines: string[] = [];
    for (const route of routes) {
      const kind = route.path.split('/')[2]!;
      const id = ids[kind];
      assert.ok(id, `no owner's ${kind} id to attack ${route.method} ${route.path} with: add one to this test`);
      const call = (value: string) => app.inject({
        method: route.method, url: route.path.replace('{id}', value),
        headers: { ...intruder.auth, 'idempotency-key': randomUUID() }, ...(route.body ? { payload: validExample(route.body) as object } : {}),
      });
      const theirs = await call(id);
      const missing = await call(randomUUID());
      lines.push(`${route.method} ${route.path}: ${theirs.statusCode}`);
      assert.equal(theirs.statusCode, 404, `${route.method} ${route.path} with another customer's id: ${theirs.body}`);
      assert.deepEqual(theirs.json<{ error: string }>().error, missing.json<{ error: string }>().error, `${route.method} ${route.path}`);
      assert.equal(theirs.json<{ message: string }>().message.replace(id, '<id>'), missing.json<{ message: string }>().message.replace(/[0-9a-f-]{36}/, '<id>'));
    }
    console.log(`another customer's ids: ${lines.length} routes, all 404 like a missing id\n  ${lines.join('\n  ')}`);
    const asOwner = (url: string) => app.inject({ url, headers: owner.auth });
    assert.equal((await asOwner(`/api/cards/${ids.cards}`)).json<{ card: { status: string } }>().card.status, 'active', "the intruder's block did nothing");
    assert.equal((await asOwner(`/api/transfers/${ids.transfers}`)).json<{ status: string }>().status, 'awaiting_confirmation', "the intruder's cancel did nothing");
    assert.equal((await asOwner('/api/devices')).json<{ devices: unknown[] }>().devices.length, 1, "the intruder's forget did nothing");
  });

  it('every staff route refuses a customer token (403) and no token (401)', async () => {
    const routes = (await operations(app)).filter((op) => op.auth === 'staff');
    assert.ok(routes.length >= 9, `found ${routes.length} staff routes`);
    for (const route of routes) {
      const url = route.path.replace('{id}', ids.kyc!).replace('{type}', 'transaction').replace('{language}', 'en').replace('{channel}', 'sms');
      const options: InjectOptions = { method: route.method, url, ...(route.body ? { payload: validExample(route.body) as object } : {}) };
      const asCustomer = await app.inject({ ...options, headers: { ...owner.auth, 'idempotency-key': randomUUID() } });
      const anonymous = await app.inject(options);
      assert.equal(asCustomer.statusCode, 403, `${route.method} ${route.path} as a customer: ${asCustomer.body}`);
      assert.equal(anonymous.statusCode, 401, `${route.method} ${route.path} without a token`);
    }
    console.log(`staff routes: ${routes.length} refused a customer token (403) and no token (401)`);
    const kyc = (await app.inject({ url: `/api/kyc/${ids.kyc}`, headers: owner.auth })).json<{ submission: { status: string } }>().submission;
    assert.notEqual(kyc.status, 'approved', "the customer's review changed nothing");
  });

  it('every signed-in route refuses no token, a made-up token and a logged-out one (401)', async () => {
    const dead = (await customer(t, 'ghost', '+14155556904')).token;
    await app.inject({ method: 'POST', url: '/api/logout', headers: { authorization: `Bearer ${dead}` } });
    const routes = (await operations(app)).filter((op) => op.auth !== 'none');
    for (const route of routes) {
      for (const authorization of [undefined, `Bearer ${'A'.repeat(43)}`, `Bearer ${dead}`]) {
        const res = await app.inject({ method: route.method, url: route.path.replace(/\{[a-z]+\}/g, 'x'), headers: authorization ? { authorization } : {} });
        assert.equal(res.statusCode, 401, `${route.method} ${route.path} with ${authorization ?? 'no token'}`);
      }
    }
    console.log(`signed-in routes: ${routes.length} x 3 bad tokens, all 401`);
  });
});

describe("the CLI's loopback endpoint", () => {
  it('refuses a caller without its token, with a wrong one, from another machine, and through a proxy', async () => {
    const call = (remoteAddress: string, headers: Record<string, string>) =>
      app.inject({ method: 'POST', url: '/internal/cli/users', remoteAddress, headers, payload: { username: 'mallory', password: 'x'.repeat(20), isStaff: true } });
    const answers = [
      await call('127.0.0.1', {}),
      await call('127.0.0.1', { authorization: 'Bearer wrong-token' }),
      await call('203.0.113.9', { authorization: `Bearer ${ADMIN_TOKEN}` }),
      await call('127.0.0.1', { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-forwarded-for': '203.0.113.9' }),
    ].map((r) => r.statusCode);
    console.log(`CLI endpoint: no token, wrong token, remote, forwarded answered ${answers.join(', ')}`);
    assert.deepEqual(answers, [403, 403, 403, 403]);
    assert.equal((await post('/api/login', { username: 'mallory', password: 'x'.repeat(20) })).json<{ error: string }>().error, 'unauthenticated', 'no staff user was made');
  });
});
