// For tests of several `dominion worker` processes sharing one PostgreSQL: a test context (its
// database, simulator and logs) plus worker processes pointed at it, all stopped after the suite.
import { after, before } from 'node:test';
import { createTestContext, DaytimeClock, eventually, testEnv, type TestContext, type TestContextOptions } from './context.ts';
import { TEST_ENGINE } from './database.ts';
import { startDominion, type RunningProcess } from './process.ts';

/** Suite option: worker processes need PostgreSQL, since embedded PGlite has one opener. */
export const POSTGRES_ONLY = { skip: TEST_ENGINE !== 'postgres' && 'runs in the PostgreSQL pass: embedded PGlite has one opener' };

export interface WorkerFleet {
  /** The suite's context; valid inside tests. */
  readonly t: TestContext;
  readonly workers: RunningProcess[];
  /** Starts `count` worker processes on the suite's database and simulator. */
  start(count: number, env?: Record<string, string>): RunningProcess[];
}

/** Waits until each worker has logged "worker started" (its queues are being worked), instead of a fixed sleep. */
export async function workersStarted(workers: RunningProcess[], timeoutMs = 60_000): Promise<void> {
  await eventually(() => {
    const exited = workers.find((w) => w.child.exitCode !== null);
    if (exited) throw new Error(`a worker exited (${exited.child.exitCode}) before it started:\n${exited.output()}`);
    return workers.every((w) => w.output().includes('"msg":"worker started"')) ? true : undefined;
  }, timeoutMs, 'the workers to start');
}

/**
 * Call inside a describe(): sets up before() and after() hooks of that suite. With a DaytimeClock
 * in `options.clock`, the worker processes run on the same shifted clock (TEST_CLOCK_OFFSET_MS).
 */
export function useWorkerFleet(options: TestContextOptions = {}): WorkerFleet {
  let context: TestContext | undefined;
  const workers: RunningProcess[] = [];
  const clockEnv: Record<string, string> = options.clock instanceof DaytimeClock ? { TEST_CLOCK_OFFSET_MS: String(options.clock.offsetMs) } : {};
  before(async () => {
    context = await createTestContext(options);
  });
  after(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await context?.close();
  });
  return {
    get t() {
      if (!context) throw new Error('the fleet is used before its before() hook ran');
      return context;
    },
    workers,
    start(count, env = {}) {
      const t = this.t;
      const started = Array.from({ length: count }, () =>
        startDominion(['worker'], testEnv(t.sim.url, t.logDir, { DATABASE_URL: t.database.url ?? '', ...clockEnv, ...env })));
      workers.push(...started);
      return started;
    },
  };
}
