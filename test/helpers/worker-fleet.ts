// For tests of several `dominion worker` processes sharing one PostgreSQL: a test context (its
// database, simulator and logs) plus worker processes pointed at it, all stopped after the suite.
import { after, before } from 'node:test';
import { createTestContext, testEnv, type TestContext } from './context.ts';
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

/** Call inside a describe(): sets up before() and after() hooks of that suite. */
export function useWorkerFleet(): WorkerFleet {
  let context: TestContext | undefined;
  const workers: RunningProcess[] = [];
  before(async () => {
    context = await createTestContext();
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
        startDominion(['worker'], testEnv(t.sim.url, t.logDir, { DATABASE_URL: t.database.url ?? '', ...env })));
      workers.push(...started);
      return started;
    },
  };
}
