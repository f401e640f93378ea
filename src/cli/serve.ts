// `dominion start | serve | worker`: runs the HTTP server, the worker, or both in one process;
// in simulator mode also the in-process Twilio simulator. Shuts down gracefully on SIGTERM/SIGINT,
// letting in-flight requests and sends finish. On the embedded database it also serves the CLI
// (admin routes with a token in DATA_DIR) and, on first start, creates the demo users.
import type { FastifyInstance } from 'fastify';
import { urlHost, type Config } from '../config.ts';
import type { DatabaseFullError } from '../db/embedded-disk.ts';
import { AppError } from '../errors.ts';
import { statusCallbackUrl } from '../sms/delivery.ts';
import { inboundSmsUrl } from '../sms/inbound.ts';
import { buildApp } from '../http/app.ts';
import { startWorker } from '../jobs/worker.ts';
import { loggerFor, openRuntime, type Runtime } from '../runtime.ts';
import type { Simulator } from '../simulator/index.ts';
import { createDemoUsers, type DemoCredential } from '../users/demo.ts';
import { removeAdminToken, writeAdminToken } from './admin-token.ts';
import { EXIT } from './exit-codes.ts';
import { startInProcessSimulator, wantsInProcessSimulator } from './in-process-simulator.ts';

/** How long a process whose embedded database's disk is full takes to stop, at most. */
const DISK_FULL_EXIT_MS = 5000;

export interface ServeOptions {
  server: boolean;
  worker: boolean;
}

export async function serve(config: Config, options: ServeOptions): Promise<void> {
  const logger = loggerFor(config, true);
  // What is running so far; shutdown stops whatever has started, in reverse order.
  const running: { simulator?: Simulator; runtime?: Runtime; app?: FastifyInstance } = {};

  let stopping: Promise<void> | undefined;
  const shutdown = (signal: string) => (stopping ??= (async () => {
    logger.info({ signal }, 'shutting down: finishing in-flight requests and sends');
    await running.app?.close();
    if (running.runtime?.database.lock) removeAdminToken(config.dataDir);
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
      running.simulator = await startInProcessSimulator(config).catch((error: unknown) => {
        throw portError(error, config.simulatorPort, 'SIMULATOR_PORT', 'the Twilio simulator');
      });
    }
    logger.warn(`SMS_PROVIDER=simulator: no real SMS will be sent; messages go to the Twilio simulator at ${config.twilio.apiBaseUrl}`);
  }

  let runtime: Runtime;
  try {
    runtime = running.runtime = await openRuntime(config, { logger, migrate: true });
  } catch (error) {
    await shutdown('start failed'); // the simulator, if it started, must not keep the process alive
    throw error;
  }
  // The embedded database's disk filled up: nothing more can be stored, so the process stops with
  // the fix on stderr and exit code 12; a supervisor restarting it gets the same answer at once
  // until there is space again. Requests until then are answered 503.
  let started = false;
  let full: DatabaseFullError | undefined;
  const stopOnFullDisk = (error: DatabaseFullError) => {
    // Nothing can be stored any more, so work still in flight can only fail (its requests are
    // answered 503 at once, its jobs wait for a database that will not come back in this process):
    // a few seconds for the answers to go out, then exit whatever is still running.
    setTimeout(() => process.exit(EXIT.database), Math.min(config.shutdownTimeoutMs, DISK_FULL_EXIT_MS)).unref();
    console.error(`❌ ${error.userMessage}`);
    logger.fatal({ err: error.cause, dataDir: error.dataDir }, 'embedded database disk full: stopping');
    void shutdown('embedded database disk full').finally(() => process.exit(EXIT.database));
  };
  runtime.database.onFailure((error) => {
    full ??= error;
    if (started) stopOnFullDisk(error);
  });
  let demoUsers: DemoCredential[];
  try {
    const embedded = runtime.database.lock !== undefined;
    // Demo users only ever on the embedded (development) database, never on PostgreSQL.
    demoUsers = embedded ? await createDemoUsers(runtime) : [];
    if (options.server) {
      const adminToken = embedded ? writeAdminToken(config.dataDir) : undefined;
      const app = (running.app = buildApp(runtime, { simulatorUrl: running.simulator?.url, adminToken }));
      try {
        await app.listen({ port: config.port, host: config.host });
      } catch (error) {
        throw portError(error, config.port, 'PORT', 'the HTTP server');
      }
      const serverUrl = serverUrlOf(app, config) ?? `http://${config.host}:${config.port}`;
      runtime.database.lock?.update({ serverUrl });
      logger.info({ serverUrl }, 'server listening');
      if (running.simulator) logger.info(`developer inbox: ${serverUrl}/dev/inbox`);
      if (config.publicBaseUrl) {
        logger.info({ statusCallbacks: statusCallbackUrl(config), inboundSms: inboundSmsUrl(config) },
          'twilio webhooks (signed with TWILIO_AUTH_TOKEN; set the inbound URL as each number\'s "A message comes in" webhook)');
      }
    }
    if (options.worker) await startWorker(runtime);
  } catch (error) {
    await shutdown('start failed');
    throw error;
  }
  started = true;
  if (full) return stopOnFullDisk(full);
  if (demoUsers.length) printDemoUsers(demoUsers, serverUrlOf(running.app, config));
}

/** A port someone else holds is the operator's to fix: say which, and how. */
function portError(error: unknown, port: number, variable: string, what: string): unknown {
  if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') return error;
  return new AppError('config_invalid',
    `Port ${port} (${variable}), wanted by ${what}, is already in use: is another \`npm start\` or \`dominion twilio-sim\` running? ` +
    `Stop it, or set ${variable} to a free port.`, { cause: error });
}

function serverUrlOf(app: FastifyInstance | undefined, config: Config): string | undefined {
  const address = app?.server.address();
  if (!address || typeof address === 'string') return undefined;
  return `http://${urlHost(config.host)}:${address.port}`;
}

/** Shown once on stdout, never logged: only the password hashes are kept. */
function printDemoUsers(users: readonly DemoCredential[], serverUrl: string | undefined): void {
  const rule = '─'.repeat(72);
  const lines = users.map((u) => `  ${u.username.padEnd(10)} password ${u.password}   ${u.isStaff ? 'staff, ' : ''}phone ${u.phoneNumber ?? '(none)'}`);
  console.log([
    rule,
    'Demo users created on this new embedded database. Passwords are shown this once only:',
    ...lines,
    'Try it: npx dominion test_twilio_sms --test-2fa testuser   (in another terminal)',
    ...(serverUrl ? [
      `  SMS inbox      ${serverUrl}/dev/inbox`,
      `  staff console  ${serverUrl}/admin   (admin; the sign-in code arrives in the inbox)`,
      `  API docs       ${serverUrl}/docs`,
    ] : []),
    rule,
  ].join('\n'));
}
