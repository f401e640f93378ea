// The job queue: pg-boss on whichever engine the database is, with typed send and work.
// `send` takes the transaction that caused the job, so the change and its job commit or
// roll back together (the transactional outbox).
import { sql } from 'drizzle-orm';
import { PgBoss, fromDrizzle, type DrizzleTransactionLike, type Job, type JobResult, type SendOptions, type WorkOptions } from 'pg-boss';
import type { Logger } from 'pino';
import { awaitDatabase, isDatabaseUnavailable } from '../db/availability.ts';
import type { Database, Queryable } from '../db/connection.ts';
import { QUEUES, QUEUE_NAMES, type JobPayloads, type QueueName } from './registry.ts';

export type JobHandler<Q extends QueueName> = (job: Job<JobPayloads[Q]>) => Promise<void>;
/**
 * Runs a whole batch of jobs set-based; returns the error of each job that failed (the queue
 * retries those), the others complete.
 */
export type BatchJobHandler<Q extends QueueName> = (jobs: Job<JobPayloads[Q]>[]) => Promise<Map<string, unknown>>;

export interface JobQueue {
  readonly boss: PgBoss;
  /** Installs or upgrades pg-boss's schema and creates every queue of the registry. */
  start(): Promise<void>;
  /** Enqueues a job; inside `tx` when given, so it exists only if that transaction commits. */
  send<Q extends QueueName>(tx: Queryable | undefined, queue: Q, data: JobPayloads[Q], options?: SendOptions): Promise<string | null>;
  /**
   * Runs `handler` for jobs of `queue`, up to `concurrency` at once in this process. Jobs are
   * fetched in batches and a full batch is followed at once by the next (no polling pause), so a
   * backlog drains at the speed of the handler, not of the polling interval.
   */
  work<Q extends QueueName>(queue: Q, options: { concurrency: number; pollSeconds: number }, handler: JobHandler<Q>): Promise<string>;
  /** Enqueues many jobs in one statement (bulk traffic, a batch's status checks), inside `tx` when given. */
  sendMany<Q extends QueueName>(tx: Queryable | undefined, queue: Q, data: JobPayloads[Q][], options?: { startAfter?: number }): Promise<void>;
  /** Like work, but the handler gets each fetched batch whole (see BatchJobHandler). */
  workBatch<Q extends QueueName>(queue: Q, options: { concurrency: number; pollSeconds: number }, handler: BatchJobHandler<Q>): Promise<string>;
  /**
   * Runs `sweep` in this process every `intervalMs`, and again at once while it reports more is due:
   * for work whose due time lives in its own rows (the status sweep), claimed set-based by every
   * worker. A failed sweep is logged (once per run of failures) and tried at the next interval.
   */
  repeat(name: string, intervalMs: number, sweep: () => Promise<boolean>): void;
  /** Stops taking jobs and waits (up to timeoutMs) for those in flight to finish. */
  stop(timeoutMs: number): Promise<void>;
}

/** How long a worker holds jobs for a database that went away (below every queue's expiry, 60 s). */
const OUTAGE_PATIENCE_MS = 45_000;
/** Times a job is run again after outages before its failure is left to the queue's retries. */
const OUTAGE_ROUNDS = 3;

