// The database goes away under a burst of notifications (issue 12, point 3): PostgreSQL is cut
// with a TCP proxy the test controls (the machine's server is never stopped). Meanwhile /readyz
// says not ready, every request is answered 503 with Retry-After and a message saying what to do
// (never a 500, never SQL), the worker holds what Twilio already accepted and waits for the
// database; once it is back every SMS is sent, none twice (counted at the simulator).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { isDatabaseUnavailable } from '../../src/db/availability.ts';
import { openDatabase, rawRows } from '../../src/db/connection.ts';
import { userProfiles, users } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { notifyUser } from '../../src/notifications/send.ts';
import { createTestContext, DaytimeClock, eventually, type TestContext } from '../helpers/context.ts';
import { customer, PASSWORD } from '../helpers/customers.ts';
import { TEST_ENGINE } from '../helpers/database.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';

const CUSTOMERS = 40;
const EACH = 10;
const TOTAL = CUSTOMERS * EACH;
const CUT_MS = 8000;

describe('a database outage under a burst', { skip: TEST_ENGINE !== 'postgres' && 'PostgreSQL only: the embedded database lives in the process' }, () => {
  let proxy: TcpProxy;
  let t: TestContext;
  let app: FastifyInstance;
  before(async () => {
    proxy = await startTcpProxy({ host: '127.0.0.1', port: 5432 });
    t = await createTestContext({
      clock: new DaytimeClock(),
      env: { LOG_LEVEL: 'warn', LOGIN_IP_LIMIT: '0' },
      runtimeDatabase: (own) => {
        const url = new URL(own.url!);
        url.port = String(proxy.port);
        return openDatabase({ engine: 'postgres', url: url.toString() });
      },
    });
    app = buildApp(t.ctx);
    await app.ready();
  });
  after(async () => {
    proxy.restore();
    await app.close();
    // Hangs if the outage leaked a client from the runtime's pool (drizzle-orm#6241): pool.end() waits for it.
    await t.close();
    await proxy.close();
  });

  it(`${TOTAL} notifications: the outage is told as 503s, and afterwards every SMS is sent exactly once`, { timeout: 300_000 }, async () => {
    const started = Date.now();
    const at = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
    t.sim.setBalance(1_000);
    const ana = await customer(t, 'outage-ana', '+14155550900');
    const ids = await t.ctx.db.insert(users)
      .values(Array.from({ length: CUSTOMERS }, (_, i) => ({ username: `outage${i}`, passwordHash: 'not-a-real-hash' })))
      .returning({ id: users.id });
    await t.ctx.db.insert(userProfiles).values(ids.map(({ id }, i) => ({ userId: id, phoneNumber: `+1415556${String(i).padStart(4, '0')}` })));
    await t.ctx.db.transaction(async (tx) => {
      for (const [c, { id }] of ids.entries()) {
        for (let n = 0; n < EACH; n++) {
          await notifyUser(t.ctx, tx, { userId: id, type: 'new_device_login', values: { device: `device ${c}-${n}`, location: 'Miami, FL', time: t.ctx.clock.now() } });
        }
      }
    });
    await startWorker(t.ctx);
    await eventually(() => (t.sim.messages().length >= TOTAL / 10 ? true : undefined), 60_000, 'a tenth sent');

    proxy.cut();
    const sentAtCut = t.sim.messages().length;
    console.log(`outage: cut at ${at()} with ${sentAtCut} of ${TOTAL} sent`);
    const statuses = new Map<number, number>();
    const bodies: string[] = [];
    const requests = [
      () => app.inject({ method: 'GET', url: '/readyz' }),
      () => app.inject({ method: 'GET', url: '/api/accounts', headers: ana.auth }),
      () => app.inject({ method: 'POST', url: '/api/login', payload: { username: 'outage-ana', password: PASSWORD } }),
      () => app.inject({ method: 'POST', url: '/api/transfers', headers: { ...ana.auth, 'idempotency-key': 'outage-1' }, payload: { fromAccountId: '00000000-0000-4000-8000-000000000000', toAccountId: '00000000-0000-4000-8000-000000000001', amountMinor: 100 } }),
    ];
    const cutEnds = Date.now() + CUT_MS;
    let readyzDown = 0;
    while (Date.now() < cutEnds) {
      for (const request of requests) {
        const response = await request();
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
        bodies.push(response.body);
        if (response.statusCode === 503 && response.body.includes('not ready')) readyzDown++;
        else assert.equal(response.statusCode, 503, `${response.statusCode} during the outage: ${response.body}`);
        if (!response.body.includes('not ready')) assert.equal(response.headers['retry-after'], '5');
      }
      await sleep(250);
    }
    const sentDuringCut = t.sim.messages().length - sentAtCut;
    proxy.restore();
    const restoredAt = Date.now();
    console.log(`outage: restored at ${at()}; during the cut ${[...statuses].map(([s, n]) => `${n} x ${s}`).join(', ')}, ${proxy.refused} connections refused, ${sentDuringCut} sends finished`);
    assert.ok(readyzDown > 0, '/readyz said not ready');
    assert.ok(!statuses.has(500), 'no 500 during the outage');
    for (const body of bodies) {
      assert.doesNotMatch(body, /select |insert |update |ECONN|pg_|at \S+ \(/i, `no SQL or stack trace in a body: ${body}`);
      if (!body.includes('not ready')) assert.match(body, /database cannot be reached\. Try again in a few seconds/);
    }

    const recovered = eventually(async () => {
      const [row] = await rawRows<{ open: number }>(t.database.db, sql`select count(*)::int as open from sms_messages where twilio_sid is null`);
      const [all] = await rawRows<{ n: number }>(t.database.db, sql`select count(*)::int as n from sms_messages`);
      return all?.n === TOTAL && row?.open === 0 ? true : undefined;
      // Workers wait for the database and run the jobs that failed on it again at once, and
      // Twilio's answers held in memory are recorded. A job whose fetch committed while its answer
      // was lost is not anyone's: it comes back when pg-boss expires it (60 s on the critical lane).
    }, 200_000, 'every SMS sent after the database came back');
    await recovered.catch(async (error: unknown) => {
      const unsent = await rawRows(t.database.db, sql`select status, attempts, count(*)::int as n from sms_messages where twilio_sid is null group by 1, 2`);
      const pending = await rawRows(t.database.db, sql`select status, count(*)::int as n from notifications where channel = 'sms' group by 1`);
      const jobs = await rawRows(t.database.db, sql`select name, state, count(*)::int as n, max(retry_count)::int as retries from pgboss.job group by 1, 2`);
      console.log(`outage: not recovered: unsent ${JSON.stringify(unsent)}; notifications ${JSON.stringify(pending)}; jobs ${JSON.stringify(jobs)}`);
      throw error;
    });
    console.log(`outage: all ${TOTAL} sent at ${at()}, ${((Date.now() - restoredAt) / 1000).toFixed(1)} s after the restore`);
    await sleep(1000); // room for a duplicate to show up
    const atSimulator = t.sim.messages().filter((m) => m.to.startsWith('+1415556'));
    assert.equal(atSimulator.length, TOTAL, 'each SMS reached the simulator exactly once');
    assert.equal(new Set(atSimulator.map((m) => m.body)).size, TOTAL, 'no message twice');
    const [recorded] = await rawRows<{ n: number }>(t.database.db, sql`select count(distinct twilio_sid)::int as n from sms_messages`);
    assert.equal(recorded?.n, TOTAL, 'every send recorded with its own SID');
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 200, ready.body);
  });

  it('a connection lost as a transaction begins does not take a pool client with it (drizzle-orm#6241)', async () => {
    const url = new URL(t.database.url!);
    url.port = String(proxy.port);
    const database = await openDatabase({ engine: 'postgres', url: url.toString() });
    try {
      proxy.resetOnQuery(/^begin/i);
      // More than the pool's 10 clients, each lost as its BEGIN is sent.
      for (let i = 0; i < 12; i++) {
        await assert.rejects(database.db.transaction(async (tx) => rawRows(tx, sql`select 1`)), (error: unknown) => isDatabaseUnavailable(error));
      }
      proxy.resetOnQuery(undefined);
      const started = Date.now();
      const timer = new AbortController();
      const stuck = sleep(10_000, undefined, { signal: timer.signal }).then(() => { throw new Error('no pool client within 10 s: the lost transactions leaked theirs'); });
      stuck.catch(() => undefined);
      const [row] = await Promise.race([database.db.transaction((tx) => rawRows<{ ok: number }>(tx, sql`select 1 as ok`)), stuck]);
      timer.abort();
      assert.equal(row?.ok, 1, 'the pool still has clients to give');
      console.log(`outage: 12 transactions lost at BEGIN, then one committed in ${Date.now() - started} ms`);
    } finally {
      proxy.resetOnQuery(undefined);
      await database.close();
    }
  });
});
