// `npm run bench`: throughput and latency of the message path, each figure next to the ceiling
// measured in the same run (the twilio SDK against the simulator, no database), because machines
// of the same kind differ 2-3x. Engines: embedded PGlite and, when reachable, PostgreSQL.
//
//   BENCH_MESSAGES   messages for the end-to-end run            (default 2000)
//   BENCH_BULK       bulk alerts queued ahead of the login codes  (default 20000; the figure is 100000)
//   BENCH_ENGINES    pglite,postgres                              (default both)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { count, eq, inArray } from 'drizzle-orm';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { openDatabase, type Database } from '../src/db/connection.ts';
import { smsMessages } from '../src/db/schema.ts';
import { startWorker } from '../src/jobs/worker.ts';
import { createLogger } from '../src/logging.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { queueSms, queueSmsMany } from '../src/sms/outbox.ts';
import { createTwilioProvider } from '../src/sms/twilio-provider.ts';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const BULK = Number(process.env.BENCH_BULK ?? 20_000);
const ENGINES = (process.env.BENCH_ENGINES ?? 'pglite,postgres').split(',');
const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SID = 'AC0123456789abcdef0123456789abcdef';
const TOKEN = 'bench-auth-token-0123456789abcdef';
const SENDER = '+15005550006';
const TO = '+14155552671';

const log = (line: string) => console.log(line);
const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
const mb = (bytes: number) => `${Math.round(bytes / 1e6)} MB`;

/** The simulator in its own process, as Twilio would be: the SDK's cost is measured, not the simulator's. */
async function startSimulatorProcess(port: number): Promise<() => void> {
  const child = spawn(process.execPath, ['src/cli.ts', 'twilio-sim', '--port', String(port), '--account-sid', SID, '--auth-token', TOKEN,
    '--phone-number', SENDER, '--balance', '1000000000', '--status-step', '600000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
    child.once('exit', (code) => reject(new Error(`simulator exited ${code}`)));
  });
  return () => child.kill('SIGTERM');
}

async function ceiling(simUrl: string): Promise<number> {
  const provider = createTwilioProvider({ accountSid: SID, auth: { kind: 'token', authToken: TOKEN }, apiBaseUrl: simUrl });
  const n = Math.max(1000, MESSAGES);
  let next = 0;
  for (let i = 0; i < 300; i++) await provider.send({ to: TO, from: SENDER, body: 'DominionTrust: warm-up' }); // JIT and sockets
  const started = performance.now();
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next++ < n) await provider.send({ to: TO, from: SENDER, body: 'DominionTrust: ceiling' });
  }));
  return rate(n, performance.now() - started);
}

