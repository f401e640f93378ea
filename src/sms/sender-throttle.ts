// Keeps each sender number within its throughput (a US long code: about 1 segment per second),
// across every worker process, by handing out send slots from one row per sender in PostgreSQL.
// Why not let Twilio queue the excess: Twilio's per-sender queue is first in, first out, so a
// login code sent after 10,000 alerts would wait hours behind them. Keeping Twilio's queue short
// and ordering by priority here is what lets codes overtake bulk traffic.
//
// Urgent messages (codes, security alerts) may book a slot ahead of time, so they are never more
// than a slot or two away; other traffic books only the very next slot and otherwise waits.
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { rawRows, type Db } from '../db/connection.ts';

export interface SenderThrottle {
  /** Waits until `sender` may send one more message; returns the time waited, in ms. */
  acquire(sender: string, urgent: boolean): Promise<number>;
}

export interface SenderThrottleOptions {
  /** Messages per second per sender; 0 or less disables the throttle. */
  messagesPerSecond: number;
  /** Stop waiting after this long and let the caller decide (reschedule). */
  maxWaitMs?: number;
}

export class SenderBusyError extends Error {
  readonly sender: string;
  readonly waitedMs: number;
  constructor(sender: string, waitedMs: number) {
    super(`sender busy for ${waitedMs} ms`);
    this.name = 'SenderBusyError';
    this.sender = sender;
    this.waitedMs = waitedMs;
  }
}

export function createSenderThrottle(db: Db, options: SenderThrottleOptions): SenderThrottle {
  if (options.messagesPerSecond <= 0) return { acquire: async () => 0 };
  const intervalSeconds = 1 / options.messagesPerSecond;
  const maxWaitMs = options.maxWaitMs ?? 30_000;

  /** Books a slot if this caller may; returns ms until it, or undefined when not booked. */
  async function book(sender: string, urgent: boolean): Promise<{ waitMs: number } | { retryInMs: number }> {
    const step = sql`make_interval(secs => ${intervalSeconds})`;
    const [booked] = await rawRows<{ wait_ms: number }>(db, sql`
      insert into sender_throttle as t (sender, next_slot_at) values (${sender}, clock_timestamp() + ${step})
      on conflict (sender) do update
        set next_slot_at = greatest(t.next_slot_at, clock_timestamp()) + ${step}
        where ${urgent} or t.next_slot_at <= clock_timestamp() + ${step}
      returning (extract(epoch from (next_slot_at - ${step} - clock_timestamp())) * 1000)::float8 as wait_ms`);
    if (booked) return { waitMs: Math.max(0, booked.wait_ms) };
    const [next] = await rawRows<{ in_ms: number }>(db, sql`
      select (extract(epoch from (next_slot_at - clock_timestamp())) * 1000)::float8 as in_ms from sender_throttle where sender = ${sender}`);
    return { retryInMs: Math.max(1, Math.min(next?.in_ms ?? 0, intervalSeconds * 1000)) };
  }

  return {
    async acquire(sender, urgent) {
      const started = performance.now();
      for (;;) {
        const result = await book(sender, urgent);
        const waited = performance.now() - started;
        if ('waitMs' in result) {
          if (result.waitMs > 0) await sleep(result.waitMs);
          return waited + result.waitMs;
        }
        if (waited + result.retryInMs > maxWaitMs) throw new SenderBusyError(sender, Math.round(waited));
        await sleep(result.retryInMs);
      }
    },
  };
}
