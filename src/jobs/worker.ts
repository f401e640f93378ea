// The worker: takes jobs from every queue of the registry and runs them. Any number of worker
// processes may share one PostgreSQL; each job runs once at a time (pg-boss locks it).
import type { AppContext } from '../context.ts';
import { deliverSms, refreshSmsStatus } from '../sms/delivery.ts';
import type { SmsLane } from './registry.ts';

/** Concurrency per lane, as shares of WORKER_CONCURRENCY: codes never wait behind bulk. */
const LANES: { lane: SmsLane; share: number; pollSeconds: number }[] = [
  { lane: 'sms.critical', share: 0.5, pollSeconds: 1 },
  { lane: 'sms.standard', share: 0.35, pollSeconds: 1 },
  { lane: 'sms.bulk', share: 0.15, pollSeconds: 2 },
];

export interface WorkerOptions {
  /** Lanes to take send jobs from; default all. A CLI command sending one message takes only its lane. */
  lanes?: readonly SmsLane[];
  /** Also run status checks of sent messages; default true. */
  statusChecks?: boolean;
  /** Overrides WORKER_CONCURRENCY. */
  concurrency?: number;
}

export async function startWorker(ctx: AppContext, options: WorkerOptions = {}): Promise<void> {
  const total = options.concurrency ?? ctx.config.workerConcurrency;
  for (const { lane, share, pollSeconds } of LANES.filter((l) => !options.lanes || options.lanes.includes(l.lane))) {
    await ctx.jobs.work(
      lane,
      { concurrency: Math.max(2, Math.round(total * share)), pollSeconds },
      (job) => deliverSms(ctx, lane, job.data.messageId),
    );
  }
  if (options.statusChecks === false) {
    ctx.logger.info({ concurrency: total, lanes: options.lanes }, 'worker started');
    return;
  }
  await ctx.jobs.work('sms.status', { concurrency: 4, pollSeconds: 2 }, async (job) => {
    await refreshSmsStatus(ctx, job.data.messageId, job.data.attempt);
  });
  ctx.logger.info({ concurrency: total }, 'worker started');
}
