// The SMS limits, each with a small configured value: what a limit stops is moved to email when
// the type allows it, else held until the window ends (or, past the spend cap, skipped unless
// critical), always with its reason; never lost. Codes have their own limits per number, IP and
// prefix, refused up front with AppError 'sms_rate_limited' (exit 11). On PostgreSQL a limit holds
// across two runtimes counting at once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sendLoginCode } from '../../src/auth/two-factor.ts';
import { exitCodeOf } from '../../src/cli/exit-codes.ts';
import { exitCodeOfReport } from '../../src/cli/twilio-report.ts';
import { openDatabase } from '../../src/db/connection.ts';
import { AppError } from '../../src/errors.ts';
import { startWorker } from '../../src/jobs/worker.ts';
import { consumeLimit, numberPrefix, windowOf, type LimitRule } from '../../src/notifications/limits.ts';
import { dispatchNotification } from '../../src/notifications/dispatch.ts';
import { openRuntime } from '../../src/runtime.ts';
import { runTwilioSetup } from '../../src/twilio-setup/run.ts';
import { createUser } from '../../src/users/users.ts';
import { TEST_ENGINE } from '../helpers/database.ts';
import {
  addCustomer, mailArrived, notificationsOf, notify, openPipeline, setClock, settled, smsArrived, smsAt, smsRowsOf, type PipelineFixture,
} from './pipeline-fixture.ts';

