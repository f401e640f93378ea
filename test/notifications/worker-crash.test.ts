// A worker killed mid-burst loses nothing and sends nothing twice: 5,000 notifications written
// through notifyUser while two `dominion worker` processes work them on PostgreSQL, both killed
// with SIGKILL part-way (transactions cut, sends in flight), then restarted. In the end every SMS
// notification is queued with exactly one message at the simulator, or held with its reason.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eq, sql } from 'drizzle-orm';
import { rawRows } from '../../src/db/connection.ts';
import { notifications, userProfiles, users } from '../../src/db/schema.ts';
import { notifyUser } from '../../src/notifications/send.ts';
import { DaytimeClock } from '../helpers/context.ts';
import { POSTGRES_ONLY, useWorkerFleet } from '../helpers/worker-fleet.ts';

const CUSTOMERS = 500;
const PER_CUSTOMER = 10; // the default limit of 10 an hour lets all of them go
const OVER_LIMIT = 20; // customers who get an 11th: held until the next hour, with the reason
const TOTAL = CUSTOMERS * PER_CUSTOMER + OVER_LIMIT;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(500);
  }
}

describe('worker processes killed mid-burst', POSTGRES_ONLY, () => {
  // Every process on one clock, starting at 15:00:00 UTC (10:00 in New York): the 11th SMS of a
  // customer is held whatever hour the suite runs at, and the hour cannot turn mid-test.
  const fleet = useWorkerFleet({ clock: new DaytimeClock('2026-11-25T15:00:00Z') });

  it(`${TOTAL} notifications: each SMS sent exactly once or held with a reason`, { timeout: 420_000 }, async () => {
    const t = fleet.t;
    const started = Date.now();
    const at = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
    t.sim.setBalance(1_000);
    const env = { WORKER_CONCURRENCY: '16', LOG_LEVEL: 'warn' };
    const first = fleet.start(2, env);

    const ids = await t.ctx.db.insert(users)
      .values(Array.from({ length: CUSTOMERS }, (_, i) => ({ username: `burst${i}`, passwordHash: 'not-a-real-hash' })))
      .returning({ id: users.id });
    await t.ctx.db.insert(userProfiles).values(ids.map(({ id }, i) => ({ userId: id, phoneNumber: `+1415555${String(i).padStart(4, '0')}` })));
    // Written while the workers run, 250 to a transaction, as a burst of bank changes would be.
    const events = ids.flatMap(({ id }, c) => Array.from({ length: PER_CUSTOMER + (c < OVER_LIMIT ? 1 : 0) }, (_, n) => ({ userId: id, device: `device ${c}-${n}` })));
    for (let i = 0; i < events.length; i += 250) {
      await t.ctx.db.transaction(async (tx) => {
        for (const e of events.slice(i, i + 250)) {
          await notifyUser(t.ctx, tx, { userId: e.userId, type: 'new_device_login', values: { device: e.device, location: 'Miami, FL', time: t.ctx.clock.now() } });
        }
      });
    }

    console.log(`written at ${at()}, ${t.sim.messages().length} sent so far`);
    await waitFor('a third sent', 180_000, async () => (t.sim.messages().length >= TOTAL / 3 ? true : undefined));
    for (const w of first) w.child.kill('SIGKILL');
    await Promise.all(first.map((w) => w.exited));
    const atKill = t.sim.messages().length;
    console.log(`killed both workers at ${at()} with ${atKill} of ${TOTAL} SMS at the simulator`);
    assert.ok(atKill < TOTAL, 'killed mid-burst');
    // Cut mid-batch: messages a batch had claimed and not yet recorded when the kill came.
    const cut = await rawRows<{ id: string; body_redacted: string }>(t.ctx.db, sql`
      select id, body_redacted from sms_messages where status = 'sending' and twilio_sid is null`);
    console.log(`${cut.length} messages claimed by batches in flight, not recorded`);

    fleet.start(2, env);
    // Jobs the killed workers held come back when pg-boss expires them (60 s on the critical lane).
    await waitFor('every notification decided and every SMS handed to the simulator', 360_000, async () => {
      const [open] = await rawRows<{ undecided: number; unsent: number }>(t.ctx.db, sql`
        select (select count(*)::int from notifications where channel = 'sms' and status = 'pending') as undecided,
               (select count(*)::int from sms_messages where twilio_sid is null) as unsent`);
      return open?.undecided === 0 && open.unsent === 0 ? true : undefined;
    });
    console.log(`all decided and handed over at ${at()}`);
    await sleep(1_000); // room for a duplicate to arrive

    const rows = await t.ctx.db.select().from(notifications).where(eq(notifications.channel, 'sms'));
    assert.equal(rows.length, TOTAL, 'every notification written once');
    // A notification follows its SMS: 'queued' while the message is on its way, 'sent' once delivered.
    const queued = rows.filter((r) => r.status === 'queued' || r.status === 'sent');
    const held = rows.filter((r) => r.status === 'held');
    assert.equal(queued.length + held.length, TOTAL, JSON.stringify(rows.filter((r) => !['queued', 'sent', 'held'].includes(r.status)).slice(0, 3)));
    assert.ok(held.every((r) => r.reason === 'user_hourly_limit'), 'held with the reason');
    assert.equal(held.length, OVER_LIMIT, `${held.length} held`);

    const bodies = new Map<string, number>();
    for (const m of t.sim.messages()) bodies.set(m.body, (bodies.get(m.body) ?? 0) + 1);
    const twice = [...bodies].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], 'no SMS sent twice');
    assert.equal(t.sim.messages().length, queued.length, 'one SMS per queued notification');
    const [linked] = await rawRows<{ n: number }>(t.ctx.db, sql`
      select count(distinct sms_message_id)::int as n from notifications where channel = 'sms' and status in ('queued', 'sent')`);
    assert.equal(linked?.n, queued.length, 'each queued notification has its own message');
    const [recovered] = await rawRows<{ n: number }>(t.ctx.db, sql`select count(*)::int as n from sms_delivery_attempts where error_kind = 'recovered'`);
    // Those a batch left claimed were each sent exactly once, and the sends were recorded in
    // batches: acceptances share the instant of the one statement that recorded them.
    const cutRows = cut.length ? await rawRows<{ twilio_sid: string | null }>(t.ctx.db, sql`
      select twilio_sid from sms_messages where id = any(${`{${cut.map((c) => c.id).join(',')}}`}::uuid[])`) : [];
    assert.ok(cutRows.every((r) => r.twilio_sid !== null), 'every message cut mid-batch recorded after the restart');
    for (const c of cut) assert.equal(bodies.get(c.body_redacted), 1, 'a message cut mid-batch reached the simulator once');
    const [batched] = await rawRows<{ accepted: number; statements: number }>(t.ctx.db, sql`
      select count(*)::int as accepted, count(distinct finished_at)::int as statements from sms_delivery_attempts where outcome = 'accepted'`);
    assert.ok((batched?.statements ?? 0) < (batched?.accepted ?? 0), `${batched?.accepted} acceptances in ${batched?.statements} statements`);
    console.log(`after restart: ${queued.length} sent once (${recovered?.n ?? 0} found at the provider after their worker died), ${held.length} held (user_hourly_limit)`);
  });
});
