// The sender throttle hands out slots from the database: the rate holds for concurrent callers,
// and urgent messages get the next slot ahead of waiting bulk traffic.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { rawRows } from '../../src/db/connection.ts';
import { createSenderThrottle } from '../../src/sms/sender-throttle.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

describe('sender throttle', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(() => database.drop());

  it('spaces 20 concurrent sends at the configured rate', async () => {
    const throttle = createSenderThrottle(database.db, { messagesPerSecond: 20 });
    const started = performance.now();
    const times = await Promise.all(Array.from({ length: 20 }, async () => {
      await throttle.acquire('+15005550006', false);
      return performance.now() - started;
    }));
    times.sort((a, b) => a - b);
    const span = (times[19] ?? 0) - (times[0] ?? 0);
    // 20 slots 50 ms apart: the last leaves about 950 ms after the first, never much sooner.
    assert.ok(span >= 900, `20 sends spread over ${Math.round(span)} ms`);
    // The booked slots themselves are exact: the sender's next free slot is 20 x 50 ms after the first.
    const [row] = await rawRows<{ ahead_ms: number }>(database.db, sql`
      select (extract(epoch from (next_slot_at - clock_timestamp())) * 1000)::float8 as ahead_ms from sender_throttle where sender = '+15005550006'`);
    const elapsed = performance.now() - started;
    assert.ok(elapsed + (row?.ahead_ms ?? 0) >= 990, `20 slots booked over ${Math.round(elapsed + (row?.ahead_ms ?? 0))} ms`);
  });

  it('keeps senders independent', async () => {
    const throttle = createSenderThrottle(database.db, { messagesPerSecond: 2 });
    const started = performance.now();
    await Promise.all([throttle.acquire('+14155550001', false), throttle.acquire('+14155550002', false)]);
    assert.ok(performance.now() - started < 400);
  });

  it('lets an urgent message overtake waiting bulk traffic', async () => {
    const throttle = createSenderThrottle(database.db, { messagesPerSecond: 5 }); // 200 ms slots
    const sender = '+14155550003';
    const started = performance.now();
    const bulk = Array.from({ length: 10 }, () => throttle.acquire(sender, false).then(() => performance.now() - started));
    await new Promise((r) => setTimeout(r, 300)); // bulk is queued up
    const urgentAt = await throttle.acquire(sender, true).then(() => performance.now() - started);
    const bulkTimes = await Promise.all(bulk);
    const bulkAfterUrgent = bulkTimes.filter((t) => t > urgentAt).length;
    assert.ok(urgentAt < 900, `urgent sent at ${Math.round(urgentAt)} ms`);
    assert.ok(bulkAfterUrgent >= 5, `${bulkAfterUrgent} bulk messages left after the urgent one`);
  });

  it('does nothing when disabled', async () => {
    const throttle = createSenderThrottle(database.db, { messagesPerSecond: 0 });
    const started = performance.now();
    for (let i = 0; i < 50; i++) await throttle.acquire('+15005550006', false);
    assert.ok(performance.now() - started < 100);
  });
});