const DAYTIME = '2026-11-25T15:00:00Z';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tally(rows: { channel: string; status: string; reason: string | null }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) {
    const key = `${r.channel} ${r.status}${r.reason ? ` ${r.reason}` : ''}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

describe('windows and prefixes', () => {
  it('fixed windows aligned to UTC hours and days; prefixes of calling code and three digits', () => {
    const w = windowOf(new Date('2026-11-25T15:42:10Z'), 3_600_000);
    assert.deepEqual([w.start.toISOString(), w.end.toISOString()], ['2026-11-25T15:00:00.000Z', '2026-11-25T16:00:00.000Z']);
    assert.equal(windowOf(new Date('2026-11-25T15:42:10Z'), 86_400_000).end.toISOString(), '2026-11-26T00:00:00.000Z');
    assert.equal(numberPrefix('+14155552671'), '+1415');
    assert.equal(numberPrefix('+447911123456'), '+44791');
  });
});

describe('per-customer limits (10 an hour, 12 a day)', () => {
  let f: PipelineFixture;
  before(async () => {
    f = await openPipeline({ env: { SMS_USER_HOURLY_LIMIT: '10', SMS_USER_DAILY_LIMIT: '12' } });
  });
  after(() => f.close());

  it('the 11th SMS in an hour goes by email when the customer has an address', async () => {
    setClock(f.clock, DAYTIME);
    const { t } = f;
    const c = await addCustomer(t);
    for (let i = 0; i < 11; i++) await notify(t, c.id, 'transaction');
    await smsArrived(t, c.phone, 10);
    const [mail] = await mailArrived(f.smtp, c.email, 1);
    assert.equal(mail?.subject, 'Transaction on your account');
    const rows = await settled(t, c.id);
    assert.deepEqual(tally(rows), {
      'sms queued': 10,
      'sms skipped moved_to_email: user_hourly_limit': 1,
      'email sent moved_to_email: user_hourly_limit': 1,
    });
    await sleep(300);
    assert.equal(smsAt(t, c.phone).length, 10);
  });

  it('without an email address the 11th is held until the hour ends, then sent; a critical alert too', async () => {
    setClock(f.clock, DAYTIME);
    const { t } = f;
    const c = await addCustomer(t, { email: null });
    for (let i = 0; i < 10; i++) await notify(t, c.id, 'transaction');
    await settled(t, c.id); // the lanes run in parallel: the critical alert must come 11th or later
    await notify(t, c.id, 'transaction');
    await notify(t, c.id, 'suspicious_activity');
    await smsArrived(t, c.phone, 10);
    const rows = await settled(t, c.id);
    assert.deepEqual(tally(rows), {
      'sms queued': 10,
      'sms held user_hourly_limit': 2,
      'email skipped no_email_address': 1,
    });
    const held = rows.filter((r) => r.status === 'held');
    assert.ok(held.every((r) => r.holdUntil?.toISOString() === '2026-11-25T16:00:00.000Z'));
    assert.ok(held.some((r) => r.type === 'suspicious_activity'), 'a critical alert is held, never dropped');

    setClock(f.clock, '2026-11-25T16:00:00Z');
    for (const r of held) assert.equal((await dispatchNotification(t.ctx, r.id)).status, 'queued');
    await smsArrived(t, c.phone, 12);
    assert.equal((await smsRowsOf(t, c.id)).length, 12, '12 notifications, 12 SMS: none lost');
  });

  it('the daily limit holds the 13th of the day until midnight UTC', async () => {
    setClock(f.clock, '2026-11-25T16:30:00Z');
    const { t } = f;
    const c = await addCustomer(t, { email: null });
    for (let hour = 0; hour < 2; hour++) {
      setClock(f.clock, `2026-11-25T${17 + hour}:00:00Z`);
      for (let i = 0; i < (hour === 0 ? 10 : 3); i++) await notify(t, c.id, 'transfer_sent');
      await settled(t, c.id);
    }
    const rows = await settled(t, c.id);
    assert.deepEqual(tally(rows), { 'sms queued': 12, 'sms held user_daily_limit': 1 });
    assert.equal(rows.find((r) => r.status === 'held')?.holdUntil?.toISOString(), '2026-11-26T00:00:00.000Z');
  });
});

describe('the bank-wide hourly limit (3 an hour)', () => {
  let f: PipelineFixture;
  before(async () => {
    f = await openPipeline({ env: { SMS_GLOBAL_HOURLY_LIMIT: '3' } });
  });
  after(() => f.close());

  it('holds what passes it, whoever it is for, until the next hour', async () => {
    setClock(f.clock, DAYTIME);
    const { t } = f;
    const customers = [await addCustomer(t, { email: null }), await addCustomer(t, { email: null })];
    for (const c of customers) for (let i = 0; i < 3; i++) await notify(t, c.id, 'transfer_sent');
    const rows = (await Promise.all(customers.map((c) => settled(t, c.id)))).flat();
    assert.deepEqual(tally(rows), { 'sms queued': 3, 'sms held global_hourly_limit': 3 });
    assert.equal(customers.reduce((n, c) => n + smsAt(t, c.phone).length, 0) <= 3, true);
  });
});

describe('the daily spend cap ($0.03: four one-segment SMS at $0.0075)', () => {
  let f: PipelineFixture;
  before(async () => {
    f = await openPipeline({ env: { SMS_DAILY_SPEND_CAP_USD: '0.03' } });
  });
  after(() => f.close());

  it('past the cap, email if possible, else skipped with the reason; a critical alert is held until tomorrow', async () => {
    setClock(f.clock, DAYTIME);
    const { t } = f;
    const withEmail = await addCustomer(t);
    const without = await addCustomer(t, { email: null });
    for (let i = 0; i < 4; i++) await notify(t, withEmail.id, 'transfer_sent');
    await settled(t, withEmail.id);
    assert.ok((await smsRowsOf(t, withEmail.id)).every((m) => m.segments === 1 && m.priceEstimate === '0.00750'));
    await notify(t, withEmail.id, 'transfer_sent');
    await notify(t, without.id, 'transfer_sent');
    await notify(t, without.id, 'account_lockout');
    await mailArrived(f.smtp, withEmail.email, 1);
    assert.deepEqual(tally(await settled(t, withEmail.id)), {
      'sms queued': 4, 'sms skipped moved_to_email: daily_spend_cap': 1, 'email sent moved_to_email: daily_spend_cap': 1,
    });
    const rows = await settled(t, without.id);
    assert.deepEqual(tally(rows), {
      'sms skipped daily_spend_cap': 1, 'sms held daily_spend_cap': 1, 'email skipped no_email_address': 1,
    });
    assert.equal(rows.find((r) => r.status === 'held')?.type, 'account_lockout');
    assert.equal(rows.find((r) => r.status === 'held')?.holdUntil?.toISOString(), '2026-11-26T00:00:00.000Z');
  });
});

describe('code limits (per number 5 in 10 minutes, per IP 3, per prefix 8 an hour)', () => {
  let f: PipelineFixture;
  before(async () => {
    f = await openPipeline({ env: { CODE_IP_LIMIT: '3', CODE_COUNTRY_HOURLY_LIMIT: '8' } });
  });
  after(() => f.close());

  it('the 6th login code to one number in 10 minutes is refused with sms_rate_limited (exit 11), and recorded', async () => {
    setClock(f.clock, DAYTIME);
    const { t } = f;
    const user = await createUser(t.ctx, { username: 'codeuser', password: 'correct horse battery', phone: '+13125550100' });
    for (let i = 0; i < 5; i++) await sendLoginCode(t.ctx, user.id);
    let refused: unknown;
    await sendLoginCode(t.ctx, user.id).catch((e: unknown) => (refused = e));
    assert.ok(refused instanceof AppError, String(refused));
    assert.equal(refused.code, 'sms_rate_limited');
    assert.equal(exitCodeOf(refused.code), 11);
    assert.match(refused.userMessage, /Too many codes were sent to \*\*\*0100: at most 5 in 10 minutes\. Try again after 15:10 UTC\./);
    const report = await runTwilioSetup(t.ctx, { test2fa: 'codeuser', timeoutSeconds: 5 });
    assert.equal(exitCodeOfReport(report), 11, JSON.stringify(report.checks));
    await smsArrived(t, '+13125550100', 5);
    const rows = await notificationsOf(t, user.id);
    assert.deepEqual(tally(rows), { 'sms queued': 5, 'sms skipped code_number_limit': 2 });
    const counted = await t.ctx.metrics.registry.getSingleMetricAsString('dominion_notifications_total');
    assert.match(counted, /dominion_notifications_total\{type="two_factor_code",channel="sms",outcome="skipped"\} 2/);
    assert.match(counted, /dominion_notifications_total\{type="two_factor_code",channel="sms",outcome="sent"\} 5/);

    setClock(f.clock, '2026-11-25T15:10:00Z');
    await sendLoginCode(t.ctx, user.id);
    await smsArrived(t, '+13125550100', 6);
  });

  it('per IP: the 4th code asked for from one address is refused, whoever it is for', async () => {
    setClock(f.clock, '2026-11-25T16:00:00Z');
    const { t } = f;
    const users = await Promise.all([0, 1, 2, 3].map((i) => createUser(t.ctx, { username: `ipuser${i}`, password: 'correct horse battery', phone: `+1646555010${i}` })));
    for (const u of users.slice(0, 3)) await sendLoginCode(t.ctx, u.id, { ip: '203.0.113.9' });
    await assert.rejects(sendLoginCode(t.ctx, users[3]!.id, { ip: '203.0.113.9' }), (e: unknown) => e instanceof AppError && e.code === 'sms_rate_limited' && /this network/.test(e.userMessage));
    await sendLoginCode(t.ctx, users[3]!.id, { ip: '198.51.100.7' });
  });

  it('per prefix: codes to one number range stop after 8 an hour; other ranges go on', async () => {
    setClock(f.clock, '2026-11-25T17:00:00Z');
    const { t } = f;
    const users = await Promise.all(Array.from({ length: 10 }, (_, i) => createUser(t.ctx, { username: `pumped${i}`, password: 'correct horse battery', phone: `+1718555${String(100 + i).padStart(4, '0')}` })));
    for (const u of users.slice(0, 8)) await sendLoginCode(t.ctx, u.id);
    await assert.rejects(sendLoginCode(t.ctx, users[8]!.id), /numbers starting \+1718 .*protection against SMS fraud/);
    const other = await createUser(t.ctx, { username: 'elsewhere', password: 'correct horse battery', phone: '+13125550111' });
    await sendLoginCode(t.ctx, other.id);
  });
});

describe('limits across processes', () => {
  let f: PipelineFixture;
  before(async () => {
    f = await openPipeline({ env: { SMS_USER_HOURLY_LIMIT: '10' }, worker: false });
  });
  after(() => f.close());

  it('concurrent counting never passes the limit', async () => {
    const rule: LimitRule = { name: 'global_hourly_limit', key: 'test:concurrent', limit: 25, windowMs: 3_600_000, amount: 1 };
    const now = new Date(DAYTIME);
    const results = await Promise.all(Array.from({ length: 60 }, () => f.t.ctx.db.transaction((tx) => consumeLimit(tx, rule, now))));
    assert.equal(results.filter(Boolean).length, 25);
  });

  it('two runtimes on one PostgreSQL, each with a worker, send 10 of 30 alerts in an hour and hold 20', { skip: TEST_ENGINE !== 'postgres' && 'two openers need PostgreSQL' }, async () => {
    setClock(f.clock, DAYTIME);
    const { t } = f;
    const database = await openDatabase({ engine: 'postgres', url: t.database.url! });
    const second = await openRuntime(t.config, { database, logger: t.ctx.logger, clock: f.clock });
    try {
      const rule: LimitRule = { name: 'user_hourly_limit', key: 'test:two-runtimes', limit: 40, windowMs: 3_600_000, amount: 1 };
      const now = f.clock.now();
      const counted = await Promise.all(Array.from({ length: 100 }, (_, i) => consumeLimit((i % 2 ? second : t.ctx).db, rule, now)));
      assert.equal(counted.filter(Boolean).length, 40);

      const c = await addCustomer(t, { email: null });
      for (let i = 0; i < 30; i++) await notify(t, c.id, 'transfer_sent');
      await Promise.all([startWorker(t.ctx), startWorker(second)]);
      const rows = await settled(t, c.id, 30_000);
      assert.deepEqual(tally(rows), { 'sms queued': 10, 'sms held user_hourly_limit': 20 });
      await smsArrived(t, c.phone, 10);
      await sleep(500);
      assert.equal(smsAt(t, c.phone).length, 10);
    } finally {
      await second.close();
      await database.close();
    }
  });
});
