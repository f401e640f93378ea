// The embedded database (PGlite) on a disk that fills up, for real: a small tmpfs the test mounts
// and fills. The write that meets the full disk gets the operator's fix (HTTP 503), the process
// stops with exit code 12 instead of hanging, a start on the full disk fails at once, and once
// there is space again every committed row is there, intact, and the service works.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statfsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import { amcheck } from '@electric-sql/pglite/contrib/amcheck';
import { eq, sql } from 'drizzle-orm';
import { openDatabase, rawRows } from '../../src/db/connection.ts';
import { users } from '../../src/db/schema.ts';
import { DEMO_PHONE_NUMBER, DEMO_STAFF_PHONE_NUMBER } from '../../src/users/demo.ts';
import { TEST_ENGINE } from '../helpers/database.ts';
import { freePort, ROOT, startDominion, waitForHttp, type RunningProcess } from '../helpers/process.ts';
import { fillDisk, mountTmpfs, unmount } from '../helpers/tmpfs.ts';

const FULL_MESSAGE = /The bank's embedded database has no disk space left \([\d.]+ MiB free, at least 32 MiB needed\): free space on the disk of .+ \(or move DATA_DIR to a larger disk\) and restart/;
const MiB = 1024 * 1024;

const freeMiB = (dir: string) => {
  const s = statfsSync(dir);
  return (s.bavail * s.bsize) / MiB;
};

/** PostgreSQL's own checks (amcheck) over every table and btree index: the list of problems. */
async function integrityProblems(dataDir: string): Promise<{ tables: number; indexes: number; problems: string[] }> {
  const pg = new PGlite({ dataDir, extensions: { amcheck } });
  try {
    await pg.exec('create extension if not exists amcheck');
    const tables = (await pg.query<{ oid: number; name: string }>(`select c.oid::int, n.nspname || '.' || c.relname as name from pg_class c
      join pg_namespace n on n.oid = c.relnamespace where c.relkind = 'r' and n.nspname in ('public', 'pgboss', 'drizzle')`)).rows;
    const problems: string[] = [];
    for (const t of tables) {
      const bad = await pg.query<{ msg: string }>('select msg from verify_heapam($1::regclass)', [t.oid]);
      problems.push(...bad.rows.map((r) => `${t.name}: ${r.msg}`));
    }
    const indexes = (await pg.query<{ oid: number; name: string }>(`select c.oid::int, c.relname as name from pg_index i join pg_class c on c.oid = i.indexrelid
      join pg_am a on a.oid = c.relam join pg_namespace n on n.oid = c.relnamespace where a.amname = 'btree' and c.relkind = 'i' and n.nspname in ('public', 'pgboss', 'drizzle')`)).rows;
    for (const index of indexes) {
      await pg.query('select bt_index_check($1::regclass, true)', [index.oid]).catch((error: Error) => problems.push(`${index.name}: ${error.message}`));
    }
    return { tables: tables.length, indexes: indexes.length, problems };
  } finally {
    await pg.close();
  }
}