export function createJobQueue(database: Database, logger: Logger): JobQueue {
  const boss = new PgBoss({
    ...database.bossOptions,
    useListenNotify: true,
    // Maintenance and scheduling run in every process; pg-boss coordinates them in the database.
    supervise: true,
    schedule: true,
  });
  boss.on('error', (error) => logger.error({ err: error }, 'job queue error'));
  /** Waits for the database after jobs failed because it went away; true once it answers again. */
  const backAfterOutage = async (queue: QueueName, count: number): Promise<boolean> => {
    logger.warn({ queue, jobs: count }, 'database unreachable; the jobs wait for it and run again');
    const back = await awaitDatabase(() => database.ping(), OUTAGE_PATIENCE_MS);
    if (back) logger.info({ queue, jobs: count }, 'database back; running the jobs again');
    return back;
  };
  boss.on('warning', (warning) => logger.warn({ warning }, 'job queue warning'));
  const repeating: { stop(): Promise<void> }[] = [];
  return {
    boss,
    async start() {
      await boss.start();
      for (const name of QUEUE_NAMES) {
        const existing = await boss.getQueue(name);
        if (existing) await boss.updateQueue(name, QUEUES[name]);
        else await boss.createQueue(name, QUEUES[name]);
      }
    },
    send(tx, queue, data, options = {}) {
      return boss.send(queue, data, tx ? { ...options, db: fromDrizzle(tx as unknown as DrizzleTransactionLike, sql) } : options);
    },
    async sendMany(tx, queue, data, options = {}) {
      if (!data.length) return;
      await boss.insert(queue, data.map((d) => ({ data: d, ...options })), tx ? { db: fromDrizzle(tx as unknown as DrizzleTransactionLike, sql) } : {});
    },
    workBatch(queue, { concurrency, pollSeconds }, handler) {
      const run = async (batch: Job<JobPayloads[typeof queue]>[]): Promise<Map<string, unknown>> => {
        try {
          return await handler(batch);
        } catch (error) {
          return new Map(batch.map((job) => [job.id, error]));
        }
      };
      return boss.work<JobPayloads[typeof queue]>(queue, workOptions(concurrency, pollSeconds), async (jobs): Promise<JobResult[]> => {
        const failed = await run(jobs);
        // Jobs that failed only because the database went away run again once it is back: the
        // queue could not record their failure anyway, and would retry them only at expiry.
        for (let round = 0; round < OUTAGE_ROUNDS; round++) {
          const waiting = jobs.filter((job) => failed.has(job.id) && isDatabaseUnavailable(failed.get(job.id)));
          if (!waiting.length || !(await backAfterOutage(queue, waiting.length))) break;
          for (const job of waiting) failed.delete(job.id);
          for (const [id, error] of await run(waiting)) failed.set(id, error);
        }
        return jobs.map((job): JobResult => {
          if (!failed.has(job.id)) return { id: job.id, status: 'completed' };
          const error = failed.get(job.id);
          logger.error({ err: error, queue, jobId: job.id }, 'job failed; the queue will retry it');
          return { id: job.id, status: 'failed', output: { message: (error as Error | undefined)?.message ?? String(error) } };
        });
      });
    },
    work(queue, { concurrency, pollSeconds }, handler) {
      return boss.work<JobPayloads[typeof queue]>(queue, workOptions(concurrency, pollSeconds), (jobs) =>
        Promise.all(jobs.map(async (job): Promise<JobResult> => {
          try {
            for (let round = 0; ; round++) {
              try {
                await handler(job);
                break;
              } catch (error) {
                if (round >= OUTAGE_ROUNDS || !isDatabaseUnavailable(error) || !(await backAfterOutage(queue, 1))) throw error;
              }
            }
            return { id: job.id, status: 'completed' };
          } catch (error) {
            logger.error({ err: error, queue, jobId: job.id }, 'job failed; the queue will retry it');
            return { id: job.id, status: 'failed', output: { message: (error as Error).message } };
          }
        })));
    },
    repeat(name, intervalMs, sweep) {
      let stopped = false;
      let failing = false;
      let timer: NodeJS.Timeout | undefined;
      let running: Promise<void> = Promise.resolve();
      const loop = async () => {
        while (!stopped) {
          let more = false;
          try {
            more = await sweep();
            if (failing) logger.info({ sweep: name }, 'sweep works again');
            failing = false;
          } catch (error) {
            if (!failing) logger.warn({ err: error, sweep: name }, 'sweep failed; it runs again at its next interval');
            failing = true;
          }
          if (!more) break;
        }
        if (!stopped) timer = setTimeout(() => { running = loop(); }, intervalMs).unref();
      };
      running = loop();
      repeating.push({
        async stop() {
          stopped = true;
          clearTimeout(timer);
          await running;
        },
      });
    },
    async stop(timeoutMs) {
      await Promise.all(repeating.splice(0).map((r) => r.stop()));
      await boss.stop({ graceful: true, timeout: timeoutMs, close: true });
    },
  };
}

/** pg-boss work options of a queue worked `concurrency` at a time (also the bench's ceiling settings). */
export function workOptions(concurrency: number, pollSeconds: number) {
  return {
    // Two fetch loops, so one slow message does not hold back a whole batch's successors.
    localConcurrency: concurrency > 2 ? 2 : 1,
    batchSize: Math.max(2, Math.ceil(concurrency / 2)),
    burstWhenBatchFull: true,
    perJobResults: true,
    pollingIntervalSeconds: pollSeconds,
    notifyPollingIntervalSeconds: pollSeconds,
  } as const satisfies WorkOptions;
}
