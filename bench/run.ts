// `npm run bench [-- --quick]`: throughput and latency of the message path, each figure beside a
// ceiling measured in the same run, because machines of the same kind differ 2-3x (and a shared
// machine more). Starts what it needs: the simulator as its own process (0 ms and 200 ms
// latency), `dominion worker` processes, a fresh database on PostgreSQL (DATABASE_URL, else
// TEST_DATABASE_URL or the local one) and embedded PGlite in this process. Prints one table and
// writes it as JSON to bench-results/.
//
//   --quick            small counts, under 2 minutes
//   BENCH_ENGINES      pglite,postgres (default both)
//   BENCH_EVENTS / BENCH_BULK / BENCH_CODES   override the counts
//   BENCH_PARTS        events,rate,codes (default all): run only these figures, to iterate on one
//   BENCH_CPU_PROF     a directory: each worker process writes its CPU profile there (node --cpu-prof)
import { execSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { eq, sql } from 'drizzle-orm';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { loadConfig, type Config } from '../src/config.ts';
import { openDatabase, rawRows, type Database } from '../src/db/connection.ts';
import { buildApp } from '../src/http/app.ts';
import { workOptions } from '../src/jobs/queue.ts';
import { startWorker } from '../src/jobs/worker.ts';
import { createLogger } from '../src/logging.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { smsMessages } from '../src/db/schema.ts';
import { queueSmsMany } from '../src/sms/outbox.ts';
import { hashPassword, verifyPassword } from '../src/users/passwords.ts';
import { createTwilioProvider } from '../src/sms/twilio-provider.ts';
import type { SimulatorQuestion } from './simulator-process.ts';
import { commitTransactionEvents, createCustomers, type BenchCustomer } from './bank.ts';

const QUICK = process.argv.includes('--quick');
const num = (name: string, quick: number, full: number) => Number(process.env[name] ?? (QUICK ? quick : full));
const EVENTS = num('BENCH_EVENTS', 300, 3000);
const BULK = num('BENCH_BULK', 5000, 100_000);
const CODES = num('BENCH_CODES', 30, 200);
const RATE_MESSAGES = QUICK ? 50 : 200;
const WORKER_COUNTS = QUICK ? [1, 2] : [1, 2, 4];
const ENGINES = (process.env.BENCH_ENGINES ?? 'pglite,postgres').split(',');
const PARTS = (process.env.BENCH_PARTS ?? 'events,rate,codes').split(',');
const CONCURRENCY = 64;
/** In-flight sends of the transaction lane in one worker process (worker.ts: 35% of WORKER_CONCURRENCY). */
const LANE_CONCURRENCY = Math.round(CONCURRENCY * 0.35);
const POSTGRES_URL = process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SID = 'AC0123456789abcdef0123456789abcdef';
const TOKEN = 'bench-auth-token-0123456789abcdef';
const SENDER = '+15005550006';
// Not a Twilio magic number: +1500555xxxx senders other than ...0006 are refused (21606 and friends).
const RATE_SENDER = '+14155550100';
/**
 * Status callbacks on, as in production, where they settle each message and the status checks are
 * only a fallback 30 s after the send (CALLBACK_GRACE_SECONDS). Nothing listens there: the
 * simulator's statuses do not move during a run (statusStepMs 10 minutes), so no callback is due;
 * with callbacks off, every message would be polled at the provider 2 s after it was sent, and
 * again up to 12 times, work that production does not do.
 */
const BENCH_CALLBACKS_URL = 'http://127.0.0.1:9';
const KEY = 'YmVuY2ggZGF0YSBrZXksIDMyIGJ5dGVzIGxvbmchISE=';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const perSecond = (n: number, ms: number) => Math.round((n / ms) * 1000);
const pct = (x: number, of: number) => `${Math.round((x / of) * 100)}%`;
const started = Date.now();
const CLOCK_TICKS = Number(execSync('getconf CLK_TCK').toString().trim()) || 100;
const progress = (line: string) => console.error(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);

interface Row { figure: string; value: string; ceiling: string; ratio: string; target: string }
const rows: Row[] = [];
const record = (figure: string, value: string, ceiling = '', ratio = '', target = '') => {
  rows.push({ figure, value, ceiling, ratio, target });
  progress(`${figure}: ${value}${ratio ? ` (${ratio} of ${ceiling})` : ''}`);
};

/** The simulator in its own process, answering the bench over IPC. */
class SimulatorProcess {
  readonly child: ChildProcess;
  url = '';
  #next = 1;
  #waiting = new Map<number, (answer: unknown) => void>();
  constructor(port: number, latencyMs: number) {
    this.child = fork('bench/simulator-process.ts', [String(port), String(latencyMs), SID, TOKEN, SENDER, RATE_SENDER], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.child.on('message', (m: { id: number; answer: unknown }) => {
      this.#waiting.get(m.id)?.(m.answer);
      this.#waiting.delete(m.id);
    });
  }
  async ready(): Promise<void> {
    this.url = await new Promise<string>((resolve) => this.#waiting.set(0, (u) => resolve(u as string)));
  }
  ask<T>(question: SimulatorQuestion): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve) => {
      this.#waiting.set(id, (a) => resolve(a as T));
      this.child.send({ ...question, id });
    });
  }
  count(): Promise<number> {
    return this.ask<number>({ ask: 'count' });
  }
  async untilCount(n: number, timeoutMs = 600_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => void this.count().then((seen) => reject(new Error(`the simulator saw ${seen} of ${n} messages in ${timeoutMs} ms`))), timeoutMs);
    });
    try {
      await Promise.race([this.ask<number>({ ask: 'whenCount', n }), late]);
    } finally {
      clearTimeout(timer);
    }
  }
  stop(): void {
    this.child.kill('SIGTERM');
  }
}

