// A provider storm rehearsed end to end, on the real worker path and the real simulator: a burst
// of 200 notification SMS and a few login codes meets 429s with Retry-After (Twilio's 20429),
// then 500s, then connection resets, then answers too late (timeouts). Sends back off and honour Retry-After, the account's circuit
// opens (in /metrics) so the simulator sees far fewer requests than the same storm without it,
// codes that expired meanwhile end 'expired' unsent, the code lane recovers first, and afterwards
// every message is accepted exactly once. The same storm without the breaker is the yardstick.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eq, inArray, sql } from 'drizzle-orm';
import { sendLoginCode, type LoginCodeSent } from '../../src/auth/two-factor.ts';
import { rawRows } from '../../src/db/connection.ts';
import { notifications, smsDeliveryAttempts, smsMessages, userProfiles, users } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { CATALOGUE } from '../../src/notifications/catalogue.ts';
import { notifyUser } from '../../src/notifications/send.ts';
import { queueSms } from '../../src/sms/outbox.ts';
import { exampleValues } from '../../src/notifications/templates/render.ts';
import { OTP_POLICY } from '../../src/otp/challenges.ts';
import type { ApiRequest } from '../../src/simulator/index.ts';
import { createTestContext, DaytimeClock, eventually, type TestContext } from '../helpers/context.ts';

const NOTIFICATIONS = 200;
const RETRY_AFTER_S = 3;
const OPEN_MS = 500;
/** The storm, phase by phase. */
const PHASES = [
  { mode: 'rate_limit', durationMs: 4000, retryAfterSeconds: RETRY_AFTER_S },
  { mode: 'server_error', durationMs: 2500, status: 500 },
  { mode: 'reset', durationMs: 2000 },
  // Answers later than TWILIO_TIMEOUT_MS: the client gives up, the simulator still carries them out.
  { mode: 'slow', durationMs: 2000, delayMs: 1500 },
] as const;
const STORM_MS = PHASES.reduce((sum, p) => sum + p.durationMs, 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Rehearsal {
  t: TestContext;
  stormStart: number;
  stormEnd: number;
  /** Numbers of the notification SMS, the codes that expire during the storm, and those asked for during it. */
  bulkPhones: string[];
  doomed: { sent: LoginCodeSent; phone: string }[];
  fresh: { sent: LoginCodeSent; phone: string }[];
  /** Circuit states /metrics showed while the storm raged. */
  statesSeen: Set<string>;
}

async function openCircuitState(t: TestContext): Promise<string | undefined> {
  const text = await t.ctx.metrics.registry.getSingleMetricAsString('dominion_twilio_circuit_state');
  return /state="(\w+)"} 1$/m.exec(text)?.[1];
}

