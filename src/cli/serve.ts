// `dominion start | serve | worker`: runs the HTTP server, the worker, or both in one process;
// in simulator mode also the in-process Twilio simulator. Shuts down gracefully on SIGTERM/SIGINT,
// letting in-flight requests and sends finish.
import type { FastifyInstance } from 'fastify';
import { SIMULATOR_DEFAULTS, type Config } from '../config.ts';
import { buildApp } from '../http/app.ts';
import { startWorker } from '../jobs/worker.ts';
import { loggerFor, openRuntime, type Runtime } from '../runtime.ts';
import { startSimulator, type Simulator } from '../simulator/index.ts';

export interface ServeOptions {
  server: boolean;
  worker: boolean;
}

/** The simulator runs in-process only in simulator mode and when no other simulator URL was set. */
function wantsInProcessSimulator(config: Config): boolean {
  return config.smsProvider === 'simulator' && config.twilio.apiBaseUrl === `http://127.0.0.1:${config.simulatorPort}`;
}

export async function serve(config: Config, options: ServeOptions): Promise<void> {
  const logger = loggerFor(config, true);
  // What is running so far; shutdown stops whatever has started, in reverse order.
  const running: { simulator?: Simulator; runtime?: Runtime; app?: FastifyInstance } = {};

  let stopping: Promise<void> | undefined;
  const shutdown = (signal: string) => (stopping ??= (async () => {
    logger.info({ signal }, 'shutting down: finishing in-flight requests and sends');
    await running.app?.close();
    await running.runtime?.close();
    await running.simulator?.close();
  })());
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      process.once(signal, () => process.exit(130)); // a second signal stops at once
      shutdown(signal).then(() => process.exit(0), (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
    });
  }

  if (config.smsProvider === 'simulator') {
    if (wantsInProcessSimulator(config)) {
      running.simulator = await startSimulator({
        port: config.simulatorPort,
        accountSid: config.twilio.accountSid,
        authToken: config.twilio.authToken,
        phoneNumbers: [config.twilio.phoneNumber ?? SIMULATOR_DEFAULTS.phoneNumber],
        pricePerSegment: config.pricing.pricePerSegment,
      });
    }
    logger.warn(`SMS_PROVIDER=simulator: no real SMS will be sent; messages go to the Twilio simulator at ${config.twilio.apiBaseUrl}`);
  }

  const runtime = (running.runtime = await openRuntime(config, { logger, migrate: true }));
  const simulator = running.simulator;
  if (options.server) {
    const app = (running.app = buildApp(runtime, { simulatorUrl: simulator?.url }));
    await app.listen({ port: config.port, host: config.host });
    const serverUrl = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}`;
    runtime.database.lock?.update({ serverUrl });
    if (simulator) logger.info(`developer inbox: ${serverUrl}/dev/inbox`);
  }
  if (options.worker) await startWorker(runtime);
}
