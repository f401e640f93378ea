// Authenticator-app sign-in (TOTP, RFC 6238): the code matches the RFC's SHA-1 test vectors; a
// customer enrols, confirms with a code computed here from the secret they were shown, and signs in
// with it instead of the SMS code; a step is never accepted twice; wrong codes lock the account
// like wrong SMS codes. The secret is stored sealed with the data key, never in clear.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { and, eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { Secret } from 'otpauth';
import { DATA_KEY_FILE, dataKeyFor, seal, unseal } from '../../src/auth/data-key.ts';
import { totpCode, totpStep } from '../../src/auth/totp.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { bankEvents, notifications, totpCredentials } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { createTestContext, HeldClock, type TestContext } from '../helpers/context.ts';
import { customer, nextSms, PASSWORD, type Customer } from '../helpers/customers.ts';

const clock = new HeldClock('2026-11-25T15:00:00Z');
let t: TestContext;
let app: FastifyInstance;
let phoneSeq = 6100;

before(async () => {
  t = await createTestContext({ clock, env: { CODE_IP_LIMIT: '0', CODE_NUMBER_LIMIT: '0', LOGIN_IP_LIMIT: '0' } });
  await startWorker(t.ctx);
  app = buildApp(t.ctx);
});
after(() => t.close());

const post = (url: string, payload: object, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, payload, headers: { 'user-agent': 'DominionApp/1.0', ...headers } });

/** The code an authenticator app holding `base32` shows at the held clock's time, `steps` steps away. */
function appCode(base32: string, steps = 0): string {
  return totpCode(Secret.fromBase32(base32).bytes, new Date(clock.now().getTime() + steps * 30_000));
}

/** A customer with an active authenticator; returns the secret their app holds. */
async function enrolled(username: string): Promise<{ c: Customer; secret: string }> {
  const c = await customer(t, username, `+1415555${phoneSeq++}`);
  const enrol = await post('/api/2fa/totp', { currentPassword: PASSWORD }, c.auth);
  assert.equal(enrol.statusCode, 201, enrol.body);
  const { secret } = enrol.json<{ secret: string }>();
  const confirm = await post('/api/2fa/totp/confirm', { code: appCode(secret) }, c.auth);
  assert.equal(confirm.statusCode, 200, confirm.body);
  return { c, secret };
}

async function passwordStep(username: string): Promise<string> {
  const res = await post('/api/login', { username, password: PASSWORD, deviceId: 'totp-phone' });
  assert.equal(res.statusCode, 200, res.body);
  return res.json<{ challengeId: string }>().challengeId;
}

describe('TOTP codes (RFC 6238, SHA-1, 30 s)', () => {
  it('match the RFC 6238 appendix B test vectors (last 6 of the 8 digits)', () => {
    const secret = new TextEncoder().encode('12345678901234567890');
    const vectors: [number, string][] = [
      [59, '94287082'], [1111111109, '07081804'], [1111111111, '14050471'],
      [1234567890, '89005924'], [2000000000, '69279037'], [20000000000, '65353130'],
    ];
    for (const [seconds, eight] of vectors) assert.equal(totpCode(secret, new Date(seconds * 1000)), eight.slice(-6), `T=${seconds}`);
    assert.equal(totpStep(new Date(59_000)), 1);
  });
});

