// Runs a CLI command's work in the CLI's own process: opens the database (PostgreSQL, or the
// embedded one when no server holds it), the job queue and the provider; optionally a worker for
// the send lanes, so a message the command queues is sent by the same code the server's worker runs.
import type { Config } from '../config.ts';
import { startWorker } from '../jobs/worker.ts';
import { loggerFor, openRuntime, type Runtime } from '../runtime.ts';
import type { Simulator } from '../simulator/index.ts';
import { startSimulatorIfNone } from './in-process-simulator.ts';

export interface LocalRunOptions {
  /** Start a worker on the send lanes (commands that send SMS). */
  worker: boolean;
  /** In simulator mode, start the simulator when none runs (commands that talk to Twilio). */
  simulator: boolean;
}

export interface LocalRun {
  runtime: Runtime;
  /** Set when the command started its own simulator: its inbox closes with the command. */
  simulator: Simulator | undefined;
  close(): Promise<void>;
}

/** Opens everything the command needs; on failure, closes what was opened and throws. */
export async function openLocalRun(config: Config, options: LocalRunOptions): Promise<LocalRun> {
  const simulator = options.simulator ? await startSimulatorIfNone(config) : undefined;
  let runtime: Runtime | undefined;
  try {
    runtime = await openRuntime(config, { logger: loggerFor(config, false) });
    if (options.worker) await startWorker(runtime, { lanes: ['sms.critical', 'sms.standard'], statusChecks: false, concurrency: 2 });
  } catch (error) {
    await runtime?.close().catch(() => undefined);
    await simulator?.close();
    throw error;
  }
  const opened = runtime;
  return {
    runtime: opened,
    simulator,
    async close() {
      try {
        await opened.close();
      } finally {
        await simulator?.close();
      }
    },
  };
}

/** Runs `fn` on a runtime of the CLI's own (no worker, no simulator), closing it afterwards. */
export async function withLocalRuntime<T>(config: Config, fn: (runtime: Runtime) => Promise<T>): Promise<T> {
  const run = await openLocalRun(config, { worker: false, simulator: false });
  try {
    return await fn(run.runtime);
  } finally {
    await run.close();
  }
}
