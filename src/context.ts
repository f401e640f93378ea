// The small context every domain function gets the outside world from: database, job queue,
// SMS provider, mailer, clock, logger and metrics. Tests build one with a held clock.
import type { Config } from './config.ts';
import type { Database, Db } from './db/connection.ts';
import type { Mailer } from './email/mailer.ts';
import type { JobQueue } from './jobs/queue.ts';
import type { Logger } from './logging.ts';
import type { Metrics } from './metrics.ts';
import type { ProviderCircuit } from './sms/provider-breaker.ts';
import type { SmsProvider } from './sms/provider.ts';
import type { SenderThrottle } from './sms/sender-throttle.ts';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export interface AppContext {
  readonly config: Config;
  readonly database: Database;
  readonly db: Db;
  readonly jobs: JobQueue;
  /** Every request goes through `twilioCircuit` (src/sms/provider-breaker.ts). */
  readonly provider: SmsProvider;
  /** The circuit breaker of the Twilio account: the worker parks sends while it is open. */
  readonly twilioCircuit: ProviderCircuit;
  /** Email, the alternative channel: SMTP, or the in-memory mailbox in development. */
  readonly mailer: Mailer;
  /** Keeps each sender number within its throughput, across all workers. */
  readonly senderThrottle: SenderThrottle;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly clock: Clock;
}