describe('data key', () => {
  it('seals a secret for one user: another user id, another key or a changed byte does not open it', () => {
    const key = Buffer.alloc(32, 7);
    const sealed = seal(key, Buffer.from('secret bytes'), 'user-1');
    assert.equal(unseal(key, sealed, 'user-1').toString(), 'secret bytes');
    assert.throws(() => unseal(key, sealed, 'user-2'));
    assert.throws(() => unseal(Buffer.alloc(32, 8), sealed, 'user-1'));
    const parts = sealed.split('.');
    parts[2] = Buffer.from('Secret bytes').toString('base64url');
    assert.throws(() => unseal(key, parts.join('.'), 'user-1'));
  });

  it('embedded: is generated once into DATA_DIR, readable by its owner only; PostgreSQL: is required', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dominion-key-'));
    try {
      const key = dataKeyFor({ dataEncryptionKey: undefined, databaseUrl: undefined, dataDir: dir });
      assert.equal(key.length, 32);
      const file = join(dir, DATA_KEY_FILE);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.deepEqual(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'), key);
      assert.deepEqual(dataKeyFor({ dataEncryptionKey: undefined, databaseUrl: undefined, dataDir: dir }), key, 'the same key next time');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const env = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/dominion' };
    assert.throws(() => loadConfig(env, '/nonexistent/.env'), (error: unknown) =>
      error instanceof ConfigError && error.issues.some((i) => i.variable === 'DATA_ENCRYPTION_KEY' && /required when DATABASE_URL is set/.test(i.problem)));
    assert.throws(() => loadConfig({ DATA_ENCRYPTION_KEY: 'too-short-and-secret' }, '/nonexistent/.env'), (error: unknown) =>
      error instanceof ConfigError && /DATA_ENCRYPTION_KEY: must be 32 random bytes/.test(error.userMessage) && !error.userMessage.includes('too-short-and-secret'));
    const key = Buffer.alloc(32, 3).toString('base64');
    assert.deepEqual(loadConfig({ ...env, DATA_ENCRYPTION_KEY: key }, '/nonexistent/.env').dataEncryptionKey, Buffer.alloc(32, 3));
  });
});

describe('POST /api/2fa/totp and /api/2fa/totp/confirm', () => {
  it('shows the secret once as otpauth URI and base32, stores it sealed, and activates it with a first code', async () => {
    const c = await customer(t, 'tina', `+1415555${phoneSeq++}`);
    const guessed = await post('/api/2fa/totp', { currentPassword: 'not the password' }, c.auth);
    assert.equal(guessed.statusCode, 403, 'a session alone cannot add an authenticator');
    assert.equal((await post('/api/2fa/totp', {}, c.auth)).statusCode, 400);
    assert.equal((await t.ctx.db.select().from(totpCredentials).where(eq(totpCredentials.userId, c.user.id))).length, 0);
    const res = await post('/api/2fa/totp', { currentPassword: PASSWORD }, c.auth);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    const { uri, secret } = res.json<{ uri: string; secret: string }>();
    assert.match(secret, /^[A-Z2-7]{32}$/, '20 random bytes in base32');
    const url = new URL(uri);
    assert.equal(url.protocol, 'otpauth:');
    assert.equal(url.host, 'totp');
    assert.equal(decodeURIComponent(url.pathname), '/DominionTrust:tina');
    assert.equal(url.searchParams.get('secret'), secret);
    assert.equal(url.searchParams.get('algorithm'), 'SHA1');
    assert.equal(url.searchParams.get('digits'), '6');
    assert.equal(url.searchParams.get('period'), '30');

    const [row] = await t.ctx.db.select().from(totpCredentials).where(eq(totpCredentials.userId, c.user.id));
    assert.ok(row);
    assert.equal(row.confirmedAt, null);
    assert.ok(!row.secretEncrypted.includes(secret));
    assert.ok(!row.secretEncrypted.includes(Buffer.from(Secret.fromBase32(secret).bytes).toString('base64url')));
    assert.match(row.secretEncrypted, /^v1\./);

    const wrong = await post('/api/2fa/totp/confirm', { code: appCode(secret, 5) }, c.auth);
    assert.equal(wrong.statusCode, 400);
    assert.match(wrong.json<{ message: string }>().message, /^Wrong code: type the 6-digit code your authenticator app shows now/);
    const ok = await post('/api/2fa/totp/confirm', { code: appCode(secret) }, c.auth);
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json<{ active: boolean }>().active, true);
    const events = await t.ctx.db.select().from(bankEvents).where(eq(bankEvents.userId, c.user.id));
    assert.deepEqual(events.map((e) => e.type), ['two_factor.totp_enrolled']);
    const notice = await nextSms(t, c.phone, 0, /authenticator/, 'the two_factor_changed SMS');
    assert.match(notice, /^DominionTrust: new authenticator app or backup codes for your sign-in, .+\. Not you\? Call the number on your card\. Reply STOP to opt out\.$/);

    const again = await post('/api/2fa/totp', { currentPassword: PASSWORD }, c.auth);
    assert.equal(again.statusCode, 409, 'an active authenticator is not silently replaced');
  });

  it('needs a session, and a confirmation needs an enrolment', async () => {
    assert.equal((await post('/api/2fa/totp', { currentPassword: PASSWORD })).statusCode, 401);
    const c = await customer(t, 'una', `+1415555${phoneSeq++}`);
    const res = await post('/api/2fa/totp/confirm', { code: '123456' }, c.auth);
    assert.equal(res.statusCode, 409);
    assert.match(res.json<{ message: string }>().message, /start with POST \/api\/2fa\/totp/);
    assert.equal((await post('/api/2fa/totp/confirm', { code: 123456 }, c.auth)).statusCode, 400);
  });
});

