// Builds the AppContext a process runs on: configuration, database (migrated when asked), job
// queue, SMS provider, mailer, logger and metrics; and takes it apart again in the right order.
import type { Config } from './config.ts';
import { systemClock, type AppContext, type Clock } from './context.ts';
import { openDatabase, type Database } from './db/connection.ts';
import { createMailer } from './email/mailer.ts';
import { createJobQueue } from './jobs/queue.ts';
import { createLogger, flushLogger, type Logger } from './logging.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { guardProvider, ProviderCircuit } from './sms/provider-breaker.ts';
import { createSenderThrottle } from './sms/sender-throttle.ts';
import { createTwilioProvider } from './sms/twilio-provider.ts';

export interface Runtime extends AppContext {
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** Apply pending migrations before anything else (always done on the embedded engine). */
  migrate?: boolean;
  /** Logger to use; default: one built from config (stdout + LOG_DIR/dominion.log). */
  logger?: Logger;
  /** Write logs to stdout too (servers yes, CLI commands no). */
  logToStdout?: boolean;
  metrics?: Metrics;
  clock?: Clock;
  /** An already open database (tests). */
  database?: Database;
}

export function loggerFor(config: Config, stdout: boolean): Logger {
  const secrets = [config.twilio.authToken, config.twilio.previousAuthToken, config.twilio.auth.kind === 'apiKey' ? config.twilio.auth.apiKeySecret : undefined];
  if (config.databaseUrl) secrets.push(new URL(config.databaseUrl).password || undefined);
  if (config.email.smtpUrl) secrets.push(decodeURIComponent(new URL(config.email.smtpUrl).password) || undefined);
  return createLogger({ level: config.logLevel, logDir: config.logDir, stdout, secrets });
}

export function openDatabaseFor(config: Config): Promise<Database> {
  return openDatabase(config.databaseUrl ? { engine: 'postgres', url: config.databaseUrl } : { engine: 'pglite', dataDir: config.dataDir });
}

export async function openRuntime(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
  const logger = options.logger ?? loggerFor(config, options.logToStdout ?? true);
  const database = options.database ?? (await openDatabaseFor(config));
  try {
    if (options.migrate || database.engine === 'pglite') await database.migrate();
    const jobs = createJobQueue(database, logger);
    await jobs.start();
    const metrics = options.metrics ?? createMetrics({ defaultMetrics: true });
    const twilio = createTwilioProvider({
      accountSid: config.twilio.accountSid,
      auth: config.twilio.auth,
      apiBaseUrl: config.twilio.apiBaseUrl,
      timeoutMs: config.twilio.timeoutMs,
    });
    const twilioCircuit = new ProviderCircuit(config.twilio.accountSid, config.twilio.breaker, metrics);
    const provider = guardProvider(twilio, twilioCircuit);
    const mailer = createMailer({ smtpUrl: config.email.smtpUrl, from: config.email.from });
    return {
      config,
      database,
      db: database.db,
      jobs,
      provider,
      twilioCircuit,
      mailer,
      senderThrottle: createSenderThrottle(database.db, { messagesPerSecond: config.twilio.senderMps }),
      logger,
      metrics,
      clock: options.clock ?? (config.testClockOffsetMs ? { now: () => new Date(Date.now() + config.testClockOffsetMs) } : systemClock),
      async close() {
        await jobs.stop(config.shutdownTimeoutMs);
        mailer.close();
        if (!options.database) await database.close();
        await flushLogger(logger);
      },
    };
  } catch (error) {
    if (!options.database) await database.close().catch(() => undefined);
    throw error;
  }
}
