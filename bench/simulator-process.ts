// The simulator as its own process for `npm run bench`, as Twilio would be: the SDK's and the
// workers' cost is measured, not the simulator's. Forked with IPC, it answers the bench's
// questions (how many messages so far, when each arrived, to the millisecond) that the Twilio API
// cannot (its dates have whole seconds).
import { startSimulator } from '../src/simulator/index.ts';

const [port, latency, sid, token, ...numbers] = process.argv.slice(2);
const sim = await startSimulator({
  port: Number(port), accountSid: sid!, authToken: token!, phoneNumbers: numbers, latencyMs: Number(latency),
  startingBalance: 1e9, statusStepMs: 600_000, maxMessages: 1_000_000,
});

type SimulatorQuestion = { ask: 'count' } | { ask: 'arrivals'; to?: string } | { ask: 'sentTo'; to: string; body?: string };

process.on('message', (q: SimulatorQuestion & { id: number }) => {
  const messages = sim.messages();
  const answer = q.ask === 'count' ? messages.length
    : q.ask === 'sentTo' ? messages.filter((m) => m.to === q.to && (q.body === undefined || m.body.includes(q.body))).length
      : messages.filter((m) => q.to === undefined || m.from === q.to).map((m) => m.dateCreated.getTime());
  process.send?.({ id: q.id, answer });
});
process.send?.({ id: 0, answer: sim.url });
process.on('SIGTERM', () => void sim.close().then(() => process.exit(0)));
