// The simulator as its own process for `npm run bench`, as Twilio would be: the SDK's and the
// workers' cost is measured, not the simulator's. Forked with IPC, it answers the bench's
// questions (how many messages so far, when each arrived, to the millisecond) that the Twilio API
// cannot (its dates have whole seconds). It keeps its own tally as messages arrive (onMessage), so
// a question costs nothing next to a send: copying the whole inbox per look, 100 times a second
// over 100,000 messages, would tax the very process whose throughput is measured.
import { startSimulator } from '../src/simulator/index.ts';

const [port, latency, sid, token, ...numbers] = process.argv.slice(2);
const sim = await startSimulator({
  port: Number(port), accountSid: sid!, authToken: token!, phoneNumbers: numbers, latencyMs: Number(latency),
  startingBalance: 1e9, statusStepMs: 600_000, maxMessages: 1_000_000,
});

export type SimulatorQuestion =
  | { ask: 'count' }
  /** Answered once the simulator has accepted `n` messages in all. */
  | { ask: 'whenCount'; n: number }
  /** Arrival times (ms) of every message from this sender. */
  | { ask: 'arrivals'; from: string }
  /** Arrival time (ms) of the first message to `to` whose body has `body`, arriving at or after `since`; answered once it has. */
  | { ask: 'whenArrived'; to: string; body: string; since: number };

let count = 0;
const bySender = new Map<string, number[]>();
const byRecipient = new Map<string, { at: number; body: string }[]>();
const waiting = new Set<{ ready: () => number | null; answer: (value: number) => void }>();

sim.onMessage((message) => {
  count++;
  const at = message.dateCreated.getTime();
  const sent = bySender.get(message.from ?? '') ?? [];
  sent.push(at);
  bySender.set(message.from ?? '', sent);
  const received = byRecipient.get(message.to) ?? [];
  received.push({ at, body: message.body });
  byRecipient.set(message.to, received);
  for (const wait of waiting) {
    const value = wait.ready();
    if (value !== null) {
      waiting.delete(wait);
      wait.answer(value);
    }
  }
});

function arrivedAt(to: string, body: string, since: number): number | null {
  const received = byRecipient.get(to) ?? [];
  let first: number | null = null;
  for (let i = received.length - 1; i >= 0 && received[i]!.at >= since; i--) if (received[i]!.body.includes(body)) first = received[i]!.at;
  return first;
}

process.on('message', (q: SimulatorQuestion & { id: number }) => {
  const answer = (value: unknown) => process.send?.({ id: q.id, answer: value });
  if (q.ask === 'count') return answer(count);
  if (q.ask === 'arrivals') return answer(bySender.get(q.from) ?? []);
  const ready = q.ask === 'whenCount' ? () => (count >= q.n ? count : null) : () => arrivedAt(q.to, q.body, q.since);
  const value = ready();
  if (value !== null) return answer(value);
  waiting.add({ ready, answer });
});
process.send?.({ id: 0, answer: sim.url });
process.on('SIGTERM', () => void sim.close().then(() => process.exit(0)));