/** Queues the burst, lets the worker meet the storm, and returns when the storm has passed. */
async function rehearse(env: Record<string, string>): Promise<Rehearsal> {
  // Real time at 10:00 in New York: no quiet hours hold the alerts, whenever the suite runs.
  const clock = new DaytimeClock('2026-11-25T15:00:00Z');
  const t = await createTestContext({
    clock,
    env: { WORKER_CONCURRENCY: '16', TWILIO_TIMEOUT_MS: '1000', TWILIO_BREAKER_OPEN_MS: String(OPEN_MS), LOG_LEVEL: 'warn', ...env },
  });
  t.sim.setBalance(1_000);
  const customers = await t.ctx.db.insert(users)
    .values(Array.from({ length: NOTIFICATIONS + 6 }, (_, i) => ({ username: `storm${i}`, passwordHash: 'not-a-real-hash' })))
    .returning({ id: users.id });
  const phones = customers.map((_, i) => `+1415556${String(i).padStart(4, '0')}`);
  await t.ctx.db.insert(userProfiles).values(customers.map(({ id }, i) => ({ userId: id, phoneNumber: phones[i]! })));
  const bulk = customers.slice(0, NOTIFICATIONS);
  await t.ctx.db.transaction(async (tx) => {
    for (const [i, { id }] of bulk.entries()) {
      // Half transaction alerts (standard lane), half card reminders (bulk lane).
      const type = i % 2 ? 'transfer_sent' : 'card_expiring';
      await notifyUser(t.ctx, tx, { userId: id, type, values: exampleValues(CATALOGUE.find((s) => s.id === type)!) });
    }
  });
  // Codes asked for 5 minutes minus 1.5 s ago: they expire while Twilio storms.
  const earlier = { ...t.ctx, clock: { now: () => new Date(clock.now().getTime() - OTP_POLICY.ttlMs + 1500) } };
  const doomed = [];
  for (let i = NOTIFICATIONS; i < NOTIFICATIONS + 3; i++) doomed.push({ sent: await sendLoginCode(earlier, customers[i]!.id), phone: phones[i]! });

  const statesSeen = new Set<string>();
  const sampler = setInterval(() => void openCircuitState(t).then((s) => s && statesSeen.add(s)), 20);
  // The storm is on when the worker starts; its phases are timed from when the whole burst has
  // passed the policy step (which asks nothing of Twilio) and the first sends have met the storm.
  t.sim.storm({ ...PHASES[0], durationMs: undefined });
  await startWorker(t.ctx);
  await eventually(async () => {
    const [queued] = await rawRows<{ n: number }>(t.ctx.db, sql`select count(*)::int as n from sms_messages`);
    return (queued?.n ?? 0) >= NOTIFICATIONS + doomed.length && t.sim.requests().length > 0 ? true : undefined;
  }, 30_000, 'the burst queued for sending and its first send');
  const stormStart = Date.now();
  t.sim.storm(PHASES[0]);
  await sleep(stormStart + PHASES[0].durationMs - Date.now());
  t.sim.storm(PHASES[1]);
  // Customers signing in while Twilio answers 500: their codes must go first once it recovers.
  const fresh = [];
  for (let i = NOTIFICATIONS + 3; i < NOTIFICATIONS + 6; i++) fresh.push({ sent: await sendLoginCode(t.ctx, customers[i]!.id), phone: phones[i]! });
  await sleep(PHASES[1].durationMs - (Date.now() - stormStart - PHASES[0].durationMs));
  t.sim.storm(PHASES[2]);
  await sleep(stormStart + PHASES[0].durationMs + PHASES[1].durationMs + PHASES[2].durationMs - Date.now());
  t.sim.storm(PHASES[3]);
  await sleep(stormStart + STORM_MS - Date.now());
  t.sim.calm();
  const stormEnd = Date.now();
  clearInterval(sampler);
  return { t, stormStart, stormEnd, bulkPhones: phones.slice(0, NOTIFICATIONS), doomed, fresh, statesSeen };
}

const during = (requests: ApiRequest[], from: number, to: number) => requests.filter((r) => r.at >= from && r.at < to);

