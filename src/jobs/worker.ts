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

export async function startWorker(ctx: AppContext): Promise<void> {
  const total = ctx.config.workerConcurrency;
  for (const { lane, share, pollSeconds } of LANES) {
    await ctx.jobs.work(
      lane,
      { localConcurrency: Math.max(1, Math.round(total * share)), pollingIntervalSeconds: pollSeconds, notifyPollingIntervalSeconds: pollSeconds },
      (job) => deliverSms(ctx, lane, job.data.messageId),
    );
  }
  await ctx.jobs.work('sms.status', { localConcurrency: 2, pollingIntervalSeconds: 2, notifyPollingIntervalSeconds: 2 }, async (job) => {
    await refreshSmsStatus(ctx, job.data.messageId, job.data.attempt);
  });
  ctx.logger.info({ concurrency: total }, 'worker started');
}
