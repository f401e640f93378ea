// The staff message log, analytics and CSV over the real HTTP layer: keyset pages that never
// repeat or skip a row, every filter (customer, type, status, lane, date range, Twilio error
// code), page-size limits, a timeline with its error's meaning and fix, analytics tables, and CSV
// that quotes correctly and neutralises formulas for spreadsheet users.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { smsMessages } from '../../src/db/schema.ts';
import { buildApp } from '../../src/http/app.ts';
import { csvCell, csvLine } from '../../src/staff/csv.ts';
import { queueSms } from '../../src/sms/outbox.ts';
import { createTestContext, HeldClock, type TestContext } from '../helpers/context.ts';
import { customer, type Customer } from '../helpers/customers.ts';

const clock = new HeldClock('2026-11-25T15:00:00Z');
let t: TestContext;
let app: FastifyInstance;
let staff: Customer;
let ana: Customer;
let bob: Customer;
let cara: Customer;

interface Page { messages: { id: string; type: string; status: string; customer: string; lane: string; errorCode: number | null; destination: string }[]; nextCursor: string | null }

before(async () => {
  t = await createTestContext({ clock });
  app = buildApp(t.ctx);
  ana = await customer(t, 'ana', '+14155557101');
  bob = await customer(t, '+bob', '+14155557102');
  // 30 messages over three days, no worker: rows written as the outbox writes them, then settled by hand.
  for (let i = 0; i < 30; i++) {
    clock.advance(3600_000 * 2);
    const who = i % 3 === 0 ? bob : ana;
    const type = i % 5 === 0 ? 'two_factor_code' : 'transaction';
    const body = i === 0 ? '=HYPERLINK("http://evil.example","click"), "quoted"\nline' : `message ${i}`;
    const queued = await t.ctx.db.transaction((tx) => queueSms(t.ctx, tx, { type, lane: type === 'two_factor_code' ? 'sms.critical' : 'sms.standard', userId: who.user.id, to: who.phone, body }));
    const status = i % 4 === 0 ? 'undelivered' : 'delivered';
    await t.ctx.db.update(smsMessages).set({ status, errorCode: status === 'undelivered' ? 30003 : null, twilioSid: `SM${String(i).padStart(32, '0')}`, updatedAt: clock.now() }).where(eq(smsMessages.id, queued.id));
  }
  // Signed in now, 60 hours later: sessions last 12.
  staff = await customer(t, 'olga', '+14155557100', { isStaff: true });
  cara = await customer(t, 'cara', '+14155557103');
});
after(() => t.close());

const get = (url: string, who: Customer = staff) => app.inject({ url, headers: who.auth });