/** Resolves with the exit, or rejects (after killing it) if the process still runs after `ms`. */
async function exitWithin(proc: { exited: Promise<{ code: number | null }>; kill: () => void; output: () => string }, ms: number, what: string) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      proc.kill();
      reject(new Error(`${what} still running after ${ms} ms (hung), killed:\n${proc.output()}`));
    }, ms);
  });
  try {
    return await Promise.race([proc.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('embedded database on a full disk', { skip: TEST_ENGINE === 'postgres' && 'PGlite only: PostgreSQL manages its own disk (a 53100 there is answered 503 like an outage)' }, () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'dominion-full-disk-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('a WAL write that PANICs is refused at once, the instance is never run again, and every commit survives', async (t) => {
    const mnt = join(root, 'wal');
    const refused = mountTmpfs(mnt, 96);
    if (refused) return t.skip(refused);
    try {
      const dataDir = join(mnt, 'data');
      const child = spawn(process.execPath, [join(ROOT, 'test/fixtures/pglite-disk-writer.ts'), dataDir], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<{ code: number | null }>((resolve) => child.once('exit', (code) => resolve({ code })));
      while (!/^ready$/m.test(out)) {
        if (child.exitCode !== null) assert.fail(`writer exited early:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const filler = fillDisk(join(mnt, 'filler'));
      child.stdin.write('go\n');
      const startedAt = Date.now();
      const { code } = await exitWithin({ exited, kill: () => child.kill('SIGKILL'), output: () => out }, 20_000, 'the writer');
      const stoppedMs = Date.now() - startedAt;
      const committed = Number([...out.matchAll(/^committed (\d+)$/gm)].at(-1)?.[1] ?? 0);
      console.log(`# filler ${(filler / MiB).toFixed(1)} MiB left 0 bytes; ${committed} updates committed, then: ${/^write failed.*$/m.exec(out)?.[0]}`);
      console.log(`# ${/^next query.*$/m.exec(out)?.[0]}; ${/^closed.*$/m.exec(out)?.[0]}; exit ${code} ${stoppedMs} ms after "go"`);
      assert.equal(code, 12, out);
      assert.match(out, /^write failed after \d+ ms: database_full \(PGlite said PANIC: could not write to file "pg_wal\/xlogtemp\.\d+": No space left on device\)$/m);
      assert.match(out, /^failure reported: database_full$/m);
      assert.match(out, new RegExp(`^message: ${FULL_MESSAGE.source}`, 'm'));
      const nextMs = Number(/^next query: database_full in (\d+) ms$/m.exec(out)?.[1] ?? NaN);
      assert.ok(nextMs < 1000, `the next query is refused at once, not run: ${out}`);
      assert.ok(committed >= 20, out);

      // Space again: the same data directory opens with every committed update.
      rmSync(join(mnt, 'filler'));
      const reopenedAt = Date.now();
      const db = await openDatabase({ engine: 'pglite', dataDir });
      try {
        const [row] = await db.db.select({ hash: users.passwordHash }).from(users).where(eq(users.username, 'disk-writer'));
        const last = Number(row?.hash.split(':')[0]);
        console.log(`# reopened in ${Date.now() - reopenedAt} ms with ${freeMiB(mnt).toFixed(1)} MiB free: the row holds update ${last} of ${committed} committed`);
        assert.equal(last, committed, 'the last committed update is there, the refused one is not');
        await db.db.update(users).set({ passwordHash: 'after' }).where(eq(users.username, 'disk-writer'));
        assert.equal(await db.pendingMigrations(), 0);
      } finally {
        await db.close();
      }
      const check = await integrityProblems(dataDir);
      console.log(`# amcheck: ${check.tables} tables, ${check.indexes} btree indexes, ${check.problems.length} problems`);
      assert.deepEqual(check.problems, []);
    } finally {
      unmount(mnt);
    }
  });

  it('dominion start: 503 with the fix, exit 12, a start on the full disk fails at once, and after space every deposit is there once', async (t) => {
    const mnt = join(root, 'start');
    const refused = mountTmpfs(mnt, 128);
    if (refused) return t.skip(refused);
    const running: RunningProcess[] = [];
    try {
      // ./data and ./logs on the same disk, as `npm start` lays them out.
      const env = { DATA_DIR: join(mnt, 'data'), LOG_DIR: join(mnt, 'logs'), PORT: String(await freePort()), SIMULATOR_PORT: String(await freePort()) };
      const base = `http://127.0.0.1:${env.PORT}`;
      const start = () => {
        const proc = startDominion(['start'], env);
        running.push(proc);
        return proc;
      };
      const first = start();
      await waitForHttp(`${base}/readyz`, first);
      const passwords = new Map([...first.output().matchAll(/^ {2}(\w+)\s+password (\S+)/gm)].map((m) => [m[1]!, m[2]!]));
      const signIn = async (username: string, phone: string) => {
        const seen = await inboxCount(env.SIMULATOR_PORT, phone);
        const started = await post(base, '/api/login', { username, password: passwords.get(username) });
        assert.equal(started.status, 200, JSON.stringify(started.body));
        const code = await codeAfter(env.SIMULATOR_PORT, phone, seen);
        const done = await post(base, '/api/login/verify', { challengeId: started.body.challengeId, code });
        assert.equal(done.status, 200, JSON.stringify(done.body));
        return { authorization: `Bearer ${String(done.body.token)}` };
      };
      const customer = await signIn('testuser', DEMO_PHONE_NUMBER);
      const staff = await signIn('admin', DEMO_STAFF_PHONE_NUMBER);
      const opened = await post(base, '/api/accounts', { currency: 'USD' }, customer);
      assert.equal(opened.status, 201, JSON.stringify(opened.body));
      const accountId = String((opened.body.account as { id: string }).id);

      // The disk fills up, 512 KiB short of full; deposits go on, 4 at a time, until it is full.
      const filler = fillDisk(join(mnt, 'filler'), 512 * 1024);
      const deposit = (key: string) => post(base, `/api/accounts/${accountId}/deposits`, { amountMinor: 100, currency: 'USD' }, { ...staff, 'idempotency-key': key });
      const answers: { key: string; status: number; retryAfter: string | null; body: Record<string, unknown> }[] = [];
      let refusedConnections = 0;
      const fullAt = Date.now();
      let n = 0;
      await Promise.all(Array.from({ length: 4 }, async () => {
        // Until the port closes; 500 refusals or 60 s without it closing is the hang this prevents.
        while (refusedConnections === 0 && answers.filter((a) => a.status !== 201).length < 500 && Date.now() - fullAt < 60_000) {
          const key = `full-disk-${n++}`;
          const answer = await deposit(key).catch(() => undefined);
          if (!answer) refusedConnections++;
          else answers.push({ key, ...answer });
        }
      }));
      const exit = await exitWithin({ exited: first.exited, kill: () => first.child.kill('SIGKILL'), output: () => first.output() }, 15_000, 'dominion start');
      const stoppedMs = Date.now() - fullAt;
      const byStatus = Object.groupBy(answers, (a) => String(a.status));
      console.log(`# filler ${(filler / MiB).toFixed(1)} MiB (512 KiB left); deposits: ${Object.entries(byStatus).map(([s, a]) => `${s}: ${a!.length}`).join(', ')}, ${refusedConnections} refused connections (port closed); exit ${exit.code} ${stoppedMs} ms after the fill`);
      console.log(`# what PGlite said: ${/could not (?:extend|write to) file "[^"]+": No space left on device/.exec(first.output().replaceAll('\\"', '"'))?.[0] ?? '(not in the output)'}`);
      assert.equal(exit.code, 12, first.output());
      assert.match(first.output(), new RegExp(`❌ ${FULL_MESSAGE.source}`));
      assert.deepEqual(Object.keys(byStatus).filter((s) => s !== '201' && s !== '503'), [], 'only 201 and 503, no 500');
      assert.ok((byStatus['201']?.length ?? 0) > 0, 'some deposits were made before the disk filled');
      const unavailable = byStatus['503'] ?? [];
      assert.ok(unavailable.length > 0, 'the write that met the full disk was answered 503');
      for (const a of unavailable) {
        assert.equal(a.body.error, 'database_full');
        assert.match(String(a.body.message), FULL_MESSAGE);
        assert.equal(a.retryAfter, '5');
      }

      // Restarted on the still full disk (a supervisor would; the last bytes the stop freed are
      // taken too): refused at once with the same fix, the data directory left as it was.
      const topUp = fillDisk(join(mnt, 'filler-2'));
      const before = snapshot(env.DATA_DIR);
      const whileFullAt = Date.now();
      const whileFull = start();
      const refusedStart = await exitWithin({ exited: whileFull.exited, kill: () => whileFull.child.kill('SIGKILL'), output: () => whileFull.output() }, 20_000, 'a start on the full disk');
      console.log(`# start on the full disk (${topUp} more bytes filled): exit ${refusedStart.code} in ${Date.now() - whileFullAt} ms`);
      assert.equal(refusedStart.code, 12, whileFull.output());
      assert.match(whileFull.output(), new RegExp(`❌ ${FULL_MESSAGE.source}`));
      assert.deepEqual(snapshot(env.DATA_DIR), before, 'the refused start wrote nothing in the data directory');
      rmSync(join(mnt, 'filler-2'));

      // Space again: the service comes back; each refused deposit, retried with its key, is made once.
      rmSync(join(mnt, 'filler'));
      const again = start();
      await waitForHttp(`${base}/readyz`, again);
      let replayed = 0;
      for (const a of unavailable) {
        const retry = await deposit(a.key);
        assert.equal(retry.status, 201, JSON.stringify(retry.body));
        if (retry.replayed) replayed++;
      }
      const keys = new Set(answers.map((a) => a.key));
      const account = await get(base, `/api/accounts/${accountId}`, customer);
      const balance = (account.body.account as { balanceMinor: number }).balanceMinor;
      console.log(`# after freeing ${(freeMiB(mnt)).toFixed(1)} MiB: ${unavailable.length} refused deposits retried (${replayed} had been made, answered as replays); balance ${balance} = ${keys.size} deposits x 100`);
      assert.equal(balance, keys.size * 100, 'every deposit once: none lost, none twice');
      again.child.kill('SIGTERM');
      assert.equal((await again.exited).code, 0, again.output());

      const db = await openDatabase({ engine: 'pglite', dataDir: env.DATA_DIR });
      try {
        const [ledger] = await rawRows<{ deposits: number; unbalanced: number }>(db.db, sql`select
          (select count(*)::int from money_transactions where kind = 'deposit') as deposits,
          (select count(*)::int from (select transaction_id from ledger_entries group by transaction_id having sum(amount_minor) <> 0) u) as unbalanced`);
        assert.deepEqual(ledger, { deposits: keys.size, unbalanced: 0 });
      } finally {
        await db.close();
      }
      const check = await integrityProblems(env.DATA_DIR);
      console.log(`# ledger: ${keys.size} deposits, every transaction sums to zero; amcheck: ${check.tables} tables, ${check.indexes} btree indexes, ${check.problems.length} problems`);
      assert.deepEqual(check.problems, []);
    } finally {
      for (const proc of running) if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
      await Promise.all(running.map((proc) => proc.exited));
      unmount(mnt);
    }
  });
});

/** Every file under `dir` with its size and modification time. */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort().map((name) => {
    const s = statSync(join(dir, name));
    return `${name} ${s.size} ${s.mtimeMs}`;
  });
}

async function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), replayed: res.headers.get('idempotent-replayed') === 'true', body: (await res.json()) as Record<string, unknown> };
}

async function get(base: string, path: string, headers: Record<string, string>) {
  const res = await fetch(`${base}${path}`, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function inbox(port: string, phone: string): Promise<{ body: string }[]> {
  const res = await fetch(`http://127.0.0.1:${port}/inbox.json?to=${encodeURIComponent(phone)}`);
  return ((await res.json()) as { messages: { body: string }[] }).messages;
}

async function inboxCount(port: string, phone: string): Promise<number> {
  return (await inbox(port, phone)).length;
}

/** The login code in the first SMS to `phone` after its first `seen` (the inbox is newest first). */
async function codeAfter(port: string, phone: string, seen: number): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const messages = await inbox(port, phone);
    const code = messages.slice(0, messages.length - seen).map((m) => /(?:is|es) (\d{6})\./.exec(m.body)?.[1]).find(Boolean);
    if (code) return code;
    if (Date.now() > deadline) throw new Error(`no login code for ${phone} in 15 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
