// Builds a whole AppContext for a test: its own database (test/helpers/database.ts), a real
// Twilio simulator on a free port, the real Twilio provider talking to it over HTTP, a held clock
// when asked, and logs in a temporary directory the test can read.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config.ts';
import type { Database } from '../../src/db/connection.ts';
import type { Clock } from '../../src/context.ts';
import { createLogger, flushLogger } from '../../src/logging.ts';
import { openRuntime, type Runtime } from '../../src/runtime.ts';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { recordLogs } from './recorder.ts';

export const TEST_ACCOUNT_SID = 'AC0123456789abcdef0123456789abcdef';
export const TEST_AUTH_TOKEN = 'test-auth-token-0123456789abcdef';
export const TEST_SENDER = '+15005550006';

/** A clock that only moves when told to. */
export class HeldClock implements Clock {
  #now: number;
  constructor(start: Date | string = '2026-11-25T15:00:00Z') {
    this.#now = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.#now);
  }
  advance(ms: number): void {
    this.#now += ms;
  }
}

/**
 * A clock that runs in real time from a fixed daytime instant (10:00 in New York): for tests that
 * wait on real time yet expect non-urgent alerts to go at once, whenever the suite runs (the
 * default quiet hours, 22:00-07:00, would otherwise hold them at night).
 */
export class DaytimeClock implements Clock {
  readonly #offset: number;
  constructor(start: Date | string = '2026-11-25T15:00:00Z') {
    this.#offset = new Date(start).getTime() - Date.now();
  }
  now(): Date {
    return new Date(Date.now() + this.#offset);
  }
  /** How far ahead of the system clock it runs: TEST_CLOCK_OFFSET_MS for child processes to share it. */
  get offsetMs(): number {
    return this.#offset;
  }
}

export interface TestContext {
  ctx: Runtime;
  sim: Simulator;
  config: Config;
  database: TestDatabase;
  logDir: string;
  /** Everything logged so far (flushes first). */
  readLog(): Promise<string>;
  close(): Promise<void>;
}

export interface TestContextOptions {
  env?: Record<string, string>;
  simulator?: Partial<SimulatorOptions>;
  clock?: Clock;
  /**
   * The database the runtime uses, opened from the test's own (e.g. through a TCP proxy the test
   * cuts); closed with the context. Default: the test's own database.
   */
  runtimeDatabase?: (own: TestDatabase) => Promise<Database>;
}

export function testEnv(simUrl: string, dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SMS_PROVIDER: 'simulator',
    TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
    TWILIO_PHONE_NUMBER: TEST_SENDER,
    TWILIO_API_BASE_URL: simUrl,
    DATA_DIR: join(dir, 'data'),
    LOG_DIR: join(dir, 'logs'),
    LOG_LEVEL: 'debug',
    SMS_ALLOWED_COUNTRIES: 'US,CA',
    // Tests send bursts; the throttle has tests of its own that set a rate.
    TWILIO_SENDER_MPS: '0',
    // Child processes given DATABASE_URL need one (a fixed test key, not a secret).
    DATA_ENCRYPTION_KEY: 'dGVzdCBkYXRhIGtleSwgMzIgYnl0ZXMgbG9uZyEhISE=',
    // Nothing listens for status callbacks in most tests: they poll. Webhook tests set a URL.
    PUBLIC_BASE_URL: 'off',
    // argon2id with 608 KiB instead of 19 MiB: a hash costs a few ms instead of 100-150 ms of CPU;
    // passwords.test.ts proves the production cost.
    NODE_ENV: 'test',
    PASSWORD_HASH_COST: '10',
    // A sign-in waits up to 1.5 s (real time) for its code SMS to leave a worker, so the first
    // answer can say Twilio refused it; most tests run no worker and would wait it out on every
    // login. Tests of that first answer set it back.
    CODE_SEND_WAIT_MS: '0',
    ...extra,
  };
}

export async function createTestContext(options: TestContextOptions = {}): Promise<TestContext> {
  const dir = mkdtempSync(join(tmpdir(), 'dominion-test-'));
  const sim = await startSimulator({
    port: 0,
    accountSid: TEST_ACCOUNT_SID,
    authToken: TEST_AUTH_TOKEN,
    phoneNumbers: [TEST_SENDER, '+14155550100'],
    statusStepMs: 5,
    ...options.simulator,
  });
  const config = loadConfig(testEnv(sim.url, dir, options.env), join(dir, 'no.env'));
  const database = await createTestDatabase();
  const logger = createLogger({ level: 'debug', logDir: config.logDir, stdout: false, secrets: [config.twilio.authToken] });
  const runtimeDatabase = options.runtimeDatabase ? await options.runtimeDatabase(database) : undefined;
  const ctx = await openRuntime(config, { database: runtimeDatabase ?? database, logger, clock: options.clock });
  return {
    ctx,
    sim,
    config,
    database,
    logDir: config.logDir,
    async readLog() {
      await flushLogger(logger);
      return readFileSync(join(config.logDir, 'dominion.log'), 'utf8');
    },
    async close() {
      await ctx.close();
      await runtimeDatabase?.close();
      await database.drop();
      await sim.close();
      await flushLogger(logger);
      recordLogs(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns something other than undefined; fails after timeoutMs. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
