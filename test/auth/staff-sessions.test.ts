// Staff sessions end sooner than a customer's: after STAFF_SESSION_IDLE_MINUTES without use and
// STAFF_SESSION_MAX_HOURS after sign-in, on the server, whatever the client keeps. Time moves by
// the app's held clock; a customer's session of the same age still works.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { createTestContext, HeldClock, type TestContext } from '../helpers/context.ts';
import { customer, signIn, type Customer } from '../helpers/customers.ts';

const MINUTE = 60_000;
const clock = new HeldClock('2026-11-25T15:00:00Z');
let t: TestContext;
let app: FastifyInstance;
let sequence = 0;

before(async () => {
  // The defaults: 30 minutes idle, 8 hours at most.
  t = await createTestContext({ clock, env: { CODE_IP_LIMIT: '0', LOGIN_IP_LIMIT: '0' } });
  await startWorker(t.ctx);
  app = buildApp(t.ctx);
});
after(() => t.close());

async function pair(): Promise<{ staff: Customer; client: Customer }> {
  sequence++;
  return {
    staff: await customer(t, `clerk${sequence}`, `+1415555${6100 + sequence}`, { isStaff: true }),
    client: await customer(t, `client${sequence}`, `+1415555${6200 + sequence}`),
  };
}

const staffPage = (who: Customer) => app.inject({ url: '/api/staff/messages?limit=1', headers: who.auth });
const customerPage = (who: Customer) => app.inject({ url: '/api/accounts', headers: who.auth });

function assertEnded(res: Awaited<ReturnType<typeof staffPage>>, message: RegExp): void {
  assert.equal(res.statusCode, 401, res.body);
  const body = res.json<{ error: string; message: string }>();
  assert.equal(body.error, 'session_expired');
  assert.match(body.message, message);
}

describe('staff sessions', () => {
  it('end after 30 minutes without use; use keeps them alive; a customer of the same age stays signed in', async () => {
    const { staff, client } = await pair();
    for (let i = 0; i < 3; i++) {
      clock.advance(29 * MINUTE);
      assert.equal((await staffPage(staff)).statusCode, 200, `used again after 29 minutes (${i + 1})`);
    }
    clock.advance(30 * MINUTE);
    assertEnded(await staffPage(staff), /ended after 30 minutes without activity\. Sign in again\./);
    assert.equal((await customerPage(client)).statusCode, 200, 'a customer session 117 minutes old, idle for 117, still works');
    // Ended for good: it is revoked, not just late.
    clock.advance(-10 * MINUTE);
    assert.equal((await staffPage(staff)).statusCode, 401);
  });

  it('end 8 hours after sign-in however busy; a customer session of 8 hours still works', async () => {
    const { staff, client } = await pair();
    for (let minutes = 20; minutes < 8 * 60; minutes += 20) {
      clock.advance(20 * MINUTE);
      assert.equal((await staffPage(staff)).statusCode, 200, `busy at ${minutes} minutes`);
    }
    clock.advance(20 * MINUTE);
    assertEnded(await staffPage(staff), /staff sessions last 8 hours from sign-in\. Sign in again\./);
    assert.equal((await customerPage(client)).statusCode, 200);
    clock.advance(3 * 60 * MINUTE + 59 * MINUTE);
    assert.equal((await customerPage(client)).statusCode, 200, 'a customer session lasts 12 hours');
    clock.advance(MINUTE);
    const late = await customerPage(client);
    assert.equal(late.statusCode, 401);
    assert.equal(late.json<{ error: string }>().error, 'unauthenticated');
  });

  it('a staff sign-in is told its session ends at the staff maximum; a customer at 12 hours', async () => {
    const { staff, client } = await pair();
    const staffLogin = await signIn(t, app, { username: staff.user.username, phone: staff.phone }) as { expiresAt?: string };
    const clientLogin = await signIn(t, app, { username: client.user.username, phone: client.phone }) as { expiresAt?: string };
    const lifetime = (login: { expiresAt?: string }) => new Date(login.expiresAt ?? 0).getTime() - clock.now().getTime();
    assert.equal(lifetime(staffLogin), 8 * 60 * MINUTE);
    assert.equal(lifetime(clientLogin), 12 * 60 * MINUTE);
  });

  it('the limits are settings, checked at start-up', async () => {
    const config = (env: Record<string, string>) => loadConfig({ ...env }, '/nonexistent/.env');
    assert.deepEqual(config({}).security.staffSession, { idleMs: 30 * MINUTE, maxAgeMs: 8 * 60 * MINUTE });
    assert.deepEqual(config({ STAFF_SESSION_IDLE_MINUTES: '15', STAFF_SESSION_MAX_HOURS: '4' }).security.staffSession, { idleMs: 15 * MINUTE, maxAgeMs: 4 * 60 * MINUTE });
    assert.throws(() => config({ STAFF_SESSION_MAX_HOURS: '12' }), /STAFF_SESSION_MAX_HOURS: must be shorter than a customer session \(12 hours\)/);
    assert.throws(() => config({ STAFF_SESSION_IDLE_MINUTES: '0' }), /STAFF_SESSION_IDLE_MINUTES/);
    assert.throws(() => config({ STAFF_SESSION_IDLE_MINUTES: '300', STAFF_SESSION_MAX_HOURS: '2' }), /longer than STAFF_SESSION_MAX_HOURS/);
  });
});
