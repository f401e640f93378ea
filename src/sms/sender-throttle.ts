// Keeps each sender number within its throughput (a US long code: about 1 segment per second),
// across every worker process, by handing out send slots from one row per sender in PostgreSQL.
// Why not let Twilio queue the excess: Twilio's per-sender queue is first in, first out, so a
// login code sent after 10,000 alerts would wait hours behind them. Keeping Twilio's queue short
// and ordering by priority here is what lets codes overtake bulk traffic.
//
// Urgent messages (codes, security alerts) may book a slot ahead of time, so they are never more
// than a slot or two away; other traffic books only the very next slot and otherwise waits.
//
// Several sender numbers: each keeps its own rate, and a message takes the number whose next slot
// is free first, so N numbers carry N times the rate. Among numbers free at the same instant the
// customer's own number wins (senderPreference: the same customer always gets the same number
// while it has a free slot), so their messages come from one number and replies thread together;
// a saturated number hands its customers' messages to the others instead of making them wait.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { rawRows, type Db } from '../db/connection.ts';

/**
 * A booked send slot. It is one interval wide: a send that could not leave within it (the process
 * stalled, the database was slow between booking and sending) would land in a later sender's slot
 * and break the rate, so it books again instead (see `slotMissed`).
 */
export interface SenderSlot {
  sender: string;
  waitedMs: number;
  /** performance.now() after which a send is too late for the slot; Infinity when unthrottled. */
  endsAt: number;
}

export interface SenderThrottle {
  /** Waits until `sender` may send one more message; returns the slot. */
  acquire(sender: string, urgent: boolean): Promise<SenderSlot>;
  /**
   * Waits for a slot on whichever of `senders` is free first; ties go to the earlier in the list
   * (put the customer's own number first: see senderPreference). Returns the slot booked.
   */
  acquireAny(senders: readonly string[], urgent: boolean): Promise<SenderSlot>;
}

/** Whether a send is too late for its slot and must book another. */
export function slotMissed(slot: SenderSlot | undefined, now = performance.now()): boolean {
  return slot !== undefined && now > slot.endsAt;
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

/**
 * The sender numbers in the order a customer should get them: rendezvous hashing of the number
 * and the customer's phone, so each customer has a stable first choice, customers spread evenly,
 * and adding or removing a number moves only the customers of that number.
 */
export function senderPreference(senders: readonly string[], customer: string): string[] {
  if (senders.length < 2) return [...senders];
  const weight = (sender: string) => createHash('sha256').update(`${sender}|${customer}`).digest('hex');
  return senders.map((sender) => ({ sender, w: weight(sender) })).sort((a, b) => (a.w < b.w ? 1 : a.w > b.w ? -1 : 0)).map((x) => x.sender);
}

export function createSenderThrottle(db: Db, options: SenderThrottleOptions): SenderThrottle {
  if (options.messagesPerSecond <= 0) {
    return {
      acquire: async (sender) => ({ sender, waitedMs: 0, endsAt: Infinity }),
      acquireAny: async (senders) => ({ sender: firstOf(senders), waitedMs: 0, endsAt: Infinity }),
    };
  }
  const intervalSeconds = 1 / options.messagesPerSecond;
  const maxWaitMs = options.maxWaitMs ?? 30_000;
  const known = new Set<string>();

  /** Creates the slot rows of senders this process has not seen yet (a new number starts free). */
  async function ensureRows(senders: readonly string[]): Promise<void> {
    const missing = senders.filter((s) => !known.has(s));
    if (!missing.length) return;
    await db.execute(sql`
      insert into sender_throttle (sender, next_slot_at)
      values ${sql.join(missing.map((s) => sql`(${s}::text, clock_timestamp())`), sql`, `)}
      on conflict (sender) do nothing`);
    for (const s of missing) known.add(s);
  }

  /**
   * Books a slot on the sender free first, if this caller may; returns the sender and ms until
   * its slot, or ms until the earliest slot when not booked (2 ms when all were being booked by
   * others). Ordering uses the statement's instant, so senders free "now" tie and the preferred
   * one wins.
   */
  async function book(senders: readonly string[], urgent: boolean): Promise<{ sender: string; waitMs: number } | { retryInMs: number }> {
    const step = sql`make_interval(secs => ${intervalSeconds})`;
    const candidates = sql.join(senders.map((s, rank) => sql`(${s}::text, ${rank}::int)`), sql`, `);
    // Among several numbers, one another worker is booking right now is passed over, not waited
    // for: waiting would hand this caller the slot after theirs instead of a free number's slot.
    // A single number is waited for, as there is no other to take.
    const skipLocked = senders.length > 1 ? sql`skip locked` : sql``;
    const [booked] = await rawRows<{ sender: string; wait_ms: number }>(db, sql`
      with candidate (sender, rank) as (values ${candidates}),
      choice as (
        select t.sender from sender_throttle t join candidate c on c.sender = t.sender
        order by greatest(t.next_slot_at, statement_timestamp()), c.rank
        limit 1
        for update of t ${skipLocked}
      )
      update sender_throttle t
        set next_slot_at = greatest(t.next_slot_at, clock_timestamp()) + ${step}
        from choice
        where t.sender = choice.sender and (${urgent} or t.next_slot_at <= clock_timestamp() + ${step})
      returning t.sender, (extract(epoch from (t.next_slot_at - ${step} - clock_timestamp())) * 1000)::float8 as wait_ms`);
    if (booked) return { sender: booked.sender, waitMs: Math.max(0, booked.wait_ms) };
    const [next] = await rawRows<{ in_ms: number | null }>(db, sql`
      select (extract(epoch from (min(next_slot_at) - clock_timestamp())) * 1000)::float8 as in_ms
      from sender_throttle where sender in (${sql.join(senders.map((s) => sql`${s}::text`), sql`, `)})`);
    if (next?.in_ms === null || next?.in_ms === undefined) known.clear(); // rows gone (a reset database): create again
    const intervalMs = intervalSeconds * 1000;
    // Bookable already: every number was being booked by others (skip locked); try again at once.
    const bookableInMs = urgent ? 0 : (next?.in_ms ?? 0) - intervalMs;
    return { retryInMs: bookableInMs <= 0 ? 2 : Math.min(bookableInMs, intervalMs) };
  }

  async function acquireAny(senders: readonly string[], urgent: boolean): Promise<SenderSlot> {
    firstOf(senders);
    const started = performance.now();
    for (;;) {
      await ensureRows(senders);
      const result = await book(senders, urgent);
      const bookedAt = performance.now();
      const waited = bookedAt - started;
      if ('waitMs' in result) {
        if (result.waitMs > 0) await sleep(result.waitMs);
        // A send leaves in the first half of its slot; the second half is for its request to reach Twilio.
        return { sender: result.sender, waitedMs: waited + result.waitMs, endsAt: bookedAt + result.waitMs + (intervalSeconds * 1000) / 2 };
      }
      if (waited + result.retryInMs > maxWaitMs) throw new SenderBusyError(senders.join(','), Math.round(waited));
      await sleep(result.retryInMs);
    }
  }

  return {
    acquire: (sender, urgent) => acquireAny([sender], urgent),
    acquireAny,
  };
}

function firstOf(senders: readonly string[]): string {
  const first = senders[0];
  if (first === undefined) throw new Error('the sender throttle needs at least one sender');
  return first;
}