function benchEnv(simUrl: string, dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SMS_PROVIDER: 'simulator', TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: TOKEN, TWILIO_PHONE_NUMBER: SENDER, TWILIO_API_BASE_URL: simUrl,
    TWILIO_SENDER_MPS: '0', PUBLIC_BASE_URL: BENCH_CALLBACKS_URL, DATA_ENCRYPTION_KEY: KEY, DATA_DIR: join(dir, 'data'), LOG_DIR: join(dir, 'logs'), LOG_LEVEL: 'warn',
    WORKER_CONCURRENCY: String(CONCURRENCY), SMS_USER_HOURLY_LIMIT: '0', SMS_USER_DAILY_LIMIT: '0', SMS_GLOBAL_HOURLY_LIMIT: '0',
    SMS_DAILY_SPEND_CAP_USD: '0', CODE_NUMBER_LIMIT: '0', CODE_IP_LIMIT: '0', CODE_COUNTRY_HOURLY_LIMIT: '0', LOGIN_IP_LIMIT: '0',
    ...extra,
  };
}

/** A `dominion worker` process; resolves once it has started taking jobs. */
async function startWorkerProcess(env: Record<string, string>): Promise<ChildProcess> {
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...profile, 'src/cli.ts', 'worker'], { env: { ...process.env, ...env, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const onData = (d: Buffer) => {
      seen += d.toString();
      if (seen.includes('"worker started"')) {
        child.stdout?.off('data', onData);
        child.stdout?.resume(); // keep draining its log lines
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited ${code}: ${seen.slice(-500)}`)));
  });
  return child;
}

async function stopProcesses(children: ChildProcess[]): Promise<void> {
  await Promise.all(children.map((c) => new Promise<void>((resolve) => {
    if (c.exitCode !== null) return resolve();
    c.once('exit', () => resolve());
    c.kill('SIGTERM');
  })));
}

function rssMb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

async function sdkCeiling(simUrl: string, concurrency: number, n: number): Promise<number> {
  const provider = createTwilioProvider({ accountSid: SID, auth: { kind: 'token', authToken: TOKEN }, apiBaseUrl: simUrl });
  for (let i = 0; i < 100; i++) await provider.send({ to: '+14155552671', from: SENDER, body: 'DominionTrust: warm-up' });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < n) await provider.send({ to: '+14155552671', from: SENDER, body: 'DominionTrust: ceiling' });
  }));
  return perSecond(n, performance.now() - t0);
}

/** Raw pg-boss moving empty jobs with the lanes' batch settings, no work in the handler. */
async function bossCeiling(database: Database, n: number): Promise<number> {
  const boss = new PgBoss({ ...database.bossOptions, useListenNotify: true, supervise: false, schedule: false });
  await boss.start();
  await boss.createQueue('bench.empty');
  await boss.insert('bench.empty', Array.from({ length: n }, () => ({ data: {} })));
  let done = 0;
  const t0 = performance.now();
  await boss.work('bench.empty', workOptions(LANE_CONCURRENCY, 1), async (jobs) => {
    done += jobs.length;
    return jobs.map((job) => ({ id: job.id, status: 'completed' as const }));
  });
  while (done < n) await sleep(5);
  const rate = perSecond(n, performance.now() - t0);
  await boss.stop({ graceful: false, close: true });
  return rate;
}

async function freshPostgres(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `dominion_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.query(`create database ${name}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/** CPU time (user + system, ms) a process has used so far, from /proc; 0 once it is gone. */
function cpuMsOf(pid: number | undefined): number {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** CPU time of each PostgreSQL process of the machine, by pid (the server's backends are not children of the bench). */
function postgresCpuMs(): Map<number, number> {
  const byPid = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') byPid.set(Number(entry), cpuMsOf(Number(entry)));
    } catch {
      // gone meanwhile
    }
  }
  return byPid;
}

/** Where the CPU of a run went: the bench's own process (the bank, and PGlite in it), the workers, the simulator, PostgreSQL. */
interface CpuShare { bank: number; workers: number; simulator: number; postgres: Map<number, number> }

function cpuNow(sim: SimulatorProcess, workers: readonly ChildProcess[]): CpuShare {
  return {
    bank: cpuMsOf(process.pid),
    workers: workers.reduce((sum, w) => sum + cpuMsOf(w.pid), 0),
    simulator: cpuMsOf(sim.child.pid),
    postgres: ENGINES.includes('postgres') ? postgresCpuMs() : new Map<number, number>(),
  };
}

/** Per message; PostgreSQL's share counts backends alive at the end (one that exited meanwhile takes its time with it). */
const cpuPerMessage = (before: CpuShare, after: CpuShare, n: number) => {
  let postgres = 0;
  for (const [pid, ms] of after.postgres) postgres += ms - (before.postgres.get(pid) ?? 0);
  const shares = { bank: after.bank - before.bank, workers: after.workers - before.workers, simulator: after.simulator - before.simulator, postgres };
  return `CPU ms per message: ${Object.entries(shares).map(([key, ms]) => `${key} ${(ms / n).toFixed(2)}`).join(', ')}`;
};

/** N bank events committed until the simulator accepted every one of their SMS; also where the CPU went. */
async function eventsToSimulator(
  ctx: Runtime, sim: SimulatorProcess, customers: BenchCustomer[], n: number, tag: string, workers: readonly ChildProcess[] = [],
): Promise<{ rate: number; cpu: string }> {
  const before = await sim.count();
  const cpuBefore = cpuNow(sim, workers);
  const t0 = performance.now();
  // This process's event loop: the bank's transactions, and with PGlite the database and the
  // worker too, share it; a stall longer than the provider timeout fails sends in flight.
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  await commitTransactionEvents(ctx, customers, n, 8, tag);
  // Every 15 s while it runs: how far the simulator is, and where the rest stand in the database.
  let stalledMs = 0;
  const stall = () => {
    stalledMs = Math.max(stalledMs, Math.round(loop.max / 1e6));
    loop.reset();
    return stalledMs;
  };
  const watch = setInterval(() => void standing(ctx, sim, before, n).then((line) => progress(`${line}; event loop stalled up to ${stall()} ms`), () => undefined), 15_000);
  try {
    await sim.untilCount(before + n);
  } finally {
    clearInterval(watch);
    loop.disable();
  }
  const rate = perSecond(n, performance.now() - t0);
  return { rate, cpu: `${cpuPerMessage(cpuBefore, cpuNow(sim, workers), n)}; this process's event loop stalled up to ${stall()} ms` };
}

/** A progress line for a long run: messages at the simulator, and the rest by status and by job state. */
async function standing(ctx: Runtime, sim: SimulatorProcess, before: number, n: number): Promise<string> {
  const seen = (await sim.count()) - before;
  const [row] = await rawRows<{ messages: string | null; notifications: string | null; jobs: string | null; errors: string | null }>(ctx.db, sql`
    select (select string_agg(status || ' ' || n, ', ') from (select status, count(*) as n from sms_messages group by status) m) as messages,
           (select string_agg(status || ' ' || n, ', ') from (select status, count(*) as n from notifications group by status) o) as notifications,
           (select string_agg(name || '/' || state || ' ' || n, ', ') from (select name, state::text, count(*) as n from pgboss.job where state <> 'completed' group by name, state) j) as jobs,
           (select string_agg(distinct coalesce(error_message, '-'), ' | ') from sms_messages where status = 'retrying') as errors`);
  return `  ${seen} of ${n} at the simulator; messages: ${row?.messages ?? 'none'}; notifications: ${row?.notifications ?? 'none'}; open jobs: ${row?.jobs ?? 'none'}${row?.errors ? `; retrying after: ${row.errors}` : ''}`;
}

/** 1-window maximum and average rate of the messages the simulator saw from one sender. */
function rateOf(arrivals: number[]): { maxInSecond: number; average: number } {
  arrivals.sort((a, b) => a - b);
  let maxInSecond = 0;
  for (let i = 0, j = 0; i < arrivals.length; i++) {
    while (arrivals[i]! - arrivals[j]! >= 1000) j++;
    maxInSecond = Math.max(maxInSecond, i - j + 1);
  }
  const span = arrivals.at(-1)! - arrivals[0]!;
  return { maxInSecond, average: span > 0 ? Math.round(((arrivals.length - 1) / span) * 10_000) / 10 : 0 };
}

/** Login codes through the real login path while a bulk backlog is being sent; p50/p99 to the simulator. */
async function codesUnderBacklog(ctx: Runtime, sim: SimulatorProcess, customers: BenchCustomer[], label: string): Promise<void> {
  for (let done = 0; done < BULK; done += 5000) {
    await ctx.db.transaction((tx) => queueSmsMany(ctx, tx, 'sms.bulk', Array.from({ length: Math.min(5000, BULK - done) }, (_, i) => ({
      type: 'card_expiring', to: customers[(done + i) % customers.length]!.phone, body: `DominionTrust: bulk ${done + i}`,
    }))));
  }
  const app = buildApp(ctx);
  await app.ready();
  await sleep(500); // bulk sending under way
  const latencies: number[] = [];
  const beforeQueued: number[] = [];
  const afterQueued: number[] = [];
  for (let i = 0; i < CODES; i++) {
    const customer = customers[i % customers.length]!;
    const startedAt = Date.now();
    const arrived = sim.ask<number>({ ask: 'whenArrived', to: customer.phone, body: 'login code', since: startedAt });
    const reply = await app.inject({ method: 'POST', url: '/api/login', payload: { username: customer.username, password: customer.password } });
    if (reply.statusCode !== 200) throw new Error(`login answered ${reply.statusCode}: ${reply.body}`);
    // The customer's own bulk alerts arrive too: the simulator tells when the code arrived among them.
    const total = (await arrived) - startedAt;
    latencies.push(total);
    // Where the time went: the code's SMS row is written by the login's transaction, after the password check.
    const [row] = await ctx.db.select({ createdAt: smsMessages.createdAt }).from(smsMessages)
      .where(eq(smsMessages.otpChallengeId, reply.json<{ challengeId: string }>().challengeId));
    const queuedAfter = row ? row.createdAt.getTime() - startedAt : 0;
    beforeQueued.push(queuedAfter);
    afterQueued.push(total - queuedAfter);
  }
  await app.close();
  const at = (values: number[], q: number) => Math.round([...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))]!);
  const sent = await sim.count();
  const backlog = BULK.toLocaleString('en-US');
  record(`${label}: login code under a ${backlog} bulk backlog, p50 / p99`, `${at(latencies, 0.5)} / ${at(latencies, 0.99)} ms`, '', '', 'p99 < 250 ms');
  record(`${label}:   of which request -> code queued (password check), p50 / p99`, `${at(beforeQueued, 0.5)} / ${at(beforeQueued, 0.99)} ms`, `password hash alone, idle: ${await passwordCheckMs(ctx)} ms`);
  record(`${label}:   of which code queued -> simulator, p50 / p99`, `${at(afterQueued, 0.5)} / ${at(afterQueued, 0.99)} ms`);
  progress(`  (${sent} messages at the simulator by then)`);
}

/** One password check at the configured hash cost, on an otherwise quiet process: the floor of any login. */
async function passwordCheckMs(ctx: Runtime): Promise<number> {
  const hash = await hashPassword('bench floor password', ctx.config.security.passwordHashCost);
  const t0 = performance.now();
  for (let i = 0; i < 3; i++) await verifyPassword('bench floor password', hash);
  return Math.round((performance.now() - t0) / 3);
}

async function benchPostgres(sims: { zero: SimulatorProcess; slow: SimulatorProcess }, ceilings: { sdk: number }): Promise<void> {
  const { url, drop } = await freshPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'dominion-bench-'));
  const children: ChildProcess[] = [];
  try {
    const env = (sim: SimulatorProcess, extra: Record<string, string> = {}) => benchEnv(sim.url, dir, { DATABASE_URL: url, ...extra });
    const config = loadConfig(env(sims.zero), join(dir, 'none.env'));
    const ctx = await openRuntime(config, { migrate: true, logger: createLogger({ level: 'warn', logDir: undefined, stdout: false, secrets: [] }) });
    const customers = await createCustomers(ctx, 200);
    const database = await openDatabase({ engine: 'postgres', url });
    record('postgres: raw pg-boss, empty jobs, lane batch settings', `${(await bossCeiling(database, QUICK ? 3000 : 20_000)).toLocaleString('en-US')} jobs/s`);
    await database.close();

    for (const [latency, sim] of PARTS.includes('events') ? [[0, sims.zero], [200, sims.slow]] as const : []) {
      let first: ChildProcess | undefined;
      for (const count of WORKER_COUNTS) {
        while (children.length < count) children.push(await startWorkerProcess(env(sim)));
        first ??= children[0];
        if (latency === 0 && count === 1) {
          await eventsToSimulator(ctx, sim, customers, 100, 'warm-up');
          record('postgres: worker RSS after warm-up', `${rssMb(first?.pid)} MB`);
        }
        const { rate, cpu } = await eventsToSimulator(ctx, sim, customers, EVENTS, `pg-${latency}-${count}`, children);
        progress(`  ${cpu}`);
        if (latency === 0) record(`postgres: bank events -> SMS accepted, 0 ms, ${count} worker${count > 1 ? 's' : ''}`, `${rate} msg/s`, `SDK ${ceilings.sdk} msg/s`, pct(rate, ceilings.sdk), 'best >= 50%');
        else {
          const bound = Math.round((count * LANE_CONCURRENCY) / 0.2);
          record(`postgres: bank events -> SMS accepted, 200 ms, ${count} worker${count > 1 ? 's' : ''}`, `${rate} msg/s`, `${count * LANE_CONCURRENCY} in flight / 200 ms = ${bound} msg/s`, pct(rate, bound), 'bound by concurrency');
        }
      }
      if (latency === 0) record('postgres: worker RSS after the runs', `${rssMb(first?.pid)} MB`, '', '', 'growth < 10%');
      await stopProcesses(children.splice(0));
    }

    if (PARTS.includes('rate')) {
      // Sender rate: one 10 MPS sender shared by three workers.
      for (let i = 0; i < 3; i++) children.push(await startWorkerProcess(env(sims.zero, { TWILIO_PHONE_NUMBER: RATE_SENDER, TWILIO_SENDER_MPS: '10' })));
      const before = await sims.zero.count();
      await ctx.db.transaction((tx) => queueSmsMany(ctx, tx, 'sms.standard', Array.from({ length: RATE_MESSAGES }, (_, i) => ({
        type: 'transaction', to: customers[i % customers.length]!.phone, body: `DominionTrust: rate ${i}`,
      }))));
      await sims.zero.untilCount(before + RATE_MESSAGES);
      const rate = rateOf(await sims.zero.ask<number[]>({ ask: 'arrivals', from: RATE_SENDER }));
      record('postgres: 10 MPS sender across 3 workers, most in any 1 s window / average', `${rate.maxInSecond} / ${rate.average} msg/s`, '10 msg/s', pct(rate.average, 10), 'never above 10');
      await stopProcesses(children.splice(0));
    }

    if (PARTS.includes('codes')) {
      children.push(await startWorkerProcess(env(sims.zero)), await startWorkerProcess(env(sims.zero)));
      await codesUnderBacklog(ctx, sims.zero, customers, 'postgres, 2 workers');
      await stopProcesses(children.splice(0));
    }
    await ctx.close();
  } finally {
    await stopProcesses(children);
    await drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchPglite(sims: { zero: SimulatorProcess; slow: SimulatorProcess }, ceilings: { sdk: number }): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dominion-bench-'));
  try {
    for (const [latency, sim] of [[0, sims.zero], [200, sims.slow]] as const) {
      const database = await openDatabase({ engine: 'pglite' });
      const config: Config = loadConfig(benchEnv(sim.url, dir), join(dir, 'none.env'));
      const ctx = await openRuntime(config, { database, migrate: true, logger: createLogger({ level: 'warn', logDir: undefined, stdout: false, secrets: [] }) });
      const customers = await createCustomers(ctx, 200);
      if (latency === 0) record('pglite: raw pg-boss, empty jobs, lane batch settings', `${(await bossCeiling(database, QUICK ? 3000 : 20_000)).toLocaleString('en-US')} jobs/s`);
      await startWorker(ctx);
      await eventsToSimulator(ctx, sim, customers, 100, 'warm-up');
      const { rate, cpu } = await eventsToSimulator(ctx, sim, customers, EVENTS, `pglite-${latency}`);
      progress(`  ${cpu}`);
      if (latency === 0) record('pglite: bank events -> SMS accepted, 0 ms, 1 process', `${rate} msg/s`, `SDK ${ceilings.sdk} msg/s`, pct(rate, ceilings.sdk), '>= 30%');
      else {
        const bound = Math.round(LANE_CONCURRENCY / 0.2);
        record('pglite: bank events -> SMS accepted, 200 ms, 1 process', `${rate} msg/s`, `${LANE_CONCURRENCY} in flight / 200 ms = ${bound} msg/s`, pct(rate, bound), 'bound by concurrency');
      }
      if (latency === 0) await codesUnderBacklog(ctx, sim, customers, 'pglite, 1 process');
      record(`pglite: process RSS (PGlite in it), after the ${latency} ms run`, `${Math.round(process.memoryUsage().rss / 1e6)} MB`);
      await ctx.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function machine(): Record<string, string> {
  const sh = (cmd: string) => { try { return execSync(cmd, { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim(); } catch { return 'unknown'; } };
  return {
    cores: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
    load: sh('cat /proc/loadavg').split(' ').slice(0, 3).join(' '),
    node: process.version,
    postgres: ENGINES.includes('postgres') ? sh(`psql "${POSTGRES_URL}" -Atc "show server_version"`) : 'not run',
    commit: sh('git rev-parse --short HEAD') + (sh('git status --porcelain') ? ' (with uncommitted changes)' : ''),
    mode: QUICK ? 'quick' : 'full',
    counts: `events ${EVENTS} per run, bulk ${BULK}, codes ${CODES}, sender-rate messages ${RATE_MESSAGES}`,
  };
}

const sims = { zero: new SimulatorProcess(18_500 + (process.pid % 500), 0), slow: new SimulatorProcess(19_000 + (process.pid % 500), 200) };
try {
  await Promise.all([sims.zero.ready(), sims.slow.ready()]);
  const sdk = await sdkCeiling(sims.zero.url, LANE_CONCURRENCY, QUICK ? 2000 : 10_000);
  record(`ceiling: twilio SDK -> simulator process, ${LANE_CONCURRENCY} in flight, no database`, `${sdk} msg/s`);
  const slowSdk = await sdkCeiling(sims.slow.url, LANE_CONCURRENCY, QUICK ? 300 : 1000);
  record(`ceiling: the same at 200 ms latency`, `${slowSdk} msg/s`, `${LANE_CONCURRENCY} / 200 ms = ${Math.round(LANE_CONCURRENCY / 0.2)} msg/s`, pct(slowSdk, LANE_CONCURRENCY / 0.2));
  const before = machine().load;
  if (ENGINES.includes('postgres')) await benchPostgres(sims, { sdk });
  if (ENGINES.includes('pglite')) await benchPglite(sims, { sdk });
  const info = { ...machine(), loadAtStart: before, seconds: String(Math.round((Date.now() - started) / 1000)) };
  const header = ['figure', 'value', 'ceiling (same run)', 'ratio', 'target'];
  const table: string[][] = [header, ...rows.map((r) => [r.figure, r.value, r.ceiling, r.ratio, r.target])];
  const widths = header.map((_, i) => Math.max(...table.map((cells) => (cells[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log([line(header), line(widths.map((w) => '-'.repeat(w))), ...table.slice(1).map(line)].join('\n'));
  console.log(Object.entries(info).map(([k, v]) => `${k}: ${v}`).join('\n'));
  mkdirSync('bench-results', { recursive: true });
  const file = join('bench-results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}${QUICK ? '-quick' : ''}.json`);
  writeFileSync(file, `${JSON.stringify({ machine: info, rows }, null, 2)}\n`);
  console.log(`written to ${file}`);
} finally {
  sims.zero.stop();
  sims.slow.stop();
}
