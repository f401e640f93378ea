// TWILIO_SENDER_MPS holds across worker processes: three `dominion worker` processes on one
// PostgreSQL never make the simulator receive more than the sender's rate.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { queueSmsMany } from '../../src/sms/outbox.ts';
import { eventually } from '../helpers/context.ts';
import { POSTGRES_ONLY, useWorkerFleet, workersStarted } from '../helpers/worker-fleet.ts';

const MPS = 10;
const MESSAGES = 60;

describe('sender throughput across worker processes', POSTGRES_ONLY, () => {
  const fleet = useWorkerFleet();

  it(`3 workers send ${MESSAGES} messages at no more than ${MPS} per second`, async () => {
    const t = fleet.t;
    await workersStarted(fleet.start(3, { TWILIO_SENDER_MPS: String(MPS), WORKER_CONCURRENCY: '8' })); // so they compete from the start
    await t.ctx.db.transaction((tx) => queueSmsMany(t.ctx, tx, 'sms.standard',
      Array.from({ length: MESSAGES }, (_, i) => ({ type: 'transaction', to: '+14155552671', body: `rate ${i}` }))));
    await eventually(() => (t.sim.messages().length >= MESSAGES ? true : undefined), 60_000, 'all sent');
    const arrivals = t.sim.messages().map((m) => new Date(m.dateCreated).getTime()).sort((a, b) => a - b);
    assert.equal(arrivals.length, MESSAGES, 'each sent once');
    // What the simulator saw, at its own clock (ms): no one-second window holds more than the rate.
    // Slots are booked 5% wider than 1 / rate (SLOT_MARGIN), and a send later than its slot allows
    // books again, so a request's own latency and timer jitter cannot crowd rate + 1 into a second
    // (before the margin, three workers at 10 MPS put 11 in one in the bench).
    let busiest = 0;
    for (let i = 0, j = 0; i < arrivals.length; i++) {
      while (arrivals[i]! - arrivals[j]! >= 1000) j++;
      busiest = Math.max(busiest, i - j + 1);
    }
    const span = (arrivals.at(-1) ?? 0) - (arrivals[0] ?? 0);
    console.log(`sender rate: ${MESSAGES} messages over ${span} ms (${(((MESSAGES - 1) / span) * 1000).toFixed(2)} msg/s), busiest second ${busiest}`);
    assert.ok(busiest <= MPS, `the busiest second had ${busiest} messages`);
    assert.ok(span >= ((MESSAGES - 1) / MPS) * 1000 * 0.9, `${MESSAGES} messages spread over ${span} ms`);
  });
});
