// The status sweep follows sent messages without a job each: every accepted message carries when it
// is next checked, the sweep claims what is due set-based (SKIP LOCKED across sweepers), moves each
// one's next check on by its backoff in the same statement, and stops once it is settled or its
// checks are used up. Real database, real Twilio SDK, a simulator whose messages stay 'queued'
// (one status step per 10 minutes). Due times are on the database's clock, as pg-boss's are: the
// test makes time pass for the sweep by moving the due times back.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eq, inArray, sql } from 'drizzle-orm';
import { MIGRATIONS_FOLDER, rawRows } from '../../src/db/connection.ts';
import { smsMessages } from '../../src/db/schema.ts';
import { deliverSmsBatch } from '../../src/sms/delivery-batch.ts';
import { queueSmsMany } from '../../src/sms/outbox.ts';
import { CircuitOpenError } from '../../src/sms/provider-breaker.ts';
import type { SmsProvider } from '../../src/sms/provider.ts';
import { MAX_STATUS_CHECKS, sweepStatusChecks } from '../../src/sms/status-sweep.ts';
import { createTestContext, type TestContext } from '../helpers/context.ts';

const CUSTOMER = '+14155552671';

describe('the status sweep', () => {
  let t: TestContext;
  /** SIDs the sweep asked Twilio about, in order. */
  const fetched: string[] = [];
  let counting: SmsProvider;
  before(async () => {
    t = await createTestContext({ simulator: { statusStepMs: 600_000 } }); // no worker: the test sweeps
    counting = { ...t.ctx.provider, fetchMessage: (sid) => (fetched.push(sid), t.ctx.provider.fetchMessage(sid)) };
  });
  after(() => t.close());

  /** Sends `count` messages now; their ids, accepted and followed. */
  async function sent(tag: string, count: number): Promise<string[]> {
    const ids = await t.ctx.db.transaction((tx) => queueSmsMany(t.ctx, tx, 'sms.standard',
      Array.from({ length: count }, (_, i) => ({ type: 'test_message', to: CUSTOMER, body: `DominionTrust: ${tag} ${i}` }))));
    assert.equal((await deliverSmsBatch(t.ctx, 'sms.standard', ids)).size, 0);
    return ids;
  }
  const rowsOf = (ids: string[]) => t.ctx.db.select().from(smsMessages).where(inArray(smsMessages.id, ids));
  const sweep = (provider = counting) => sweepStatusChecks({ ...t.ctx, provider });
  /** Time passes for the sweep: every due time comes `ms` closer. */
  async function elapse(ms: number): Promise<void> {
    await t.ctx.db.execute(sql`update sms_messages set status_check_at = status_check_at - ${ms} * interval '1 millisecond' where status_check_at is not null`);
  }
  /** Milliseconds until the message's next check, on the database's clock (null: not followed). */
  async function dueIn(id: string): Promise<number | null> {
    const [row] = await rawRows<{ ms: number | null }>(t.ctx.db, sql`
      select (extract(epoch from status_check_at - now()) * 1000)::float as ms from sms_messages where id = ${id}`);
    return row?.ms ?? null;
  }
  /** Seconds, to the nearest, as the due times are set a few milliseconds before they are read. */
  const seconds = (ms: number | null) => (ms === null ? null : Math.round(ms / 1000));
  /** Settles whatever earlier tests left followed, so each test sees only its own messages due. */
  async function settleOthers(): Promise<void> {
    await t.ctx.db.update(smsMessages).set({ statusCheckAt: null });
  }

  it('asks 2 s after the send, then after 2, 4, 8, 16, 32 and 60 s, and stops after its 12 checks', async () => {
    await settleOthers();
    const [id] = await sent('backoff', 1);
    assert.equal(seconds(await dueIn(id!)), 2, 'first check 2 s after the send (callbacks off)');
    assert.equal(await sweep(), 0, 'not due yet');
    fetched.length = 0;
    const waits: (number | null)[] = [];
    for (let check = 1; check <= MAX_STATUS_CHECKS; check++) {
      await elapse((await dueIn(id!))! - 500);
      assert.equal(await sweep(), 0, `check ${check} not taken early`);
      await elapse(1_000);
      assert.equal(await sweep(), 1, `check ${check} taken when due`);
      const [row] = await rowsOf([id!]);
      assert.equal(row?.statusChecks, check);
      assert.equal(row?.status, 'queued', 'the simulator still has it queued');
      if (!row?.statusCheckAt) {
        assert.equal(check, MAX_STATUS_CHECKS, `followed until its last check, not stopped at ${check}`);
        break;
      }
      waits.push(seconds(await dueIn(id!)));
    }
    assert.deepEqual(waits, [2, 4, 8, 16, 32, 60, 60, 60, 60, 60, 60]);
    assert.equal(fetched.length, MAX_STATUS_CHECKS, 'Twilio asked once per check');
    await elapse(3_600_000);
    assert.equal(await sweep(), 0, 'not followed after its checks are used up');
  });

  it('two sweepers at once take each due message once', async () => {
    await settleOthers();
    const ids = await sent('pair', 40);
    await elapse(2_000);
    fetched.length = 0;
    const [a, b] = await Promise.all([sweep(), sweep()]);
    console.log(`two sweepers claimed ${a} and ${b} of 40 due checks`);
    assert.equal(a + b, 40);
    assert.equal(fetched.length, 40);
    const sids = new Set((await rowsOf(ids)).map((r) => r.twilioSid));
    assert.deepEqual(new Set(fetched), sids, 'each message asked about exactly once');
    assert.ok((await rowsOf(ids)).every((r) => r.statusChecks === 1));
  });

  it('a full batch reports itself full, so the worker sweeps again at once', async () => {
    await settleOthers();
    await sent('full', 5);
    await elapse(2_000);
    assert.equal(await sweepStatusChecks({ ...t.ctx, provider: counting }, { limit: 3 }), 3);
    assert.equal(await sweepStatusChecks({ ...t.ctx, provider: counting }, { limit: 3 }), 2);
    assert.equal(await sweepStatusChecks({ ...t.ctx, provider: counting }, { limit: 3 }), 0);
  });

  it('a sweeper that dies mid-check leaves the check due at its next step, not lost', async () => {
    await settleOthers();
    const [id] = await sent('dies', 1);
    await elapse(2_000);
    let asked = 0;
    const hanging: SmsProvider = { ...t.ctx.provider, fetchMessage: () => (asked++, new Promise<never>(() => {})) };
    void sweep(hanging);
    for (let i = 0; i < 500 && !asked; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(asked, 1, 'the dying sweeper claimed it and asked Twilio');
    const [claimed] = await rowsOf([id!]);
    assert.equal(claimed?.statusChecks, 1);
    assert.equal(seconds(await dueIn(id!)), 2, 'its claim moved the check on by one step');
    assert.equal(await sweep(), 0, 'no other sweeper takes it while the dead one might still answer');
    await elapse(2_000);
    fetched.length = 0;
    assert.equal(await sweep(), 1, 'taken again at its next step');
    assert.equal(fetched.length, 1);
    assert.equal((await rowsOf([id!]))[0]?.statusChecks, 2);
  });

  it("a failed check counts and is tried at its next step; the open circuit's refusal does not count", async () => {
    await settleOthers();
    const [failing, parked] = await sent('fails', 2);
    await elapse(2_000);
    const refusing: SmsProvider = {
      ...t.ctx.provider,
      fetchMessage: async (sid) => {
        const [row] = await t.ctx.db.select({ id: smsMessages.id }).from(smsMessages).where(eq(smsMessages.twilioSid, sid));
        if (row?.id === parked) throw new CircuitOpenError(t.config.twilio.accountSid, 7_000);
        throw new Error('socket hang up');
      },
    };
    assert.equal(await sweep(refusing), 2);
    const byId = new Map((await rowsOf([failing!, parked!])).map((r) => [r.id, r]));
    assert.equal(byId.get(failing!)?.statusChecks, 1);
    assert.equal(seconds(await dueIn(failing!)), 2);
    assert.equal(byId.get(parked!)?.statusChecks, 0, 'refused by the circuit: not a check');
    assert.equal(seconds(await dueIn(parked!)), 7, 'asked again once the circuit lets requests through');
    assert.match(await t.readLog(), /status check failed; it is tried again at its next step/);
  });

  it('a message a callback settled is asked about once, for its charge, and then no longer followed', async () => {
    await settleOthers();
    const [unsettled, byCallback, failed] = await sent('settled', 3);
    // Callbacks settled two (status-callback-e2e.test.ts reads a real charge this way).
    await t.ctx.db.update(smsMessages).set({ status: 'delivered' }).where(eq(smsMessages.id, byCallback!));
    await t.ctx.db.update(smsMessages).set({ status: 'failed' }).where(eq(smsMessages.id, failed!));
    await elapse(2_000);
    fetched.length = 0;
    assert.equal(await sweep(), 3);
    const byId = new Map((await rowsOf([unsettled!, byCallback!, failed!])).map((r) => [r.id, r]));
    assert.equal(byId.get(byCallback!)?.statusCheckAt, null, 'delivered: not followed after its charge was asked for');
    assert.equal(byId.get(failed!)?.statusCheckAt, null, 'failed: Twilio bills nothing, not asked');
    assert.ok(byId.get(unsettled!)?.statusCheckAt, 'still queued at Twilio: followed');
    assert.deepEqual(new Set(fetched), new Set([byId.get(unsettled!)?.twilioSid, byId.get(byCallback!)?.twilioSid]));
    await elapse(3_600_000);
    fetched.length = 0;
    await sweep();
    assert.ok(!fetched.includes(byId.get(byCallback!)!.twilioSid!), 'the settled one not asked again');
  });

  it('an upgraded database keeps the checks its status jobs owed (migration 0013)', async () => {
    await settleOthers();
    const [first, second] = await sent('legacy', 2);
    // As the job-per-message design left them: followed only by 'sms.status' jobs.
    await t.ctx.db.update(smsMessages).set({ statusCheckAt: null, statusChecks: 0 }).where(inArray(smsMessages.id, [first!, second!]));
    await t.ctx.jobs.boss.createQueue('sms.status');
    const [{ now } = { now: '' }] = await rawRows<{ now: string }>(t.ctx.db, sql`select now()::text as now`);
    const at = (s: number) => new Date(new Date(now).getTime() + s * 1000);
    await t.ctx.jobs.boss.insert('sms.status', [
      { data: { messageId: first, attempt: 3 }, startAfter: at(40) },
      { data: { messageId: first, attempt: 4 }, startAfter: at(90) },
      { data: { messageId: second, attempt: 1 }, startAfter: at(30) },
    ]);
    const migration = readFileSync(join(MIGRATIONS_FOLDER, '0013_status_sweep.sql'), 'utf8');
    const upgrade = migration.slice(migration.indexOf('DO $$'));
    await t.ctx.db.execute(sql.raw(upgrade));
    const byId = new Map((await rowsOf([first!, second!])).map((r) => [r.id, r]));
    const near = (d: Date | null | undefined, s: number) => d && Math.abs(d.getTime() - at(s).getTime()) < 5_000;
    assert.ok(near(byId.get(first!)?.statusCheckAt, 40), `due when its earliest job was: ${byId.get(first!)?.statusCheckAt?.toISOString()}`);
    assert.equal(byId.get(first!)?.statusChecks, 2, 'the checks its jobs had made');
    assert.ok(near(byId.get(second!)?.statusCheckAt, 30));
    assert.equal(byId.get(second!)?.statusChecks, 0);
    const [left] = await rawRows<{ n: number }>(t.ctx.db, sql`select count(*)::int as n from pgboss.job where name = 'sms.status'`);
    assert.equal(left?.n, 0, 'the jobs are gone');
  });
});
