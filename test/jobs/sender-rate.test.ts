// TWILIO_SENDER_MPS holds across worker processes: three `dominion worker` processes on one
// PostgreSQL never make the simulator receive more than the sender's rate.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { queueSmsMany } from '../../src/sms/outbox.ts';
import { eventually } from '../helpers/context.ts';
import { POSTGRES_ONLY, useWorkerFleet, workersStarted } from '../helpers/worker-fleet.ts';

const MPS = 5;
const MESSAGES = 30;

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
    // Slots are booked exactly MPS per second in the database; what reaches the simulator also
    // carries each request's own latency and timer jitter, so the rate is checked over two-second
    // windows with two messages of tolerance (without the throttle all 30 arrive within ~100 ms).
    let busiest = 0;
    for (const start of arrivals) busiest = Math.max(busiest, arrivals.filter((a) => a >= start && a < start + 2000).length);
    const span = (arrivals.at(-1) ?? 0) - (arrivals[0] ?? 0);
    console.log(`sender rate: ${MESSAGES} messages over ${span} ms, busiest two seconds ${busiest}`);
    assert.ok(busiest <= 2 * MPS + 2, `busiest two seconds had ${busiest} messages`);
    assert.ok(span >= ((MESSAGES - 1) / MPS) * 1000 * 0.9, `${MESSAGES} messages spread over ${span} ms`);
  });
});
