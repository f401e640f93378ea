// Produces the `test_twilio_sms` report where it can be produced: by the running server when it
// owns the embedded database, else in this process (with its own worker, and its own simulator in
// simulator mode when none runs); Twilio alone when the database cannot be opened.
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { systemClock } from '../context.ts';
import { createTwilioProvider } from '../sms/twilio-provider.ts';
import {
  reportForConfigIssues, reportIfSettingsBlock, requestSends, runTwilioSetup, type TwilioSetupReport, type TwilioSetupRequest,
} from '../twilio-setup/run.ts';
import { startSimulatorIfNone } from './in-process-simulator.ts';
import { openLocalRun } from './local-runtime.ts';
import { callServer, findRunningServer } from './server-client.ts';
import type { ReportVenue } from './twilio-report.ts';

/** How long to give the server: every send may take the timeout twice (sent, then final). */
function serverTimeoutMs(request: TwilioSetupRequest): number {
  const sends = [request.phone, request.test2fa, request.testNotification].filter((s) => s !== undefined).length;
  return ((request.timeoutSeconds ?? 30) * sends * (request.wait ? 2 : 1) + 60) * 1000;
}

/** Checks Twilio without the database (it is held by another process, or would not open). */
async function runWithoutDatabase(config: Config, request: TwilioSetupRequest, databaseError: unknown): Promise<TwilioSetupReport> {
  const simulator = await startSimulatorIfNone(config);
  try {
    const provider = createTwilioProvider({ accountSid: config.twilio.accountSid, auth: config.twilio.auth, apiBaseUrl: config.twilio.apiBaseUrl, timeoutMs: config.twilio.timeoutMs });
    return await runTwilioSetup({ config, provider, clock: systemClock, databaseError }, request);
  } finally {
    await simulator?.close();
  }
}

export async function produceReport(request: TwilioSetupRequest, progress: (line: string) => void): Promise<{ report: TwilioSetupReport; venue: ReportVenue }> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) return { report: reportForConfigIssues(error.issues), venue: { via: 'local' } };
    throw error;
  }
  const blocked = reportIfSettingsBlock(config);
  if (blocked) return { report: blocked, venue: { via: 'local' } };

  let server;
  try {
    server = findRunningServer(config);
  } catch (lockError) {
    return { report: await runWithoutDatabase(config, request, lockError), venue: { via: 'local' } };
  }
  if (server) {
    const report = await callServer<TwilioSetupReport>(server, '/test-twilio-sms', request, serverTimeoutMs(request));
    return { report, venue: { via: 'server', serverUrl: server.url } };
  }

  let run;
  try {
    run = await openLocalRun(config, { worker: requestSends(request), simulator: true });
  } catch (openError) {
    return { report: await runWithoutDatabase(config, request, openError), venue: { via: 'local' } };
  }
  try {
    const report = await runTwilioSetup(run.runtime, request, { onProgress: progress });
    return { report, venue: { via: 'local', ownSimulator: run.simulator !== undefined } };
  } finally {
    await run.close();
  }
}