async function openBenchDatabase(engine: string): Promise<{ database: Database; drop: () => Promise<void> }> {
  if (engine === 'pglite') {
    const database = await openDatabase({ engine: 'pglite' });
    return { database, drop: () => database.close() };
  }
  const name = `dominion_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.query(`create database ${name}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  const database = await openDatabase({ engine: 'postgres', url: url.toString() });
  return {
    database,
    drop: async () => {
      await database.close();
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

async function waitForSent(ctx: Runtime, ids: string[] | undefined, expected: number): Promise<void> {
  for (;;) {
    const where = ids ? inArray(smsMessages.id, ids) : eq(smsMessages.status, 'queued');
    const [row] = await ctx.db.select({ n: count() }).from(smsMessages).where(where);
    if (ids) {
      const [unsent] = await ctx.db.select({ n: count() }).from(smsMessages)
        .where(inArray(smsMessages.status, ['pending', 'sending', 'retrying']));
      if ((unsent?.n ?? 1) === 0) return;
    } else if ((row?.n ?? 0) >= expected) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function benchEngine(engine: string, simUrl: string, ceilingRate: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dominion-bench-'));
  const { database, drop } = await openBenchDatabase(engine);
  const config = loadConfig({
    SMS_PROVIDER: 'simulator', TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: TOKEN, TWILIO_PHONE_NUMBER: SENDER,
    TWILIO_API_BASE_URL: simUrl, TWILIO_SENDER_MPS: '0', DATA_DIR: join(dir, 'data'), LOG_DIR: join(dir, 'logs'), WORKER_CONCURRENCY: '64',
  }, join(dir, 'none.env'));
  const ctx = await openRuntime(config, { database, migrate: true, logger: createLogger({ level: 'warn', logDir: undefined, stdout: false, secrets: [] }) });
  try {
    log(`\n[${engine}]`);
    // 1. The outbox: one transaction = one message row + its job.
    const txCount = 500;
    let started = performance.now();
    for (let i = 0; i < txCount; i++) {
      await ctx.db.transaction((tx) => queueSms(ctx, tx, { type: 'transaction', lane: 'sms.standard', to: TO, body: `DominionTrust: outbox ${i}` }));
    }
    log(`  outbox, sequential transactions (row + job):  ${rate(txCount, performance.now() - started)} tx/s`);

    // 2. End to end: queued messages drained by one worker process through the SDK to the simulator.
    await ctx.db.transaction((tx) => queueSmsMany(ctx, tx, 'sms.standard',
      Array.from({ length: MESSAGES - txCount }, (_, i) => ({ type: 'transaction', to: TO, body: `DominionTrust: e2e ${i}` }))));
    started = performance.now();
    await startWorker(ctx, { statusChecks: false });
    await waitForSent(ctx, undefined, MESSAGES);
    const e2e = rate(MESSAGES, performance.now() - started);
    log(`  end to end, ${MESSAGES} messages, 1 worker:      ${e2e} msg/s  (${Math.round((e2e / ceilingRate) * 100)}% of the SDK ceiling)`);

    // 3. Priority: login codes while BULK bulk alerts wait.
    await ctx.jobs.stop(5_000);
    const ctx2 = await openRuntime(config, { database, logger: ctx.logger, metrics: ctx.metrics });
    started = performance.now();
    for (let done = 0; done < BULK; done += 5000) {
      await ctx2.db.transaction((tx) => queueSmsMany(ctx2, tx, 'sms.bulk',
        Array.from({ length: Math.min(5000, BULK - done) }, (_, i) => ({ type: 'card_expiring', to: TO, body: `DominionTrust: bulk ${done + i}` }))));
    }
    log(`  queued ${BULK} bulk alerts in ${Math.round(performance.now() - started)} ms (${rate(BULK, performance.now() - started)} msg/s)`);
    await startWorker(ctx2, { statusChecks: false });
    await new Promise((r) => setTimeout(r, 500)); // bulk sending is under way
    const latencies: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      const queued = await ctx2.db.transaction((tx) => queueSms(ctx2, tx, { type: 'two_factor_code', lane: 'sms.critical', to: TO, body: `DominionTrust: code ${i}` }));
      for (;;) {
        const [row] = await ctx2.db.select({ sid: smsMessages.twilioSid }).from(smsMessages).where(eq(smsMessages.id, queued.id));
        if (row?.sid) break;
        await new Promise((r) => setTimeout(r, 2));
      }
      latencies.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 100));
    }
    latencies.sort((a, b) => a - b);
    const [remaining] = await ctx2.db.select({ n: count() }).from(smsMessages).where(eq(smsMessages.status, 'pending'));
    log(`  login code to provider with ${BULK} bulk queued: p50 ${Math.round(latencies[4] ?? 0)} ms, max ${Math.round(latencies[9] ?? 0)} ms  (${remaining?.n ?? 0} bulk still waiting)`);
    log(`  process RSS: ${mb(process.memoryUsage().rss)}`);
    await ctx2.jobs.stop(5_000);
  } finally {
    await drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const port = 18_000 + (process.pid % 1000);
const stopSimulator = await startSimulatorProcess(port);
try {
  const simUrl = `http://127.0.0.1:${port}`;
  const ceilingRate = await ceiling(simUrl);
  log(`ceiling: twilio SDK -> simulator (other process), 64 in flight, no database: ${ceilingRate} msg/s`);
  for (const engine of ENGINES) await benchEngine(engine, simUrl, ceilingRate);
} finally {
  stopSimulator();
}
