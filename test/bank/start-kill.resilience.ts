// Issue 12, point 5 (npm run test:resilience, both engines): `dominion start`, as `npm start` runs
// it (server, worker and Twilio simulator in one process), SIGKILLed at a random moment during 500
// concurrent transfers, each with its own Idempotency-Key, three times over. After each kill the
// data is read before anything else touches it: the ledger balances, every transfer is whole (its
// entries, events, notifications and their jobs) or absent, every answered transfer is there as
// answered. Then the service starts again on the same data and each request is sent again with
// its key: one answered or committed before the kill gets its first answer and moves nothing, one
// that was not is performed once; balances end as the deposits plus exactly the transfers made.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import type { MoneyMovement } from '../../src/bank/ledger.ts';
import { openDatabase, rawRows, type Database } from '../../src/db/connection.ts';
import { codeIn, PASSWORD } from '../helpers/customers.ts';
import { createTestDatabase, TEST_ENGINE, type TestDatabase } from '../helpers/database.ts';
import { freePort, runDominion, startDominion, waitForHttp, type RunningProcess } from '../helpers/process.ts';
import { recordLogs } from '../helpers/recorder.ts';

const TRANSFERS = Number(process.env.START_KILL_TRANSFERS ?? 500);
const KILLS = Number(process.env.START_KILLS ?? 3);
const SEED = Number(process.env.START_KILL_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CUSTOMERS = 6;
const ACCOUNTS_EACH = 2;
const START_BALANCE = 20_000;
/** Far below the confirmation threshold (100,000), so every transfer moves at once or is refused. */
const MAX_AMOUNT = 4_000;
/** Every 10th client gives up after 50-1050 ms, as a timed-out app does: its answer may be lost though the transfer was made. */
const IMPATIENT_EVERY = 10;
/** A fixed test key, not a secret: processes on PostgreSQL need one. */
const DATA_KEY = 'dGVzdCBkYXRhIGtleSwgMzIgYnl0ZXMgbG9uZyEhISE=';

interface Answer {
  status: number;
  body: string;
  replayed: boolean;
}

interface Customer {
  username: string;
  phone: string;
  auth: Record<string, string>;
  accounts: string[];
}

interface TransferCase {
  key: string;
  owner: Customer;
  body: { fromAccountId: string; toAccountId: string; amountMinor: number; currency: 'USD' };
  /** The answer received before the kill, if any. */
  first?: Answer;
  /** A client that gives up after this many ms (its answer lost, as on a timeout), if set. */
  patienceMs?: number;
  /** The answer that stands: the first, or the one given after the restart. */
  final?: Answer;
}

type StoredAnswer = MoneyMovement | { refused: { code: string; message: string } };

/** A fixed pseudo-random sequence, so a failing run can be repeated with START_KILL_SEED. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return (x >>> 8) / 2 ** 23;
  };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

describe(`npm start SIGKILLed ${KILLS} times during ${TRANSFERS} concurrent transfers (${TEST_ENGINE})`, () => {
  let dir: string;
  let env: Record<string, string>;
  let base: string;
  let inboxUrl: string;
  let postgres: TestDatabase | undefined;
  let service: RunningProcess | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dominion-start-kill-'));
    const port = await freePort();
    const simulatorPort = await freePort();
    base = `http://127.0.0.1:${port}`;
    inboxUrl = `http://127.0.0.1:${simulatorPort}/inbox.json`;
    // A fresh, empty PostgreSQL database: `start` migrates it, as on a first deployment.
    if (TEST_ENGINE === 'postgres') postgres = await createTestDatabase({ migrated: false });
    env = {
      SMS_PROVIDER: 'simulator', PORT: String(port), SIMULATOR_PORT: String(simulatorPort),
      DATA_DIR: join(dir, 'data'), LOG_DIR: join(dir, 'logs'), LOG_LEVEL: 'warn',
      PASSWORD_HASH_COST: '10', TWILIO_SENDER_MPS: '0', PUBLIC_BASE_URL: 'off', SMS_ALLOWED_COUNTRIES: 'US',
      // The 13 sign-up and sign-in codes all come from this one address (the limit has tests of its own).
      CODE_IP_LIMIT: '0',
      ...(postgres?.url ? { DATABASE_URL: postgres.url, DATA_ENCRYPTION_KEY: DATA_KEY } : {}),
    };
  });

  after(async () => {
    if (service && service.child.exitCode === null && service.child.signalCode === null) {
      service.child.kill('SIGKILL');
      await service.exited;
    }
    await postgres?.drop();
    recordLogs(dir);
    rmSync(dir, { recursive: true, force: true });
  });

  async function startService(): Promise<number> {
    const started = Date.now();
    service = startDominion(['start'], env);
    await waitForHttp(`${base}/readyz`, service, 200, 120_000);
    return Date.now() - started;
  }

  async function call(method: string, path: string, options: { auth?: Record<string, string>; key?: string; body?: unknown; signal?: AbortSignal } = {}): Promise<Answer> {
    const headers: Record<string, string> = { 'user-agent': 'DominionApp/1.0', ...options.auth };
    if (options.key) headers['idempotency-key'] = options.key;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${base}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body), signal: options.signal });
    return { status: res.status, body: await res.text(), replayed: res.headers.get('idempotent-replayed') === 'true' };
  }

  async function smsTo(phone: string): Promise<string[]> {
    const res = await fetch(`${inboxUrl}?to=${encodeURIComponent(phone)}`);
    return ((await res.json()) as { messages: { body: string }[] }).messages.map((m) => m.body).reverse();
  }

  /** The code in the phone's first SMS after its first `seen`, as the in-process simulator received it. */
  async function nextCode(phone: string, seen: number): Promise<string> {
    for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 100))) {
      const fresh = (await smsTo(phone)).slice(seen).find((body) => /\d{6}/.test(body));
      if (fresh) return codeIn(fresh);
      assert.ok(Date.now() < deadline, `no code SMS reached ${phone} within 60 s:\n${service?.output()}`);
    }
  }

  async function signIn(username: string, phone: string): Promise<Record<string, string>> {
    const seen = (await smsTo(phone)).length;
    const started = await call('POST', '/api/login', { body: { username, password: PASSWORD } });
    assert.equal(started.status, 200, started.body);
    const code = await nextCode(phone, seen);
    const done = await call('POST', '/api/login/verify', { body: { challengeId: (JSON.parse(started.body) as { challengeId: string }).challengeId, code } });
    assert.equal(done.status, 200, done.body);
    return { authorization: `Bearer ${(JSON.parse(done.body) as { token: string }).token}` };
  }

  /** Customers registered and signed in through the API; their accounts funded by a teller's deposits. */
  async function openBank(): Promise<{ customers: Customer[]; initial: Map<string, number> }> {
    const tellerPhone = '+14155553100';
    const created = await runDominion(['createuser', 'teller', '--staff', '--phone', tellerPhone, '--email', 'teller@example.com', '--password-stdin'], env, `${PASSWORD}\n`);
    assert.equal(created.code, 0, created.output);
    const teller = await signIn('teller', tellerPhone);
    const customers: Customer[] = [];
    const initial = new Map<string, number>();
    for (let i = 0; i < CUSTOMERS; i++) {
      const username = `payer${i}`;
      const phone = `+1415555310${i + 1}`;
      const registered = await call('POST', '/api/register', { body: { username, email: `${username}@example.com`, password: PASSWORD, phone } });
      assert.equal(registered.status, 201, registered.body);
      const code = await nextCode(phone, 0);
      const verified = await call('POST', '/api/register/verify', { body: { challengeId: (JSON.parse(registered.body) as { challengeId: string }).challengeId, code } });
      assert.equal(verified.status, 200, verified.body);
      const customer: Customer = { username, phone, auth: await signIn(username, phone), accounts: [] };
      for (let n = 0; n < ACCOUNTS_EACH; n++) {
        const opened = await call('POST', '/api/accounts', { auth: customer.auth, body: { currency: 'USD' } });
        assert.equal(opened.status, 201, opened.body);
        const { id } = (JSON.parse(opened.body) as { account: { id: string } }).account;
        const deposit = await call('POST', `/api/accounts/${id}/deposits`, { auth: teller, key: `seed-${id}`, body: { amountMinor: START_BALANCE, currency: 'USD' } });
        assert.equal(deposit.status, 201, deposit.body);
        customer.accounts.push(id);
        initial.set(id, START_BALANCE);
      }
      customers.push(customer);
    }
    return { customers, initial };
  }

  /** The database as the killed (or stopped) process left it: on PGlite its data directory opened here. */
  async function withData<T>(fn: (database: Database) => Promise<T>): Promise<T> {
    if (postgres) return fn(postgres);
    const database = await openDatabase({ engine: 'pglite', dataDir: env.DATA_DIR! });
    try {
      return await fn(database);
    } finally {
      await database.close();
    }
  }

  /**
   * Checks the stored state against the ledger's invariants and the answers given so far; returns
   * each transfer key's stored answer.
   */
  async function inspect(database: Database, cases: readonly TransferCase[], customers: readonly Customer[], initial: ReadonlyMap<string, number>) {
    const db = database.db;
    assert.deepEqual(await rawRows(db, sql`select transaction_id from ledger_entries group by transaction_id having sum(amount_minor) <> 0`), [], 'every transaction sums to zero');
    assert.deepEqual(await rawRows(db, sql`
      select a.id from accounts a left join ledger_entries e on e.account_id = a.id
      group by a.id, a.balance_minor having a.balance_minor <> coalesce(sum(e.amount_minor), 0)`), [], 'every balance equals the sum of its entries');
    const [totals] = await rawRows<{ customers: string; all: string }>(db, sql`
      select coalesce(sum(balance_minor) filter (where kind = 'customer'), 0)::text as customers, coalesce(sum(balance_minor), 0)::text as all from accounts`);
    assert.equal(Number(totals?.customers), CUSTOMERS * ACCOUNTS_EACH * START_BALANCE, 'customer balances add up to the deposits');
    assert.equal(Number(totals?.all), 0, 'all accounts, cash included, sum to zero');
    assert.deepEqual(await rawRows(db, sql`select kind, idempotency_key from money_transactions where response is null`), [], 'no key claimed without its answer');

    const rows = await rawRows<{ key: string; user_id: string; response: StoredAnswer; entries: { accountId: string; amountMinor: number }[]; events: string[]; silent: number }>(db, sql`
      select m.idempotency_key as key, m.user_id, m.response,
        (select coalesce(json_agg(json_build_object('accountId', e.account_id, 'amountMinor', e.amount_minor) order by e.amount_minor), '[]'::json)
           from ledger_entries e where e.transaction_id = m.id) as entries,
        (select coalesce(json_agg(b.type order by b.type), '[]'::json)
           from bank_events b where b.type like 'transfer.%' and b.payload->>'transactionId' = m.id::text) as events,
        (select count(*)::int from bank_events b where b.payload->>'transactionId' = m.id::text
           and not exists (select 1 from notifications n where n.event_key = 'event:' || b.id::text)) as silent
      from money_transactions m where m.kind = 'transfer'`);
    const ownerOf = new Map(customers.flatMap((c) => c.accounts.map((a) => [a, c.username] as const)));
    const stored = new Map<string, StoredAnswer>();
    const balances = new Map(initial);
    for (const row of rows) {
      stored.set(row.key, row.response);
      if ('refused' in row.response) {
        assert.deepEqual([row.entries, row.events], [[], []], `refused transfer ${row.key} left nothing behind`);
        continue;
      }
      const m = row.response;
      assert.deepEqual(row.entries, [{ accountId: m.fromAccountId, amountMinor: -m.amountMinor }, { accountId: m.toAccountId, amountMinor: m.amountMinor }], `transfer ${row.key}: both legs`);
      const cross = ownerOf.get(m.fromAccountId!) !== ownerOf.get(m.toAccountId!);
      assert.deepEqual(row.events, cross ? ['transfer.received', 'transfer.sent'] : ['transfer.sent'], `transfer ${row.key}: its events`);
      assert.equal(row.silent, 0, `transfer ${row.key}: each of its events has its notifications`);
      balances.set(m.fromAccountId!, balances.get(m.fromAccountId!)! - m.amountMinor);
      balances.set(m.toAccountId!, balances.get(m.toAccountId!)! + m.amountMinor);
    }
    assert.deepEqual(await rawRows(db, sql`
      select b.type, b.payload->>'transactionId' as transaction_id from bank_events b where b.payload->>'transactionId' is not null
        and not exists (select 1 from money_transactions m where m.id::text = b.payload->>'transactionId' and m.response->>'transactionId' is not null)`),
    [], 'no event of a transfer that did not happen');
    assert.deepEqual(await rawRows(db, sql`
      select n.id, n.type, n.status from notifications n where n.status in ('pending', 'held')
        and not exists (select 1 from pgboss.job j where j.data->>'notificationId' = n.id::text)`),
    [], 'every notification waiting to be sent has its job');
    const [outbox] = await rawRows<{ notifications: number; waiting: number }>(db, sql`
      select count(*)::int as notifications, count(*) filter (where status in ('pending', 'held'))::int as waiting from notifications
      where type in ('transfer_sent', 'transfer_received')`);
    const accountRows = await rawRows<{ id: string; balance: string }>(db, sql`select id, balance_minor::text as balance from accounts where kind = 'customer'`);
    assert.deepEqual(new Map(accountRows.map((a) => [a.id, Number(a.balance)])), balances, 'each balance is its deposit plus the stored transfers');

    for (const c of cases) {
      const known = c.final ?? c.first;
      if (!known) continue;
      const answer = stored.get(c.key);
      assert.ok(answer, `answered ${c.key} (${known.status}) is stored`);
      if (known.status === 201) {
        assert.deepEqual(answer, JSON.parse(known.body), `answered ${c.key} is stored as answered`);
      } else {
        const { error, message } = JSON.parse(known.body) as { error: string; message: string };
        assert.deepEqual(answer, { refused: { code: error, message } }, `refused ${c.key} is stored as refused`);
      }
    }
    return {
      stored, outbox, applied: rows.filter((r) => !('refused' in r.response)).length,
      totals: { customers: Number(totals?.customers), all: Number(totals?.all) },
    };
  }

  it('keeps every transfer whole or absent, and every retry gets the first answer', { timeout: 3_600_000 }, async () => {
    const started = Date.now();
    const draw = random(SEED);
    const firstStart = await startService();
    const { customers, initial } = await openBank();
    console.log(`seed ${SEED}; ${TEST_ENGINE}: first start ${seconds(firstStart)}; ${CUSTOMERS} customers registered and signed in, ${customers.length * ACCOUNTS_EACH} accounts of ${START_BALANCE} at ${seconds(Date.now() - started)}`);
    const accounts = customers.flatMap((owner) => owner.accounts.map((id) => ({ owner, id })));
    const all: TransferCase[] = [];

    for (let round = 1; round <= KILLS; round++) {
      const cases: TransferCase[] = Array.from({ length: TRANSFERS }, (_, i) => {
        const from = accounts[Math.floor(draw() * accounts.length)]!;
        let to = accounts[Math.floor(draw() * accounts.length)]!;
        if (to.id === from.id) to = accounts[(accounts.indexOf(from) + 1) % accounts.length]!;
        const amountMinor = 1 + Math.floor(draw() * MAX_AMOUNT);
        const patienceMs = i % IMPATIENT_EVERY === 0 ? 50 + Math.floor(draw() * 1000) : undefined;
        return { key: `kill${round}-${i}-${SEED}`, owner: from.owner, body: { fromAccountId: from.id, toAccountId: to.id, amountMinor, currency: 'USD' }, patienceMs };
      });
      all.push(...cases);

      // The burst, and the kill once a random number of them have been answered.
      const killAt = Math.floor(TRANSFERS * (0.1 + 0.7 * draw()));
      const victim = service!;
      const burstStarted = Date.now();
      let answered = 0;
      let answeredAtKill = 0;
      let killedAfterMs: number | undefined;
      await Promise.all(cases.map(async (c) => {
        try {
          c.first = await call('POST', '/api/transfers', { auth: c.owner.auth, key: c.key, body: c.body, signal: c.patienceMs ? AbortSignal.timeout(c.patienceMs) : undefined });
        } catch {
          return; // cut by the kill, or given up: no answer
        }
        answered++;
        if (killedAfterMs === undefined && answered >= killAt) {
          victim.child.kill('SIGKILL');
          killedAfterMs = Date.now() - burstStarted;
          answeredAtKill = answered;
        }
      }));
      const exit = await victim.exited;
      assert.equal(exit.signal, 'SIGKILL', `the service died of the kill, not before:\n${victim.output()}`);
      const firsts = cases.filter((c) => c.first);
      const statuses = new Map<number, number>();
      for (const c of firsts) statuses.set(c.first!.status, (statuses.get(c.first!.status) ?? 0) + 1);
      assert.deepEqual([...statuses.keys()].filter((s) => s !== 201 && s !== 422), [], `only moved (201) or refused (422) before the kill: ${JSON.stringify([...statuses])}`);
      assert.ok(firsts.length < TRANSFERS, 'the kill came mid-burst');

      // The data as the kill left it.
      const opened = Date.now();
      const crash = await withData((database) => inspect(database, all, customers, initial));
      const unanswered = cases.filter((c) => !c.first);
      const gaveUp = unanswered.filter((c) => c.patienceMs !== undefined && c.patienceMs < killedAfterMs!);
      const committed = unanswered.filter((c) => crash.stored.has(c.key));
      console.log(`kill ${round}: SIGKILL at ${seconds(killedAfterMs!)} into the burst, after ${answeredAtKill} answers; ${answered} of ${TRANSFERS} answered in all ` +
        `(${[...statuses].map(([s, n]) => `${s}: ${n}`).join(', ')}), ${gaveUp.length} given up by their client before the kill; ` +
        `of the ${unanswered.length} unanswered, ${committed.length} committed (${committed.filter((c) => gaveUp.includes(c)).length} of them given up), the rest absent; ` +
        `stored: ${crash.stored.size} transfer keys in all, ${crash.applied} applied, none partial; ${crash.outbox?.notifications} transfer notifications, ` +
        `${crash.outbox?.waiting} of them waiting to be sent, each with its job; ` +
        `customer balances ${crash.totals.customers} = the deposits, all accounts sum ${crash.totals.all} (checked in ${seconds(Date.now() - opened)})`);

      // Restart on the same data; every request again with its key.
      const restart = await startService();
      const replies = await Promise.all(cases.map((c) => call('POST', '/api/transfers', { auth: c.owner.auth, key: c.key, body: c.body })));
      let same = 0;
      let storedAnswers = 0;
      let performed = 0;
      cases.forEach((c, i) => {
        const reply = replies[i]!;
        const was = crash.stored.get(c.key);
        if (c.first) {
          assert.deepEqual([reply.status, reply.body], [c.first.status, c.first.body], `${c.key}: the retry gets the first answer`);
          if (reply.status === 201) assert.equal(reply.replayed, true, `${c.key}: marked as a replay`);
          same++;
        } else if (was) {
          if ('refused' in was) assert.deepEqual([reply.status, JSON.parse(reply.body)], [422, { error: was.refused.code, message: was.refused.message }], `${c.key}: the stored refusal`);
          else assert.deepEqual([reply.status, reply.replayed, JSON.parse(reply.body)], [201, true, was], `${c.key}: the stored answer, moving nothing`);
          storedAnswers++;
        } else {
          assert.ok(reply.status === 201 || reply.status === 422, `${c.key}: performed after the restart (${reply.status} ${reply.body})`);
          assert.equal(reply.replayed, false, `${c.key}: not there before, so not a replay`);
          performed++;
        }
        c.final = c.first ?? reply;
      });
      // Once more: now every one of them is a replay.
      const again = await Promise.all(cases.map((c) => call('POST', '/api/transfers', { auth: c.owner.auth, key: c.key, body: c.body })));
      cases.forEach((c, i) => {
        assert.deepEqual([again[i]!.status, again[i]!.body], [c.final!.status, c.final!.body], `${c.key}: a second retry, the same answer`);
        if (c.final!.status === 201) assert.equal(again[i]!.replayed, true);
      });

      // Balances through the API: the deposits plus exactly the transfers answered 201, once each.
      const expected = new Map(initial);
      for (const c of all.filter((x) => x.final?.status === 201)) {
        expected.set(c.body.fromAccountId, expected.get(c.body.fromAccountId)! - c.body.amountMinor);
        expected.set(c.body.toAccountId, expected.get(c.body.toAccountId)! + c.body.amountMinor);
      }
      const shown = new Map<string, number>();
      for (const customer of customers) {
        const res = await call('GET', '/api/accounts', { auth: customer.auth });
        assert.equal(res.status, 200, res.body);
        for (const a of (JSON.parse(res.body) as { accounts: { id: string; balanceMinor: number }[] }).accounts) shown.set(a.id, a.balanceMinor);
      }
      assert.deepEqual(shown, expected, 'each balance is its deposit plus exactly the transfers made');
      const moved = cases.filter((c) => c.final!.status === 201).length;
      console.log(`  restart ${seconds(restart)}; resent all ${TRANSFERS}: ${same} the same answer as before the kill, ${storedAnswers} the stored answer of a committed one, ` +
        `${performed} performed now; a second resend: ${TRANSFERS} replayed; ${moved} moved, ${TRANSFERS - moved} refused (Insufficient Funds); balances as expected`);
    }

    // Stopped as an operator stops it; the data once more, with every key answered.
    service!.child.kill('SIGTERM');
    const stopped = await service!.exited;
    assert.equal(stopped.code, 0, service!.output());
    const final = await withData((database) => inspect(database, all, customers, initial));
    assert.equal(final.stored.size, all.length, 'every transfer key has its one stored answer');
    assert.equal(final.applied, all.filter((c) => c.final?.status === 201).length, 'one applied transfer per key answered 201');
    console.log(`done in ${seconds(Date.now() - started)}: ${all.length} transfer keys, ${final.applied} applied once each, ${all.length - final.applied} refused; ` +
      `customer balances ${final.totals.customers} = the deposits, all accounts sum ${final.totals.all}`);
  });
});
