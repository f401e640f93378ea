// The sender throttle hands out slots from the database: the rate holds for concurrent callers,
// and urgent messages get the next slot ahead of waiting bulk traffic.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { rawRows } from '../../src/db/connection.ts';
import { createSenderThrottle, senderPreference } from '../../src/sms/sender-throttle.ts';
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

  describe('several sender numbers', () => {
    const numbers = ['+14155550011', '+14155550012', '+14155550013'];

    it('gives each customer a stable first choice, spread over the numbers', () => {
      const first = new Map<string, number>();
      for (let i = 0; i < 300; i++) {
        const customer = `+1415555${String(i).padStart(4, '0')}`;
        const order = senderPreference(numbers, customer);
        assert.deepEqual(order, senderPreference(numbers, customer), 'the same order every time');
        assert.deepEqual([...order].sort(), [...numbers].sort());
        first.set(order[0]!, (first.get(order[0]!) ?? 0) + 1);
      }
      for (const n of numbers) assert.ok((first.get(n) ?? 0) > 60, `${n} is first for ${first.get(n)} of 300 customers`);
      // Adding a number moves only the customers it now comes first for.
      const grown = [...numbers, '+14155550014'];
      for (let i = 0; i < 100; i++) {
        const customer = `+1415555${String(i).padStart(4, '0')}`;
        const now = senderPreference(grown, customer)[0];
        if (now !== '+14155550014') assert.equal(now, senderPreference(numbers, customer)[0]);
      }
    });

    it("keeps a customer on their own number while it is free, and moves them when it is saturated", async () => {
      const throttle = createSenderThrottle(database.db, { messagesPerSecond: 2 }); // 500 ms slots
      const [own, other] = ['+14155550021', '+14155550022'];
      // Idle numbers: the preferred one, every time it is free again.
      for (let i = 0; i < 3; i++) {
        const { sender } = await throttle.acquireAny([own, other], false);
        assert.equal(sender, own);
        await new Promise((r) => setTimeout(r, 520));
      }
      // A burst: the own number's next slot is taken, so the next message leaves from the other at once.
      const started = performance.now();
      const burst = await Promise.all([throttle.acquireAny([own, other], false), throttle.acquireAny([own, other], false)]);
      assert.deepEqual(burst.map((b) => b.sender).sort(), [own, other].sort());
      assert.ok(performance.now() - started < 300, 'neither waited for a slot');
    });

    it('carries N times the rate of one number, each number within its own rate', async () => {
      const throttle = createSenderThrottle(database.db, { messagesPerSecond: 10 }); // 100 ms slots each
      const senders = ['+14155550031', '+14155550032'];
      const started = performance.now();
      const booked = await Promise.all(Array.from({ length: 20 }, async () => {
        const { sender } = await throttle.acquireAny(senders, false);
        return { sender, at: performance.now() - started };
      }));
      const span = Math.max(...booked.map((b) => b.at));
      // 20 messages over two numbers at 10/s each: about 1 s (one number alone: about 2 s).
      assert.ok(span >= 800 && span < 1600, `20 messages over two numbers took ${Math.round(span)} ms`);
      for (const sender of senders) {
        const times = booked.filter((b) => b.sender === sender).map((b) => b.at).sort((a, b) => a - b);
        assert.ok(times.length >= 8 && times.length <= 12, `${sender} carried ${times.length} of 20`);
        assert.ok((times.at(-1)! - times[0]!) >= (times.length - 1) * 100 * 0.9, `${sender} kept to 10 per second`);
      }
    });
  });
});
