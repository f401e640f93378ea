// Limits stay exact when two `dominion worker` processes decide batches of notifications at once
// on PostgreSQL: 40 customers get 4 alerts each under a limit of 3 per customer an hour and 60 for
// the whole bank. Whatever batches the two workers take, no customer gets more than 3, the bank
// exactly 60 in the hour, each counter equals the SMS queued in its window, and every notification
// past a limit is held with that limit's name.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eq, sql } from 'drizzle-orm';
import { rawRows } from '../../src/db/connection.ts';
import { notifications, userProfiles, users } from '../../src/db/schema.ts';
import { notifyUser } from '../../src/notifications/send.ts';
import { eventually } from '../helpers/context.ts';
import { POSTGRES_ONLY, useWorkerFleet } from '../helpers/worker-fleet.ts';

const CUSTOMERS = 40;
const EACH = 4;
const USER_HOURLY = 3;
const GLOBAL_HOURLY = 60;

describe('limits across two worker processes deciding batches', POSTGRES_ONLY, () => {
  const fleet = useWorkerFleet();

  it(`${CUSTOMERS * EACH} alerts: at most ${USER_HOURLY} per customer, exactly ${GLOBAL_HOURLY} for the bank`, { timeout: 240_000 }, async () => {
    const t = fleet.t;
    const ids = await t.ctx.db.insert(users)
      .values(Array.from({ length: CUSTOMERS }, (_, i) => ({ username: `limits${i}`, passwordHash: 'not-a-real-hash' })))
      .returning({ id: users.id });
    await t.ctx.db.insert(userProfiles).values(ids.map(({ id }, i) => ({ userId: id, phoneNumber: `+1415556${String(i).padStart(4, '0')}` })));
    // Written before the workers start, in one transaction: they find a full backlog and take it in batches.
    await t.ctx.db.transaction(async (tx) => {
      for (let n = 0; n < EACH; n++) {
        for (const { id } of ids) {
          await notifyUser(t.ctx, tx, { userId: id, type: 'new_device_login', values: { device: `device ${id} ${n}`, location: 'Miami, FL', time: new Date() } });
        }
      }
    });
    fleet.start(2, { WORKER_CONCURRENCY: '32', LOG_LEVEL: 'warn', SMS_USER_HOURLY_LIMIT: String(USER_HOURLY), SMS_GLOBAL_HOURLY_LIMIT: String(GLOBAL_HOURLY) });

    await eventually(async () => {
      const [open] = await rawRows<{ n: number }>(t.ctx.db, sql`select count(*)::int as n from notifications where channel = 'sms' and status = 'pending'`);
      return open?.n === 0 ? true : undefined;
    }, 180_000, 'every notification decided');

    const rows = await t.ctx.db.select().from(notifications).where(eq(notifications.channel, 'sms'));
    assert.equal(rows.length, CUSTOMERS * EACH);
    const queued = rows.filter((r) => r.status === 'queued' || r.status === 'sent'); // 'sent' once delivered
    const held = rows.filter((r) => r.status === 'held');
    assert.equal(queued.length + held.length, rows.length, 'each queued or held');
    assert.ok(held.every((r) => r.reason === 'user_hourly_limit' || r.reason === 'global_hourly_limit'), 'held with the limit that refused it');

    // Per clock hour of the SMS (the window may turn mid-test: each window is checked on its own).
    const perWindow = await rawRows<{ hour: string; n: number; top: number }>(t.ctx.db, sql`
      select hour, sum(n)::int as n, max(n)::int as top from (
        select date_trunc('hour', created_at at time zone 'UTC') as hour, user_id, count(*) as n from sms_messages group by 1, 2) w group by hour`);
    for (const w of perWindow) {
      assert.ok(w.top <= USER_HOURLY, `a customer got ${w.top} in one hour`);
      assert.ok(w.n <= GLOBAL_HOURLY, `the bank sent ${w.n} in one hour`);
    }
    if (perWindow.length === 1) assert.equal(queued.length, GLOBAL_HOURLY, 'the bank limit is reached exactly');
    // The counters say exactly what was queued in their window.
    const counters = await rawRows<{ key: string; window_start: string; amount: number; actual: number }>(t.ctx.db, sql`
      select c.key, c.window_start::text, c.amount::int,
        (select count(*)::int from sms_messages m where date_trunc('hour', m.created_at at time zone 'UTC') = c.window_start at time zone 'UTC'
          and (c.key = 'sms:global:hour' or c.key = 'sms:user:' || m.user_id || ':hour')) as actual
      from rate_limit_counters c where c.key like 'sms:%:hour'`);
    assert.ok(counters.some((c) => c.key === 'sms:global:hour'), 'the bank-wide counter was counted');
    for (const c of counters) assert.equal(c.amount, c.actual, `${c.key} at ${c.window_start}`);
  });
});
