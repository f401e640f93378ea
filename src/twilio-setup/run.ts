// `test_twilio_sms` as a domain function: takes what was asked (the guide's flags) and an
// AppContext, returns a report. The CLI runs it in its own process, or asks the running server
// to run it (the server owns the embedded database); both render the same report.
import { z } from 'zod';
import type { Config, ConfigIssue } from '../config.ts';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { accountInfo, checkBalance, checkCredentials, checkSender, listNumbers, TwilioLookups, type AccountInfo, type AccountNumber } from './account.ts';
import { allPassed, checkFromError, failed, passed, type Check } from './report.ts';
import { sendNotificationTest, sendTestMessage, sendTwoFactorTest, type SendResult, type SentMessageInfo, type WaitSettings } from './sends.ts';
import { checkWebhookSigners } from './rotation.ts';
import { blocksTwilioCalls, checksFromConfigIssues, settingsChecks } from './settings.ts';

export const twilioSetupRequestSchema = z.strictObject({
  checkSetup: z.boolean().default(false),
  accountInfo: z.boolean().default(false),
  phoneNumbers: z.boolean().default(false),
  /** Send a test SMS to this number (as typed). */
  phone: z.string().max(64).optional(),
  /** Follow sent messages until Twilio's status is final. */
  wait: z.boolean().default(false),
  /** Send a real login code to this user. */
  test2fa: z.string().min(1).max(150).optional(),
  /** With test2fa: the code by voice call instead of SMS. */
  voice: z.boolean().default(false),
  /** Send a sample security notification to this user. */
  testNotification: z.string().min(1).max(150).optional(),
  /** How long to wait for each message. */
  timeoutSeconds: z.number().int().min(1).max(600).default(30),
});

export type TwilioSetupRequest = z.input<typeof twilioSetupRequestSchema>;

export interface TwilioSetupReport {
  /** True when every check passed (warnings allowed). */
  ok: boolean;
  mode: 'twilio' | 'simulator' | 'unknown';
  apiBaseUrl: string | null;
  checks: Check[];
  account?: AccountInfo;
  phoneNumbers?: AccountNumber[];
  messages: SentMessageInfo[];
}

/** A context whose database could not be opened: Twilio can still be checked. */
export type TwilioOnlyContext = Pick<AppContext, 'config' | 'provider' | 'clock'> & { databaseError: unknown };

export interface RunHooks {
  /** Progress lines while waiting for a message. */
  onProgress?: (line: string) => void;
}

/** The report when the configuration could not be loaded at all. */
export function reportForConfigIssues(issues: readonly ConfigIssue[]): TwilioSetupReport {
  const checks = checksFromConfigIssues(issues);
  return { ok: false, mode: 'unknown', apiBaseUrl: null, checks, messages: [] };
}

/**
 * The report, when the settings alone already fail in a way that makes calling Twilio pointless
 * (no credentials); undefined when the checks can go on. Needs no database and no network.
 */
export function reportIfSettingsBlock(config: Config): TwilioSetupReport | undefined {
  const settings = settingsChecks(config);
  if (!blocksTwilioCalls(settings)) return undefined;
  const checks = settings.filter((c) => !c.ok);
  return { ok: false, mode: config.smsProvider, apiBaseUrl: config.twilio.apiBaseUrl, checks, messages: [] };
}

/** True when the request sends something, so needs the database and a worker. */
export function requestSends(request: TwilioSetupRequest): boolean {
  return request.phone !== undefined || request.test2fa !== undefined || request.testNotification !== undefined;
}

async function checkDatabase(ctx: AppContext | TwilioOnlyContext): Promise<Check> {
  if ('databaseError' in ctx) {
    const error = ctx.databaseError;
    if (error instanceof AppError) return checkFromError('database', error, 'Opening the database failed');
    const where = ctx.config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `the embedded database in ${ctx.config.dataDir}`;
    return failed('database', 'database', `Could not open ${where}: ${(error as Error).message}`,
      ctx.config.databaseUrl ? 'Check DATABASE_URL and that PostgreSQL is running and reachable.' : 'Check DATA_DIR and the disk.');
  }
  try {
    await ctx.database.ping();
    const pending = await ctx.database.pendingMigrations();
    if (pending > 0) {
      return failed('database', 'database', `${ctx.database.engine}: ${pending} migration(s) not applied`, 'Run `npx dominion migrate` (the server applies them at start on the embedded database).', { title: 'Database not migrated' });
    }
    return passed('database', 'Database', `${ctx.database.engine} reachable, all migrations applied`);
  } catch (error) {
    const fix = ctx.database.engine === 'postgres' ? 'Check DATABASE_URL and that PostgreSQL is running and reachable.' : 'Check DATA_DIR and the disk.';
    return failed('database', 'database', `${ctx.database.engine}: ${(error as Error).message}`, fix);
  }
}

export async function runTwilioSetup(ctx: AppContext | TwilioOnlyContext, input: TwilioSetupRequest, hooks: RunHooks = {}): Promise<TwilioSetupReport> {
  const request = twilioSetupRequestSchema.parse(input);
  const { config } = ctx;
  const report: TwilioSetupReport = { ok: false, mode: config.smsProvider, apiBaseUrl: config.twilio.apiBaseUrl, checks: [], messages: [] };
  const finish = () => ({ ...report, ok: allPassed(report.checks) });

  const settings = settingsChecks(config);
  report.checks.push(...(request.checkSetup ? settings : settings.filter((c) => !c.ok)));
  if (blocksTwilioCalls(settings)) return finish();

  const lookups = new TwilioLookups(ctx);
  if (request.checkSetup) {
    const credentials = await checkCredentials(lookups);
    report.checks.push(credentials);
    if (credentials.ok) {
      const sender = await checkSender(config, lookups);
      if (sender) report.checks.push(sender);
      report.checks.push(await checkBalance(config, lookups));
    }
    const database = await checkDatabase(ctx);
    report.checks.push(database);
    if (database.ok && !('databaseError' in ctx) && config.publicBaseUrl !== undefined) report.checks.push(await checkWebhookSigners(ctx));
  }
  if (request.accountInfo) {
    const result = await accountInfo(config, lookups);
    report.checks.push(...result.checks);
    if (result.account) report.account = result.account;
  }
  if (request.phoneNumbers) {
    const result = await listNumbers(config, lookups);
    report.checks.push(...result.checks);
    if (result.numbers) report.phoneNumbers = result.numbers;
  }
  // Without a sender there is nothing to send from: the settings failure above says so.
  if (!requestSends(request) || settings.some((c) => !c.ok)) return finish();

  if (!request.checkSetup) {
    const database = await checkDatabase(ctx);
    if (!database.ok) report.checks.push(database);
  }
  if ('databaseError' in ctx || report.checks.some((c) => c.name === 'database' && !c.ok)) return finish();

  const wait: WaitSettings = { timeoutMs: request.timeoutSeconds * 1000, untilFinal: request.wait, onProgress: hooks.onProgress };
  const record = (result: SendResult) => {
    report.checks.push(...result.checks);
    if (result.message) report.messages.push(result.message);
  };
  if (request.phone !== undefined) record(await sendTestMessage(ctx, request.phone, wait));
  if (request.test2fa !== undefined) record(await sendTwoFactorTest(ctx, request.test2fa, wait, request.voice));
  if (request.testNotification !== undefined) record(await sendNotificationTest(ctx, request.testNotification, wait));
  return finish();
}