describe('message log', () => {
  it('pages with a keyset cursor: every message once, newest first, bounded page size', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await get(`/api/staff/messages?limit=7${cursor ? `&before=${cursor}` : ''}`);
      assert.equal(res.statusCode, 200, res.body);
      const page = res.json<Page>();
      assert.ok(page.messages.length <= 7);
      seen.push(...page.messages.map((m) => m.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    assert.equal(seen.length, 30);
    assert.equal(new Set(seen).size, 30, 'no message twice');
    assert.equal(pages, 5);
    assert.equal((await get('/api/staff/messages?limit=201')).statusCode, 400);
    assert.match((await get('/api/staff/messages?before=garbage')).json<{ message: string }>().message, /not a cursor this server gave/);
  });

  it('filters by customer, type, status, lane, error code and date range', async () => {
    const count = async (query: string) => (await get(`/api/staff/messages?limit=200&${query}`)).json<Page>().messages;
    assert.equal((await count('customer=ana')).length, 20);
    assert.ok((await count('customer=ana')).every((m) => m.customer === 'ana' && m.destination === '***7101'));
    assert.equal((await count('type=two_factor_code')).length, 6);
    assert.equal((await count('lane=sms.critical')).length, 6);
    assert.equal((await count('lane=email')).length, 0);
    assert.equal((await count('status=undelivered')).length, 8);
    assert.equal((await count('errorCode=30003')).length, 8);
    assert.equal((await count('errorCode=30003&customer=%2Bbob')).length, 3);
    // Hours 2..60 after 15:00 on the 25th: the 26th (UTC) holds messages 4..15.
    assert.equal((await count('from=2026-11-26&to=2026-11-27')).length, 12);
    assert.equal((await get('/api/staff/messages?lane=fax')).statusCode, 400);
  });

  it('opens a timeline with the error code, its meaning and its fix', async () => {
    const [failed] = (await get('/api/staff/messages?status=undelivered&limit=1')).json<Page>().messages;
    const res = await get(`/api/staff/messages/${failed?.id}`);
    assert.equal(res.statusCode, 200, res.body);
    const timeline = res.json<{ steps: { kind: string; title: string }[]; error: { code: number; title: string; fix: string } }>();
    assert.deepEqual(timeline.steps.map((s) => s.kind), ['created', 'policy', 'status', 'error']);
    assert.match(timeline.steps[2]?.title ?? '', /status undelivered \(error 30003\)/);
    assert.deepEqual([timeline.error.code, timeline.error.title], [30003, 'Unreachable destination handset']);
    assert.match(timeline.error.fix, /switched off or out of coverage/);
    assert.equal((await get('/api/staff/messages/00000000-0000-4000-8000-000000000000')).statusCode, 404);
    assert.equal((await get(`/api/staff/messages/${failed?.id}`, cara)).statusCode, 403);
  });
});

describe('CSV', () => {
  it('quotes and neutralises formulas', () => {
    assert.equal(csvCell('plain'), 'plain');
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell('two\nlines'), '"two\nlines"');
    for (const start of ['=', '+', '-', '@', '\t', '\r']) assert.ok(csvCell(`${start}SUM(A1:A9)`).replace(/^"/, '').startsWith(`'${start}`), JSON.stringify(start));
    assert.equal(csvCell('=1+1'), "'=1+1");
    assert.equal(csvCell(-5), '-5', 'numbers stay numbers');
    assert.equal(csvCell(null), '');
    assert.equal(csvLine(['=cmd|" /C calc"!A0', 3]), `"'=cmd|"" /C calc""!A0",3\r\n`);
  });

  it('streams the message log and analytics tables as CSV over HTTP', async () => {
    const res = await get('/api/staff/messages.csv?customer=%2Bbob');
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^text\/csv/);
    assert.match(String(res.headers['content-disposition']), /attachment; filename="dominion-messages\.csv"/);
    const lines = res.body.split('\r\n').filter(Boolean);
    assert.equal(lines.length, 11, 'a header and the ten messages of +bob');
    assert.ok(lines.slice(1).every((l) => l.includes(",'+bob,")), 'a customer named +bob is neutralised');

    const types = await get('/api/staff/analytics/types.csv?from=2026-11-25&to=2026-11-28');
    assert.equal(types.statusCode, 200, types.body);
    assert.equal(types.body.split('\r\n')[0], 'type,messages,delivered,failed,undelivered,delivery_rate,segments,estimated_cost_usd');
    assert.match(types.body, /\r\ntransaction,24,18,0,6,0\.75,24,0\.18\r\n/);
    const recipients = await get('/api/staff/analytics/recipients.csv?from=2026-11-25&to=2026-11-28');
    assert.match(recipients.body, /\*\*\*7102,'\+bob,10,/);
    assert.equal((await get('/api/staff/analytics/passwords.csv')).statusCode, 404);
    assert.equal((await get('/api/staff/analytics?from=2026-11-28&to=2026-11-25')).statusCode, 400);
    assert.equal((await get('/api/staff/analytics?from=2024-01-01&to=2026-11-25')).statusCode, 400);
    assert.equal((await get('/api/staff/analytics/types.csv', cara)).statusCode, 403);

    const page = (await get('/api/staff/analytics?from=2026-11-25&to=2026-11-28')).json<{ totals: { messages: number; deliveryRate: number }; tables: { errors: { rows: unknown[][] }; days: { rows: unknown[][] } } }>();
    assert.equal(page.totals.messages, 30);
    assert.equal(page.tables.days.rows.length, 4, 'one row per day, empty days included');
    assert.deepEqual(page.tables.errors.rows[0]?.slice(0, 3), [30003, 'Unreachable destination handset', 8]);
  });
});