describe('a provider storm', () => {
  it('backs off, honours Retry-After, opens the circuit, expires late codes, sends codes first, and every SMS exactly once', { timeout: 120_000 }, async () => {
    // Yardstick: the same burst and storm with the breaker off; only its requests are counted.
    const bare = await rehearse({ TWILIO_BREAKER_FAILURES: '0' });
    const bareRequests = during(bare.t.sim.requests(), bare.stormStart, bare.stormEnd).length;
    const bareRateLimited = during(bare.t.sim.requests(), bare.stormStart, bare.stormStart + PHASES[0].durationMs).length;
    await bare.t.close();

    const r = await rehearse({ TWILIO_BREAKER_FAILURES: '5' });
    const { t } = r;
    try {
      // After the storm: every notification SMS accepted, every fresh code accepted, every doomed code expired.
      await eventually(async () => {
        const [open] = await rawRows<{ n: number }>(t.ctx.db, sql`
          select count(*)::int as n from sms_messages where twilio_sid is null and status not in ('expired', 'failed')`);
        const [pending] = await rawRows<{ n: number }>(t.ctx.db, sql`select count(*)::int as n from notifications where status = 'pending'`);
        return open?.n === 0 && pending?.n === 0 ? true : undefined;
      }, 60_000, 'every message settled after the storm');
      const drained = Date.now();
      await sleep(500); // room for a late duplicate to arrive

      const requests = t.sim.requests();
      const stormRequests = during(requests, r.stormStart, r.stormEnd);
      const byOutcome = new Map<string, number>();
      for (const q of stormRequests) byOutcome.set(String(q.outcome), (byOutcome.get(String(q.outcome)) ?? 0) + 1);

      // The circuit opened, as /metrics shows, and kept the storm's requests to a small fraction.
      const scraped = (await buildApp(t.ctx).inject('/metrics')).body;
      const opened = Number(/^dominion_twilio_circuit_opened_total\{account="[^"]+"} (\d+)/m.exec(scraped)?.[1] ?? 0);
      const shortCircuited = [...scraped.matchAll(/^dominion_twilio_short_circuited_total\{[^}]*} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
      assert.ok(r.statesSeen.has('open'), `the circuit was seen open in /metrics (saw ${[...r.statesSeen].join(', ')})`);
      assert.ok(opened >= 1 && shortCircuited > 0, `opened ${opened} times, ${shortCircuited} requests short-circuited`);
      assert.match(scraped, /^dominion_twilio_circuit_state\{account="AC…cdef",state="closed"} 1$/m, 'closed again after the storm');
      assert.ok(stormRequests.length * 4 < bareRequests, `${stormRequests.length} requests during the storm with the breaker, ${bareRequests} without`);

      // Retry-After honoured: no message was tried again sooner than Twilio asked, and once the
      // circuit opened on 429s nothing reached Twilio until Retry-After had passed (one probe each time).
      const attempts = await t.ctx.db.select().from(smsDeliveryAttempts).orderBy(smsDeliveryAttempts.smsMessageId, smsDeliveryAttempts.attempt);
      const limited = attempts.filter((a) => a.twilioCode === 20429);
      const seen429 = requests.filter((q) => q.outcome === 429).length;
      // A 429 answered after the client gave up (a timeout, under load) is recorded as no answer.
      assert.ok(limited.length > 0 && limited.length <= seen429, `${limited.length} attempts rate-limited, ${seen429} 429s answered`);
      let soonest = Infinity;
      for (const [i, a] of attempts.entries()) {
        const next = attempts[i + 1];
        if (a.twilioCode !== 20429 || !next || next.smsMessageId !== a.smsMessageId) continue;
        soonest = Math.min(soonest, next.startedAt.getTime() - a.finishedAt.getTime());
      }
      assert.ok(soonest >= RETRY_AFTER_S * 1000, `a rate-limited message was tried again after ${soonest} ms (Retry-After ${RETRY_AFTER_S} s)`);
      const rateLimitPhase = during(requests, r.stormStart, r.stormStart + PHASES[0].durationMs);
      assert.ok(rateLimitPhase.length * 4 < bareRateLimited, `${rateLimitPhase.length} requests in the 429 phase, ${bareRateLimited} without the breaker`);
      // Codes that expired during the storm were not sent late; the fresh ones went before the backlog drained.
      const codeRows = await t.ctx.db.select().from(smsMessages).where(inArray(smsMessages.id, [...r.doomed, ...r.fresh].map((c) => c.sent.messageId)));
      const statusOf = (id: string) => codeRows.find((m) => m.id === id)?.status;
      assert.deepEqual(r.doomed.map((c) => statusOf(c.sent.messageId)), ['expired', 'expired', 'expired']);
      const codeNotifications = await t.ctx.db.select({ status: notifications.status, reason: notifications.reason }).from(notifications)
        .where(inArray(notifications.smsMessageId, r.doomed.map((c) => c.sent.messageId)));
      assert.deepEqual(codeNotifications.map((n) => `${n.status} ${n.reason?.split(':')[0]}`), Array(3).fill('failed sms_expired'), 'their notifications follow');
      const received = t.sim.messages();
      const countTo = new Map<string, number>();
      for (const m of received) countTo.set(m.to, (countTo.get(m.to) ?? 0) + 1);
      assert.deepEqual(r.doomed.map((c) => countTo.get(c.phone) ?? 0), [0, 0, 0], 'no expired code reached Twilio');
      const acceptedAt = (phone: string) => received.find((m) => m.to === phone)!.dateCreated.getTime();
      const lastCode = Math.max(...r.fresh.map((c) => acceptedAt(c.phone)));
      const bulkTimes = r.bulkPhones.filter((p) => countTo.has(p)).map(acceptedAt).sort((a, b) => a - b);
      const bulkAfterCodes = bulkTimes.filter((at) => at > lastCode).length;
      const bulkAfterStorm = bulkTimes.filter((at) => at >= r.stormEnd).length;
      assert.ok(bulkAfterCodes > 0 && lastCode < bulkTimes.at(-1)!, 'the codes went before the backlog drained');
      if (bulkAfterCodes * 2 <= bulkTimes.length) {
        // Which code was late, and what its attempts met (times from the end of the storm).
        const offset = t.ctx.clock.now().getTime() - Date.now(); // the held daytime's
        const codeAttempts = await Promise.all(r.fresh.map(async (c) => ({
          accepted: acceptedAt(c.phone) - r.stormEnd,
          attempts: (await rawRows<{ attempt: number; outcome: string; twilio_code: number | null; started: number }>(t.ctx.db, sql`
            select a.attempt, a.outcome, a.twilio_code, (extract(epoch from a.started_at) * 1000)::float8 as started
            from sms_delivery_attempts a where a.sms_message_id = ${c.sent.messageId} order by a.attempt`))
            .map((a) => ({ ...a, started: Math.round(a.started - offset - r.stormEnd) })),
        })));
        assert.fail(`${bulkAfterCodes} of the ${bulkTimes.length} notification SMS went after the last code; the first went ${bulkTimes[0]! - r.stormEnd} ms after the storm; the codes: ${JSON.stringify(codeAttempts)}`);
      }

      // Exactly once: each notification SMS and each fresh code accepted once at the simulator; none lost.
      const expected = [...r.bulkPhones, ...r.fresh.map((c) => c.phone)];
      const notOnce = expected.filter((p) => countTo.get(p) !== 1);
      const attemptsOf = async (phone: string) => rawRows(t.ctx.db, sql`select a.attempt, a.outcome, a.twilio_code, a.error_message from sms_delivery_attempts a join sms_messages m on m.id = a.sms_message_id where m.to_number = ${phone} order by a.attempt`);
      assert.deepEqual(notOnce, [], `every message accepted exactly once: ${JSON.stringify(await Promise.all(notOnce.map(async (p) => ({ p, n: countTo.get(p), attempts: await attemptsOf(p) }))))}`);
      assert.equal(received.length, expected.length, 'nothing else sent');
      const failed = await rawRows<{ n: number }>(t.ctx.db, sql`select count(*)::int as n from sms_messages where status = 'failed'`);
      assert.equal(failed[0]?.n, 0, 'no message failed');

      console.log(`storm: ${PHASES.map((p) => `${p.mode} ${p.durationMs} ms`).join(', ')}; burst of ${NOTIFICATIONS} notification SMS + ${r.doomed.length + r.fresh.length} login codes`);
      console.log(`requests during the storm: ${stormRequests.length} with the breaker (${[...byOutcome].map(([o, n]) => `${n}x ${o}`).join(', ')}), ${bareRequests} without`);
      console.log(`circuit: opened ${opened} times, ${shortCircuited} requests short-circuited (rescheduled); states seen ${[...r.statesSeen].join(' -> ')}`);
      console.log(`Retry-After ${RETRY_AFTER_S} s: soonest retry of a rate-limited message ${soonest} ms; ${rateLimitPhase.length} requests in the ${PHASES[0].durationMs} ms 429 phase (${bareRateLimited} without the breaker), at ${rateLimitPhase.map((q) => q.at - r.stormStart).join(', ')} ms`);
      console.log(`codes: ${r.doomed.length} expired during the storm, unsent; the ${r.fresh.length} asked for during it accepted by ${lastCode - r.stormEnd} ms after the storm's end, before ${bulkAfterCodes} of the ${bulkTimes.length} notification SMS (${bulkAfterStorm} of them accepted after the storm)`);
      console.log(`after recovery (${drained - r.stormEnd} ms): ${expected.length} messages accepted exactly once, 0 lost, 0 duplicated, 0 failed`);
    } finally {
      await t.close();
    }
  });
});

describe('a send whose answer never came', () => {
  it('is looked for at Twilio before it goes again: one SMS, not two', async () => {
    const t = await createTestContext({ env: { TWILIO_TIMEOUT_MS: '300' } });
    try {
      // The simulator carries the send out after the client gave up on it.
      t.sim.storm({ mode: 'slow', delayMs: 600, requests: 1 });
      await startWorker(t.ctx);
      const queued = await t.ctx.db.transaction((tx) => queueSms(t.ctx, tx, { type: 'test_message', lane: 'sms.standard', to: '+14155550142', country: 'US', body: 'sent once' }));
      await eventually(async () => {
        const [row] = await t.ctx.db.select().from(smsMessages).where(eq(smsMessages.id, queued.id));
        return row?.twilioSid ? row : undefined;
      }, 20_000, 'the message recorded as sent');
      await sleep(700);
      const attempts = await t.ctx.db.select().from(smsDeliveryAttempts).where(eq(smsDeliveryAttempts.smsMessageId, queued.id)).orderBy(smsDeliveryAttempts.attempt);
      assert.deepEqual(attempts.map((a) => [a.outcome, a.errorKind]), [['retry', 'no_answer'], ['accepted', 'recovered']]);
      assert.equal(t.sim.messages().filter((m) => m.to === '+14155550142').length, 1, 'accepted once at the simulator');
      console.log(`timeout then retry: ${attempts.length} attempts, ${t.sim.messages().length} SMS at the simulator (found there, not sent again)`);
    } finally {
      await t.close();
    }
  });
});