describe('sign-in with method "totp"', () => {
  it('opens a session with the app code instead of the SMS code', async () => {
    const { secret } = await enrolled('vic');
    clock.advance(30_000);
    const challengeId = await passwordStep('vic');
    const res = await post('/api/login/verify', { challengeId, code: appCode(secret), method: 'totp' });
    assert.equal(res.statusCode, 200, res.body);
    const session = res.json<{ token: string; method: string }>();
    assert.equal(session.method, 'totp');
    assert.equal((await app.inject({ url: '/api/accounts', headers: { authorization: `Bearer ${session.token}` } })).statusCode, 200);
    const reuse = await post('/api/login/verify', { challengeId, code: appCode(secret, 1), method: 'totp' });
    assert.equal(reuse.statusCode, 410, 'the sign-in is used up: no second session from it');
  });

  it('sends no SMS when the customer says at the password step they will use the app; a resend still can', async () => {
    const { c, secret } = await enrolled('zed');
    clock.advance(30_000);
    const smsCodes = async () => (await t.ctx.db.select().from(notifications)
      .where(and(eq(notifications.userId, c.user.id), eq(notifications.type, 'two_factor_code')))).length;
    const res = await post('/api/login', { username: 'zed', password: PASSWORD, deviceId: 'totp-phone', secondFactor: 'totp' });
    assert.equal(res.statusCode, 200, res.body);
    const started = res.json<{ challengeId: string; smsSent: boolean; destination?: string }>();
    assert.equal(started.smsSent, false);
    assert.equal(started.destination, undefined);
    assert.equal(await smsCodes(), 0, 'no code SMS queued');
    const done = await post('/api/login/verify', { challengeId: started.challengeId, code: appCode(secret), method: 'totp' });
    assert.equal(done.statusCode, 200, done.body);

    clock.advance(30_000);
    const other = await post('/api/login', { username: 'zed', password: PASSWORD, secondFactor: 'backup_code' });
    clock.advance(30_000);
    const resent = await post('/api/login/resend', { challengeId: other.json<{ challengeId: string }>().challengeId });
    assert.equal(resent.statusCode, 200, resent.body);
    assert.equal(resent.json<{ smsSent: boolean }>().smsSent, true);
    assert.equal(await smsCodes(), 1, 'the customer changed their mind: the SMS goes');
  });

  it('accepts one step of drift but never the same step twice', async () => {
    const { secret } = await enrolled('wes'); // confirmation used step S
    const confirmedWith = appCode(secret);
    clock.advance(30_000); // now S+1
    const replay = await post('/api/login/verify', { challengeId: await passwordStep('wes'), code: confirmedWith, method: 'totp' });
    assert.equal(replay.statusCode, 410, replay.body);
    assert.match(replay.json<{ message: string }>().message, /^This authenticator code was already used: wait for the next one/);

    const ahead = await post('/api/login/verify', { challengeId: await passwordStep('wes'), code: appCode(secret, 1), method: 'totp' });
    assert.equal(ahead.statusCode, 200, 'the next step (a phone clock a little fast) is accepted');
    const now = await post('/api/login/verify', { challengeId: await passwordStep('wes'), code: appCode(secret), method: 'totp' });
    assert.equal(now.statusCode, 410, 'a step before the last one used is never accepted');
    const sameAgain = await post('/api/login/verify', { challengeId: await passwordStep('wes'), code: appCode(secret, 1), method: 'totp' });
    assert.equal(sameAgain.statusCode, 410);

    clock.advance(60_000); // S+3
    const far = await post('/api/login/verify', { challengeId: await passwordStep('wes'), code: appCode(secret, 2), method: 'totp' });
    assert.equal(far.statusCode, 400, 'two steps away is too far');
    const fresh = await post('/api/login/verify', { challengeId: await passwordStep('wes'), code: appCode(secret), method: 'totp' });
    assert.equal(fresh.statusCode, 200);
  });

  it('counts wrong app codes toward the lockout like SMS codes, with the lockout SMS', async () => {
    const { c, secret } = await enrolled('xia');
    clock.advance(30_000);
    const challengeId = await passwordStep('xia');
    for (let i = 4; i >= 1; i--) {
      const res = await post('/api/login/verify', { challengeId, code: appCode(secret, 10), method: 'totp' });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json<{ message: string }>().message, `Wrong authenticator code: ${i} ${i === 1 ? 'attempt' : 'attempts'} left. Type the 6-digit code your app shows now for DominionTrust.`);
    }
    const fifth = await post('/api/login/verify', { challengeId, code: appCode(secret, 10), method: 'totp' });
    assert.equal(fifth.statusCode, 423);
    await nextSms(t, c.phone, 0, /online banking is locked/, 'the lockout SMS');
  });

  it('refuses method "totp" for a customer without an authenticator, and unknown methods', async () => {
    const c = await customer(t, 'yan', `+1415555${phoneSeq++}`);
    const challengeId = await passwordStep(c.user.username);
    const res = await post('/api/login/verify', { challengeId, code: '123456', method: 'totp' });
    assert.equal(res.statusCode, 409);
    assert.match(res.json<{ message: string }>().message, /^No authenticator app is active on your account/);
    const bad = await post('/api/login/verify', { challengeId, code: '123456', method: 'carrier-pigeon' });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json<{ message: string }>().message, /^method:/);
  });
});
