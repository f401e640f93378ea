// The worker: takes jobs from every queue of the registry and runs them. Any number of worker
// processes may share one PostgreSQL; each job runs once at a time (pg-boss locks it).
import { runCardExpiryJob } from '../cards/expiry-job.ts';
import type { AppContext } from '../context.ts';
import { runDigestJob } from '../notifications/digest-job.ts';
import { dispatchNotificationBatch } from '../notifications/dispatch-batch.ts';
import { sendEmailNotification } from '../notifications/email.ts';
import { pruneLimitCounters } from '../notifications/limits.ts';
import { sweepNotifications } from '../notifications/sweep.ts';
import { notifyPhoneUnreachable } from '../notifications/unreachable.ts';
import { resumeWaitingCodes } from '../sms/delivery.ts';
import { deliverSmsBatch } from '../sms/delivery-batch.ts';
import { SWEEP_INTERVAL_MS, SWEEP_BATCH, sweepStatusChecks } from '../sms/status-sweep.ts';
import { placeCodeCall } from '../voice/code-call.ts';
import { SCHEDULES, type QueueName, type SmsLane } from './registry.ts';

/**
 * Concurrency per lane, as shares of WORKER_CONCURRENCY: codes never wait behind bulk. A lane
 * carries both steps of its SMS, the policy step of a notification and the send of its message,
 * so a security alert's policy step has the critical lane's workers too.
 */
const LANES: { lane: SmsLane; share: number; pollSeconds: number }[] = [
  // Codes: the shortest poll pg-boss allows, so a code retry due in 250 ms is not found a second late.
  { lane: 'sms.critical', share: 0.5, pollSeconds: 0.5 },
  { lane: 'sms.standard', share: 0.35, pollSeconds: 1 },
  { lane: 'sms.bulk', share: 0.15, pollSeconds: 2 },
];

export interface WorkerOptions {
  /**
   * Lanes to take SMS jobs from; default all. A CLI command sending one message takes only its
   * lane; email and the scheduled jobs then stay with the full workers.
   */
  lanes?: readonly SmsLane[];
  /** Also run the status sweep of sent messages; default true. */
  statusChecks?: boolean;
  /** Overrides WORKER_CONCURRENCY. */
  concurrency?: number;
}

export async function startWorker(ctx: AppContext, options: WorkerOptions = {}): Promise<void> {
  const total = options.concurrency ?? ctx.config.workerConcurrency;
  for (const { lane, share, pollSeconds } of LANES.filter((l) => !options.lanes || options.lanes.includes(l.lane))) {
    // Each fetched batch is worked set-based: its policy steps together, then its sends together.
    const workerId = await ctx.jobs.workBatch(
      lane,
      { concurrency: Math.max(2, Math.round(total * share)), pollSeconds },
      async (jobs) => {
        const failed = new Map<string, unknown>();
        const notificationJobs = new Map<string, string[]>();
        const messageJobs = new Map<string, string[]>();
        for (const job of jobs) {
          const [key, byKey] = 'notificationId' in job.data ? [job.data.notificationId, notificationJobs] : [job.data.messageId, messageJobs];
          byKey.set(key, [...(byKey.get(key) ?? []), job.id]);
        }
        const [dispatchErrors, sendErrors] = await Promise.all([
          notificationJobs.size ? policyThenSend(ctx, lane, [...notificationJobs.keys()]) : new Map<string, unknown>(),
          messageJobs.size ? deliverSmsBatch(ctx, lane, [...messageJobs.keys()]) : new Map<string, unknown>(),
        ]);
        for (const [errors, byKey] of [[dispatchErrors, notificationJobs], [sendErrors, messageJobs]] as const) {
          for (const [key, error] of errors) for (const id of byKey.get(key) ?? []) failed.set(id, error);
        }
        return failed;
      },
    );
    // After a storm the codes parked meanwhile, and those a failed attempt left waiting out a
    // backoff, get jobs due now, fetched at once, before the backlog, not at the next poll.
    if (lane === 'sms.critical') {
      ctx.twilioCircuit.onClosed(() => {
        ctx.jobs.boss.notifyWorker(workerId);
        resumeWaitingCodes(ctx).then(
          (resumed) => {
            if (!resumed) return;
            ctx.jobs.boss.notifyWorker(workerId);
            ctx.logger.info({ resumed }, 'twilio answers again: codes waiting to go sent now');
          },
          (error: unknown) => ctx.logger.warn({ err: error }, 'could not resume the codes waiting to go; they go at their retry time'),
        );
      });
    }
  }
  // Code calls are as urgent as code SMS: they run wherever the critical lane does.
  if (!options.lanes || options.lanes.includes('sms.critical')) {
    await ctx.jobs.work('voice.code', { concurrency: 2, pollSeconds: 1 }, async (job) => {
      await placeCodeCall(ctx, job.data.callId);
    });
  }
  if (!options.lanes) await startBackgroundQueues(ctx, total);
  if (options.statusChecks === false) {
    ctx.logger.info({ concurrency: total, lanes: options.lanes }, 'worker started');
    return;
  }
  // Sent messages are followed by a sweep of the due ones, not a job each.
  ctx.jobs.repeat('sms.status', SWEEP_INTERVAL_MS, async () => (await sweepStatusChecks(ctx)) === SWEEP_BATCH);
  ctx.logger.info({ concurrency: total }, 'worker started');
}

/**
 * The policy step of a batch of notification jobs and, in the same jobs, the sends of the SMS it
 * queued on this lane (no send job each); returns the error of each notification whose job should
 * run again, a failed send's included: its rerun sends what is still unsent.
 */
async function policyThenSend(ctx: AppContext, lane: SmsLane, notificationIds: readonly string[]): Promise<Map<string, unknown>> {
  const { errors, carried } = await dispatchNotificationBatch(ctx, notificationIds, { carriedLane: lane });
  if (!carried.size) return errors;
  const sendErrors = await deliverSmsBatch(ctx, lane, [...carried.keys()]);
  for (const [messageId, error] of sendErrors) errors.set(carried.get(messageId)!, error);
  return errors;
}

/** Email and the scheduled jobs; pg-boss sends each scheduled job once, whatever the number of workers. */
async function startBackgroundQueues(ctx: AppContext, total: number): Promise<void> {
  await ctx.jobs.work('notification.email', { concurrency: Math.max(2, Math.round(total * 0.25)), pollSeconds: 1 }, async (job) => {
    await sendEmailNotification(ctx, job.data.notificationId);
  });
  await ctx.jobs.work('phone.unreachable', { concurrency: 1, pollSeconds: 2 }, async (job) => {
    await notifyPhoneUnreachable(ctx, job.data);
  });
  await ctx.jobs.work('notification.digest', { concurrency: 1, pollSeconds: 10 }, async () => {
    await runDigestJob(ctx);
  });
  await ctx.jobs.work('rate_limits.prune', { concurrency: 1, pollSeconds: 10 }, async () => {
    await pruneLimitCounters(ctx.db, ctx.clock.now());
  });
  await ctx.jobs.work('notification.sweep', { concurrency: 1, pollSeconds: 10 }, async () => {
    await sweepNotifications(ctx);
  });
  await ctx.jobs.work('cards.expiring', { concurrency: 1, pollSeconds: 10 }, async () => {
    await runCardExpiryJob(ctx);
  });
  for (const [name, cron] of Object.entries(SCHEDULES) as [QueueName, string][]) {
    await ctx.jobs.boss.schedule(name, cron);
  }
}
