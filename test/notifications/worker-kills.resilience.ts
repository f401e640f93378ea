// Issue 12, point 5, the minutes-long crash run (npm run test:resilience, PostgreSQL): 10,000
// notifications written while two `dominion worker` processes work them, and a worker SIGKILLed
// ten times at random moments (a replacement starts at once, so there are always one or two).
// Afterwards every SMS notification is sent exactly once (counted by body at the simulator) with
// its own message, and every message cut mid-send is recorded.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { rawRows } from '../../src/db/connection.ts';
import { userProfiles, users } from '../../src/db/schema.ts';
import { notifyUser } from '../../src/notifications/send.ts';
import { DaytimeClock } from '../helpers/context.ts';
import { POSTGRES_ONLY, useWorkerFleet } from '../helpers/worker-fleet.ts';

const TOTAL = Number(process.env.CRASH_NOTIFICATIONS ?? 10_000);
const KILLS = Number(process.env.CRASH_KILLS ?? 10);
const PER_CUSTOMER = 10; // the default limit of 10 an hour lets all of them go
const CUSTOMERS = Math.ceil(TOTAL / PER_CUSTOMER);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`${KILLS} worker kills during ${TOTAL} notifications`, POSTGRES_ONLY, () => {
  const fleet = useWorkerFleet({ clock: new DaytimeClock('2026-11-25T15:00:00Z') });

  it('every SMS sent exactly once', { timeout: 1_200_000 }, async () => {
    const t = fleet.t;
    const started = Date.now();
    const at = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
    t.sim.setBalance(10_000);
    const env = { WORKER_CONCURRENCY: '16', LOG_LEVEL: 'warn' };
    let workers = fleet.start(2, env);
    const ids = await t.ctx.db.insert(users)
      .values(Array.from({ length: CUSTOMERS }, (_, i) => ({ username: `kill${i}`, passwordHash: 'not-a-real-hash' })))
      .returning({ id: users.id });
    await t.ctx.db.insert(userProfiles).values(ids.map(({ id }, i) => ({ userId: id, phoneNumber: `+1415${String(5_000_000 + i).padStart(7, '0')}` })));
    const events = ids.flatMap(({ id }, c) => Array.from({ length: PER_CUSTOMER }, (_, n) => ({ userId: id, device: `device ${c}-${n}` }))).slice(0, TOTAL);

    // Kills at random moments while the burst is sent: from the first sends on, 1.5-5.5 s apart.
    const kills: string[] = [];
    const killer = (async () => {
      while (t.sim.messages().length < 100) await sleep(200);
      for (let k = 0; k < KILLS; k++) {
        await sleep(1500 + Math.random() * 4000);
        const victim = workers[Math.floor(Math.random() * workers.length)]!;
        victim.child.kill('SIGKILL');
        await victim.exited;
        kills.push(`${at()} (${t.sim.messages().length} sent)`);
        workers = [...workers.filter((w) => w !== victim), ...fleet.start(1, env)];
      }
    })();
    for (let i = 0; i < events.length; i += 250) {
      await t.ctx.db.transaction(async (tx) => {
        for (const e of events.slice(i, i + 250)) {
          await notifyUser(t.ctx, tx, { userId: e.userId, type: 'new_device_login', values: { device: e.device, location: 'Miami, FL', time: t.ctx.clock.now() } });
        }
      });
    }
    console.log(`written at ${at()}, ${t.sim.messages().length} sent so far`);
    await killer;
    console.log(`killed a worker ${KILLS} times, at ${kills.join(', ')}`);
    assert.ok(t.sim.messages().length < TOTAL, 'the kills came while the burst was being sent');

    // Jobs a killed worker held come back when pg-boss expires them (60-120 s).
    for (let deadline = Date.now() + 900_000; ; await sleep(1000)) {
      const [open] = await rawRows<{ undecided: number; unsent: number }>(t.ctx.db, sql`
        select (select count(*)::int from notifications where channel = 'sms' and status = 'pending') as undecided,
               (select count(*)::int from sms_messages where twilio_sid is null) as unsent`);
      if (open?.undecided === 0 && open.unsent === 0) break;
      assert.ok(Date.now() < deadline, `still open after 15 minutes: ${JSON.stringify(open)}`);
    }
    await sleep(1000); // room for a duplicate to arrive
    const bodies = new Map<string, number>();
    for (const m of t.sim.messages()) bodies.set(m.body, (bodies.get(m.body) ?? 0) + 1);
    const twice = [...bodies].filter(([, n]) => n > 1);
    const [counts] = await rawRows<{ notified: number; messages: number; recovered: number }>(t.ctx.db, sql`
      select (select count(*)::int from notifications where channel = 'sms' and status in ('queued', 'sent')) as notified,
             (select count(distinct sms_message_id)::int from notifications where channel = 'sms' and status in ('queued', 'sent')) as messages,
             (select count(*)::int from sms_delivery_attempts where error_kind = 'recovered') as recovered`);
    console.log(`done at ${at()}: ${t.sim.messages().length} SMS at the simulator for ${counts?.notified} notifications, ${twice.length} sent twice, ${counts?.recovered} found at the provider after their worker died`);
    assert.deepEqual(twice, [], 'no SMS sent twice');
    assert.equal(counts?.notified, TOTAL, 'every notification sent');
    assert.equal(counts?.messages, TOTAL, 'each with its own message');
    assert.equal(t.sim.messages().length, TOTAL, 'one SMS per notification at the simulator');
  });
});
