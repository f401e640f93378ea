// The running server's admin routes for the CLI: loopback and token only, the same domain work
// and the same errors as when the CLI runs a command itself; and how the CLI finds the server
// that owns the embedded database.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { acquireEmbeddedLock } from '../../src/db/embedded-lock.ts';
import { AppError } from '../../src/errors.ts';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { readAdminToken, removeAdminToken, writeAdminToken } from '../../src/cli/admin-token.ts';
import { callServer, findRunningServer } from '../../src/cli/server-client.ts';
import type { TwilioSetupReport } from '../../src/twilio-setup/run.ts';
import { findUserByUsername } from '../../src/users/users.ts';
import { createTestContext, type TestContext } from '../helpers/context.ts';

const TOKEN = 'test-admin-token-0123456789abcdefghijklmnop';
let t: TestContext;
let app: FastifyInstance;
let dir: string;

before(async () => {
  t = await createTestContext();
  await startWorker(t.ctx);
  app = buildApp(t.ctx, { adminToken: TOKEN });
  dir = mkdtempSync(join(tmpdir(), 'dominion-admin-'));
});

after(async () => {
  await app.close();
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

function post(url: string, payload: unknown, options: { token?: string; remoteAddress?: string; headers?: Record<string, string> } = {}) {
  return app.inject({
    method: 'POST',
    url: `/internal/cli${url}`,
    payload: payload as Record<string, unknown>,
    remoteAddress: options.remoteAddress ?? '127.0.0.1',
    headers: { ...(options.token === undefined ? { authorization: `Bearer ${TOKEN}` } : options.token ? { authorization: `Bearer ${options.token}` } : {}), ...options.headers },
  });
}

describe('admin routes: who may call', () => {
  it('refuses a missing or wrong token, a remote caller, and a forwarded request', async () => {
    const refused = [
      await post('/test-twilio-sms', {}, { token: '' }),
      await post('/test-twilio-sms', {}, { token: 'wrong' }),
      await post('/test-twilio-sms', {}, { remoteAddress: '192.168.1.20' }),
      await post('/test-twilio-sms', {}, { headers: { 'x-forwarded-for': '203.0.113.7' } }),
    ];
    assert.deepEqual(refused.map((r) => r.statusCode), [403, 403, 403, 403]);
    assert.equal(refused[0]!.json<{ error: string }>().error, 'forbidden');
  });

  it('are not served at all without a token (PostgreSQL deployments)', async () => {
    const plain = buildApp(t.ctx);
    const response = await plain.inject({ method: 'POST', url: '/internal/cli/test-twilio-sms', payload: {}, remoteAddress: '127.0.0.1' });
    assert.equal(response.statusCode, 404);
    await plain.close();
  });
});

describe('admin routes: the work', () => {
  it('runs test_twilio_sms and answers with the report', async () => {
    const response = await post('/test-twilio-sms', { checkSetup: true });
    assert.equal(response.statusCode, 200);
    const report = response.json<TwilioSetupReport>();
    assert.equal(report.ok, true, response.body);
    assert.ok(report.checks.some((c) => c.name === 'twilio.credentials' && c.ok));
    assert.equal((await post('/test-twilio-sms', { checkSetup: 'yes' })).statusCode, 400);
  });

  it('lists the templates in force, filtered, while the server owns the database', async () => {
    const response = await post('/notifications/templates', { type: 'welcome', channel: 'sms' });
    assert.equal(response.statusCode, 200, response.body);
    const templates = response.json<{ type: string; channel: string; language: string; preview: { sms?: { segments: number } } }[]>();
    assert.ok(templates.length >= 2, 'English and Spanish at least');
    assert.ok(templates.every((tpl) => tpl.type === 'welcome' && tpl.channel === 'sms' && (tpl.preview.sms?.segments ?? 0) >= 1));
    const unknown = await post('/notifications/templates', { type: 'no_such_type' });
    assert.equal(unknown.statusCode, 400);
    assert.match(unknown.json<{ message: string }>().message, /Unknown notification type "no_such_type"/);
  });

  it('creates users and sets phone numbers, with the domain errors mapped to statuses', async () => {
    const created = await post('/users', { username: 'dana', password: 'correct horse battery', phone: '(415) 555-2674' });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.json<{ user: { phoneNumber: string } }>().user.phoneNumber, '+14155552674');
    assert.ok(!created.body.includes('password'), 'no password or hash in the answer');

    const weak = await post('/users', { username: 'erin', password: 'short' });
    assert.deepEqual([weak.statusCode, weak.json<{ error: string }>().error], [400, 'weak_password']);
    const unknown = await post('/users/set-phone', { username: 'ghost', phone: '+14155552671' });
    assert.deepEqual([unknown.statusCode, unknown.json<{ error: string }>().error], [404, 'not_found']);
    const invalid = await post('/users/set-phone', { username: 'dana', phone: '12345' });
    assert.equal(invalid.statusCode, 400);
    assert.match(invalid.json<{ message: string }>().message, /^Invalid Phone Number/);
  });
});

describe('the CLI finding and calling the server', () => {
  it('writes the token file readable by its owner only, and removes it', () => {
    const token = writeAdminToken(dir);
    assert.equal(statSync(join(dir, 'admin.token')).mode & 0o777, 0o600);
    assert.equal(readAdminToken(dir), token);
    assert.notEqual(writeAdminToken(dir), token, 'a fresh token at every start');
    removeAdminToken(dir);
    assert.equal(readAdminToken(dir), undefined);
  });

  it('finds the server that owns the embedded database, refuses a lock owner without one, ignores PostgreSQL', async () => {
    const config = { ...t.config, databaseUrl: undefined, dataDir: dir };
    assert.equal(findRunningServer(config), undefined, 'no lock: the CLI opens the directory itself');
    const lock = acquireEmbeddedLock(dir);
    const locked = (error: unknown) => error instanceof AppError && error.code === 'database_locked' && /does not answer CLI requests/.test(error.userMessage);
    try {
      assert.throws(() => findRunningServer(config), locked, 'a lock owner with no server (a worker)');
      await app.listen({ port: 0, host: '127.0.0.1' });
      const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      lock.update({ serverUrl: url });
      assert.throws(() => findRunningServer(config), locked, 'a server URL but no token file');
      const fileToken = writeAdminToken(dir);
      const server = findRunningServer(config);
      assert.deepEqual(server, { url, pid: process.pid, token: fileToken });
      assert.equal(findRunningServer({ ...config, databaseUrl: 'postgres://x@127.0.0.1/db' }), undefined, 'PostgreSQL has no lock');
      // This app was built with another token than the file's: the server refuses it.
      await assert.rejects(callServer(server, '/test-twilio-sms', {}, 5000), /refused the CLI's token/);

      const good = { ...server, token: TOKEN };
      const report = await callServer<TwilioSetupReport>(good, '/test-twilio-sms', { accountInfo: true }, 5000);
      assert.equal(report.account?.friendlyName, 'DominionTrust Simulator');
      await assert.rejects(callServer(good, '/users/set-phone', { username: 'dana', phone: '12345' }, 5000),
        (error: unknown) => error instanceof AppError && error.code === 'invalid_phone_number' && /^Invalid Phone Number/.test(error.userMessage));
      await callServer(good, '/users/set-phone', { username: 'dana', phone: '+1 415 555 2675' }, 5000);
      assert.equal((await findUserByUsername(t.ctx.db, 'dana'))?.phoneNumber, '+14155552675');
    } finally {
      lock.release();
    }
  });
});
